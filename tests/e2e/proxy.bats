#!/usr/bin/env bats
# The API server's proxy subresources: pods/proxy, services/proxy and
# nodes/proxy, through `kubectl proxy` and `kubectl get --raw`.
#
# The API server connects to pod and endpoint addresses directly, as
# kube-apiserver does. Here the pods' status.podIP is 127.0.0.1 (set through
# pods/status) and their "containers" are small HTTP servers this file starts
# on loopback. Endpoints may not be loopback addresses (API validation), so
# the Services' endpoints are HTTP servers in a lab network namespace this
# file creates (no default route), joined to this namespace by a veth pair
# on a private /29. nodes/proxy reaches the agent's stream server: the stub
# agent of streaming.bats (tests/unit/test_stream_server in its serve mode).

load helpers

# http_backend NAME PORT: an HTTP server on 127.0.0.1:PORT that answers
# every method with JSON describing the request (its name, method, path
# with query, body and a few headers); /file is a plain text file, /status/N
# answers N, /redirect a 302.
http_backend() {
	local host=${3:-127.0.0.1}
	exec ${NETNS_EXEC:-} python3 -c '
import http.server, json, sys
name, port, host = sys.argv[1], int(sys.argv[2]), sys.argv[3]
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self, code, body, ctype="application/json", extra=()):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Backend", name)
        for k, v in extra: self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def handle_any(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else b""
        if self.path == "/file":
            return self.answer(200, b"hello from the pod\n", "text/plain")
        if self.path.startswith("/status/"):
            return self.answer(int(self.path[8:]), b"status page\n", "text/plain")
        if self.path == "/redirect":
            return self.answer(302, b"", "text/plain", [("Location", "/file")])
        d = {"backend": name, "method": self.command, "path": self.path,
             "body": body.decode("latin-1"),
             "x_test": self.headers.get("X-Test"),
             "authorization": self.headers.get("Authorization"),
             "content_type": self.headers.get("Content-Type")}
        self.answer(200, json.dumps(d).encode())
    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = handle_any
http.server.ThreadingHTTPServer.allow_reuse_address = True
http.server.ThreadingHTTPServer((host, port), H).serve_forever()
' "$1" "$2" "$host"
}

backend_ready() {
	curl -sf --max-time 2 "http://${2:-127.0.0.1}:$1/file" >/dev/null
}

# The lab: a network namespace with 10.254.N.2 and .3, reached from here
# through a veth pair whose near end is 10.254.N.1/29. Names and addresses
# go to $C8S_DIR/lab.* for teardown_file.
lab_setup() {
	[ "$(id -u)" = 0 ] && command -v ip >/dev/null || return 1
	local n i
	for i in $(seq 1 20); do
		n=$((100 + RANDOM % 100))
		if ! ip -4 addr | grep -q "10\.254\.$n\." && ! ip -4 route | grep -q "10\.254\.$n\."; then
			break
		fi
		n=""
	done
	[ -n "$n" ] || return 1
	local ns=c8s-lab-px$n vh=c8spx${n}h vl=c8spx${n}l
	echo "$ns" >"$C8S_DIR/lab.ns"
	ip netns add "$ns" || return 1
	ip -n "$ns" link set lo up
	ip link add "$vh" type veth peer name "$vl" netns "$ns" || return 1
	echo "$vh" >"$C8S_DIR/lab.veth"
	ip addr add "10.254.$n.1/29" dev "$vh"
	ip link set "$vh" up
	ip -n "$ns" addr add "10.254.$n.2/29" dev "$vl"
	ip -n "$ns" addr add "10.254.$n.3/29" dev "$vl"
	ip -n "$ns" link set "$vl" up
	echo "10.254.$n" >"$C8S_DIR/lab.net"
}

# lab_teardown VETH NS (read before cleanup_server removes $C8S_DIR).
lab_teardown() {
	[ -z "$1" ] || ip link del "$1" 2>/dev/null || true
	[ -z "$2" ] || ip netns del "$2" 2>/dev/null || true
}

need_lab() {
	[ -e "$C8S_DIR/lab.ready" ] || skip "no lab network namespace (needs root and ip(8))"
	LAB=$(cat "$C8S_DIR/lab.net")
}

api_patch_status() {
	local code
	code=$(api_code PATCH "$1" -H 'Content-Type: application/merge-patch+json' -d "$2")
	[ "$code" = 200 ] || {
		echo "PATCH $1: HTTP $code" >&2
		return 1
	}
}

# make_pod NAME PODIP [CONTAINER_PORT]: a running pod at PODIP (none when
# empty), declaring CONTAINER_PORT when given.
make_pod() {
	local name=$1 ip=$2 cport=${3:-}
	local ports=""
	[ -z "$cport" ] || ports=",\"ports\":[{\"containerPort\":$cport}]"
	local out
	out=$(api_json POST /api/v1/namespaces/default/pods \
		"{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"$name\"},\"spec\":{\"nodeName\":\"n1\",\"containers\":[{\"name\":\"c\",\"image\":\"busybox\"$ports}]}}")
	[ "$(reply_code "$out")" = 201 ] || {
		echo "creating pod $name: $out" >&2
		return 1
	}
	local st='"phase":"Running"'
	[ -z "$ip" ] || st="$st,\"podIP\":\"$ip\",\"podIPs\":[{\"ip\":\"$ip\"}]"
	api_patch_status "/api/v1/namespaces/default/pods/$name/status" "{\"status\":{$st}}"
}

create() {
	local out
	out=$(api_json POST "$1" "$2")
	[ "$(reply_code "$out")" = 201 ] || {
		echo "POST $1: $out" >&2
		return 1
	}
}

# The stub agent (as in streaming.bats), for nodes/proxy.
stub_bin() {
	local b
	for b in "${C8S_STREAM_STUB:-}" "$C8S_ROOT/build/rel/tests/test_stream_server" \
		"$C8S_ROOT/build/asan/tests/test_stream_server"; do
		if [ -n "$b" ] && [ -x "$b" ]; then
			echo "$b"
			return 0
		fi
	done
	return 1
}

stub_ready() {
	grep -q "serving on" "$C8S_DIR/stub.log"
}

proxy_ready() {
	curl -sf --max-time 2 "http://127.0.0.1:$(cat "$C8S_DIR/kproxy.port")/version" >/dev/null
}

# The Services' objects and endpoint servers in the lab (errexit does not
# apply here: each step checks).
lab_objects() {
	# Two endpoint servers in the lab, on .2 and .3, same port.
	local lab lport
	lab=$(cat "$C8S_DIR/lab.net")
	lport=$(free_port)
	NETNS_EXEC="ip netns exec $(cat "$C8S_DIR/lab.ns")" \
		bg_start "$C8S_DIR/b3.log" http_backend three "$lport" "$lab.2"
	NETNS_EXEC="ip netns exec $(cat "$C8S_DIR/lab.ns")" \
		bg_start "$C8S_DIR/b4.log" http_backend four "$lport" "$lab.3"
	wait_for 20 backend_ready "$lport" "$lab.2" || return 1
	wait_for 20 backend_ready "$lport" "$lab.3" || return 1

	# svc: Endpoints with one ready address (and a not-ready one
	# where nothing listens); its port is named "http".
	create /api/v1/namespaces/default/services \
		"{\"apiVersion\":\"v1\",\"kind\":\"Service\",\"metadata\":{\"name\":\"svc\"},\"spec\":{\"ports\":[{\"name\":\"http\",\"port\":80,\"targetPort\":$lport}]}}" || return 1
	create /api/v1/namespaces/default/endpoints \
		"{\"apiVersion\":\"v1\",\"kind\":\"Endpoints\",\"metadata\":{\"name\":\"svc\"},\"subsets\":[{\"addresses\":[{\"ip\":\"$lab.2\"}],\"notReadyAddresses\":[{\"ip\":\"$lab.4\"}],\"ports\":[{\"name\":\"http\",\"port\":$lport,\"protocol\":\"TCP\"}]}]}" || return 1
	# spread: no Endpoints, two ready EndpointSlices (the two
	# servers) and a not-ready one where nothing listens; one
	# unnamed port.
	create /api/v1/namespaces/default/services \
		'{"apiVersion":"v1","kind":"Service","metadata":{"name":"spread"},"spec":{"ports":[{"port":8080}]}}' || return 1
	local i addr ready
	for i in 1 2 3; do
		case $i in
		1) addr=$lab.2 ready=true ;;
		2) addr=$lab.3 ready=true ;;
		3) addr=$lab.4 ready=false ;;
		esac
		create /apis/discovery.k8s.io/v1/namespaces/default/endpointslices \
			"{\"apiVersion\":\"discovery.k8s.io/v1\",\"kind\":\"EndpointSlice\",\"metadata\":{\"name\":\"spread-$i\",\"labels\":{\"kubernetes.io/service-name\":\"spread\"}},\"addressType\":\"IPv4\",\"endpoints\":[{\"addresses\":[\"$addr\"],\"conditions\":{\"ready\":$ready}}],\"ports\":[{\"name\":\"\",\"port\":$lport,\"protocol\":\"TCP\"}]}" || return 1
	done
}

setup_file() {
	start_apiserver
	local p1 p2 p3
	p1=$(free_port)
	p2=$(free_port)
	while [ "$p2" = "$p1" ]; do p2=$(free_port); done
	p3=$(free_port)
	while [ "$p3" = "$p1" ] || [ "$p3" = "$p2" ]; do p3=$(free_port); done
	bg_start "$C8S_DIR/b1.log" http_backend one "$p1"
	bg_start "$C8S_DIR/b2.log" http_backend two "$p2"
	wait_for 20 backend_ready "$p1"
	wait_for 20 backend_ready "$p2"
	echo "$p1" >"$C8S_DIR/b1.port"
	echo "$p2" >"$C8S_DIR/b2.port"
	# Nothing listens on p3.
	echo "$p3" >"$C8S_DIR/dead.port"

	# The node, its agent (the stub, when built) on a port of its own.
	local sport
	sport=$(free_port)
	local stub
	if stub=$(stub_bin); then
		mkdir -p "$C8S_DIR/stub"
		printf '%s\n' '2024-01-02T03:04:05Z stdout F a line from the agent' \
			>"$C8S_DIR/stub/default_web_c.log"
		ASAN_OPTIONS=detect_leaks=0 bg_start "$C8S_DIR/stub.log" \
			"$stub" serve "$C8S_DIR/data/tls/ca.crt" "$sport" "$C8S_DIR/stub"
		wait_for 20 stub_ready
		echo "$sport" >"$C8S_DIR/stub.port"
	fi
	create /api/v1/nodes '{"apiVersion":"v1","kind":"Node","metadata":{"name":"n1"}}'
	api_patch_status /api/v1/nodes/n1/status \
		"{\"status\":{\"addresses\":[{\"type\":\"InternalIP\",\"address\":\"127.0.0.1\"}],\"daemonEndpoints\":{\"kubeletEndpoint\":{\"Port\":$sport}}}}"

	make_pod p1 127.0.0.1
	make_pod p2 127.0.0.1 "$p2"
	make_pod noip ""

	if lab_setup; then
		lab_objects || {
			echo "setting up the lab's services failed" >&2
			return 1
		}
		touch "$C8S_DIR/lab.ready"
	fi
	# empty: no endpoints at all.
	create /api/v1/namespaces/default/services \
		'{"apiVersion":"v1","kind":"Service","metadata":{"name":"empty"},"spec":{"ports":[{"port":80}]}}'

	local kport
	kport=$(free_port)
	echo "$kport" >"$C8S_DIR/kproxy.port"
	bg_start "$C8S_DIR/kproxy.log" kubectl proxy --port="$kport"
	wait_for 30 proxy_ready
}

teardown_file() {
	local veth="" ns=""
	if [ -n "${C8S_DIR:-}" ]; then
		veth=$(cat "$C8S_DIR/lab.veth" 2>/dev/null || true)
		ns=$(cat "$C8S_DIR/lab.ns" 2>/dev/null || true)
	fi
	cleanup_server
	lab_teardown "$veth" "$ns"
}

# kp PATH [curl args...]: a request through kubectl proxy.
kp() {
	local path=$1
	shift
	curl -s --max-time 30 "http://127.0.0.1:$(cat "$C8S_DIR/kproxy.port")$path" "$@"
}

@test "discovery lists pods/proxy, services/proxy and nodes/proxy" {
	local v1
	v1=$(api GET /api/v1)
	local r
	for r in pods/proxy:PodProxyOptions services/proxy:ServiceProxyOptions nodes/proxy:NodeProxyOptions; do
		run jq -r --arg n "${r%%:*}" '.resources[] | select(.name == $n) | .kind + " " + (.verbs | join(","))' <<<"$v1"
		[ "$output" = "${r#*:} create,delete,get,patch,update" ]
	done
	run bash -c "curl -sk --cert '$C8S_DIR/data/tls/admin.crt' --key '$C8S_DIR/data/tls/admin.key' \
		-H 'Accept: application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList' \
		https://127.0.0.1:$C8S_PORT/api | jq -r '.items[0].versions[0].resources[] | select(.resource == \"pods\") | .subresources[].subresource' | sort | tr '\n' ' '"
	[[ "$output" == *proxy* ]]
}

@test "pods/proxy through kubectl proxy: the pod's answer" {
	local p1 p2
	p1=$(cat "$C8S_DIR/b1.port")
	p2=$(cat "$C8S_DIR/b2.port")
	run kp "/api/v1/namespaces/default/pods/p1:$p1/proxy/file"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from the pod" ]

	run kp "/api/v1/namespaces/default/pods/p1:$p1/proxy/"
	[ "$(jq -r .backend <<<"$output")" = one ]
	[ "$(jq -r .path <<<"$output")" = / ]
	[ "$(jq -r .method <<<"$output")" = GET ]

	# The rest of the path and the query go along; so do the client's
	# headers, not its credentials.
	run kp "/api/v1/namespaces/default/pods/p1:$p1/proxy/a/b%20c/?x=1&y=two%20words" -H 'X-Test: yes'
	[ "$(jq -r .path <<<"$output")" = "/a/b%20c/?x=1&y=two%20words" ]
	[ "$(jq -r .x_test <<<"$output")" = yes ]
	[ "$(jq -r .authorization <<<"$output")" = null ]

	# The scheme:name:port form, and no port: the first container port.
	run kp "/api/v1/namespaces/default/pods/http:p1:$p1/proxy/file"
	[ "$output" = "hello from the pod" ]
	run kp "/api/v1/namespaces/default/pods/p2/proxy/"
	[ "$(jq -r .backend <<<"$output")" = two ]

	# kubectl get --raw, straight to the API server.
	run kubectl get --raw "/api/v1/namespaces/default/pods/p1:$p1/proxy/file"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from the pod" ]
}

@test "pods/proxy: every method, bodies, status codes and headers pass through" {
	local p1 base
	p1=$(cat "$C8S_DIR/b1.port")
	base="/api/v1/namespaces/default/pods/p1:$p1/proxy"
	local m
	for m in POST PUT PATCH DELETE OPTIONS; do
		run kp "$base/echo" -X "$m" -H 'Content-Type: text/x-test' --data-binary "body of $m"
		[ "$status" -eq 0 ]
		[ "$(jq -r .method <<<"$output")" = "$m" ]
		[ "$(jq -r .body <<<"$output")" = "body of $m" ]
		[ "$(jq -r .content_type <<<"$output")" = text/x-test ]
	done
	# A larger binary body, both ways through the API server.
	head -c 2000000 /dev/urandom | base64 -w0 >"$C8S_DIR/big.txt"
	kp "$base/echo" -X POST --data-binary @"$C8S_DIR/big.txt" | jq -jr .body >"$C8S_DIR/big.back"
	cmp "$C8S_DIR/big.txt" "$C8S_DIR/big.back"

	run kp "$base/file" -I
	[ "$status" -eq 0 ]
	[[ "$output" == *"HTTP/1.1 200"* ]]
	[[ "$output" == *"X-Backend: one"* ]]
	[[ "$output" == *"Content-Length: 19"* ]]

	run kp "$base/status/418" -o /dev/null -w '%{http_code}'
	[ "$output" = 418 ]
	# A redirect to the pod itself leads back through the proxy.
	run kp "$base/redirect" -o /dev/null -w '%{http_code} %{redirect_url}'
	[ "$output" = "302 http://127.0.0.1:$(cat "$C8S_DIR/kproxy.port")$base/file" ]
	run kp "$base/redirect" -L
	[ "$output" = "hello from the pod" ]
	run api GET "$base/status/404" -w ' %{http_code}'
	[ "$output" = "status page
 404" ]
}

@test "pods/proxy: Kubernetes' errors" {
	local dead
	dead=$(cat "$C8S_DIR/dead.port")
	run api GET "/api/v1/namespaces/default/pods/p1:$dead/proxy/"
	assert_status "$output" 503 ServiceUnavailable \
		"error trying to reach service: dial tcp 127.0.0.1:$dead: connect: connection refused"
	run api GET /api/v1/namespaces/default/pods/nope:80/proxy/
	assert_status "$output" 404 NotFound 'pods "nope" not found'
	run api GET /api/v1/namespaces/default/pods/ftp:p1:80/proxy/
	assert_status "$output" 400 BadRequest 'invalid pod request "ftp:p1:80"'
	run api GET /api/v1/namespaces/default/pods/p1:http/proxy/
	assert_status "$output" 400 BadRequest 'invalid pod request "p1:http": invalid port "http"'
	run api GET /api/v1/namespaces/default/pods/noip:80/proxy/
	assert_status "$output" 400 BadRequest "address not allowed: pod noip has no IP address"
	[ "$(api_code TRACE /api/v1/namespaces/default/pods/p1:80/proxy/)" = 405 ]
}

@test "services/proxy: a ready endpoint, by port name or number" {
	need_lab
	run kp /api/v1/namespaces/default/services/svc:http/proxy/file
	[ "$output" = "hello from the pod" ]
	run kp /api/v1/namespaces/default/services/svc:80/proxy/x?q=1
	[ "$(jq -r .backend <<<"$output")" = three ]
	[ "$(jq -r .path <<<"$output")" = "/x?q=1" ]
	run kubectl get --raw /api/v1/namespaces/default/services/http:svc:http/proxy/file
	[ "$output" = "hello from the pod" ]

	# EndpointSlices: both ready endpoints serve, the not-ready one never.
	local seen="" i
	for i in $(seq 1 40); do
		run kp /api/v1/namespaces/default/services/spread/proxy/
		[ "$status" -eq 0 ]
		seen="$seen $(jq -r .backend <<<"$output")"
	done
	echo "seen: $seen $output" >&2
	[[ "$seen" == *three* ]]
	[[ "$seen" == *four* ]]
	[[ "$seen" != *null* ]]

	run api GET /api/v1/namespaces/default/services/svc:81/proxy/
	assert_status "$output" 503 ServiceUnavailable 'no service port 81 found for service "svc"'
	run api GET /api/v1/namespaces/default/services/empty/proxy/
	assert_status "$output" 503 ServiceUnavailable 'no endpoints available for service "empty"'
	run api GET /api/v1/namespaces/default/services/nope/proxy/
	assert_status "$output" 404 NotFound 'services "nope" not found'
}

@test "nodes/proxy: the node's agent, or another port of the node" {
	local p1
	p1=$(cat "$C8S_DIR/b1.port")
	run kubectl get --raw "/api/v1/nodes/n1:$p1/proxy/file"
	[ "$output" = "hello from the pod" ]
	run api GET /api/v1/nodes/nope/proxy/
	assert_status "$output" 404 NotFound 'nodes "nope" not found'

	[ -s "$C8S_DIR/stub.port" ] || skip "no stub agent: build tests/unit/test_stream_server"
	run kubectl get --raw /api/v1/nodes/n1/proxy/containerLogs/default/web/c
	[ "$status" -eq 0 ]
	[ "$output" = "a line from the agent" ]
	run kp /api/v1/nodes/n1/proxy/healthz
	[ "$output" = ok ]
}
