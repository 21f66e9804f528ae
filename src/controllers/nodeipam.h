/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Node IPAM internals: the set of node pod CIDRs carved out of the cluster
 * CIDR (Kubernetes' pkg/controller/nodeipam/ipam/cidrset). Pure logic, no
 * locking: the controller serializes access.
 *
 * The cluster CIDR (IPv4 or IPv6) is cut into 2^(node_bits - cluster_bits)
 * node CIDRs of prefix length node_bits (at most 2^16 of them, like
 * Kubernetes). A bitmap says which are used. Allocation scans from just
 * after the last allocated one, so a released CIDR is not handed out again
 * at once.
 */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct cidr_set {
	int family;		/* AF_INET or AF_INET6 */
	int width;		/* 32 or 128 */
	unsigned __int128 base; /* network address of the cluster CIDR */
	int cluster_bits;	/* prefix length of the cluster CIDR */
	int node_bits;		/* prefix length of a node CIDR */
	uint64_t max;		/* number of node CIDRs */
	uint64_t used;		/* how many are taken */
	uint64_t next;		/* where the next search starts */
	uint8_t *bitmap;
};

/* Longest "address/bits" text, NUL included. */
#define CIDR_MAX 64

/* Cut cluster_cidr ("10.42.0.0/16") into /node_bits. Returns 0, or -EINVAL
 * with *ret_err saying why (an unparsable CIDR, node_bits shorter than the
 * cluster prefix or longer than the address, more than 2^16 node CIDRs). */
int cidr_set_init(struct cidr_set *s, const char *cluster_cidr, int node_bits, char **ret_err);
void cidr_set_release(struct cidr_set *s);

/* Take the next free node CIDR and write it to buf (CIDR_MAX bytes).
 * Returns 0, or -ENOSPC when every node CIDR is taken. */
int cidr_set_allocate(struct cidr_set *s, char *buf);

/* Mark every node CIDR that cidr overlaps as used (occupy) or free
 * (vacate). Returns 0; -EINVAL when cidr does not parse or is of the other
 * address family; -ERANGE when it lies outside the cluster CIDR. */
int cidr_set_occupy(struct cidr_set *s, const char *cidr);
int cidr_set_vacate(struct cidr_set *s, const char *cidr);

/* Parse "address/bits" into family, address (host order, 32 bits in the low
 * bits for IPv4) and prefix length. Returns 0 or -EINVAL. */
int cidr_parse(const char *cidr, int *ret_family, unsigned __int128 *ret_addr, int *ret_bits);
