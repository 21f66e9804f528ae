/* SPDX-License-Identifier: Apache-2.0 */
/* `c8s cluster create|delete|list|load`: a local multi-node cluster. */
#pragma once

int cluster_main(int argc, char **argv);
