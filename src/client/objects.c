/* SPDX-License-Identifier: Apache-2.0 */
#include "client/objects.h"
#include "lib/json.h"
#include "lib/quantity.h"
#include "lib/selector.h"
#include "lib/timeutil.h"

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

static int64_t time_at(json_t *obj, const char *path)
{
	const char *s = json_get_str(obj, path);
	int64_t t;
	if (!s || time_parse_rfc3339(s, &t) < 0)
		return 0;
	return t;
}

bool owner_controller(json_t *obj, struct owner_ref *ret)
{
	size_t i;
	json_t *r;
	json_array_foreach(json_get(obj, "metadata.ownerReferences"), i, r)
	{
		if (!json_is_true(json_object_get(r, "controller")))
			continue;
		ret->api_version = dup_or_empty(json_get_str(r, "apiVersion"));
		ret->kind = dup_or_empty(json_get_str(r, "kind"));
		ret->name = dup_or_empty(json_get_str(r, "name"));
		ret->uid = dup_or_empty(json_get_str(r, "uid"));
		return true;
	}
	return false;
}

void owner_ref_release(struct owner_ref *o)
{
	free(o->api_version);
	free(o->kind);
	free(o->name);
	free(o->uid);
	*o = (struct owner_ref){ 0 };
}

static void container_requests(json_t *c, int64_t *cpu, int64_t *mem)
{
	json_t *req = json_get(c, "resources.requests");
	json_t *lim = json_get(c, "resources.limits");
	const char *v;
	int64_t x;
	*cpu = *mem = 0;
	v = json_get_str(req, "cpu");
	if (!v)
		v = json_get_str(lim, "cpu");
	if (v && quantity_parse_milli(v, &x) == 0)
		*cpu = x;
	v = json_get_str(req, "memory");
	if (!v)
		v = json_get_str(lim, "memory");
	if (v && quantity_parse(v, &x) == 0)
		*mem = x;
}

void pod_requests(json_t *spec, int64_t *ret_cpu_milli, int64_t *ret_memory)
{
	int64_t cpu = 0, mem = 0, icpu = 0, imem = 0, c, m;
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(spec, "containers"), i, x)
	{
		container_requests(x, &c, &m);
		cpu += c;
		mem += m;
	}
	json_array_foreach(json_object_get(spec, "initContainers"), i, x)
	{
		container_requests(x, &c, &m);
		icpu = MAX(icpu, c);
		imem = MAX(imem, m);
	}
	*ret_cpu_milli = MAX(cpu, icpu);
	*ret_memory = MAX(mem, imem);
}

void *pod_info_extract(json_t *pod)
{
	struct pod_info *p = xnew(struct pod_info, 1);
	json_t *spec = json_object_get(pod, "spec");
	json_t *status = json_object_get(pod, "status");
	size_t len, i, k;
	json_t *x, *port;

	p->node_name = dup_or_empty(json_get_str(spec, "nodeName"));
	p->scheduler_name = dup_or_empty(json_get_str(spec, "schedulerName"));
	p->phase = dup_or_empty(json_get_str(status, "phase"));
	p->reason = dup_or_empty(json_get_str(status, "reason"));
	p->pod_ip = dup_or_empty(json_get_str(status, "podIP"));
	p->deletion_usec = time_at(pod, "metadata.deletionTimestamp");
	p->deleting = json_get(pod, "metadata.deletionTimestamp") != NULL;
	p->creation_usec = time_at(pod, "metadata.creationTimestamp");
	p->terminal = streq(p->phase, "Succeeded") || streq(p->phase, "Failed");
	json_array_foreach(json_object_get(status, "conditions"), i, x)
	{
		if (streq_ptr(json_get_str(x, "type"), "Ready")) {
			p->ready = streq_ptr(json_get_str(x, "status"), "True");
			p->ready_since_usec = time_at(x, "lastTransitionTime");
		}
	}
	p->has_controller = owner_controller(pod, &p->controller);
	p->labels = packed_labels_from_json(json_get(pod, "metadata.labels"), &len);
	pod_requests(spec, &p->req_cpu_milli, &p->req_memory);
	json_array_foreach(json_object_get(spec, "containers"), i, x)
	{
		json_array_foreach(json_object_get(x, "ports"), k, port)
		{
			int64_t hp = json_get_int(port, "hostPort", 0);
			if (hp > 0 && p->nhost_ports < (int)ARRAY_SIZE(p->host_ports))
				p->host_ports[p->nhost_ports++] = (int32_t)hp;
		}
	}
	json_array_foreach(json_object_get(status, "containerStatuses"), i, x)
		p->restarts += (int32_t)json_get_int(x, "restartCount", 0);
	return p;
}

void pod_info_free(void *ptr)
{
	struct pod_info *p = ptr;
	if (!p)
		return;
	free(p->node_name);
	free(p->scheduler_name);
	free(p->phase);
	free(p->reason);
	free(p->pod_ip);
	owner_ref_release(&p->controller);
	free(p->labels);
	free(p);
}

void *node_info_extract(json_t *node)
{
	struct node_info *n = xnew(struct node_info, 1);
	json_t *status = json_object_get(node, "status");
	size_t len, i;
	json_t *x;
	int64_t v;

	n->ready = xstrdup("");
	json_array_foreach(json_object_get(status, "conditions"), i, x)
	{
		if (!streq_ptr(json_get_str(x, "type"), "Ready"))
			continue;
		free(n->ready);
		n->ready = dup_or_empty(json_get_str(x, "status"));
		n->ready_transition_usec = time_at(x, "lastTransitionTime");
		n->ready_heartbeat_usec = time_at(x, "lastHeartbeatTime");
	}
	n->unschedulable = json_get_bool(node, "spec.unschedulable", false);
	json_t *alloc = json_object_get(status, "allocatable");
	if (!alloc)
		alloc = json_object_get(status, "capacity");
	const char *q;
	if ((q = json_get_str(alloc, "cpu")) && quantity_parse_milli(q, &v) == 0)
		n->alloc_cpu_milli = v;
	if ((q = json_get_str(alloc, "memory")) && quantity_parse(q, &v) == 0)
		n->alloc_memory = v;
	if ((q = json_get_str(alloc, "pods")) && quantity_parse(q, &v) == 0)
		n->alloc_pods = v;
	json_t *taints = json_get(node, "spec.taints");
	n->ntaints = json_array_size(taints);
	n->taints = xnew(struct taint, n->ntaints ? n->ntaints : 1);
	json_array_foreach(taints, i, x)
	{
		n->taints[i].key = dup_or_empty(json_get_str(x, "key"));
		n->taints[i].value = dup_or_empty(json_get_str(x, "value"));
		n->taints[i].effect = dup_or_empty(json_get_str(x, "effect"));
		n->taints[i].added_usec = time_at(x, "timeAdded");
	}
	n->labels = packed_labels_from_json(json_get(node, "metadata.labels"), &len);
	n->pod_cidr = dup_or_empty(json_get_str(node, "spec.podCIDR"));
	n->internal_ip = xstrdup("");
	json_array_foreach(json_object_get(status, "addresses"), i, x)
	{
		if (streq_ptr(json_get_str(x, "type"), "InternalIP")) {
			free(n->internal_ip);
			n->internal_ip = dup_or_empty(json_get_str(x, "address"));
			break;
		}
	}
	return n;
}

void node_info_free(void *ptr)
{
	struct node_info *n = ptr;
	if (!n)
		return;
	free(n->ready);
	for (size_t i = 0; i < n->ntaints; i++) {
		free(n->taints[i].key);
		free(n->taints[i].value);
		free(n->taints[i].effect);
	}
	free(n->taints);
	free(n->labels);
	free(n->pod_cidr);
	free(n->internal_ip);
	free(n);
}
