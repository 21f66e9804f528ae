#!/usr/bin/env bats
# Crash safety: kill -9 the server while concurrent clients create objects;
# after a restart every create that was answered 201 is there, unchanged,
# and the revision has not gone backwards.

bats_require_minimum_version 1.5.0

load helpers

WRITERS=6 # also in the first test's name
MAX_PER_WRITER=1500

setup_file() {
	start_apiserver
	make_namespace crash
}

teardown_file() {
	cleanup_server
}

# writer_config ID: a curl config creating configmaps w<ID>-1, w<ID>-2, ...
# one after another over one keep-alive connection; each reply is written
# as its body line, then its HTTP status line.
writer_config() {
	awk -v id="$1" -v n="$MAX_PER_WRITER" -v port="$C8S_PORT" -v dir="$C8S_DIR/data/tls" 'BEGIN {
		for (i = 1; i <= n; i++) {
			if (i > 1)
				print "next"
			print "url = \"https://127.0.0.1:" port "/api/v1/namespaces/crash/configmaps\""
			print "request = \"POST\"\ninsecure\nsilent\nmax-time = 10"
			print "cert = \"" dir "/admin.crt\"\nkey = \"" dir "/admin.key\""
			print "header = \"Content-Type: application/json\""
			printf "data-binary = \"{\\\"metadata\\\":{\\\"name\\\":\\\"w%d-%d\\\"},", id, i
			printf "\\\"data\\\":{\\\"writer\\\":\\\"%d\\\",\\\"i\\\":\\\"%d\\\"}}\"\n", id, i
			print "write-out = \"\\n%{http_code}\\n\""
		}
	}'
}

# replies: every reply of the writers so far (the last may be cut).
replies() {
	cat "$BATS_TEST_TMPDIR"/writer.*.out 2>/dev/null
}

# acks FILE: "name resourceVersion" for every 201 in a writer's output
# whose reply arrived whole (a reply cut by the crash is not an ack).
acks() {
	awk 'NR % 2 == 1 { body = $0; next }
	     $0 == "201" && match(body, /"name":"[^"]*"/) {
		name = substr(body, RSTART + 8, RLENGTH - 9)
		if (match(body, /"resourceVersion":"[0-9]+"/) && body ~ /}$/)
			print name, substr(body, RSTART + 19, RLENGTH - 20)
	     }' "$1"
}

enough_acked() {
	[ "$(replies | grep -cx 201)" -ge "$1" ]
}

@test "kill -9 during 6 concurrent creators: every 201-acknowledged create survives the restart with its resourceVersion" {
	local pids=() id
	for ((id = 1; id <= WRITERS; id++)); do
		writer_config "$id" >"$BATS_TEST_TMPDIR/writer.$id.cfg"
	done
	for ((id = 1; id <= WRITERS; id++)); do
		curl -K "$BATS_TEST_TMPDIR/writer.$id.cfg" >"$BATS_TEST_TMPDIR/writer.$id.out" 2>/dev/null 3>&- &
		pids+=($!)
		echo "$!" >>"$C8S_DIR/bg.pids"
	done
	# let the writers get going, note a list revision, and crash mid-stream
	wait_for 30 enough_acked 200
	local rv_before
	rv_before=$(list_rv /api/v1/namespaces/crash/configmaps)
	wait_for 30 enough_acked 400
	kill_server
	# the writers fail fast from here on; none may outlive the crashed server
	local pid
	for pid in "${pids[@]}"; do
		wait_pid_gone "$pid" 30
	done
	for ((id = 1; id <= WRITERS; id++)); do
		acks "$BATS_TEST_TMPDIR/writer.$id.out" >"$BATS_TEST_TMPDIR/acked.$id"
	done
	local n max_acked
	n=$(cat "$BATS_TEST_TMPDIR"/acked.* | wc -l)
	max_acked=$(cat "$BATS_TEST_TMPDIR"/acked.* | awk '$2 > m { m = $2 } END { print m }')
	[ "$n" -ge 400 ]
	# every writer was cut off by the crash (not by running out of work),
	# and every reply before it was a 201
	for ((id = 1; id <= WRITERS; id++)); do
		[ "$(wc -l <"$BATS_TEST_TMPDIR/acked.$id")" -lt "$MAX_PER_WRITER" ]
		[ "$(grep -cx 000 "$BATS_TEST_TMPDIR/writer.$id.out")" -gt 0 ]
		[ "$(awk 'NR % 2 == 0' "$BATS_TEST_TMPDIR/writer.$id.out" | grep -cvxE '201|000')" = 0 ]
	done

	restart_server
	local list
	list=$(api GET /api/v1/namespaces/crash/configmaps)
	local rv_after
	rv_after=$(json_field "$list" .metadata.resourceVersion)
	# the revision never goes backwards
	[ "$rv_after" -ge "$rv_before" ]
	[ "$rv_after" -ge "$max_acked" ]
	# every acknowledged create is there with the revision it was acknowledged with
	jq -r '.items[] | .metadata.name + " " + .metadata.resourceVersion' <<<"$list" | sort >"$BATS_TEST_TMPDIR/stored"
	sort "$BATS_TEST_TMPDIR"/acked.* >"$BATS_TEST_TMPDIR/acked"
	local missing
	missing=$(comm -23 "$BATS_TEST_TMPDIR/acked" "$BATS_TEST_TMPDIR/stored")
	if [ -n "$missing" ]; then
		echo "acknowledged but missing or changed after the crash:" >&2
		echo "$missing" | head -n 20 >&2
		return 1
	fi
	# whatever else is stored is a create that was in flight at the crash:
	# at most one per writer, each the writer's next name
	local extra
	extra=$(comm -13 "$BATS_TEST_TMPDIR/acked" "$BATS_TEST_TMPDIR/stored" | awk '{ print $1 }')
	[ "$(printf '%s' "$extra" | grep -c .)" -le "$WRITERS" ]
	local name last
	for name in $extra; do
		[[ "$name" =~ ^w([0-9]+)-([0-9]+)$ ]]
		last=$(awk -F'[- ]' '$2 > m { m = $2 } END { print m + 0 }' "$BATS_TEST_TMPDIR/acked.${BASH_REMATCH[1]}")
		[ "${BASH_REMATCH[2]}" = $((last + 1)) ]
	done
	# the data is intact, not only the names
	[ "$(jq -r '[.items[] | select(.metadata.name != ("w" + .data.writer + "-" + .data.i))] | length' <<<"$list")" = 0 ]
	# new writes get revisions above everything acknowledged before the crash
	local r_new
	r_new=$(api POST /api/v1/namespaces/crash/configmaps -H 'Content-Type: application/json' \
		-d '{"metadata":{"name":"after-crash"}}' | jq -r .metadata.resourceVersion)
	[ "$r_new" -gt "$rv_after" ]
	[ "$r_new" -gt "$max_acked" ]
	# kubectl sees the same objects
	run -0 k -n crash get configmaps -o name
	[ "$(printf '%s\n' "$output" | wc -l)" = $(($(wc -l <"$BATS_TEST_TMPDIR/stored") + 1)) ]
}

@test "kill -9 right after acknowledged updates and a delete: the last acknowledged state is what is stored" {
	local i rv
	api POST /api/v1/namespaces/crash/configmaps -H 'Content-Type: application/json' \
		-d '{"metadata":{"name":"upd"},"data":{"v":"0"}}' >/dev/null
	for i in 1 2 3 4 5; do
		rv=$(api PUT /api/v1/namespaces/crash/configmaps/upd -H 'Content-Type: application/json' \
			-d "{\"metadata\":{\"name\":\"upd\"},\"data\":{\"v\":\"$i\"}}" | jq -r .metadata.resourceVersion)
	done
	[ "$(api_code DELETE /api/v1/namespaces/crash/configmaps/after-crash)" = 200 ]
	local rv_before
	rv_before=$(list_rv)
	kill_server
	restart_server
	run -0 k -n crash get configmap upd -o jsonpath='{.data.v} {.metadata.resourceVersion}'
	[ "$output" = "5 $rv" ]
	run -1 k -n crash get configmap after-crash
	[ "$output" = 'Error from server (NotFound): configmaps "after-crash" not found' ]
	[ "$(list_rv)" -ge "$rv_before" ]
}
