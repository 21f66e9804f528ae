#!/usr/bin/env bats
# The scheduler, driven by the real kubectl against one c8s server, with
# Node objects made through the API (no kubelets): binding to a fitting
# node, resources counted across a burst, cordon, Ready, taints and
# tolerations, nodeSelector, required node affinity, host ports, spreading
# pods of one owner, and pods that fit nowhere (FailedScheduling event,
# PodScheduled=False) until a node that fits arrives.
#
# The controller manager is off: nothing else touches these hand-made nodes
# (no heartbeats, so node lifecycle would mark them NotReady) or the pods
# (whose owners do not exist, so the garbage collector would delete them).

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	start_server --disable-controller-manager --v 3
	k create namespace sched >/dev/null
}

teardown_file() {
	cleanup_server
}

# Each test starts with no nodes and no pods. Its nodes carry the label
# e2e=<test number> and its pods select it, so that a pod left over from an
# earlier test can never land on this test's nodes.
setup() {
	T="t${BATS_TEST_NUMBER}"
	k delete pods -n sched --all --force --grace-period=0 >/dev/null 2>&1 || true
	k delete nodes --all >/dev/null 2>&1 || true
}

# mk_node NAME CPU MEMORY [PODS] [JQ]: a Ready node with that allocatable;
# JQ edits the Node before it is created (labels, taints, conditions).
mk_node() {
	local name=$1 cpu=$2 mem=$3 pods=${4:-110} edit=${5:-.}
	jq -n --arg n "$name" --arg c "$cpu" --arg m "$mem" --arg p "$pods" --arg t "$T" '{
		apiVersion: "v1", kind: "Node",
		metadata: {name: $n, labels: {"kubernetes.io/hostname": $n, e2e: $t}},
		status: {
			conditions: [{type: "Ready", status: "True", reason: "KubeletReady",
				      message: "kubelet is posting ready status"}],
			allocatable: {cpu: $c, memory: $m, pods: $p},
			capacity: {cpu: $c, memory: $m, pods: $p}}}' | jq "$edit" | k create -f - >/dev/null
}

# pod_json NAME [CPU] [MEMORY] [JQ]: a pod in namespace sched that selects
# this test's nodes, requesting CPU and MEMORY when given.
pod_json() {
	local name=$1 cpu=${2:-} mem=${3:-} edit=${4:-.}
	jq -n --arg n "$name" --arg c "$cpu" --arg m "$mem" --arg t "$T" '{
		apiVersion: "v1", kind: "Pod", metadata: {name: $n, namespace: "sched"},
		spec: {nodeSelector: {e2e: $t},
		       containers: [{name: "c", image: "registry.k8s.io/pause:3.10",
				     resources: {requests: (
					(if $c != "" then {cpu: $c} else {} end) +
					(if $m != "" then {memory: $m} else {} end))}}]}}' | jq "$edit"
}

mk_pod() {
	pod_json "$@" | k create -f - >/dev/null
}

# mk_pods JSON...: create several pods in one burst (one kubectl).
mk_pods() {
	printf '%s\n' "$@" | k create -f - >/dev/null
}

node_of() {
	k get pod -n sched "$1" -o jsonpath='{.spec.nodeName}'
}

bound() {
	[ -n "$(node_of "$1")" ]
}

bound_to() {
	[ "$(node_of "$1")" = "$2" ]
}

# pod_scheduled POD: "<status> <reason>" of its PodScheduled condition.
pod_scheduled() {
	k get pod -n sched "$1" -o json |
		jq -r '.status.conditions[]? | select(.type == "PodScheduled") | "\(.status) \(.reason // "")"'
}

is_unschedulable() {
	[ "$(pod_scheduled "$1")" = "False Unschedulable" ]
}

# failed_message POD: the message of its newest FailedScheduling event.
failed_message() {
	k get events -n sched -o json | jq -r --arg p "$1" '[.items[] |
		select(.involvedObject.name == $p and .reason == "FailedScheduling")] |
		sort_by(.lastTimestamp) | last | .message // ""'
}

# has_failed_message POD MESSAGE
has_failed_message() {
	[ "$(failed_message "$1")" = "$2" ]
}

bound_count() {
	k get pods -n sched -o json | jq '[.items[] | select(.spec.nodeName)] | length'
}

# count_on NODE: pods of namespace sched bound to NODE.
count_on() {
	k get pods -n sched -o json | jq --arg n "$1" '[.items[] | select(.spec.nodeName == $n)] | length'
}

@test "a pending pod is bound to a Ready node: spec.nodeName, PodScheduled True, a Scheduled event" {
	mk_node n1 2 4Gi
	mk_pod p1 500m 256Mi
	wait_for 20 bound_to p1 n1
	run -0 pod_scheduled p1
	[ "$output" = "True " ]
	wait_for 20 eval 'k describe pod -n sched p1 | grep -q "Successfully assigned sched/p1 to n1"'
	run -0 k describe pod -n sched p1
	[[ "$output" == *"Node:             n1/"* || "$output" == *"Node:         n1"* ]]
	printf '%s\n' "$output" | grep -E "^  Normal +Scheduled +[0-9a-z]+ +default-scheduler +Successfully assigned sched/p1 to n1$"
	run -0 k get pods -n sched p1 -o wide --no-headers
	[ "$(awk '{ print $7 }' <<<"$output")" = n1 ]
}

@test "resources: a burst does not overbook; bound pods' requests count; a freed node takes the waiting pod" {
	mk_node a 1 1Gi
	mk_node b 1 1Gi
	# Not Ready: never used.
	mk_node down 8 16Gi 110 '.status.conditions[0].status = "False"'
	# Five pods of 400m at once: two fit per node, the fifth fits nowhere.
	mk_pods "$(pod_json r1 400m 128Mi)" "$(pod_json r2 400m 128Mi)" "$(pod_json r3 400m 128Mi)" \
		"$(pod_json r4 400m 128Mi)" "$(pod_json r5 400m 128Mi)"
	wait_for 20 eval '[ "$(bound_count)" = 4 ]'
	local waiting
	waiting=$(k get pods -n sched -o json | jq -r '.items[] | select(.spec.nodeName == null) | .metadata.name')
	[ "$(wc -w <<<"$waiting")" = 1 ]
	[ "$(count_on a)" = 2 ]
	[ "$(count_on b)" = 2 ]
	[ "$(count_on down)" = 0 ]
	wait_for 20 is_unschedulable "$waiting"
	wait_for 20 has_failed_message "$waiting" "0/3 nodes are available: 1 node(s) were not ready, 2 Insufficient cpu. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
	# A memory-heavy pod names memory.
	mk_pod mem 100m 2Gi
	wait_for 20 has_failed_message mem "0/3 nodes are available: 1 node(s) were not ready, 2 Insufficient memory. preemption: 0/3 nodes are available: 1 Preemption is not helpful for scheduling, 2 No preemption victims found for incoming pod."
	# Deleting a bound pod makes room for the waiting one on that node.
	local victim
	victim=$(k get pods -n sched -o json | jq -r '[.items[] | select(.spec.nodeName == "a")][0].metadata.name')
	k delete pod -n sched "$victim" --force --grace-period=0 >/dev/null 2>&1
	wait_for 20 bound_to "$waiting" a
	run -0 pod_scheduled "$waiting"
	[ "$output" = "True " ]
}

@test "the pod count limit: allocatable pods is a limit too" {
	mk_node one 8 16Gi 1
	mk_pods "$(pod_json q1)" "$(pod_json q2)"
	wait_for 20 eval '[ "$(bound_count)" = 1 ]'
	local waiting
	waiting=$(k get pods -n sched -o json | jq -r '.items[] | select(.spec.nodeName == null) | .metadata.name')
	wait_for 20 has_failed_message "$waiting" "0/1 nodes are available: 1 Too many pods. preemption: 0/1 nodes are available: 1 No preemption victims found for incoming pod."
}

@test "kubectl cordon keeps new pods off a node; uncordon lets them back" {
	mk_node c1 4 8Gi
	mk_node c2 4 8Gi
	run -0 k cordon c1
	[[ "$output" == "node/c1 cordoned" ]]
	mk_pods "$(pod_json k1 100m)" "$(pod_json k2 100m)" "$(pod_json k3 100m)" "$(pod_json k4 100m)"
	wait_for 20 eval 'bound k1 && bound k2 && bound k3 && bound k4'
	[ "$(count_on c2)" = 4 ]
	[ "$(count_on c1)" = 0 ]
	# Cordon both: the next pod waits, and says why.
	k cordon c2 >/dev/null
	mk_pod k5 100m
	wait_for 20 is_unschedulable k5
	wait_for 20 has_failed_message k5 "0/2 nodes are available: 2 node(s) were unschedulable. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	run -0 k get pod -n sched k5 --no-headers
	[ "$(awk '{ print $3 }' <<<"$output")" = Pending ]
	# Uncordoning c1 (empty, so the least requested) brings it in.
	k uncordon c1 >/dev/null
	wait_for 20 bound_to k5 c1
}

@test "a pod that fits nowhere stays Pending with FailedScheduling and PodScheduled False, then binds to a node added for it" {
	mk_node small 1 2Gi
	mk_node cordoned 8 16Gi 110 '.spec.unschedulable = true'
	mk_pod big 3 1Gi
	wait_for 20 is_unschedulable big
	local msg="0/2 nodes are available: 1 Insufficient cpu, 1 node(s) were unschedulable. preemption: 0/2 nodes are available: 1 No preemption victims found for incoming pod, 1 Preemption is not helpful for scheduling."
	wait_for 20 has_failed_message big "$msg"
	run -0 k get pod -n sched big -o json
	[ "$(json_field "$output" '.status.conditions[] | select(.type == "PodScheduled") | .message')" = "$msg" ]
	[ "$(json_field "$output" .status.phase)" = Pending ]
	[ "$(json_field "$output" '.spec.nodeName // ""')" = "" ]
	run -0 k describe pod -n sched big
	printf '%s\n' "$output" | grep -F "default-scheduler  $msg"
	printf '%s\n' "$output" | grep -E "^  Warning +FailedScheduling "
	printf '%s\n' "$output" | grep -E "^  PodScheduled +False *$"
	# A node it fits arrives: the pod is retried and bound there.
	mk_node large 4 8Gi
	wait_for 20 bound_to big large
	run -0 pod_scheduled big
	[ "$output" = "True " ]
	wait_for 20 eval 'k describe pod -n sched big | grep -q "Successfully assigned sched/big to large"'
}

@test "no nodes at all: the pod says no nodes are available, and binds once one registers" {
	mk_pod lonely
	wait_for 20 has_failed_message lonely "no nodes available to schedule pods"
	wait_for 20 is_unschedulable lonely
	mk_node first 1 1Gi
	wait_for 20 bound_to lonely first
}

@test "taints: NoSchedule and NoExecute keep pods off unless tolerated; removing the taint lets them in" {
	mk_node gpu 4 8Gi 110 '.spec.taints = [{key: "dedicated", value: "gpu", effect: "NoSchedule"}]'
	mk_node drain 4 8Gi 110 '.spec.taints = [{key: "evict", effect: "NoExecute"}]'
	mk_pod plain
	wait_for 20 has_failed_message plain "0/2 nodes are available: 1 node(s) had untolerated taint {dedicated: gpu}, 1 node(s) had untolerated taint {evict: }. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	is_unschedulable plain
	# Equal with the right value, and the effect it names.
	mk_pod tol "" "" '.spec.tolerations = [{key: "dedicated", operator: "Equal", value: "gpu", effect: "NoSchedule"}]'
	wait_for 20 bound_to tol gpu
	# A toleration for another value does not do.
	mk_pod wrong "" "" '.spec.tolerations = [{key: "dedicated", operator: "Equal", value: "fpga", effect: "NoSchedule"}]'
	# Exists without a key tolerates everything.
	mk_pod any "" "" '.spec.tolerations = [{operator: "Exists"}]'
	wait_for 20 bound any
	mk_pod noexec "" "" '.spec.tolerations = [{key: "evict", operator: "Exists", effect: "NoExecute"}]'
	wait_for 20 bound_to noexec drain
	wait_for 20 is_unschedulable wrong
	# Removing the taint lets both waiting pods in (drain still repels them).
	k taint node gpu dedicated- >/dev/null
	wait_for 20 bound_to wrong gpu
	wait_for 20 bound_to plain gpu
}

@test "PreferNoSchedule: an untainted node is preferred, the tainted one still used when it is the only one" {
	mk_node soft 4 8Gi 110 '.spec.taints = [{key: "spot", value: "true", effect: "PreferNoSchedule"}]'
	mk_node clean 4 8Gi
	mk_pods "$(pod_json s1 100m)" "$(pod_json s2 100m)" "$(pod_json s3 100m)"
	wait_for 20 eval 'bound s1 && bound s2 && bound s3'
	[ "$(count_on clean)" = 3 ]
	# Tolerating it makes the two equal but for what is already there.
	mk_pod s4 100m "" '.spec.tolerations = [{key: "spot", operator: "Exists"}]'
	wait_for 20 bound_to s4 soft
	k cordon clean >/dev/null
	mk_pod s5 100m
	wait_for 20 bound_to s5 soft
}

@test "nodeSelector: pods go to nodes with the labels; a pod with no match waits until a node is labelled" {
	mk_node ssd 4 8Gi 110 '.metadata.labels.disk = "ssd"'
	mk_node hdd 4 8Gi 110 '.metadata.labels.disk = "hdd"'
	mk_pod fast "" "" '.spec.nodeSelector.disk = "ssd"'
	mk_pod slow "" "" '.spec.nodeSelector.disk = "hdd"'
	mk_pod nvme "" "" '.spec.nodeSelector.disk = "nvme"'
	wait_for 20 bound_to fast ssd
	wait_for 20 bound_to slow hdd
	wait_for 20 has_failed_message nvme "0/2 nodes are available: 2 node(s) didn't match Pod's node affinity/selector. preemption: 0/2 nodes are available: 2 Preemption is not helpful for scheduling."
	k label node hdd disk=nvme --overwrite >/dev/null
	wait_for 20 bound_to nvme hdd
}

@test "required node affinity: In, NotIn, Exists, DoesNotExist, Gt, Lt and matchFields" {
	mk_node za 4 8Gi 110 '.metadata.labels += {zone: "a", gen: "3"}'
	mk_node zb 4 8Gi 110 '.metadata.labels += {zone: "b", gen: "5"}'
	mk_node nozone 4 8Gi 110 '.metadata.labels += {gen: "7"}'
	# affinity POD REQUIREMENTS...: a pod whose one term is these expressions
	affinity() {
		local name=$1
		shift
		local exprs
		exprs=$(printf '%s\n' "$@" | jq -s -c .)
		mk_pod "$name" "" "" ".spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms = [{matchExpressions: $exprs}]"
	}
	affinity in-b '{"key":"zone","operator":"In","values":["b"]}'
	affinity notin-ab '{"key":"zone","operator":"NotIn","values":["a","b"]}'
	affinity no-zone '{"key":"zone","operator":"DoesNotExist"}'
	affinity gt5 '{"key":"gen","operator":"Gt","values":["5"]}'
	affinity lt4 '{"key":"gen","operator":"Lt","values":["4"]}'
	affinity zone-gen '{"key":"zone","operator":"Exists"}' '{"key":"gen","operator":"Gt","values":["4"]}'
	affinity nowhere '{"key":"zone","operator":"In","values":["z"]}'
	mk_pod named "" "" '.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms = [{matchFields: [{key: "metadata.name", operator: "In", values: ["za"]}]}]'
	# Terms are ORed.
	mk_pod either "" "" '.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms = [{matchExpressions: [{key: "zone", operator: "In", values: ["q"]}]}, {matchExpressions: [{key: "gen", operator: "In", values: ["7"]}]}]'
	wait_for 20 bound_to in-b zb
	wait_for 20 bound_to notin-ab nozone
	wait_for 20 bound_to no-zone nozone
	wait_for 20 bound_to gt5 nozone
	wait_for 20 bound_to lt4 za
	wait_for 20 bound_to zone-gen zb
	wait_for 20 bound_to named za
	wait_for 20 bound_to either nozone
	wait_for 20 has_failed_message nowhere "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector. preemption: 0/3 nodes are available: 3 Preemption is not helpful for scheduling."
	is_unschedulable nowhere
}

@test "host ports: the same port and protocol cannot share a node; another protocol can; a freed port is reused" {
	mk_node h1 4 8Gi
	mk_node h2 4 8Gi
	local port='.spec.containers[0].ports = [{containerPort: 80, hostPort: 8080}]'
	mk_pod web1 "" "" "$port"
	wait_for 20 bound web1
	mk_pod web2 "" "" "$port"
	wait_for 20 bound web2
	[ "$(node_of web1)" != "$(node_of web2)" ]
	# UDP on the same port number is another port.
	mk_pod dns "" "" '.spec.containers[0].ports = [{containerPort: 53, hostPort: 8080, protocol: "UDP"}]'
	wait_for 20 bound dns
	mk_pod web3 "" "" "$port"
	wait_for 20 has_failed_message web3 "0/2 nodes are available: 2 node(s) didn't have free ports for the requested pod ports. preemption: 0/2 nodes are available: 2 No preemption victims found for incoming pod."
	is_unschedulable web3
	# Different host IPs on one node do not conflict with each other.
	mk_node h3 4 8Gi
	mk_pod ip1 "" "" '.spec.containers[0].ports = [{containerPort: 80, hostPort: 9090, hostIP: "127.0.0.1"}] | .spec.nodeSelector["kubernetes.io/hostname"] = "h3"'
	mk_pod ip2 "" "" '.spec.containers[0].ports = [{containerPort: 80, hostPort: 9090, hostIP: "127.0.0.2"}] | .spec.nodeSelector["kubernetes.io/hostname"] = "h3"'
	wait_for 20 bound_to ip1 h3
	wait_for 20 bound_to ip2 h3
	# web3 took h3 meanwhile; deleting web1 frees its node's port for another.
	wait_for 20 bound_to web3 h3
	local freed
	freed=$(node_of web1)
	k delete pod -n sched web1 --force --grace-period=0 >/dev/null 2>&1
	mk_pod web4 "" "" "$port"
	wait_for 20 bound_to web4 "$freed"
}

@test "spreading: six pods of one owner over three equal nodes end two per node" {
	mk_node s1 4 8Gi
	mk_node s2 4 8Gi
	mk_node s3 4 8Gi
	local owner='.metadata.ownerReferences = [{apiVersion: "apps/v1", kind: "ReplicaSet", name: "web-7d9f", uid: "6a1c8a55-0c9e-4f5b-9a53-3c6f7e1d2b10", controller: true, blockOwnerDeletion: true}] | .metadata.labels.app = "web"'
	mk_pods "$(pod_json w1 100m 64Mi "$owner")" "$(pod_json w2 100m 64Mi "$owner")" \
		"$(pod_json w3 100m 64Mi "$owner")" "$(pod_json w4 100m 64Mi "$owner")" \
		"$(pod_json w5 100m 64Mi "$owner")" "$(pod_json w6 100m 64Mi "$owner")"
	wait_for 20 eval 'for p in w1 w2 w3 w4 w5 w6; do bound $p || exit 1; done'
	[ "$(count_on s1)" = 2 ]
	[ "$(count_on s2)" = 2 ]
	[ "$(count_on s3)" = 2 ]
}

@test "pods for another scheduler, and gated pods, are left alone" {
	mk_node o1 4 8Gi
	mk_pod other "" "" '.spec.schedulerName = "my-scheduler"'
	mk_pod gated "" "" '.spec.schedulingGates = [{name: "example.com/wait"}]'
	mk_pod mine
	# mine came after them in the same queue: they were not taken.
	wait_for 20 bound_to mine o1
	[ -z "$(node_of other)" ]
	[ -z "$(node_of gated)" ]
	[ -z "$(failed_message other)" ]
	[ -z "$(pod_scheduled other)" ]
	# Removing the gate lets the pod be scheduled.
	k patch pod -n sched gated --type=json -p '[{"op": "remove", "path": "/spec/schedulingGates"}]' >/dev/null
	wait_for 20 bound_to gated o1
}
