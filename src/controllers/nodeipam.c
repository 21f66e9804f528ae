/* SPDX-License-Identifier: Apache-2.0 */
/* PLACEHOLDER, being replaced by the real controller. */
#include "controllers/controllers.h"
#include "lib/macro.h"

static void *init(struct controller_ctx *ctx)
{
	return xnew(char, 1);
}

static int run(void *state)
{
	return 0;
}

static void stop(void *state)
{
	free(state);
}

const struct controller_ops nodeipam_controller = { "nodeipam", init, run, stop };
