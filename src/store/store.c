/* SPDX-License-Identifier: Apache-2.0 */
/* Backend selection and helpers shared by every store backend. */
#include <ctype.h>
#include <pthread.h>

#include "lib/macro.h"
#include "store/store.h"

static const struct store_backend *const backends[] = {
	&store_backend_sqlite,
	&store_backend_etcd,
};

/* Length of the "scheme" in "scheme://rest", or 0 if location is a bare path. */
static size_t location_scheme_len(const char *location)
{
	const char *sep = strstr(location, "://");
	size_t n;

	if (!sep || sep == location)
		return 0;
	n = (size_t)(sep - location);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)location[i];
		if (!isalnum(c) && c != '+' && c != '-' && c != '.')
			return 0;
	}
	return n;
}

int store_open(const char *location, struct store **ret)
{
	size_t n;

	if (isempty(location) || !ret)
		return -EINVAL;

	n = location_scheme_len(location);
	if (n == 0) /* a bare path */
		return store_backend_sqlite.open(location, ret);

	if (n == 4 && strncmp(location, "http", 4) == 0) /* http://host:port -> etcd */
		return store_backend_etcd.open(location, ret);
	for (size_t i = 0; i < ARRAY_SIZE(backends); i++) {
		const char *name = backends[i]->name;
		if (strlen(name) == n && strncmp(location, name, n) == 0)
			return backends[i]->open(location, ret);
	}
	return -EPROTONOSUPPORT;
}

struct exec_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void exec_done(struct store_op *op)
{
	struct exec_wait *w = op->userdata;

	/* Signal under the lock: once the waiter sees done it destroys w. */
	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Overwrites op->done and op->userdata. Must not be called from a store thread
 * (a watch callback or another op's done()): it would wait for itself. */
int store_exec(struct store *s, struct store_op *op)
{
	struct exec_wait w = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.cond = PTHREAD_COND_INITIALIZER,
	};

	op->done = exec_done;
	op->userdata = &w;
	store_submit(s, op);

	pthread_mutex_lock(&w.lock);
	while (!w.done)
		pthread_cond_wait(&w.cond, &w.lock);
	pthread_mutex_unlock(&w.lock);
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	return op->result;
}

void store_kv_release(struct store_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	*kv = (struct store_kv){ 0 };
}

void store_kv_free(struct store_kv *kv)
{
	store_kv_release(kv);
	free(kv);
}

void store_kv_list_release(struct store_kv_list *l)
{
	if (!l)
		return;
	for (size_t i = 0; i < l->n; i++)
		store_kv_release(&l->items[i]);
	free(l->items);
	*l = (struct store_kv_list){ 0 };
}
