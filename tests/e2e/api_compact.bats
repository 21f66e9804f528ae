#!/usr/bin/env bats
# History compaction (--etcd-compaction-interval 1s): a watch or list at a
# compacted resourceVersion answers 410 Expired; current state and recent
# revisions stay readable.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	start_apiserver --etcd-compaction-interval 1s
	make_namespace cp
	# a revision that later writes supersede, compacted away before the tests
	CP_OLD_REV=$(superseded_rev old)
	export CP_OLD_REV
}

teardown_file() {
	cleanup_server
}

cm_put() {
	api PUT "/api/v1/namespaces/cp/configmaps/$1" -H 'Content-Type: application/json' \
		-d "{\"metadata\":{\"name\":\"$1\"},\"data\":{\"v\":\"$2\"}}" | jq -er .metadata.resourceVersion
}

cm_create() {
	api POST /api/v1/namespaces/cp/configmaps -H 'Content-Type: application/json' \
		-d "{\"metadata\":{\"name\":\"$1\"},\"data\":{\"v\":\"$2\"}}" | jq -er .metadata.resourceVersion
}

# compacted REV: true once a list at exactly REV is refused as expired.
compacted() {
	[ "$(api_code GET "/api/v1/namespaces/cp/configmaps?resourceVersion=$1&resourceVersionMatch=Exact")" = 410 ]
}

# superseded_rev: make a revision that later writes supersede and wait until
# compaction has passed it; prints it.
superseded_rev() {
	local name=$1 r
	r=$(cm_create "$name" 1)
	cm_put "$name" 2 >/dev/null
	cm_put "$name" 3 >/dev/null
	wait_for 15 compacted "$r" || return 1
	echo "$r"
}

@test "GET ?watch=1&resourceVersion=1 after compaction: one ERROR event holding a 410 Expired Status, then the stream ends" {
	# the current state is intact
	[ "$(api GET /api/v1/namespaces/cp/configmaps/old | jq -r .data.v)" = 3 ]
	local rv start
	for rv in 1 "$CP_OLD_REV"; do
		start=$(date +%s%N)
		run -0 api GET "/api/v1/namespaces/cp/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=4"
		[ "$(printf '%s\n' "$output" | wc -l)" = 1 ] || { echo "expected one ERROR event, got: $output" >&2; return 1; }
		# the server ends the stream after the error, without waiting for the timeout
		[ $((($(date +%s%N) - start) / 1000000)) -lt 3000 ]
		[ "$(jq -r .type <<<"$output")" = ERROR ]
		local st
		st=$(jq -c .object <<<"$output")
		[ "$(jq -r '[.kind, .apiVersion, .status, (.code | tostring), .reason] | join(" ")' <<<"$st")" = "Status v1 Failure 410 Expired" ]
		[[ "$(jq -r .message <<<"$st")" =~ ^"too old resource version: $rv (" ]]
	done
}

@test "GET ?resourceVersion=R&resourceVersionMatch=Exact at a compacted R: 410 Expired, list too old" {
	run -0 api GET "/api/v1/namespaces/cp/configmaps?resourceVersion=$CP_OLD_REV&resourceVersionMatch=Exact"
	assert_status "$output" 410 Expired "The resourceVersion for the provided list is too old."
}

@test "GET ?continue=TOKEN from before compaction: 410 Expired asking for a new list" {
	cm_create page1 1 >/dev/null
	cm_create page2 1 >/dev/null
	local p1 token rv
	p1=$(api GET '/api/v1/namespaces/cp/configmaps?limit=1')
	token=$(json_field "$p1" .metadata.continue)
	rv=$(json_field "$p1" .metadata.resourceVersion)
	[ -n "$token" ]
	cm_put page1 2 >/dev/null
	wait_for 15 compacted "$rv"
	run -0 api GET "/api/v1/namespaces/cp/configmaps?limit=1&continue=$token"
	assert_status "$output" 410 Expired \
		"The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter."
	# a fresh paginated list still works
	run -0 api GET '/api/v1/namespaces/cp/configmaps?limit=1'
	[ "$(json_field "$output" '.items | length')" = 1 ]
}

@test "GET ?watch=1 from the current resourceVersion after compaction still streams new events" {
	local rv r1
	rv=$(list_rv /api/v1/namespaces/cp/configmaps)
	[ "$rv" -gt "$CP_OLD_REV" ]
	r1=$(cm_put old 4)
	run -0 watch_lines "/api/v1/namespaces/cp/configmaps?watch=1&resourceVersion=$rv" 1
	[ "$(jq -r '[.type, .object.metadata.name, .object.metadata.resourceVersion, .object.data.v] | join(" ")' <<<"$output")" = "MODIFIED old $r1 4" ]
}
