/* SPDX-License-Identifier: Apache-2.0 */
#include "controllers/controllers.h"
#include "lib/log.h"
#include "lib/macro.h"

static const struct controller_ops *const all[] = {
	&replicaset_controller,	   &deployment_controller, &nodelifecycle_controller,
	&garbage_collector,	   &nodeipam_controller,   &endpoints_controller,
	&endpointslice_controller, &servicelb_controller,
};

struct controller_manager {
	void *state[ARRAY_SIZE(all)];
	bool running[ARRAY_SIZE(all)];
};

void controller_opts_default(struct controller_opts *o)
{
	*o = (struct controller_opts){
		.workers = 4,
		.node_monitor_period_usec = 1000000,
		.node_monitor_grace_period_usec = 8000000,
		.node_startup_grace_period_usec = 30000000,
		.cluster_cidr = "10.42.0.0/16",
		.node_cidr_mask_size = 24,
		.service_lb_cidr = "10.44.0.0/24",
	};
}

struct controller_manager *controller_manager_new(struct controller_ctx *ctx)
{
	struct controller_manager *m = xnew(struct controller_manager, 1);
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		m->state[i] = all[i]->init(ctx);
		if (!m->state[i])
			log_error("controller %s failed to start", all[i]->name);
	}
	return m;
}

int controller_manager_run(struct controller_manager *m)
{
	for (size_t i = 0; i < ARRAY_SIZE(all); i++) {
		if (!m->state[i])
			continue;
		int r = all[i]->run(m->state[i]);
		if (r < 0) {
			log_error("controller %s: %s", all[i]->name, strerror(-r));
			continue;
		}
		m->running[i] = true;
		log_v(1, "controller %s running", all[i]->name);
	}
	return 0;
}

void controller_manager_free(struct controller_manager *m)
{
	if (!m)
		return;
	for (size_t i = ARRAY_SIZE(all); i-- > 0;)
		if (m->state[i])
			all[i]->stop(m->state[i]);
	free(m);
}
