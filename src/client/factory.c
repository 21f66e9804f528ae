/* SPDX-License-Identifier: Apache-2.0 */
#include "client/factory.h"
#include "client/informer.h"
#include "client/objects.h"
#include "lib/macro.h"

#define MAX_INFORMERS 32

struct informer_factory {
	struct kclient *c;
	struct {
		char *api_version, *plural;
		struct informer *inf;
	} e[MAX_INFORMERS];
	size_t n;
	bool started;
};

struct informer_factory *informer_factory_new(struct kclient *c)
{
	struct informer_factory *f = xnew(struct informer_factory, 1);
	f->c = c;
	return f;
}

struct informer *informer_factory_get(struct informer_factory *f, const char *api_version,
				      const char *plural)
{
	for (size_t i = 0; i < f->n; i++)
		if (streq(f->e[i].api_version, api_version) && streq(f->e[i].plural, plural))
			return f->e[i].inf;
	assert_se(f->n < MAX_INFORMERS && !f->started);
	struct informer_opts o = { .api_version = api_version, .plural = plural };
	if (streq(api_version, "v1") && streq(plural, "pods")) {
		o.extract = pod_info_extract;
		o.ext_free = pod_info_free;
	} else if (streq(api_version, "v1") && streq(plural, "nodes")) {
		o.extract = node_info_extract;
		o.ext_free = node_info_free;
	}
	struct informer *inf;
	informer_new(f->c, &o, &inf);
	f->e[f->n].api_version = xstrdup(api_version);
	f->e[f->n].plural = xstrdup(plural);
	f->e[f->n].inf = inf;
	f->n++;
	return inf;
}

int informer_factory_start(struct informer_factory *f)
{
	f->started = true;
	for (size_t i = 0; i < f->n; i++) {
		int r = informer_start(f->e[i].inf);
		if (r < 0)
			return r;
	}
	return 0;
}

bool informer_factory_wait_synced(struct informer_factory *f, int64_t timeout_usec)
{
	uint64_t deadline = now_usec_monotonic() + (uint64_t)timeout_usec;
	for (size_t i = 0; i < f->n; i++) {
		int64_t left =
		    timeout_usec ? (int64_t)(deadline - MIN(deadline, now_usec_monotonic())) : 0;
		if (timeout_usec && left <= 0)
			return false;
		if (!informer_wait_synced(f->e[i].inf, timeout_usec ? left : 0))
			return false;
	}
	return true;
}

void informer_factory_stop(struct informer_factory *f)
{
	/* All at once: each one may take up to a second to notice. */
	for (size_t i = 0; f && i < f->n; i++)
		informer_signal_stop(f->e[i].inf);
	for (size_t i = 0; f && i < f->n; i++)
		informer_stop(f->e[i].inf);
}

void informer_factory_free(struct informer_factory *f)
{
	if (!f)
		return;
	informer_factory_stop(f);
	for (size_t i = 0; i < f->n; i++) {
		informer_free(f->e[i].inf);
		free(f->e[i].api_version);
		free(f->e[i].plural);
	}
	free(f);
}
