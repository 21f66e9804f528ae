#!/usr/bin/env bats
# kubectl delete by label selector and the DELETE collection request under
# it, and propagation policies: kubectl delete deploy --cascade=orphan|
# foreground|background against the whole control plane (the garbage
# collector finishes what each policy asks). No nodes: the pods stay
# unscheduled, so their deletion is immediate.

bats_require_minimum_version 1.5.0

load helpers
load kubectl_helpers

setup_file() {
	start_server
}

teardown_file() {
	cleanup_server
}

# make_pods NS NAME:LABELS...: pods with the given labels ("a1:app=x,n=1").
make_pods() {
	local ns=$1 spec name labels
	shift
	for spec in "$@"; do
		name=${spec%%:*}
		labels=$(jq -cn --arg l "${spec#*:}" '$l | split(",") | map(split("=") | {(.[0]): .[1]}) | add')
		post "/api/v1/namespaces/$ns/pods" '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"'"$name"'","labels":'"$labels"'},
			"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}'
	done
}

# names NS RESOURCE: the names of the objects, space-separated (raw API:
# cheaper than kubectl when polled).
names() {
	local base=/api/v1
	case $2 in rs) base=/apis/apps/v1 ;; esac
	api GET "$base/namespaces/$1/${2/#rs/replicasets}" | jq -r '[.items[].metadata.name] | join(" ")'
}

# none NS RESOURCE: no object of RESOURCE is left in NS.
none() {
	[ -z "$(names "$1" "$2")" ]
}

# settled NS NAME: deployment NAME's ReplicaSet made its 2 pods.
settled() {
	[ "$(api GET "/api/v1/namespaces/$1/pods?labelSelector=app%3D$2" | jq '.items | length')" = 2 ] &&
		[ "$(api GET "/apis/apps/v1/namespaces/$1/replicasets?labelSelector=app%3D$2" | jq '.items | length')" = 1 ]
}

gone() {
	[ "$(api_code GET "$1")" = 404 ]
}

@test "kubectl delete pods -l app=x: deletes exactly the pods the selector matches, one line each" {
	make_namespace del-l
	make_pods del-l a1:app=x,tier=web a2:app=x,tier=db a3:app=x b1:app=y
	run -0 k -n del-l delete pods -l app=x
	[ "$output" = $'pod "a1" deleted\npod "a2" deleted\npod "a3" deleted' ]
	[ "$(names del-l pods)" = b1 ]
	make_pods del-l a4:app=x,tier=web a5:app=x,tier=db
	run -0 k -n del-l delete pods -l 'app=x,tier!=web'
	[ "$output" = 'pod "a5" deleted' ]
	[ "$(names del-l pods)" = "a4 b1" ]
	run -0 k -n del-l delete pods -l app=nothing
	[ "$output" = "No resources found" ]
}

@test "DELETE on the pod collection with labelSelector (and fieldSelector): returns the deleted pods, leaves the others" {
	make_namespace del-c
	make_pods del-c p1:app=x,n=1 p2:app=x,n=2 p3:app=x,n=3 q1:app=y
	local r
	r=$(api DELETE '/api/v1/namespaces/del-c/pods?labelSelector=app%3Dx,n!%3D1' -w '\n%{http_code}')
	[ "$(reply_code "$r")" = 200 ]
	[ "$(reply_body "$r" | jq -r '.kind + " " + ([.items[].metadata.name] | join(","))')" = "PodList p2,p3" ]
	[ "$(names del-c pods)" = "p1 q1" ]
	r=$(api DELETE '/api/v1/namespaces/del-c/pods?fieldSelector=metadata.name%3Dq1' -w '\n%{http_code}')
	[ "$(reply_code "$r")" = 200 ]
	[ "$(names del-c pods)" = p1 ]
	# configmaps, with kubectl delete --all
	k -n del-c create configmap c1
	k -n del-c create configmap c2
	run -0 k -n del-c delete configmaps --all
	[ "$output" = $'configmap "c1" deleted\nconfigmap "c2" deleted' ]
	[ "$(names del-c configmaps)" = "" ]
}

@test "kubectl delete deploy X --cascade=background (the default): the deployment, its ReplicaSet and its pods go" {
	make_namespace del-bg
	k -n del-bg create deployment bg --image=busybox:1.36 --replicas=2
	wait_for 30 settled del-bg bg
	run -0 k -n del-bg delete deployment bg --cascade=background
	[ "$output" = 'deployment.apps "bg" deleted' ]
	gone /apis/apps/v1/namespaces/del-bg/deployments/bg
	wait_for 30 none del-bg rs
	wait_for 30 none del-bg pods
}

@test "kubectl delete deploy X --cascade=orphan: the deployment goes; its ReplicaSet and pods stay, no longer owned by it" {
	make_namespace del-or
	k -n del-or create deployment or --image=busybox:1.36 --replicas=2
	wait_for 30 settled del-or or
	local rs pods
	rs=$(names del-or rs)
	pods=$(names del-or pods)
	run -0 k -n del-or delete deployment or --cascade=orphan
	[ "$output" = 'deployment.apps "or" deleted' ]
	gone /apis/apps/v1/namespaces/del-or/deployments/or
	[ "$(names del-or rs)" = "$rs" ]
	[ "$(k -n del-or get rs "$rs" -o jsonpath='{.metadata.ownerReferences}')" = "" ]
	[ "$(names del-or pods)" = "$pods" ]
}

@test "kubectl delete deploy X --cascade=foreground: kubectl waits until the dependents and then the deployment are gone" {
	make_namespace del-fg
	k -n del-fg create deployment fg --image=busybox:1.36 --replicas=2
	wait_for 30 settled del-fg fg
	run -0 k -n del-fg delete deployment fg --cascade=foreground --timeout=60s
	[ "$output" = 'deployment.apps "fg" deleted' ]
	gone /apis/apps/v1/namespaces/del-fg/deployments/fg
	[ "$(names del-fg rs)" = "" ]
	wait_for 30 none del-fg pods
}

@test "DELETE with propagationPolicy in the DeleteOptions body: Foreground marks the object (200, foregroundDeletion), Orphan and Background delete it; an unknown policy is 422" {
	make_namespace del-raw
	local d=/apis/apps/v1/namespaces/del-raw/deployments name r
	for name in f o b x; do
		k -n del-raw create deployment "$name" --image=busybox:1.36 --replicas=0
	done
	r=$(api_json DELETE "$d/f" '{"propagationPolicy":"Foreground"}')
	[ "$(reply_code "$r")" = 200 ]
	[ "$(reply_body "$r" | jq -c '[.kind, .metadata.name, (.metadata.deletionTimestamp != null), .metadata.finalizers]')" = \
		'["Deployment","f",true,["foregroundDeletion"]]' ]
	wait_for 30 gone "$d/f"
	r=$(api_json DELETE "$d/o" '{"kind":"DeleteOptions","apiVersion":"v1","propagationPolicy":"Orphan"}')
	[ "$(reply_code "$r")" = 200 ]
	wait_for 30 gone "$d/o"
	r=$(api_json DELETE "$d/b" '{"propagationPolicy":"Background"}')
	[ "$(reply_code "$r")" = 200 ]
	gone "$d/b"
	r=$(api_json DELETE "$d/x" '{"propagationPolicy":"Sideways"}')
	[ "$(reply_code "$r")" = 422 ]
	[ "$(reply_body "$r" | jq -r '.reason + " " + .details.causes[0].field')" = "Invalid propagationPolicy" ]
	[ "$(api_code GET "$d/x")" = 200 ]
}
