/* SPDX-License-Identifier: Apache-2.0 */
/* The lab network of a local cluster: namespaces, a bridge, veth links. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cluster/lab.h"
#include "lib/log.h"
#include "lib/macro.h"
#include "lib/strbuf.h"
#include "net/iproute.h"

void lab_netns_name(const struct lab *l, char *buf, size_t size)
{
	snprintf(buf, size, "c8s-%s-lab", l->name);
}

void lab_node_netns_name(const struct lab *l, int i, char *buf, size_t size)
{
	snprintf(buf, size, "c8s-%s-n%d", l->name, i);
}

void lab_host_link_name(const struct lab *l, char *buf, size_t size)
{
	snprintf(buf, size, "c8s-%s", l->name);
}

void lab_node_ip(const struct lab *l, int i, char *buf, size_t size)
{
	snprintf(buf, size, "172.30.%d.%d", l->subnet, 10 + i);
}

void lab_host_ip(const struct lab *l, char *buf, size_t size)
{
	snprintf(buf, size, "172.30.%d.1", l->subnet);
}

bool lab_netns_exists(const char *name)
{
	char path[300];
	struct stat st;
	snprintf(path, sizeof(path), "/run/netns/%s", name);
	return stat(path, &st) == 0;
}

bool lab_subnet_free(int subnet)
{
	_cleanup_fclose_ FILE *f = fopen("/proc/net/route", "re");
	char line[512];
	uint32_t net = htonl((172u << 24) | (30u << 16) | ((uint32_t)subnet << 8));
	uint32_t mask24 = htonl(0xffffff00u);

	if (!f)
		return true;
	if (!fgets(line, sizeof(line), f)) /* header */
		return true;
	while (fgets(line, sizeof(line), f)) {
		char ifname[64];
		unsigned dest, gw, flags, refcnt, use, metric, mask;
		if (sscanf(line, "%63s %x %x %x %u %u %u %x", ifname, &dest, &gw, &flags, &refcnt,
			   &use, &metric, &mask) != 8)
			continue;
		if (mask == 0)
			continue;		 /* the default route overlaps everything */
		uint32_t common = mask & mask24; /* the shorter of the two masks */
		if ((dest & common) == (net & common))
			return false;
	}
	return true;
}

int lab_create(const struct lab *l, char **ret_err)
{
	char lab[64], host[32], hostip[32];
	int r;

	lab_netns_name(l, lab, sizeof(lab));
	lab_host_link_name(l, host, sizeof(host));
	lab_host_ip(l, hostip, sizeof(hostip));

	if ((r = net_ip(ret_err, "netns add %s", lab)) < 0 ||
	    (r = net_ip(ret_err, "-n %s link set lo up", lab)) < 0 ||
	    (r = net_ip(ret_err, "-n %s link add br0 type bridge", lab)) < 0 ||
	    (r = net_ip(ret_err, "-n %s link set br0 up", lab)) < 0 ||
	    (r = net_ip(ret_err, "link add %s type veth peer name host0 netns %s", host, lab)) <
		0 ||
	    (r = net_ip(ret_err, "addr add %s/24 dev %s", hostip, host)) < 0 ||
	    (r = net_ip(ret_err, "link set %s up", host)) < 0 ||
	    (r = net_ip(ret_err, "-n %s link set host0 master br0 up", lab)) < 0)
		return r;

	for (int i = 0; i < l->nodes; i++) {
		char node[64], ip[32];
		lab_node_netns_name(l, i, node, sizeof(node));
		lab_node_ip(l, i, ip, sizeof(ip));
		if ((r = net_ip(ret_err, "netns add %s", node)) < 0 ||
		    (r = net_ip(ret_err, "-n %s link set lo up", node)) < 0 ||
		    (r = net_ip(ret_err, "-n %s link add n%d type veth peer name eth0 netns %s",
				lab, i, node)) < 0 ||
		    (r = net_ip(ret_err, "-n %s link set n%d master br0 up", lab, i)) < 0 ||
		    (r = net_ip(ret_err, "-n %s addr add %s/24 dev eth0", node, ip)) < 0 ||
		    (r = net_ip(ret_err, "-n %s link set eth0 up", node)) < 0)
			return r;
	}
	log_v(2, "lab %s: %d nodes on 172.30.%d.0/24", lab, l->nodes, l->subnet);
	return 0;
}

int lab_route_add(const struct lab *l, const char *cidr, char **ret_err)
{
	char host[32], ip[32];
	lab_host_link_name(l, host, sizeof(host));
	lab_node_ip(l, 0, ip, sizeof(ip));
	return net_ip(ret_err, "route replace %s via %s dev %s", cidr, ip, host);
}

void lab_destroy(const struct lab *l, const char *lb_cidr)
{
	char name[64];

	lab_host_link_name(l, name, sizeof(name));
	if (lb_cidr)
		(void)net_ip(NULL, "route del %s dev %s", lb_cidr, name);
	/* Deleting one end of a veth deletes the other. */
	(void)net_ip(NULL, "link del %s", name);
	for (int i = 0; i < LAB_MAX_NODES; i++) {
		lab_node_netns_name(l, i, name, sizeof(name));
		if (!lab_netns_exists(name)) {
			if (i >= l->nodes)
				break;
			continue;
		}
		char *err = NULL;
		if (net_ip(&err, "netns del %s", name) < 0) {
			log_warn("%s", err);
			free(err);
		}
	}
	lab_netns_name(l, name, sizeof(name));
	if (lab_netns_exists(name)) {
		char *err = NULL;
		if (net_ip(&err, "netns del %s", name) < 0) {
			log_warn("%s", err);
			free(err);
		}
	}
}
