/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A pod's CNI ADD in a helper thread, so that the pod's first containers
 * are made (image, rootfs, bundle, `runtime create`) while the plugins
 * attach its network namespace; the sync joins the job before it starts
 * any container. See pods.c ("the network in parallel").
 */
#include "kubelet/kubelet_internal.h"
#include "lib/macro.h"

struct netjob {
	pthread_t thread;
	bool threaded;
	struct cni_config cfg;
	char *cidr, *uid, *netns;
	json_t *port_mappings;
	char *ip, *err;
	int r;
	uint64_t usec;
};

static void *netjob_main(void *arg)
{
	struct netjob *j = arg;
	uint64_t t0 = now_usec_monotonic();
	j->r = cni_add(&j->cfg, j->uid, j->netns, "eth0", j->port_mappings, &j->ip, &j->err);
	j->usec = now_usec_monotonic() - t0;
	return NULL;
}

static void netjob_free(struct netjob *j)
{
	free(j->cidr);
	free(j->uid);
	free(j->netns);
	json_decref(j->port_mappings);
	free(j->ip);
	free(j->err);
	free(j);
}

struct netjob *netjob_start(const struct cni_config *cfg, const char *pod_cidr, const char *uid,
			    const char *netns, json_t *port_mappings)
{
	struct netjob *j = xnew(struct netjob, 1);
	j->cidr = xstrdup(pod_cidr);
	j->cfg = *cfg;
	j->cfg.pod_cidr = j->cidr;
	j->uid = xstrdup(uid);
	j->netns = xstrdup(netns);
	j->port_mappings = json_incref(port_mappings);
	/* Without a thread, the caller's join does the work. */
	j->threaded = pthread_create(&j->thread, NULL, netjob_main, j) == 0;
	return j;
}

int netjob_join(struct netjob *j, char **ret_ip, char **ret_err, uint64_t *ret_usec)
{
	if (j->threaded)
		pthread_join(j->thread, NULL);
	else
		netjob_main(j);
	int r = j->r;
	*ret_usec = j->usec;
	if (r < 0)
		*ret_err = j->err ? TAKE_PTR(j->err) : xstrdup(strerror(-r));
	else
		*ret_ip = TAKE_PTR(j->ip);
	netjob_free(j);
	return r;
}
