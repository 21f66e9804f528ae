/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Service address and node port allocation. The API server that owns the
 * store owns the allocators: they are rebuilt from the stored Services at
 * start and changed under one lock as Services are written.
 */
#pragma once

#include <stdint.h>

struct apiserver;
struct cache;

struct allocators;

/* cidr is the service CIDR ("10.43.0.0/16"); node ports come from
 * [port_min, port_max]. Fills the maps from the Services in cache. */
int alloc_open(const char *cidr, int port_min, int port_max, struct cache *cache,
	       struct allocators **ret);
void alloc_close(struct allocators *a);

/* Reserve ip ("" = pick a free one) into out (>= 16 bytes).
 * -ERANGE: not in the range; -EEXIST: taken; -ENOSPC: range full. */
int alloc_ip(struct allocators *a, const char *ip, char *out);
void alloc_release_ip(struct allocators *a, const char *ip);
/* The n-th address of the range as a string (n=1 is the first usable). */
void alloc_nth_ip(struct allocators *a, uint32_t n, char *out);
const char *alloc_cidr(struct allocators *a);

/* Reserve port (0 = pick one) into *out. Same errors. */
int alloc_port(struct allocators *a, int port, int *out);
void alloc_release_port(struct allocators *a, int port);
void alloc_port_range(struct allocators *a, int *min, int *max);
