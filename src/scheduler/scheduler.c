/* SPDX-License-Identifier: Apache-2.0 */
/* PLACEHOLDER, being replaced by the real scheduler. */
#include "lib/macro.h"
#include "scheduler/scheduler.h"

struct scheduler {
	int unused;
};

struct scheduler *scheduler_new(struct kclient *c, struct informer_factory *f,
				struct event_recorder *events, const struct scheduler_opts *o)
{
	return xnew(struct scheduler, 1);
}

int scheduler_run(struct scheduler *s)
{
	return 0;
}

void scheduler_free(struct scheduler *s)
{
	free(s);
}
