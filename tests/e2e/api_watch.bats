#!/usr/bin/env bats
# Watch: resourceVersion replay, live events, selectors, resourceVersion 0,
# timeoutSeconds and bookmarks.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	start_apiserver
	make_namespace wa
	make_namespace wb
}

teardown_file() {
	cleanup_server
}

json_post() {
	api POST "$1" -H 'Content-Type: application/json' -d "$2"
}

# events FILE|-: one line per watch event: TYPE name rv [labels.sel] [data.v]
events() {
	jq -r '[.type, .object.metadata.name, .object.metadata.resourceVersion,
		(.object.metadata.labels.sel // "-"), (.object.data.v // "-")] | join(" ")' "$@"
}

@test "GET ?watch=1&resourceVersion=RV replays every change after a list in order (ADDED, MODIFIED, DELETED)" {
	local rv r1 r2 r3 r4
	rv=$(list_rv /api/v1/namespaces/wa/configmaps)
	r1=$(json_post /api/v1/namespaces/wa/configmaps '{"metadata":{"name":"rp"},"data":{"v":"1"}}' | jq -r .metadata.resourceVersion)
	# a change in another namespace and another resource: not in this stream
	json_post /api/v1/namespaces/wb/configmaps '{"metadata":{"name":"elsewhere"}}' >/dev/null
	json_post /api/v1/namespaces/wa/secrets '{"metadata":{"name":"s"}}' >/dev/null
	r2=$(api PATCH /api/v1/namespaces/wa/configmaps/rp -H 'Content-Type: application/merge-patch+json' \
		-d '{"data":{"v":"2"}}' | jq -r .metadata.resourceVersion)
	k -n wa label configmap rp sel=a
	r3=$(api GET /api/v1/namespaces/wa/configmaps/rp | jq -r .metadata.resourceVersion)
	k -n wa delete configmap rp
	r4=$(list_rv /api/v1/namespaces/wa/configmaps)
	[ "$r1" -gt "$rv" ]
	[ "$r2" -gt "$r1" ]
	[ "$r3" -gt "$r2" ]
	[ "$r4" -gt "$r3" ]
	run -0 watch_lines "/api/v1/namespaces/wa/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=5" 4
	[ "$(events <<<"$output")" = "ADDED rp $r1 - 1
MODIFIED rp $r2 - 2
MODIFIED rp $r3 a 2
DELETED rp $r4 a 2" ]
	# every event is a full object with kind and apiVersion
	[ "$(jq -r '.object.kind + " " + .object.apiVersion' <<<"$output" | sort -u)" = "ConfigMap v1" ]
	# replaying from the middle gives only the later events
	run -0 watch_lines "/api/v1/namespaces/wa/configmaps?watch=1&resourceVersion=$r2" 2
	[ "$(events <<<"$output")" = "MODIFIED rp $r3 a 2
DELETED rp $r4 a 2" ]
}

@test "GET ?watch=1 stays open and streams changes made while it runs" {
	local rv out="$BATS_TEST_TMPDIR/live.json"
	rv=$(list_rv /api/v1/namespaces/wa/configmaps)
	bg_start "$out" api_exec GET "/api/v1/namespaces/wa/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=30" -N
	local w=$BG_PID
	k -n wa create configmap live1 --from-literal=v=1
	wait_for 10 grep -q '"name":"live1"' "$out"
	# the stream is still open: a later change arrives on it
	pid_alive "$w"
	k -n wa create configmap live2 --from-literal=v=2
	wait_for 10 grep -q '"name":"live2"' "$out"
	pid_alive "$w"
	bg_stop "$w"
	[ "$(events "$out" | awk '{ print $1, $2, $5 }')" = $'ADDED live1 1\nADDED live2 2' ]
}

@test "GET ?watch=1&labelSelector: objects entering the selection are ADDED, leaving it DELETED" {
	local rv
	rv=$(list_rv /api/v1/namespaces/wa/configmaps)
	json_post /api/v1/namespaces/wa/configmaps '{"metadata":{"name":"ls1","labels":{"sel":"yes"}}}' >/dev/null
	json_post /api/v1/namespaces/wa/configmaps '{"metadata":{"name":"ls2"}}' >/dev/null
	k -n wa label configmap ls1 sel=no --overwrite
	k -n wa label configmap ls2 sel=yes
	k -n wa label configmap ls1 sel=yes --overwrite
	k -n wa delete configmap ls2
	run -0 watch_lines "/api/v1/namespaces/wa/configmaps?watch=1&resourceVersion=$rv&labelSelector=sel%3Dyes" 5
	[ "$(events <<<"$output" | awk '{ print $1, $2, $4 }')" = "ADDED ls1 yes
DELETED ls1 no
ADDED ls2 yes
ADDED ls1 yes
DELETED ls2 yes" ]
}

@test "GET /api/v1/configmaps?watch=1&fieldSelector=metadata.name: cluster-wide watch of one name across namespaces" {
	local rv
	rv=$(list_rv /api/v1/configmaps)
	k -n wa create configmap same --from-literal=v=a
	k -n wb create configmap same --from-literal=v=b
	k -n wb create configmap other --from-literal=v=c
	k -n wa delete configmap same
	run -0 watch_lines "/api/v1/configmaps?watch=1&resourceVersion=$rv&fieldSelector=metadata.name%3Dsame" 3
	[ "$(jq -r '[.type, .object.metadata.namespace, .object.metadata.name, .object.data.v] | join(" ")' <<<"$output")" = "ADDED wa same a
ADDED wb same b
DELETED wa same a" ]
	# by namespace
	run -0 watch_lines "/api/v1/configmaps?watch=1&resourceVersion=$rv&fieldSelector=metadata.namespace%3Dwb" 2
	[ "$(jq -r '[.type, .object.metadata.namespace, .object.metadata.name] | join(" ")' <<<"$output")" = "ADDED wb same
ADDED wb other" ]
}

@test "GET ?watch=1 without resourceVersion (or 0): ADDED for every existing object first, then changes" {
	make_namespace wz
	k -n wz create configmap z1 --from-literal=v=1
	k -n wz create configmap z2 --from-literal=v=2
	run -0 watch_lines "/api/v1/namespaces/wz/configmaps?watch=1&resourceVersion=0" 2
	[ "$(events <<<"$output" | awk '{ print $1, $2, $5 }')" = $'ADDED z1 1\nADDED z2 2' ]
	# the single-object form `kubectl get cm z2 -w` relies on
	run -0 watch_lines "/api/v1/namespaces/wz/configmaps?watch=1&fieldSelector=metadata.name%3Dz2" 1
	[ "$(events <<<"$output" | awk '{ print $1, $2, $5 }')" = "ADDED z2 2" ]
	# no resourceVersion at all: the current state, then live changes
	local out="$BATS_TEST_TMPDIR/norv.json"
	bg_start "$out" api_exec GET "/api/v1/namespaces/wz/configmaps?watch=1" -N
	wait_for 10 grep -q '"name":"z2"' "$out"
	k -n wz patch configmap z1 --type merge -p '{"data":{"v":"1b"}}'
	k -n wz create configmap z3 --from-literal=v=3
	wait_for 10 grep -q '"name":"z3"' "$out"
	bg_stop "$BG_PID"
	[ "$(events "$out" | awk '{ print $1, $2, $5 }')" = "ADDED z1 1
ADDED z2 2
MODIFIED z1 1b
ADDED z3 3" ]
}

@test "GET ?watch=1&timeoutSeconds=N ends the stream cleanly after about N seconds" {
	local rv start end
	rv=$(list_rv /api/v1/namespaces/wa/configmaps)
	start=$(date +%s%N)
	run -0 api GET "/api/v1/namespaces/wa/configmaps?watch=1&resourceVersion=$rv&timeoutSeconds=1" -D "$BATS_TEST_TMPDIR/headers"
	end=$(date +%s%N)
	# nothing changed, and no BOOKMARK either: they were not asked for
	[ "$output" = "" ]
	# curl exited 0: the server ended the chunked stream properly, after 1 to
	# 8 s (curl's own limit is 120 s)
	[ $(((end - start) / 1000000)) -ge 1000 ]
	[ $(((end - start) / 1000000)) -lt 8000 ]
	grep -qi '^content-type: application/json' "$BATS_TEST_TMPDIR/headers"
	grep -qi '^transfer-encoding: chunked' "$BATS_TEST_TMPDIR/headers"
}

@test "GET ?watch=1&allowWatchBookmarks=true&sendInitialEvents=true: initial ADDED events, then a BOOKMARK marking their end" {
	make_namespace wbm
	k -n wbm create configmap b1
	k -n wbm create configmap b2
	local rv
	rv=$(list_rv /api/v1/namespaces/wbm/configmaps)
	run -0 watch_lines "/api/v1/namespaces/wbm/configmaps?watch=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan" 3
	[ "$(jq -r '[.type, .object.kind, (.object.metadata.name // "-")] | join(" ")' <<<"$output")" = "ADDED ConfigMap b1
ADDED ConfigMap b2
BOOKMARK ConfigMap -" ]
	local bm
	bm=$(tail -n 1 <<<"$output")
	[ "$(jq -r .object.apiVersion <<<"$bm")" = v1 ]
	[ "$(jq -r '.object.metadata.annotations["k8s.io/initial-events-end"]' <<<"$bm")" = true ]
	# the bookmark's resourceVersion is at least the list's
	[ "$(jq -r .object.metadata.resourceVersion <<<"$bm")" -ge "$rv" ]
	# the stream goes on after the bookmark with live changes
	local out="$BATS_TEST_TMPDIR/bm.json"
	bg_start "$out" api_exec GET "/api/v1/namespaces/wbm/configmaps?watch=1&allowWatchBookmarks=true&sendInitialEvents=true&resourceVersionMatch=NotOlderThan" -N
	wait_for 10 grep -q BOOKMARK "$out"
	k -n wbm create configmap b3
	wait_for 10 grep -q '"name":"b3"' "$out"
	bg_stop "$BG_PID"
	[ "$(jq -r '[.type, (.object.metadata.name // "-")] | join(" ")' "$out")" = "ADDED b1
ADDED b2
BOOKMARK -
ADDED b3" ]
}

@test "kubectl get configmap NAME -w: prints the object, then each change to it" {
	make_namespace wk
	k -n wk create configmap one --from-literal=v=1
	local out="$BATS_TEST_TMPDIR/one.out"
	bg_start "$out" kubectl -n wk get configmap one -w -o jsonpath='{.data.v}{"\n"}'
	wait_for 10 grep -qx 1 "$out"
	k -n wk create configmap two --from-literal=v=other
	k -n wk patch configmap one --type merge -p '{"data":{"v":"2"}}'
	k -n wk patch configmap one --type merge -p '{"data":{"v":"3"}}'
	wait_for 10 grep -qx 3 "$out"
	bg_stop "$BG_PID"
	[ "$(cat "$out")" = $'1\n2\n3' ]
}
