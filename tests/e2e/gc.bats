#!/usr/bin/env bats
# The garbage collector against a real c8s server, driven by the real
# kubectl: cascading deletion through ownerReferences in the background
# (kubectl's default), in the foreground (--cascade=foreground) and orphaning
# (--cascade=orphan), and objects whose owners never existed or are gone.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	start_server
}

teardown_file() {
	cleanup_server
}

uid_of() {
	k get "$1" "$2" -o jsonpath='{.metadata.uid}'
}

gone() {
	! k get "$1" "$2" -o name >/dev/null 2>&1
}

exists() {
	k get "$1" "$2" -o name >/dev/null 2>&1
}

# deleting KIND NAME: it has a deletionTimestamp.
deleting() {
	[ -n "$(k get "$1" "$2" -o jsonpath='{.metadata.deletionTimestamp}')" ]
}

# owner_uids_are KIND NAME UIDS: its ownerReferences' uids, space-separated.
owner_uids_are() {
	[ "$(k get "$1" "$2" -o jsonpath='{.metadata.ownerReferences[*].uid}')" = "$3" ]
}

# owner_ref API_VERSION KIND NAME UID [BLOCK [CONTROLLER]]: one
# ownerReference, as JSON.
owner_ref() {
	jq -nc --arg a "$1" --arg k "$2" --arg n "$3" --arg u "$4" --argjson b "${5:-true}" \
		--argjson c "${6:-true}" \
		'{apiVersion:$a, kind:$k, name:$n, uid:$u, controller:$c, blockOwnerDeletion:$b}'
}

# mk_cm NAME OWNER_REFS_JSON [FINALIZERS_JSON]
mk_cm() {
	local out
	out=$(api_json POST /api/v1/namespaces/default/configmaps "$(jq -nc --arg n "$1" \
		--argjson o "${2:-[]}" --argjson f "${3:-[]}" \
		'{metadata:{name:$n, ownerReferences:$o, finalizers:$f}, data:{a:"b"}}')")
	[ "$(reply_code "$out")" = 201 ] || { echo "creating configmap $1: $out" >&2; return 1; }
}

# rs_of DEPLOY: the ReplicaSets whose controller is DEPLOY.
rs_of() {
	k get rs -o json | jq -r --arg d "$1" \
		'.items[] | select(.metadata.ownerReferences[]? | .kind == "Deployment" and .name == $d) | .metadata.name'
}

has_rs() {
	[ -n "$(rs_of "$1")" ]
}

# pods_of RS: the pods whose controller is RS.
pods_of() {
	k get pods -o json | jq -r --arg r "$1" \
		'.items[] | select(.metadata.ownerReferences[]? | .kind == "ReplicaSet" and .name == $r) | .metadata.name'
}

has_pods() {
	[ "$(pods_of "$1" | wc -l)" -ge "$2" ]
}

pods_with_label() {
	k get pods -l "app=$1" -o name
}

no_pods_with_label() {
	[ -z "$(pods_with_label "$1")" ]
}

# mk_deploy NAME: a Deployment with a ReplicaSet and two pods, all linked
# by ownerReferences. The deployment and ReplicaSet controllers make them
# when they run; whatever they did not make within a few seconds is made
# here, as they would. Prints the ReplicaSet's name.
mk_deploy() {
	local d=$1 rs pod
	k create deployment "$d" --image=busybox --replicas=2 >/dev/null
	if ! wait_for 5 has_rs "$d"; then
		echo "# $d: no ReplicaSet from the deployment controller: making one" >&3
		local uid
		uid=$(uid_of deployment "$d")
		rs="$d-manual"
		api_json POST /apis/apps/v1/namespaces/default/replicasets "$(jq -nc --arg n "$rs" \
			--arg d "$d" --argjson o "[$(owner_ref apps/v1 Deployment "$d" "$uid")]" \
			'{metadata:{name:$n, labels:{app:$d}, ownerReferences:$o},
			  spec:{replicas:2, selector:{matchLabels:{app:$d}},
			  template:{metadata:{labels:{app:$d}}, spec:{containers:[{name:"c", image:"busybox"}]}}}}')" \
			>/dev/null
	fi
	rs=$(rs_of "$d" | head -n 1)
	if ! wait_for 5 has_pods "$rs" 2; then
		echo "# $rs: no pods from the ReplicaSet controller: making them" >&3
		local ruid
		ruid=$(uid_of rs "$rs")
		for pod in "$rs-a" "$rs-b"; do
			api_json POST /api/v1/namespaces/default/pods "$(jq -nc --arg n "$pod" --arg d "$d" \
				--argjson o "[$(owner_ref apps/v1 ReplicaSet "$rs" "$ruid")]" \
				'{metadata:{name:$n, labels:{app:$d}, ownerReferences:$o},
				  spec:{containers:[{name:"c", image:"busybox"}]}}')" >/dev/null
		done
	fi
	wait_for 5 has_pods "$rs" 2
	echo "$rs"
}

@test "kubectl delete deployment (background): its ReplicaSets and pods are deleted" {
	local rs
	rs=$(mk_deploy gc-bg)
	[ -n "$rs" ]
	run -0 k delete deployment gc-bg
	wait_for 10 gone rs "$rs"
	wait_for 10 no_pods_with_label gc-bg
	run -0 k get rs,pods -l app=gc-bg -o name
	[ -z "$output" ]
}

@test "kubectl delete deployment --cascade=orphan: ReplicaSets and pods stay, without the reference to it" {
	local rs
	rs=$(mk_deploy gc-orphan)
	run -0 k delete deployment gc-orphan --cascade=orphan
	wait_for 10 gone deployment gc-orphan
	exists rs "$rs"
	run -0 k get rs "$rs" -o jsonpath='{.metadata.ownerReferences}'
	[ -z "$output" ]
	# The pods still belong to the ReplicaSet.
	[ "$(pods_of "$rs" | wc -l)" -ge 2 ]
	# Nothing is collected later either.
	sleep 2
	exists rs "$rs"
	run -0 k delete rs "$rs"
	wait_for 10 no_pods_with_label gc-orphan
}

# foreground_supported: the API server marks an object deleted with
# propagationPolicy=Foreground with the foregroundDeletion finalizer.
foreground_supported() {
	mk_cm fg-probe '[]' '["example.com/hold"]'
	local out
	out=$(api_json DELETE /api/v1/namespaces/default/configmaps/fg-probe '{"propagationPolicy":"Foreground"}')
	api PATCH /api/v1/namespaces/default/configmaps/fg-probe -H 'Content-Type: application/merge-patch+json' \
		--data-binary '{"metadata":{"finalizers":null}}' -o /dev/null
	jq -e '.metadata.finalizers | index("foregroundDeletion")' <<<"$(reply_body "$out")" >/dev/null
}

@test "kubectl delete deployment --cascade=foreground: dependents go first, then the deployment" {
	foreground_supported || skip "the API server does not add the foregroundDeletion finalizer yet"
	local rs
	rs=$(mk_deploy gc-fg)
	run -0 k delete deployment gc-fg --cascade=foreground --timeout=20s
	gone deployment gc-fg
	gone rs "$rs"
	no_pods_with_label gc-fg
}

@test "foreground deletion waits for blocking dependents that are still terminating" {
	foreground_supported || skip "the API server does not add the foregroundDeletion finalizer yet"
	mk_cm fg-owner
	local ouid
	ouid=$(uid_of cm fg-owner)
	mk_cm fg-held "[$(owner_ref v1 ConfigMap fg-owner "$ouid" true)]" '["example.com/hold"]'
	mk_cm fg-free "[$(owner_ref v1 ConfigMap fg-owner "$ouid" false)]"
	run -0 k delete cm fg-owner --cascade=foreground --wait=false
	# The non-blocking and the blocking dependent are both deleted...
	wait_for 10 gone cm fg-free
	wait_for 10 deleting cm fg-held
	# ...and the owner waits for the one that is still there.
	sleep 2
	run -0 k get cm fg-owner -o json
	[ "$(jq -r '.metadata.finalizers | index("foregroundDeletion") != null' <<<"$output")" = true ]
	[ "$(jq -r '.metadata.deletionTimestamp != null' <<<"$output")" = true ]
	# Once it is gone, so is the owner.
	run -0 k patch cm fg-held --type=merge -p '{"metadata":{"finalizers":null}}'
	wait_for 10 gone cm fg-held
	wait_for 10 gone cm fg-owner
}

@test "orphan deletion of a ConfigMap owner: the dependent loses only that reference" {
	mk_cm or-owner
	mk_cm or-other
	local ouid xuid
	ouid=$(uid_of cm or-owner)
	xuid=$(uid_of cm or-other)
	mk_cm or-dep "[$(owner_ref v1 ConfigMap or-owner "$ouid"), $(owner_ref v1 ConfigMap or-other "$xuid" false false)]"
	run -0 k delete cm or-owner --cascade=orphan
	wait_for 10 gone cm or-owner
	run -0 k get cm or-dep -o json
	[ "$(jq -r '[.metadata.ownerReferences[].name] | join(",")' <<<"$output")" = or-other ]
	# Deleting the remaining owner in the background takes the dependent.
	run -0 k delete cm or-other
	wait_for 10 gone cm or-dep
}

@test "an object whose owner never existed is collected; one with a live owner left keeps it and loses the dead reference" {
	mk_cm dangling "[$(owner_ref v1 ConfigMap no-such-owner 0f0f0f0f-0000-4000-8000-000000000001)]"
	wait_for 10 gone cm dangling
	mk_cm live-owner
	local luid
	luid=$(uid_of cm live-owner)
	# A reference by name to live-owner with the wrong uid is dangling too.
	mk_cm half "[$(owner_ref v1 ConfigMap live-owner "$luid"), $(owner_ref v1 ConfigMap live-owner 0f0f0f0f-0000-4000-8000-000000000002 true false)]"
	wait_for 10 owner_uids_are cm half "$luid"
	sleep 1
	exists cm half
	run -0 k delete cm live-owner
	wait_for 10 gone cm half
}

@test "a chain of owners is collected link by link" {
	mk_cm chain-0
	local prev=chain-0 i uid
	for i in 1 2 3; do
		uid=$(uid_of cm "$prev")
		mk_cm "chain-$i" "[$(owner_ref v1 ConfigMap "$prev" "$uid")]"
		prev=chain-$i
	done
	run -0 k delete cm chain-0
	wait_for 10 gone cm chain-3
	gone cm chain-1
	gone cm chain-2
}

@test "a node's Lease is collected with the node; a Service's EndpointSlice with the Service" {
	local out nuid suid
	out=$(api_json POST /api/v1/nodes '{"metadata":{"name":"gc-node"}}')
	[ "$(reply_code "$out")" = 201 ]
	nuid=$(uid_of node gc-node)
	out=$(api_json POST /apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases "$(jq -nc \
		--argjson o "[$(owner_ref v1 Node gc-node "$nuid")]" \
		'{metadata:{name:"gc-node", ownerReferences:$o}, spec:{holderIdentity:"gc-node"}}')")
	[ "$(reply_code "$out")" = 201 ]
	run -0 k create service clusterip gc-svc --tcp=80:80
	suid=$(uid_of svc gc-svc)
	out=$(api_json POST /apis/discovery.k8s.io/v1/namespaces/default/endpointslices "$(jq -nc \
		--argjson o "[$(owner_ref v1 Service gc-svc "$suid")]" \
		'{metadata:{name:"gc-svc-manual", ownerReferences:$o}, addressType:"IPv4", endpoints:[]}')")
	[ "$(reply_code "$out")" = 201 ]
	run -0 k delete node gc-node
	wait_for 10 gone lease.coordination.k8s.io/gc-node "-nkube-node-lease"
	run -0 k delete svc gc-svc
	wait_for 10 gone endpointslices.discovery.k8s.io gc-svc-manual
}

@test "objects with owners survive a restart, and owners deleted while it was down are noticed" {
	mk_cm rs-owner
	local ouid
	ouid=$(uid_of cm rs-owner)
	mk_cm rs-dep "[$(owner_ref v1 ConfigMap rs-owner "$ouid")]"
	# Restart without controllers, delete the owner, restart with them.
	restart_server --disable-controller-manager
	run -0 k delete cm rs-owner
	sleep 1
	exists cm rs-dep
	restart_server
	wait_for 15 gone cm rs-dep
}
