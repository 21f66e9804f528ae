/* SPDX-License-Identifier: Apache-2.0 */
#include "components.h"
#include "client/events.h"
#include "client/factory.h"
#include "client/kclient.h"
#include "client/leader.h"
#include "controllers/controllers.h"
#include "lib/log.h"
#include "scheduler/scheduler.h"

static struct {
	bool disable_scheduler;
	bool disable_controllers;
	struct controller_opts ctl;
	bool ctl_set;
} opts;

static const struct flag *flags_table(void)
{
	static struct flag flags[16];
	if (!opts.ctl_set) {
		controller_opts_default(&opts.ctl);
		opts.ctl_set = true;
	}
	size_t n = 0;
	flags[n++] = (struct flag){ "disable-scheduler", FLAG_BOOL, &opts.disable_scheduler,
				    "Do not run the scheduler in this server" };
	flags[n++] =
	    (struct flag){ "disable-controller-manager", FLAG_BOOL, &opts.disable_controllers,
			   "Do not run the controllers in this server" };
	flags[n++] =
	    (struct flag){ "cluster-cidr", FLAG_STRING, &opts.ctl.cluster_cidr,
			   "CIDR the nodes' pod CIDRs are taken from (default 10.42.0.0/16)" };
	flags[n++] = (struct flag){ "node-cidr-mask-size", FLAG_INT, &opts.ctl.node_cidr_mask_size,
				    "Prefix length of each node's pod CIDR (default 24)" };
	flags[n++] =
	    (struct flag){ "node-monitor-period", FLAG_DURATION, &opts.ctl.node_monitor_period_usec,
			   "How often node health is checked (default 1s)" };
	flags[n++] = (struct flag){ "node-monitor-grace-period", FLAG_DURATION,
				    &opts.ctl.node_monitor_grace_period_usec,
				    "How long a node may go without a heartbeat before it is "
				    "marked NotReady (default 8s)" };
	flags[n++] = (struct flag){
		"node-startup-grace-period", FLAG_DURATION,
		&opts.ctl.node_startup_grace_period_usec,
		"How long a new node may take to report before it is marked NotReady (default 30s)"
	};
	flags[n++] =
	    (struct flag){ "service-lb-cidr", FLAG_STRING, &opts.ctl.service_lb_cidr,
			   "Pool of LoadBalancer Service addresses (default 10.44.0.0/24)" };
	flags[n++] = (struct flag){ "concurrent-syncs", FLAG_INT, &opts.ctl.workers,
				    "Workers per controller (default 4)" };
	flags[n] = (struct flag){ NULL };
	return flags;
}

const struct flag *components_flags(void)
{
	return flags_table();
}

struct components {
	struct kclient *client;
	struct informer_factory *factory;
	struct event_recorder *sched_events, *ctl_events;
	struct scheduler *scheduler;
	struct controller_manager *manager;
	struct controller_ctx ctx;
	struct leader_elector *sched_leader, *ctl_leader;
};

static void scheduler_leads(void *ud)
{
	struct components *c = ud;
	scheduler_run(c->scheduler);
}

static void manager_leads(void *ud)
{
	struct components *c = ud;
	controller_manager_run(c->manager);
}

static void lost_lead(void *ud)
{
	/* Like Kubernetes' components: a leader that cannot renew exits so that
	 * it never acts alongside a new leader. */
	log_error("lost leadership; exiting");
	_exit(1);
}

int components_start(const struct components_env *env, struct components **ret)
{
	flags_table();
	struct components *c = xnew(struct components, 1);
	_cleanup_free_ char *err = NULL;
	struct kclient_opts ko = {
		.server = env->server_url,
		.unix_socket = env->unix_socket,
		.token = env->token,
		.ca_file = env->ca_file,
		.user_agent = "c8s-server/v0.1",
	};
	int r = kclient_new(&ko, &c->client, &err);
	if (r < 0) {
		log_error("components: %s", err);
		free(c);
		return r;
	}
	c->factory = informer_factory_new(c->client);
	if (!opts.disable_scheduler) {
		c->sched_events = event_recorder_new(c->client, "default-scheduler", NULL);
		struct scheduler_opts so = { .name = "default-scheduler", .bind_workers = 16 };
		c->scheduler = scheduler_new(c->client, c->factory, c->sched_events, &so);
	}
	if (!opts.disable_controllers) {
		c->ctl_events = event_recorder_new(c->client, "controller-manager", NULL);
		c->ctx = (struct controller_ctx){
			.client = c->client,
			.factory = c->factory,
			.events = c->ctl_events,
			.opts = &opts.ctl,
		};
		c->manager = controller_manager_new(&c->ctx);
	}
	r = informer_factory_start(c->factory);
	if (r < 0) {
		components_stop(c);
		return r;
	}
	if (!informer_factory_wait_synced(c->factory, 30LL * 1000000))
		log_error("components: informers did not sync in 30 s; continuing");
	if (c->scheduler) {
		struct leader_opts lo = { .ns = "kube-system",
					  .name = "kube-scheduler",
					  .identity = env->identity,
					  .started_leading = scheduler_leads,
					  .stopped_leading = lost_lead,
					  .userdata = c };
		c->sched_leader = leader_start(c->client, &lo);
	}
	if (c->manager) {
		struct leader_opts lo = { .ns = "kube-system",
					  .name = "kube-controller-manager",
					  .identity = env->identity,
					  .started_leading = manager_leads,
					  .stopped_leading = lost_lead,
					  .userdata = c };
		c->ctl_leader = leader_start(c->client, &lo);
	}
	*ret = c;
	return 0;
}

void components_stop(struct components *c)
{
	if (!c)
		return;
	leader_stop(c->sched_leader);
	leader_stop(c->ctl_leader);
	/* No handler may run once the components are freed. */
	informer_factory_stop(c->factory);
	scheduler_free(c->scheduler);
	controller_manager_free(c->manager);
	event_recorder_free(c->sched_events);
	event_recorder_free(c->ctl_events);
	informer_factory_free(c->factory);
	kclient_free(c->client);
	free(c);
}
