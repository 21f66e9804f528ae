/* SPDX-License-Identifier: Apache-2.0 */
/* The service proxy's model -> nftables commands (no I/O). See
 * proxy_rules.h and the "Service proxy" section of src/net/README.md. */
#include "net/proxy_rules.h"

#include <arpa/inet.h>
#include <ctype.h>

#include "lib/json.h"
#include "lib/strbuf.h"

static const char *const proto_names[] = { "tcp", "udp", "sctp" };

/* ---- parsing ---------------------------------------------------------- */

/* Names go into nft identifiers: allow what Kubernetes names may hold. */
static bool name_ok(const char *s, size_t max, bool allow_empty)
{
	size_t n = strlen(s);
	if (n == 0)
		return allow_empty;
	if (n > max)
		return false;
	for (const char *p = s; *p; p++)
		if (!(islower((unsigned char)*p) || isdigit((unsigned char)*p) || *p == '-' ||
		      *p == '.'))
			return false;
	return true;
}

static bool ipv4_ok(const char *s)
{
	struct in_addr a;
	return s && inet_pton(AF_INET, s, &a) == 1;
}

/* The address in canonical form (no leading zeros etc.), or NULL. */
static char *ipv4_canon(const char *s)
{
	struct in_addr a;
	char buf[INET_ADDRSTRLEN];
	if (!s || inet_pton(AF_INET, s, &a) != 1)
		return NULL;
	return xstrdup(inet_ntop(AF_INET, &a, buf, sizeof(buf)));
}

static int parse_proto(json_t *o, int *ret)
{
	const char *p = json_get_str(o, "protocol");
	if (!p || streq(p, "TCP"))
		*ret = PROXY_TCP;
	else if (streq(p, "UDP"))
		*ret = PROXY_UDP;
	else if (streq(p, "SCTP"))
		*ret = PROXY_SCTP;
	else
		return -EINVAL;
	return 0;
}

void proxy_service_free(struct proxy_service *s)
{
	if (!s)
		return;
	free(s->ns);
	free(s->name);
	free(s->cluster_ip);
	for (size_t i = 0; i < s->nexternal_ips; i++)
		free(s->external_ips[i]);
	free(s->external_ips);
	for (size_t i = 0; i < s->nports; i++)
		free(s->ports[i].name);
	free(s->ports);
	free(s);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct proxy_service *, proxy_service_free)

static void add_external_ip(struct proxy_service *s, const char *ip)
{
	char *c = ipv4_canon(ip);
	if (!c)
		return; /* IPv6 or not an address: not ours */
	for (size_t i = 0; i < s->nexternal_ips; i++)
		if (streq(s->external_ips[i], c)) {
			free(c);
			return;
		}
	s->external_ips = xrealloc(s->external_ips, (s->nexternal_ips + 1) * sizeof(char *));
	s->external_ips[s->nexternal_ips++] = c;
}

int proxy_service_parse(json_t *svc, struct proxy_service **ret, char **ret_err)
{
	const char *ns = json_get_str(svc, "metadata.namespace");
	const char *name = json_get_str(svc, "metadata.name");
	if (!ns || !name || !name_ok(ns, 63, false) || !name_ok(name, 63, false)) {
		*ret_err = xasprintf("service \"%s/%s\": bad namespace or name", ns ? ns : "",
				     name ? name : "");
		return -EINVAL;
	}
	_cleanup_(proxy_service_freep) struct proxy_service *s = xnew(struct proxy_service, 1);
	s->ns = xstrdup(ns);
	s->name = xstrdup(name);

	const char *type = str_or_empty_json(svc, "spec.type");
	const char *cip = str_or_empty_json(svc, "spec.clusterIP");
	if (!streq(type, "ExternalName") && !isempty(cip) && !streq(cip, "None"))
		s->cluster_ip = ipv4_canon(cip); /* NULL for IPv6: not ours */
	bool node_ports = streq(type, "NodePort") || streq(type, "LoadBalancer");

	json_t *ports = json_get(svc, "spec.ports");
	size_t n = json_is_array(ports) ? json_array_size(ports) : 0;
	s->ports = xnew(struct proxy_svc_port, n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(ports, i);
		struct proxy_svc_port *sp = &s->ports[s->nports];
		const char *pname = str_or_empty_json(p, "name");
		int64_t port = json_get_int(p, "port", 0);
		int64_t np = node_ports ? json_get_int(p, "nodePort", 0) : 0;
		if (!name_ok(pname, 63, true) || parse_proto(p, &sp->proto) < 0 || port < 1 ||
		    port > 65535 || np < 0 || np > 65535) {
			*ret_err = xasprintf(
			    "service \"%s/%s\": spec.ports[%zu]: bad name, protocol or port", ns,
			    name, i);
			return -EINVAL;
		}
		sp->name = xstrdup(pname);
		sp->port = (int)port;
		sp->node_port = (int)np;
		s->nports++;
	}

	json_t *v;
	size_t i;
	json_array_foreach(json_get(svc, "spec.externalIPs"), i, v)
	{
		add_external_ip(s, json_string_value(v));
	}
	json_array_foreach(json_get(svc, "status.loadBalancer.ingress"), i, v)
	{
		add_external_ip(s, json_get_str(v, "ip"));
	}

	if (streq(str_or_empty_json(svc, "spec.sessionAffinity"), "ClientIP")) {
		int64_t t =
		    json_get_int(svc, "spec.sessionAffinityConfig.clientIP.timeoutSeconds", 10800);
		if (t < 1 || t > 86400) {
			*ret_err = xasprintf("service \"%s/%s\": bad session affinity timeout %lld",
					     ns, name, (long long)t);
			return -EINVAL;
		}
		s->affinity = true;
		s->affinity_timeout = (int)t;
	}
	s->ext_local = streq(str_or_empty_json(svc, "spec.externalTrafficPolicy"), "Local");
	s->int_local = streq(str_or_empty_json(svc, "spec.internalTrafficPolicy"), "Local");
	*ret = TAKE_PTR(s);
	return 0;
}

void proxy_slice_free(struct proxy_slice *s)
{
	if (!s)
		return;
	free(s->ns);
	free(s->service);
	for (size_t i = 0; i < s->nports; i++)
		free(s->ports[i].name);
	free(s->ports);
	for (size_t i = 0; i < s->neps; i++) {
		free(s->eps[i].ip);
		free(s->eps[i].node);
	}
	free(s->eps);
	free(s);
}
DEFINE_TRIVIAL_CLEANUP_FUNC(struct proxy_slice *, proxy_slice_free)

int proxy_slice_parse(json_t *slice, struct proxy_slice **ret, char **ret_err)
{
	const char *ns = str_or_empty_json(slice, "metadata.namespace");
	const char *name = str_or_empty_json(slice, "metadata.name");
	json_t *labels = json_get(slice, "metadata.labels");
	const char *svc = json_string_value(json_object_get(labels, "kubernetes.io/service-name"));
	if (!svc || !streq(str_or_empty_json(slice, "addressType"), "IPv4")) {
		*ret = NULL;
		return 0;
	}
	if (!name_ok(ns, 63, false) || !name_ok(svc, 63, false)) {
		*ret_err =
		    xasprintf("endpointslice \"%s/%s\": bad namespace or service name", ns, name);
		return -EINVAL;
	}
	_cleanup_(proxy_slice_freep) struct proxy_slice *s = xnew(struct proxy_slice, 1);
	s->ns = xstrdup(ns);
	s->service = xstrdup(svc);

	json_t *ports = json_object_get(slice, "ports");
	size_t n = json_is_array(ports) ? json_array_size(ports) : 0;
	s->ports = xnew(struct proxy_slice_port, n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_array_get(ports, i);
		struct proxy_slice_port *sp = &s->ports[s->nports];
		const char *pname = str_or_empty_json(p, "name");
		int64_t port = json_get_int(p, "port", 0);
		if (!name_ok(pname, 63, true) || parse_proto(p, &sp->proto) < 0 || port < 0 ||
		    port > 65535) {
			*ret_err = xasprintf(
			    "endpointslice \"%s/%s\": ports[%zu]: bad name, protocol or port", ns,
			    name, i);
			return -EINVAL;
		}
		if (port == 0)
			continue; /* no port: nothing to forward to */
		sp->name = xstrdup(pname);
		sp->port = (int)port;
		s->nports++;
	}

	json_t *eps = json_object_get(slice, "endpoints");
	n = json_is_array(eps) ? json_array_size(eps) : 0;
	s->eps = xnew(struct proxy_endpoint, n ? n : 1);
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(eps, i);
		char *ip = ipv4_canon(
		    json_string_value(json_array_get(json_object_get(e, "addresses"), 0)));
		if (!ip) {
			*ret_err = xasprintf("endpointslice \"%s/%s\": endpoint %zu: bad address",
					     ns, name, i);
			return -EINVAL;
		}
		struct proxy_endpoint *ep = &s->eps[s->neps++];
		ep->ip = ip;
		ep->node = xstrdup(str_or_empty_json(e, "nodeName"));
		/* Unset conditions: ready and serving mean true, terminating false. */
		ep->ready = json_get_bool(e, "conditions.ready", true);
		ep->serving = json_get_bool(e, "conditions.serving", ep->ready);
		ep->terminating = json_get_bool(e, "conditions.terminating", false);
	}
	*ret = TAKE_PTR(s);
	return 0;
}

/* ---- rendering -------------------------------------------------------- */

/* Maps (their key text says which of the two key types it is). */
static const char MAP_SVC[] = "service-ips";
static const char MAP_NP[] = "service-nodeports";
static const char MAP_NOEP_SVC[] = "no-endpoint-services";
static const char MAP_NOEP_NP[] = "no-endpoint-nodeports";

struct rchain {
	char *name;
	char *body; /* rules, one per line */
};
struct rset {
	char *name;
	char *decl;
};
struct relem {
	const char *map;
	char *key;
	char *value;
};

/* One Service's rendering. */
struct proxy_rendered {
	struct avl_node node;
	char *key;
	struct rchain *chains;
	size_t nchains, achains;
	struct rset *sets;
	size_t nsets, asets;
	struct relem *elems;
	size_t nelems, aelems;
};

/* An element key claimed by a Service (two Services must not write the
 * same key: the transaction would fail). */
struct claim {
	struct avl_node node;
	char *key;   /* element key text */
	char *owner; /* Service key */
};

static void *grow(void *p, size_t *alloc, size_t n, size_t size)
{
	if (n < *alloc)
		return p;
	*alloc = *alloc ? *alloc * 2 : 8;
	return xrealloc(p, *alloc * size);
}

static void rendered_release(struct proxy_rendered *x)
{
	for (size_t i = 0; i < x->nchains; i++) {
		free(x->chains[i].name);
		free(x->chains[i].body);
	}
	free(x->chains);
	for (size_t i = 0; i < x->nsets; i++) {
		free(x->sets[i].name);
		free(x->sets[i].decl);
	}
	free(x->sets);
	for (size_t i = 0; i < x->nelems; i++) {
		free(x->elems[i].key);
		free(x->elems[i].value);
	}
	free(x->elems);
	free(x->key);
	memset(x, 0, sizeof(*x));
}

static void add_chain(struct proxy_rendered *x, char *name, char *body)
{
	x->chains = grow(x->chains, &x->achains, x->nchains, sizeof(*x->chains));
	x->chains[x->nchains++] = (struct rchain){ name, body };
}

static void add_set(struct proxy_rendered *x, char *name, char *decl)
{
	x->sets = grow(x->sets, &x->asets, x->nsets, sizeof(*x->sets));
	x->sets[x->nsets++] = (struct rset){ name, decl };
}

static void add_elem(struct proxy_rendered *x, const char *map, char *key, char *value)
{
	x->elems = grow(x->elems, &x->aelems, x->nelems, sizeof(*x->elems));
	x->elems[x->nelems++] = (struct relem){ map, key, value };
}

static int cmp_rendered(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct proxy_rendered, node)->key);
}

static int cmp_claim(const void *key, const struct avl_node *n)
{
	return strcmp(key, avl_entry(n, struct claim, node)->key);
}

int proxy_rules_init(struct proxy_rules *r, const struct proxy_rules_config *cfg, char **ret_err)
{
	memset(r, 0, sizeof(*r));
	const char *table = cfg->table ? cfg->table : "c8s";
	if (!isalpha((unsigned char)table[0]) || !name_ok(table, 64, false)) {
		*ret_err = xasprintf("bad nftables table name \"%s\"", table);
		return -EINVAL;
	}
	if (!isempty(cfg->cluster_cidr)) {
		char ip[64];
		unsigned bits;
		char extra;
		if (strlen(cfg->cluster_cidr) >= sizeof(ip) ||
		    sscanf(cfg->cluster_cidr, "%63[0-9.]/%u%c", ip, &bits, &extra) != 2 ||
		    !ipv4_ok(ip) || bits > 32) {
			*ret_err = xasprintf("bad cluster CIDR \"%s\"", cfg->cluster_cidr);
			return -EINVAL;
		}
		r->cluster_cidr = xasprintf("%s/%u", ip, bits);
	}
	if (!isempty(cfg->dns_ip)) {
		r->dns_ip = ipv4_canon(cfg->dns_ip);
		if (!r->dns_ip) {
			*ret_err = xasprintf("bad DNS address \"%s\"", cfg->dns_ip);
			free(r->cluster_cidr);
			return -EINVAL;
		}
	}
	r->table = xstrdup(table);
	r->node_name = xstrdup(cfg->node_name ? cfg->node_name : "");
	avl_init(&r->services, cmp_rendered);
	avl_init(&r->claims, cmp_claim);
	return 0;
}

static void claims_clear(struct avl_tree *t)
{
	struct avl_node *n;
	while ((n = avl_first(t))) {
		struct claim *c = avl_entry(n, struct claim, node);
		avl_remove(t, n);
		free(c->key);
		free(c->owner);
		free(c);
	}
}

void proxy_rules_forget(struct proxy_rules *r)
{
	struct avl_node *n;
	while ((n = avl_first(&r->services))) {
		struct proxy_rendered *x = avl_entry(n, struct proxy_rendered, node);
		avl_remove(&r->services, n);
		rendered_release(x);
		free(x);
	}
	claims_clear(&r->claims);
}

void proxy_rules_release(struct proxy_rules *r)
{
	if (!r->table)
		return;
	proxy_rules_forget(r);
	free(r->table);
	free(r->node_name);
	free(r->cluster_cidr);
	free(r->dns_ip);
	memset(r, 0, sizeof(*r));
}

size_t proxy_rules_count(const struct proxy_rules *r)
{
	return r->services.count;
}

void proxy_rules_delete_table(const char *table, struct strbuf *out)
{
	/* "add" first makes the delete succeed when there is no table. */
	strbuf_addf(out, "add table ip %s\ndelete table ip %s\n", table, table);
}

void proxy_rules_full_begin(struct proxy_rules *r, struct strbuf *out)
{
	const char *t = r->table;
	proxy_rules_forget(r);
	proxy_rules_delete_table(t, out);
	strbuf_addf(out, "add table ip %s\n", t);
	/* Masquerade: mark now, masquerade in postrouting (once). */
	strbuf_addf(out,
		    "add chain ip %1$s mark-for-masquerade\n"
		    "add rule ip %1$s mark-for-masquerade mark set mark or 0x4000\n"
		    "add chain ip %1$s masquerading\n"
		    "add rule ip %1$s masquerading mark and 0x4000 == 0 return\n"
		    "add rule ip %1$s masquerading mark set mark xor 0x4000\n"
		    "add rule ip %1$s masquerading masquerade fully-random\n",
		    t);
	/* Dispatch maps. */
	strbuf_addf(
	    out,
	    "add map ip %1$s %2$s { type ipv4_addr . inet_proto . inet_service : verdict ; }\n"
	    "add map ip %1$s %3$s { type inet_proto . inet_service : verdict ; }\n"
	    "add map ip %1$s %4$s { type ipv4_addr . inet_proto . inet_service : verdict ; }\n"
	    "add map ip %1$s %5$s { type inet_proto . inet_service : verdict ; }\n",
	    t, MAP_SVC, MAP_NP, MAP_NOEP_SVC, MAP_NOEP_NP);
	/* Service dispatch (NAT); NodePorts on every local address but loopback. */
	strbuf_addf(out,
		    "add chain ip %1$s services\n"
		    "add rule ip %1$s services ip daddr . meta l4proto . th dport vmap @%2$s\n"
		    "add rule ip %1$s services fib daddr type local ip daddr != 127.0.0.0/8 "
		    "meta l4proto . th dport vmap @%3$s\n",
		    t, MAP_SVC, MAP_NP);
	/* Services without endpoints: reject new connections (filter, before NAT). */
	strbuf_addf(
	    out,
	    "add chain ip %1$s reject-chain\n"
	    "add rule ip %1$s reject-chain meta l4proto tcp reject with tcp reset\n"
	    "add rule ip %1$s reject-chain reject with icmp type port-unreachable\n"
	    "add chain ip %1$s endpoints-check\n"
	    "add rule ip %1$s endpoints-check ip daddr . meta l4proto . th dport vmap @%2$s\n"
	    "add rule ip %1$s endpoints-check fib daddr type local ip daddr != 127.0.0.0/8 "
	    "meta l4proto . th dport vmap @%3$s\n",
	    t, MAP_NOEP_SVC, MAP_NOEP_NP);
	/* Base chains. */
	strbuf_addf(out,
		    "add chain ip %1$s filter-prerouting { type filter hook prerouting priority "
		    "-110 ; policy accept ; }\n"
		    "add rule ip %1$s filter-prerouting ct state new jump endpoints-check\n"
		    "add chain ip %1$s filter-output { type filter hook output priority -110 ; "
		    "policy accept ; }\n"
		    "add rule ip %1$s filter-output ct state new jump endpoints-check\n"
		    "add chain ip %1$s nat-prerouting { type nat hook prerouting priority -100 ; "
		    "policy accept ; }\n"
		    "add rule ip %1$s nat-prerouting jump services\n"
		    "add chain ip %1$s nat-output { type nat hook output priority -100 ; policy "
		    "accept ; }\n"
		    "add rule ip %1$s nat-output jump services\n"
		    "add chain ip %1$s nat-postrouting { type nat hook postrouting priority 100 ; "
		    "policy accept ; }\n"
		    "add rule ip %1$s nat-postrouting jump masquerading\n",
		    t);
}

/* An endpoint of one Service port. */
struct pep {
	const char *ip;
	uint32_t addr; /* host order, for sorting */
	int port;
	const char *node;
	bool ready, serving, terminating;
	bool used; /* has an endpoint chain */
};

static int cmp_pep(const void *a, const void *b)
{
	const struct pep *x = a, *y = b;
	if (x->addr != y->addr)
		return x->addr < y->addr ? -1 : 1;
	return x->port - y->port;
}

/* The endpoints of port sp, sorted, each address:port once. */
static struct pep *port_endpoints(const struct proxy_svc_port *sp,
				  const struct proxy_slice *const *slices, size_t nslices,
				  size_t *ret_n)
{
	size_t n = 0, alloc = 0;
	struct pep *v = NULL;
	for (size_t i = 0; i < nslices; i++) {
		const struct proxy_slice *sl = slices[i];
		const struct proxy_slice_port *p = NULL;
		for (size_t j = 0; j < sl->nports && !p; j++)
			if (sl->ports[j].proto == sp->proto && streq(sl->ports[j].name, sp->name))
				p = &sl->ports[j];
		if (!p)
			continue;
		for (size_t j = 0; j < sl->neps; j++) {
			const struct proxy_endpoint *e = &sl->eps[j];
			struct in_addr a;
			if (inet_pton(AF_INET, e->ip, &a) != 1)
				continue;
			v = grow(v, &alloc, n, sizeof(*v));
			v[n++] = (struct pep){ .ip = e->ip,
					       .addr = ntohl(a.s_addr),
					       .port = p->port,
					       .node = e->node,
					       .ready = e->ready,
					       .serving = e->serving,
					       .terminating = e->terminating };
		}
	}
	if (n)
		qsort(v, n, sizeof(*v), cmp_pep);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (k == 0 || cmp_pep(&v[k - 1], &v[i]) != 0)
			v[k++] = v[i];
	*ret_n = k;
	return v;
}

/* Like kube-proxy: the ready endpoints; if none, the serving and
 * terminating ones. local: only those on this node. Indexes into eps. */
static size_t select_endpoints(struct pep *eps, size_t n, bool local, const char *node,
			       size_t *ret_idx)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (eps[i].ready && !eps[i].terminating && (!local || streq(eps[i].node, node)))
			ret_idx[k++] = i;
	if (k)
		return k;
	for (size_t i = 0; i < n; i++)
		if (eps[i].serving && eps[i].terminating && (!local || streq(eps[i].node, node)))
			ret_idx[k++] = i;
	return k;
}

static char *ep_suffix(const char *prefix, const struct pep *e)
{
	return xasprintf("%s__%s/%d", prefix, e->ip, e->port);
}

/* Without endpoint chains, hairpin is decided before the DNAT: a backend
 * of the Service calling the Service is masqueraded (whichever backend it
 * reaches), so that the reply comes back through this node. */
static void add_hairpin_rule(struct strbuf *b, const struct pep *eps, const size_t *idx, size_t k)
{
	size_t n = 0;
	strbuf_addstr(b, "ip saddr { ");
	for (size_t i = 0; i < k; i++) {
		bool dup = false; /* the same address on several ports */
		for (size_t j = 0; j < i && !dup; j++)
			dup = eps[idx[j]].addr == eps[idx[i]].addr;
		if (!dup)
			strbuf_addf(b, "%s%s", n++ ? ", " : "", eps[idx[i]].ip);
	}
	strbuf_addstr(b, " } jump mark-for-masquerade\n");
}

/* Load-balancing rules over the selected endpoints: with affinity, the
 * known clients first, then a random endpoint chain; without, a DNAT to a
 * random endpoint. */
static void add_lb_rules(struct strbuf *b, const char *P, const struct proxy_service *svc,
			 const char *proto, const struct pep *eps, const size_t *idx, size_t k)
{
	if (!svc->affinity) {
		if (k == 1) {
			strbuf_addf(b, "meta l4proto %s dnat to %s:%d\n", proto, eps[idx[0]].ip,
				    eps[idx[0]].port);
			return;
		}
		strbuf_addf(b, "meta l4proto %s dnat ip to numgen random mod %zu map { ", proto, k);
		for (size_t i = 0; i < k; i++)
			strbuf_addf(b, "%s%zu : %s . %d", i ? ", " : "", i, eps[idx[i]].ip,
				    eps[idx[i]].port);
		strbuf_addstr(b, " }\n");
		return;
	}
	for (size_t i = 0; i < k; i++) {
		_cleanup_free_ char *s = ep_suffix(P, &eps[idx[i]]);
		strbuf_addf(b, "ip saddr @affinity-%s goto endpoint-%s\n", s, s);
	}
	if (k == 1) {
		_cleanup_free_ char *s = ep_suffix(P, &eps[idx[0]]);
		strbuf_addf(b, "goto endpoint-%s\n", s);
		return;
	}
	strbuf_addf(b, "numgen random mod %zu vmap { ", k);
	for (size_t i = 0; i < k; i++) {
		_cleanup_free_ char *s = ep_suffix(P, &eps[idx[i]]);
		strbuf_addf(b, "%s%zu : goto endpoint-%s", i ? ", " : "", i, s);
	}
	strbuf_addstr(b, " }\n");
}

static void render_port(const struct proxy_rules *r, const struct proxy_service *svc,
			const struct proxy_svc_port *sp, const struct proxy_slice *const *slices,
			size_t nslices, struct proxy_rendered *x)
{
	const char *proto = proto_names[sp->proto];
	size_t n;
	_cleanup_free_ struct pep *eps = port_endpoints(sp, slices, nslices, &n);
	_cleanup_free_ size_t *cl = xnew(size_t, n + 1);
	_cleanup_free_ size_t *lo = xnew(size_t, n + 1);
	size_t ncl = select_endpoints(eps, n, svc->int_local, r->node_name, cl);
	size_t nlo = svc->ext_local ? select_endpoints(eps, n, true, r->node_name, lo) : 0;
	bool has_cip = svc->cluster_ip && !streq_ptr(svc->cluster_ip, r->dns_ip);
	bool has_ext = sp->node_port > 0 || svc->nexternal_ips > 0;
	_cleanup_free_ char *P = xasprintf("%s/%s/%s/%d", svc->ns, svc->name, proto, sp->port);

	if (ncl == 0) {
		/* No endpoints: reject (filter chains, before NAT). */
		if (has_cip)
			add_elem(x, MAP_NOEP_SVC,
				 xasprintf("%s . %s . %d", svc->cluster_ip, proto, sp->port),
				 xstrdup("goto reject-chain"));
		for (size_t i = 0; has_ext && i < svc->nexternal_ips; i++)
			add_elem(x, MAP_NOEP_SVC,
				 xasprintf("%s . %s . %d", svc->external_ips[i], proto, sp->port),
				 xstrdup("goto reject-chain"));
		if (sp->node_port > 0)
			add_elem(x, MAP_NOEP_NP, xasprintf("%s . %d", proto, sp->node_port),
				 xstrdup("goto reject-chain"));
		return;
	}

	/* With session affinity, a chain per endpoint records the client and
	 * DNATs (kube-proxy's layout). Without, the Service chain DNATs itself
	 * through a numgen map: an order of magnitude fewer chains and rules. */
	if (svc->affinity) {
		for (size_t i = 0; i < ncl; i++)
			eps[cl[i]].used = true;
		for (size_t i = 0; i < nlo; i++)
			eps[lo[i]].used = true;
	}
	for (size_t i = 0; i < n; i++) {
		if (!eps[i].used)
			continue;
		_cleanup_free_ char *s = ep_suffix(P, &eps[i]);
		struct strbuf b = STRBUF_INIT;
		/* Hairpin: a pod reaching itself through the Service. */
		strbuf_addf(&b, "ip saddr %s jump mark-for-masquerade\n", eps[i].ip);
		add_set(x, xasprintf("affinity-%s", s),
			xasprintf("{ type ipv4_addr ; flags dynamic,timeout ; timeout %ds ; }",
				  svc->affinity_timeout));
		strbuf_addf(&b, "update @affinity-%s { ip saddr }\n", s);
		strbuf_addf(&b, "meta l4proto %s dnat to %s:%d\n", proto, eps[i].ip, eps[i].port);
		add_chain(x, xasprintf("endpoint-%s", s), strbuf_detach(&b, NULL));
	}

	/* The cluster-wide chain: masquerade what comes from outside the pod
	 * network, then pick an endpoint. */
	struct strbuf b = STRBUF_INIT;
	if (r->cluster_cidr)
		strbuf_addf(&b, "ip saddr != %s jump mark-for-masquerade\n", r->cluster_cidr);
	else
		strbuf_addstr(&b, "jump mark-for-masquerade\n");
	if (!svc->affinity)
		add_hairpin_rule(&b, eps, cl, ncl);
	add_lb_rules(&b, P, svc, proto, eps, cl, ncl);
	add_chain(x, xasprintf("service-%s", P), strbuf_detach(&b, NULL));
	if (has_cip)
		add_elem(x, MAP_SVC, xasprintf("%s . %s . %d", svc->cluster_ip, proto, sp->port),
			 xasprintf("goto service-%s", P));
	if (!has_ext)
		return;

	/* Traffic to node ports and external addresses. */
	if (!svc->ext_local) {
		add_chain(x, xasprintf("external-%s", P),
			  xasprintf("jump mark-for-masquerade\ngoto service-%s\n", P));
	} else {
		struct strbuf e = STRBUF_INIT;
		/* Pods and the node itself are not "external": cluster-wide,
		 * the node's own traffic masqueraded. */
		if (r->cluster_cidr)
			strbuf_addf(&e, "ip saddr %s goto service-%s\n", r->cluster_cidr, P);
		strbuf_addf(&e,
			    "fib saddr type local jump mark-for-masquerade\n"
			    "fib saddr type local goto service-%s\n",
			    P);
		if (nlo) {
			strbuf_addf(&e, "goto local-%s\n", P);
			struct strbuf l = STRBUF_INIT;
			add_lb_rules(&l, P, svc, proto, eps, lo, nlo);
			add_chain(x, xasprintf("local-%s", P), strbuf_detach(&l, NULL));
		} else {
			strbuf_addstr(&e, "drop\n"); /* no endpoint on this node */
		}
		add_chain(x, xasprintf("external-%s", P), strbuf_detach(&e, NULL));
	}
	for (size_t i = 0; i < svc->nexternal_ips; i++)
		add_elem(x, MAP_SVC,
			 xasprintf("%s . %s . %d", svc->external_ips[i], proto, sp->port),
			 xasprintf("goto external-%s", P));
	if (sp->node_port > 0)
		add_elem(x, MAP_NP, xasprintf("%s . %d", proto, sp->node_port),
			 xasprintf("goto external-%s", P));
}

static const struct rchain *find_chain(const struct proxy_rendered *x, const char *name)
{
	for (size_t i = 0; i < x->nchains; i++)
		if (streq(x->chains[i].name, name))
			return &x->chains[i];
	return NULL;
}

static const struct rset *find_set(const struct proxy_rendered *x, const char *name)
{
	for (size_t i = 0; i < x->nsets; i++)
		if (streq(x->sets[i].name, name))
			return &x->sets[i];
	return NULL;
}

static bool has_elem(const struct proxy_rendered *x, const struct relem *e)
{
	for (size_t i = 0; i < x->nelems; i++)
		if (x->elems[i].map == e->map && streq(x->elems[i].key, e->key) &&
		    streq(x->elems[i].value, e->value))
			return true;
	return false;
}

/* Drop the new elements whose key another Service holds; claim the rest. */
static void settle_claims(struct proxy_rules *r, const char *owner, struct proxy_rendered *old,
			  struct proxy_rendered *nx)
{
	size_t k = 0;
	for (size_t i = 0; i < nx->nelems; i++) {
		struct relem *e = &nx->elems[i];
		struct avl_node *n = avl_find(&r->claims, e->key);
		if (n && !streq(avl_entry(n, struct claim, node)->owner, owner)) {
			free(e->key);
			free(e->value);
			continue;
		}
		if (!n) {
			struct claim *c = xnew(struct claim, 1);
			c->key = xstrdup(e->key);
			c->owner = xstrdup(owner);
			avl_insert(&r->claims, c->key, &c->node);
		}
		nx->elems[k++] = *e;
	}
	nx->nelems = k;
	/* Release what the old rendering held and the new one does not. */
	for (size_t i = 0; old && i < old->nelems; i++) {
		bool kept = false;
		for (size_t j = 0; j < nx->nelems && !kept; j++)
			kept = streq(nx->elems[j].key, old->elems[i].key);
		if (kept)
			continue;
		struct avl_node *n = avl_find(&r->claims, old->elems[i].key);
		if (!n)
			continue;
		struct claim *c = avl_entry(n, struct claim, node);
		if (!streq(c->owner, owner))
			continue;
		avl_remove(&r->claims, n);
		free(c->key);
		free(c->owner);
		free(c);
	}
}

static void emit_rules(struct strbuf *out, const char *t, const struct rchain *c)
{
	const char *p = c->body;
	while (*p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		strbuf_addf(out, "add rule ip %s %s %.*s\n", t, c->name, (int)len, p);
		p += len + (nl ? 1 : 0);
	}
}

/* The commands from old to nx, in an order the kernel accepts in one
 * transaction: new chains exist before anything refers to them, chains
 * are flushed (dropping their references) before sets and chains they
 * referred to are deleted, elements pointing at a chain go before it. */
static void emit_diff(const char *t, const struct proxy_rendered *old,
		      const struct proxy_rendered *nx, struct strbuf *out)
{
	static const struct proxy_rendered empty;
	if (!old)
		old = &empty;
	bool force = false; /* a set changed: rewrite every chain */
	for (size_t i = 0; i < nx->nsets && !force; i++) {
		const struct rset *o = find_set(old, nx->sets[i].name);
		force = o && !streq(o->decl, nx->sets[i].decl);
	}
	for (size_t i = 0; i < nx->nchains; i++)
		if (!find_chain(old, nx->chains[i].name))
			strbuf_addf(out, "add chain ip %s %s\n", t, nx->chains[i].name);
	for (size_t i = 0; i < old->nchains; i++) {
		const struct rchain *c = find_chain(nx, old->chains[i].name);
		if (!c || force || !streq(c->body, old->chains[i].body))
			strbuf_addf(out, "flush chain ip %s %s\n", t, old->chains[i].name);
	}
	for (size_t i = 0; i < old->nsets; i++) {
		const struct rset *s = find_set(nx, old->sets[i].name);
		if (!s || !streq(s->decl, old->sets[i].decl))
			strbuf_addf(out, "delete set ip %s %s\n", t, old->sets[i].name);
	}
	for (size_t i = 0; i < nx->nsets; i++) {
		const struct rset *s = find_set(old, nx->sets[i].name);
		if (!s || !streq(s->decl, nx->sets[i].decl))
			strbuf_addf(out, "add set ip %s %s %s\n", t, nx->sets[i].name,
				    nx->sets[i].decl);
	}
	for (size_t i = 0; i < nx->nchains; i++) {
		const struct rchain *o = find_chain(old, nx->chains[i].name);
		if (!o || force || !streq(o->body, nx->chains[i].body))
			emit_rules(out, t, &nx->chains[i]);
	}
	for (size_t i = 0; i < old->nelems; i++)
		if (!has_elem(nx, &old->elems[i]))
			strbuf_addf(out, "delete element ip %s %s { %s }\n", t, old->elems[i].map,
				    old->elems[i].key);
	for (size_t i = 0; i < nx->nelems; i++)
		if (!has_elem(old, &nx->elems[i]))
			strbuf_addf(out, "add element ip %s %s { %s : %s }\n", t, nx->elems[i].map,
				    nx->elems[i].key, nx->elems[i].value);
	for (size_t i = 0; i < old->nchains; i++)
		if (!find_chain(nx, old->chains[i].name))
			strbuf_addf(out, "delete chain ip %s %s\n", t, old->chains[i].name);
}

bool proxy_rules_service(struct proxy_rules *r, const char *key, const struct proxy_service *svc,
			 const struct proxy_slice *const *slices, size_t nslices,
			 struct strbuf *out)
{
	struct avl_node *n = avl_find(&r->services, key);
	struct proxy_rendered *old = n ? avl_entry(n, struct proxy_rendered, node) : NULL;
	struct proxy_rendered *nx = xnew(struct proxy_rendered, 1);
	if (svc && svc->cluster_ip)
		for (size_t i = 0; i < svc->nports; i++)
			render_port(r, svc, &svc->ports[i], slices, nslices, nx);
	settle_claims(r, key, old, nx);

	size_t before = out->len;
	emit_diff(r->table, old, nx, out);
	if (old) {
		avl_remove(&r->services, &old->node);
		rendered_release(old);
		free(old);
	}
	if (nx->nchains || nx->nsets || nx->nelems) {
		nx->key = xstrdup(key);
		avl_insert(&r->services, nx->key, &nx->node);
	} else {
		rendered_release(nx);
		free(nx);
	}
	return out->len > before;
}
