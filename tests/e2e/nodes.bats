#!/usr/bin/env bats
# Node controllers against a real c8s server, driven by the real kubectl:
# node IPAM (pod CIDRs), node lifecycle (heartbeats, conditions, taints,
# Ready=False on the pods of lost nodes) and taint-based eviction. The tests
# play the kubelet themselves: they create Nodes and their Leases and renew
# them with a background loop, then stop renewing to "kill" a node.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	start_server
}

teardown_file() {
	cleanup_server
}

now_time() { date -u +%Y-%m-%dT%H:%M:%SZ; }
now_micro() { date -u +%Y-%m-%dT%H:%M:%S.%6NZ; }

# conditions_json STATUS: the four kubelet conditions with a fresh heartbeat.
conditions_json() {
	local ready=$1 ts
	ts=$(now_time)
	jq -nc --arg ts "$ts" --arg ready "$ready" '[
	  {type:"MemoryPressure", status:"False", reason:"KubeletHasSufficientMemory", lastHeartbeatTime:$ts, lastTransitionTime:$ts},
	  {type:"DiskPressure", status:"False", reason:"KubeletHasNoDiskPressure", lastHeartbeatTime:$ts, lastTransitionTime:$ts},
	  {type:"PIDPressure", status:"False", reason:"KubeletHasSufficientPID", lastHeartbeatTime:$ts, lastTransitionTime:$ts},
	  {type:"Ready", status:$ready, reason:"KubeletReady", message:"kubelet is posting ready status", lastHeartbeatTime:$ts, lastTransitionTime:$ts}]'
}

# mk_node NAME [LABEL=VALUE]: a Node without status, then its status through
# nodes/status, and its Lease, as a kubelet registers.
mk_node() {
	local name=$1 labels='{}' out
	[ -n "${2:-}" ] && labels=$(jq -nc --arg kv "$2" '($kv | split("=")) as $p | {($p[0]): $p[1]}')
	out=$(api_json POST /api/v1/nodes "$(jq -nc --arg n "$name" --argjson l "$labels" \
		'{apiVersion:"v1", kind:"Node", metadata:{name:$n, labels:$l},
		  status:{capacity:{cpu:"4", memory:"8Gi", pods:"110"}}}')")
	[ "$(reply_code "$out")" = 201 ] || { echo "creating node $name: $out" >&2; return 1; }
	heartbeat "$name"
	out=$(api_json POST /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases \
		"$(jq -nc --arg n "$name" --arg t "$(now_micro)" \
			'{metadata:{name:$n}, spec:{holderIdentity:$n, leaseDurationSeconds:40, renewTime:$t}}')")
	[ "$(reply_code "$out")" = 201 ] || { echo "creating lease $name: $out" >&2; return 1; }
}

# heartbeat NAME [READY]: renew the Lease and post the node status.
heartbeat() {
	local name=$1 ready=${2:-True}
	api PATCH "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$name" \
		-H 'Content-Type: application/merge-patch+json' \
		--data-binary "{\"spec\":{\"renewTime\":\"$(now_micro)\"}}" -o /dev/null
	api PATCH "/api/v1/nodes/$name/status" -H 'Content-Type: application/merge-patch+json' \
		--data-binary "{\"status\":{\"conditions\":$(conditions_json "$ready")}}" -o /dev/null
}

# heartbeat_loop NAME...: a kubelet for each node, every second.
heartbeat_loop() {
	heartbeat_loop_ready True "$@"
}

# heartbeat_loop_ready READY NAME...: the same, reporting Ready=READY.
heartbeat_loop_ready() {
	local ready=$1 n
	shift
	while :; do
		for n in "$@"; do heartbeat "$n" "$ready"; done
		sleep 1
	done
}

# mk_pod NAME NODE [TOLERATIONS_JSON]: a pod bound to NODE.
mk_pod() {
	local out
	out=$(api_json POST /api/v1/namespaces/default/pods "$(jq -nc --arg n "$1" --arg node "$2" \
		--argjson tol "${3:-[]}" \
		'{metadata:{name:$n, labels:{app:"nodes-e2e"}},
		  spec:{nodeName:$node, tolerations:$tol, containers:[{name:"c", image:"busybox"}]}}')")
	[ "$(reply_code "$out")" = 201 ] || { echo "creating pod $1: $out" >&2; return 1; }
}

# set_pod_ready NAME: what the kubelet reports for a running, ready pod.
set_pod_ready() {
	local ts
	ts=$(now_time)
	api PATCH "/api/v1/namespaces/default/pods/$1/status" \
		-H 'Content-Type: application/merge-patch+json' --data-binary "$(jq -nc --arg ts "$ts" \
		'{status:{phase:"Running", conditions:[
		  {type:"Ready", status:"True", lastTransitionTime:$ts},
		  {type:"ContainersReady", status:"True", lastTransitionTime:$ts}]}}')" -o /dev/null
}

node_status() {
	k get node "$1" --no-headers | awk '{ print $2 }'
}

node_is() {
	[ "$(node_status "$1")" = "$2" ]
}

# taints NODE: "key:effect" per line.
taints() {
	k get node "$1" -o json | jq -r '.spec.taints[]? | "\(.key):\(.effect)"' | sort
}

has_taint() {
	taints "$1" | grep -qx "$2"
}

no_taint() {
	! taints "$1" | grep -qx "$2"
}

pod_gone() {
	! k get pod "$1" -o name >/dev/null 2>&1
}

pod_deleting() {
	[ -n "$(k get pod "$1" -o jsonpath='{.metadata.deletionTimestamp}')" ]
}

pod_cond() {
	k get pod "$1" -o json | jq -r --arg t "$2" '.status.conditions[]? | select(.type == $t) | .status'
}

pod_not_ready() {
	[ "$(pod_cond "$1" Ready)" = False ]
}

pod_cidr() {
	k get node "$1" -o jsonpath='{.spec.podCIDR}'
}

has_cidr() {
	[ -n "$(pod_cidr "$1")" ]
}

event_reasons_for() {
	k get events -A --field-selector "involvedObject.name=$1" -o json | jq -r '.items[].reason'
}

has_event() {
	event_reasons_for "$1" | grep -qx "$2"
}

@test "node IPAM: nodes get 10.42.0.0/24, 10.42.1.0/24, ...; a deleted node's CIDR is reused; allocation survives a restart" {
	mk_node ipam-a
	wait_for 10 has_cidr ipam-a
	mk_node ipam-b
	wait_for 10 has_cidr ipam-b
	mk_node ipam-c
	wait_for 10 has_cidr ipam-c
	[ "$(pod_cidr ipam-a)" = 10.42.0.0/24 ]
	[ "$(pod_cidr ipam-b)" = 10.42.1.0/24 ]
	[ "$(pod_cidr ipam-c)" = 10.42.2.0/24 ]
	run -0 k get node ipam-b -o jsonpath='{.spec.podCIDRs[0]}'
	[ "$output" = 10.42.1.0/24 ]

	# Free 10.42.0.0/24, restart: the allocation is rebuilt from the stored
	# nodes, so the new node gets the freed CIDR and not b's or c's.
	run -0 k delete node ipam-a
	restart_server
	mk_node ipam-d
	wait_for 20 has_cidr ipam-d
	[ "$(pod_cidr ipam-d)" = 10.42.0.0/24 ]
	[ "$(pod_cidr ipam-b)" = 10.42.1.0/24 ]
	k delete node ipam-b ipam-c ipam-d
}

@test "node IPAM: a node that already has a podCIDR keeps it and that CIDR is not handed out" {
	local out
	out=$(api_json POST /api/v1/nodes '{"metadata":{"name":"ipam-preset"},"spec":{"podCIDR":"10.42.0.0/24","podCIDRs":["10.42.0.0/24"]}}')
	[ "$(reply_code "$out")" = 201 ]
	mk_node ipam-e
	wait_for 10 has_cidr ipam-e
	[ "$(pod_cidr ipam-preset)" = 10.42.0.0/24 ]
	[ "$(pod_cidr ipam-e)" != 10.42.0.0/24 ]
	[[ "$(pod_cidr ipam-e)" == 10.42.*.0/24 ]]
	k delete node ipam-preset ipam-e
}

@test "a node whose heartbeats stop turns NotReady, gets the unreachable taints, its pods go after their toleration, and the taints go when it is back" {
	mk_node live
	mk_node dead
	bg_start "$C8S_DIR/hb-live.log" heartbeat_loop live
	echo "$BG_PID" >"$C8S_DIR/live.pid"
	bg_start "$C8S_DIR/hb-dead.log" heartbeat_loop dead
	local dead_loop=$BG_PID
	wait_for 10 node_is live Ready
	wait_for 10 node_is dead Ready
	no_taint dead node.kubernetes.io/unreachable:NoExecute

	# The default tolerations (5s), written out in case the admission
	# plugin does not add them; one pod that tolerates unreachable forever.
	mk_pod p-default dead '[
	  {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":5},
	  {"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":5}]'
	mk_pod p-forever dead '[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute"},
	  {"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute"}]'
	mk_pod p-live live
	set_pod_ready p-default
	set_pod_ready p-forever
	[ "$(pod_cond p-forever Ready)" = True ]

	# The node dies.
	bg_stop "$dead_loop"
	local t0=$SECONDS last
	last=$(k get lease dead -n kube-node-lease -o jsonpath='{.spec.renewTime}')
	wait_for 15 node_is dead NotReady
	local t_notready=$((SECONDS - t0))
	run -0 k get nodes
	echo "$output"
	[[ "$(printf '%s\n' "$output" | awk '$1 == "dead" { print $2 }')" == NotReady ]]
	[[ "$(printf '%s\n' "$output" | awk '$1 == "live" { print $2 }')" == Ready ]]
	run -0 k get node dead -o json
	[ "$(jq -r '.status.conditions[] | select(.type == "Ready") | .status' <<<"$output")" = Unknown ]
	[ "$(jq -r '.status.conditions[] | select(.type == "Ready") | .reason' <<<"$output")" = NodeStatusUnknown ]
	[ "$(jq -r '.status.conditions[] | select(.type == "Ready") | .message' <<<"$output")" = "Kubelet stopped posting node status." ]
	[ "$(jq -r '[.status.conditions[] | select(.status == "Unknown")] | length' <<<"$output")" = 4 ]
	wait_for 5 has_taint dead node.kubernetes.io/unreachable:NoExecute
	has_taint dead node.kubernetes.io/unreachable:NoSchedule
	run -0 k get node dead -o jsonpath='{.spec.taints[?(@.effect=="NoExecute")].timeAdded}'
	[ -n "$output" ]

	# The pod with the 5 s toleration is deleted (at once: forced), the
	# other stays but is no longer Ready; the live node is untouched.
	wait_for 15 pod_gone p-default
	local t_gone=$((SECONDS - t0))
	# Server-side: from the last lease renewal to the eviction event.
	local evicted
	evicted=$(k get events --field-selector involvedObject.name=p-default,reason=TaintManagerEviction \
		-o jsonpath='{.items[0].lastTimestamp}')
	local t_server=$(($(date -d "$evicted" +%s) - $(date -d "$last" +%s)))
	echo "# NotReady ${t_notready}s, pod deleted ${t_gone}s after the loop stopped (polled);" \
		"evicted ${t_server}s after the last lease renewal (server times)" >&3
	[ "$t_server" -le 20 ]
	wait_for 5 pod_not_ready p-forever
	[ "$(pod_cond p-forever ContainersReady)" = False ]
	run -0 k get pod p-forever -o jsonpath='{.metadata.deletionTimestamp}'
	[ -z "$output" ]
	run -0 k get pod p-live -o jsonpath='{.metadata.deletionTimestamp}'
	[ -z "$output" ]
	no_taint live node.kubernetes.io/unreachable:NoExecute

	wait_for 5 has_event dead NodeNotReady
	wait_for 5 has_event p-default TaintManagerEviction
	run -0 k get events --field-selector involvedObject.name=p-default,reason=TaintManagerEviction \
		-o jsonpath='{.items[0].message}'
	[ "$output" = "Marking for deletion Pod default/p-default" ]

	# Back: Ready again, the taints go.
	bg_start "$C8S_DIR/hb-dead.log" heartbeat_loop dead
	wait_for 10 node_is dead Ready
	wait_for 10 no_taint dead node.kubernetes.io/unreachable:NoExecute
	wait_for 5 no_taint dead node.kubernetes.io/unreachable:NoSchedule
	bg_stop "$BG_PID"
	k delete pod p-forever p-live --grace-period=0 --force >/dev/null 2>&1 || true
}

@test "a node reporting Ready=False gets the not-ready taints; they go when it reports Ready again" {
	mk_node sick
	bg_start "$C8S_DIR/hb-sick.log" heartbeat_loop sick
	local loop=$BG_PID
	wait_for 10 node_is sick Ready
	bg_stop "$loop"
	# The kubelet keeps posting, but Ready=False.
	bg_start "$C8S_DIR/hb-sick.log" heartbeat_loop_ready False sick
	loop=$BG_PID
	wait_for 5 node_is sick NotReady
	wait_for 5 has_taint sick node.kubernetes.io/not-ready:NoExecute
	has_taint sick node.kubernetes.io/not-ready:NoSchedule
	no_taint sick node.kubernetes.io/unreachable:NoExecute
	bg_stop "$loop"
	bg_start "$C8S_DIR/hb-sick.log" heartbeat_loop sick
	loop=$BG_PID
	wait_for 5 no_taint sick node.kubernetes.io/not-ready:NoExecute
	wait_for 5 no_taint sick node.kubernetes.io/not-ready:NoSchedule
	bg_stop "$loop"
}

@test "NoExecute taints: a pod that does not tolerate one is deleted at once, tolerationSeconds delays it, Exists without seconds keeps it" {
	run -0 k taint node live example.com/evict=now:NoExecute
	local t0=$SECONDS
	mk_pod t-none live
	mk_pod t-three live '[{"key":"example.com/evict","operator":"Equal","value":"now","effect":"NoExecute","tolerationSeconds":3}]'
	mk_pod t-forever live '[{"key":"example.com/evict","operator":"Exists"}]'
	# The node is Ready: deletion is graceful (nobody runs the pods here,
	# so they stay Terminating).
	wait_for 5 pod_deleting t-none
	! pod_deleting t-three
	wait_for 8 pod_deleting t-three
	[ $((SECONDS - t0)) -ge 2 ]
	! pod_deleting t-forever
	run -0 k get events --field-selector involvedObject.name=t-three,reason=TaintManagerEviction -o name
	[ -n "$output" ]
	run -0 k taint node live example.com/evict=now:NoExecute-
	k delete pod t-none t-three t-forever --grace-period=0 --force >/dev/null 2>&1 || true
}

@test "a scheduled eviction is cancelled when the taint goes before its time" {
	run -0 k taint node live example.com/drain=x:NoExecute
	local t0=$SECONDS
	mk_pod c-tol live '[{"key":"example.com/drain","operator":"Exists","effect":"NoExecute","tolerationSeconds":8}]'
	sleep 1
	run -0 k taint node live example.com/drain=x:NoExecute-
	wait_for 5 has_event c-tol TaintManagerEviction
	run -0 k get events --field-selector involvedObject.name=c-tol -o jsonpath='{.items[*].message}'
	[[ "$output" == *"Cancelling deletion of Pod default/c-tol"* ]]
	# Past the time it would have been evicted at: still there.
	while [ $((SECONDS - t0)) -lt 10 ]; do sleep 0.5; done
	! pod_deleting c-tol
	k delete pod c-tol --grace-period=0 --force >/dev/null 2>&1 || true
}

@test "cordon: kubectl cordon adds node.kubernetes.io/unschedulable:NoSchedule, uncordon removes it" {
	run -0 k cordon live
	wait_for 5 has_taint live node.kubernetes.io/unschedulable:NoSchedule
	run -0 k get nodes live --no-headers
	[[ "$output" == *"Ready,SchedulingDisabled"* ]]
	run -0 k uncordon live
	wait_for 5 no_taint live node.kubernetes.io/unschedulable:NoSchedule
}

@test "when no node is ready (full disruption) nothing is evicted: NoExecute taints are removed, NoSchedule ones stay" {
	# Silence live too: with dead and sick, every node goes NotReady.
	local n
	bg_stop "$(cat "$C8S_DIR/live.pid")"
	for n in live dead sick; do
		wait_for 15 node_is "$n" NotReady
	done
	mk_pod fd-pod live '[{"key":"node.kubernetes.io/unreachable","operator":"Exists","effect":"NoExecute","tolerationSeconds":1}]'
	for n in live dead sick; do
		wait_for 5 no_taint "$n" node.kubernetes.io/unreachable:NoExecute
		has_taint "$n" node.kubernetes.io/unreachable:NoSchedule
	done
	sleep 3
	! pod_deleting fd-pod
	! pod_gone fd-pod
	# One node back: the others are evicted from again.
	bg_start "$C8S_DIR/hb-live.log" heartbeat_loop live
	wait_for 10 node_is live Ready
	wait_for 15 has_taint dead node.kubernetes.io/unreachable:NoExecute
	bg_stop "$BG_PID"
	k delete pod fd-pod --grace-period=0 --force >/dev/null 2>&1 || true
}

# running_on PREFIX: how many Running pods of app=web-sim are on nodes PREFIX*.
running_on() {
	k get pods -l app=web-sim -o json |
		jq --arg p "$1" '[.items[] | select(.status.phase == "Running" and (.spec.nodeName | startswith($p)) and .metadata.deletionTimestamp == null)] | length'
}

replaced_on() {
	[ "$(running_on "$1")" -ge "$2" ] && [ "$(running_on "$3")" = 0 ]
}

@test "with simulated nodes: a dead node's pods run again on other nodes within 20s" {
	"$C8S_BIN" agent --help 2>&1 | grep -q -- --simulate || skip "c8s agent --simulate is not there"
	bg_start "$C8S_DIR/agent-a.log" "$C8S_BIN" agent --simulate 2 --kubeconfig "$KUBECONFIG" --node-name-prefix sa-
	bg_start "$C8S_DIR/agent-b.log" "$C8S_BIN" agent --simulate 2 --kubeconfig "$KUBECONFIG" --node-name-prefix sb-
	local agent_b=$BG_PID
	local n
	for n in sa-0 sa-1 sb-0 sb-1; do
		wait_for 20 node_is "$n" Ready
	done
	# The earlier tests' nodes are down: without them, losing two nodes of
	# four leaves the zone in its normal state (with them it would be a
	# partial disruption, in which a small zone evicts nothing).
	k delete node live dead sick --ignore-not-found >/dev/null
	local t
	k apply -f - <<-EOF
	apiVersion: apps/v1
	kind: Deployment
	metadata: {name: web-sim}
	spec:
	  replicas: 6
	  selector: {matchLabels: {app: web-sim}}
	  template:
	    metadata: {labels: {app: web-sim}}
	    spec:
	      tolerations:
	      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
	      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 5}
	      containers: [{name: c, image: busybox}]
	EOF
	wait_for 30 test_running_total 6
	[ "$(running_on sb-)" -ge 1 ]
	# Agent b dies with its two nodes.
	bg_stop "$agent_b"
	local t0=$SECONDS
	wait_for 25 replaced_on sa- 6 sb-
	t=$((SECONDS - t0))
	echo "# all 6 pods Running on the live nodes ${t}s after the agent died" >&3
	[ "$t" -le 20 ]
	run -0 k get nodes sb-0 sb-1 --no-headers
	[ "$(printf '%s\n' "$output" | grep -c NotReady)" = 2 ]
	k delete deployment web-sim >/dev/null
}

test_running_total() {
	[ "$(k get pods -l app=web-sim -o json | jq '[.items[] | select(.status.phase == "Running")] | length')" -ge "$1" ]
}

@test "pods bound to a node that was deleted are deleted after the 40s quarantine" {
	mk_node doomed
	mk_pod orphan-pod doomed
	run -0 k delete node doomed
	local t0=$SECONDS
	sleep 30
	! pod_gone orphan-pod
	wait_for 20 pod_gone orphan-pod
	echo "# orphan deleted after $((SECONDS - t0))s" >&3
}
