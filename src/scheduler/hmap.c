/* SPDX-License-Identifier: Apache-2.0 */
#include "scheduler/hmap.h"
#include "lib/macro.h"

void hmap_init(struct hmap *m)
{
	*m = (struct hmap){ 0 };
}

void hmap_release(struct hmap *m)
{
	free(m->buckets);
	*m = (struct hmap){ 0 };
}

/* FNV-1a, 64 bits. */
uint64_t hmap_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;
	for (; *s; s++) {
		h ^= (unsigned char)*s;
		h *= 1099511628211ULL;
	}
	return h;
}

static void grow(struct hmap *m)
{
	size_t nb = m->nbuckets ? m->nbuckets * 2 : 16;
	struct hmap_node **b = xnew(struct hmap_node *, nb);
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct hmap_node *n = m->buckets[i];
		while (n) {
			struct hmap_node *next = n->next;
			size_t j = n->hash & (nb - 1);
			n->next = b[j];
			b[j] = n;
			n = next;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
}

struct hmap_node *hmap_get(const struct hmap *m, const char *key)
{
	if (!m->nbuckets)
		return NULL;
	uint64_t h = hmap_hash(key);
	for (struct hmap_node *n = m->buckets[h & (m->nbuckets - 1)]; n; n = n->next)
		if (n->hash == h && streq(n->key, key))
			return n;
	return NULL;
}

void hmap_put(struct hmap *m, struct hmap_node *n, const char *key)
{
	if (m->count >= m->nbuckets)
		grow(m);
	n->key = key;
	n->hash = hmap_hash(key);
	size_t i = n->hash & (m->nbuckets - 1);
	n->next = m->buckets[i];
	m->buckets[i] = n;
	m->count++;
}

void hmap_remove(struct hmap *m, struct hmap_node *n)
{
	struct hmap_node **p = &m->buckets[n->hash & (m->nbuckets - 1)];
	while (*p && *p != n)
		p = &(*p)->next;
	assert_se(*p);
	*p = n->next;
	n->next = NULL;
	m->count--;
}

static struct hmap_node *from_bucket(const struct hmap *m, size_t i)
{
	for (; i < m->nbuckets; i++)
		if (m->buckets[i])
			return m->buckets[i];
	return NULL;
}

struct hmap_node *hmap_first(const struct hmap *m)
{
	return from_bucket(m, 0);
}

struct hmap_node *hmap_next(const struct hmap *m, const struct hmap_node *n)
{
	if (n->next)
		return n->next;
	return from_bucket(m, (n->hash & (m->nbuckets - 1)) + 1);
}
