#!/usr/bin/env bats
# Lists: pagination (kubectl --chunk-size, raw limit/continue) and label and
# field selectors on namespaced and cluster-wide lists.

bats_require_minimum_version 1.5.0

load helpers

# Pods used by the selector tests: namespace/name labels nodeName phase
#   ls-a/a-web   tier=web,env=prod  node1  Pending
#   ls-a/a-db    tier=db,env=dev    -      Running
#   ls-a/a-cache tier=cache,env=prod -     Pending
#   ls-a/a-bare  -                  -      Pending
#   ls-b/b-web   tier=web,env=dev   node1  Pending
#   ls-b/b-db    tier=db,env=prod   node2  Pending
#   ls-b/b-bare  -                  -      Succeeded
make_pod() {
	local ns=$1 name=$2 labels=$3 node=$4
	local body
	body=$(jq -n --arg ns "$ns" --arg n "$name" --arg l "$labels" --arg node "$node" '
		{apiVersion: "v1", kind: "Pod",
		 metadata: {name: $n, namespace: $ns,
			    labels: ($l | if . == "" then {} else split(",") | map(split("=") | {(.[0]): .[1]}) | add end)},
		 spec: ({containers: [{name: "c", image: "busybox:1.36"}]} +
			(if $node == "" then {} else {nodeName: $node} end))}')
	[ "$(api_code POST "/api/v1/namespaces/$ns/pods" -H 'Content-Type: application/json' -d "$body")" = 201 ]
}

set_phase() {
	local ns=$1 name=$2 phase=$3
	local obj
	obj=$(api GET "/api/v1/namespaces/$ns/pods/$name" | jq --arg p "$phase" '.status.phase = $p')
	[ "$(api_code PUT "/api/v1/namespaces/$ns/pods/$name/status" -H 'Content-Type: application/json' -d "$obj")" = 200 ]
}

setup_file() {
	start_apiserver
	make_namespace ls-a
	make_namespace ls-b
	make_namespace pages
	make_pod ls-a a-web tier=web,env=prod node1
	make_pod ls-a a-db tier=db,env=dev ""
	make_pod ls-a a-cache tier=cache,env=prod ""
	make_pod ls-a a-bare "" ""
	make_pod ls-b b-web tier=web,env=dev node1
	make_pod ls-b b-db tier=db,env=prod node2
	make_pod ls-b b-bare "" ""
	set_phase ls-a a-db Running
	set_phase ls-b b-bare Succeeded
	local i
	for i in 1 2 3 4 5; do
		api_code POST /api/v1/namespaces/pages/configmaps -H 'Content-Type: application/json' \
			-d "{\"metadata\":{\"name\":\"c$i\",\"labels\":{\"odd\":\"$((i % 2))\"}},\"data\":{\"i\":\"$i\"}}" >/dev/null
	done
}

teardown_file() {
	cleanup_server
}

# pods ARGS...: "ns/name" of the pods `kubectl get pods ARGS` lists, one line.
pods() {
	k get pods "$@" -o jsonpath='{range .items[*]}{.metadata.namespace}/{.metadata.name} {end}' | sed 's/ $//'
}

# urlenc STRING: STRING percent-encoded for a query parameter.
urlenc() {
	jq -rn --arg s "$1" '$s | @uri'
}

# raw_pods PATH: the same for a raw list.
raw_pods() {
	api GET "$1" | jq -er '[.items[] | .metadata.namespace + "/" + .metadata.name] | join(" ")'
}

@test "kubectl get pods -A -o custom-columns: the selector fixtures hold the expected labels, nodes and phases" {
	run -0 k get pods -A -o custom-columns=NS:.metadata.namespace,NAME:.metadata.name,NODE:.spec.nodeName,PHASE:.status.phase,TIER:.metadata.labels.tier --no-headers
	[ "$(printf '%s\n' "$output" | awk '{ $1 = $1; print }')" = "ls-a a-bare <none> Pending <none>
ls-a a-cache <none> Pending cache
ls-a a-db <none> Running db
ls-a a-web node1 Pending web
ls-b b-bare <none> Succeeded <none>
ls-b b-db node2 Pending db
ls-b b-web node1 Pending web" ]
}

@test "kubectl get pods -l: =, ==, !=, in, notin, exists, !exists in one namespace" {
	[ "$(pods -n ls-a -l tier=web)" = "ls-a/a-web" ]
	[ "$(pods -n ls-a -l tier==db)" = "ls-a/a-db" ]
	[ "$(pods -n ls-a -l tier!=web)" = "ls-a/a-bare ls-a/a-cache ls-a/a-db" ]
	[ "$(pods -n ls-a -l 'tier in (web,db)')" = "ls-a/a-db ls-a/a-web" ]
	[ "$(pods -n ls-a -l 'tier notin (web,db)')" = "ls-a/a-bare ls-a/a-cache" ]
	[ "$(pods -n ls-a -l tier)" = "ls-a/a-cache ls-a/a-db ls-a/a-web" ]
	[ "$(pods -n ls-a -l '!tier')" = "ls-a/a-bare" ]
	[ "$(pods -n ls-a -l 'env=prod,tier!=cache')" = "ls-a/a-web" ]
	[ "$(pods -n ls-a -l tier=nothing)" = "" ]
}

@test "GET /api/v1/pods?labelSelector= (kubectl get pods -A -l): the same operators across all namespaces" {
	[ "$(raw_pods "/api/v1/pods?labelSelector=$(urlenc 'tier=web')")" = "ls-a/a-web ls-b/b-web" ]
	[ "$(raw_pods "/api/v1/pods?labelSelector=$(urlenc 'tier!=web')")" = "ls-a/a-bare ls-a/a-cache ls-a/a-db ls-b/b-bare ls-b/b-db" ]
	[ "$(raw_pods "/api/v1/pods?labelSelector=$(urlenc 'tier in (web,db)')")" = "ls-a/a-db ls-a/a-web ls-b/b-db ls-b/b-web" ]
	[ "$(raw_pods "/api/v1/pods?labelSelector=$(urlenc 'tier notin (web,db)')")" = "ls-a/a-bare ls-a/a-cache ls-b/b-bare" ]
	[ "$(raw_pods "/api/v1/pods?labelSelector=$(urlenc 'tier')")" = "ls-a/a-cache ls-a/a-db ls-a/a-web ls-b/b-db ls-b/b-web" ]
	[ "$(raw_pods "/api/v1/pods?labelSelector=$(urlenc '!tier')")" = "ls-a/a-bare ls-b/b-bare" ]
	[ "$(raw_pods "/api/v1/pods?labelSelector=$(urlenc 'env in (prod),tier notin (cache)')")" = "ls-a/a-web ls-b/b-db" ]
	[ "$(raw_pods "/api/v1/pods?labelSelector=$(urlenc 'tier notin (web),!env')")" = "ls-a/a-bare ls-b/b-bare" ]
	[ "$(raw_pods "/api/v1/namespaces/ls-b/pods?labelSelector=$(urlenc 'env!=prod')")" = "ls-b/b-bare ls-b/b-web" ]
	# kubectl -A -l: same selection, NAMESPACE column filled from the row objects
	[ "$(pods -A -l 'tier in (web,db),env!=dev')" = "ls-a/a-web ls-b/b-db" ]
	run -0 k get pods -A -l tier=web
	[ "$(printf '%s\n' "$output" | awk 'NR > 1 { print $1, $2, $4 }')" = $'ls-a a-web Pending\nls-b b-web Pending' ]
}

@test "kubectl get pods --field-selector: metadata.name, metadata.namespace, spec.nodeName, status.phase" {
	[ "$(pods -n ls-a --field-selector metadata.name=a-db)" = "ls-a/a-db" ]
	[ "$(pods -n ls-b --field-selector spec.nodeName=node1)" = "ls-b/b-web" ]
	[ "$(pods -n ls-a --field-selector status.phase=Running)" = "ls-a/a-db" ]
	# label and field selectors together, cluster-wide
	[ "$(pods -A -l env=prod --field-selector spec.nodeName=node1)" = "ls-a/a-web" ]
	# what describe node asks for
	[ "$(pods -A --field-selector 'spec.nodeName=node2,status.phase!=Succeeded,status.phase!=Failed')" = "ls-b/b-db" ]
	run -0 k get pods -A --field-selector status.phase=Failed
	[ "$output" = "No resources found" ]
	# the same fields on cluster-wide raw lists
	[ "$(raw_pods "/api/v1/pods?fieldSelector=$(urlenc 'metadata.name=b-web')")" = "ls-b/b-web" ]
	[ "$(raw_pods "/api/v1/pods?fieldSelector=$(urlenc 'metadata.namespace=ls-b')")" = "ls-b/b-bare ls-b/b-db ls-b/b-web" ]
	[ "$(raw_pods "/api/v1/pods?fieldSelector=$(urlenc 'metadata.namespace!=ls-b')")" = "ls-a/a-bare ls-a/a-cache ls-a/a-db ls-a/a-web" ]
	[ "$(raw_pods "/api/v1/pods?fieldSelector=$(urlenc 'spec.nodeName=node1')")" = "ls-a/a-web ls-b/b-web" ]
	[ "$(raw_pods "/api/v1/pods?fieldSelector=$(urlenc 'status.phase=Running')")" = "ls-a/a-db" ]
	[ "$(raw_pods "/api/v1/pods?fieldSelector=$(urlenc 'status.phase!=Pending')")" = "ls-a/a-db ls-b/b-bare" ]
}

@test "GET ...?fieldSelector: raw lists, an empty spec.nodeName, and configmaps by metadata.name" {
	[ "$(raw_pods '/api/v1/pods?fieldSelector=spec.nodeName%3D')" = "ls-a/a-bare ls-a/a-cache ls-a/a-db ls-b/b-bare" ]
	[ "$(raw_pods '/api/v1/pods?fieldSelector=spec.nodeName%3D%3Dnode2')" = "ls-b/b-db" ]
	[ "$(raw_pods '/api/v1/namespaces/ls-a/pods?fieldSelector=status.phase%3DPending%2Cmetadata.name%21%3Da-web')" = "ls-a/a-bare ls-a/a-cache" ]
	run -0 api GET '/api/v1/configmaps?fieldSelector=metadata.name%3Dc3'
	[ "$(json_field "$output" '[.items[] | .metadata.namespace + "/" + .metadata.name + "=" + .data.i] | join(" ")')" = "pages/c3=3" ]
	run -0 k -n pages get configmaps --field-selector metadata.name!=c3 -o name
	[ "$output" = $'configmap/c1\nconfigmap/c2\nconfigmap/c4\nconfigmap/c5' ]
}

@test "kubectl get --chunk-size=2 over 5 configmaps: 3 requests with limit=2 and continue, all rows printed in order" {
	run -0 --separate-stderr k -n pages get configmaps --chunk-size=2 -v=6
	[ "$(printf '%s\n' "$output" | awk '{ print $1, $2 }')" = "NAME DATA
c1 1
c2 1
c3 1
c4 1
c5 1" ]
	local gets
	gets=$(printf '%s\n' "$stderr" | grep -o 'GET https://[^ ]*/namespaces/pages/configmaps[^ ]*')
	[ "$(printf '%s\n' "$gets" | wc -l)" = 3 ]
	[ "$(printf '%s\n' "$gets" | grep -c 'limit=2')" = 3 ]
	[ "$(printf '%s\n' "$gets" | grep -c 'continue=')" = 2 ]
	run -0 k -n pages get configmaps --chunk-size=2 -o name
	[ "$output" = "$(printf 'configmap/c%s\n' 1 2 3 4 5)" ]
}

@test "GET ?limit=2&continue: pages of 2, 2 and 1 from one snapshot, remainingItemCount, no continue on the last page" {
	local p1 p2 p3 rv
	p1=$(api GET '/api/v1/namespaces/pages/configmaps?limit=2')
	rv=$(json_field "$p1" .metadata.resourceVersion)
	[ "$(json_field "$p1" '[.items[].metadata.name] | join(" ")')" = "c1 c2" ]
	[ "$(json_field "$p1" .metadata.remainingItemCount)" = 3 ]
	# a change between pages is not seen by the later pages
	[ "$(api_code POST /api/v1/namespaces/pages/configmaps -H 'Content-Type: application/json' -d '{"metadata":{"name":"c3a"}}')" = 201 ]
	[ "$(api_code DELETE /api/v1/namespaces/pages/configmaps/c4)" = 200 ]
	p2=$(api GET "/api/v1/namespaces/pages/configmaps?limit=2&continue=$(json_field "$p1" .metadata.continue)")
	[ "$(json_field "$p2" '[.items[].metadata.name] | join(" ")')" = "c3 c4" ]
	[ "$(json_field "$p2" .metadata.resourceVersion)" = "$rv" ]
	[ "$(json_field "$p2" .metadata.remainingItemCount)" = 1 ]
	p3=$(api GET "/api/v1/namespaces/pages/configmaps?limit=2&continue=$(json_field "$p2" .metadata.continue)")
	[ "$(json_field "$p3" '[.items[].metadata.name] | join(" ")')" = c5 ]
	[ "$(json_field "$p3" .metadata.resourceVersion)" = "$rv" ]
	[ "$(json_field "$p3" '.metadata.continue // "none"')" = none ]
	[ "$(json_field "$p3" '.metadata.remainingItemCount // "none"')" = none ]
	# a fresh list sees the changes
	[ "$(api GET /api/v1/namespaces/pages/configmaps | jq -r '[.items[].metadata.name] | join(" ")')" = "c1 c2 c3 c3a c5" ]
	# put things back for the other tests
	[ "$(api_code DELETE /api/v1/namespaces/pages/configmaps/c3a)" = 200 ]
	[ "$(api_code POST /api/v1/namespaces/pages/configmaps -H 'Content-Type: application/json' \
		-d '{"metadata":{"name":"c4","labels":{"odd":"0"}},"data":{"i":"4"}}')" = 201 ]
}

@test "GET ?limit=2&labelSelector: pages hold matching items only" {
	local p1 p2
	p1=$(api GET '/api/v1/namespaces/pages/configmaps?limit=2&labelSelector=odd%3D1')
	[ "$(json_field "$p1" '[.items[].metadata.name] | join(" ")')" = "c1 c3" ]
	p2=$(api GET "/api/v1/namespaces/pages/configmaps?limit=2&labelSelector=odd%3D1&continue=$(json_field "$p1" .metadata.continue)")
	[ "$(json_field "$p2" '[.items[].metadata.name] | join(" ")')" = c5 ]
	[ "$(json_field "$p2" '.metadata.continue // "none"')" = none ]
	run -0 k -n pages get configmaps -l odd=1 --chunk-size=1 -o name
	[ "$output" = "$(printf 'configmap/c%s\n' 1 3 5)" ]
}

@test "GET ?limit with a selector leaves remainingItemCount unset (the count is unknown)" {
	# ListMeta: "If the list request contained label or field selectors, then
	# the number of remaining items is unknown and the field will be left
	# unset and omitted during serialization."
	run -0 api GET '/api/v1/namespaces/pages/configmaps?limit=2&labelSelector=odd%3D1'
	[ "$(json_field "$output" '[.items[].metadata.name] | join(" ")')" = "c1 c3" ]
	[ -n "$(json_field "$output" .metadata.continue)" ]
	[ "$(json_field "$output" '.metadata.remainingItemCount // "unset"')" = unset ]
	run -0 api GET '/api/v1/pods?limit=1&fieldSelector=spec.nodeName%3Dnode1'
	[ "$(json_field "$output" '.metadata.remainingItemCount // "unset"')" = unset ]
}
