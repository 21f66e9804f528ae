#!/usr/bin/env bats
# The ReplicaSet and Deployment controllers, driven by the real kubectl
# against one c8s server: ReplicaSets and pods with their owner references,
# scaling, rolling updates that stay within maxSurge and maxUnavailable at
# every step, rollout status/history/undo, Recreate, pause and resume,
# proportional scaling mid-rollout, the progress deadline, revision history
# cleanup, and a ReplicaSet adopting and releasing pods.
#
# Most tests run pods on a fake node played by this file (fake_kubelet:
# it binds pending pods to its node, reports them Running and, after a
# short delay, Ready, unless an image is named "never-ready", and finishes
# their graceful deletion), so they depend on nothing but the API server
# and these controllers. The "full system" tests at the end use the
# scheduler and `c8s agent --simulate` instead, and are skipped when the
# agent has no --simulate.

bats_require_minimum_version 1.5.0

load helpers

FAKE_NODE=e2e-node
NEVER_READY=registry.invalid/never-ready:1

setup_file() {
	start_server
}

teardown_file() {
	cleanup_server
}

# ---- the fake node ----

# fk_api METHOD PATH [curl args...]: api with a short timeout, for the fake
# kubelet.
fk_api() {
	local method=$1 path=$2
	shift 2
	curl -sk --max-time 10 --cert "$C8S_DIR/data/tls/admin.crt" \
		--key "$C8S_DIR/data/tls/admin.key" -X "$method" \
		"https://127.0.0.1:$C8S_PORT$path" "$@"
}

# fk_add METHOD PATH CONTENT_TYPE BODY: queue a request for fk_send, which
# makes them all in one curl over one connection (the machines are slow
# and shared: a process and a TLS handshake per request add up).
fk_add() {
	FK_REQ+=(--next -sk --max-time 10 -o /dev/null --cert "$C8S_DIR/data/tls/admin.crt"
		--key "$C8S_DIR/data/tls/admin.key" -X "$1" "https://127.0.0.1:$C8S_PORT$2"
		-H "Content-Type: $3" --data-binary "$4")
}

fk_send() {
	[ ${#FK_REQ[@]} -gt 0 ] && curl "${FK_REQ[@]:1}"
	FK_REQ=()
}

# The time now, as metav1.Time and as MicroTime (no process spawned).
fk_now() {
	printf -v FK_NOW '%(%Y-%m-%dT%H:%M:%SZ)T' -1
	local us=$EPOCHREALTIME
	printf -v FK_NOW_MICRO '%(%Y-%m-%dT%H:%M:%S)T.%sZ' "${us%.*}" "${us#*.}"
}

# The node's heartbeat: its Ready condition and its Lease.
fk_heartbeat() {
	fk_add PATCH "/api/v1/nodes/$FAKE_NODE/status" application/merge-patch+json \
		"{\"status\":{\"conditions\":[{\"type\":\"Ready\",\"status\":\"True\",\"reason\":\"KubeletReady\",\"message\":\"e2e fake kubelet\",\"lastHeartbeatTime\":\"$FK_NOW\",\"lastTransitionTime\":\"$FK_SINCE\"}],\"capacity\":{\"cpu\":\"1000\",\"memory\":\"1000Gi\",\"pods\":\"10000\"},\"allocatable\":{\"cpu\":\"1000\",\"memory\":\"1000Gi\",\"pods\":\"10000\"}}}"
	fk_add PATCH "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/$FAKE_NODE" \
		application/merge-patch+json "{\"spec\":{\"renewTime\":\"$FK_NOW_MICRO\"}}"
}

# The fake kubelet's loop (run in the background by use_fake_kubelet).
fake_kubelet() {
	trap 'exit 0' TERM
	export TZ=UTC
	local -A seen=() ips=()
	local beat=0 nip=0 now delay want
	FK_REQ=()
	fk_now
	FK_SINCE=$FK_NOW
	fk_add POST /api/v1/nodes application/json \
		"{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$FAKE_NODE\"}}"
	fk_add POST /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases application/json \
		"{\"apiVersion\":\"coordination.k8s.io/v1\",\"kind\":\"Lease\",\"metadata\":{\"name\":\"$FAKE_NODE\"},\"spec\":{\"holderIdentity\":\"$FAKE_NODE\",\"leaseDurationSeconds\":40,\"renewTime\":\"$FK_NOW_MICRO\"}}"
	fk_send
	while :; do
		fk_now
		if [ $SECONDS -ge $beat ]; then
			fk_heartbeat
			beat=$((SECONDS + 2))
		fi
		delay=300
		[ ! -s "$C8S_DIR/ready-delay-ms" ] || delay=$(<"$C8S_DIR/ready-delay-ms")
		now=${EPOCHREALTIME/./}
		while IFS=$'\t' read -r ns name uid node del phase ready never qos cs_false cs_true; do
			if [ "$del" = true ]; then
				fk_add DELETE "/api/v1/namespaces/$ns/pods/$name" application/json \
					'{"gracePeriodSeconds":0}'
				continue
			fi
			if [ -z "$node" ]; then
				fk_add POST "/api/v1/namespaces/$ns/pods/$name/binding" application/json \
					"{\"apiVersion\":\"v1\",\"kind\":\"Binding\",\"metadata\":{\"name\":\"$name\"},\"target\":{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"name\":\"$FAKE_NODE\"}}"
			fi
			[ -n "${seen[$uid]:-}" ] || seen[$uid]=$now
			if [ -z "${ips[$uid]:-}" ]; then
				nip=$((nip + 1))
				ips[$uid]="10.99.$((nip / 250)).$((nip % 250 + 1))"
			fi
			want=False
			if [ "$never" != true ] && [ $((now - seen[$uid])) -ge $((delay * 1000)) ]; then
				want=True
			fi
			[ "$phase" = Running ] && [ "$ready" = "$want" ] && continue
			local cs=$cs_false ip=${ips[$uid]}
			[ $want = True ] && cs=$cs_true
			cs=${cs//@NOW@/$FK_NOW}
			fk_add PUT "/api/v1/namespaces/$ns/pods/$name/status" application/json \
				"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$name\",\"namespace\":\"$ns\"},\"status\":{\"phase\":\"Running\",\"hostIP\":\"127.0.0.1\",\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}],\"startTime\":\"$FK_NOW\",\"qosClass\":\"$qos\",\"conditions\":[{\"type\":\"PodScheduled\",\"status\":\"True\",\"lastTransitionTime\":\"$FK_NOW\"},{\"type\":\"Initialized\",\"status\":\"True\",\"lastTransitionTime\":\"$FK_NOW\"},{\"type\":\"ContainersReady\",\"status\":\"$want\",\"lastTransitionTime\":\"$FK_NOW\"},{\"type\":\"Ready\",\"status\":\"$want\",\"lastTransitionTime\":\"$FK_NOW\"}],\"containerStatuses\":$cs}}"
		done < <(fk_api GET /api/v1/pods | jq -r --arg node "$FAKE_NODE" '
			def cs($r): [.spec.containers[] | {name, image, imageID: "", ready: $r,
			  started: true, restartCount: 0, state: {running: {startedAt: "@NOW@"}}}] | tojson;
			.items[]
			| select((.spec.nodeName // "") == "" or .spec.nodeName == $node)
			| select(.status.phase != "Succeeded" and .status.phase != "Failed")
			| select(.metadata.deletionTimestamp == null or (.spec.nodeName // "") != "")
			| [.metadata.namespace, .metadata.name, .metadata.uid, (.spec.nodeName // ""),
			   (.metadata.deletionTimestamp != null), (.status.phase // ""),
			   ([.status.conditions[]? | select(.type == "Ready") | .status][0] // "False"),
			   ([.spec.containers[].image | test("never-ready")] | any),
			   (.status.qosClass // "BestEffort"), cs(false), cs(true)]
			| @tsv')
		fk_send
		sleep 0.1
	done
}

# use_fake_kubelet: run pods on the fake node (started once per file).
use_fake_kubelet() {
	if [ -s "$C8S_DIR/fake-kubelet.pid" ] && pid_alive "$(cat "$C8S_DIR/fake-kubelet.pid")"; then
		return
	fi
	[ -s "$C8S_DIR/ready-delay-ms" ] || ready_delay 300
	bg_start "$C8S_DIR/fake-kubelet.log" fake_kubelet
	echo "$BG_PID" >"$C8S_DIR/fake-kubelet.pid"
	wait_for 20 node_ready "$FAKE_NODE"
}

node_ready() {
	[ "$(k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# ready_delay MS: how long the fake kubelet waits before reporting a pod Ready.
ready_delay() {
	echo "$1" >"$C8S_DIR/ready-delay-ms"
}

# ---- reading state ----

# selector_of NS DEPLOY: the deployment's matchLabels as a label selector.
selector_of() {
	k -n "$1" get deployment "$2" -o json |
		jq -r '.spec.selector.matchLabels | to_entries | map("\(.key)=\(.value)") | join(",")'
}

# pod_counts NS SELECTOR: "<pods not terminating> <of those, ready>".
pod_counts() {
	api GET "/api/v1/namespaces/$1/pods" -G --data-urlencode "labelSelector=$2" | jq -r '
		[.items[] | select(.metadata.deletionTimestamp == null)
		 | select(.status.phase != "Succeeded" and .status.phase != "Failed")] as $p
		| "\($p | length) \([$p[] | select(any(.status.conditions[]?;
		    .type == "Ready" and .status == "True"))] | length)"'
}

# deployment_done NS DEPLOY: the status `kubectl rollout status` waits for.
deployment_done() {
	k -n "$1" get deployment "$2" -o json | jq -e '
		.metadata.generation <= (.status.observedGeneration // 0)
		and (.status.updatedReplicas // 0) >= .spec.replicas
		and (.status.replicas // 0) <= (.status.updatedReplicas // 0)
		and (.status.availableReplicas // 0) >= (.status.updatedReplicas // 0)
		and (.status.readyReplicas // 0) >= .spec.replicas'
}

# pods_are NS SELECTOR COUNT: COUNT pods exist (not terminating), all ready.
pods_are() {
	[ "$(pod_counts "$1" "$2")" = "$3 $3" ]
}

# rs_count NS SELECTOR: how many ReplicaSets match.
rs_count() {
	k -n "$1" get rs -l "$2" -o json | jq '.items | length'
}

# rs_of_image NS SELECTOR IMAGE: the ReplicaSet whose template runs IMAGE.
rs_of_image() {
	k -n "$1" get rs -l "$2" -o json |
		jq -r --arg i "$3" '.items[] | select(.spec.template.spec.containers[0].image == $i)
			| .metadata.name'
}

# rs_replicas NS RS: spec.replicas of a ReplicaSet.
rs_replicas() {
	k -n "$1" get rs "$2" -o jsonpath='{.spec.replicas}'
}

rs_replicas_are() {
	[ "$(rs_replicas "$1" "$2")" = "$3" ]
}

progressing_reason() {
	k -n "$1" get deployment "$2" \
		-o jsonpath='{.status.conditions[?(@.type=="Progressing")].reason}'
}

progressing_reason_is() {
	[ "$(progressing_reason "$1" "$2")" = "$3" ]
}

observed() {
	k -n "$1" get deployment "$2" -o json |
		jq -e '.metadata.generation <= (.status.observedGeneration // 0)'
}

deployment_events() {
	k -n "$1" get events --field-selector "involvedObject.kind=Deployment,involvedObject.name=$2" \
		-o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'
}

# rollout_watch NS DEPLOY MAX_PODS MIN_READY: run `kubectl rollout status`
# and sample the deployment's pods until it returns; succeed if it did
# and no sample had more than MAX_PODS pods (not terminating) or fewer
# than MIN_READY ready ones.
rollout_watch() {
	local ns=$1 d=$2 max=$3 min=$4 sel n r hi=0 lo=1000000 samples=0 rc
	local out="$C8S_DIR/rollout.$ns.$d.out"
	sel=$(selector_of "$ns" "$d")
	bg_start "$out" kubectl --request-timeout=20s -n "$ns" rollout status "deployment/$d" \
		--timeout=120s
	local pid=$BG_PID
	while pid_alive "$pid"; do
		read -r n r < <(pod_counts "$ns" "$sel")
		[ "$n" -gt "$hi" ] && hi=$n
		[ "$r" -lt "$lo" ] && lo=$r
		samples=$((samples + 1))
		sleep 0.05
	done
	wait "$pid" && rc=0 || rc=$?
	echo "rollout of $ns/$d: $samples samples, at most $hi pods (limit $max), at least $lo ready (floor $min), rc $rc" >&2
	cat "$out" >&2
	[ "$rc" -eq 0 ] && [ "$samples" -gt 0 ] && [ "$hi" -le "$max" ] && [ "$lo" -ge "$min" ]
}

# ---- ReplicaSets and pods ----

@test "create deployment: one ReplicaSet named after the template hash, 3 pods, owner references, revision 1" {
	use_fake_kubelet
	k create namespace dp-basic
	run -0 k -n dp-basic create deployment web --image=nginx:1.25 --replicas=3
	wait_for 30 deployment_done dp-basic web
	run -0 pods_are dp-basic app=web 3

	local d rs rsname hash duid
	d=$(k -n dp-basic get deployment web -o json)
	duid=$(json_field "$d" .metadata.uid)
	[ "$(json_field "$d" '.metadata.annotations["deployment.kubernetes.io/revision"]')" = 1 ]
	[ "$(json_field "$d" .status.observedGeneration)" = "$(json_field "$d" .metadata.generation)" ]
	[ "$(json_field "$d" '[.status.replicas, .status.updatedReplicas, .status.readyReplicas, .status.availableReplicas] | join(" ")')" = "3 3 3 3" ]
	[ "$(json_field "$d" '.status.conditions[] | select(.type == "Available") | .status + " " + .reason')" = "True MinimumReplicasAvailable" ]
	[ "$(json_field "$d" '.status.conditions[] | select(.type == "Progressing") | .status + " " + .reason')" = "True NewReplicaSetAvailable" ]

	rs=$(k -n dp-basic get rs -l app=web -o json)
	[ "$(json_field "$rs" '.items | length')" = 1 ]
	rsname=$(json_field "$rs" '.items[0].metadata.name')
	hash=$(json_field "$rs" '.items[0].metadata.labels["pod-template-hash"]')
	# Kubernetes' alphabet for a decimal hash: digits map into 456789bcdf.
	[[ "$hash" =~ ^[456789bcdf]{1,10}$ ]]
	[ "$rsname" = "web-$hash" ]
	[ "$(json_field "$rs" '.items[0].spec.selector.matchLabels["pod-template-hash"]')" = "$hash" ]
	[ "$(json_field "$rs" '.items[0].spec.template.metadata.labels["pod-template-hash"]')" = "$hash" ]
	[ "$(json_field "$rs" '.items[0].metadata.annotations | [.["deployment.kubernetes.io/revision"], .["deployment.kubernetes.io/desired-replicas"], .["deployment.kubernetes.io/max-replicas"]] | join(" ")')" = "1 3 4" ]
	[ "$(json_field "$rs" '.items[0].metadata.ownerReferences | length')" = 1 ]
	[ "$(json_field "$rs" '.items[0].metadata.ownerReferences[0] | [.apiVersion, .kind, .name, .uid, .controller, .blockOwnerDeletion] | join(" ")')" = "apps/v1 Deployment web $duid true true" ]
	[ "$(json_field "$rs" '.items[0].status | [.replicas, .fullyLabeledReplicas, .readyReplicas, .availableReplicas] | join(" ")')" = "3 3 3 3" ]
	local rsuid
	rsuid=$(json_field "$rs" '.items[0].metadata.uid')

	run -0 k -n dp-basic get pods -l app=web -o json
	local pods=$output
	[ "$(json_field "$pods" '.items | length')" = 3 ]
	json_field "$pods" '.items[].metadata.name' | while read -r name; do
		[[ "$name" =~ ^$rsname-[bcdfghjklmnpqrstvwxz2456789]{5}$ ]]
	done
	[ "$(json_field "$pods" "[.items[].metadata.ownerReferences[0] | [.apiVersion, .kind, .name, .uid, .controller, .blockOwnerDeletion] | join(\" \")] | unique | join(\",\")")" = "apps/v1 ReplicaSet $rsname $rsuid true true" ]
	[ "$(json_field "$pods" '[.items[].metadata.labels["pod-template-hash"]] | unique | join(",")')" = "$hash" ]

	# kubectl's views of it.
	run -0 k -n dp-basic get deployment web --no-headers
	[ "$(awk '{ print $2, $3, $4 }' <<<"$output")" = "3/3 3 3" ]
	run -0 k -n dp-basic get rs --no-headers
	[ "$(awk '{ print $1, $2, $3, $4 }' <<<"$output")" = "$rsname 3 3 3" ]
	run -0 k -n dp-basic get events --field-selector "involvedObject.name=$rsname" \
		-o jsonpath='{range .items[*]}{.reason} {.source.component}: {.message}{"\n"}{end}'
	[ "$(grep -c "^SuccessfulCreate replicaset-controller: Created pod: $rsname-" <<<"$output")" = 3 ]
	run -0 deployment_events dp-basic web
	[[ "$output" == *"ScalingReplicaSet: Scaled up replica set $rsname to 3"* ]]
	k delete namespace dp-basic --wait=false
}

@test "kubectl scale: to 10 and back to 2, the same ReplicaSet resized" {
	use_fake_kubelet
	k create namespace dp-scale
	k -n dp-scale create deployment web --image=nginx:1.25 --replicas=3
	wait_for 30 deployment_done dp-scale web
	local rsname
	rsname=$(k -n dp-scale get rs -l app=web -o jsonpath='{.items[0].metadata.name}')

	run -0 k -n dp-scale scale deployment web --replicas=10
	[ "$output" = "deployment.apps/web scaled" ]
	wait_for 30 deployment_done dp-scale web
	run -0 pods_are dp-scale app=web 10
	[ "$(rs_count dp-scale app=web)" = 1 ]
	[ "$(rs_replicas dp-scale "$rsname")" = 10 ]
	[ "$(k -n dp-scale get rs "$rsname" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/desired-replicas}')" = 10 ]

	run -0 k -n dp-scale scale deployment web --replicas=2
	wait_for 30 deployment_done dp-scale web
	wait_for 30 pods_are dp-scale app=web 2
	[ "$(rs_count dp-scale app=web)" = 1 ]
	[ "$(rs_replicas dp-scale "$rsname")" = 2 ]
	run -0 deployment_events dp-scale web
	[[ "$output" == *"Scaled up replica set $rsname to 10 from 3"* ]]
	[[ "$output" == *"Scaled down replica set $rsname to 2 from 10"* ]]
	run -0 k -n dp-scale get events --field-selector "involvedObject.name=$rsname,reason=SuccessfulDelete" -o name
	[ "$(wc -l <<<"$output")" = 8 ]
	k delete namespace dp-scale --wait=false
}

# ---- rolling updates ----

@test "kubectl set image: a rolling update stays within maxSurge and maxUnavailable at every step" {
	use_fake_kubelet
	ready_delay 400
	k create namespace dp-roll
	# 10 replicas, maxSurge 25% (3, rounded up), maxUnavailable 25% (2, rounded down).
	k -n dp-roll create deployment web --image=nginx:1.25 --replicas=10
	wait_for 60 deployment_done dp-roll web
	local old
	old=$(k -n dp-roll get rs -l app=web -o jsonpath='{.items[0].metadata.name}')

	run -0 k -n dp-roll set image deployment/web nginx=nginx:1.26
	[ "$output" = "deployment.apps/web image updated" ]
	rollout_watch dp-roll web 13 8

	run -0 k -n dp-roll get deployment web -o json
	[ "$(json_field "$output" '.metadata.annotations["deployment.kubernetes.io/revision"]')" = 2 ]
	[ "$(json_field "$output" '[.status.replicas, .status.updatedReplicas, .status.availableReplicas] | join(" ")')" = "10 10 10" ]
	local new
	new=$(rs_of_image dp-roll app=web nginx:1.26)
	[ -n "$new" ] && [ "$new" != "$old" ]
	[ "$(rs_replicas dp-roll "$new")" = 10 ]
	[ "$(rs_replicas dp-roll "$old")" = 0 ]
	[ "$(k -n dp-roll get rs "$new" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" = 2 ]
	wait_for 30 pods_are dp-roll "pod-template-hash=${new#web-}" 10
	run -0 deployment_events dp-roll web
	[[ "$output" == *"Scaled up replica set $new to 3"* ]]
	[[ "$output" == *"Scaled down replica set $old to 0 from "* ]]
	[ "$(progressing_reason dp-roll web)" = NewReplicaSetAvailable ]

	# maxSurge 0: pods are replaced in place, never more than 4.
	k -n dp-roll scale deployment web --replicas=4
	wait_for 30 deployment_done dp-roll web
	k -n dp-roll patch deployment web --type=merge \
		-p '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":0,"maxUnavailable":1}}}}'
	k -n dp-roll set image deployment/web nginx=nginx:1.27
	rollout_watch dp-roll web 4 3
	# maxUnavailable 0: never fewer than 4 ready.
	k -n dp-roll patch deployment web --type=merge \
		-p '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0}}}}'
	k -n dp-roll set image deployment/web nginx=nginx:1.28
	rollout_watch dp-roll web 5 4
	ready_delay 300
	k delete namespace dp-roll --wait=false
}

@test "kubectl rollout history and undo: revisions, change causes, and the previous template brought back" {
	use_fake_kubelet
	k create namespace dp-undo
	k -n dp-undo create deployment web --image=nginx:1.25 --replicas=3
	wait_for 30 deployment_done dp-undo web
	local rev1
	rev1=$(rs_of_image dp-undo app=web nginx:1.25)
	k -n dp-undo set image deployment/web nginx=nginx:1.26
	k -n dp-undo annotate deployment web kubernetes.io/change-cause="to 1.26"
	run -0 k -n dp-undo rollout status deployment/web --timeout=60s
	[[ "$output" == *'deployment "web" successfully rolled out'* ]]
	local rev2
	rev2=$(rs_of_image dp-undo app=web nginx:1.26)
	wait_for 30 eval '[ "$(k -n dp-undo get rs '"$rev2"' -o jsonpath="{.metadata.annotations.kubernetes\.io/change-cause}")" = "to 1.26" ]'

	run -0 k -n dp-undo rollout history deployment/web
	[[ "$output" == *"REVISION  CHANGE-CAUSE"* ]]
	[ "$(awk '$1 == 1 { print $2 }' <<<"$output")" = "<none>" ]
	[ "$(awk '$1 == 2 { print $2, $3 }' <<<"$output")" = "to 1.26" ]
	run -0 k -n dp-undo rollout history deployment/web --revision=1
	[[ "$output" == *"Image:"*"nginx:1.25"* ]]

	run -0 k -n dp-undo rollout undo deployment/web
	[ "$output" = "deployment.apps/web rolled back" ]
	run -0 k -n dp-undo rollout status deployment/web --timeout=60s
	# The old ReplicaSet is reused, as revision 3; no third one is made.
	[ "$(rs_count dp-undo app=web)" = 2 ]
	[ "$(k -n dp-undo get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}')" = nginx:1.25 ]
	[ "$(k -n dp-undo get deployment web -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" = 3 ]
	[ "$(k -n dp-undo get rs "$rev1" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" = 3 ]
	[ "$(k -n dp-undo get rs "$rev1" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision-history}')" = 1 ]
	[ "$(rs_replicas dp-undo "$rev1")" = 3 ]
	[ "$(rs_replicas dp-undo "$rev2")" = 0 ]
	wait_for 30 pods_are dp-undo "pod-template-hash=${rev1#web-}" 3
	run -0 k -n dp-undo rollout history deployment/web
	[ "$(awk '$1 ~ /^[0-9]+$/ { print $1 }' <<<"$output" | tr '\n' ' ')" = "2 3 " ]
	# Undo again goes back to 1.26, as revision 4.
	run -0 k -n dp-undo rollout undo deployment/web
	run -0 k -n dp-undo rollout status deployment/web --timeout=60s
	[ "$(k -n dp-undo get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}')" = nginx:1.26 ]
	[ "$(k -n dp-undo get rs "$rev2" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/revision}')" = 4 ]
	k delete namespace dp-undo --wait=false
}

# ---- strategies, pause, scaling mid-rollout ----

# template_watch NS DEPLOY: run `kubectl rollout status` and sample the
# deployment's pods, terminating ones included, until it returns; succeed
# if it did and no sample held pods of two templates at once.
template_watch() {
	local ns=$1 d=$2 sel n mixed=0 samples=0 rc
	local out="$C8S_DIR/rollout.$ns.$d.out"
	sel=$(selector_of "$ns" "$d")
	bg_start "$out" kubectl --request-timeout=20s -n "$ns" rollout status "deployment/$d" \
		--timeout=120s
	local pid=$BG_PID
	while pid_alive "$pid"; do
		n=$(api GET "/api/v1/namespaces/$ns/pods" -G --data-urlencode "labelSelector=$sel" |
			jq '[.items[].metadata.labels["pod-template-hash"]] | unique | length')
		[ "$n" -gt 1 ] && mixed=$((mixed + 1))
		samples=$((samples + 1))
		sleep 0.05
	done
	wait "$pid" && rc=0 || rc=$?
	echo "rollout of $ns/$d: $samples samples, $mixed with two templates, rc $rc" >&2
	cat "$out" >&2
	[ "$rc" -eq 0 ] && [ "$samples" -gt 0 ] && [ "$mixed" -eq 0 ]
}

@test "Recreate strategy: the old pods are all gone before a new one is made" {
	use_fake_kubelet
	k create namespace dp-recreate
	k -n dp-recreate apply -f - <<'EOF'
apiVersion: apps/v1
kind: Deployment
metadata:
  name: rc
spec:
  replicas: 3
  strategy:
    type: Recreate
  selector:
    matchLabels: {app: rc}
  template:
    metadata:
      labels: {app: rc}
    spec:
      containers:
      - name: app
        image: nginx:1.25
EOF
	wait_for 30 deployment_done dp-recreate rc
	local old new
	old=$(rs_of_image dp-recreate app=rc nginx:1.25)
	k -n dp-recreate set image deployment/rc app=nginx:1.26
	template_watch dp-recreate rc
	new=$(rs_of_image dp-recreate app=rc nginx:1.26)
	[ "$(rs_replicas dp-recreate "$new")" = 3 ]
	[ "$(rs_replicas dp-recreate "$old")" = 0 ]
	wait_for 30 pods_are dp-recreate "pod-template-hash=${new#rc-}" 3
	run -0 deployment_events dp-recreate rc
	[[ "$output" == *"Scaled down replica set $old to 0 from 3"* ]]
	[[ "$output" == *"Scaled up replica set $new to 3"* ]]
	k delete namespace dp-recreate --wait=false
}

@test "kubectl rollout pause and resume: no rollout while paused, scaling still works" {
	use_fake_kubelet
	k create namespace dp-pause
	k -n dp-pause create deployment web --image=nginx:1.25 --replicas=2
	wait_for 30 deployment_done dp-pause web
	run -0 k -n dp-pause rollout pause deployment/web
	[ "$output" = "deployment.apps/web paused" ]
	wait_for 30 progressing_reason_is dp-pause web DeploymentPaused
	[ "$(k -n dp-pause get deployment web -o jsonpath='{.status.conditions[?(@.type=="Progressing")].status}')" = Unknown ]

	k -n dp-pause set image deployment/web nginx=nginx:1.26
	wait_for 30 observed dp-pause web
	[ "$(rs_count dp-pause app=web)" = 1 ]
	[ "$(k -n dp-pause get deployment web -o jsonpath='{.status.updatedReplicas}')" = "" ]

	# Scaling goes on while paused, on the old ReplicaSet.
	k -n dp-pause scale deployment web --replicas=3
	local old
	old=$(rs_of_image dp-pause app=web nginx:1.25)
	wait_for 30 rs_replicas_are dp-pause "$old" 3
	wait_for 30 pods_are dp-pause app=web 3
	[ "$(rs_count dp-pause app=web)" = 1 ]

	run -0 k -n dp-pause rollout resume deployment/web
	[ "$output" = "deployment.apps/web resumed" ]
	run -0 k -n dp-pause rollout status deployment/web --timeout=60s
	[ "$(rs_count dp-pause app=web)" = 2 ]
	local new
	new=$(rs_of_image dp-pause app=web nginx:1.26)
	[ "$(rs_replicas dp-pause "$new")" = 3 ]
	[ "$(rs_replicas dp-pause "$old")" = 0 ]
	wait_for 30 progressing_reason_is dp-pause web NewReplicaSetAvailable
	k delete namespace dp-pause --wait=false
}

@test "scaling mid-rollout spreads the new replicas in proportion over the old and new ReplicaSets" {
	use_fake_kubelet
	k create namespace dp-prop
	k -n dp-prop create deployment web --image=nginx:1.25 --replicas=10
	k -n dp-prop patch deployment web --type=merge \
		-p '{"spec":{"strategy":{"rollingUpdate":{"maxSurge":3,"maxUnavailable":2}}}}'
	wait_for 60 deployment_done dp-prop web
	local old new
	old=$(rs_of_image dp-prop app=web nginx:1.25)
	# New pods never become ready: the rollout stops at 8 old + 5 new
	# (13 = 10 + maxSurge; 8 = 10 - maxUnavailable available).
	k -n dp-prop set image deployment/web nginx=$NEVER_READY
	wait_for 30 eval '[ -n "$(rs_of_image dp-prop app=web '"$NEVER_READY"')" ]'
	new=$(rs_of_image dp-prop app=web "$NEVER_READY")
	wait_for 30 rs_replicas_are dp-prop "$new" 5
	wait_for 30 rs_replicas_are dp-prop "$old" 8
	# To 30: 33 allowed, the 20 more split 12 old (8 * 33 / 13 = 20.3) and 8 new.
	k -n dp-prop scale deployment web --replicas=30
	wait_for 30 rs_replicas_are dp-prop "$old" 20
	wait_for 30 rs_replicas_are dp-prop "$new" 13
	[ "$(k -n dp-prop get rs "$old" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/desired-replicas}')" = 30 ]
	[ "$(k -n dp-prop get rs "$new" -o jsonpath='{.metadata.annotations.deployment\.kubernetes\.io/max-replicas}')" = 33 ]
	wait_for 30 pods_are dp-prop "pod-template-hash=${old#web-}" 20
	# And down to 5 (8 allowed): 25 fewer, larger first: old 20 * 8 / 33
	# = 4.8 -> 5, new 13 * 8 / 33 = 3.2 -> 3. With 2 unavailable allowed
	# the stuck rollout then goes on: old 5 -> 3, new 3 -> 5.
	k -n dp-prop scale deployment web --replicas=5
	wait_for 30 eval '[ "$(rs_replicas dp-prop '"$old"') $(rs_replicas dp-prop '"$new"')" = "3 5" ]'
	run -0 deployment_events dp-prop web
	[[ "$output" == *"Scaled up replica set $old to 20 from 8"* ]]
	[[ "$output" == *"Scaled up replica set $new to 13 from 5"* ]]
	[[ "$output" == *"Scaled down replica set $old to 5 from 20"* ]]
	[[ "$output" == *"Scaled down replica set $new to 3 from 13"* ]]
	k delete namespace dp-prop --wait=false
}

@test "progressDeadlineSeconds: a stuck rollout is reported, and kubectl rollout status fails" {
	use_fake_kubelet
	k create namespace dp-deadline
	k -n dp-deadline create deployment web --image=nginx:1.25 --replicas=2
	k -n dp-deadline patch deployment web --type=merge -p '{"spec":{"progressDeadlineSeconds":3}}'
	wait_for 30 deployment_done dp-deadline web
	k -n dp-deadline set image deployment/web nginx=$NEVER_READY
	run -1 k -n dp-deadline rollout status deployment/web --timeout=60s
	[[ "$output" == *'error: deployment "web" exceeded its progress deadline'* ]]
	run -0 k -n dp-deadline get deployment web -o json
	[ "$(json_field "$output" '.status.conditions[] | select(.type == "Progressing") | .status + " " + .reason')" = "False ProgressDeadlineExceeded" ]
	[[ "$(json_field "$output" '.status.conditions[] | select(.type == "Progressing") | .message')" == *"has timed out progressing."* ]]
	# The old pods stay: availability is kept while the rollout is stuck.
	[ "$(json_field "$output" .status.availableReplicas)" -ge 1 ]
	# A new template starts a new rollout, which succeeds.
	k -n dp-deadline set image deployment/web nginx=nginx:1.26
	run -0 k -n dp-deadline rollout status deployment/web --timeout=60s
	wait_for 30 progressing_reason_is dp-deadline web NewReplicaSetAvailable
	k delete namespace dp-deadline --wait=false
}

@test "revisionHistoryLimit: old empty ReplicaSets beyond the limit are deleted, oldest revision first" {
	use_fake_kubelet
	k create namespace dp-history
	k -n dp-history create deployment web --image=nginx:1.25 --replicas=2
	k -n dp-history patch deployment web --type=merge -p '{"spec":{"revisionHistoryLimit":1}}'
	wait_for 30 deployment_done dp-history web
	local v
	for v in 1.26 1.27 1.28; do
		k -n dp-history set image deployment/web nginx=nginx:$v
		k -n dp-history rollout status deployment/web --timeout=60s
	done
	wait_for 30 eval '[ "$(rs_count dp-history app=web)" = 2 ]'
	run -0 k -n dp-history get rs -l app=web -o json
	[ "$(json_field "$output" '[.items[] | .spec.template.spec.containers[0].image] | sort | join(" ")')" = "nginx:1.27 nginx:1.28" ]
	run -0 k -n dp-history rollout history deployment/web
	[ "$(awk '$1 ~ /^[0-9]+$/ { print $1 }' <<<"$output" | tr '\n' ' ')" = "3 4 " ]
	k delete namespace dp-history --wait=false
}

@test "a ReplicaSet releases a pod relabelled away, replaces it, and adopts a matching orphan" {
	use_fake_kubelet
	k create namespace dp-rs
	k -n dp-rs apply -f - <<'EOF'
apiVersion: apps/v1
kind: ReplicaSet
metadata:
  name: fe
spec:
  replicas: 2
  selector:
    matchLabels: {tier: fe}
  template:
    metadata:
      labels: {tier: fe}
    spec:
      containers:
      - name: app
        image: nginx:1.25
EOF
	wait_for 30 pods_are dp-rs tier=fe 2
	local rsuid pod
	rsuid=$(k -n dp-rs get rs fe -o jsonpath='{.metadata.uid}')
	pod=$(k -n dp-rs get pods -l tier=fe -o jsonpath='{.items[0].metadata.name}')

	k -n dp-rs label pod "$pod" tier=debug --overwrite
	wait_for 30 eval '[ "$(k -n dp-rs get pod '"$pod"' -o json | jq "[.metadata.ownerReferences[]?] | length")" = 0 ]'
	wait_for 30 pods_are dp-rs tier=fe 2
	[ "$(k -n dp-rs get rs fe -o jsonpath='{.status.replicas}')" = 2 ]

	# Matching again: adopted, and one pod too many is deleted.
	k -n dp-rs label pod "$pod" tier=fe --overwrite
	wait_for 30 pods_are dp-rs tier=fe 2
	run -0 k -n dp-rs get pods -l tier=fe -o json
	[ "$(json_field "$output" "[.items[].metadata.ownerReferences[0].uid] | unique | join(\",\")")" = "$rsuid" ]
	run -0 k -n dp-rs get events --field-selector involvedObject.name=fe \
		-o jsonpath='{range .items[*]}{.reason}{"\n"}{end}'
	[[ "$output" == *SuccessfulCreate* && "$output" == *SuccessfulDelete* ]]

	# A standalone pod with matching labels is adopted too.
	k -n dp-rs run stray --image=nginx:1.25 --labels=tier=fe
	wait_for 30 pods_are dp-rs tier=fe 2
	k delete namespace dp-rs --wait=false
}

# ---- the full system: scheduler and simulated nodes ----

has_simulator() {
	# (Not a pipe into grep -q: the agent may die of SIGPIPE, and with
	# pipefail that reads as "no".)
	local help
	help=$("$C8S_BIN" agent --help 2>&1) || true
	[[ "$help" == *--simulate* ]]
}

# use_simulator: the fake node goes (the scheduler must not pick it) and
# `c8s agent --simulate 3` plays three nodes.
use_simulator() {
	if [ -s "$C8S_DIR/agent.pid" ] && pid_alive "$(cat "$C8S_DIR/agent.pid")"; then
		return
	fi
	if [ -s "$C8S_DIR/fake-kubelet.pid" ]; then
		bg_stop "$(cat "$C8S_DIR/fake-kubelet.pid")"
		rm -f "$C8S_DIR/fake-kubelet.pid"
		k delete node "$FAKE_NODE" --ignore-not-found
	fi
	bg_start "$C8S_DIR/agent.log" "$C8S_BIN" agent --simulate 3 --kubeconfig "$KUBECONFIG" \
		--node-name-prefix e2e-sim-
	echo "$BG_PID" >"$C8S_DIR/agent.pid"
	local n
	for n in 0 1 2; do
		wait_for 30 node_ready "e2e-sim-$n"
	done
}

@test "full system: scheduler and simulated nodes run a deployment through a rolling update and undo" {
	has_simulator || skip "c8s agent has no --simulate"
	use_simulator
	k create namespace dp-full
	k -n dp-full create deployment web --image=nginx:1.25 --replicas=6
	run -0 k -n dp-full rollout status deployment/web --timeout=60s
	run -0 pods_are dp-full app=web 6
	# Spread over the simulated nodes by the scheduler.
	run -0 k -n dp-full get pods -l app=web -o json
	[ "$(json_field "$output" '[.items[].spec.nodeName | startswith("e2e-sim-")] | all')" = true ]
	[ "$(json_field "$output" '[.items[].spec.nodeName] | unique | length')" -ge 2 ]

	# 6 replicas: maxSurge 2 (25% up), maxUnavailable 1 (25% down).
	k -n dp-full set image deployment/web nginx=nginx:1.26
	rollout_watch dp-full web 8 5
	k -n dp-full scale deployment web --replicas=9
	run -0 k -n dp-full rollout status deployment/web --timeout=60s
	wait_for 30 pods_are dp-full app=web 9
	run -0 k -n dp-full rollout undo deployment/web
	rollout_watch dp-full web 12 7
	[ "$(k -n dp-full get deployment web -o jsonpath='{.spec.template.spec.containers[0].image}')" = nginx:1.25 ]
	run -0 k -n dp-full rollout history deployment/web
	[ "$(awk '$1 ~ /^[0-9]+$/ { print $1 }' <<<"$output" | tr '\n' ' ')" = "2 3 " ]
	k -n dp-full scale deployment web --replicas=0
	wait_for 30 pods_are dp-full app=web 0
	k delete namespace dp-full --wait=false
}

@test "full system: Recreate with the scheduler and simulated nodes" {
	has_simulator || skip "c8s agent has no --simulate"
	use_simulator
	k create namespace dp-full-rc
	k -n dp-full-rc create deployment rc --image=nginx:1.25 --replicas=3
	k -n dp-full-rc patch deployment rc --type=merge \
		-p '{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null}}}'
	run -0 k -n dp-full-rc rollout status deployment/rc --timeout=60s
	local oldh
	oldh=$(k -n dp-full-rc get rs -l app=rc -o jsonpath='{.items[0].metadata.labels.pod-template-hash}')
	k -n dp-full-rc set image deployment/rc nginx=nginx:1.26
	template_watch dp-full-rc rc
	run -0 deployment_events dp-full-rc rc
	[[ "$output" == *"Scaled down replica set rc-$oldh to 0 from 3"* ]]
	wait_for 30 pods_are dp-full-rc app=rc 3
	run -0 k -n dp-full-rc get pods -l app=rc -o jsonpath='{.items[*].spec.containers[0].image}'
	[ "$output" = "nginx:1.26 nginx:1.26 nginx:1.26" ]
	k delete namespace dp-full-rc --wait=false
}
