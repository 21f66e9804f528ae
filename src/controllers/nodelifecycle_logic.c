/* SPDX-License-Identifier: Apache-2.0 */
/* Node lifecycle decisions as pure functions (see nodelifecycle.h). */
#include "controllers/nodelifecycle.h"
#include "lib/json.h"
#include "lib/macro.h"
#include "lib/timeutil.h"

static const struct {
	const char *key, *effect;
} managed[NLT_COUNT] = {
	{ TAINT_NOT_READY, "NoSchedule" },
	{ TAINT_UNREACHABLE, "NoSchedule" },
	{ TAINT_NOT_READY, "NoExecute" },
	{ TAINT_UNREACHABLE, "NoExecute" },
	{ TAINT_UNSCHEDULABLE, "NoSchedule" },
	{ TAINT_MEMORY_PRESSURE, "NoSchedule" },
	{ TAINT_DISK_PRESSURE, "NoSchedule" },
	{ TAINT_PID_PRESSURE, "NoSchedule" },
	{ TAINT_NETWORK_UNAVAILABLE, "NoSchedule" },
};

static int bit_index(unsigned bit)
{
	return bit ? __builtin_ctz(bit) : -1;
}

const char *nl_taint_key(unsigned bit)
{
	int i = bit_index(bit);
	return i >= 0 && i < NLT_COUNT ? managed[i].key : NULL;
}

const char *nl_taint_effect(unsigned bit)
{
	int i = bit_index(bit);
	return i >= 0 && i < NLT_COUNT ? managed[i].effect : NULL;
}

static unsigned managed_bit(const char *key, const char *effect)
{
	if (!key || !effect)
		return 0;
	for (int i = 0; i < NLT_COUNT; i++)
		if (streq(managed[i].key, key) && streq(managed[i].effect, effect))
			return 1u << i;
	return 0;
}

static char status_char(const char *s)
{
	if (!s)
		return 0;
	return streq(s, "True") ? 'T' : streq(s, "False") ? 'F' : 'U';
}

void nl_node_view_from_json(json_t *node, struct nl_node_view *ret)
{
	struct nl_node_view v = { 0 };
	size_t i;
	json_t *c;
	json_array_foreach(json_get(node, "status.conditions"), i, c)
	{
		const char *type = json_get_str(c, "type");
		bool is_true = streq_ptr(json_get_str(c, "status"), "True");
		if (!type)
			continue;
		if (streq(type, "Ready"))
			v.ready = status_char(json_get_str(c, "status"));
		else if (streq(type, "MemoryPressure"))
			v.memory_pressure = is_true;
		else if (streq(type, "DiskPressure"))
			v.disk_pressure = is_true;
		else if (streq(type, "PIDPressure"))
			v.pid_pressure = is_true;
		else if (streq(type, "NetworkUnavailable"))
			v.network_unavailable = is_true;
	}
	/* Ready with no (or an empty) status counts as Unknown. */
	json_array_foreach(json_get(node, "status.conditions"), i, c)
	{
		if (streq_ptr(json_get_str(c, "type"), "Ready") && !v.ready)
			v.ready = 'U';
	}
	v.unschedulable = json_get_bool(node, "spec.unschedulable", false);
	*ret = v;
}

unsigned nl_taints_present(json_t *taints)
{
	unsigned bits = 0;
	size_t i;
	json_t *t;
	json_array_foreach(taints, i, t) bits |=
	    managed_bit(json_get_str(t, "key"), json_get_str(t, "effect"));
	return bits;
}

unsigned nl_taints_present_info(const struct taint *taints, size_t n)
{
	unsigned bits = 0;
	for (size_t i = 0; i < n; i++)
		bits |= managed_bit(taints[i].key, taints[i].effect);
	return bits;
}

unsigned nl_taints_desired(const struct nl_node_view *v, enum nl_noexec_policy p, unsigned present)
{
	unsigned d = 0, ne = 0;
	switch (v->ready) {
	case 'F':
		d |= NLT_NOT_READY_NS;
		ne = NLT_NOT_READY_NE;
		break;
	case 'U':
		d |= NLT_UNREACHABLE_NS;
		ne = NLT_UNREACHABLE_NE;
		break;
	default:
		break;
	}
	if (v->memory_pressure)
		d |= NLT_MEMORY;
	if (v->disk_pressure)
		d |= NLT_DISK;
	if (v->pid_pressure)
		d |= NLT_PID;
	if (v->network_unavailable)
		d |= NLT_NETWORK;
	if (v->unschedulable)
		d |= NLT_UNSCHEDULABLE;
	switch (p) {
	case NL_NOEXEC_ALLOW:
		d |= ne;
		break;
	case NL_NOEXEC_HOLD:
		if (v->ready != 'T')
			d |= present & NLT_NOEXECUTE;
		break;
	case NL_NOEXEC_CLEAR:
		break;
	}
	return d;
}

json_t *nl_taints_reconcile(json_t *taints, unsigned desired, int64_t now_usec)
{
	json_t *out = json_array();
	unsigned have = 0;
	bool changed = false;
	size_t i;
	json_t *t;
	json_array_foreach(taints, i, t)
	{
		unsigned bit = managed_bit(json_get_str(t, "key"), json_get_str(t, "effect"));
		if (bit && (!(desired & bit) || (have & bit))) {
			changed = true; /* not wanted, or a duplicate */
			continue;
		}
		have |= bit;
		json_array_append(out, t);
	}
	for (int k = 0; k < NLT_COUNT; k++) {
		unsigned bit = 1u << k;
		if (!(desired & bit) || (have & bit))
			continue;
		json_t *nt =
		    json_pack("{s:s, s:s}", "key", managed[k].key, "effect", managed[k].effect);
		if (streq(managed[k].effect, "NoExecute")) {
			char ts[32];
			time_format_rfc3339(now_usec, ts);
			json_set_str(nt, "timeAdded", ts);
		}
		json_array_append_new(out, nt);
		changed = true;
	}
	if (!changed) {
		json_decref(out);
		return NULL;
	}
	return out;
}

bool nl_conditions_mark_unknown(json_t *node, int64_t now_usec)
{
	static const char *const types[] = { "Ready", "MemoryPressure", "DiskPressure",
					     "PIDPressure" };
	char now[32];
	time_format_rfc3339(now_usec, now);
	json_t *status = json_object_ensure(node, "status");
	json_t *conds = json_object_get(status, "conditions");
	if (!json_is_array(conds)) {
		conds = json_array();
		json_object_set_new(status, "conditions", conds);
	}
	bool changed = false;
	for (size_t k = 0; k < ARRAY_SIZE(types); k++) {
		json_t *found = NULL, *c;
		size_t i;
		json_array_foreach(conds, i, c)
		{
			if (streq_ptr(json_get_str(c, "type"), types[k]))
				found = c;
		}
		if (!found) {
			const char *created = json_get_str(node, "metadata.creationTimestamp");
			json_array_append_new(
			    conds,
			    json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "type", types[k], "status",
				      "Unknown", "lastHeartbeatTime", created ? created : now,
				      "lastTransitionTime", now, "reason", "NodeStatusNeverUpdated",
				      "message", "Kubelet never posted node status."));
			changed = true;
		} else if (!streq_ptr(json_get_str(found, "status"), "Unknown")) {
			json_set_str(found, "status", "Unknown");
			json_set_str(found, "reason", "NodeStatusUnknown");
			json_set_str(found, "message", "Kubelet stopped posting node status.");
			json_set_str(found, "lastTransitionTime", now);
			changed = true;
		}
	}
	return changed;
}

size_t tolerations_parse(json_t *tolerations, struct toleration **ret)
{
	size_t n = json_array_size(tolerations), i;
	json_t *t;
	*ret = NULL;
	if (!n)
		return 0;
	struct toleration *out = xnew(struct toleration, n);
	json_array_foreach(tolerations, i, t)
	{
		out[i].key = xstrdup(str_or_empty_json(t, "key"));
		out[i].op = xstrdup(str_or_empty_json(t, "operator"));
		out[i].value = xstrdup(str_or_empty_json(t, "value"));
		out[i].effect = xstrdup(str_or_empty_json(t, "effect"));
		json_t *s = json_object_get(t, "tolerationSeconds");
		out[i].has_seconds = json_is_integer(s);
		out[i].seconds = json_integer_value(s);
	}
	*ret = out;
	return n;
}

void tolerations_free(struct toleration *t, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(t[i].key);
		free(t[i].op);
		free(t[i].value);
		free(t[i].effect);
	}
	free(t);
}

bool toleration_tolerates(const struct toleration *t, const char *key, const char *value,
			  const char *effect)
{
	if (!isempty(t->effect) && !streq_ptr(t->effect, effect))
		return false;
	if (!isempty(t->key) && !streq_ptr(t->key, key))
		return false;
	if (isempty(t->op) || streq(t->op, "Equal"))
		return streq(t->value ? t->value : "", value ? value : "");
	return streq(t->op, "Exists");
}

int64_t nl_eviction_time(const struct taint *taints, size_t ntaints, const struct toleration *tol,
			 size_t ntol)
{
	int64_t when = NL_NEVER;
	for (size_t i = 0; i < ntaints; i++) {
		const struct taint *t = &taints[i];
		if (!streq_ptr(t->effect, "NoExecute"))
			continue;
		bool tolerated = false, forever = false;
		int64_t longest = 0;
		for (size_t k = 0; k < ntol; k++) {
			if (!toleration_tolerates(&tol[k], t->key, t->value, t->effect))
				continue;
			if (!tol[k].has_seconds)
				forever = true;
			else if (!tolerated || tol[k].seconds > longest)
				longest = tol[k].seconds;
			tolerated = true;
		}
		if (!tolerated)
			return 0;
		if (forever)
			continue;
		int64_t at = t->added_usec + MAX(longest, 0) * 1000000;
		when = MIN(when, at);
	}
	return when;
}

enum nl_zone_state nl_zone_state(size_t ready, size_t not_ready)
{
	if (ready == 0 && not_ready > 0)
		return NL_ZONE_FULL;
	if (not_ready > 2 && (double)not_ready / (double)(not_ready + ready) >= 0.55)
		return NL_ZONE_PARTIAL;
	return NL_ZONE_NORMAL;
}
