#!/usr/bin/env bats
# kubectl logs, exec, attach and port-forward, through the API server to a
# node agent's stream server.
#
# The first part runs against a stub agent: the agent's real stream server
# (src/kubelet/server*.c) started by the unit test binary
# tests/unit/test_stream_server in its "serve" mode, with a fake backend:
# logs come from files in $STUB_DIR (NS_POD_CONTAINER.log, .prev.log, and
# .stopped once the container stopped), exec runs the command on this host,
# attach talks to a fake conmon (it says "hello", echoes stdin, says "bye"
# on stderr when stdin ends), port forwarding reaches 127.0.0.1 here. This
# checks the API server's proxy and both protocols with the real kubectl.
#
# The second part runs busybox pods on the real agent, with a server of its
# own, in the lab network namespace of lab.bash; it is skipped until `c8s
# agent --help` shows the real agent mode.

load helpers
load lab

# The stub: a built test_stream_server (make build/asan/tests/test_stream_server).
stub_bin() {
	local b
	for b in "${C8S_STREAM_STUB:-}" "$C8S_ROOT/build/asan/tests/test_stream_server" \
		"$C8S_ROOT/build/rel/tests/test_stream_server"; do
		if [ -n "$b" ] && [ -x "$b" ]; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

need_stub() {
	[ -s "$C8S_DIR/stub.port" ] ||
		skip "no stub agent: build it with make build/asan/tests/test_stream_server"
	STUB_PORT=$(cat "$C8S_DIR/stub.port")
	STUB_DIR=$C8S_DIR/stub
}

# make_node NAME PORT: a node whose agent listens on 127.0.0.1:PORT.
make_node() {
	api_json POST /api/v1/nodes "{\"apiVersion\":\"v1\",\"kind\":\"Node\",\"metadata\":{\"name\":\"$1\"}}" >/dev/null
	api_patch_status "/api/v1/nodes/$1/status" \
		"{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"},{\"type\":\"Hostname\",\"address\":\"$1\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$2}}}}"
}

api_patch_status() {
	local code
	code=$(api_code PATCH "$1" -H 'Content-Type: application/merge-patch+json' -d "$2")
	[ "$code" = 200 ] || {
		echo "PATCH $1: HTTP $code" >&2
		return 1
	}
}

# make_pod NAME NODE PHASE [CONTAINER_JSON...]: a pod bound to NODE (none
# when empty) in PHASE (none when empty); one container "c" by default.
make_pod() {
	local name=$1 node=$2 phase=$3
	shift 3
	local containers='{"name":"c","image":"busybox"}'
	if [ $# -gt 0 ]; then
		containers=$(IFS=,; echo "$*")
	fi
	local nodefield=""
	[ -z "$node" ] || nodefield="\"nodeName\":\"$node\","
	local out
	out=$(api_json POST /api/v1/namespaces/default/pods \
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$name\"},\"spec\":{$nodefield\"containers\":[$containers]}}")
	[ "$(reply_code "$out")" = 201 ] || {
		echo "creating pod $name: $out" >&2
		return 1
	}
	[ -z "$phase" ] ||
		api_patch_status "/api/v1/namespaces/default/pods/$name/status" "{\"status\":{\"phase\":\"$phase\"}}"
}

pid_gone() {
	! pid_alive "$1"
}

stub_ready() {
	grep -q "serving on" "$C8S_DIR/stub.log"
}

setup_file() {
	start_apiserver
	local stub
	stub=$(stub_bin) || return 0
	mkdir -p "$C8S_DIR/stub"
	local port
	port=$(free_port)
	ASAN_OPTIONS=detect_leaks=0 bg_start "$C8S_DIR/stub.log" \
		"$stub" serve "$C8S_DIR/data/tls/ca.crt" "$port" "$C8S_DIR/stub"
	wait_for 20 stub_ready
	echo "$port" >"$C8S_DIR/stub.port"

	make_node n1 "$port"
	# n3's agent is down: nothing listens on its port.
	make_node n3 "$(free_port)"
	make_pod web n1 Running
	make_pod att n1 Running '{"name":"c","image":"busybox","stdin":true,"stdinOnce":true}'
	make_pod done n1 Succeeded
	make_pod pend "" "" '{"name":"a","image":"busybox"}' '{"name":"b","image":"busybox"}'
	make_pod waiting n1 Pending
	make_pod lost n2 Running
	make_pod down n3 Running
	printf '%s\n' \
		'2024-01-02T03:04:05.123456789Z stdout F first line' \
		'2024-01-02T03:04:06.5+00:00 stderr P partial, ' \
		'2024-01-02T03:04:06.6+00:00 stderr F then the rest' \
		'2024-01-02T03:04:07Z stdout F last line' >"$C8S_DIR/stub/default_web_c.log"
	printf '%s\n' '2024-01-01T00:00:00Z stdout F the previous instance' \
		>"$C8S_DIR/stub/default_web_c.prev.log"
}

teardown_file() {
	if [ -n "${C8S_DIR:-}" ] && [ -s "$C8S_DIR/real.labenv" ]; then
		LAB_ENV=$(cat "$C8S_DIR/real.labenv")
		export LAB_ENV
		lab_load
		# The agent's containers outlive it (conmon): delete the pods
		# while it runs, so that it stops them; lab_teardown kills what
		# is left.
		kl delete pods --all --grace-period=1 --timeout=60s >/dev/null 2>&1 || true
		lab_teardown
	fi
	cleanup_server
}

# ---- part 1: the stub agent ----

@test "logs: the container's output, --tail, --timestamps, --previous" {
	need_stub
	run k logs web
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'first line\npartial, then the rest\nlast line')" ]

	run k logs web --tail=1
	[ "$status" -eq 0 ]
	[ "$output" = "last line" ]

	run k logs web --timestamps --tail=2
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf '2024-01-02T03:04:06.6Z then the rest\n2024-01-02T03:04:07Z last line')" ]

	run k logs web --timestamps
	[ "${lines[1]}" = "2024-01-02T03:04:06.5Z partial, then the rest" ]

	run k logs web --previous
	[ "$status" -eq 0 ]
	[ "$output" = "the previous instance" ]

	run k logs deployment/nope
	[ "$status" -ne 0 ]
}

@test "logs --since and --since-time keep only recent entries" {
	need_stub
	local log=$STUB_DIR/default_web_c.log
	cp "$log" "$C8S_DIR/web.log.saved2"
	echo "$(date -u +%Y-%m-%dT%H:%M:%S.%NZ) stdout F written just now" >>"$log"
	run k logs web --since=1h
	local rc=$status out=$output
	# kubectl sends sinceTime with whole seconds; an entry at that very
	# time is kept.
	run k logs web --since-time=2024-01-02T03:04:07Z
	local rc2=$status out2=$output
	cp "$C8S_DIR/web.log.saved2" "$log"
	[ "$rc" -eq 0 ]
	[ "$out" = "written just now" ]
	[ "$rc2" -eq 0 ]
	[ "$out2" = "$(printf 'last line\nwritten just now')" ]
}

@test "logs -f streams new lines and ends when the container stops" {
	need_stub
	local log=$STUB_DIR/default_web_c.log
	cp "$log" "$C8S_DIR/web.log.saved"
	bg_start "$C8S_DIR/follow.out" kubectl logs -f web
	local pid=$BG_PID
	wait_for 10 grep -q "last line" "$C8S_DIR/follow.out"
	echo '2024-01-02T03:05:00Z stdout F appended while following' >>"$log"
	wait_for 10 grep -q "appended while following" "$C8S_DIR/follow.out"
	pid_alive "$pid"

	touch "$STUB_DIR/default_web_c.stopped"
	wait_for 10 pid_gone "$pid"
	local rc=0
	wait "$pid" || rc=$?
	rm -f "$STUB_DIR/default_web_c.stopped"
	cp "$C8S_DIR/web.log.saved" "$log"
	[ "$rc" -eq 0 ]
	[ "$(tail -n 1 "$C8S_DIR/follow.out")" = "appended while following" ]
}

@test "logs: Kubernetes' errors for containers, pods and nodes" {
	need_stub
	run k logs web --previous -c c
	[ "$status" -eq 0 ]
	# kubectl checks the container itself; the server does too.
	run k logs web -c zz
	[ "$status" -ne 0 ]
	[ "$output" = "error: container zz is not valid for pod web" ]
	run api GET "/api/v1/namespaces/default/pods/web/log?container=zz"
	assert_status "$output" 400 BadRequest "container zz is not valid for pod web"

	run api GET /api/v1/namespaces/default/pods/pend/log
	assert_status "$output" 400 BadRequest "a container name must be specified for pod pend, choose one of: [a b]"

	# Not scheduled yet: nothing to show, like Kubernetes.
	run k logs pend -c a
	[ "$status" -eq 0 ]
	[ "$output" = "" ]

	run k logs lost
	[ "$status" -ne 0 ]
	[ "$output" = 'Error from server (NotFound): nodes "n2" not found' ]

	run k logs nope
	[ "$status" -ne 0 ]
	[ "$output" = 'error: error from server (NotFound): pods "nope" not found in namespace "default"' ]
	run api GET /api/v1/namespaces/default/pods/nope/log
	assert_status "$output" 404 NotFound 'pods "nope" not found'
}

@test "exec: stdout, stderr and the exit code" {
	need_stub
	# stdout and stderr apart: kubectl copies each stream on its own, so
	# their order on one descriptor is not kept ("o", "err", "ut").
	run bash -c "kubectl exec web -- sh -c 'echo out; echo err >&2; exit 3' 2>'$C8S_DIR/exec.err'"
	[ "$status" -eq 3 ]
	[ "$output" = out ]
	grep -qx err "$C8S_DIR/exec.err"
	grep -q "command terminated with exit code 3" "$C8S_DIR/exec.err"

	run kubectl exec web -- sh -c 'echo fine'
	[ "$status" -eq 0 ]
	[ "$output" = "fine" ]

	run kubectl exec web -- no-such-command
	[ "$status" -eq 1 ]
	[[ "$output" == *"executable file not found"* ]]
}

@test "exec -i: stdin and its end reach the command" {
	need_stub
	run bash -c 'printf "one\ntwo\n" | kubectl exec -i web -- cat'
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'one\ntwo')" ]

	# Bytes that are not text.
	head -c 100000 /dev/urandom >"$C8S_DIR/blob"
	kubectl exec -i web -- cat <"$C8S_DIR/blob" >"$C8S_DIR/blob.back"
	cmp "$C8S_DIR/blob" "$C8S_DIR/blob.back"
}

@test "exec -ti: a terminal of the client's size, and the exit code" {
	need_stub
	command -v script >/dev/null || skip "no script(1) to make a terminal"
	run bash -c "set -o pipefail; (sleep 1; echo 'stty size'; sleep 0.5; echo 'exit 5') |
		script -qfec 'stty cols 111 rows 33; kubectl exec -ti web -- sh' /dev/null | tr -d '\r'"
	[ "$status" -eq 5 ]
	[[ "$output" == *"33 111"* ]]
	[[ "$output" == *"command terminated with exit code 5"* ]]
}

@test "exec and attach are refused on pods that cannot run them" {
	need_stub
	run k exec pend -c a -- true
	[ "$status" -ne 0 ]
	[ "$output" = "Error from server (BadRequest): pod pend does not have a host assigned" ]

	# kubectl refuses completed pods itself; the server does too.
	run k exec done -- true
	[ "$status" -ne 0 ]
	[[ "$output" == *"cannot exec into a container in a completed pod; current phase is Succeeded"* ]]
	run api GET "/api/v1/namespaces/default/pods/done/exec?command=true&stdout=true" \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket'
	assert_status "$output" 400 BadRequest \
		"cannot exec into a container in a completed pod; current phase is Succeeded"
	run api GET "/api/v1/namespaces/default/pods/done/attach?stdout=true" \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket'
	assert_status "$output" 400 BadRequest \
		"cannot attach a container in a completed pod; current phase is Succeeded"
	run api GET "/api/v1/namespaces/default/pods/waiting/exec?command=true&stdout=true" \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket'
	assert_status "$output" 400 BadRequest "pod waiting is not running; current phase is Pending"

	# Without an upgrade there is nothing to stream.
	run api GET "/api/v1/namespaces/default/pods/web/exec?command=true"
	assert_status "$output" 400 BadRequest "Upgrade request required"
	[ "$(api_code DELETE /api/v1/namespaces/default/pods/web/exec)" = 405 ]
}

@test "attach -i: the main process's output and stdin" {
	need_stub
	# stdout and stderr apart: kubectl copies each stream on its own, so
	# their order on one descriptor is not kept ("typ", "bye", "ed").
	run bash -c "printf 'typed\n' | kubectl attach att -i 2>'$C8S_DIR/attach.err'"
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'hello\ntyped')" ]
	grep -qx bye "$C8S_DIR/attach.err"
}

@test "port-forward: curl through the forwarded port reaches busybox httpd" {
	need_stub
	mkdir -p "$C8S_DIR/www"
	echo "hello through port-forward" >"$C8S_DIR/www/index.html"
	local hport lport
	hport=$(free_port)
	bg_start "$C8S_DIR/httpd.log" busybox httpd -f -p "127.0.0.1:$hport" -h "$C8S_DIR/www"
	lport=$(free_port)
	bg_start "$C8S_DIR/pf.out" kubectl port-forward pod/web "$lport:$hport"
	local pf=$BG_PID
	wait_for 20 grep -q "Forwarding from 127.0.0.1:$lport" "$C8S_DIR/pf.out"
	for i in 1 2 3; do
		run curl -sf --max-time 10 "http://127.0.0.1:$lport/"
		[ "$status" -eq 0 ]
		[ "$output" = "hello through port-forward" ]
	done
	run curl -s --max-time 10 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$lport/missing"
	[ "$output" = 404 ]
	pid_alive "$pf"
	bg_stop "$pf"
}

# echo_server PORT: echoes each connection's bytes back on 127.0.0.1:PORT
# until the client half-closes.
echo_server() {
	exec python3 -c '
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(8)
def serve(c):
    while True:
        b = c.recv(65536)
        if not b: break
        c.sendall(b)
    c.shutdown(socket.SHUT_WR); c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
' "$1"
}

# echo_client PORT IN OUT: connect, wait 2 s, send IN, half-close, write what
# comes back to OUT (read while sending: SPDY has no flow control, so a
# client that does not read stalls every stream of the connection, as with
# the kubelet). The wait lets kubectl create the streams of every connection
# before the bulk data flows: kubectl's SPDY client times out creating a
# stream while another stream's data saturates the connection ("error
# creating error stream ... Timeout occurred"), whatever the server.
echo_client() {
	exec python3 -c '
import socket, sys, threading, time
c = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=60)
data = open(sys.argv[2], "rb").read()
def send():
    time.sleep(2)
    c.sendall(data); c.shutdown(socket.SHUT_WR)
t = threading.Thread(target=send); t.start()
out = bytearray()
while True:
    b = c.recv(65536)
    if not b: break
    out += b
t.join()
open(sys.argv[3], "wb").write(out)
' "$@"
}

@test "port-forward: binary data both ways, half-close, two connections at once" {
	need_stub
	local eport lport
	eport=$(free_port)
	bg_start "$C8S_DIR/echo.log" echo_server "$eport"
	local echo_pid=$BG_PID
	wait_for 10 bash -c "echo | timeout 2 busybox nc 127.0.0.1 $eport >/dev/null"
	lport=$(free_port)
	bg_start "$C8S_DIR/pf3.out" kubectl port-forward pod/web "$lport:$eport"
	local pf=$BG_PID
	wait_for 20 grep -q "Forwarding from 127.0.0.1:$lport" "$C8S_DIR/pf3.out"
	head -c 3000000 /dev/urandom >"$C8S_DIR/pf.in1"
	head -c 200000 /dev/urandom >"$C8S_DIR/pf.in2"
	bg_start "$C8S_DIR/client1.log" echo_client "$lport" "$C8S_DIR/pf.in1" "$C8S_DIR/pf.out1"
	local c1=$BG_PID
	bg_start "$C8S_DIR/client2.log" echo_client "$lport" "$C8S_DIR/pf.in2" "$C8S_DIR/pf.out2"
	local c2=$BG_PID
	wait "$c1" || { cat "$C8S_DIR/client1.log" "$C8S_DIR/pf3.out" >&2; return 1; }
	wait "$c2" || { cat "$C8S_DIR/client2.log" "$C8S_DIR/pf3.out" >&2; return 1; }
	cmp "$C8S_DIR/pf.in1" "$C8S_DIR/pf.out1"
	cmp "$C8S_DIR/pf.in2" "$C8S_DIR/pf.out2"
	pid_alive "$pf"
	bg_stop "$pf"
	bg_stop "$echo_pid"
}

@test "port-forward: a port nothing listens on is reported, a pod not running is refused" {
	need_stub
	local lport closed
	lport=$(free_port)
	closed=$(free_port)
	bg_start "$C8S_DIR/pf2.out" kubectl port-forward pod/web "$lport:$closed"
	local pf=$BG_PID
	wait_for 20 grep -q "Forwarding from" "$C8S_DIR/pf2.out"
	run curl -s --max-time 10 "http://127.0.0.1:$lport/"
	[ "$status" -ne 0 ]
	wait_for 10 grep -q "an error occurred forwarding $lport -> $closed: error forwarding port $closed to pod default/web" "$C8S_DIR/pf2.out"
	grep -q "connection refused\|Connection refused" "$C8S_DIR/pf2.out"
	bg_stop "$pf"

	run k port-forward pod/waiting "$lport:80"
	[ "$status" -ne 0 ]
	[[ "$output" == *"unable to forward port because pod is not running. Current status=Pending"* ]]
	run api POST /api/v1/namespaces/default/pods/waiting/portforward \
		-H 'Connection: Upgrade' -H 'Upgrade: SPDY/3.1' -H 'X-Stream-Protocol-Version: portforward.k8s.io'
	assert_status "$output" 400 BadRequest \
		"unable to forward port because pod is not running. Current status=Pending"
	# The WebSocket attempt is refused: kubectl falls back to SPDY.
	run api GET /api/v1/namespaces/default/pods/web/portforward \
		-H 'Connection: Upgrade' -H 'Upgrade: websocket' -H 'Sec-WebSocket-Version: 13' \
		-H 'Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==' -H 'Sec-WebSocket-Protocol: SPDY/3.1+portforward.k8s.io'
	assert_status "$output" 400 BadRequest "port forwarding over WebSocket is not supported: use SPDY/3.1"
}

@test "an agent that cannot be reached: error dialing backend" {
	need_stub
	local port
	port=$(api GET /api/v1/nodes/n3 | jq -r .status.daemonEndpoints.kubeletEndpoint.Port)
	run k logs down
	[ "$status" -ne 0 ]
	[ "$output" = "Error from server: error dialing backend: dial tcp 127.0.0.1:$port: connect: connection refused" ]
	run k exec down -- true
	[ "$status" -ne 0 ]
	[[ "$output" == *"error dialing backend: dial tcp 127.0.0.1:$port: connect: connection refused"* ]]
}

@test "the agent serves only clients of the cluster CA" {
	need_stub
	local url="https://127.0.0.1:$STUB_PORT/containerLogs/default/web/c"
	run curl -sk -o /dev/null -w '%{http_code}' "$url"
	[ "$output" = 401 ]
	run curl -sk -o /dev/null -w '%{http_code}' --cert "$C8S_DIR/data/tls/admin.crt" \
		--key "$C8S_DIR/data/tls/admin.key" "$url"
	[ "$output" = 200 ]

	# Signed by another CA: not authenticated.
	local d=$C8S_DIR/otherca
	mkdir -p "$d"
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
		-subj /CN=other-ca -keyout "$d/ca.key" -out "$d/ca.crt" 2>/dev/null
	client_cert "$d" other "/CN=system:admin/O=system:masters"
	run curl -sk -o /dev/null -w '%{http_code}' --cert "$d/other.crt" --key "$d/other.key" "$url"
	[ "$output" = 401 ]

	# Signed by the cluster CA for a node: authenticated, not authorized.
	client_cert "$C8S_DIR/data/tls" node-n9 "/CN=system:node:n9/O=system:nodes" "$d"
	run curl -sk --cert "$d/node-n9.crt" --key "$d/node-n9.key" -w '\n%{http_code}' "$url"
	[ "${lines[-1]}" = 403 ]
	[[ "$output" == *"Forbidden (user=system:node:n9, verb=get, resource=nodes, subresource=proxy)"* ]]
}

# client_cert CA_DIR NAME SUBJECT [OUT_DIR]: a client certificate signed by
# CA_DIR/ca.{crt,key}, written to OUT_DIR/NAME.{crt,key}.
client_cert() {
	local ca=$1 name=$2 subj=$3 out=${4:-$1}
	openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "$subj" \
		-keyout "$out/$name.key" -out "$out/$name.csr" 2>/dev/null
	printf 'extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature\n' >"$out/$name.ext"
	openssl x509 -req -in "$out/$name.csr" -CA "$ca/ca.crt" -CAkey "$ca/ca.key" \
		-CAcreateserial -CAserial "$out/$name.srl" -days 1 -extfile "$out/$name.ext" \
		-out "$out/$name.crt" 2>/dev/null
}

@test "an exec session outlives kubectl's 61 s read deadline (pings answered)" {
	need_stub
	[ -z "${C8S_E2E_QUICK:-}" ] || skip "C8S_E2E_QUICK is set"
	run kubectl exec web -- sh -c 'sleep 65; echo still here'
	[ "$status" -eq 0 ]
	[ "$output" = "still here" ]
}

# ---- part 2: the real agent ----
#
# A server and the real agent in the lab network namespace of lab.bash (no
# default route; the pods' network stays inside it), set up by the first
# test that needs it and torn down by teardown_file. kubectl and curl run
# in the namespace too (lab_exec, kl).

real_agent_available() {
	local usage
	usage=$("$C8S_BIN" agent --help 2>&1 | head -n 1)
	# The simulator's usage line requires --simulate N; the real agent's does not.
	[[ "$usage" != *"--simulate N ("* ]]
}

# The image lab.bash imports at the agent's start.
REAL_IMG=c8s.test/busybox:1

real_pod_phase() {
	kl get pod "$1" -o jsonpath='{.status.phase}'
}

real_pod_running() {
	[ "$(real_pod_phase "$1")" = Running ]
}

# create_pod NAME COMMAND [SPEC_EXTRA_JSON] [CONTAINER_EXTRA_JSON]
create_pod() {
	local name=$1 cmd=$2 spec=${3:-} ctr=${4:-}
	kl create -f - <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$name"},
 "spec":{${spec}"terminationGracePeriodSeconds":1,
  "containers":[{"name":"main","image":"$REAL_IMG","imagePullPolicy":"IfNotPresent",
   ${ctr}"command":["sh","-c",$(jq -Rn --arg c "$cmd" '$c')]}]}}
EOF
}

# Remember the lab of this test (also when its setup failed half-way) for
# teardown_file.
teardown() {
	if [ -n "${LAB_ENV:-}" ] && [ -n "${C8S_DIR:-}" ] && [ ! -s "$C8S_DIR/real.labenv" ]; then
		echo "$LAB_ENV" >"$C8S_DIR/real.labenv"
	fi
}

real_setup() {
	real_agent_available || skip "the real node agent is not there yet (c8s agent --help shows only --simulate)"
	local why
	why=$(lab_requirements) || skip "$why"
	if [ ! -e "$C8S_DIR/real.tried" ]; then
		# Set up once: after a failed setup the later tests fail at once.
		touch "$C8S_DIR/real.tried"
		lab_setup
		echo "$LAB_ENV" >"$C8S_DIR/real.labenv"
		create_pod logger 'for i in 1 2 3; do echo "line $i"; done; echo "to stderr" >&2; exec sleep 3600'
		create_pod web 'mkdir -p /www && echo "hello from httpd" >/www/index.html && exec httpd -f -p 8080 -h /www'
		create_pod crasher 'echo "run $(date +%s)"; sleep 2; exit 1'
		create_pod att 'echo ready; read line; echo "got $line"' '"restartPolicy":"Never",' \
			'"stdin":true,"stdinOnce":true,'
		wait_for 120 real_pod_running logger
		wait_for 60 real_pod_running web
		touch "$C8S_DIR/real.ready"
	fi
	[ -e "$C8S_DIR/real.ready" ] || {
		echo "the real agent's setup failed in an earlier test" >&2
		return 1
	}
	LAB_ENV=$(cat "$C8S_DIR/real.labenv")
	export LAB_ENV
	lab_load
}

@test "real agent: logs, --tail, --timestamps" {
	real_setup
	wait_for 30 bash -c "nsenter --net=/run/netns/$LAB_NS kubectl logs logger | grep -q 'to stderr'"
	run kl logs logger
	[ "$status" -eq 0 ]
	[ "$output" = "$(printf 'line 1\nline 2\nline 3\nto stderr')" ]
	run kl logs logger --tail=2
	[ "$output" = "$(printf 'line 3\nto stderr')" ]
	run kl logs logger --timestamps --tail=1
	[[ "$output" =~ ^20[0-9-]+T[0-9:.]+Z\ to\ stderr$ ]]
}

@test "real agent: logs -f follows until the container exits" {
	real_setup
	create_pod counter 'for i in 1 2 3 4 5; do echo "tick $i"; sleep 1; done' '"restartPolicy":"Never",'
	wait_for 60 bash -c "[ \"\$(nsenter --net=/run/netns/$LAB_NS kubectl get pod counter -o jsonpath='{.status.phase}')\" != Pending ]"
	run timeout 60 nsenter --net="/run/netns/$LAB_NS" kubectl logs -f counter
	[ "$status" -eq 0 ]
	[ "${lines[-1]}" = "tick 5" ]
}

@test "real agent: logs --previous after a restart" {
	real_setup
	wait_for 60 bash -c "[ \"\$(nsenter --net=/run/netns/$LAB_NS kubectl get pod crasher -o jsonpath='{.status.containerStatuses[0].restartCount}')\" -ge 1 ]"
	run kl logs crasher --previous
	[ "$status" -eq 0 ]
	[[ "$output" =~ ^run\ [0-9]+$ ]]
}

@test "real agent: exec without a terminal, stdin, exit codes" {
	real_setup
	# stdout and stderr apart, as in the stub test above.
	run bash -c "nsenter --net=/run/netns/$LAB_NS kubectl exec logger -- sh -c 'echo out; echo err >&2; exit 3' 2>'$C8S_DIR/exec.err'"
	[ "$status" -eq 3 ]
	[ "$output" = out ]
	grep -qx err "$C8S_DIR/exec.err"
	grep -q "command terminated with exit code 3" "$C8S_DIR/exec.err"
	run bash -c "echo hi | nsenter --net=/run/netns/$LAB_NS kubectl exec -i logger -- cat"
	[ "$status" -eq 0 ]
	[ "$output" = hi ]
	run lab_exec kubectl exec logger -- hostname
	[ "$output" = logger ]
}

@test "real agent: exec -ti" {
	real_setup
	command -v script >/dev/null || skip "no script(1) to make a terminal"
	run bash -c "set -o pipefail; (sleep 1; echo 'stty size; tty'; sleep 1; echo 'exit 4') |
		script -qfec 'stty cols 100 rows 30; nsenter --net=/run/netns/$LAB_NS kubectl exec -ti logger -- sh' /dev/null | tr -d '\r'"
	[ "$status" -eq 4 ]
	[[ "$output" == *"30 100"* ]]
	[[ "$output" == */dev/pts/* ]]
}

@test "real agent: attach" {
	real_setup
	wait_for 60 real_pod_running att
	run bash -c "echo hello | nsenter --net=/run/netns/$LAB_NS kubectl attach att -i"
	[ "$status" -eq 0 ]
	[[ "$output" == *"got hello"* ]]
}

@test "real agent: port-forward to busybox httpd" {
	real_setup
	local lport
	lport=$(free_port)
	bg_start "$C8S_DIR/realpf.out" nsenter --net="/run/netns/$LAB_NS" \
		kubectl port-forward pod/web "$lport:8080"
	local pf=$BG_PID
	wait_for 20 grep -q "Forwarding from 127.0.0.1:$lport" "$C8S_DIR/realpf.out"
	run lab_exec curl -sf --max-time 10 "http://127.0.0.1:$lport/"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from httpd" ]
	bg_stop "$pf"
}
