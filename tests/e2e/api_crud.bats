#!/usr/bin/env bats
# kubectl create/get/list/delete, output formats, label/annotate, patch,
# replace, optimistic concurrency, get -w and namespace deletion, driven by
# the real kubectl against one c8s server.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	start_apiserver
}

teardown_file() {
	cleanup_server
}

# row NAME: the table row of NAME in the output of the last `run`.
row() {
	printf '%s\n' "$output" | awk -v n="$1" '$1 == n'
}

@test "kubectl version: the server reports major 1, minor 32" {
	run -0 k version -o json
	[ "$(json_field "$output" .serverVersion.major)" = 1 ]
	[ "$(json_field "$output" .serverVersion.minor)" = 32 ]
	[[ "$(json_field "$output" .serverVersion.gitVersion)" == v1.32.* ]]
	run -0 k version
	[[ "$output" == *"Server Version: v1.32."* ]]
	[[ "$output" != *WARNING* ]]
}

@test "kubectl api-resources: lists the served resources with their short names, groups and scope" {
	run -0 k api-resources --no-headers
	# NAME SHORTNAMES APIVERSION NAMESPACED KIND
	local want
	for want in "configmaps cm v1 true ConfigMap" \
		"endpoints ep v1 true Endpoints" \
		"events ev v1 true Event" \
		"namespaces ns v1 false Namespace" \
		"nodes no v1 false Node" \
		"pods po v1 true Pod" \
		"serviceaccounts sa v1 true ServiceAccount" \
		"services svc v1 true Service" \
		"deployments deploy apps/v1 true Deployment" \
		"replicasets rs apps/v1 true ReplicaSet"; do
		printf '%s\n' "$output" | awk '{ $1 = $1; print }' | grep -qx "$want" ||
			{ echo "missing row: $want" >&2; return 1; }
	done
	# secrets have no short name upstream either
	printf '%s\n' "$output" | awk '{ $1 = $1; print }' | grep -qx "secrets v1 true Secret"
	# short names resolve
	run -0 k get ns default -o name
	[ "$output" = namespace/default ]
	run -0 k get deploy,svc,cm,po -n default -o name
	[[ "$output" == *"service/kubernetes"* ]]
}

@test "kubectl create/get/delete namespace: status Active, metadata.name label, gone after delete" {
	run -0 k create namespace crud-ns1
	[ "$output" = "namespace/crud-ns1 created" ]
	run -0 k get namespace crud-ns1
	[ "$(row crud-ns1 | awk '{ print $2 }')" = Active ]
	run -0 k get namespace crud-ns1 -o json
	[ "$(json_field "$output" .status.phase)" = Active ]
	[ "$(json_field "$output" '.metadata.labels["kubernetes.io/metadata.name"]')" = crud-ns1 ]
	[ "$(json_field "$output" '.spec.finalizers | join(",")')" = kubernetes ]
	run -0 k get namespaces -o name
	[[ "$output" == *namespace/crud-ns1* && "$output" == *namespace/default* ]]
	run -0 k delete namespace crud-ns1
	[ "$output" = 'namespace "crud-ns1" deleted' ]
	run -1 k get namespace crud-ns1
	[ "$output" = 'Error from server (NotFound): namespaces "crud-ns1" not found' ]
}

@test "kubectl create/get/delete configmap: data round-trips, DATA column counts keys" {
	make_namespace crud-cm
	run -0 k -n crud-cm create configmap app-config --from-literal=color=blue --from-literal=size=10
	[ "$output" = "configmap/app-config created" ]
	run -0 k -n crud-cm get configmap app-config
	[ "$(row app-config | awk '{ print $2 }')" = 2 ]
	run -0 k -n crud-cm get configmap app-config -o json
	[ "$(json_field "$output" '.data | tojson')" = '{"color":"blue","size":"10"}' ]
	[ "$(json_field "$output" .metadata.namespace)" = crud-cm ]
	[ -n "$(json_field "$output" .metadata.uid)" ]
	k -n crud-cm create configmap other --from-literal=a=b
	run -0 k -n crud-cm get configmaps -o name
	[ "$output" = $'configmap/app-config\nconfigmap/other' ]
	run -0 k -n crud-cm delete configmap app-config
	[ "$output" = 'configmap "app-config" deleted' ]
	run -1 k -n crud-cm get configmap app-config
	[ "$output" = 'Error from server (NotFound): configmaps "app-config" not found' ]
	run -0 k -n crud-cm get configmaps -o name
	[ "$output" = configmap/other ]
}

@test "kubectl create/get/delete secret generic: TYPE Opaque, base64 data, DATA column" {
	make_namespace crud-sec
	run -0 k -n crud-sec create secret generic db-pass --from-literal=password='s3cr3t!' --from-literal=user=admin
	[ "$output" = "secret/db-pass created" ]
	run -0 k -n crud-sec get secret db-pass
	[ "$(row db-pass | awk '{ print $2, $3 }')" = "Opaque 2" ]
	run -0 k -n crud-sec get secret db-pass -o json
	[ "$(json_field "$output" .type)" = Opaque ]
	[ "$(json_field "$output" .data.password)" = "$(printf 's3cr3t!' | base64)" ]
	run -0 k -n crud-sec get secret db-pass -o jsonpath='{.data.user}'
	[ "$(printf '%s' "$output" | base64 -d)" = admin ]
	run -0 k -n crud-sec delete secret db-pass
	run -1 k -n crud-sec get secret db-pass
	[ "$output" = 'Error from server (NotFound): secrets "db-pass" not found' ]
}

@test "kubectl run/get/delete pod: stays Pending with no node, -o wide shows no IP or node" {
	make_namespace crud-pod
	run -0 k -n crud-pod run web --image=busybox:1.36 --labels=app=web -- sleep 3600
	[ "$output" = "pod/web created" ]
	run -0 k -n crud-pod get pod web
	[ "$(row web | awk '{ print $2, $3, $4 }')" = "0/1 Pending 0" ]
	run -0 k -n crud-pod get pod web -o wide
	[ "$(row web | awk '{ print $6, $7, $8, $9 }')" = "<none> <none> <none> <none>" ]
	run -0 k -n crud-pod get pod web -o json
	[ "$(json_field "$output" .status.phase)" = Pending ]
	[ "$(json_field "$output" '.spec.nodeName // "unset"')" = unset ]
	[ "$(json_field "$output" '.spec.containers[0] | [.name, .image, (.args | join(" "))] | join(",")')" = "web,busybox:1.36,sleep 3600" ]
	[ "$(json_field "$output" .metadata.labels.app)" = web ]
	run -0 k -n crud-pod delete pod web
	[ "$output" = 'pod "web" deleted' ]
	run -1 k -n crud-pod get pod web
	[ "$output" = 'Error from server (NotFound): pods "web" not found' ]
}

@test "kubectl create/get/delete deployment: READY 0/3 with no controllers, -o wide containers/images/selector" {
	make_namespace crud-deploy
	run -0 k -n crud-deploy create deployment web --image=nginx:1.25 --replicas=3
	[ "$output" = "deployment.apps/web created" ]
	run -0 k -n crud-deploy get deployment web -o wide
	# NAME READY UP-TO-DATE AVAILABLE AGE CONTAINERS IMAGES SELECTOR
	[ "$(row web | awk '{ print $2, $3, $4, $6, $7, $8 }')" = "0/3 0 0 nginx nginx:1.25 app=web" ]
	run -0 k -n crud-deploy get deployment web -o json
	[ "$(json_field "$output" .spec.replicas)" = 3 ]
	[ "$(json_field "$output" '.spec.selector.matchLabels | tojson')" = '{"app":"web"}' ]
	[ "$(json_field "$output" '.spec.template.metadata.labels | tojson')" = '{"app":"web"}' ]
	[ "$(json_field "$output" '.spec.template.spec.containers[0].image')" = nginx:1.25 ]
	[ "$(json_field "$output" .metadata.generation)" = 1 ]
	run -0 k -n crud-deploy get deploy -o name
	[ "$output" = deployment.apps/web ]
	run -0 k -n crud-deploy delete deployment web
	[ "$output" = 'deployment.apps "web" deleted' ]
	run -1 k -n crud-deploy get deployment web
	[ "$output" = 'Error from server (NotFound): deployments.apps "web" not found' ]
}

@test "kubectl create/get/delete service clusterip and nodeport: TYPE, CLUSTER-IP and PORT(S) match the object" {
	make_namespace crud-svc
	run -0 k -n crud-svc create service clusterip api --tcp=80:8080
	[ "$output" = "service/api created" ]
	run -0 k -n crud-svc create service nodeport edge --tcp=443:8443
	run -0 k -n crud-svc get services -o json
	local api_ip edge_ip edge_np
	api_ip=$(json_field "$output" '.items[] | select(.metadata.name == "api") | .spec.clusterIP')
	edge_ip=$(json_field "$output" '.items[] | select(.metadata.name == "edge") | .spec.clusterIP')
	edge_np=$(json_field "$output" '.items[] | select(.metadata.name == "edge") | .spec.ports[0].nodePort')
	[ "$(json_field "$output" '.items[] | select(.metadata.name == "api") | .spec.ports[0] | [.port, .targetPort, .protocol] | join(" ")')" = "80 8080 TCP" ]
	[ "$api_ip" != "$edge_ip" ]
	run -0 k -n crud-svc get services -o wide
	# NAME TYPE CLUSTER-IP EXTERNAL-IP PORT(S) AGE SELECTOR
	[ "$(row api | awk '{ print $2, $3, $4, $5, $7 }')" = "ClusterIP $api_ip <none> 80/TCP app=api" ]
	[ "$(row edge | awk '{ print $2, $3, $4, $5, $7 }')" = "NodePort $edge_ip <none> 443:$edge_np/TCP app=edge" ]
	run -0 k -n crud-svc delete service api edge
	[ "$output" = $'service "api" deleted\nservice "edge" deleted' ]
	run -0 k -n crud-svc get services -o name
	[ "$output" = "" ]
}

@test "kubectl get -o json, -o yaml and -o jsonpath show the same object; lists are kind List" {
	make_namespace crud-out
	k -n crud-out create configmap fmt --from-literal=k1=v1
	local js ym
	js=$(k -n crud-out get configmap fmt -o json)
	ym=$(k -n crud-out get configmap fmt -o yaml)
	[ "$(json_field "$js" .kind)" = ConfigMap ]
	[ "$(json_field "$js" .apiVersion)" = v1 ]
	# the YAML document is the same object as the JSON one
	[ "$(yq -S -c . <<<"$ym")" = "$(jq -S -c . <<<"$js")" ]
	run -0 k -n crud-out get configmap fmt -o jsonpath='{.metadata.uid} {.metadata.resourceVersion} {.data.k1}'
	[ "$output" = "$(json_field "$js" '.metadata.uid + " " + .metadata.resourceVersion') v1" ]
	# the raw object from the API is what kubectl printed
	[ "$(api GET /api/v1/namespaces/crud-out/configmaps/fmt | jq -S -c .)" = "$(jq -S -c . <<<"$js")" ]
	run -0 k -n crud-out get configmaps -o json
	[ "$(json_field "$output" '[.kind, .apiVersion, (.items | length | tostring), .items[0].metadata.name] | join(" ")')" = "List v1 1 fmt" ]
	run -0 k -n crud-out get configmaps -o jsonpath='{range .items[*]}{.metadata.name}={.data.k1};{end}'
	[ "$output" = "fmt=v1;" ]
	run -0 k -n crud-out get configmaps -o yaml
	[ "$(yq -r '.items[0].data.k1' <<<"$output")" = v1 ]
}

@test "kubectl label: adds, refuses to overwrite without --overwrite, overwrites, removes with key-" {
	make_namespace crud-label
	k -n crud-label create configmap lab
	run -0 k -n crud-label label configmap lab tier=web env=prod
	[ "$output" = "configmap/lab labeled" ]
	run -0 k -n crud-label get configmap lab -o jsonpath='{.metadata.labels}'
	[ "$(jq -S -c . <<<"$output")" = '{"env":"prod","tier":"web"}' ]
	run -1 k -n crud-label label configmap lab tier=db
	[[ "$output" == *"'tier' already has a value (web), and --overwrite is false"* ]]
	run -0 k -n crud-label label configmap lab tier=db --overwrite
	run -0 k -n crud-label label configmap lab env-
	[ "$output" = "configmap/lab unlabeled" ]
	run -0 k -n crud-label get configmap lab -o json
	[ "$(json_field "$output" '.metadata.labels | tojson')" = '{"tier":"db"}' ]
	run -0 k -n crud-label get configmap lab --show-labels
	[ "$(row lab | awk '{ print $NF }')" = tier=db ]
	run -0 k -n crud-label get configmap -l tier=db -o name
	[ "$output" = configmap/lab ]
}

@test "kubectl annotate: adds, overwrites with --overwrite, removes with key-" {
	make_namespace crud-ann
	k -n crud-ann run annotated --image=busybox
	run -0 k -n crud-ann annotate pod annotated owner=team-a 'example.com/note=hello world'
	[ "$output" = "pod/annotated annotated" ]
	run -0 k -n crud-ann get pod annotated -o json
	[ "$(json_field "$output" .metadata.annotations.owner)" = team-a ]
	[ "$(json_field "$output" '.metadata.annotations["example.com/note"]')" = "hello world" ]
	run -1 k -n crud-ann annotate pod annotated owner=team-b
	[[ "$output" == *"--overwrite is false"* ]]
	run -0 k -n crud-ann annotate pod annotated owner=team-b --overwrite
	run -0 k -n crud-ann annotate pod annotated example.com/note-
	run -0 k -n crud-ann get pod annotated -o json
	[ "$(json_field "$output" '.metadata.annotations | tojson')" = '{"owner":"team-b"}' ]
}

@test "kubectl patch --type merge: merges maps and null deletes a key" {
	make_namespace crud-merge
	k -n crud-merge create configmap mp --from-literal=a=1 --from-literal=b=2
	run -0 k -n crud-merge patch configmap mp --type merge -p '{"data":{"b":null,"c":"3"},"metadata":{"labels":{"x":"y"}}}'
	[ "$output" = "configmap/mp patched" ]
	run -0 k -n crud-merge get configmap mp -o json
	[ "$(json_field "$output" '.data | tojson')" = '{"a":"1","c":"3"}' ]
	[ "$(json_field "$output" '.metadata.labels | tojson')" = '{"x":"y"}' ]
	k -n crud-merge create deployment md --image=nginx:1.25
	run -0 k -n crud-merge patch deployment md --type merge -p '{"spec":{"replicas":4,"paused":true}}'
	run -0 k -n crud-merge get deployment md -o jsonpath='{.spec.replicas} {.spec.paused} {.spec.template.spec.containers[0].image}'
	[ "$output" = "4 true nginx:1.25" ]
}

@test "kubectl patch --type json: add/replace/remove apply in order; a failing op changes nothing" {
	make_namespace crud-jsonp
	k -n crud-jsonp create configmap jp --from-literal=a=1 --from-literal=b=2
	run -0 k -n crud-jsonp patch configmap jp --type json \
		-p '[{"op":"add","path":"/data/c","value":"3"},{"op":"replace","path":"/data/a","value":"one"},{"op":"remove","path":"/data/b"}]'
	[ "$output" = "configmap/jp patched" ]
	local before
	before=$(k -n crud-jsonp get configmap jp -o json)
	[ "$(json_field "$before" '.data | tojson')" = '{"a":"one","c":"3"}' ]
	# the second op fails, so the first one must not be applied either
	run -1 k -n crud-jsonp patch configmap jp --type json \
		-p '[{"op":"add","path":"/data/d","value":"4"},{"op":"remove","path":"/data/missing"}]'
	[[ "$output" == *"/data/missing"* ]]
	run -0 k -n crud-jsonp get configmap jp -o json
	[ "$output" = "$before" ]
	k -n crud-jsonp create deployment jd --image=nginx:1.25
	run -0 k -n crud-jsonp patch deployment jd --type json \
		-p '[{"op":"replace","path":"/spec/template/spec/containers/0/image","value":"nginx:1.26"}]'
	run -0 k -n crud-jsonp get deployment jd -o jsonpath='{.spec.template.spec.containers[0].image} {.metadata.generation}'
	[ "$output" = "nginx:1.26 2" ]
}

@test "kubectl replace -f: replaces the whole object (keys not in the file go), uid kept, resourceVersion moves" {
	make_namespace crud-replace
	k -n crud-replace create configmap rp --from-literal=a=1 --from-literal=b=2
	local old
	old=$(k -n crud-replace get configmap rp -o json)
	jq '.data = {"z": "26"}' <<<"$old" >"$BATS_TEST_TMPDIR/rp.json"
	run -0 k replace -f "$BATS_TEST_TMPDIR/rp.json"
	[ "$output" = "configmap/rp replaced" ]
	run -0 k -n crud-replace get configmap rp -o json
	[ "$(json_field "$output" '.data | tojson')" = '{"z":"26"}' ]
	[ "$(json_field "$output" .metadata.uid)" = "$(json_field "$old" .metadata.uid)" ]
	[ "$(json_field "$output" .metadata.resourceVersion)" -gt "$(json_field "$old" .metadata.resourceVersion)" ]
	[ "$(json_field "$output" .metadata.creationTimestamp)" = "$(json_field "$old" .metadata.creationTimestamp)" ]
}

@test "kubectl replace with a stale resourceVersion fails with Conflict and changes nothing" {
	make_namespace crud-conflict
	k -n crud-conflict create configmap cf --from-literal=v=1
	k -n crud-conflict get configmap cf -o json >"$BATS_TEST_TMPDIR/stale.json"
	# another writer changes the object after we read it
	k -n crud-conflict patch configmap cf --type merge -p '{"data":{"v":"2"}}'
	local current
	current=$(k -n crud-conflict get configmap cf -o json)
	jq '.data.v = "3"' "$BATS_TEST_TMPDIR/stale.json" >"$BATS_TEST_TMPDIR/stale3.json"
	run -1 k replace -f "$BATS_TEST_TMPDIR/stale3.json"
	[[ "$output" == *'Error from server (Conflict): error when replacing'*'Operation cannot be fulfilled on configmaps "cf": the object has been modified; please apply your changes to the latest version and try again' ]]
	run -0 k -n crud-conflict get configmap cf -o json
	[ "$output" = "$current" ]
	# the raw Status of the same stale PUT
	run -0 api_json PUT /api/v1/namespaces/crud-conflict/configmaps/cf "$(cat "$BATS_TEST_TMPDIR/stale3.json")"
	[ "$(reply_code "$output")" = 409 ]
	assert_status "$(reply_body "$output")" 409 Conflict \
		'Operation cannot be fulfilled on configmaps "cf": the object has been modified; please apply your changes to the latest version and try again'
	[ "$(reply_body "$output" | jq -c .details)" = '{"name":"cf","kind":"configmaps"}' ]
	[ "$(api GET /api/v1/namespaces/crud-conflict/configmaps/cf | jq -r .data.v)" = 2 ]
}

@test "kubectl get pods -w prints the changes another kubectl makes (ADDED, MODIFIED, DELETED)" {
	make_namespace crud-watch
	k -n crud-watch run first --image=busybox
	local out="$BATS_TEST_TMPDIR/watch.out"
	bg_start "$out" kubectl -n crud-watch get pods -w --output-watch-events -L tier
	wait_for 15 grep -q '^ADDED  *first ' "$out"
	k -n crud-watch run second --image=busybox
	k -n crud-watch label pod second tier=web
	k -n crud-watch delete pod second
	wait_for 15 grep -q '^DELETED  *second ' "$out"
	bg_stop "$BG_PID"
	# EVENT NAME READY STATUS RESTARTS AGE TIER
	run -0 awk 'NR > 1 { print $1, $2, $3, $4, $7 }' "$out"
	[ "$output" = "ADDED first 0/1 Pending 
ADDED second 0/1 Pending 
MODIFIED second 0/1 Pending web
DELETED second 0/1 Pending web" ]
	[ "$(head -n 1 "$out" | awk '{ print $1, $2, $3, $4, $5, $6, $7 }')" = "EVENT NAME READY STATUS RESTARTS AGE TIER" ]
}

@test "kubectl delete namespace removes its contents and nothing else" {
	local ns
	for ns in crud-doomed crud-kept; do
		sed "s/NS/$ns/" >"$BATS_TEST_TMPDIR/$ns.yaml" <<-'EOF'
			apiVersion: v1
			kind: Namespace
			metadata: {name: NS}
			---
			apiVersion: v1
			kind: ConfigMap
			metadata: {name: cfg, namespace: NS}
			data: {a: b}
			---
			apiVersion: v1
			kind: Secret
			metadata: {name: sec, namespace: NS}
			stringData: {a: b}
			---
			apiVersion: v1
			kind: Pod
			metadata: {name: pod1, namespace: NS}
			spec: {containers: [{name: c, image: busybox}]}
			---
			apiVersion: apps/v1
			kind: Deployment
			metadata: {name: dep, namespace: NS}
			spec:
			  selector: {matchLabels: {app: dep}}
			  template:
			    metadata: {labels: {app: dep}}
			    spec: {containers: [{name: c, image: "nginx:1.25"}]}
			---
			apiVersion: v1
			kind: Service
			metadata: {name: svc, namespace: NS}
			spec: {selector: {app: dep}, ports: [{port: 80}]}
		EOF
		run -0 k create -f "$BATS_TEST_TMPDIR/$ns.yaml"
		[ "$(printf '%s\n' "$output" | wc -l)" = 6 ]
	done
	local kept_before
	kept_before=$(k -n crud-kept get configmaps,secrets,pods,deployments,services -o json | jq -c '[.items[].metadata.uid]')
	run -0 k delete namespace crud-doomed --timeout=30s
	[ "$output" = 'namespace "crud-doomed" deleted' ]
	run -1 k get namespace crud-doomed
	[ "$output" = 'Error from server (NotFound): namespaces "crud-doomed" not found' ]
	local path
	for path in /api/v1/configmaps /api/v1/secrets /api/v1/pods /apis/apps/v1/deployments /api/v1/services; do
		[ "$(api GET "$path?fieldSelector=metadata.namespace%3Dcrud-doomed" | jq '.items | length')" = 0 ] ||
			{ echo "$path still has objects of crud-doomed" >&2; return 1; }
	done
	[ "$(k -n crud-kept get configmaps,secrets,pods,deployments,services -o json | jq -c '[.items[].metadata.uid]')" = "$kept_before" ]
	# the name can be used again at once
	run -0 k create namespace crud-doomed
	run -0 k -n crud-doomed get configmaps -o name
	[ "$output" = "" ]
}

@test "kubectl create -f with generateName: the server picks distinct names with the prefix" {
	make_namespace crud-gen
	cat >"$BATS_TEST_TMPDIR/gen.yaml" <<-EOF
		apiVersion: v1
		kind: ConfigMap
		metadata:
		  generateName: job-cfg-
		  namespace: crud-gen
		data:
		  a: "1"
	EOF
	local n1 n2
	n1=$(k create -f "$BATS_TEST_TMPDIR/gen.yaml" -o jsonpath='{.metadata.name}')
	n2=$(k create -f "$BATS_TEST_TMPDIR/gen.yaml" -o jsonpath='{.metadata.name}')
	[[ "$n1" =~ ^job-cfg-[a-z0-9]{5}$ ]]
	[[ "$n2" =~ ^job-cfg-[a-z0-9]{5}$ ]]
	[ "$n1" != "$n2" ]
	run -0 k -n crud-gen get configmap "$n1" -o jsonpath='{.metadata.generateName} {.data.a}'
	[ "$output" = "job-cfg- 1" ]
	run -0 k -n crud-gen get configmaps -o name
	[ "$output" = "$(printf 'configmap/%s\n' "$n1" "$n2" | sort)" ]
}

@test "kubectl delete -l deletes exactly the matching objects" {
	make_namespace crud-dell
	local i
	for i in 1 2 3; do
		k -n crud-dell create configmap "c$i"
	done
	k -n crud-dell label configmap c1 c3 doomed=yes
	run -0 k -n crud-dell delete configmap -l doomed=yes
	[ "$output" = $'configmap "c1" deleted\nconfigmap "c3" deleted' ]
	run -0 k -n crud-dell get configmaps -o name
	[ "$output" = configmap/c2 ]
}
