#!/usr/bin/env bats
# kubectl describe of pods, deployments, replicasets, services, nodes and
# namespaces against the whole control plane (API server, scheduler and
# controllers) with a simulated node when this build's agent has one: the
# printed fields are compared with the objects, and the Events sections
# hold the server's "Created" events and the ones controllers add.
# Also kubectl get all over objects the controllers made.

bats_require_minimum_version 1.5.0

load helpers
load kubectl_helpers

NS=desc
NODE=kd-0

setup_file() {
	start_server
	if have_simulator && [ -z "${KUBECTL_E2E_NO_SIMULATOR:-}" ]; then
		bg_start "$C8S_DIR/agent.log" "$C8S_DIR/c8s" agent --kubeconfig "$KUBECONFIG" \
			--simulate 1 --node-name-prefix kd-
		echo 1 >"$C8S_DIR/simulated"
	else
		# no simulator: a Node object written through the API
		post /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"kd-0","labels":{"kubernetes.io/hostname":"kd-0"}}}'
		set_status /api/v1/nodes/kd-0 '{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status"}],
			"addresses":[{"type":"InternalIP","address":"192.0.2.10"},{"type":"Hostname","address":"kd-0"}],
			"capacity":{"cpu":"4","memory":"16Gi","pods":"110"},"allocatable":{"cpu":"4","memory":"16Gi","pods":"110"},
			"nodeInfo":{"machineID":"m","systemUUID":"s","bootID":"b","kernelVersion":"6.1.0","osImage":"Debian GNU/Linux 12 (bookworm)",
			 "containerRuntimeVersion":"containerd://1.7.2","kubeletVersion":"v1.32.0","kubeProxyVersion":"v1.32.0",
			 "operatingSystem":"linux","architecture":"amd64"}}}'
	fi
	wait_for 30 node_ready
	make_namespace "$NS"
	k -n "$NS" create deployment web --image=nginx:1.25 --replicas=2
	k -n "$NS" create service nodeport web --tcp=80:8080
	wait_for 60 deployment_settled
}

teardown_file() {
	cleanup_server
}

simulated() {
	[ -s "$C8S_DIR/simulated" ]
}

node_ready() {
	[ "$(api GET "/api/v1/nodes/$NODE" | jq -r '.status.conditions[]? | select(.type == "Ready") | .status')" = True ]
}

# deployment_settled: the ReplicaSet made both pods (running ones, with the
# simulator) and the deployment's status says so. (Polled: raw API calls,
# cheaper than kubectl.)
deployment_settled() {
	local st
	st=$(api GET "/apis/apps/v1/namespaces/$NS/deployments/web" | jq -r '"\(.status.replicas // 0) \(.status.availableReplicas // 0)"')
	if simulated; then
		[ "$st" = "2 2" ] || return 1
	else
		[ "${st% *}" = 2 ] || return 1
	fi
	[ "$(api GET "/api/v1/namespaces/$NS/pods?labelSelector=app%3Dweb" | jq '.items | length')" = 2 ]
}

rs_name() {
	k -n "$NS" get rs -l app=web -o jsonpath='{.items[0].metadata.name}'
}

# field LABEL: the value printed after "LABEL:" on its first line of $output.
field() {
	printf '%s\n' "$output" | awk -v l="$1:" 'index($0, l) == 1 { sub(/^[^:]*:[ \t]*/, ""); print; exit }'
}

# events_rows: the rows of the Events section of $output, squeezed (Age dropped).
events_rows() {
	printf '%s\n' "$output" | awk '
		/^Events:/ { on = 1; next }
		on && /^  Type/ { next }
		on && /^  ----/ { next }
		on && /^  / { r = $1 " " $2; for (i = 4; i <= NF; i++) r = r " " $i; print r }
		on && !/^  / { on = 0 }'
}

# has_event KIND NAME REASON [NS]: an event with REASON about NAME is stored.
has_event() {
	api GET "/api/v1/namespaces/${4:-$NS}/events?fieldSelector=involvedObject.kind%3D$1,involvedObject.name%3D$2,reason%3D$3" |
		jq -e '.items | length > 0' >/dev/null
}

@test "kubectl describe deployment: name, labels, selector, replica counts from status, strategy, template, new ReplicaSet, and its events" {
	local rs
	rs=$(rs_name)
	wait_for 20 has_event Deployment web ScalingReplicaSet
	wait_for 20 has_event Deployment web Created
	run -0 k -n "$NS" describe deployment web
	local st
	st=$(k -n "$NS" get deployment web -o json | jq -r '.status | "\(.updatedReplicas // 0) updated | \(.replicas // 0) total | \(.availableReplicas // 0) available | \(.unavailableReplicas // 0) unavailable"')
	[ "$(field Name)" = web ]
	[ "$(field Namespace)" = "$NS" ]
	[ "$(field Labels)" = app=web ]
	[ "$(field Selector)" = app=web ]
	[ "$(field Replicas)" = "2 desired | $st" ]
	[ "$(field StrategyType)" = RollingUpdate ]
	[ "$(field MinReadySeconds)" = 0 ]
	[ "$(field RollingUpdateStrategy)" = "25% max unavailable, 25% max surge" ]
	[ "$(field '    Image')" = nginx:1.25 ]
	[ "$(field NewReplicaSet)" = "$rs (2/2 replicas created)" ]
	[ "$(field OldReplicaSets)" = "<none>" ]
	grep -qE '^  Available +True +MinimumReplicasAvailable$' <<<"$output" || ! simulated
	local ev
	ev=$(events_rows)
	grep -qx "Normal Created c8s-apiserver Created deployment $NS/web by system:admin" <<<"$ev"
	grep -qxE "Normal ScalingReplicaSet deployment-controller Scaled up replica set $rs (from 0 )?to 2" <<<"$ev"
}

@test "kubectl describe replicaset: selector, owner (Controlled By), replicas, pods status, and the SuccessfulCreate events of its pods" {
	local rs pods
	rs=$(rs_name)
	pods=$(k -n "$NS" get pods -l app=web -o jsonpath='{.items[*].metadata.name}')
	wait_for 20 has_event ReplicaSet "$rs" SuccessfulCreate
	run -0 k -n "$NS" describe rs "$rs"
	[ "$(field Name)" = "$rs" ]
	[ "$(field Selector)" = "app=web,pod-template-hash=${rs#web-}" ]
	[ "$(field 'Controlled By')" = Deployment/web ]
	[ "$(field Replicas)" = "2 current / 2 desired" ]
	local running
	running=$(k -n "$NS" get pods -l app=web --field-selector status.phase=Running -o name | wc -l)
	[ "$(field 'Pods Status')" = "$running Running / $((2 - running)) Waiting / 0 Succeeded / 0 Failed" ]
	[ "$(field Annotations | cut -d' ' -f1)" = deployment.kubernetes.io/desired-replicas: ]
	local ev p
	ev=$(events_rows)
	grep -qx "Normal Created c8s-apiserver Created replicaset $NS/$rs by system:admin" <<<"$ev"
	for p in $pods; do
		grep -qx "Normal SuccessfulCreate replicaset-controller Created pod: $p" <<<"$ev"
	done
}

@test "kubectl describe pod: node, status, IP, owner, container state, conditions, QoS, and its Created and Scheduled events" {
	local pod rs
	rs=$(rs_name)
	pod=$(k -n "$NS" get pods -l app=web -o jsonpath='{.items[0].metadata.name}')
	wait_for 20 has_event Pod "$pod" Scheduled
	run -0 k -n "$NS" describe pod "$pod"
	local js
	js=$(k -n "$NS" get pod "$pod" -o json)
	[ "$(field Name)" = "$pod" ]
	[ "$(field Namespace)" = "$NS" ]
	[ "$(field Node)" = "$(jq -r '.spec.nodeName + "/" + (.status.hostIP // "")' <<<"$js")" ]
	[ "$(field Status)" = "$(jq -r .status.phase <<<"$js")" ]
	[ "$(field 'Controlled By')" = "ReplicaSet/$rs" ]
	[ "$(field 'QoS Class')" = BestEffort ]
	[ "$(field '    Image')" = nginx:1.25 ]
	grep -qE '^  nginx:$' <<<"$output"
	if simulated; then
		[ "$(field IP)" = "$(jq -r .status.podIP <<<"$js")" ]
		[ "$(field '    State')" = Running ]
		[ "$(field '    Ready')" = True ]
		[ "$(field '    Restart Count')" = 0 ]
		grep -qE '^  Ready +True *$' <<<"$output"
	fi
	grep -qE '^  PodScheduled +True *$' <<<"$output"
	local ev
	ev=$(events_rows)
	grep -qx "Normal Created c8s-apiserver Created pod $NS/$pod by system:admin" <<<"$ev"
	grep -qx "Normal Scheduled default-scheduler Successfully assigned $NS/$pod to $NODE" <<<"$ev"
}

@test "kubectl describe service: type, IPs, port, target port, node port, selector, and its Created event" {
	wait_for 20 has_event Service web Created
	run -0 k -n "$NS" describe service web
	local js
	js=$(k -n "$NS" get service web -o json)
	[ "$(field Name)" = web ]
	[ "$(field Selector)" = app=web ]
	[ "$(field Type)" = NodePort ]
	[ "$(field IP)" = "$(jq -r .spec.clusterIP <<<"$js")" ]
	[ "$(field IPs)" = "$(jq -r '.spec.clusterIPs | join(",")' <<<"$js")" ]
	[ "$(field 'IP Family Policy')" = SingleStack ]
	[ "$(field Port | awk '{ $1 = $1; print }')" = "80-8080 80/TCP" ]
	[ "$(field TargetPort)" = 8080/TCP ]
	[ "$(field NodePort | awk '{ $1 = $1; print }')" = "80-8080 $(jq -r '.spec.ports[0].nodePort' <<<"$js")/TCP" ]
	[ "$(field 'Session Affinity')" = None ]
	[ "$(field 'External Traffic Policy')" = Cluster ]
	grep -qx "Normal Created c8s-apiserver Created service $NS/web by system:admin" <<<"$(events_rows)"
}

@test "kubectl describe node: conditions, addresses, capacity, system info, pod CIDR, its pods, and its Created event" {
	wait_for 20 has_event Node "$NODE" Created default
	run -0 k describe node "$NODE"
	local js
	js=$(k get node "$NODE" -o json)
	[ "$(field Name)" = "$NODE" ]
	[ "$(field Roles)" = "<none>" ]
	[ "$(field Unschedulable)" = false ]
	grep -qE '^  Ready +True ' <<<"$output"
	[ "$(field '  InternalIP')" = "$(jq -r '.status.addresses[] | select(.type == "InternalIP") | .address' <<<"$js")" ]
	[ "$(field '  Kernel Version')" = "$(jq -r .status.nodeInfo.kernelVersion <<<"$js")" ]
	[ "$(field '  OS Image')" = "$(jq -r .status.nodeInfo.osImage <<<"$js")" ]
	[ "$(field '  Container Runtime Version')" = "$(jq -r .status.nodeInfo.containerRuntimeVersion <<<"$js")" ]
	[ "$(field '  Kubelet Version')" = "$(jq -r .status.nodeInfo.kubeletVersion <<<"$js")" ]
	[ "$(awk '/^Capacity:/ { on = 1; next } on && /^  pods:/ { print $2; exit }' <<<"$output")" = "$(jq -r .status.capacity.pods <<<"$js")" ]
	if [ -n "$(jq -r '.spec.podCIDR // ""' <<<"$js")" ]; then
		[ "$(field PodCIDR)" = "$(jq -r .spec.podCIDR <<<"$js")" ]
	fi
	# its pods: the deployment's, bound by the scheduler
	local n p
	n=$(k get pods -A --field-selector "spec.nodeName=$NODE" -o name | wc -l)
	[ "$(field 'Non-terminated Pods' | awk '{ $1 = $1; print }')" = "($n in total)" ]
	for p in $(k -n "$NS" get pods -l app=web -o jsonpath='{.items[*].metadata.name}'); do
		grep -qE "^  $NS +$p " <<<"$output"
	done
	grep -qx "Normal Created c8s-apiserver Created node $NODE by system:admin" <<<"$(events_rows)"
}

@test "kubectl describe namespace: name, labels, status; the server recorded its Created event" {
	run -0 k describe namespace "$NS"
	[ "$(field Name)" = "$NS" ]
	[ "$(field Labels)" = "kubernetes.io/metadata.name=$NS" ]
	[ "$(field Status)" = Active ]
	wait_for 20 has_event Namespace "$NS" Created default
	run -0 --separate-stderr k -n default get events --field-selector "involvedObject.kind=Namespace,involvedObject.name=$NS" -o wide
	[ "$(cells Created 3 | cut -d'|' -f2-4,7)" = "Normal|Created|namespace/$NS|Created namespace $NS by system:admin" ]
	[[ "$(cells Created 3 | cut -d'|' -f6)" == c8s-apiserver* ]]
}

@test "kubectl describe pods PREFIX: describes every pod whose name starts with it" {
	run -0 k -n "$NS" describe pods web
	[ "$(grep -c '^Name: ' <<<"$output")" = 2 ]
	local p
	for p in $(k -n "$NS" get pods -l app=web -o jsonpath='{.items[*].metadata.name}'); do
		grep -qE "^Name: +$p$" <<<"$output"
	done
}

@test "kubectl get all: the deployment, the ReplicaSet and the pods the controllers made, and the service" {
	local rs
	rs=$(rs_name)
	run -0 k -n "$NS" get all -o name
	[ "$(grep -c '^pod/web-' <<<"$output")" = 2 ]
	grep -qx service/web <<<"$output"
	grep -qx deployment.apps/web <<<"$output"
	grep -qx "replicaset.apps/$rs" <<<"$output"
	run -0 k -n "$NS" get all
	local st
	st=$(k -n "$NS" get deployment web -o json |
		jq -r '"\(.status.readyReplicas // 0)/\(.spec.replicas)|\(.status.updatedReplicas // 0)|\(.status.availableReplicas // 0)"')
	[ "$(cells deployment.apps/web | cut -d'|' -f2-4)" = "$st" ]
	[ "$(cells "replicaset.apps/$rs" | cut -d'|' -f2-3)" = "2|2" ]
	[ "$(cells service/web | cut -d'|' -f2)" = NodePort ]
}
