# Shared setup for the end-to-end tests: each test file starts its own
# c8s server on a free loopback port in a temporary data directory, and
# stops it (by PID) at the end.
#
# State lives in files under $C8S_DIR as well as in variables, because bats
# runs every test in its own process: a server restarted inside a test must
# still be found (and stopped) by teardown_file. Background helpers started
# with bg_start are recorded the same way and ended by cleanup_server.

C8S_ROOT="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
C8S_BIN="${C8S_BIN:-$C8S_ROOT/c8s}"

free_port() {
	local p lo
	# Below the kernel's ephemeral range, which outgoing connections (kubectl,
	# curl) take ports from without listening on them.
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	while :; do
		p=$((20000 + RANDOM % (lo - 20000)))
		if ! ss -tan "sport = :$p" | grep -q ":$p"; then
			echo "$p"
			return
		fi
	done
}

# wait_for TIMEOUT_SECONDS COMMAND...: poll until COMMAND succeeds.
wait_for() {
	local timeout=$1
	shift
	local deadline=$((SECONDS + timeout))
	until "$@" >/dev/null 2>&1; do
		if [ $SECONDS -ge $deadline ]; then
			echo "timed out after ${timeout}s waiting for: $*" >&2
			return 1
		fi
		sleep 0.1
	done
}

# pid_alive PID: true while PID runs (a zombie counts as gone).
pid_alive() {
	local state
	kill -0 "$1" 2>/dev/null || return 1
	state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ "$state" != Z ]
}

# wait_pid_gone PID TIMEOUT_SECONDS: bounded wait for PID to exit.
wait_pid_gone() {
	local pid=$1 timeout=$2
	local deadline=$((SECONDS + timeout))
	while pid_alive "$pid"; do
		[ $SECONDS -lt $deadline ] || return 1
		sleep 0.05
	done
	wait "$pid" 2>/dev/null || true
}

server_ready() {
	curl -skf --max-time 2 "https://127.0.0.1:$C8S_PORT/readyz"
}

# launch_server FLAGS...: start $C8S_DIR/c8s on $C8S_DIR/data and $C8S_PORT.
launch_server() {
	"$C8S_DIR/c8s" server --data-dir "$C8S_DIR/data" --bind-address 127.0.0.1 \
		--secure-port "$C8S_PORT" "$@" >>"$C8S_DIR/server.log" 2>&1 3>&- &
	C8S_PID=$!
	# no job-control report when a later test kills it
	disown "$C8S_PID"
	echo "$C8S_PID" >"$C8S_DIR/pid"
	export C8S_PID
	if ! wait_for 20 server_ready; then
		echo "c8s did not become ready; its log:" >&2
		tail -n 30 "$C8S_DIR/server.log" >&2
		return 1
	fi
}

# copy_binary: copy $C8S_BIN to $C8S_DIR/c8s and check that the copy runs
# (the tree may be being rebuilt at that moment).
copy_binary() {
	rm -f "$C8S_DIR/c8s"
	cp "$C8S_BIN" "$C8S_DIR/c8s" && "$C8S_DIR/c8s" version
}

# start_server [extra flags...]: sets C8S_DIR, C8S_PORT, C8S_PID, KUBECONFIG.
# The flags are remembered for restart_server.
start_server() {
	C8S_DIR="$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/c8s.XXXXXX")"
	C8S_PORT="$(free_port)"
	export C8S_DIR C8S_PORT
	export KUBECONFIG="$C8S_DIR/data/admin.kubeconfig"
	export KUBECACHEDIR="$C8S_DIR/kubecache"
	printf '%q ' "$@" >"$C8S_DIR/flags"
	# a private copy: restarts run the same binary even if the tree is rebuilt
	wait_for 60 copy_binary
	launch_server "$@"
	wait_for 20 test -s "$KUBECONFIG"
}

# start_apiserver [extra flags...]: start_server without the in-process
# scheduler and controllers, so that only the test's own requests change the
# store (no lease renewals, no objects made by controllers).
start_apiserver() {
	start_server --disable-scheduler --disable-controller-manager "$@"
}

# current_pid: the PID of the server this file started last (maybe restarted
# by an earlier test).
current_pid() {
	if [ -n "${C8S_DIR:-}" ] && [ -s "$C8S_DIR/pid" ]; then
		cat "$C8S_DIR/pid"
	else
		echo "${C8S_PID:-}"
	fi
}

# stop_server: SIGTERM, a bounded wait for a clean exit, then SIGKILL.
stop_server() {
	local pid
	pid=$(current_pid)
	if [ -n "$pid" ] && pid_alive "$pid"; then
		kill -TERM "$pid"
		if ! wait_pid_gone "$pid" 10; then
			kill -KILL "$pid" 2>/dev/null || true
			wait_pid_gone "$pid" 10 || true
		fi
	fi
}

# kill_server: SIGKILL, as a crash would.
kill_server() {
	local pid
	pid=$(current_pid)
	if [ -n "$pid" ] && pid_alive "$pid"; then
		kill -KILL "$pid"
		wait_pid_gone "$pid" 10
	fi
}

# restart_server [flags...]: stop with SIGTERM (unless already gone) and
# start again on the same data and port; without flags, with the flags
# start_server was given.
restart_server() {
	stop_server
	if [ $# -eq 0 ] && [ -s "$C8S_DIR/flags" ]; then
		eval "set -- $(cat "$C8S_DIR/flags")"
	fi
	launch_server "$@"
}

# bg_start OUTFILE COMMAND...: run COMMAND in the background with its output
# in OUTFILE; sets BG_PID and records it for cleanup_server. The caller may
# `wait "$BG_PID"` for its exit status.
bg_start() {
	local out=$1
	shift
	"$@" >"$out" 2>&1 3>&- &
	BG_PID=$!
	echo "$BG_PID" >>"$C8S_DIR/bg.pids"
}

# bg_stop PID: end one background command started by bg_start.
bg_stop() {
	if pid_alive "$1"; then
		kill -TERM "$1" 2>/dev/null || true
		wait_pid_gone "$1" 5 || kill -KILL "$1" 2>/dev/null || true
	fi
	wait "$1" 2>/dev/null || true
}

cleanup_server() {
	local pid
	if [ -n "${C8S_DIR:-}" ] && [ -s "$C8S_DIR/bg.pids" ]; then
		while read -r pid; do
			bg_stop "$pid"
		done <"$C8S_DIR/bg.pids"
	fi
	stop_server
	if [ -n "${C8S_DIR:-}" ]; then
		if [ -n "${BATS_TEST_COMPLETED:-}" ] || [ -z "${C8S_KEEP:-}" ]; then
			rm -rf "$C8S_DIR"
		fi
	fi
}

k() {
	kubectl --request-timeout=20s "$@"
}

# api_exec METHOD PATH [curl args...]: replace the shell with an
# authenticated curl call (for background use: its PID is curl's). It gives
# up after 120 s unless a later --max-time says otherwise.
api_exec() {
	local method=$1 path=$2
	shift 2
	exec curl -sk --max-time 120 --cert "$C8S_DIR/data/tls/admin.crt" \
		--key "$C8S_DIR/data/tls/admin.key" \
		-X "$method" "https://127.0.0.1:$C8S_PORT$path" "$@"
}

# api METHOD PATH [curl args...]: a raw authenticated API call; prints the body.
api() {
	(api_exec "$@")
}

# api_code METHOD PATH [curl args...]: prints only the HTTP status.
api_code() {
	local method=$1 path=$2
	shift 2
	api "$method" "$path" -o /dev/null -w '%{http_code}' "$@"
}

# api_json METHOD PATH BODY [curl args...]: a call with a JSON body; prints
# the reply body, then a last line with the HTTP status.
api_json() {
	local method=$1 path=$2 body=$3
	shift 3
	api "$method" "$path" -H 'Content-Type: application/json' --data-binary "$body" \
		-w '\n%{http_code}' "$@"
}

# Split the output of api_json: reply_code prints the status, reply_body
# the body.
reply_code() {
	printf '%s\n' "$1" | tail -n 1
}

reply_body() {
	printf '%s\n' "$1" | sed '$d'
}

# assert_status JSON CODE REASON MESSAGE: JSON is a Status with that code,
# reason and exact message.
assert_status() {
	local json=$1 code=$2 reason=$3 message=$4
	local got
	got=$(jq -r '[.kind, .apiVersion, .status, (.code|tostring), .reason] | join(" ")' <<<"$json")
	if [ "$got" != "Status v1 Failure $code $reason" ]; then
		echo "expected a Status $code $reason, got: $json" >&2
		return 1
	fi
	got=$(jq -r .message <<<"$json")
	if [ "$got" != "$message" ]; then
		echo "expected message: $message" >&2
		echo "got message:      $got" >&2
		return 1
	fi
}

# list_rv [PATH]: the resourceVersion of a list (by default of namespaces:
# the store's current revision).
list_rv() {
	api GET "${1:-/api/v1/namespaces}" | jq -er .metadata.resourceVersion
}

# watch_lines PATH COUNT: open the watch PATH (a URL with watch=1), wait (10 s
# at most) until COUNT events have arrived or the server ended the stream,
# close it and print what arrived.
watch_lines() {
	local path=$1 count=$2
	local out="$C8S_DIR/watch.$BASHPID.out"
	api_exec GET "$path" -N >"$out" 2>/dev/null 3>&- &
	local pid=$!
	# no "Terminated" job report mixed into the caller's output
	disown "$pid"
	local deadline=$((SECONDS + 10))
	while [ "$(wc -l <"$out")" -lt "$count" ] && pid_alive "$pid"; do
		[ $SECONDS -lt $deadline ] || break
		sleep 0.05
	done
	kill "$pid" 2>/dev/null || true
	wait_pid_gone "$pid" 5 || true
	cat "$out"
	rm -f "$out"
}

# make_namespace NAME...: create namespaces through the API (cheaper than
# kubectl where kubectl is not what is tested).
make_namespace() {
	local ns code
	for ns in "$@"; do
		code=$(api_code POST /api/v1/namespaces -H 'Content-Type: application/json' \
			-d "{\"apiVersion\":\"v1\",\"kind\":\"Namespace\",\"metadata\":{\"name\":\"$ns\"}}")
		if [ "$code" != 201 ]; then
			echo "creating namespace $ns: HTTP $code" >&2
			return 1
		fi
	done
}

store_rev() {
	k get --raw /api/v1/namespaces | jq -r .metadata.resourceVersion
}

# json_field JSON JQ_EXPR: one value out of a JSON document.
json_field() {
	jq -r "$2" <<<"$1"
}
