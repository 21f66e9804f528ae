#!/usr/bin/env bats
# Bad requests: each gets the Kubernetes Status (code, reason, message) and
# leaves the store untouched (same list resourceVersion, same objects).

bats_require_minimum_version 1.5.0

load helpers

CM=/api/v1/namespaces/bad/configmaps

setup_file() {
	start_apiserver
	make_namespace bad
	k -n bad create configmap keep --from-literal=a=1
}

teardown_file() {
	cleanup_server
}

# snapshot: the store revision and every object of namespace bad.
snapshot() {
	printf '%s\n' "$(list_rv)"
	api GET "$CM" | jq -c '[.items[] | {n: .metadata.name, rv: .metadata.resourceVersion, d: .data}]'
	api GET /api/v1/namespaces/bad/secrets | jq -c '[.items[].metadata.name]'
}

setup() {
	BEFORE=$(snapshot)
}

assert_unchanged() {
	local now
	now=$(snapshot)
	if [ "$now" != "$BEFORE" ]; then
		printf 'store changed:\nbefore: %s\nafter:  %s\n' "$BEFORE" "$now" >&2
		return 1
	fi
}

assert_absent() {
	[ "$(api_code GET "$CM/$1")" = 404 ]
}

@test "malformed JSON body (kubectl create --raw and POST): 400 BadRequest, json parse error, nothing stored" {
	printf '%s' '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"broken"' >"$BATS_TEST_TMPDIR/broken.json"
	run -1 k create --raw "$CM" -f "$BATS_TEST_TMPDIR/broken.json"
	[[ "$output" == "Error from server (BadRequest): couldn't get version/kind; json parse error: "* ]]
	run -0 api_json POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"broken"},}'
	[ "$(reply_code "$output")" = 400 ]
	local st
	st=$(reply_body "$output")
	[ "$(jq -r '.reason + " " + (.code | tostring)' <<<"$st")" = "BadRequest 400" ]
	[[ "$(jq -r .message <<<"$st")" == "couldn't get version/kind; json parse error: "* ]]
	# not an object at all, and an empty body
	run -0 api_json POST "$CM" '[1,2]'
	[ "$(reply_code "$output")" = 400 ]
	[ "$(reply_body "$output" | jq -r .reason)" = BadRequest ]
	run -0 api_json POST "$CM" ''
	[ "$(reply_code "$output")" = 400 ]
	[ "$(reply_body "$output" | jq -r .reason)" = BadRequest ]
	# a malformed update leaves the object as it was
	run -0 api_json PUT "$CM/keep" '{"metadata":{"name":"keep"},"data":{"a":'
	[ "$(reply_code "$output")" = 400 ]
	assert_absent broken
	assert_unchanged
}

@test "body kind does not match the URL (a Secret POSTed to configmaps): 400 BadRequest, nothing stored" {
	local body='{"apiVersion":"v1","kind":"Secret","metadata":{"name":"wrongkind"},"stringData":{"p":"x"}}'
	printf '%s' "$body" >"$BATS_TEST_TMPDIR/secret.json"
	run -1 k create --raw "$CM" -f "$BATS_TEST_TMPDIR/secret.json"
	[[ "$output" == 'Error from server (BadRequest): Secret in version "v1" cannot be handled as a ConfigMap: '* ]]
	run -0 api_json POST "$CM" "$body"
	[ "$(reply_code "$output")" = 400 ]
	[ "$(reply_body "$output" | jq -r '.reason + " " + (.code | tostring)')" = "BadRequest 400" ]
	[[ "$(reply_body "$output" | jq -r .message)" == 'Secret in version "v1" cannot be handled as a ConfigMap: '* ]]
	# an apiVersion the URL does not serve
	run -0 api_json POST "$CM" '{"apiVersion":"apps/v1","kind":"ConfigMap","metadata":{"name":"wrongkind"}}'
	[ "$(reply_code "$output")" = 400 ]
	assert_status "$(reply_body "$output")" 400 BadRequest \
		'the API version in the data (apps/v1) does not match the expected API version (v1)'
	assert_absent wrongkind
	[ "$(api_code GET /api/v1/namespaces/bad/secrets/wrongkind)" = 404 ]
	assert_unchanged
}

@test "object name of 254 characters: 422 Invalid, metadata.name must be no more than 253 characters, nothing stored" {
	local long
	long=$(printf 'a%.0s' $(seq 254))
	run -0 api_json POST "$CM" "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$long\"}}"
	[ "$(reply_code "$output")" = 422 ]
	local st
	st=$(reply_body "$output")
	assert_status "$st" 422 Invalid \
		"ConfigMap \"$long\" is invalid: metadata.name: Invalid value: \"$long\": must be no more than 253 characters"
	[ "$(jq -c '.details | {name, kind, causes: [.causes[] | {reason, field}]}' <<<"$st")" = \
		"{\"name\":\"$long\",\"kind\":\"ConfigMap\",\"causes\":[{\"reason\":\"FieldValueInvalid\",\"field\":\"metadata.name\"}]}" ]
	# 253 is fine
	local ok=${long:1}
	run -0 api_json POST "$CM?dryRun=All" "{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"$ok\"}}"
	[ "$(reply_code "$output")" = 201 ]
	# namespaces are RFC 1123 labels: at most 63
	run -1 k create namespace "$(printf 'n%.0s' $(seq 64))"
	[[ "$output" == *"must be no more than 63 characters"* ]]
	assert_unchanged
}

@test "kubectl create configmap Bad_Name: 422 Invalid with the RFC 1123 subdomain message, nothing stored" {
	# c8s states the rule in its own words; the message must name the rule
	# and the regular expression it checks.
	local re='[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*'
	run -0 api_json POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Bad_Name"}}'
	[ "$(reply_code "$output")" = 422 ]
	local st
	st=$(reply_body "$output")
	[ "$(jq -r '.reason + " " + (.code | tostring) + " " + .details.causes[0].field' <<<"$st")" = "Invalid 422 metadata.name" ]
	run -1 k -n bad create configmap Bad_Name
	[[ "$output" == 'error: failed to create configmap: ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '* ]]
	run -1 k -n bad create configmap 'spaces are bad'
	[[ "$output" == *'is invalid: metadata.name: Invalid value: "spaces are bad": '* ]]
	assert_absent Bad_Name
	assert_unchanged
	local msg
	msg=$(jq -r .message <<<"$st")
	[[ "$msg" == 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": '* ]]
	[[ "$msg" == *"RFC 1123 subdomain"* ]]
	[[ "$msg" == *"$re"* ]]
	[ "$(jq -r '.status + " " + .kind' <<<"$st")" = "Failure Status" ]
}

@test "body over 3 MiB: 413 RequestEntityTooLarge (with Content-Length and chunked), nothing stored" {
	local big="$BATS_TEST_TMPDIR/big.json"
	jq -n '{apiVersion: "v1", kind: "ConfigMap", metadata: {name: "huge"}, data: {k: ("x" * (3 * 1024 * 1024))}}' >"$big"
	[ "$(stat -c %s "$big")" -gt 3145728 ]
	run -1 k create --raw "$CM" -f "$big"
	[ "$output" = "Error from server (RequestEntityTooLarge): Request entity too large: limit is 3145728" ]
	run -0 api_json POST "$CM" "@$big"
	[ "$(reply_code "$output")" = 413 ]
	assert_status "$(reply_body "$output")" 413 RequestEntityTooLarge "Request entity too large: limit is 3145728"
	run -0 api_json POST "$CM" "@$big" -H 'Transfer-Encoding: chunked'
	[ "$(reply_code "$output")" = 413 ]
	assert_status "$(reply_body "$output")" 413 RequestEntityTooLarge "Request entity too large: limit is 3145728"
	# an update that large is refused too, and the object is kept
	run -0 api_json PUT "$CM/keep" "@$big"
	[ "$(reply_code "$output")" = 413 ]
	assert_absent huge
	assert_unchanged
	# the server still serves normal requests afterwards
	[ "$(api_code GET "$CM/keep")" = 200 ]
}

@test "invalid label selector (kubectl get -l 'a in (b'): 400 BadRequest, unable to parse requirement" {
	run -1 k -n bad get configmaps -l 'a in (b'
	[[ "$output" == 'Error from server (BadRequest): Unable to find "/v1, Resource=configmaps" that match label selector "a in (b", field selector "": unable to parse requirement: '* ]]
	run -0 api GET "$CM?labelSelector=a%20in%20(b"
	[ "$(jq -r '[.kind, .status, .reason, (.code | tostring)] | join(" ")' <<<"$output")" = "Status Failure BadRequest 400" ]
	[[ "$(jq -r .message <<<"$output")" == "unable to parse requirement: "* ]]
	run -0 api GET "/api/v1/pods?labelSelector=%3D%3Dx"
	[ "$(jq -r '.code' <<<"$output")" = 400 ]
	# a delete by an invalid selector deletes nothing
	run -1 k -n bad delete configmaps -l 'a notin b'
	assert_unchanged
}

@test "unsupported field selector (kubectl get --field-selector spec.bogus=x): 400 field label not supported" {
	run -0 api GET '/api/v1/pods?fieldSelector=spec.bogus%3Dx'
	assert_status "$output" 400 BadRequest "field label not supported: spec.bogus"
	run -0 api GET "$CM?fieldSelector=data.a%3D1"
	assert_status "$output" 400 BadRequest "field label not supported: data.a"
	run -1 k get pods -A --field-selector spec.bogus=x
	[ "$output" = 'Error from server (BadRequest): Unable to find "/v1, Resource=pods" that match label selector "", field selector "spec.bogus=x": field label not supported: spec.bogus' ]
	# the same on a watch
	run -0 api GET '/api/v1/pods?watch=1&fieldSelector=spec.bogus%3Dx'
	assert_status "$output" 400 BadRequest "field label not supported: spec.bogus"
	# a malformed term
	run -0 api GET "$CM?fieldSelector=metadata.name"
	[ "$(jq -r '.reason + " " + (.code | tostring)' <<<"$output")" = "BadRequest 400" ]
	assert_unchanged
}

@test "create in a missing namespace (kubectl -n nope create configmap): 404 namespaces \"nope\" not found, nothing stored" {
	run -1 k -n nope create configmap x --from-literal=a=b
	[ "$output" = 'error: failed to create configmap: namespaces "nope" not found' ]
	run -0 api_json POST /api/v1/namespaces/nope/configmaps '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"}}'
	[ "$(reply_code "$output")" = 404 ]
	assert_status "$(reply_body "$output")" 404 NotFound 'namespaces "nope" not found'
	[ "$(reply_body "$output" | jq -c .details)" = '{"name":"nope","kind":"namespaces"}' ]
	run -1 k -n nope run p --image=busybox
	[[ "$output" == *'namespaces "nope" not found'* ]]
	[ "$(api GET '/api/v1/configmaps?fieldSelector=metadata.namespace%3Dnope' | jq '.items | length')" = 0 ]
	[ "$(api_code GET /api/v1/namespaces/nope)" = 404 ]
	assert_unchanged
}

@test "no credentials (curl), an unknown token (curl, kubectl) or a foreign client certificate: 401 Unauthorized, nothing stored" {
	local url="https://127.0.0.1:$C8S_PORT"
	run -0 curl -sk -w '\n%{http_code}' "$url/api/v1/namespaces/bad/configmaps"
	[ "$(reply_code "$output")" = 401 ]
	assert_status "$(reply_body "$output")" 401 Unauthorized Unauthorized
	run -0 curl -sk -w '\n%{http_code}' -X POST -H 'Content-Type: application/json' \
		-d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"anon"}}' "$url$CM"
	[ "$(reply_code "$output")" = 401 ]
	assert_status "$(reply_body "$output")" 401 Unauthorized Unauthorized
	run -0 curl -sk -w '\n%{http_code}' -X DELETE "$url$CM/keep"
	[ "$(reply_code "$output")" = 401 ]
	run -0 curl -sk -w '\n%{http_code}' -H 'Authorization: Bearer not-a-token' "$url$CM"
	[ "$(reply_code "$output")" = 401 ]
	assert_status "$(reply_body "$output")" 401 Unauthorized Unauthorized
	# a client certificate from another CA, even one claiming system:masters
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 \
		-subj "/O=system:masters/CN=rogue" -keyout "$BATS_TEST_TMPDIR/rogue.key" \
		-out "$BATS_TEST_TMPDIR/rogue.crt" 2>/dev/null
	run -0 curl -sk -w '\n%{http_code}' --cert "$BATS_TEST_TMPDIR/rogue.crt" --key "$BATS_TEST_TMPDIR/rogue.key" \
		-X POST -H 'Content-Type: application/json' \
		-d '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"anon"}}' "$url$CM"
	[ "$(reply_code "$output")" = 401 ]
	# kubectl with the cluster's CA and a token the server does not know
	# (with no credentials at all kubectl would prompt for a password)
	cat >"$BATS_TEST_TMPDIR/badtoken.kubeconfig" <<-EOF
		apiVersion: v1
		kind: Config
		clusters:
		- name: c8s
		  cluster: {server: "$url", certificate-authority: "$C8S_DIR/data/tls/ca.crt"}
		users:
		- name: stranger
		  user: {token: not-a-token}
		contexts:
		- name: c8s
		  context: {cluster: c8s, user: stranger}
		current-context: c8s
	EOF
	run -1 env KUBECONFIG="$BATS_TEST_TMPDIR/badtoken.kubeconfig" kubectl --request-timeout=20s -n bad get configmaps
	[ "$output" = "error: You must be logged in to the server (Unauthorized)" ]
	run -1 env KUBECONFIG="$BATS_TEST_TMPDIR/badtoken.kubeconfig" kubectl --request-timeout=20s -n bad create configmap anon
	[[ "$output" == *"Unauthorized"* ]]
	assert_absent anon
	assert_unchanged
}

@test "PUT whose body names another object or namespace: 400 BadRequest, nothing changed" {
	run -0 api_json PUT "$CM/keep" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"other"},"data":{"a":"2"}}'
	[ "$(reply_code "$output")" = 400 ]
	assert_status "$(reply_body "$output")" 400 BadRequest "the name of the object (other) does not match the name on the URL (keep)"
	run -0 api_json POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x","namespace":"default"}}'
	[ "$(reply_code "$output")" = 400 ]
	assert_status "$(reply_body "$output")" 400 BadRequest "the namespace of the provided object does not match the namespace sent on the request"
	[ "$(api_code GET /api/v1/namespaces/default/configmaps/x)" = 404 ]
	assert_absent other
	assert_absent x
	assert_unchanged
}

@test "kubectl create -f with an unknown field: 400 strict decoding error; wrong value type: 400; unsupported media type: 415" {
	cat >"$BATS_TEST_TMPDIR/unknown.yaml" <<-EOF
		apiVersion: v1
		kind: ConfigMap
		metadata: {name: strict, namespace: bad}
		bogus: 1
	EOF
	run -1 k create -f "$BATS_TEST_TMPDIR/unknown.yaml"
	[[ "$output" == *'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"'* ]]
	run -0 api_json POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"strict"},"data":{"a":1}}'
	[ "$(reply_code "$output")" = 400 ]
	[[ "$(reply_body "$output" | jq -r .message)" == 'ConfigMap in version "v1" cannot be handled as a ConfigMap: '* ]]
	run -0 api POST "$CM" -H 'Content-Type: text/plain' -d '{"metadata":{"name":"strict"}}' -w '\n%{http_code}'
	[ "$(reply_code "$output")" = 415 ]
	[ "$(reply_body "$output" | jq -r '.reason + " " + (.code | tostring)')" = "UnsupportedMediaType 415" ]
	assert_absent strict
	assert_unchanged
}

@test "kubectl create of an existing name: 409 AlreadyExists; delete of a missing one: 404 NotFound; store unchanged" {
	run -1 k -n bad create configmap keep --from-literal=a=2
	[ "$output" = 'error: failed to create configmap: configmaps "keep" already exists' ]
	run -0 api_json POST "$CM" '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"keep"},"data":{"a":"3"}}'
	[ "$(reply_code "$output")" = 409 ]
	assert_status "$(reply_body "$output")" 409 AlreadyExists 'configmaps "keep" already exists'
	[ "$(reply_body "$output" | jq -c .details)" = '{"name":"keep","kind":"configmaps"}' ]
	run -1 k -n bad delete configmap ghost
	[ "$output" = 'Error from server (NotFound): configmaps "ghost" not found' ]
	run -0 api DELETE "$CM/ghost" -w '\n%{http_code}'
	[ "$(reply_code "$output")" = 404 ]
	assert_status "$(reply_body "$output")" 404 NotFound 'configmaps "ghost" not found'
	run -0 api GET /api/v1/namespaces/bad/widgets -w '\n%{http_code}'
	[ "$(reply_code "$output")" = 404 ]
	[ "$(api GET "$CM/keep" | jq -r .data.a)" = 1 ]
	assert_unchanged
}
