#!/usr/bin/env bats
# A one-machine cluster: `c8s server --with-agent` runs the node agent in
# the server's process (in a lab network namespace, see lab.bash).

load helpers
load lab

setup_file() {
	if ! why=$(lab_requirements); then
		skip "$why"
	fi
	lab_setup with-agent || { lab_teardown; return 1; }
	echo "LAB_ENV=$LAB_ENV" >"$BATS_FILE_TMPDIR/lab"
}

teardown_file() {
	if [ -s "$BATS_FILE_TMPDIR/lab" ]; then
		source "$BATS_FILE_TMPDIR/lab"
		export LAB_ENV
		lab_load
		lab_teardown
	fi
}

setup() {
	source "$BATS_FILE_TMPDIR/lab"
	export LAB_ENV
	lab_load
}

@test "c8s server --with-agent registers its node and runs pods (with runc)" {
	[ "$(kl get node lab-node -o jsonpath='{.status.addresses[0].address}')" = "$LAB_NODE_IP" ]
	[[ "$(kl get node lab-node -o jsonpath='{.status.nodeInfo.containerRuntimeVersion}')" == runc* ]]
	kl run one --image=c8s.test/busybox:1 --image-pull-policy=IfNotPresent \
		-- sh -c 'echo one-machine; sleep 3600'
	lab_wait_phase 60 one Running
	wait_for 20 sh -c "nsenter --net=/run/netns/$LAB_NS kubectl logs one | grep -qx one-machine"
	kl run two --image="127.0.0.1:$LAB_REG_PORT/busybox:1" --restart=Never -- sh -c 'exit 0'
	lab_wait_phase 60 two Succeeded
	kl delete pod one two --wait=true --timeout=60s
	# A finished pod is deleted by the API server at once; the agent then
	# releases its sandbox.
	wait_for 20 sh -c "[ -z \"\$(ls -A $LAB_ROOT/ns)\" ]"
}

@test "a second agent joins with --kubeconfig and serves the cluster CA's clients only" {
	nsenter --net="/run/netns/$LAB_NS" "$LAB_BIN" agent --kubeconfig "$KUBECONFIG" \
		--node-name kc-node --node-ip "$LAB_NODE_IP" --data-dir "$LAB_DIR/agent2" \
		--root-dir "$LAB_ROOT-2" --cgroup-root "$LAB_CG-2" --stream-port 10260 \
		>>"$LAB_DIR/agent2.log" 2>&1 3>&- &
	pid=$!
	echo $pid >>"$LAB_DIR/pids"
	wait_for 60 sh -c "nsenter --net=/run/netns/$LAB_NS kubectl get node kc-node -o jsonpath='{.status.conditions[?(@.type==\"Ready\")].status}' | grep -qx True"
	[ "$(kl get node kc-node -o jsonpath='{.status.daemonEndpoints.kubeletEndpoint.Port}')" = 10260 ]
	# The stream server wants a client certificate of the cluster CA.
	run lab_exec curl -sk -o /dev/null -w '%{http_code}' "https://$LAB_NODE_IP:10260/containerLogs/default/x/c"
	[ "$output" = 401 ]
	run lab_exec curl -sk -o /dev/null -w '%{http_code}' --cert "$LAB_DIR/server/tls/admin.crt" \
		--key "$LAB_DIR/server/tls/admin.key" "https://$LAB_NODE_IP:10260/containerLogs/default/x/c"
	[ "$output" != 401 ]
	kill -TERM "$pid"
	wait_pid_gone "$pid" 20
	kl delete node kc-node
	rm -rf "$LAB_ROOT-2"
}
