/* SPDX-License-Identifier: Apache-2.0 */
#include <arpa/inet.h>
#include <pthread.h>

#include "apiserver/alloc.h"
#include "apiserver/cache.h"
#include "apiserver/resource.h"
#include "lib/json.h"
#include "lib/random.h"

struct allocators {
	pthread_mutex_t mu;
	char *cidr;
	uint32_t base;  /* network address, host order */
	uint32_t size;  /* addresses in the range */
	uint8_t *ips;   /* bitmap */
	int port_min, port_max;
	uint8_t *ports; /* bitmap over [min, max] */
};

static bool bit(const uint8_t *m, uint32_t i)
{
	return m[i / 8] & (1u << (i % 8));
}

static void set_bit(uint8_t *m, uint32_t i, bool v)
{
	if (v)
		m[i / 8] |= (uint8_t)(1u << (i % 8));
	else
		m[i / 8] &= (uint8_t)~(1u << (i % 8));
}

static int ip_index(struct allocators *a, const char *ip, uint32_t *ret)
{
	struct in_addr in;
	if (inet_pton(AF_INET, ip, &in) != 1)
		return -EINVAL;
	uint32_t h = ntohl(in.s_addr);
	if (h <= a->base || h >= a->base + a->size - 1)
		return -ERANGE; /* network and broadcast addresses are not handed out */
	*ret = h - a->base;
	return 0;
}

void alloc_nth_ip(struct allocators *a, uint32_t n, char *out)
{
	struct in_addr in = { .s_addr = htonl(a->base + n) };
	inet_ntop(AF_INET, &in, out, 16);
}

const char *alloc_cidr(struct allocators *a)
{
	return a->cidr;
}

int alloc_ip(struct allocators *a, const char *ip, char *out)
{
	uint32_t idx;
	int r = 0;
	pthread_mutex_lock(&a->mu);
	if (ip && *ip) {
		r = ip_index(a, ip, &idx);
		if (r == 0 && bit(a->ips, idx))
			r = -EEXIST;
	} else {
		/* Random start, then linear probe; the first addresses (.1 for the
		 * kubernetes Service, .10 for DNS) are only taken when asked for. */
		uint32_t usable = a->size - 2, start;
		random_bytes(&start, sizeof(start));
		r = -ENOSPC;
		for (uint32_t k = 0; k < usable; k++) {
			idx = 1 + (start + k) % usable;
			if (idx <= 10 && usable > 64)
				continue;
			if (!bit(a->ips, idx)) {
				r = 0;
				break;
			}
		}
	}
	if (r == 0) {
		set_bit(a->ips, idx, true);
		alloc_nth_ip(a, idx, out);
	}
	pthread_mutex_unlock(&a->mu);
	return r;
}

void alloc_release_ip(struct allocators *a, const char *ip)
{
	uint32_t idx;
	if (!ip || ip_index(a, ip, &idx) < 0)
		return;
	pthread_mutex_lock(&a->mu);
	set_bit(a->ips, idx, false);
	pthread_mutex_unlock(&a->mu);
}

int alloc_port(struct allocators *a, int port, int *out)
{
	int r = 0, n = a->port_max - a->port_min + 1;
	uint32_t idx = 0;
	pthread_mutex_lock(&a->mu);
	if (port) {
		if (port < a->port_min || port > a->port_max)
			r = -ERANGE;
		else if (bit(a->ports, (uint32_t)(port - a->port_min)))
			r = -EEXIST;
		else
			idx = (uint32_t)(port - a->port_min);
	} else {
		uint32_t start;
		random_bytes(&start, sizeof(start));
		r = -ENOSPC;
		for (int k = 0; k < n; k++) {
			idx = (start + (uint32_t)k) % (uint32_t)n;
			if (!bit(a->ports, idx)) {
				r = 0;
				break;
			}
		}
	}
	if (r == 0) {
		set_bit(a->ports, idx, true);
		*out = a->port_min + (int)idx;
	}
	pthread_mutex_unlock(&a->mu);
	return r;
}

void alloc_release_port(struct allocators *a, int port)
{
	if (port < a->port_min || port > a->port_max)
		return;
	pthread_mutex_lock(&a->mu);
	set_bit(a->ports, (uint32_t)(port - a->port_min), false);
	pthread_mutex_unlock(&a->mu);
}

void alloc_port_range(struct allocators *a, int *min, int *max)
{
	*min = a->port_min;
	*max = a->port_max;
}

int alloc_open(const char *cidr, int port_min, int port_max, struct cache *cache,
	       struct allocators **ret)
{
	char addr[64];
	const char *slash = strchr(cidr, '/');
	struct in_addr in;
	if (!slash || (size_t)(slash - cidr) >= sizeof(addr))
		return -EINVAL;
	memcpy(addr, cidr, (size_t)(slash - cidr));
	addr[slash - cidr] = 0;
	int bits = atoi(slash + 1);
	if (inet_pton(AF_INET, addr, &in) != 1 || bits < 12 || bits > 28 || port_min < 1 ||
	    port_max > 65535 || port_min > port_max)
		return -EINVAL;

	struct allocators *a = xnew(struct allocators, 1);
	pthread_mutex_init(&a->mu, NULL);
	a->cidr = xstrdup(cidr);
	a->size = 1u << (32 - bits);
	a->base = ntohl(in.s_addr) & ~(a->size - 1);
	a->ips = xcalloc(a->size / 8 + 1, 1);
	a->port_min = port_min;
	a->port_max = port_max;
	a->ports = xcalloc((size_t)(port_max - port_min) / 8 + 1, 1);

	const struct resource *svc = resource_find("", "v1", "services");
	struct obj_filter all = { 0 };
	struct obj_list l;
	cache_list(cache, svc, &all, NULL, 0, &l);
	for (size_t i = 0; i < l.n; i++) {
		_cleanup_json_ json_t *s = obj_parse(l.items[i]);
		char out[16];
		int port;
		const char *ip = json_get_str(s, "spec.clusterIP");
		if (!isempty(ip) && !streq(ip, "None"))
			alloc_ip(a, ip, out);
		size_t k;
		json_t *p;
		json_array_foreach(json_get(s, "spec.ports"), k, p)
		{
			int np = (int)json_get_int(p, "nodePort", 0);
			if (np)
				alloc_port(a, np, &port);
		}
	}
	obj_list_release(&l);
	*ret = a;
	return 0;
}

void alloc_close(struct allocators *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->mu);
	free(a->cidr);
	free(a->ips);
	free(a->ports);
	free(a);
}
