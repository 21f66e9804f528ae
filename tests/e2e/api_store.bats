#!/usr/bin/env bats
# Durability across a graceful restart (SIGTERM, start again on the same
# data directory): objects, revisions, watch history and allocations.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	start_apiserver
}

teardown_file() {
	cleanup_server
}

# state NS: every object of namespace NS that kubectl shows, as JSON.
state() {
	k -n "$1" get configmaps,secrets,pods,deployments,services -o json | jq -S -c '.items'
}

@test "graceful restart keeps namespaces, configmaps, secrets, pods, deployments and services exactly (kubectl get -o json)" {
	make_namespace keep
	k -n keep create configmap cfg --from-literal=a=1
	k -n keep create secret generic sec --from-literal=p=pw
	k -n keep run pod1 --image=busybox:1.36 --labels=app=pod1
	k -n keep create deployment dep --image=nginx:1.25 --replicas=2
	k -n keep set image deployment/dep nginx=nginx:1.26
	k -n keep create service nodeport svc --tcp=80:8080
	k -n keep label configmap cfg stage=one
	local before ns_before rv_before
	before=$(state keep)
	ns_before=$(k get namespace keep -o json)
	rv_before=$(list_rv)
	[ "$(jq length <<<"$before")" = 5 ]
	restart_server
	# the server stopped cleanly rather than being killed
	[ "$(grep -c '] stopped' "$C8S_DIR/server.log")" -ge 1 ]
	[ "$(grep -c '] stopped' "$C8S_DIR/server.log")" = "$(grep -c 'received Terminated' "$C8S_DIR/server.log")" ]
	[ "$(state keep)" = "$before" ]
	[ "$(k get namespace keep -o json)" = "$ns_before" ]
	# nothing was rewritten by the restart
	[ "$(list_rv)" = "$rv_before" ]
	run -0 k -n keep get deployment dep -o jsonpath='{.metadata.generation} {.spec.template.spec.containers[0].image}'
	[ "$output" = "2 nginx:1.26" ]
	run -0 k -n keep get configmap cfg -L stage
	[ "$(printf '%s\n' "$output" | awk '$1 == "cfg" { print $2, $4 }')" = "1 one" ]
}

@test "after a restart new writes get higher resourceVersions, and a watch from before the restart replays the changes" {
	make_namespace hist
	local rv0 r1 r2 r3
	rv0=$(list_rv /api/v1/namespaces/hist/configmaps)
	k -n hist create configmap h --from-literal=v=1
	r1=$(api GET /api/v1/namespaces/hist/configmaps/h | jq -r .metadata.resourceVersion)
	k -n hist patch configmap h --type merge -p '{"data":{"v":"2"}}'
	r2=$(api GET /api/v1/namespaces/hist/configmaps/h | jq -r .metadata.resourceVersion)
	restart_server
	run -0 watch_lines "/api/v1/namespaces/hist/configmaps?watch=1&resourceVersion=$rv0" 2
	[ "$(jq -r '[.type, .object.metadata.resourceVersion, .object.data.v] | join(" ")' <<<"$output")" = "ADDED $r1 1
MODIFIED $r2 2" ]
	k -n hist patch configmap h --type merge -p '{"data":{"v":"3"}}'
	r3=$(api GET /api/v1/namespaces/hist/configmaps/h | jq -r .metadata.resourceVersion)
	[ "$r3" -gt "$r2" ]
	run -0 watch_lines "/api/v1/namespaces/hist/configmaps?watch=1&resourceVersion=$r2" 1
	[ "$(jq -r '[.type, .object.metadata.resourceVersion, .object.data.v] | join(" ")' <<<"$output")" = "MODIFIED $r3 3" ]
	# optimistic concurrency still works on resourceVersions from before the restart
	run -0 api_json PUT /api/v1/namespaces/hist/configmaps/h \
		"{\"metadata\":{\"name\":\"h\",\"resourceVersion\":\"$r2\"},\"data\":{\"v\":\"stale\"}}"
	[ "$(reply_code "$output")" = 409 ]
}

@test "graceful restart keeps cluster IP and node port allocations: a second service cannot take them" {
	make_namespace alloc
	local svc
	svc=$(jq -n '{apiVersion: "v1", kind: "Service", metadata: {name: "fixed", namespace: "alloc"},
		spec: {type: "NodePort", clusterIP: "10.43.200.200", selector: {app: "x"},
		       ports: [{port: 80, nodePort: 31234}]}}')
	run -0 api_json POST /api/v1/namespaces/alloc/services "$svc"
	[ "$(reply_code "$output")" = 201 ]
	restart_server
	run -0 k -n alloc get service fixed -o jsonpath='{.spec.clusterIP} {.spec.ports[0].nodePort}'
	[ "$output" = "10.43.200.200 31234" ]
	run -0 api_json POST /api/v1/namespaces/alloc/services "$(jq '.metadata.name = "thief"' <<<"$svc")"
	[ "$(reply_code "$output")" = 422 ]
	[ "$(reply_body "$output" | jq -r .reason)" = Invalid ]
	[ "$(reply_body "$output" | jq -r '[.details.causes[].field] | sort | join(",")')" = "spec.clusterIPs" ]
	run -0 api_json POST /api/v1/namespaces/alloc/services \
		"$(jq '.metadata.name = "thief2" | del(.spec.clusterIP)' <<<"$svc")"
	[ "$(reply_code "$output")" = 422 ]
	[ "$(reply_body "$output" | jq -r '[.details.causes[].field] | join(",")')" = "spec.ports[0].nodePort" ]
	[ "$(api_code GET /api/v1/namespaces/alloc/services/thief)" = 404 ]
	[ "$(api_code GET /api/v1/namespaces/alloc/services/thief2)" = 404 ]
	# once the owner is deleted both can be reused
	k -n alloc delete service fixed
	run -0 api_json POST /api/v1/namespaces/alloc/services "$(jq '.metadata.name = "reuse"' <<<"$svc")"
	[ "$(reply_code "$output")" = 201 ]
}

@test "graceful restart keeps a pod held by a finalizer Terminating; removing the finalizer then deletes it" {
	make_namespace fin
	k -n fin run held --image=busybox --overrides='{"metadata":{"finalizers":["example.com/hold"]}}'
	k -n fin delete pod held --wait=false
	local ts
	ts=$(k -n fin get pod held -o jsonpath='{.metadata.deletionTimestamp}')
	[ -n "$ts" ]
	restart_server
	run -0 k -n fin get pod held -o jsonpath='{.metadata.deletionTimestamp} {.metadata.finalizers[0]}'
	[ "$output" = "$ts example.com/hold" ]
	k -n fin patch pod held --type merge -p '{"metadata":{"finalizers":null}}'
	run -1 k -n fin get pod held
	[ "$output" = 'Error from server (NotFound): pods "held" not found' ]
}
