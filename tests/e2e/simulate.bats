#!/usr/bin/env bats
# Simulated nodes: `c8s agent --simulate N` against a real `c8s server`,
# checked with the real kubectl: registration, leases, node status, pods
# reported Running with IPs from the node's pod CIDR, graceful deletion,
# and node failures (stopping an agent, --fail-node-after, the control file).

bats_require_minimum_version 1.5.0

load helpers

PREFIX=sim-e2e-
# The agent may be another build than the server (C8S_AGENT_BIN=./c8s-asan).
AGENT_BIN=${C8S_AGENT_BIN:-$C8S_BIN}

setup_file() {
	start_server
	agent_start main --simulate 3 --node-name-prefix "$PREFIX"
	wait_for 30 nodes_ready 3 "type=simulated,!sim-e2e/solo"
}

teardown_file() {
	cleanup_server
}

# agent_start NAME FLAGS...: run `c8s agent` in the background (its PID in
# $C8S_DIR/agent-NAME.pid, its log in agent-NAME.log); cleanup_server ends it.
agent_start() {
	local name=$1
	shift
	bg_start "$C8S_DIR/agent-$name.log" "$AGENT_BIN" agent --kubeconfig "$KUBECONFIG" "$@"
	echo "$BG_PID" >"$C8S_DIR/agent-$name.pid"
}

agent_pid() {
	cat "$C8S_DIR/agent-$1.pid"
}

# nodes_ready COUNT SELECTOR: exactly COUNT nodes match and all are Ready.
nodes_ready() {
	local out
	out=$(k get nodes -l "$2" -o jsonpath='{range .items[*]}{.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}')
	[ "$(grep -c . <<<"$out")" -eq "$1" ] && ! grep -qv '^True$' <<<"$out"
}

ready_status() {
	k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}'
}

node_ready_is() {
	[ "$(ready_status "$1")" = "$2" ]
}

renew_time() {
	k -n kube-node-lease get lease "$1" -o jsonpath='{.spec.renewTime}'
}

# renewed_since NODE TIME: the lease was renewed after TIME.
renewed_since() {
	local t
	t=$(renew_time "$1")
	[ -n "$t" ] && [[ "$t" > "$2" ]]
}

placeholder() {
	grep -q PLACEHOLDER "$C8S_ROOT/src/controllers/$1.c"
}

has_pod_cidr() {
	[ -n "$(k get node "$1" -o jsonpath='{.spec.podCIDR}')" ]
}

# pod_cidr NODE CIDR: the node's pod CIDR; set to CIDR while the IPAM
# controller is a placeholder, else whatever it allocated.
pod_cidr() {
	if placeholder nodeipam && ! has_pod_cidr "$1"; then
		k patch node "$1" -p "{\"spec\":{\"podCIDR\":\"$2\",\"podCIDRs\":[\"$2\"]}}" >/dev/null
	fi
	wait_for 20 has_pod_cidr "$1"
	k get node "$1" -o jsonpath='{.spec.podCIDR}'
}

pod_phase_is() {
	[ "$(k -n "$1" get pod "$2" -o jsonpath='{.status.phase}')" = "$3" ]
}

pod_gone() {
	! k -n "$1" get pod "$2" >/dev/null 2>&1
}

# in_cidr IP CIDR
in_cidr() {
	python3 -c 'import ipaddress, sys
sys.exit(0 if ipaddress.ip_address(sys.argv[1]) in ipaddress.ip_network(sys.argv[2], strict=False) else 1)' "$1" "$2"
}

# make_pod NS NAME NODE [extra spec JSON]: a pod created bound to NODE.
make_pod() {
	local extra=${4:-}
	k -n "$1" create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$2"},
 "spec":{"nodeName":"$3","containers":[{"name":"app","image":"registry.example/app:1"}]${extra:+,$extra}}}
EOF
}

@test "c8s agent refuses bad flags with exit 2 (nothing is started)" {
	# (the real agent is tested in a lab namespace: agent.bats)
	run -2 "$AGENT_BIN" agent
	[[ "$output" == *"give --kubeconfig FILE, or --server URL and --token TOKEN"* ]]
	run -2 "$AGENT_BIN" agent --kubeconfig "$KUBECONFIG" --runtime nosuch
	[[ "$output" == *"--runtime must be crun, runc or a path"* ]]
	run -2 "$AGENT_BIN" agent --simulate 0 --kubeconfig "$KUBECONFIG"
	[[ "$output" == *"--simulate must be between 1 and"* ]]
	run -2 "$AGENT_BIN" agent --simulate 2 --node-memory lots --kubeconfig "$KUBECONFIG"
	[[ "$output" == *"--node-memory"* ]]
	run -2 "$AGENT_BIN" agent --simulate 2
	[[ "$output" == *"--kubeconfig"* ]]
	run -0 "$AGENT_BIN" agent --help
	[[ "$output" == *"--lease-renew-interval"* ]]
}

@test "kubectl get nodes shows the simulated nodes Ready with their addresses, OS, kernel and runtime" {
	run -0 k get nodes -l type=simulated,'!sim-e2e/solo'
	[ "$(grep -c "^${PREFIX}[0-2] *Ready *<none> .* v1.32.0$" <<<"$output")" -eq 3 ]
	run -0 k get nodes -o wide --no-headers "${PREFIX}0" "${PREFIX}1" "${PREFIX}2"
	local ips=() line
	while read -r line; do
		read -r name status roles age version iip eip rest <<<"$line"
		[ "$status" = Ready ]
		[ "$version" = v1.32.0 ]
		in_cidr "$iip" 198.18.0.0/15
		[ "$eip" = "<none>" ]
		[[ "$rest" == *"(simulated)"* ]]
		[[ "$rest" == *" $(uname -r) "* ]]
		[[ "$rest" == *" c8s-sim://0.1" ]]
		ips+=("$iip")
	done <<<"$output"
	[ "${#ips[@]}" -eq 3 ]
	# distinct addresses
	[ "$(printf '%s\n' "${ips[@]}" | sort -u | wc -l)" -eq 3 ]
}

@test "a simulated node carries labels, capacity, conditions, addresses and node info" {
	local n=${PREFIX}1 node
	node=$(k get node "$n" -o json)
	[ "$(jq -r '.metadata.labels["kubernetes.io/hostname"]' <<<"$node")" = "$n" ]
	[ "$(jq -r '.metadata.labels["kubernetes.io/os"]' <<<"$node")" = linux ]
	[ "$(jq -r '.metadata.labels["kubernetes.io/arch"]' <<<"$node")" = amd64 ]
	[ "$(jq -r '.metadata.labels.type' <<<"$node")" = simulated ]
	[ "$(jq -c '.status.capacity' <<<"$node")" = '{"cpu":"4","ephemeral-storage":"100Gi","hugepages-1Gi":"0","hugepages-2Mi":"0","memory":"16Gi","pods":"110"}' ]
	[ "$(jq -c '.status.allocatable' <<<"$node")" = "$(jq -c '.status.capacity' <<<"$node")" ]
	[ "$(jq -r '[.status.conditions[] | .type + "=" + .status + ":" + .reason] | join(" ")' <<<"$node")" = \
		"MemoryPressure=False:KubeletHasSufficientMemory DiskPressure=False:KubeletHasNoDiskPressure PIDPressure=False:KubeletHasSufficientPID Ready=True:KubeletReady" ]
	[ "$(jq -r '.status.conditions[] | select(.type=="Ready") | .message' <<<"$node")" = "kubelet is posting ready status" ]
	[ "$(jq -r '[.status.addresses[].type] | join(",")' <<<"$node")" = InternalIP,Hostname ]
	[ "$(jq -r '.status.addresses[1].address' <<<"$node")" = "$n" ]
	[ "$(jq -r '.status.daemonEndpoints.kubeletEndpoint.Port' <<<"$node")" = 10250 ]
	local info
	info=$(jq -c '.status.nodeInfo' <<<"$node")
	[ "$(jq -r '.kubeletVersion + " " + .kubeProxyVersion + " " + .containerRuntimeVersion + " " + .operatingSystem + " " + .architecture' <<<"$info")" = \
		"v1.32.0 v1.32.0 c8s-sim://0.1 linux amd64" ]
	[ "$(jq -r .kernelVersion <<<"$info")" = "$(uname -r)" ]
	[[ "$(jq -r .machineID <<<"$info")" =~ ^[0-9a-f]{32}$ ]]
	[[ "$(jq -r .systemUUID <<<"$info")" =~ ^[0-9a-f-]{36}$ ]]
	[[ "$(jq -r .bootID <<<"$info")" =~ ^[0-9a-f-]{36}$ ]]
	# each node has its own machine ID
	[ "$(k get nodes "${PREFIX}0" "${PREFIX}1" "${PREFIX}2" -o jsonpath='{range .items[*]}{.status.nodeInfo.machineID}{"\n"}{end}' | sort -u | wc -l)" -eq 3 ]
}

@test "kubectl describe node shows capacity, allocatable, conditions, system info and the lease" {
	run -0 k describe node "${PREFIX}0"
	[[ "$output" == *"Name:               ${PREFIX}0"* ]]
	[[ "$output" == *"HolderIdentity:  ${PREFIX}0"* ]]
	[[ "$output" != *"Failed to get lease"* ]]
	grep -q "^Capacity:" <<<"$output"
	grep -q "^Allocatable:" <<<"$output"
	grep -Eq "^  cpu: +4$" <<<"$output"
	grep -Eq "^  memory: +16Gi$" <<<"$output"
	grep -Eq "^  pods: +110$" <<<"$output"
	grep -Eq "^  Ready +True .* KubeletReady +kubelet is posting ready status$" <<<"$output"
	grep -Eq "^  MemoryPressure +False .* KubeletHasSufficientMemory" <<<"$output"
	grep -Eq "^  InternalIP: +198\.1[89]\." <<<"$output"
	grep -Eq "^  Container Runtime Version: +c8s-sim://0.1$" <<<"$output"
	grep -Eq "^  Kubelet Version: +v1.32.0$" <<<"$output"
}

@test "each node's lease in kube-node-lease is held by the node and renewed" {
	local n=${PREFIX}2 lease t
	lease=$(k -n kube-node-lease get lease "$n" -o json)
	[ "$(jq -r .spec.holderIdentity <<<"$lease")" = "$n" ]
	[ "$(jq -r .spec.leaseDurationSeconds <<<"$lease")" = 40 ]
	# MicroTime, owned by the node (deleted with it)
	[[ "$(jq -r .spec.renewTime <<<"$lease")" =~ ^[0-9-]+T[0-9:]+\.[0-9]{6}Z$ ]]
	[ "$(jq -r '.metadata.ownerReferences[0].kind + "/" + .metadata.ownerReferences[0].name' <<<"$lease")" = "Node/$n" ]
	[ "$(jq -r '.metadata.ownerReferences[0].uid' <<<"$lease")" = "$(k get node "$n" -o jsonpath='{.metadata.uid}')" ]
	t=$(jq -r .spec.renewTime <<<"$lease")
	# renewed every 2 s by default
	wait_for 10 renewed_since "$n" "$t"
}

@test "a pod created on a simulated node runs with an IP from the node's pod CIDR" {
	local n=${PREFIX}0 cidr pod
	cidr=$(pod_cidr "$n" 10.244.100.0/24)
	k create namespace sim-run
	make_pod sim-run web "$n" '"initContainers":[{"name":"init","image":"busybox"}]'
	wait_for 20 pod_phase_is sim-run web Running
	pod=$(k -n sim-run get pod web -o json)
	local ip
	ip=$(jq -r .status.podIP <<<"$pod")
	in_cidr "$ip" "$cidr"
	# neither the network address nor the gateway
	[ "${ip##*.}" != 0 ] && [ "${ip##*.}" != 1 ]
	[ "$(jq -r '.status.podIPs[0].ip' <<<"$pod")" = "$ip" ]
	[ "$(jq -r .status.hostIP <<<"$pod")" = "$(k get node "$n" -o jsonpath='{.status.addresses[0].address}')" ]
	[ "$(jq -r '.status.hostIPs[0].ip' <<<"$pod")" = "$(jq -r .status.hostIP <<<"$pod")" ]
	[ -n "$(jq -r '.status.startTime // empty' <<<"$pod")" ]
	[ "$(jq -r '[.status.conditions[] | select(.status=="True") | .type] | sort | join(",")' <<<"$pod")" = \
		"ContainersReady,Initialized,PodReadyToStartContainers,PodScheduled,Ready" ]
	local cs
	cs=$(jq -c '.status.containerStatuses[0]' <<<"$pod")
	[ "$(jq -r '.name + " " + .image + " " + .imageID + " " + (.ready|tostring) + " " + (.started|tostring) + " " + (.restartCount|tostring)' <<<"$cs")" = \
		"app registry.example/app:1 sim://registry.example/app:1 true true 0" ]
	[[ "$(jq -r .containerID <<<"$cs")" == sim://* ]]
	[ -n "$(jq -r '.state.running.startedAt // empty' <<<"$cs")" ]
	[ "$(jq -r '.status.initContainerStatuses[0].state.terminated.reason' <<<"$pod")" = Completed ]
	[ "$(jq -r .status.qosClass <<<"$pod")" = BestEffort ]
	# what kubectl shows
	run -0 k -n sim-run get pod web -o wide --no-headers
	[[ "$output" =~ ^web\ +1/1\ +Running\ +0\ .*\ $ip\ +$n\  ]]
	run -0 k -n sim-run describe pod web
	grep -Eq "^Node: +$n/198\.1[89]\." <<<"$output"
	grep -Eq "^Status: +Running$" <<<"$output"
}

@test "a pod bound through pods/binding runs; pods on one node get distinct IPs" {
	local n=${PREFIX}1 cidr
	cidr=$(pod_cidr "$n" 10.244.101.0/24)
	k create namespace sim-bind
	local i
	for i in 1 2 3; do
		# a scheduler of its own, so that only this test binds it
		k -n sim-bind create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b$i"},
 "spec":{"schedulerName":"e2e-manual","containers":[{"name":"c","image":"pause"}]}}
EOF
		run -0 api_json POST "/api/v1/namespaces/sim-bind/pods/b$i/binding" \
			"{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"b$i\"},\"target\":{\"kind\":\"Node\",\"name\":\"$n\"}}"
		[ "$(reply_code "$output")" = 201 ]
	done
	for i in 1 2 3; do
		wait_for 20 pod_phase_is sim-bind "b$i" Running
	done
	local ips
	ips=$(k -n sim-bind get pods -o jsonpath='{range .items[*]}{.status.podIP}{"\n"}{end}')
	[ "$(sort -u <<<"$ips" | grep -c .)" -eq 3 ]
	while read -r ip; do in_cidr "$ip" "$cidr"; done <<<"$ips"
	# the binding's PodScheduled condition is kept
	[ "$(k -n sim-bind get pod b1 -o jsonpath='{.status.conditions[?(@.type=="PodScheduled")].status}')" = True ]
}

@test "a Deployment's pods are scheduled onto the simulated nodes and run" {
	grep -q PLACEHOLDER "$C8S_ROOT/src/scheduler/scheduler.c" && skip "the scheduler is a placeholder"
	placeholder replicaset && skip "the ReplicaSet controller is a placeholder"
	placeholder deployment && skip "the Deployment controller is a placeholder"
	k create namespace sim-deploy
	k -n sim-deploy create deployment web --image=registry.example/web:1 --replicas=6 >/dev/null
	run -0 k -n sim-deploy rollout status deployment/web --timeout=60s
	run -0 k -n sim-deploy get pods -o jsonpath='{range .items[*]}{.status.phase} {.spec.nodeName} {.status.podIP}{"\n"}{end}'
	[ "$(grep -c "^Running ${PREFIX}[0-2] " <<<"$output")" -eq 6 ]
	# every pod has its own IP
	[ "$(awk '{print $3}' <<<"$output" | sort -u | grep -c .)" -eq 6 ]
	run -0 k -n sim-deploy get deployment web --no-headers
	[[ "$output" =~ ^web\ +6/6\ +6\ +6\  ]]
	k delete namespace sim-deploy --wait=false >/dev/null
}

@test "a host-network pod runs with the node's IP" {
	local n=${PREFIX}2
	k create namespace sim-hostnet
	make_pod sim-hostnet hostnet "$n" '"hostNetwork":true'
	wait_for 20 pod_phase_is sim-hostnet hostnet Running
	local nodeip
	nodeip=$(k get node "$n" -o jsonpath='{.status.addresses[0].address}')
	[ "$(k -n sim-hostnet get pod hostnet -o jsonpath='{.status.podIP}')" = "$nodeip" ]
	[ "$(k -n sim-hostnet get pod hostnet -o jsonpath='{.status.hostIP}')" = "$nodeip" ]
}

@test "a pod waits for its node's pod CIDR" {
	local n=sim-nocidr-0
	agent_start nocidr --simulate 1 --node-name-prefix sim-nocidr- --node-labels sim-e2e/solo=nocidr
	wait_for 30 node_ready_is "$n" True
	has_pod_cidr "$n" && skip "the IPAM controller gave the node a pod CIDR already"
	k create namespace sim-wait
	make_pod sim-wait waits "$n"
	# no pod CIDR yet: still Pending, without an IP
	sleep 1
	pod_phase_is sim-wait waits Pending
	[ -z "$(k -n sim-wait get pod waits -o jsonpath='{.status.podIP}')" ]
	local cidr
	cidr=$(pod_cidr "$n" 10.244.102.0/24)
	wait_for 20 pod_phase_is sim-wait waits Running
	in_cidr "$(k -n sim-wait get pod waits -o jsonpath='{.status.podIP}')" "$cidr"
	bg_stop "$(agent_pid nocidr)"
}

@test "kubectl delete pod completes: the agent finishes the graceful deletion" {
	local n=${PREFIX}0
	pod_cidr "$n" 10.244.100.0/24 >/dev/null
	k create namespace sim-del
	make_pod sim-del gone "$n"
	wait_for 20 pod_phase_is sim-del gone Running
	local uid
	uid=$(k -n sim-del get pod gone -o jsonpath='{.metadata.uid}')
	# the default grace period is 30 s: it is the agent that ends it at once
	run -0 timeout 15 kubectl --request-timeout=15s -n sim-del delete pod gone
	[[ "$output" == *'pod "gone" deleted'* ]]
	pod_gone sim-del gone
	# a pod with the same name is a new pod, and runs again
	make_pod sim-del gone "$n"
	wait_for 20 pod_phase_is sim-del gone Running
	[ "$(k -n sim-del get pod gone -o jsonpath='{.metadata.uid}')" != "$uid" ]
	run -0 timeout 15 kubectl --request-timeout=15s -n sim-del delete pod gone --wait=true
}

@test "readiness gates: Ready follows the gate's condition" {
	local n=${PREFIX}0
	pod_cidr "$n" 10.244.100.0/24 >/dev/null
	k create namespace sim-gate
	make_pod sim-gate gated "$n" '"readinessGates":[{"conditionType":"example.com/ready"}]'
	wait_for 20 pod_phase_is sim-gate gated Running
	[ "$(k -n sim-gate get pod gated -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')" = ReadinessGatesNotReady ]
	[ "$(k -n sim-gate get pod gated -o jsonpath='{.status.conditions[?(@.type=="ContainersReady")].status}')" = True ]
	api PATCH /api/v1/namespaces/sim-gate/pods/gated/status \
		-H 'Content-Type: application/strategic-merge-patch+json' \
		-d '{"status":{"conditions":[{"type":"example.com/ready","status":"True"}]}}' >/dev/null
	gate_ready() {
		[ "$(k -n sim-gate get pod gated -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
	}
	wait_for 20 gate_ready
	# the gate's condition is still there
	[ "$(k -n sim-gate get pod gated -o jsonpath='{.status.conditions[?(@.type=="example.com/ready")].status}')" = True ]
}

@test "a node marked not ready while its agent runs reports Ready again" {
	local n=${PREFIX}1
	api PATCH "/api/v1/nodes/$n/status" -H 'Content-Type: application/strategic-merge-patch+json' \
		-d '{"status":{"conditions":[{"type":"Ready","status":"Unknown","reason":"NodeStatusUnknown","message":"Kubelet stopped posting node status."}]}}' >/dev/null
	wait_for 20 node_ready_is "$n" True
	[ "$(k get node "$n" -o jsonpath='{.status.conditions[?(@.type=="Ready")].reason}')" = KubeletReady ]
}

@test "restarting the agent keeps the nodes' addresses and the running pods' IPs" {
	local n=${PREFIX}0 before ip_before
	pod_cidr "$n" 10.244.100.0/24 >/dev/null
	k create namespace sim-restart
	make_pod sim-restart keep "$n"
	wait_for 20 pod_phase_is sim-restart keep Running
	before=$(k get nodes -l type=simulated,'!sim-e2e/solo' -o jsonpath='{range .items[*]}{.metadata.name}={.status.addresses[0].address}{"\n"}{end}')
	ip_before=$(k -n sim-restart get pod keep -o jsonpath='{.status.podIP}')
	bg_stop "$(agent_pid main)"
	agent_start main --simulate 3 --node-name-prefix "$PREFIX"
	wait_for 30 grep -q "registered 3 nodes" "$C8S_DIR/agent-main.log"
	[ "$(k get nodes -l type=simulated,'!sim-e2e/solo' -o jsonpath='{range .items[*]}{.metadata.name}={.status.addresses[0].address}{"\n"}{end}')" = "$before" ]
	[ "$(k -n sim-restart get pod keep -o jsonpath='{.status.podIP}')" = "$ip_before" ]
	# a new pod does not get the IP of the one that kept running
	make_pod sim-restart fresh "$n"
	wait_for 20 pod_phase_is sim-restart fresh Running
	[ "$(k -n sim-restart get pod fresh -o jsonpath='{.status.podIP}')" != "$ip_before" ]
	wait_for 20 nodes_ready 3 "type=simulated,!sim-e2e/solo"
}

@test "stopping an agent stops its leases; the node becomes NotReady once node lifecycle runs" {
	local n=sim-solo-0 t
	agent_start solo --simulate 1 --node-name-prefix sim-solo- --node-labels sim-e2e/solo=yes \
		--lease-renew-interval 500ms
	wait_for 30 node_ready_is "$n" True
	wait_for 10 renewed_since "$n" "$(renew_time "$n")"
	bg_stop "$(agent_pid solo)"
	t=$(renew_time "$n")
	sleep 1.5
	# no renewal after the agent stopped
	[ "$(renew_time "$n")" = "$t" ]
	if placeholder nodelifecycle; then
		skip "the node lifecycle controller is still a placeholder"
	fi
	# --node-monitor-grace-period is 8 s by default
	wait_for 25 eval '[ "$(ready_status '"$n"')" != True ]'
}

@test "--fail-node-after stops one node's heartbeats; the control file fails and recovers nodes" {
	local ctl="$C8S_DIR/sim-ctl"
	: >"$ctl"
	agent_start multi --simulate 2 --node-name-prefix sim-multi- --node-labels sim-e2e/solo=multi \
		--lease-renew-interval 500ms --fail-node-after sim-multi-1=3s --control-file "$ctl"
	wait_for 30 node_ready_is sim-multi-0 True
	wait_for 30 node_ready_is sim-multi-1 True
	wait_for 20 grep -q "node sim-multi-1 failed" "$C8S_DIR/agent-multi.log"
	local t0 t1
	t1=$(renew_time sim-multi-1)
	t0=$(renew_time sim-multi-0)
	wait_for 10 renewed_since sim-multi-0 "$t0"
	sleep 1
	[ "$(renew_time sim-multi-1)" = "$t1" ]
	# its pods are ignored too
	pod_cidr sim-multi-1 10.244.110.0/24 >/dev/null
	k create namespace sim-multi
	make_pod sim-multi stuck sim-multi-1
	sleep 1
	pod_phase_is sim-multi stuck Pending
	# recover it through the control file
	echo "recover sim-multi-1" >"$ctl"
	kill -USR1 "$(agent_pid multi)"
	wait_for 10 renewed_since sim-multi-1 "$t1"
	wait_for 20 pod_phase_is sim-multi stuck Running
	# and fail the other one
	printf '# a comment\nfail sim-multi-0\n' >"$ctl"
	kill -USR1 "$(agent_pid multi)"
	wait_for 20 grep -q "node sim-multi-0 failed" "$C8S_DIR/agent-multi.log"
	t0=$(renew_time sim-multi-0)
	sleep 1.5
	[ "$(renew_time sim-multi-0)" = "$t0" ]
	bg_stop "$(agent_pid multi)"
}

@test "the agent stops promptly on SIGTERM" {
	agent_start quick --simulate 2 --node-name-prefix sim-quick- --node-labels sim-e2e/solo=quick
	wait_for 30 grep -q "registered 2 nodes" "$C8S_DIR/agent-quick.log"
	local pid
	pid=$(agent_pid quick)
	kill -TERM "$pid"
	wait_pid_gone "$pid" 5
	grep -q "stopped" "$C8S_DIR/agent-quick.log"
}

@test "the agents logged no errors and no sanitizer reports (with C8S_AGENT_BIN=./c8s-asan)" {
	bg_stop "$(agent_pid main)"
	grep -q "stopped" "$C8S_DIR/agent-main.log"
	run -1 grep -E "AddressSanitizer|LeakSanitizer|runtime error:|^E[0-9]{4} " "$C8S_DIR"/agent-*.log
}
