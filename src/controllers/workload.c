/* SPDX-License-Identifier: Apache-2.0 */
/* Pure logic shared by the ReplicaSet and Deployment controllers (workload.h). */
#include <math.h>

#include "controllers/workload.h"
#include "lib/json.h"
#include "lib/strbuf.h"
#include "lib/timeutil.h"

/* ---- pod templates ---- */

/* A copy of v without null, "", {} and [] values (NULL if nothing is left). */
static json_t *drop_empty(json_t *v)
{
	if (!v || json_is_null(v))
		return NULL;
	if (json_is_string(v))
		return json_string_length(v) ? json_incref(v) : NULL;
	if (json_is_object(v)) {
		json_t *out = json_object();
		const char *k;
		json_t *x;
		json_object_foreach(v, k, x)
		{
			json_t *n = drop_empty(x);
			if (n)
				json_object_set_new(out, k, n);
		}
		if (!json_object_size(out)) {
			json_decref(out);
			return NULL;
		}
		return out;
	}
	if (json_is_array(v)) {
		if (!json_array_size(v))
			return NULL;
		json_t *out = json_array();
		size_t i;
		json_t *x;
		/* Keep positions: an element that empties out stays as null. */
		json_array_foreach(v, i, x)
		{
			json_t *n = drop_empty(x);
			json_array_append_new(out, n ? n : json_null());
		}
		return out;
	}
	return json_incref(v);
}

char *workload_template_canonical(json_t *tmpl)
{
	_cleanup_json_ json_t *copy = json_is_object(tmpl) ? json_deep_copy(tmpl) : json_object();
	json_object_del(json_get(copy, "metadata.labels"), WL_HASH_LABEL);
	_cleanup_json_ json_t *norm = drop_empty(copy);
	if (!norm)
		return xstrdup("{}");
	char *s = json_dumps(norm, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
	if (!s)
		abort();
	/* jansson allocates with malloc: hand it on as is. */
	return s;
}

bool workload_template_equal(json_t *a, json_t *b)
{
	_cleanup_free_ char *ca = workload_template_canonical(a);
	_cleanup_free_ char *cb = workload_template_canonical(b);
	return streq(ca, cb);
}

uint32_t workload_fnv32a(const void *p, size_t n, uint32_t h)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 16777619u;
	}
	return h;
}

static const char safe_alphabet[] = "bcdfghjklmnpqrstvwxz2456789";

void workload_safe_encode(const char *s, char *out)
{
	size_t n = strlen(s);
	for (size_t i = 0; i < n; i++)
		out[i] = safe_alphabet[(unsigned char)s[i] % (sizeof(safe_alphabet) - 1)];
	out[n] = 0;
}

void workload_template_hash(json_t *tmpl, const int32_t *collision_count, char ret[16])
{
	_cleanup_free_ char *canon = workload_template_canonical(tmpl);
	uint32_t h = workload_fnv32a(canon, strlen(canon), WL_FNV32_OFFSET);
	if (collision_count) {
		uint32_t c = (uint32_t)*collision_count;
		unsigned char le[4] = { c & 0xff, (c >> 8) & 0xff, (c >> 16) & 0xff, c >> 24 };
		h = workload_fnv32a(le, sizeof(le), h);
	}
	char dec[16];
	snprintf(dec, sizeof(dec), "%u", h);
	workload_safe_encode(dec, ret);
}

bool workload_labels_equal(const char *a, const char *b)
{
	/* key\0value\0 pairs up to an empty key */
	for (;;) {
		if (!streq(a, b))
			return false;
		if (!*a)
			return true;
		a += strlen(a) + 1;
		b += strlen(b) + 1;
		if (!streq(a, b))
			return false;
		a += strlen(a) + 1;
		b += strlen(b) + 1;
	}
}

bool workload_labels_superset(const char *have, const char *want)
{
	for (const char *k = want; *k;) {
		const char *v = k + strlen(k) + 1;
		if (!streq_ptr(packed_labels_get(have, k), v))
			return false;
		k = v + strlen(v) + 1;
	}
	return true;
}

/* ---- int or percent ---- */

static int32_t clamp32(int64_t v)
{
	return v > INT32_MAX ? INT32_MAX : v < INT32_MIN ? INT32_MIN : (int32_t)v;
}

int workload_scaled_value(json_t *v, int32_t total, bool round_up, int32_t *ret)
{
	if (json_is_integer(v)) {
		*ret = clamp32(json_integer_value(v));
		return 0;
	}
	const char *s = json_string_value(v);
	size_t n = s ? strlen(s) : 0;
	if (n < 2 || s[n - 1] != '%')
		return -EINVAL;
	int64_t pct = 0;
	for (size_t i = 0; i < n - 1; i++) {
		if (s[i] < '0' || s[i] > '9' || pct > 1000000000)
			return -EINVAL;
		pct = pct * 10 + (s[i] - '0');
	}
	int64_t num = pct * (int64_t)total;
	*ret = clamp32(round_up ? (num + 99) / 100 : num / 100);
	return 0;
}

void workload_fenceposts(json_t *max_surge, json_t *max_unavailable, int32_t desired,
			 int32_t *ret_surge, int32_t *ret_unavailable)
{
	int32_t surge = 0, unavailable = 0;
	if (workload_scaled_value(max_surge, desired, true, &surge) < 0)
		surge = 0;
	if (workload_scaled_value(max_unavailable, desired, false, &unavailable) < 0)
		unavailable = 0;
	/* Both zero would never make progress: allow one unavailable pod. */
	if (surge == 0 && unavailable == 0)
		unavailable = 1;
	*ret_surge = surge;
	*ret_unavailable = unavailable;
}

/* ---- rollout planning ---- */

void rollout_init(struct rollout *r, int32_t replicas, bool rolling, json_t *max_surge,
		  json_t *max_unavailable, int32_t status_replicas)
{
	*r = (struct rollout){ .replicas = replicas,
			       .rolling = rolling,
			       .status_replicas = status_replicas };
	if (!rolling)
		return;
	int32_t surge, unavailable;
	workload_fenceposts(max_surge, max_unavailable, replicas, &surge, &unavailable);
	r->max_surge = surge;
	r->max_unavailable = replicas == 0 ? 0 : MIN(unavailable, replicas);
}

static int cmp_i64(int64_t a, int64_t b)
{
	return a < b ? -1 : a > b;
}

int rollout_rs_cmp_created(const void *a, const void *b)
{
	const struct rollout_rs *x = *(struct rollout_rs *const *)a;
	const struct rollout_rs *y = *(struct rollout_rs *const *)b;
	int c = cmp_i64(x->creation_usec, y->creation_usec);
	return c ? c : strcmp(x->name ? x->name : "", y->name ? y->name : "");
}

static int cmp_newest_first(const void *a, const void *b)
{
	return rollout_rs_cmp_created(b, a);
}

/* Larger first; equal sizes newer first (scaling up). */
static int cmp_size_newer(const void *a, const void *b)
{
	const struct rollout_rs *x = *(struct rollout_rs *const *)a;
	const struct rollout_rs *y = *(struct rollout_rs *const *)b;
	if (x->replicas != y->replicas)
		return x->replicas > y->replicas ? -1 : 1;
	return rollout_rs_cmp_created(b, a);
}

/* Larger first; equal sizes older first (scaling down). */
static int cmp_size_older(const void *a, const void *b)
{
	const struct rollout_rs *x = *(struct rollout_rs *const *)a;
	const struct rollout_rs *y = *(struct rollout_rs *const *)b;
	if (x->replicas != y->replicas)
		return x->replicas > y->replicas ? -1 : 1;
	return rollout_rs_cmp_created(a, b);
}

int32_t rollout_sum_replicas(struct rollout_rs *const *rs, size_t n)
{
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		if (rs[i])
			sum += rs[i]->replicas;
	return clamp32(sum);
}

int32_t rollout_sum_available(struct rollout_rs *const *rs, size_t n)
{
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		if (rs[i])
			sum += rs[i]->available;
	return clamp32(sum);
}

int32_t rollout_sum_pods(struct rollout_rs *const *rs, size_t n)
{
	int64_t sum = 0;
	for (size_t i = 0; i < n; i++)
		if (rs[i])
			sum += MAX(rs[i]->replicas, rs[i]->current);
	return clamp32(sum);
}

/* Available pods a ReplicaSet keeps once it has its spec.replicas. */
static int32_t kept_available(const struct rollout_rs *rs)
{
	return MAX(MIN(rs->available, rs->replicas), 0);
}

int32_t rollout_new_rs_replicas(const struct rollout *r, struct rollout_rs *const *all, size_t n,
				const struct rollout_rs *new_rs)
{
	if (!r->rolling)
		return r->replicas;
	int32_t current = rollout_sum_pods(all, n);
	int32_t max_total = r->replicas + r->max_surge;
	if (current >= max_total)
		return new_rs->replicas;
	int32_t up = MIN(max_total - current, r->replicas - new_rs->replicas);
	return new_rs->replicas + MAX(up, 0);
}

bool rollout_reconcile_new(const struct rollout *r, struct rollout_rs *new_rs,
			   struct rollout_rs *const *old, size_t nold)
{
	if (!new_rs || new_rs->replicas == r->replicas)
		return false;
	if (new_rs->replicas > r->replicas) {
		new_rs->replicas = r->replicas;
		return true;
	}
	struct rollout_rs **all = xnew(struct rollout_rs *, nold + 1);
	memcpy(all, old, nold * sizeof(*all));
	all[nold] = new_rs;
	int32_t want = rollout_new_rs_replicas(r, all, nold + 1, new_rs);
	free(all);
	bool changed = want != new_rs->replicas;
	new_rs->replicas = want;
	return changed;
}

int32_t rollout_reconcile_old(const struct rollout *r, struct rollout_rs *new_rs,
			      struct rollout_rs **old, size_t nold)
{
	int32_t old_pods = rollout_sum_replicas(old, nold);
	if (old_pods == 0)
		return 0;
	int32_t new_replicas = new_rs ? new_rs->replicas : 0;
	int32_t new_available = new_rs ? kept_available(new_rs) : 0;
	int32_t all_pods = old_pods + new_replicas;
	int32_t min_available = r->replicas - r->max_unavailable;
	int32_t new_unavailable = new_replicas - new_available;
	int32_t max_scaled_down = all_pods - min_available - new_unavailable;
	if (max_scaled_down <= 0)
		return 0;
	qsort(old, nold, sizeof(*old), rollout_rs_cmp_created);

	/* First the old pods that are not available anyway: taking them away
	 * costs no availability. */
	int32_t *kept = xnew(int32_t, nold + 1);
	int32_t available = new_available;
	for (size_t i = 0; i < nold; i++) {
		kept[i] = kept_available(old[i]);
		available += kept[i];
	}
	int32_t cleaned = 0;
	for (size_t i = 0; i < nold && cleaned < max_scaled_down; i++) {
		int32_t unhealthy = old[i]->replicas - kept[i];
		if (old[i]->replicas == 0 || unhealthy <= 0)
			continue;
		int32_t down = MIN(max_scaled_down - cleaned, unhealthy);
		old[i]->replicas -= down;
		cleaned += down;
	}

	free(kept);
	/* Then available ones, as long as enough stay available. */
	if (available <= min_available)
		return cleaned;
	int32_t to_scale = available - min_available, scaled = 0;
	for (size_t i = 0; i < nold && scaled < to_scale; i++) {
		if (old[i]->replicas == 0)
			continue;
		int32_t down = MIN(old[i]->replicas, to_scale - scaled);
		old[i]->replicas -= down;
		scaled += down;
	}
	return cleaned + scaled;
}

struct rollout_rs *rollout_active_or_latest(struct rollout_rs *new_rs, struct rollout_rs **old,
					    size_t nold)
{
	if (!new_rs && nold == 0)
		return NULL;
	qsort(old, nold, sizeof(*old), cmp_newest_first);
	struct rollout_rs *only = NULL;
	size_t active = 0;
	for (size_t i = 0; i < nold; i++)
		if (old[i]->replicas > 0) {
			active++;
			only = old[i];
		}
	if (new_rs && new_rs->replicas > 0) {
		active++;
		only = new_rs;
	}
	if (active == 0)
		return new_rs ? new_rs : old[0];
	return active == 1 ? only : NULL;
}

bool rollout_is_saturated(const struct rollout *r, const struct rollout_rs *new_rs)
{
	return new_rs && new_rs->has_desired && new_rs->desired == r->replicas &&
	       new_rs->replicas == r->replicas && new_rs->available == r->replicas;
}

/* How many replicas rs would have if the deployment kept its proportions
 * at its new size, minus what it has. */
static int32_t rs_fraction(const struct rollout *r, const struct rollout_rs *rs)
{
	if (r->replicas == 0)
		return -rs->replicas;
	int64_t deployment_replicas = (int64_t)r->replicas + r->max_surge;
	int64_t annotated = rs->has_max ? rs->max : r->status_replicas;
	if (annotated <= 0)
		return 0;
	double size = (double)rs->replicas * (double)deployment_replicas / (double)annotated;
	return clamp32(llround(size) - rs->replicas);
}

int32_t rollout_proportion(const struct rollout *r, const struct rollout_rs *rs, int32_t to_add,
			   int32_t added)
{
	if (!rs || rs->replicas == 0 || to_add == 0 || to_add == added)
		return 0;
	int32_t fraction = rs_fraction(r, rs);
	int32_t allowed = to_add - added;
	return to_add > 0 ? MIN(fraction, allowed) : MAX(fraction, allowed);
}

void rollout_scale(const struct rollout *r, struct rollout_rs *new_rs, struct rollout_rs **old,
		   size_t nold)
{
	struct rollout_rs *one = rollout_active_or_latest(new_rs, old, nold);
	if (one) {
		if (one->replicas != r->replicas) {
			one->replicas = r->replicas;
			one->touch = true;
		}
		return;
	}
	if (rollout_is_saturated(r, new_rs)) {
		for (size_t i = 0; i < nold; i++)
			old[i]->replicas = 0;
		return;
	}
	if (!r->rolling)
		return;

	/* Several active ReplicaSets in a rolling update: spread what is
	 * added or taken in proportion to their sizes. */
	struct rollout_rs **act = xnew(struct rollout_rs *, nold + 1);
	size_t n = 0;
	for (size_t i = 0; i < nold; i++)
		if (old[i]->replicas > 0)
			act[n++] = old[i];
	if (new_rs && new_rs->replicas > 0)
		act[n++] = new_rs;
	int32_t allowed = r->replicas > 0 ? r->replicas + r->max_surge : 0;
	int32_t to_add = allowed - rollout_sum_replicas(act, n);
	if (to_add > 0)
		qsort(act, n, sizeof(*act), cmp_size_newer);
	else if (to_add < 0)
		qsort(act, n, sizeof(*act), cmp_size_older);
	int32_t *size = xnew(int32_t, n + 1);
	int32_t added = 0;
	for (size_t i = 0; i < n; i++) {
		int32_t p = to_add ? rollout_proportion(r, act[i], to_add, added) : 0;
		size[i] = act[i]->replicas + p;
		added += p;
	}
	/* What rounding left over goes to the largest. */
	if (n && to_add) {
		size[0] += to_add - added;
		if (size[0] < 0)
			size[0] = 0;
	}
	for (size_t i = 0; i < n; i++) {
		act[i]->replicas = size[i];
		act[i]->touch = true;
	}
	free(size);
	free(act);
}

/* ---- which pods to delete first ---- */

int pod_rank_phase(const char *phase)
{
	if (streq_ptr(phase, "Unknown"))
		return 1;
	if (streq_ptr(phase, "Running"))
		return 2;
	return 0;
}

/* Zero (unknown) first, then later before earlier. */
static int cmp_later_or_zero(int64_t a, int64_t b)
{
	if (a == b)
		return 0;
	if (a == 0 || b == 0)
		return a == 0 ? -1 : 1;
	return a > b ? -1 : 1;
}

int pod_rank_cmp(const void *pa, const void *pb)
{
	const struct pod_rank *a = pa, *b = pb;
	if (a->assigned != b->assigned)
		return a->assigned ? 1 : -1;
	if (a->phase != b->phase)
		return a->phase < b->phase ? -1 : 1;
	if (a->ready != b->ready)
		return a->ready ? 1 : -1;
	if (a->colocated != b->colocated)
		return a->colocated > b->colocated ? -1 : 1;
	if (a->ready && b->ready) {
		int c = cmp_later_or_zero(a->ready_usec, b->ready_usec);
		if (c)
			return c;
	}
	if (a->restarts != b->restarts)
		return a->restarts > b->restarts ? -1 : 1;
	int c = cmp_later_or_zero(a->creation_usec, b->creation_usec);
	if (c)
		return c;
	return strcmp(a->name ? a->name : "", b->name ? b->name : "");
}

/* ---- revisions and annotations ---- */

static bool parse_i64(const char *s, int64_t *ret)
{
	if (isempty(s))
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*ret = v;
	return true;
}

int64_t workload_revision(json_t *annotations)
{
	const char *s = json_string_value(json_object_get(annotations, WL_ANN_REVISION));
	int64_t v;
	if (!json_object_get(annotations, WL_ANN_REVISION))
		return 0;
	return parse_i64(s, &v) ? v : -1;
}

bool workload_int_annotation(json_t *annotations, const char *key, int32_t *ret)
{
	int64_t v;
	if (!parse_i64(json_string_value(json_object_get(annotations, key)), &v) || v < INT32_MIN ||
	    v > INT32_MAX)
		return false;
	*ret = (int32_t)v;
	return true;
}

bool workload_annotation_skipped(const char *key)
{
	static const char *const skip[] = {
		WL_ANN_LAST_APPLIED, WL_ANN_REVISION, WL_ANN_REVISION_HISTORY,
		WL_ANN_DESIRED,	     WL_ANN_MAX,      WL_ANN_ROLLBACK_TO
	};
	for (size_t i = 0; i < ARRAY_SIZE(skip); i++)
		if (streq(key, skip[i]))
			return true;
	return false;
}

static bool set_ann(json_t *ann, const char *key, const char *value)
{
	if (streq_ptr(json_string_value(json_object_get(ann, key)), value))
		return false;
	json_set_str(ann, key, value);
	return true;
}

bool workload_set_replicas_annotations(json_t *rs_ann, int32_t desired, int32_t max)
{
	char d[16], m[16];
	snprintf(d, sizeof(d), "%d", desired);
	snprintf(m, sizeof(m), "%d", max);
	bool changed = set_ann(rs_ann, WL_ANN_DESIRED, d);
	return set_ann(rs_ann, WL_ANN_MAX, m) || changed;
}

/* Append old to the comma-separated history, dropping the oldest entries
 * to stay within WL_REV_HISTORY_MAX_CHARS. */
static void append_history(json_t *rs_ann, const char *old)
{
	const char *hist = json_string_value(json_object_get(rs_ann, WL_ANN_REVISION_HISTORY));
	if (isempty(hist)) {
		json_set_str(rs_ann, WL_ANN_REVISION_HISTORY, old);
		return;
	}
	size_t total = strlen(hist) + strlen(old) + 1;
	const char *start = hist;
	while (total > WL_REV_HISTORY_MAX_CHARS && *start) {
		const char *comma = strchr(start, ',');
		size_t len = comma ? (size_t)(comma - start) : strlen(start);
		total -= len + 1;
		start = comma ? comma + 1 : start + len;
	}
	if (total > WL_REV_HISTORY_MAX_CHARS)
		return;
	_cleanup_free_ char *v = *start ? xasprintf("%s,%s", start, old) : xstrdup(old);
	json_set_str(rs_ann, WL_ANN_REVISION_HISTORY, v);
}

bool workload_set_new_rs_annotations(json_t *deploy_ann, json_t *rs_ann, int64_t new_revision,
				     bool exists, int32_t desired, int32_t max)
{
	bool changed = false;
	const char *k;
	json_t *v;
	json_object_foreach(deploy_ann, k, v)
	{
		if (!json_is_string(v) || workload_annotation_skipped(k))
			continue;
		changed = set_ann(rs_ann, k, json_string_value(v)) || changed;
	}
	json_t *oldv = json_object_get(rs_ann, WL_ANN_REVISION);
	/* (Annotation keys hold dots: never look them up by json_get paths.) */
	_cleanup_free_ char *old = xstrdup(json_is_string(oldv) ? json_string_value(oldv) : "");
	int64_t old_rev = 0;
	if (*old && !parse_i64(old, &old_rev))
		return false; /* not a number: leave it to a person */
	if (old_rev < new_revision) {
		char nr[24];
		snprintf(nr, sizeof(nr), "%lld", (long long)new_revision);
		json_set_str(rs_ann, WL_ANN_REVISION, nr);
		changed = true;
		/* An older revision brought back (a rollback): remember it. */
		if (oldv)
			append_history(rs_ann, old);
	}
	if (!exists && workload_set_replicas_annotations(rs_ann, desired, max))
		changed = true;
	return changed;
}

/* ---- conditions ---- */

json_t *workload_condition_get(json_t *status, const char *type)
{
	size_t i;
	json_t *c;
	json_array_foreach(json_object_get(status, "conditions"), i, c)
	{
		if (streq_ptr(json_string_value(json_object_get(c, "type")), type))
			return c;
	}
	return NULL;
}

void workload_condition_remove(json_t *status, const char *type)
{
	json_t *conds = json_object_get(status, "conditions");
	for (size_t i = json_array_size(conds); i-- > 0;)
		if (streq_ptr(json_string_value(json_object_get(json_array_get(conds, i), "type")),
			      type))
			json_array_remove(conds, i);
	if (conds && !json_array_size(conds))
		json_object_del(status, "conditions");
}

json_t *workload_condition_new(const char *type, const char *cstatus, const char *reason,
			       const char *message, int64_t now_usec, bool with_update_time)
{
	char ts[32];
	time_format_rfc3339(now_usec, ts);
	json_t *c = json_object();
	json_set_str(c, "type", type);
	json_set_str(c, "status", cstatus);
	if (with_update_time)
		json_set_str(c, "lastUpdateTime", ts);
	json_set_str(c, "lastTransitionTime", ts);
	json_set_str(c, "reason", reason);
	json_set_str(c, "message", message);
	return c;
}

bool workload_condition_put(json_t *status, json_t *cond)
{
	_cleanup_json_ json_t *c = cond;
	const char *type = json_string_value(json_object_get(c, "type"));
	const char *st = json_string_value(json_object_get(c, "status"));
	json_t *cur = workload_condition_get(status, type);
	if (cur && streq_ptr(json_string_value(json_object_get(cur, "status")), st) &&
	    streq_ptr(json_string_value(json_object_get(cur, "reason")),
		      json_string_value(json_object_get(c, "reason"))))
		return false;
	if (cur && streq_ptr(json_string_value(json_object_get(cur, "status")), st) &&
	    json_object_get(cur, "lastTransitionTime"))
		json_object_set(c, "lastTransitionTime",
				json_object_get(cur, "lastTransitionTime"));
	workload_condition_remove(status, type);
	json_t *conds = json_object_get(status, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(status, "conditions", conds);
	}
	json_array_append(conds, c);
	return true;
}
