/* SPDX-License-Identifier: Apache-2.0 */
/* The cluster DNS index and answers: see dns_db.h. */
#include <arpa/inet.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "lib/macro.h"
#include "net/dns_db.h"

/* ---- a small string-keyed hash map ---- */

struct hent {
	struct hent *next;
	uint32_t hash;
	size_t klen;
	void *val;
	char key[]; /* klen bytes, NUL-terminated */
};

struct hmap {
	struct hent **b;
	size_t nb, n;
};

static uint32_t hash_bytes(const void *p, size_t n)
{
	const uint8_t *s = p;
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 16777619u;
	return h;
}

static struct hent **hm_find(struct hmap *m, const void *key, size_t klen, uint32_t h)
{
	if (!m->nb)
		return NULL;
	struct hent **pp = &m->b[h & (m->nb - 1)];
	for (; *pp; pp = &(*pp)->next)
		if ((*pp)->hash == h && (*pp)->klen == klen && memcmp((*pp)->key, key, klen) == 0)
			return pp;
	return pp;
}

static void *hm_get(struct hmap *m, const void *key, size_t klen)
{
	struct hent **pp = hm_find(m, key, klen, hash_bytes(key, klen));
	return pp && *pp ? (*pp)->val : NULL;
}

static void hm_grow(struct hmap *m)
{
	size_t nb = m->nb ? m->nb * 2 : 64;
	struct hent **b = xnew(struct hent *, nb);
	for (size_t i = 0; i < m->nb; i++) {
		for (struct hent *e = m->b[i], *next; e; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

/* Set key to val; returns the previous value (or NULL). */
static void *hm_put(struct hmap *m, const void *key, size_t klen, void *val)
{
	uint32_t h = hash_bytes(key, klen);
	struct hent **pp = hm_find(m, key, klen, h);
	if (pp && *pp) {
		void *old = (*pp)->val;
		(*pp)->val = val;
		return old;
	}
	if (m->n + 1 > m->nb) {
		hm_grow(m);
		pp = hm_find(m, key, klen, h);
	}
	struct hent *e = xmalloc(sizeof(*e) + klen + 1);
	e->next = NULL;
	e->hash = h;
	e->klen = klen;
	e->val = val;
	memcpy(e->key, key, klen);
	e->key[klen] = 0;
	*pp = e;
	m->n++;
	return NULL;
}

static void *hm_del(struct hmap *m, const void *key, size_t klen)
{
	struct hent **pp = hm_find(m, key, klen, hash_bytes(key, klen));
	if (!pp || !*pp)
		return NULL;
	struct hent *e = *pp;
	void *val = e->val;
	*pp = e->next;
	free(e);
	m->n--;
	return val;
}

static void hm_release(struct hmap *m, void (*free_val)(void *))
{
	for (size_t i = 0; i < m->nb; i++) {
		for (struct hent *e = m->b[i], *next; e; e = next) {
			next = e->next;
			if (free_val)
				free_val(e->val);
			free(e);
		}
	}
	free(m->b);
	*m = (struct hmap){ 0 };
}

/* ---- API objects ---- */

bool dns_ip_parse(const char *s, struct dns_ip *ret)
{
	memset(ret, 0, sizeof(*ret));
	if (inet_pton(AF_INET, s, ret->addr) == 1) {
		ret->family = AF_INET;
		return true;
	}
	if (inet_pton(AF_INET6, s, ret->addr) == 1) {
		ret->family = AF_INET6;
		return true;
	}
	return false;
}

static size_t ip_len(const struct dns_ip *ip)
{
	return ip->family == AF_INET6 ? 16 : 4;
}

static bool ip_eq(const struct dns_ip *a, const struct dns_ip *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, ip_len(a)) == 0;
}

static char *lower_dup(const char *s)
{
	char *r = xstrdup(s ? s : "");
	for (char *p = r; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	return r;
}

static const char *jstr(json_t *o, const char *key)
{
	const char *s = json_string_value(json_object_get(o, key));
	return s ? s : "";
}

static void ports_from_json(json_t *arr, struct dns_port **ret, size_t *ret_n)
{
	size_t n = json_array_size(arr), k = 0;
	struct dns_port *p = n ? xnew(struct dns_port, n) : NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_array_get(arr, i);
		json_t *port = json_object_get(o, "port");
		if (!json_is_integer(port))
			continue;
		const char *proto = jstr(o, "protocol");
		p[k].name = lower_dup(jstr(o, "name"));
		p[k].protocol = lower_dup(*proto ? proto : "TCP");
		p[k].port = (int)json_integer_value(port);
		k++;
	}
	*ret = p;
	*ret_n = k;
}

static void ports_free(struct dns_port *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(p[i].name);
		free(p[i].protocol);
	}
	free(p);
}

struct dns_service *dns_service_from_json(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata"), *spec = json_object_get(obj, "spec");
	const char *name = jstr(meta, "name");
	if (!*name)
		return NULL;
	struct dns_service *s = xnew(struct dns_service, 1);
	s->ns = lower_dup(jstr(meta, "namespace"));
	s->name = lower_dup(name);
	if (streq(jstr(spec, "type"), "ExternalName")) {
		const char *ext = jstr(spec, "externalName");
		s->external_name = xstrdup(ext);
		return s;
	}
	const char *cip = jstr(spec, "clusterIP");
	s->headless = streq(cip, "None");
	json_t *ips = json_object_get(spec, "clusterIPs");
	size_t n = json_array_size(ips);
	s->ips = xnew(struct dns_ip, n + 1);
	for (size_t i = 0; i < n; i++)
		if (dns_ip_parse(json_string_value(json_array_get(ips, i)) ?: "", &s->ips[s->nips]))
			s->nips++;
	if (s->nips == 0 && dns_ip_parse(cip, &s->ips[0]))
		s->nips = 1;
	ports_from_json(json_object_get(spec, "ports"), &s->ports, &s->nports);
	return s;
}

struct dns_slice *dns_slice_from_json(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *name = jstr(meta, "name");
	if (!*name)
		return NULL;
	struct dns_slice *s = xnew(struct dns_slice, 1);
	s->ns = lower_dup(jstr(meta, "namespace"));
	s->name = xstrdup(name);
	s->service = lower_dup(jstr(json_object_get(meta, "labels"), "kubernetes.io/service-name"));
	const char *type = jstr(obj, "addressType");
	if (!streq(type, "IPv4") && !streq(type, "IPv6"))
		return s; /* FQDN slices carry no addresses DNS can serve */
	json_t *eps = json_object_get(obj, "endpoints");
	size_t n = json_array_size(eps);
	s->eps = n ? xnew(struct dns_endpoint, n) : NULL;
	for (size_t i = 0; i < n; i++) {
		json_t *e = json_array_get(eps, i), *addrs = json_object_get(e, "addresses");
		struct dns_endpoint *d = &s->eps[s->neps];
		size_t na = json_array_size(addrs);
		d->addrs = xnew(struct dns_ip, na + 1);
		for (size_t j = 0; j < na; j++)
			if (dns_ip_parse(json_string_value(json_array_get(addrs, j)) ?: "",
					 &d->addrs[d->naddrs]))
				d->naddrs++;
		json_t *ready = json_object_get(json_object_get(e, "conditions"), "ready");
		d->ready = !json_is_false(ready);
		const char *h = jstr(e, "hostname");
		d->hostname = *h ? lower_dup(h) : NULL;
		s->neps++;
	}
	ports_from_json(json_object_get(obj, "ports"), &s->ports, &s->nports);
	return s;
}

void dns_service_free(struct dns_service *s)
{
	if (!s)
		return;
	free(s->ns);
	free(s->name);
	free(s->external_name);
	free(s->ips);
	ports_free(s->ports, s->nports);
	free(s);
}

void dns_slice_free(struct dns_slice *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->neps; i++) {
		free(s->eps[i].addrs);
		free(s->eps[i].hostname);
	}
	free(s->eps);
	free(s->ns);
	free(s->name);
	free(s->service);
	ports_free(s->ports, s->nports);
	free(s);
}

void dns_service_free_v(void *s)
{
	dns_service_free(s);
}

void dns_slice_free_v(void *s)
{
	dns_slice_free(s);
}

static void ports_copy(const struct dns_port *p, size_t n, struct dns_port **ret)
{
	*ret = n ? xnew(struct dns_port, n) : NULL;
	for (size_t i = 0; i < n; i++) {
		(*ret)[i].name = lower_dup(p[i].name);
		(*ret)[i].protocol = lower_dup(p[i].protocol ? p[i].protocol : "tcp");
		(*ret)[i].port = p[i].port;
	}
}

static struct dns_service *service_copy(const struct dns_service *s)
{
	struct dns_service *c = xnew(struct dns_service, 1);
	c->ns = lower_dup(s->ns);
	c->name = lower_dup(s->name);
	c->headless = s->headless;
	c->external_name = s->external_name ? xstrdup(s->external_name) : NULL;
	c->ips = s->nips ? xmemdup(s->ips, s->nips * sizeof(*s->ips)) : NULL;
	c->nips = s->nips;
	ports_copy(s->ports, s->nports, &c->ports);
	c->nports = s->nports;
	return c;
}

static struct dns_slice *slice_copy(const struct dns_slice *s)
{
	struct dns_slice *c = xnew(struct dns_slice, 1);
	c->ns = lower_dup(s->ns);
	c->name = xstrdup(s->name);
	c->service = lower_dup(s->service);
	c->eps = s->neps ? xnew(struct dns_endpoint, s->neps) : NULL;
	c->neps = s->neps;
	for (size_t i = 0; i < s->neps; i++) {
		const struct dns_endpoint *e = &s->eps[i];
		c->eps[i].addrs =
		    e->naddrs ? xmemdup(e->addrs, e->naddrs * sizeof(*e->addrs)) : NULL;
		c->eps[i].naddrs = e->naddrs;
		c->eps[i].hostname = e->hostname ? lower_dup(e->hostname) : NULL;
		c->eps[i].ready = e->ready;
	}
	ports_copy(s->ports, s->nports, &c->ports);
	c->nports = s->nports;
	return c;
}

/* ---- the index ---- */

struct host {
	char *label; /* the endpoint's hostname (or its dashed address) */
	struct dns_name fqdn;
	struct dns_ip *addrs;
	size_t naddrs;
};

struct srv {
	char *port;  /* "_http" */
	char *proto; /* "_tcp" */
	uint16_t num;
	const struct dns_name *target; /* the service's or a host's fqdn */
	const struct dns_ip *addrs;    /* the target's addresses (additional section) */
	size_t naddrs;
};

struct ptr_pair {
	struct dns_ip ip;
	struct dns_name *name; /* owned by the entry (fqdn or a host's) */
};

struct svc_entry {
	char *key; /* "ns/name" */
	char *ns;
	struct dns_service *svc; /* NULL while only slices name it */
	struct dns_slice **slices;
	size_t nslices;
	/* derived */
	struct dns_name fqdn;
	bool has_cname;
	struct dns_name cname;
	struct dns_ip *addrs;
	size_t naddrs;
	struct host *hosts; /* sorted by label */
	size_t nhosts;
	struct srv *srvs;
	size_t nsrvs;
	struct ptr_pair *ptrs;
	size_t nptrs;
};

struct ptr_list {
	struct dns_name **names;
	size_t n;
};

struct dns_db {
	pthread_rwlock_t lock;
	char *zone_str;
	struct dns_name zone, soa_mname, soa_rname, version_name;
	uint32_t ttl;
	uint32_t serial;
	struct hmap services;	/* "ns/name" -> svc_entry */
	struct hmap slices;	/* "ns/slice" -> dns_slice */
	struct hmap namespaces; /* "ns" -> number of services (as a pointer) */
	struct hmap ptrs;	/* address bytes -> ptr_list */
	atomic_uint rotate;
};

struct dns_db *dns_db_new(const char *zone, uint32_t ttl)
{
	struct dns_db *db = xnew(struct dns_db, 1);
	pthread_rwlockattr_t a;
	pthread_rwlockattr_init(&a);
	pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&db->lock, &a);
	pthread_rwlockattr_destroy(&a);
	db->zone_str = lower_dup(zone && *zone ? zone : "cluster.local");
	size_t l = strlen(db->zone_str);
	if (l > 1 && db->zone_str[l - 1] == '.')
		db->zone_str[l - 1] = 0;
	if (dns_name_from_str(db->zone_str, &db->zone) < 0) {
		free(db->zone_str);
		db->zone_str = xstrdup("cluster.local");
		dns_name_from_str(db->zone_str, &db->zone);
	}
	_cleanup_free_ char *m = xasprintf("ns.dns.%s", db->zone_str);
	_cleanup_free_ char *r = xasprintf("hostmaster.%s", db->zone_str);
	_cleanup_free_ char *v = xasprintf("dns-version.%s", db->zone_str);
	/* a zone near the name length limit falls back to the zone itself */
	if (dns_name_from_str(m, &db->soa_mname) < 0)
		db->soa_mname = db->zone;
	if (dns_name_from_str(r, &db->soa_rname) < 0)
		db->soa_rname = db->zone;
	if (dns_name_from_str(v, &db->version_name) < 0)
		db->version_name = db->zone;
	db->ttl = ttl;
	db->serial = (uint32_t)time(NULL);
	return db;
}

static void ptr_list_free(void *p)
{
	struct ptr_list *l = p;
	free(l->names);
	free(l);
}

static void entry_clear_derived(struct dns_db *db, struct svc_entry *e)
{
	for (size_t i = 0; i < e->nptrs; i++) {
		struct ptr_pair *pp = &e->ptrs[i];
		struct ptr_list *l = db ? hm_get(&db->ptrs, pp->ip.addr, ip_len(&pp->ip)) : NULL;
		if (!l)
			continue;
		for (size_t j = 0; j < l->n; j++) {
			if (l->names[j] == pp->name) {
				l->names[j] = l->names[--l->n];
				break;
			}
		}
		if (l->n == 0)
			ptr_list_free(hm_del(&db->ptrs, pp->ip.addr, ip_len(&pp->ip)));
	}
	free(e->ptrs);
	e->ptrs = NULL;
	e->nptrs = 0;
	for (size_t i = 0; i < e->nhosts; i++) {
		free(e->hosts[i].label);
		free(e->hosts[i].addrs);
	}
	free(e->hosts);
	e->hosts = NULL;
	e->nhosts = 0;
	for (size_t i = 0; i < e->nsrvs; i++) {
		free(e->srvs[i].port);
		free(e->srvs[i].proto);
	}
	free(e->srvs);
	e->srvs = NULL;
	e->nsrvs = 0;
	free(e->addrs);
	e->addrs = NULL;
	e->naddrs = 0;
	e->has_cname = false;
}

static void entry_free(void *p)
{
	struct svc_entry *e = p;
	entry_clear_derived(NULL, e);
	dns_service_free(e->svc);
	free(e->slices);
	free(e->key);
	free(e->ns);
	free(e);
}

void dns_db_free(struct dns_db *db)
{
	if (!db)
		return;
	hm_release(&db->services, entry_free);
	hm_release(&db->slices, dns_slice_free_v);
	hm_release(&db->namespaces, NULL);
	hm_release(&db->ptrs, ptr_list_free);
	pthread_rwlock_destroy(&db->lock);
	free(db->zone_str);
	free(db);
}

static void add_addr(struct dns_ip **v, size_t *n, const struct dns_ip *ip)
{
	for (size_t i = 0; i < *n; i++)
		if (ip_eq(&(*v)[i], ip))
			return;
	*v = xrealloc(*v, (*n + 1) * sizeof(**v));
	(*v)[(*n)++] = *ip;
}

/* "10-1-2-3" (IPv4) or the IPv6 text with ':' as '-'. */
static void dashed(const struct dns_ip *ip, char *buf, size_t size)
{
	inet_ntop(ip->family, ip->addr, buf, (socklen_t)size);
	for (char *p = buf; *p; p++)
		if (*p == '.' || *p == ':')
			*p = '-';
}

static int host_cmp(const void *a, const void *b)
{
	return strcmp(((const struct host *)a)->label, ((const struct host *)b)->label);
}

static struct host *find_host(struct svc_entry *e, const char *label)
{
	struct host key = { .label = (char *)label };
	if (!e->nhosts)
		return NULL;
	return bsearch(&key, e->hosts, e->nhosts, sizeof(*e->hosts), host_cmp);
}

static void add_ptr(struct dns_db *db, struct svc_entry *e, const struct dns_ip *ip,
		    struct dns_name *name)
{
	e->ptrs = xrealloc(e->ptrs, (e->nptrs + 1) * sizeof(*e->ptrs));
	e->ptrs[e->nptrs++] = (struct ptr_pair){ .ip = *ip, .name = name };
	struct ptr_list *l = hm_get(&db->ptrs, ip->addr, ip_len(ip));
	if (!l) {
		l = xnew(struct ptr_list, 1);
		hm_put(&db->ptrs, ip->addr, ip_len(ip), l);
	}
	l->names = xrealloc(l->names, (l->n + 1) * sizeof(*l->names));
	l->names[l->n++] = name;
}

static void add_srv(struct svc_entry *e, const struct dns_port *p, const struct dns_name *target,
		    const struct dns_ip *addrs, size_t naddrs)
{
	for (size_t i = 0; i < e->nsrvs; i++)
		if (e->srvs[i].target == target && e->srvs[i].num == p->port &&
		    streq(e->srvs[i].port + 1, p->name) && streq(e->srvs[i].proto + 1, p->protocol))
			return;
	e->srvs = xrealloc(e->srvs, (e->nsrvs + 1) * sizeof(*e->srvs));
	e->srvs[e->nsrvs++] = (struct srv){
		.port = xasprintf("_%s", p->name),
		.proto = xasprintf("_%s", p->protocol),
		.num = (uint16_t)p->port,
		.target = target,
		.addrs = addrs,
		.naddrs = naddrs,
	};
}

/* Rebuild what e answers with from its Service and slices. */
static void entry_derive(struct dns_db *db, struct svc_entry *e)
{
	entry_clear_derived(db, e);
	struct dns_service *s = e->svc;
	if (!s)
		return;
	_cleanup_free_ char *fq = xasprintf("%s.%s.svc.%s", s->name, s->ns, db->zone_str);
	if (dns_name_from_str(fq, &e->fqdn) < 0)
		return; /* too long a name: not served */
	if (s->external_name) {
		e->has_cname =
		    dns_name_from_str(s->external_name, &e->cname) == 0 && e->cname.nlabels > 0;
		return;
	}
	if (!s->headless) {
		for (size_t i = 0; i < s->nips; i++) {
			add_addr(&e->addrs, &e->naddrs, &s->ips[i]);
			add_ptr(db, e, &s->ips[i], &e->fqdn);
		}
		for (size_t i = 0; i < s->nports; i++)
			if (*s->ports[i].name)
				add_srv(e, &s->ports[i], &e->fqdn, e->addrs, e->naddrs);
		return;
	}
	/* headless: the ready endpoints, by host name */
	for (size_t i = 0; i < e->nslices; i++) {
		struct dns_slice *sl = e->slices[i];
		for (size_t j = 0; j < sl->neps; j++) {
			struct dns_endpoint *ep = &sl->eps[j];
			if (!ep->ready || ep->naddrs == 0)
				continue;
			char buf[INET6_ADDRSTRLEN];
			const char *label = ep->hostname;
			if (!label) {
				dashed(&ep->addrs[0], buf, sizeof(buf));
				label = buf;
			}
			struct host *h = NULL;
			for (size_t k = 0; k < e->nhosts; k++)
				if (streq(e->hosts[k].label, label))
					h = &e->hosts[k];
			if (!h) {
				e->hosts = xrealloc(e->hosts, (e->nhosts + 1) * sizeof(*e->hosts));
				h = &e->hosts[e->nhosts++];
				*h = (struct host){ .label = xstrdup(label) };
			}
			for (size_t k = 0; k < ep->naddrs; k++) {
				add_addr(&e->addrs, &e->naddrs, &ep->addrs[k]);
				add_addr(&h->addrs, &h->naddrs, &ep->addrs[k]);
			}
		}
	}
	if (e->nhosts)
		qsort(e->hosts, e->nhosts, sizeof(*e->hosts), host_cmp);
	/* names, PTRs and SRVs once the host array no longer moves */
	for (size_t k = 0; k < e->nhosts; k++) {
		struct host *h = &e->hosts[k];
		_cleanup_free_ char *hn = xasprintf("%s.%s", h->label, fq);
		if (dns_name_from_str(hn, &h->fqdn) < 0) {
			h->fqdn = e->fqdn;
			continue;
		}
		for (size_t i = 0; i < h->naddrs; i++)
			add_ptr(db, e, &h->addrs[i], &h->fqdn);
	}
	for (size_t i = 0; i < e->nslices; i++) {
		struct dns_slice *sl = e->slices[i];
		for (size_t p = 0; p < sl->nports; p++) {
			if (!*sl->ports[p].name)
				continue;
			for (size_t j = 0; j < sl->neps; j++) {
				struct dns_endpoint *ep = &sl->eps[j];
				if (!ep->ready || ep->naddrs == 0)
					continue;
				char buf[INET6_ADDRSTRLEN];
				const char *label = ep->hostname;
				if (!label) {
					dashed(&ep->addrs[0], buf, sizeof(buf));
					label = buf;
				}
				struct host *h = find_host(e, label);
				if (h)
					add_srv(e, &sl->ports[p], &h->fqdn, h->addrs, h->naddrs);
			}
		}
	}
}

static struct svc_entry *entry_get(struct dns_db *db, const char *ns, const char *name, bool create)
{
	_cleanup_free_ char *key = xasprintf("%s/%s", ns, name);
	struct svc_entry *e = hm_get(&db->services, key, strlen(key));
	if (e || !create)
		return e;
	e = xnew(struct svc_entry, 1);
	e->key = TAKE_PTR(key);
	e->ns = xstrdup(ns);
	hm_put(&db->services, e->key, strlen(e->key), e);
	return e;
}

static void entry_maybe_drop(struct dns_db *db, struct svc_entry *e)
{
	if (e->svc || e->nslices)
		return;
	hm_del(&db->services, e->key, strlen(e->key));
	entry_clear_derived(db, e);
	entry_free(e);
}

static void ns_count(struct dns_db *db, const char *ns, int delta)
{
	intptr_t n = (intptr_t)hm_get(&db->namespaces, ns, strlen(ns)) + delta;
	if (n <= 0)
		hm_del(&db->namespaces, ns, strlen(ns));
	else
		hm_put(&db->namespaces, ns, strlen(ns), (void *)n);
}

static void bump_serial(struct dns_db *db)
{
	uint32_t now = (uint32_t)time(NULL);
	db->serial = now > db->serial ? now : db->serial + 1;
}

void dns_db_set_service(struct dns_db *db, const struct dns_service *s)
{
	struct dns_service *c = service_copy(s);
	pthread_rwlock_wrlock(&db->lock);
	struct svc_entry *e = entry_get(db, c->ns, c->name, true);
	if (!e->svc)
		ns_count(db, c->ns, +1);
	dns_service_free(e->svc);
	e->svc = c;
	entry_derive(db, e);
	bump_serial(db);
	pthread_rwlock_unlock(&db->lock);
}

void dns_db_del_service(struct dns_db *db, const char *ns, const char *name)
{
	_cleanup_free_ char *lns = lower_dup(ns), *lname = lower_dup(name);
	pthread_rwlock_wrlock(&db->lock);
	struct svc_entry *e = entry_get(db, lns, lname, false);
	if (e && e->svc) {
		ns_count(db, lns, -1);
		dns_service_free(e->svc);
		e->svc = NULL;
		entry_derive(db, e);
		entry_maybe_drop(db, e);
		bump_serial(db);
	}
	pthread_rwlock_unlock(&db->lock);
}

static void slice_detach(struct dns_db *db, struct dns_slice *sl)
{
	struct svc_entry *e = entry_get(db, sl->ns, sl->service, false);
	if (!e)
		return;
	for (size_t i = 0; i < e->nslices; i++) {
		if (e->slices[i] == sl) {
			e->slices[i] = e->slices[--e->nslices];
			break;
		}
	}
	entry_derive(db, e);
	entry_maybe_drop(db, e);
}

void dns_db_set_slice(struct dns_db *db, const struct dns_slice *s)
{
	struct dns_slice *c = slice_copy(s);
	_cleanup_free_ char *key = xasprintf("%s/%s", c->ns, c->name);
	pthread_rwlock_wrlock(&db->lock);
	struct dns_slice *old = hm_put(&db->slices, key, strlen(key), c);
	if (old) {
		slice_detach(db, old);
		dns_slice_free(old);
	}
	if (*c->service) {
		struct svc_entry *e = entry_get(db, c->ns, c->service, true);
		e->slices = xrealloc(e->slices, (e->nslices + 1) * sizeof(*e->slices));
		e->slices[e->nslices++] = c;
		entry_derive(db, e);
	}
	bump_serial(db);
	pthread_rwlock_unlock(&db->lock);
}

void dns_db_del_slice(struct dns_db *db, const char *ns, const char *name)
{
	_cleanup_free_ char *lns = lower_dup(ns);
	_cleanup_free_ char *key = xasprintf("%s/%s", lns, name);
	pthread_rwlock_wrlock(&db->lock);
	struct dns_slice *old = hm_del(&db->slices, key, strlen(key));
	if (old) {
		slice_detach(db, old);
		dns_slice_free(old);
		bump_serial(db);
	}
	pthread_rwlock_unlock(&db->lock);
}

size_t dns_db_service_count(struct dns_db *db)
{
	size_t n = 0;
	pthread_rwlock_rdlock(&db->lock);
	for (size_t i = 0; i < db->services.nb; i++)
		for (struct hent *e = db->services.b[i]; e; e = e->next)
			n += ((struct svc_entry *)e->val)->svc != NULL;
	pthread_rwlock_unlock(&db->lock);
	return n;
}

/* ---- answers ---- */

enum found { NX, NODATA, FOUND };

/* Label i of n in lower case into buf (64 bytes); its length, or -1 when
 * it holds a byte no Kubernetes name has (so it cannot match). */
static int label_lower(const struct dns_name *n, unsigned i, char *buf)
{
	uint8_t l;
	const uint8_t *b = dns_name_label(n, i, &l);
	for (unsigned j = 0; j < l; j++) {
		uint8_t c = b[j];
		if (c == 0 || c == '.' || c == '/')
			return -1;
		buf[j] = (char)tolower(c);
	}
	buf[l] = 0;
	return l;
}

static bool want(uint16_t qtype, uint16_t type)
{
	return qtype == type || qtype == DNS_T_ANY;
}

/* Address records of addrs for owner (A and/or AAAA as asked), rotated by
 * rot. FOUND when at least one matched, else NODATA. */
static enum found put_addrs(struct dns_writer *w, enum dns_section s, const struct dns_name *owner,
			    uint32_t ttl, uint16_t qtype, const struct dns_ip *addrs, size_t n,
			    unsigned rot)
{
	enum found f = NODATA;
	for (size_t k = 0; k < n; k++) {
		const struct dns_ip *ip = &addrs[(k + rot) % n];
		uint16_t t = ip->family == AF_INET6 ? DNS_T_AAAA : DNS_T_A;
		if (!want(qtype, t))
			continue;
		f = FOUND;
		if (!dns_put_addr(w, s, owner, ttl, ip->family, ip->addr))
			break;
	}
	return f;
}

static enum found answer_zone(struct dns_db *db, struct dns_writer *w, const struct dns_name *qn,
			      uint16_t qtype, int depth);

/* A CNAME target outside the zone, for the server to resolve upstream. */
static _Thread_local struct {
	bool set;
	struct dns_name target;
} chase_out;

/* Follow a CNAME to target inside the zone (bounded); one outside is left
 * to the caller (chase_out). */
static void chase(struct dns_db *db, struct dns_writer *w, const struct dns_name *target,
		  uint16_t qtype, int depth)
{
	if (qtype == DNS_T_CNAME || depth > 8)
		return;
	if (!dns_name_has_suffix(target, &db->zone)) {
		chase_out.set = true;
		chase_out.target = *target;
		return;
	}
	answer_zone(db, w, target, qtype, depth + 1);
}

static enum found answer_service(struct dns_db *db, struct dns_writer *w, const struct dns_name *qn,
				 uint16_t qtype, unsigned rel, int depth)
{
	char svc[64], ns[64], l0[64], l1[64];
	if (label_lower(qn, rel - 3, svc) < 0 || label_lower(qn, rel - 2, ns) < 0)
		return NX;
	char key[130];
	snprintf(key, sizeof(key), "%s/%s", ns, svc);
	struct svc_entry *e = hm_get(&db->services, key, strlen(key));
	if (!e || !e->svc)
		return NX;
	unsigned rot = atomic_fetch_add_explicit(&db->rotate, 1, memory_order_relaxed);

	if (rel == 3) { /* SERVICE.NS.svc.ZONE */
		if (e->svc->external_name) {
			if (!e->has_cname)
				return NODATA;
			if (!dns_put_name_rr(w, DNS_S_ANSWER, qn, DNS_T_CNAME, db->ttl, &e->cname))
				return FOUND;
			chase(db, w, &e->cname, qtype, depth);
			return FOUND;
		}
		if (e->svc->headless && e->naddrs == 0)
			return NX; /* the specification: no ready endpoints */
		return put_addrs(w, DNS_S_ANSWER, qn, db->ttl, qtype, e->addrs, e->naddrs, rot);
	}
	if (e->svc->external_name)
		return NX;
	int n0 = label_lower(qn, 0, l0);
	if (n0 < 0)
		return NX;
	if (rel == 4) {
		if (l0[0] == '_') { /* _PROTO.SERVICE...: exists when some SRV uses it */
			for (size_t i = 0; i < e->nsrvs; i++)
				if (streq(e->srvs[i].proto, l0))
					return NODATA;
			return NX;
		}
		struct host *h = find_host(e, l0);
		if (!h)
			return NX;
		return put_addrs(w, DNS_S_ANSWER, qn, db->ttl, qtype, h->addrs, h->naddrs, rot);
	}
	if (rel != 5 || l0[0] != '_' || label_lower(qn, 1, l1) < 0 || l1[0] != '_')
		return NX;
	/* _PORT._PROTO.SERVICE.NS.svc.ZONE */
	size_t first = SIZE_MAX, count = 0;
	for (size_t i = 0; i < e->nsrvs; i++) {
		if (streq(e->srvs[i].port, l0) && streq(e->srvs[i].proto, l1)) {
			if (first == SIZE_MAX)
				first = i;
			count++;
		}
	}
	if (!count)
		return NX;
	if (!want(qtype, DNS_T_SRV))
		return NODATA;
	uint16_t weight = (uint16_t)(100 / count ? 100 / count : 1);
	for (size_t i = first; i < e->nsrvs; i++) {
		struct srv *s = &e->srvs[i];
		if (streq(s->port, l0) && streq(s->proto, l1) &&
		    !dns_put_srv(w, DNS_S_ANSWER, qn, db->ttl, 0, weight, s->num, s->target))
			return FOUND;
	}
	/* the targets' addresses, as far as they fit (no TC for those) */
	bool overflow = w->overflow;
	const struct dns_name *last = NULL;
	for (size_t i = first; i < e->nsrvs; i++) {
		struct srv *s = &e->srvs[i];
		if (!streq(s->port, l0) || !streq(s->proto, l1) || s->target == last)
			continue;
		last = s->target;
		put_addrs(w, DNS_S_ADDITIONAL, s->target, db->ttl, DNS_T_ANY, s->addrs, s->naddrs,
			  0);
	}
	w->overflow = overflow;
	return FOUND;
}

/* A-B-C-D.NS.pod.ZONE */
static enum found answer_pod(struct dns_db *db, struct dns_writer *w, const struct dns_name *qn,
			     uint16_t qtype)
{
	char l[64];
	if (label_lower(qn, 0, l) < 0)
		return NX;
	unsigned a, b, c, d;
	char tail;
	if (sscanf(l, "%3u-%3u-%3u-%3u%c", &a, &b, &c, &d, &tail) != 4 || a > 255 || b > 255 ||
	    c > 255 || d > 255 || strspn(l, "0123456789-") != strlen(l))
		return NX;
	if (!want(qtype, DNS_T_A))
		return NODATA;
	uint8_t ip[4] = { (uint8_t)a, (uint8_t)b, (uint8_t)c, (uint8_t)d };
	dns_put_addr(w, DNS_S_ANSWER, qn, db->ttl, AF_INET, ip);
	return FOUND;
}

static enum found answer_zone(struct dns_db *db, struct dns_writer *w, const struct dns_name *qn,
			      uint16_t qtype, int depth)
{
	unsigned rel = qn->nlabels - db->zone.nlabels;
	char last[64];
	if (rel == 0) {
		if (want(qtype, DNS_T_SOA)) {
			dns_put_soa(w, DNS_S_ANSWER, qn, db->ttl, &db->soa_mname, &db->soa_rname,
				    db->serial, 7200, 1800, 86400, db->ttl);
			return FOUND;
		}
		return NODATA;
	}
	if (label_lower(qn, rel - 1, last) < 0)
		return NX;
	if (streq(last, "svc")) {
		if (rel == 1)
			return NODATA;
		if (rel == 2) {
			char ns[64];
			if (label_lower(qn, 0, ns) < 0)
				return NX;
			return hm_get(&db->namespaces, ns, strlen(ns)) ? NODATA : NX;
		}
		if (rel > 5)
			return NX;
		return answer_service(db, w, qn, qtype, rel, depth);
	}
	if (streq(last, "pod")) {
		if (rel <= 2)
			return NODATA;
		return rel == 3 ? answer_pod(db, w, qn, qtype) : NX;
	}
	if (rel == 1 && streq(last, "dns-version")) {
		if (!want(qtype, DNS_T_TXT))
			return NODATA;
		dns_put_txt(w, DNS_S_ANSWER, qn, db->ttl, "1.1.0");
		return FOUND;
	}
	return NX;
}

/* D.C.B.A.in-addr.arpa -> the address; false when qn is not one. */
static bool reverse_v4(const struct dns_name *qn, uint8_t ret[4])
{
	static const struct {
		uint8_t wire[14];
	} arpa = { { 7, 'i', 'n', '-', 'a', 'd', 'd', 'r', 4, 'a', 'r', 'p', 'a', 0 } };
	struct dns_name suffix = { .len = 14, .nlabels = 2, .off = { 0, 8 } };
	memcpy(suffix.wire, arpa.wire, sizeof(arpa.wire));
	if (qn->nlabels != 6 || !dns_name_has_suffix(qn, &suffix))
		return false;
	for (unsigned i = 0; i < 4; i++) {
		uint8_t l;
		const uint8_t *b = dns_name_label(qn, i, &l);
		unsigned v = 0;
		if (l == 0 || l > 3 || (l > 1 && b[0] == '0'))
			return false;
		for (unsigned j = 0; j < l; j++) {
			if (b[j] < '0' || b[j] > '9')
				return false;
			v = v * 10 + (unsigned)(b[j] - '0');
		}
		if (v > 255)
			return false;
		ret[3 - i] = (uint8_t)v;
	}
	return true;
}

static void put_negative(struct dns_db *db, struct dns_writer *w)
{
	dns_put_soa(w, DNS_S_AUTHORITY, &db->zone, db->ttl, &db->soa_mname, &db->soa_rname,
		    db->serial, 7200, 1800, 86400, db->ttl);
}

enum dns_result dns_db_answer(struct dns_db *db, const struct dns_query *q, uint8_t *out,
			      size_t limit, size_t *ret_len, struct dns_name *ret_target)
{
	struct dns_writer w;
	chase_out.set = false;
	if (q->qclass != DNS_C_IN && q->qclass != DNS_C_ANY) {
		*ret_len = dns_build_error(q, DNS_R_REFUSED, out, limit);
		return DNS_ANSWERED;
	}
	if (q->qtype == DNS_T_AXFR || q->qtype == DNS_T_IXFR) {
		*ret_len = dns_build_error(q, DNS_R_REFUSED, out, limit);
		return DNS_ANSWERED;
	}
	uint8_t ip[4];
	bool rev = reverse_v4(&q->qname, ip);
	if (!rev && !dns_name_has_suffix(&q->qname, &db->zone))
		return DNS_FORWARD;

	pthread_rwlock_rdlock(&db->lock);
	if (rev) {
		struct ptr_list *l = hm_get(&db->ptrs, ip, 4);
		if (!l) {
			pthread_rwlock_unlock(&db->lock);
			return DNS_FORWARD;
		}
		dns_writer_start(&w, out, limit, q, DNS_F_AA | DNS_F_RA);
		if (want(q->qtype, DNS_T_PTR))
			for (size_t i = 0; i < l->n; i++)
				if (!dns_put_name_rr(&w, DNS_S_ANSWER, &q->qname, DNS_T_PTR,
						     db->ttl, l->names[i]))
					break;
		pthread_rwlock_unlock(&db->lock);
		*ret_len = dns_finish(&w, DNS_R_NOERROR, w.overflow);
		return DNS_ANSWERED;
	}
	dns_writer_start(&w, out, limit, q, DNS_F_AA | DNS_F_RA);
	enum found f = answer_zone(db, &w, &q->qname, q->qtype, 0);
	bool tc = w.overflow;
	if (f != FOUND)
		put_negative(db, &w);
	pthread_rwlock_unlock(&db->lock);
	*ret_len = dns_finish(&w, f == NX ? DNS_R_NXDOMAIN : DNS_R_NOERROR, tc);
	if (chase_out.set && ret_target && !tc) {
		*ret_target = chase_out.target;
		return DNS_CHASE;
	}
	return DNS_ANSWERED;
}
