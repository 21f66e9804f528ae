/* SPDX-License-Identifier: Apache-2.0 */
/*
 * `c8s agent`: the node agent. For now it only simulates nodes
 * (--simulate N, see simulate.h); the real kubelet (pods run through the
 * OCI runtime) will live beside it and share the command line, the client
 * and the signal handling.
 */
#pragma once

int agent_main(int argc, char **argv);
