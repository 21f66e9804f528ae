#!/usr/bin/env bats
# Discovery and OpenAPI as kubectl reads them: kubectl api-resources,
# api-versions, get all (categories), the aggregated and legacy discovery
# documents, kubectl explain, and kubectl apply with its default strict
# validation (which needs the OpenAPI v3 documents).

bats_require_minimum_version 1.5.0

load helpers
load kubectl_helpers

setup_file() {
	start_apiserver
}

teardown_file() {
	cleanup_server
}

# squeeze: kubectl's padded columns with single spaces.
squeeze() {
	awk '{ $1 = $1; print }'
}

@test "kubectl api-resources: short names po svc deploy rs ns no cm ep ev, API versions, scope and kinds" {
	run -0 k api-resources
	[ "$(header)" = "NAME | SHORTNAMES | APIVERSION | NAMESPACED | KIND" ]
	local rows want
	rows=$(printf '%s\n' "$output" | squeeze)
	for want in "pods po v1 true Pod" \
		"services svc v1 true Service" \
		"deployments deploy apps/v1 true Deployment" \
		"replicasets rs apps/v1 true ReplicaSet" \
		"namespaces ns v1 false Namespace" \
		"nodes no v1 false Node" \
		"configmaps cm v1 true ConfigMap" \
		"endpoints ep v1 true Endpoints" \
		"events ev v1 true Event" \
		"secrets v1 true Secret" \
		"leases coordination.k8s.io/v1 true Lease" \
		"endpointslices discovery.k8s.io/v1 true EndpointSlice"; do
		grep -qx "$want" <<<"$rows" || { echo "missing row: $want" >&2; return 1; }
	done
	# every short name resolves to its resource
	make_namespace disc-short
	k -n disc-short create configmap short-cm
	k -n disc-short run short-pod --image=busybox
	run -0 k -n disc-short get po,svc,deploy,rs,cm,ep -o name
	[ "$output" = $'pod/short-pod\nconfigmap/short-cm' ]
	run -0 k get ns disc-short -o name
	[ "$output" = namespace/disc-short ]
	run -0 k get no -o name
	[ "$output" = "" ]
	run -0 --separate-stderr k -n disc-short get ev -o name
	# the server's Created event for the pod
	[[ "$output" == event/short-pod.* ]]
}

@test "kubectl api-resources -o wide: verbs and categories; --categories=all and --namespaced=false" {
	run -0 k api-resources -o wide
	[ "$(header)" = "NAME | SHORTNAMES | APIVERSION | NAMESPACED | KIND | VERBS | CATEGORIES" ]
	local verbs=create,delete,deletecollection,get,list,patch,update,watch
	[ "$(cells pods)" = "pods|po|v1|true|Pod|$verbs|all" ]
	[ "$(cells deployments)" = "deployments|deploy|apps/v1|true|Deployment|$verbs|all" ]
	[ "$(cells replicasets)" = "replicasets|rs|apps/v1|true|ReplicaSet|$verbs|all" ]
	[ "$(cells nodes | cut -d'|' -f1-5,7)" = "nodes|no|v1|false|Node|" ]
	[ "$(cells selfsubjectreviews | cut -d'|' -f3-6)" = "authentication.k8s.io/v1|false|SelfSubjectReview|create" ]
	# the category kubectl get all expands
	run -0 k api-resources --categories=all --no-headers -o name
	[ "$(sort <<<"$output" | tr '\n' ' ')" = "deployments.apps pods replicasets.apps services " ]
	run -0 k api-resources --namespaced=false --no-headers -o name
	grep -qx namespaces <<<"$output"
	grep -qx nodes <<<"$output"
	! grep -qx pods <<<"$output"
}

@test "kubectl get all: pods, services, deployments and replicasets of the namespace, each table with its kind prefix" {
	make_namespace disc-all
	k -n disc-all create configmap not-in-all
	k -n disc-all create deployment web --image=nginx:1.25 --replicas=2
	k -n disc-all create service clusterip web --tcp=80:8080
	k -n disc-all create -f - <<-'EOF'
		{"apiVersion":"apps/v1","kind":"ReplicaSet","metadata":{"name":"web-rs"},
		 "spec":{"replicas":1,"selector":{"matchLabels":{"app":"rs"}},
		  "template":{"metadata":{"labels":{"app":"rs"}},"spec":{"containers":[{"name":"c","image":"busybox"}]}}}}
	EOF
	k -n disc-all run solo --image=busybox
	run -0 k -n disc-all get all -o name
	[ "$output" = "pod/solo
service/web
deployment.apps/web
replicaset.apps/web-rs" ]
	run -0 k -n disc-all get all
	local ip
	ip=$(k -n disc-all get service web -o jsonpath='{.spec.clusterIP}')
	[ "$(cells pod/solo | cut -d'|' -f1-4)" = "pod/solo|0/1|Pending|0" ]
	[ "$(cells service/web | cut -d'|' -f1-5)" = "service/web|ClusterIP|$ip|<none>|80/TCP" ]
	[ "$(cells deployment.apps/web | cut -d'|' -f1-4)" = "deployment.apps/web|0/2|0|0" ]
	[ "$(cells replicaset.apps/web-rs | cut -d'|' -f1-4)" = "replicaset.apps/web-rs|1|0|0" ]
	# one header per kind, in discovery order
	[ "$(grep -c '^NAME ' <<<"$output")" = 4 ]
	[[ "$output" != *not-in-all* ]]
}

@test "kubectl api-versions: every group version the server serves, core v1 included" {
	run -0 k api-versions
	local want
	for want in v1 apps/v1 coordination.k8s.io/v1 discovery.k8s.io/v1 events.k8s.io/v1 \
		authentication.k8s.io/v1 authorization.k8s.io/v1; do
		grep -qx "$want" <<<"$output" || { echo "missing $want" >&2; return 1; }
	done
	# exactly what the legacy group list holds, plus v1
	local listed
	listed=$( (echo v1; api GET /apis | jq -r '.groups[].versions[].groupVersion') | sort)
	[ "$output" = "$listed" ]
}

@test "GET /api and /apis with the aggregated discovery Accept header: Content-Type apidiscovery.k8s.io v2 APIGroupDiscoveryList" {
	local hdr body
	hdr=$(api GET /api -H "Accept: $DISCOVERY_ACCEPT" -o /dev/null -D - | tr -d '\r')
	grep -qix "content-type: $DISCOVERY_TYPE" <<<"$hdr"
	body=$(api GET /api -H "Accept: $DISCOVERY_ACCEPT")
	[ "$(jq -r '[.kind, .apiVersion, (.items | length | tostring), .items[0].metadata.name] | join(" ")' <<<"$body")" = \
		"APIGroupDiscoveryList apidiscovery.k8s.io/v2 1 " ]
	[ "$(jq -r '.items[0].versions | map(.version + ":" + .freshness) | join(",")' <<<"$body")" = v1:Current ]
	# pods: scope, kind, verbs, short names, categories, subresources
	[ "$(jq -c '.items[0].versions[0].resources[] | select(.resource == "pods") |
		[.scope, .singularResource, .responseKind, .verbs, .shortNames, .categories]' <<<"$body")" = \
		'["Namespaced","pod",{"group":"","version":"v1","kind":"Pod"},["create","delete","deletecollection","get","list","patch","update","watch"],["po"],["all"]]' ]
	[ "$(jq -c '.items[0].versions[0].resources[] | select(.resource == "pods") | .subresources[] |
		select(.subresource == "status") | [.responseKind.kind, .verbs]' <<<"$body")" = '["Pod",["get","patch","update"]]' ]
	[ "$(jq -r '.items[0].versions[0].resources[] | select(.resource == "nodes") | .scope + " " + .responseKind.kind' <<<"$body")" = "Cluster Node" ]
	[ "$(jq -r '.items[0].versions[0].resources[] | select(.resource == "namespaces") | .scope' <<<"$body")" = Cluster ]

	hdr=$(api GET /apis -H "Accept: $DISCOVERY_ACCEPT" -o /dev/null -D - | tr -d '\r')
	grep -qix "content-type: $DISCOVERY_TYPE" <<<"$hdr"
	body=$(api GET /apis -H "Accept: $DISCOVERY_ACCEPT")
	[ "$(jq -r .kind <<<"$body")" = APIGroupDiscoveryList ]
	# the core group is only in /api
	[ "$(jq '[.items[] | select(.metadata.name == "")] | length' <<<"$body")" = 0 ]
	local deploy
	deploy=$(jq -c '.items[] | select(.metadata.name == "apps") | .versions[] | select(.version == "v1") |
		.resources[] | select(.resource == "deployments")' <<<"$body")
	[ "$(jq -c '[.scope, .responseKind, .shortNames, .categories]' <<<"$deploy")" = \
		'["Namespaced",{"group":"apps","version":"v1","kind":"Deployment"},["deploy"],["all"]]' ]
	[ "$(jq -c '.subresources[] | select(.subresource == "scale") | [.responseKind, .verbs]' <<<"$deploy")" = \
		'[{"group":"autoscaling","version":"v1","kind":"Scale"},["get","patch","update"]]' ]
	[ "$(jq -c '.subresources[] | select(.subresource == "status") | .responseKind.kind' <<<"$deploy")" = '"Deployment"' ]
	# every resource carries what kubectl needs to use it
	[ "$(jq '[.items[].versions[].resources[] | select(.responseKind.kind == null or .scope == null or (.verbs | length) == 0)] | length' <<<"$body")" = 0 ]
	# the same groups as the legacy list
	[ "$(jq -r '[.items[].metadata.name] | sort | join(" ")' <<<"$body")" = "$(api GET /apis | jq -r '[.groups[].name] | sort | join(" ")')" ]
}

@test "legacy discovery: GET /api, /apis, /api/v1 and /apis/apps/v1 (plain application/json) agree with the aggregated documents" {
	local hdr body agg
	hdr=$(api GET /api -o /dev/null -D - | tr -d '\r')
	grep -qix "content-type: application/json" <<<"$hdr"
	body=$(api GET /api)
	[ "$(jq -r '.kind + " " + (.versions | join(","))' <<<"$body")" = "APIVersions v1" ]
	body=$(api GET /apis -H 'Accept: application/json')
	[ "$(jq -r '.kind + " " + .apiVersion' <<<"$body")" = "APIGroupList v1" ]
	[ "$(jq -r '.groups[] | select(.name == "apps") | .preferredVersion.groupVersion' <<<"$body")" = apps/v1 ]

	body=$(api GET /api/v1)
	[ "$(jq -r '[.kind, .groupVersion] | join(" ")' <<<"$body")" = "APIResourceList v1" ]
	[ "$(jq -c '.resources[] | select(.name == "pods") | [.namespaced, .kind, .verbs, .shortNames, .categories]' <<<"$body")" = \
		'[true,"Pod",["create","delete","deletecollection","get","list","patch","update","watch"],["po"],["all"]]' ]
	[ "$(jq -c '.resources[] | select(.name == "pods/status") | [.kind, .verbs]' <<<"$body")" = '["Pod",["get","patch","update"]]' ]
	# the same resources, scopes, kinds and verbs as the aggregated /api
	agg=$(api GET /api -H "Accept: $DISCOVERY_ACCEPT")
	[ "$(jq -c '[.resources[] | select(.name | contains("/") | not) | [.name, .namespaced, .kind, .verbs]] | sort' <<<"$body")" = \
		"$(jq -c '[.items[0].versions[0].resources[] | [.resource, .scope == "Namespaced", .responseKind.kind, .verbs]] | sort' <<<"$agg")" ]

	body=$(api GET /apis/apps/v1)
	[ "$(jq -r '[.kind, .groupVersion] | join(" ")' <<<"$body")" = "APIResourceList apps/v1" ]
	[ "$(jq -c '.resources[] | select(.name == "deployments/scale") | [.group, .version, .kind, .verbs]' <<<"$body")" = \
		'["autoscaling","v1","Scale",["get","patch","update"]]' ]
	[ "$(jq -c '.resources[] | select(.name == "replicasets") | [.namespaced, .kind, .shortNames]' <<<"$body")" = '[true,"ReplicaSet",["rs"]]' ]
}

@test "kubectl explain pods.spec.containers: kind, version, field type, description and the container's fields" {
	run -0 k explain pods.spec.containers
	[ "$(sed -n 1,2p <<<"$output" | squeeze)" = $'KIND: Pod\nVERSION: v1' ]
	grep -qx 'FIELD: containers <\[\]Container>' <<<"$(squeeze <<<"$output")"
	grep -qx 'DESCRIPTION:' <<<"$output"
	grep -qx 'FIELDS:' <<<"$output"
	local want
	for want in 'name <string> -required-' 'image <string>' 'command <[]string>' 'args <[]string>' \
		'env <[]EnvVar>' 'ports <[]ContainerPort>' 'resources <ResourceRequirements>' \
		'volumeMounts <[]VolumeMount>' 'livenessProbe <Probe>' 'imagePullPolicy <string>'; do
		grep -qxF "$want" <<<"$(grep -E '^  [a-zA-Z]+'$'\t' <<<"$output" | squeeze)" ||
			{ echo "missing field line: $want" >&2; return 1; }
	done
	# a nested field of a nested field
	run -0 k explain pods.spec.containers.ports.containerPort
	grep -qx 'FIELD: containerPort <integer>' <<<"$(squeeze <<<"$output")"
	run -1 k explain pods.spec.nope
	[[ "$output" == *'field "nope" does not exist'* ]]
}

@test "kubectl explain deployment.spec.strategy.rollingUpdate: group apps, the RollingUpdateDeployment fields" {
	run -0 k explain deployment.spec.strategy.rollingUpdate
	[ "$(sed -n 1,3p <<<"$output" | squeeze)" = $'GROUP: apps\nKIND: Deployment\nVERSION: v1' ]
	grep -qx 'FIELD: rollingUpdate <RollingUpdateDeployment>' <<<"$(squeeze <<<"$output")"
	[ "$(grep -E '^  [a-zA-Z]+'$'\t' <<<"$output" | awk '{ print $1 }' | tr '\n' ' ')" = "maxSurge maxUnavailable " ]
	run -0 k explain deployment.spec.strategy
	grep -qx 'FIELD: strategy <DeploymentStrategy>' <<<"$(squeeze <<<"$output")"
	[ "$(grep -E '^  [a-zA-Z]+'$'\t' <<<"$output" | squeeze | tr '\n' ' ')" = "rollingUpdate <RollingUpdateDeployment> type <string> " ]
}

@test "OpenAPI v3 (read by kubectl apply and explain): every group version listed; PATCH carries the GVK and fieldValidation" {
	local root doc
	root=$(api GET /openapi/v3)
	[ "$(jq -r '.paths | keys | map(select(. == "api/v1" or . == "apis/apps/v1")) | join(" ")' <<<"$root")" = "api/v1 apis/apps/v1" ]
	doc=$(api GET "$(jq -r '.paths["apis/apps/v1"].serverRelativeURL' <<<"$root")")
	[ "$(jq -r .openapi <<<"$doc")" = 3.0.0 ]
	[ "$(jq -c '.paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"].patch["x-kubernetes-group-version-kind"]' <<<"$doc")" = \
		'{"group":"apps","version":"v1","kind":"Deployment"}' ]
	[ "$(jq -r '[.paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"].patch.parameters[].name] | map(select(. == "fieldValidation")) | length' <<<"$doc")" = 1 ]
	# every PATCH operation carries fieldValidation (else kubectl validates locally)
	doc=$(api GET "$(jq -r '.paths["api/v1"].serverRelativeURL' <<<"$root")")
	[ "$(jq '[.paths[] | select(.patch) | .patch | select([.parameters[]?.name] | index("fieldValidation") | not)] | length' <<<"$doc")" = 0 ]
	[ "$(jq -c '.paths["/api/v1/namespaces/{namespace}/pods/{name}"].patch["x-kubernetes-group-version-kind"]' <<<"$doc")" = \
		'{"group":"","version":"v1","kind":"Pod"}' ]
}

@test "kubectl apply -f with default strict validation (no --validate flag): sends fieldValidation=Strict and creates the objects" {
	make_namespace disc-apply
	cat >"$BATS_TEST_TMPDIR/app.yaml" <<-'EOF'
		apiVersion: apps/v1
		kind: Deployment
		metadata:
		  name: strict
		spec:
		  replicas: 2
		  selector: {matchLabels: {app: strict}}
		  template:
		    metadata: {labels: {app: strict}}
		    spec:
		      containers: [{name: app, image: "nginx:1.25"}]
		---
		apiVersion: v1
		kind: Service
		metadata:
		  name: strict
		spec:
		  selector: {app: strict}
		  ports: [{port: 80, targetPort: 8080}]
	EOF
	run -0 --separate-stderr k -n disc-apply apply -f "$BATS_TEST_TMPDIR/app.yaml" -v=6
	[ "$output" = $'deployment.apps/strict created\nservice/strict created' ]
	# kubectl read the OpenAPI v3 documents and left validation to the server
	grep -q " GET https://127.0.0.1:$C8S_PORT/openapi/v3?timeout=[0-9]*s 200 OK" <<<"$stderr"
	grep -q " GET https://127.0.0.1:$C8S_PORT/openapi/v3/apis/apps/v1?hash=[^ ]* 200 OK" <<<"$stderr"
	grep -q " POST https://127.0.0.1:$C8S_PORT/apis/apps/v1/namespaces/disc-apply/deployments?fieldManager=kubectl-client-side-apply&fieldValidation=Strict&timeout=[0-9]*s 201 Created" <<<"$stderr"
	grep -q " POST https://127.0.0.1:$C8S_PORT/api/v1/namespaces/disc-apply/services?fieldManager=kubectl-client-side-apply&fieldValidation=Strict&timeout=[0-9]*s 201 Created" <<<"$stderr"
	run -0 k -n disc-apply get deployment strict -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].image}'
	[ "$output" = "2 nginx:1.25" ]
	run -0 k -n disc-apply get service strict -o jsonpath='{.spec.ports[0].port}:{.spec.ports[0].targetPort}'
	[ "$output" = 80:8080 ]
}
