/* SPDX-License-Identifier: Apache-2.0 */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "client/kclient.h"
#include "client/leader.h"
#include "lib/json.h"
#include "lib/log.h"
#include "lib/timeutil.h"

struct leader_elector {
	struct kclient *c;
	char *ns, *name, *identity;
	int64_t duration, retry;
	void (*started)(void *);
	void (*stopped)(void *);
	void *userdata;
	pthread_t thread;
	volatile bool stop;
	_Atomic bool leading;
};

static json_t *lease_body(struct leader_elector *le, json_t *old, int64_t now)
{
	char ts[40];
	time_format_rfc3339_micro(now, ts);
	json_t *l = old ? json_deep_copy(old)
			: json_pack("{s:s, s:s, s:{s:s, s:s}}", "apiVersion", "coordination.k8s.io/v1",
				    "kind", "Lease", "metadata", "name", le->name, "namespace", le->ns);
	json_t *spec = json_object_ensure(l, "spec");
	const char *holder = json_get_str(spec, "holderIdentity");
	if (!holder || !streq(holder, le->identity)) {
		json_set_str(spec, "acquireTime", ts);
		json_set_int(spec, "leaseTransitions", json_get_int(spec, "leaseTransitions", -1) + 1);
	}
	json_set_str(spec, "holderIdentity", le->identity);
	json_set_int(spec, "leaseDurationSeconds", le->duration / 1000000);
	json_set_str(spec, "renewTime", ts);
	return l;
}

/* One attempt to acquire or renew; true when we hold the lease. */
static bool try_acquire(struct leader_elector *le)
{
	_cleanup_free_ char *path = kpath("coordination.k8s.io/v1", "leases", le->ns, le->name);
	long code;
	int64_t now = (int64_t)now_usec_realtime();
	_cleanup_json_ json_t *cur = kclient_get(le->c, path, &code);
	if (!cur) {
		if (code != 404)
			return false;
		_cleanup_free_ char *coll = kpath("coordination.k8s.io/v1", "leases", le->ns, NULL);
		_cleanup_json_ json_t *body = lease_body(le, NULL, now);
		_cleanup_json_ json_t *res = kclient_post(le->c, coll, body, &code);
		return res != NULL;
	}
	const char *holder = json_get_str(cur, "spec.holderIdentity");
	const char *renew = json_get_str(cur, "spec.renewTime");
	int64_t dur = json_get_int(cur, "spec.leaseDurationSeconds", 15) * 1000000;
	int64_t renewed = 0;
	if (renew)
		time_parse_rfc3339(renew, &renewed);
	bool mine = holder && streq(holder, le->identity);
	bool expired = isempty(holder) || renewed + dur < now;
	if (!mine && !expired)
		return false;
	/* The PUT carries the resourceVersion we read: a concurrent
	 * candidate's write makes ours fail with a conflict. */
	_cleanup_json_ json_t *body = lease_body(le, cur, now);
	_cleanup_json_ json_t *res = kclient_put(le->c, path, body, &code);
	return res != NULL;
}

static void *leader_main(void *arg)
{
	struct leader_elector *le = arg;
	int64_t last_renew = 0;
	while (!le->stop) {
		bool ok = try_acquire(le);
		int64_t now = (int64_t)now_usec_monotonic();
		if (ok)
			last_renew = now;
		bool leading = atomic_load(&le->leading);
		if (ok && !leading) {
			atomic_store(&le->leading, true);
			log_info("%s: became the leader (lease %s/%s)", le->identity, le->ns, le->name);
			if (le->started)
				le->started(le->userdata);
		} else if (!ok && leading && now - last_renew > le->duration * 2 / 3) {
			/* Could not renew in time: someone else may take over. */
			atomic_store(&le->leading, false);
			log_error("%s: lost the lease %s/%s", le->identity, le->ns, le->name);
			if (le->stopped)
				le->stopped(le->userdata);
		}
		for (int64_t slept = 0; slept < le->retry && !le->stop; slept += 100000)
			usleep(100000);
	}
	return NULL;
}

struct leader_elector *leader_start(struct kclient *c, const struct leader_opts *opts)
{
	struct leader_elector *le = xnew(struct leader_elector, 1);
	le->c = c;
	le->ns = xstrdup(opts->ns);
	le->name = xstrdup(opts->name);
	le->identity = xstrdup(opts->identity);
	le->duration = opts->lease_duration_usec ? opts->lease_duration_usec : 15000000;
	le->retry = opts->retry_usec ? opts->retry_usec : 2000000;
	le->started = opts->started_leading;
	le->stopped = opts->stopped_leading;
	le->userdata = opts->userdata;
	if (pthread_create(&le->thread, NULL, leader_main, le) != 0)
		abort();
	return le;
}

bool leader_is_leader(struct leader_elector *le)
{
	return atomic_load(&le->leading);
}

void leader_stop(struct leader_elector *le)
{
	if (!le)
		return;
	le->stop = true;
	pthread_join(le->thread, NULL);
	if (atomic_load(&le->leading)) {
		/* Release: an empty holder lets the next candidate in at once. */
		_cleanup_free_ char *path = kpath("coordination.k8s.io/v1", "leases", le->ns, le->name);
		long code;
		_cleanup_json_ json_t *cur = kclient_get(le->c, path, &code);
		if (cur && streq_ptr(json_get_str(cur, "spec.holderIdentity"), le->identity)) {
			json_set_str(json_object_ensure(cur, "spec"), "holderIdentity", "");
			json_t *r = kclient_put(le->c, path, cur, &code);
			json_decref(r);
		}
	}
	free(le->ns);
	free(le->name);
	free(le->identity);
	free(le);
}
