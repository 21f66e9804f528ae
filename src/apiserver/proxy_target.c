/* SPDX-License-Identifier: Apache-2.0 */
/* Where pods/proxy, services/proxy and nodes/proxy lead (see proxy_target.h). */
#include <stdlib.h>

#include "apiserver/apiserver.h"
#include "apiserver/cache.h"
#include "apiserver/obj.h"
#include "apiserver/proxy_target.h"
#include "apiserver/resource.h"
#include "apiserver/status.h"
#include "lib/json.h"
#include "lib/random.h"

#define KUBELET_PORT 10250

void proxy_target_release(struct proxy_target *t)
{
	free(t->host);
	t->host = NULL;
}

/* SCHEME:NAME:PORT, NAME:PORT or NAME. The parts point into buf. */
static bool split_scheme_name_port(char *buf, const char **ret_scheme, const char **ret_name,
				   const char **ret_port)
{
	char *parts[3];
	size_t n = 0;
	for (char *p = buf;; p++) {
		char *colon = strchr(p, ':');
		if (n == 3)
			return false;
		parts[n++] = p;
		if (!colon)
			break;
		*colon = 0;
		p = colon;
	}
	const char *scheme = "", *name = parts[0], *port = "";
	if (n == 2)
		port = parts[1];
	else if (n == 3) {
		scheme = parts[0];
		name = parts[1];
		port = parts[2];
	}
	if (!*name || !(streq(scheme, "") || streq(scheme, "http") || streq(scheme, "https")))
		return false;
	*ret_scheme = scheme;
	*ret_name = name;
	*ret_port = port;
	return true;
}

/* A decimal port 1..65535, or -1. */
static int parse_port(const char *s)
{
	if (!*s || strlen(s) > 5)
		return -1;
	for (const char *p = s; *p; p++)
		if (*p < '0' || *p > '9')
			return -1;
	int v = atoi(s);
	return v >= 1 && v <= 65535 ? v : -1;
}

static json_t *get_json(struct apiserver *srv, const char *plural, const char *group,
			const char *version, const char *ns, const char *name)
{
	const struct resource *res = resource_find(group, version, plural);
	if (!res)
		return NULL;
	_cleanup_free_ char *key = ns ? xasprintf("%s/%s", ns, name) : xstrdup(name);
	_cleanup_obj_ struct obj *o = cache_get(srv->cache, res, key);
	return o ? json_loadb(obj_json(o), o->len, 0, NULL) : NULL;
}

int proxy_node_address(struct apiserver *srv, const char *node, char **ret_host, int *ret_port,
		       struct api_error *err)
{
	_cleanup_json_ json_t *j = get_json(srv, "nodes", "", "v1", NULL, node);
	if (!j) {
		api_error_not_found(err, resource_find("", "v1", "nodes"), node);
		return -ENOENT;
	}
	json_t *addrs = json_get(j, "status.addresses");
	static const char *const pref[] = { "InternalIP", "ExternalIP", "Hostname", "InternalDNS",
					    "ExternalDNS" };
	const char *host = NULL;
	for (size_t p = 0; p < ARRAY_SIZE(pref) && !host; p++) {
		size_t i;
		json_t *a;
		json_array_foreach(addrs, i, a) if (streq_ptr(json_get_str(a, "type"), pref[p]) &&
						    !isempty(json_get_str(a, "address")))
		{
			host = json_get_str(a, "address");
			break;
		}
	}
	if (!host) {
		api_error_set(err, 500, "", "error dialing backend: node \"%s\" has no address",
			      node);
		return -EADDRNOTAVAIL;
	}
	int64_t port = json_get_int(j, "status.daemonEndpoints.kubeletEndpoint.Port", 0);
	*ret_host = xstrdup(host);
	*ret_port = port > 0 && port < 65536 ? (int)port : KUBELET_PORT;
	return 0;
}

static int pod_target(struct apiserver *srv, const char *ns, const char *id, const char *name,
		      const char *port, struct proxy_target *ret, struct api_error *err)
{
	_cleanup_json_ json_t *pod = get_json(srv, "pods", "", "v1", ns, name);
	if (!pod) {
		api_error_not_found(err, resource_find("", "v1", "pods"), name);
		return -ENOENT;
	}
	int p = 0;
	if (*port) {
		p = parse_port(port);
		if (p < 0) {
			api_error_bad_request(
			    err, "invalid pod request \"%s\": invalid port \"%s\"", id, port);
			return -EINVAL;
		}
	} else {
		/* The first port a container declares, as Kubernetes picks it. */
		size_t i;
		json_t *c;
		json_array_foreach(json_get(pod, "spec.containers"), i, c)
		{
			json_t *first = json_array_get(json_object_get(c, "ports"), 0);
			if (first) {
				p = (int)json_get_int(first, "containerPort", 0);
				break;
			}
		}
	}
	const char *ip = json_get_str(pod, "status.podIP");
	if (isempty(ip)) {
		api_error_bad_request(err, "address not allowed: pod %s has no IP address", name);
		return -EADDRNOTAVAIL;
	}
	ret->host = xstrdup(ip);
	ret->port = p > 0 && p < 65536 ? p : 80;
	return 0;
}

/* Ready addresses and the port named port_name of one Endpoints subset or
 * EndpointSlice, appended to hosts/ports. */
static void add_candidates(json_t *addresses, json_t *ports, const char *port_name, bool slice,
			   json_t *out)
{
	int port = -1;
	size_t i;
	json_t *p;
	json_array_foreach(ports, i, p) if (streq(str_or_empty_json(p, "name"), port_name))
	{
		port = (int)json_get_int(p, "port", -1);
		break;
	}
	if (port <= 0 || port > 65535)
		return;
	json_t *a;
	json_array_foreach(addresses, i, a)
	{
		const char *ip;
		if (slice) {
			json_t *ready = json_get(a, "conditions.ready");
			if (ready && !json_is_true(ready))
				continue;
			ip = json_string_value(json_array_get(json_object_get(a, "addresses"), 0));
		} else {
			ip = json_get_str(a, "ip");
		}
		if (!isempty(ip))
			json_array_append_new(out, json_pack("{s:s, s:i}", "ip", ip, "port", port));
	}
}

static int service_target(struct apiserver *srv, const char *ns, const char *name, const char *port,
			  struct proxy_target *ret, struct api_error *err)
{
	_cleanup_json_ json_t *svc = get_json(srv, "services", "", "v1", ns, name);
	if (!svc) {
		api_error_not_found(err, resource_find("", "v1", "services"), name);
		return -ENOENT;
	}
	/* The endpoint ports carry the service port's name. */
	const char *port_name = port;
	int num = parse_port(port);
	if (num > 0) {
		bool found = false;
		size_t i;
		json_t *sp;
		json_array_foreach(json_get(svc, "spec.ports"), i,
				   sp) if (json_get_int(sp, "port", 0) == num)
		{
			port_name = str_or_empty_json(sp, "name");
			found = true;
			break;
		}
		if (!found) {
			api_error_set(err, 503, "ServiceUnavailable",
				      "no service port %d found for service \"%s\"", num, name);
			return -ENOENT;
		}
	}

	_cleanup_json_ json_t *cands = json_array();
	_cleanup_json_ json_t *eps = get_json(srv, "endpoints", "", "v1", ns, name);
	if (eps) {
		size_t i;
		json_t *ss;
		json_array_foreach(json_object_get(eps, "subsets"), i, ss)
		    add_candidates(json_object_get(ss, "addresses"), json_object_get(ss, "ports"),
				   port_name, false, cands);
	} else {
		const struct resource *slices =
		    resource_find("discovery.k8s.io", "v1", "endpointslices");
		struct obj_list l = { 0 };
		struct obj_filter f = { .ns = ns };
		if (slices)
			cache_list(srv->cache, slices, &f, NULL, 0, &l);
		for (size_t k = 0; k < l.n; k++) {
			_cleanup_json_ json_t *s = obj_parse(l.items[k]);
			json_t *labels = json_get(s, "metadata.labels");
			/* (json_object_get: the key has a dot) */
			if (!streq_ptr(json_string_value(
					   json_object_get(labels, "kubernetes.io/service-name")),
				       name))
				continue;
			const char *at = json_get_str(s, "addressType");
			if (at && !streq(at, "IPv4") && !streq(at, "IPv6"))
				continue;
			add_candidates(json_object_get(s, "endpoints"), json_object_get(s, "ports"),
				       port_name, true, cands);
		}
		obj_list_release(&l);
	}
	size_t n = json_array_size(cands);
	if (n == 0) {
		api_error_set(err, 503, "ServiceUnavailable",
			      "no endpoints available for service \"%s\"", name);
		return -ENOENT;
	}
	uint32_t pick;
	random_bytes(&pick, sizeof(pick));
	json_t *c = json_array_get(cands, pick % n);
	ret->host = xstrdup(json_get_str(c, "ip"));
	ret->port = (int)json_get_int(c, "port", 0);
	return 0;
}

static int node_target(struct apiserver *srv, const char *name, const char *port,
		       struct proxy_target *ret, struct api_error *err)
{
	char *host;
	int kport;
	int r = proxy_node_address(srv, name, &host, &kport, err);
	if (r < 0)
		return r;
	ret->host = host;
	int p = *port ? parse_port(port) : kport;
	if (p < 0) {
		proxy_target_release(ret);
		api_error_bad_request(err, "invalid node request \"%s\": invalid port \"%s\"", name,
				      port);
		return -EINVAL;
	}
	ret->port = p;
	ret->agent = p == kport;
	ret->tls = ret->agent;
	return 0;
}

/* An IP address or a DNS name: nothing that could break the request line
 * or the Host header. */
static bool host_ok(const char *h)
{
	if (!*h || strlen(h) > 253)
		return false;
	for (const char *p = h; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '.' || *p == '-' || *p == ':'))
			return false;
	return true;
}

int proxy_target_resolve(struct apiserver *srv, const struct resource *res, const char *ns,
			 const char *id, struct proxy_target *ret, struct api_error *err)
{
	_cleanup_free_ char *buf = xstrdup(id);
	const char *scheme, *name, *port;
	const char *kind = streq(res->plural, "pods")	    ? "pod"
			   : streq(res->plural, "services") ? "service"
							    : "node";
	*ret = (struct proxy_target){ 0 };
	if (!split_scheme_name_port(buf, &scheme, &name, &port)) {
		api_error_bad_request(err, "invalid %s request \"%s\"", kind, id);
		return -EINVAL;
	}
	int r;
	if (streq(res->plural, "pods"))
		r = pod_target(srv, ns, id, name, port, ret, err);
	else if (streq(res->plural, "services"))
		r = service_target(srv, ns, name, port, ret, err);
	else
		r = node_target(srv, name, port, ret, err);
	if (r < 0)
		return r;
	if (!host_ok(ret->host)) {
		api_error_set(err, 503, "ServiceUnavailable",
			      "error trying to reach service: invalid address \"%s\"", ret->host);
		proxy_target_release(ret);
		return -EINVAL;
	}
	if (streq(scheme, "https"))
		ret->tls = true;
	return 0;
}
