#!/usr/bin/env bats
# Writes through patches, as kubectl makes them: kubectl set image, label,
# annotate, rollout restart and scale; kubectl patch --type strategic with
# its directives ($patch: delete, $setElementOrder, $retainKeys) and list
# merging by key (env by name, ports by containerPort); and malformed
# patches, which get the right Status and change nothing.

bats_require_minimum_version 1.5.0

load helpers
load kubectl_helpers

NS=patch-ns
D=/apis/apps/v1/namespaces/$NS/deployments

setup_file() {
	start_apiserver
	make_namespace "$NS"
}

teardown_file() {
	cleanup_server
}

# deploy NAME: a deployment with containers main (env, ports) and sidecar.
deploy() {
	post "$D" '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"'"$1"'","labels":{"app":"'"$1"'"}},
		"spec":{"replicas":2,"selector":{"matchLabels":{"app":"'"$1"'"}},
		 "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":1,"maxUnavailable":0}},
		 "template":{"metadata":{"labels":{"app":"'"$1"'"}},"spec":{"containers":[
		  {"name":"main","image":"nginx:1.25","env":[{"name":"MODE","value":"fast"},{"name":"LEVEL","value":"3"}],
		   "ports":[{"name":"http","containerPort":80},{"name":"https","containerPort":443}]},
		  {"name":"sidecar","image":"busybox:1.36"}]}}}}'
}

# dj NAME JQ: a value of deployment NAME, as compact JSON with sorted keys.
dj() {
	api GET "$D/$1" | jq -S -c "$2"
}

@test "kubectl set image: a strategic merge patch changes only the named container's image; generation moves, labels do not" {
	deploy setimg
	run -0 --separate-stderr k -n "$NS" set image deployment/setimg main=nginx:1.26 -v=8
	[ "$output" = "deployment.apps/setimg image updated" ]
	# kubectl sent a strategic merge patch with the containers' order
	grep -q 'PATCH https://.*/deployments/setimg?fieldManager=kubectl-set' <<<"$stderr"
	grep -q 'Request Body.*\$setElementOrder/containers' <<<"$stderr"
	[ "$(dj setimg '[.spec.template.spec.containers[] | [.name, .image]]')" = '[["main","nginx:1.26"],["sidecar","busybox:1.36"]]' ]
	[ "$(dj setimg '.spec.template.spec.containers[0].env')" = '[{"name":"MODE","value":"fast"},{"name":"LEVEL","value":"3"}]' ]
	[ "$(dj setimg .metadata.generation)" = 2 ]
	run -0 k -n "$NS" set image deployment/setimg sidecar=busybox:1.37 main=nginx:1.27
	[ "$(dj setimg '[.spec.template.spec.containers[].image]')" = '["nginx:1.27","busybox:1.37"]' ]
	[ "$(dj setimg .metadata.generation)" = 3 ]
	run -1 k -n "$NS" set image deployment/setimg nosuch=x:1
	[[ "$output" == *'unable to find container named "nosuch"'* ]]
}

@test "kubectl label and annotate: add, refuse to overwrite, --overwrite, key- removes; generation unchanged" {
	deploy labels
	run -0 k -n "$NS" label deployment labels tier=web env=prod
	[ "$output" = "deployment.apps/labels labeled" ]
	[ "$(dj labels .metadata.labels)" = '{"app":"labels","env":"prod","tier":"web"}' ]
	run -1 k -n "$NS" label deployment labels tier=db
	[[ "$output" == *"'tier' already has a value (web), and --overwrite is false"* ]]
	k -n "$NS" label deployment labels tier=db --overwrite
	k -n "$NS" label deployment labels env-
	[ "$(dj labels .metadata.labels)" = '{"app":"labels","tier":"db"}' ]
	run -0 k -n "$NS" annotate deployment labels note='hello world' owner=ops
	[ "$output" = "deployment.apps/labels annotated" ]
	[ "$(dj labels '.metadata.annotations | {note, owner}')" = '{"note":"hello world","owner":"ops"}' ]
	k -n "$NS" annotate deployment labels note=bye --overwrite
	k -n "$NS" annotate deployment labels owner-
	[ "$(dj labels '.metadata.annotations')" = '{"note":"bye"}' ]
	[ "$(dj labels .metadata.generation)" = 1 ]
	# label by selector, on several objects
	k -n "$NS" create configmap l1
	k -n "$NS" create configmap l2
	run -0 k -n "$NS" label configmap l1 l2 batch=yes
	[ "$output" = $'configmap/l1 labeled\nconfigmap/l2 labeled' ]
	run -0 k -n "$NS" get configmaps -l batch=yes -o name
	[ "$output" = $'configmap/l1\nconfigmap/l2' ]
}

@test "kubectl rollout restart: kubectl.kubernetes.io/restartedAt on the pod template, a new value each time; generation moves" {
	deploy restart
	local t0
	t0=$(date -u +%s)
	run -0 k -n "$NS" rollout restart deployment restart
	[ "$output" = "deployment.apps/restart restarted" ]
	local at
	at=$(dj restart '.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]' | jq -r .)
	[[ "$at" =~ ^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(Z|[+-][0-9]{2}:[0-9]{2})$ ]]
	[ $(($(date -d "$at" +%s) - t0)) -ge -2 ]
	[ "$(dj restart .metadata.generation)" = 2 ]
	# labels and containers of the template are kept
	[ "$(dj restart '[.spec.template.metadata.labels, [.spec.template.spec.containers[].name]]')" = '[{"app":"restart"},["main","sidecar"]]' ]
	# the annotation is not on the deployment itself
	[ "$(dj restart '.metadata.annotations["kubectl.kubernetes.io/restartedAt"]')" = null ]
	wait_for 5 second_passed "$(date -d "$at" +%s)"
	k -n "$NS" rollout restart deployment restart
	[ "$(dj restart '.spec.template.metadata.annotations["kubectl.kubernetes.io/restartedAt"]' | jq -r .)" != "$at" ]
	[ "$(dj restart .metadata.generation)" = 3 ]
}

@test "kubectl patch --type strategic: env merges by name, ports by containerPort, \$patch: delete removes a container" {
	deploy smp
	run -0 k -n "$NS" patch deployment smp --type strategic -p '{"spec":{"template":{"spec":{"containers":[
		{"name":"main","env":[{"name":"LEVEL","value":"5"},{"name":"EXTRA","value":"x"}],
		 "ports":[{"containerPort":443,"name":"tls"},{"containerPort":8080,"name":"alt"}]}]}}}}'
	[ "$output" = "deployment.apps/smp patched" ]
	[ "$(dj smp '.spec.template.spec.containers[0].env')" = '[{"name":"MODE","value":"fast"},{"name":"LEVEL","value":"5"},{"name":"EXTRA","value":"x"}]' ]
	[ "$(dj smp '[.spec.template.spec.containers[0].ports[] | [.containerPort, .name, .protocol]]')" = '[[80,"http","TCP"],[443,"tls","TCP"],[8080,"alt","TCP"]]' ]
	# the other container is untouched
	[ "$(dj smp '.spec.template.spec.containers[1] | [.name, .image]')" = '["sidecar","busybox:1.36"]' ]
	# delete one env entry, one port and one container
	run -0 k -n "$NS" patch deployment smp --type strategic -p '{"spec":{"template":{"spec":{"containers":[
		{"name":"main","env":[{"name":"MODE","$patch":"delete"}],"ports":[{"containerPort":80,"$patch":"delete"}]},
		{"name":"sidecar","$patch":"delete"}]}}}}'
	[ "$(dj smp '[.spec.template.spec.containers[].name]')" = '["main"]' ]
	[ "$(dj smp '[.spec.template.spec.containers[0].env[].name]')" = '["LEVEL","EXTRA"]' ]
	[ "$(dj smp '[.spec.template.spec.containers[0].ports[].containerPort]')" = '[443,8080]' ]
	# maps merge and null deletes a key; a list without a merge key (args) is replaced
	k -n "$NS" patch deployment smp --type strategic -p '{"metadata":{"labels":{"extra":"1"}},"spec":{"template":{"spec":{"containers":[{"name":"main","args":["a","b"]}]}}}}'
	k -n "$NS" patch deployment smp --type strategic -p '{"metadata":{"labels":{"extra":null}},"spec":{"template":{"spec":{"containers":[{"name":"main","args":["c"]}]}}}}'
	[ "$(dj smp '[.metadata.labels, .spec.template.spec.containers[0].args]')" = '[{"app":"smp"},["c"]]' ]
	# no patch type given: kubectl patch defaults to strategic
	k -n "$NS" patch deployment smp -p '{"spec":{"template":{"spec":{"containers":[{"name":"main","image":"nginx:9"}]}}}}'
	[ "$(dj smp '[.spec.template.spec.containers[] | .name + "=" + .image]')" = '["main=nginx:9"]' ]
}

@test "kubectl patch --type strategic: \$setElementOrder/containers reorders the list; \$retainKeys drops rollingUpdate when switching to Recreate" {
	deploy order
	run -0 k -n "$NS" patch deployment order --type strategic -p '{"spec":{"template":{"spec":{
		"$setElementOrder/containers":[{"name":"sidecar"},{"name":"main"}],
		"containers":[{"name":"main","image":"nginx:1.26"}]}}}}'
	[ "$(dj order '[.spec.template.spec.containers[] | [.name, .image]]')" = '[["sidecar","busybox:1.36"],["main","nginx:1.26"]]' ]
	[ "$(dj order '.spec.template.spec.containers[1].env | length')" = 2 ]
	[ "$(dj order .spec.strategy)" = '{"rollingUpdate":{"maxSurge":1,"maxUnavailable":0},"type":"RollingUpdate"}' ]
	run -0 k -n "$NS" patch deployment order --type strategic -p '{"spec":{"strategy":{"$retainKeys":["type"],"type":"Recreate"}}}'
	[ "$(dj order .spec.strategy)" = '{"type":"Recreate"}' ]
	run -0 k -n "$NS" patch deployment order --type strategic -p '{"spec":{"strategy":{"$retainKeys":["type","rollingUpdate"],"type":"RollingUpdate","rollingUpdate":{"maxSurge":2}}}}'
	[ "$(dj order '.spec.strategy | [.type, .rollingUpdate.maxSurge]')" = '["RollingUpdate",2]' ]
}

@test "kubectl patch --type strategic: initContainers and volumes by name, volumeMounts by mountPath, \$patch: replace on a list and a map, finalizers as a set with \$deleteFromPrimitiveList" {
	post "$D" '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"vols","annotations":{"a":"1","b":"2"}},
		"spec":{"replicas":1,"selector":{"matchLabels":{"app":"vols"}},
		 "template":{"metadata":{"labels":{"app":"vols"}},"spec":{
		  "initContainers":[{"name":"init-a","image":"busybox:1.36"},{"name":"init-b","image":"busybox:1.36"}],
		  "volumes":[{"name":"data","emptyDir":{}},{"name":"cache","emptyDir":{"medium":"Memory"}}],
		  "containers":[{"name":"main","image":"nginx:1.25",
		   "volumeMounts":[{"name":"data","mountPath":"/data"},{"name":"cache","mountPath":"/cache"}]}]}}}}'
	# initContainers merge by name: one image changes, the other stays
	k -n "$NS" patch deployment vols --type strategic -p '{"spec":{"template":{"spec":{"initContainers":[{"name":"init-b","image":"busybox:1.37"}]}}}}'
	[ "$(dj vols '[.spec.template.spec.initContainers[] | [.name, .image]]')" = '[["init-a","busybox:1.36"],["init-b","busybox:1.37"]]' ]
	# volumeMounts merge by mountPath, volumes by name
	k -n "$NS" patch deployment vols --type strategic -p '{"spec":{"template":{"spec":{
		"volumes":[{"name":"scratch","emptyDir":{}}],
		"containers":[{"name":"main","volumeMounts":[{"mountPath":"/data","name":"data","readOnly":true},{"mountPath":"/scratch","name":"scratch"}]}]}}}}'
	[ "$(dj vols '[.spec.template.spec.containers[0].volumeMounts[] | [.name, .mountPath, .readOnly]]')" = \
		'[["data","/data",true],["cache","/cache",null],["scratch","/scratch",null]]' ]
	[ "$(dj vols '[.spec.template.spec.volumes[] | [.name, .emptyDir]]')" = '[["data",{}],["cache",{"medium":"Memory"}],["scratch",{}]]' ]
	# $patch: replace in a list replaces the whole list
	k -n "$NS" patch deployment vols --type strategic -p '{"spec":{"template":{"spec":{"initContainers":[{"name":"only","image":"busybox:1.38"},{"$patch":"replace"}]}}}}'
	[ "$(dj vols '[.spec.template.spec.initContainers[] | [.name, .image]]')" = '[["only","busybox:1.38"]]' ]
	# $patch: replace in a map replaces the map
	k -n "$NS" patch deployment vols --type strategic -p '{"metadata":{"annotations":{"$patch":"replace","c":"3"}}}'
	[ "$(dj vols .metadata.annotations)" = '{"c":"3"}' ]
	# metadata.finalizers merges as a set; $deleteFromPrimitiveList removes from it
	k -n "$NS" patch deployment vols --type strategic -p '{"metadata":{"finalizers":["example.com/a"]}}'
	k -n "$NS" patch deployment vols --type strategic -p '{"metadata":{"finalizers":["example.com/b","example.com/a"]}}'
	[ "$(dj vols .metadata.finalizers)" = '["example.com/a","example.com/b"]' ]
	k -n "$NS" patch deployment vols --type strategic -p '{"metadata":{"$deleteFromPrimitiveList/finalizers":["example.com/a"]}}'
	[ "$(dj vols .metadata.finalizers)" = '["example.com/b"]' ]
	k -n "$NS" patch deployment vols --type merge -p '{"metadata":{"finalizers":null}}'
	[ "$(dj vols .metadata.finalizers)" = null ]
}

@test "kubectl scale deploy X --replicas=N: patches the scale subresource; GET .../scale is an autoscaling/v1 Scale" {
	deploy scaled
	run -0 --separate-stderr k -n "$NS" scale deployment scaled --replicas=5 -v=6
	[ "$output" = "deployment.apps/scaled scaled" ]
	grep -q "PATCH https://127.0.0.1:$C8S_PORT$D/scaled/scale?.* 200 OK" <<<"$stderr"
	[ "$(dj scaled .spec.replicas)" = 5 ]
	[ "$(dj scaled .metadata.generation)" = 2 ]
	set_status "$D/scaled" '{"status":{"replicas":4}}'
	local s uid
	s=$(api GET "$D/scaled/scale")
	uid=$(dj scaled .metadata.uid | jq -r .)
	[ "$(jq -c '[.kind, .apiVersion, .metadata.name, .metadata.namespace, .metadata.uid, .spec.replicas, .status.replicas, .status.selector]' <<<"$s")" = \
		'["Scale","autoscaling/v1","scaled","'"$NS"'","'"$uid"'",5,4,"app=scaled"]' ]
	[ "$(jq -r .metadata.resourceVersion <<<"$s")" = "$(dj scaled .metadata.resourceVersion | jq -r .)" ]
	# kubectl reads the same subresource
	run -0 k -n "$NS" get --raw "$D/scaled/scale"
	[ "$(jq -r .spec.replicas <<<"$output")" = 5 ]
	# a precondition kubectl checks against the current scale
	run -1 k -n "$NS" scale deployment scaled --current-replicas=3 --replicas=1
	[[ "$output" == *"Expected replicas to be 3, was 5"* ]]
	[ "$(dj scaled .spec.replicas)" = 5 ]
	# PUT of a Scale, and the ReplicaSet scale subresource
	run -0 api_json PUT "$D/scaled/scale" "$(jq -c '.spec.replicas = 0' <<<"$s")"
	[ "$(reply_code "$output")" = 200 ]
	[ "$(dj scaled .spec.replicas)" = 0 ]
	post "/apis/apps/v1/namespaces/$NS/replicasets" '{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"rs"},
		"spec":{"replicas":1,"selector":{"matchLabels":{"app":"rs"}},"template":{"metadata":{"labels":{"app":"rs"}},
		 "spec":{"containers":[{"name":"c","image":"busybox"}]}}}}'
	run -0 k -n "$NS" scale rs rs --replicas=3
	[ "$output" = "replicaset.apps/rs scaled" ]
	[ "$(api GET "/apis/apps/v1/namespaces/$NS/replicasets/rs/scale" | jq -c '[.kind, .spec.replicas, .status.selector]')" = '["Scale",3,"app=rs"]' ]
}

@test "malformed JSON patches: a bad path is 422 (doc is missing path), a document that is not a list of operations is 400; nothing changes" {
	deploy bad
	local before r
	before=$(list_rv)
	run -1 k -n "$NS" patch deployment bad --type json -p '[{"op":"replace","path":"/spec/nope/x","value":1}]'
	[[ "$output" == "The request is invalid: "* ]]
	r=$(api_patch "$D/bad" json-patch+json '[{"op":"replace","path":"/spec/nope/x","value":1}]')
	[ "$(reply_code "$r")" = 422 ]
	[ "$(reply_body "$r" | jq -r '[.kind, .status, .reason, (.code | tostring)] | join(" ")')" = "Status Failure Invalid 422" ]
	reply_body "$r" | jq -r '.message, .details.causes[]?.message' | grep -q 'doc is missing path: /spec/nope/x'
	r=$(api_patch "$D/bad" json-patch+json '[{"op":"remove","path":"/metadata/labels/nosuch"}]')
	[ "$(reply_code "$r")" = 422 ]
	reply_body "$r" | jq -r '.message, .details.causes[]?.message' | grep -q 'doc is missing path: /metadata/labels/nosuch'
	# not a list of operations, not JSON, an operation that is not an object
	local body
	for body in '{"op":"replace","path":"/spec/replicas","value":1}' '[{"op":"replace"' '[1]'; do
		r=$(api_patch "$D/bad" json-patch+json "$body")
		[ "$(reply_code "$r")" = 400 ] || { echo "$body: $r" >&2; return 1; }
		[ "$(reply_body "$r" | jq -r '.reason')" = BadRequest ]
	done
	run -1 k -n "$NS" patch deployment bad --type json -p '{"op":"replace","path":"/spec/replicas","value":1}'
	[[ "$output" == "Error from server (BadRequest): "* ]]
	# the operations before a failing one are not applied either
	r=$(api_patch "$D/bad" json-patch+json '[{"op":"replace","path":"/spec/replicas","value":9},{"op":"remove","path":"/spec/nope"}]')
	[ "$(reply_code "$r")" = 422 ]
	[ "$(list_rv)" = "$before" ]
	[ "$(dj bad .spec.replicas)" = 2 ]
}

@test "a JSON patch whose test operation fails: 422 Invalid as upstream (json-patch errors are unprocessable), nothing changes" {
	deploy jtest
	local before r
	before=$(list_rv)
	r=$(api_patch "$D/jtest" json-patch+json '[{"op":"test","path":"/spec/replicas","value":7},{"op":"replace","path":"/spec/replicas","value":1}]')
	[ "$(reply_code "$r")" = 422 ]
	[ "$(reply_body "$r" | jq -r .reason)" = Invalid ]
	[ "$(list_rv)" = "$before" ]
	# a passing test lets the rest apply
	r=$(api_patch "$D/jtest" json-patch+json '[{"op":"test","path":"/spec/replicas","value":2},{"op":"replace","path":"/spec/replicas","value":1}]')
	[ "$(reply_code "$r")" = 200 ]
	[ "$(dj jtest .spec.replicas)" = 1 ]
}

@test "malformed strategic and merge patches: a list item without its merge key is 400, an unknown \$patch is 400, invalid JSON is 400, an unknown list is refused (Strict) or warned about (kubectl patch); nothing changes" {
	deploy badsmp
	local before r
	before=$(list_rv)
	run -1 k -n "$NS" patch deployment badsmp --type strategic -p '{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}'
	[[ "$output" == "Error from server (BadRequest): "*"does not contain declared merge key: name"* ]]
	r=$(api_patch "$D/badsmp" strategic-merge-patch+json '{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}')
	[ "$(reply_code "$r")" = 400 ]
	[ "$(reply_body "$r" | jq -r '.kind + " " + .reason')" = "Status BadRequest" ]
	[[ "$(reply_body "$r" | jq -r .message)" == *"does not contain declared merge key: name" ]]
	r=$(api_patch "$D/badsmp" strategic-merge-patch+json '{"spec":{"template":{"spec":{"containers":[{"name":"main","$patch":"explode"}]}}}}')
	[ "$(reply_code "$r")" = 400 ]
	r=$(api_patch "$D/badsmp" strategic-merge-patch+json '{"spec":')
	[ "$(reply_code "$r")" = 400 ]
	r=$(api_patch "$D/badsmp" merge-patch+json '{"spec":{"replicas":')
	[ "$(reply_code "$r")" = 400 ]
	# a patch that leaves an invalid object: 422 with the field
	r=$(api_patch "$D/badsmp" merge-patch+json '{"spec":{"replicas":-1}}')
	[ "$(reply_code "$r")" = 422 ]
	[ "$(reply_body "$r" | jq -r '.details.causes[0].field')" = spec.replicas ]
	# a list the type does not have: Strict refuses it with the field, and
	# kubectl patch (the server's default, Warn) warns and changes nothing
	r=$(api_patch "$D/badsmp?fieldValidation=Strict" strategic-merge-patch+json '{"spec":{"template":{"spec":{"containerz":[{"name":"main"}]}}}}')
	[ "$(reply_code "$r")" = 400 ]
	[ "$(reply_body "$r" | jq -r .message)" = 'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.template.spec.containerz"' ]
	run -0 --separate-stderr k -n "$NS" patch deployment badsmp --type strategic -p '{"spec":{"template":{"spec":{"containerz":[{"name":"main"}]}}}}'
	[ "$output" = "deployment.apps/badsmp patched (no change)" ]
	[ "$stderr" = 'Warning: unknown field "spec.template.spec.containerz"' ]
	# an unknown patch content type
	[ "$(api_code PATCH "$D/badsmp" -H 'Content-Type: text/plain' --data-binary '{}')" = 415 ]
	[ "$(list_rv)" = "$before" ]
	[ "$(dj badsmp '[.spec.replicas, [.spec.template.spec.containers[].image]]')" = '[2,["nginx:1.25","busybox:1.36"]]' ]
}

@test "a server-side apply that conflicts: 409 Conflict with causes FieldManagerConflict, one per changed field (not the list item holding it), nothing changes" {
	k -n "$NS" apply --server-side -f - <<-EOF
		apiVersion: apps/v1
		kind: Deployment
		metadata: {name: ssa}
		spec:
		  replicas: 2
		  selector: {matchLabels: {app: ssa}}
		  template:
		    metadata: {labels: {app: ssa}}
		    spec:
		      containers: [{name: main, image: "nginx:1.25"}]
	EOF
	local before r
	before=$(list_rv)
	r=$(api_patch "$D/ssa?fieldManager=intruder" apply-patch+yaml \
		'{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"ssa"},"spec":{"replicas":4,"template":{"spec":{"containers":[{"name":"main","image":"nginx:2"}]}}}}')
	[ "$(reply_code "$r")" = 409 ]
	[ "$(reply_body "$r" | jq -r '.reason + " " + (.code | tostring)')" = "Conflict 409" ]
	[ "$(reply_body "$r" | jq -c '[.details.causes[] | [.reason, .field]] | sort')" = \
		'[["FieldManagerConflict",".spec.replicas"],["FieldManagerConflict",".spec.template.spec.containers[name=\"main\"].image"]]' ]
	[[ "$(reply_body "$r" | jq -r .message)" == "Apply failed with 2 conflicts: "* ]]
	[ "$(list_rv)" = "$before" ]
}
