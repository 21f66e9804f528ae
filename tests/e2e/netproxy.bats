#!/usr/bin/env bats
# The service proxy on real nftables, with real traffic, entirely inside
# lab network namespaces this file creates (never the host's ruleset):
#
#   client netns  eth0 172.30.0.2 ──veth── eth0 172.30.0.1  node netns
#     routes: 10.43/16, 10.45.0/24,                  lo 172.31.0.1 (2nd address)
#     172.31.0.1 via the node                        c8s0 bridge 10.42.1.1/24
#                                                     ├─ vetha ── pod-a 10.42.1.2 (httpd :8080)
#                                                     └─ vethb ── pod-b 10.42.1.3 (httpd :8080)
#
# No namespace has a default route. Rules come from `c8s proxy-apply` (the
# same model -> ruleset code the node agent's proxy runs) applied in the
# node namespace, from Service and EndpointSlice JSON written here; the
# last tests run the informer-driven proxy against a real API server.

load helpers

TABLE=c8spx

in_ns() {
	local ns=$1
	shift
	ip netns exec "$ns" "$@"
}

# get NS URL: one HTTP request from netns NS; prints the body (the pod name).
get() {
	in_ns "$1" curl -s --connect-timeout 3 --max-time 5 "$2"
}

# names NS URL N: the distinct answers of N requests, sorted, space-separated.
names() {
	local i
	for i in $(seq "$3"); do
		get "$1" "$2" || echo FAIL
	done | sort -u | tr '\n' ' '
}

apply() {
	in_ns "$NODE" "$C8S_BIN" proxy-apply --table "$TABLE" --node-name node1 "$@"
}

svc() { # NAME CLUSTERIP TYPE PORT NODEPORT EXTRA-SPEC STATUS
	cat <<EOF
{"kind":"Service","metadata":{"namespace":"default","name":"$1"},
 "spec":{"type":"$3","clusterIP":"$2","ports":[{"name":"http","port":$4,"protocol":"TCP"$([ "$5" = 0 ] || echo ",\"nodePort\":$5")}]$6},
 "status":${7:-{\}}}
EOF
}

slice() { # SVCNAME ENDPOINTS-JSON
	cat <<EOF
{"kind":"EndpointSlice","metadata":{"namespace":"default","name":"$1-x","labels":{"kubernetes.io/service-name":"$1"}},
 "addressType":"IPv4","ports":[{"name":"http","port":8080,"protocol":"TCP"}],"endpoints":[$2]}
EOF
}

EPA='{"addresses":["10.42.1.2"],"conditions":{"ready":true},"nodeName":"node1"}'
EPB='{"addresses":["10.42.1.3"],"conditions":{"ready":true},"nodeName":"node1"}'
EPB_OTHER='{"addresses":["10.42.1.3"],"conditions":{"ready":true},"nodeName":"node2"}'

# model WEB-ENDPOINTS [no-web]: the test model; web's endpoints vary.
model() {
	echo '{"kind":"List","items":['
	if [ "${2:-}" != no-web ]; then
		svc web 10.43.0.20 NodePort 80 30080
		echo ,
		slice web "$1"
		echo ,
	fi
	svc sticky 10.43.0.21 ClusterIP 80 0 \
		',"sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":60}}'
	echo ,
	slice sticky "$EPA,$EPB"
	echo ,
	svc lb 10.43.0.22 LoadBalancer 80 30082 ',"externalTrafficPolicy":"Local"' \
		'{"loadBalancer":{"ingress":[{"ip":"10.45.0.100"}]}}'
	echo ,
	slice lb "$EPA,$EPB_OTHER"
	echo ,
	svc empty 10.43.0.23 NodePort 80 30083
	echo ,
	svc self 10.43.0.24 ClusterIP 80 0
	echo ,
	slice self "$EPA"
	echo ,
	svc headless None ClusterIP 80 0
	echo ,
	slice headless "$EPA"
	echo ,
	cat <<EOF
{"kind":"Service","metadata":{"namespace":"default","name":"udp"},
 "spec":{"type":"ClusterIP","clusterIP":"10.43.0.25","ports":[{"name":"dns","port":53,"protocol":"UDP"}]}},
{"kind":"EndpointSlice","metadata":{"namespace":"default","name":"udp-x","labels":{"kubernetes.io/service-name":"udp"}},
 "addressType":"IPv4","ports":[{"name":"dns","port":5353,"protocol":"UDP"}],"endpoints":[$EPA,$EPB]}
EOF
	echo ']}'
}

# A UDP server answering every datagram with the pod's name.
UDP_SERVER='import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((sys.argv[1], 5353))
while True:
    d, a = s.recvfrom(512)
    s.sendto(sys.argv[2].encode(), a)'

# udp_get NS IP PORT: one datagram; prints the answer (fails after 3 s).
UDP_CLIENT='import socket,sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
s.sendto(b"?", (sys.argv[1], int(sys.argv[2])))
print(s.recvfrom(512)[0].decode())'
udp_get() {
	in_ns "$1" /usr/bin/python3 -c "$UDP_CLIENT" "$2" "$3"
}

add_pod() { # NS HOSTVETH IP NAME
	ip -n "$NODE" link add "$2" type veth peer name eth0 netns "$1"
	ip -n "$NODE" link set "$2" master c8s0 up
	bridge -n "$NODE" link set dev "$2" hairpin on
	ip -n "$1" link set lo up
	ip -n "$1" addr add "$3/24" dev eth0
	ip -n "$1" link set eth0 up
	ip -n "$1" route add 10.43.0.0/16 via 10.42.1.1
	ip -n "$1" route add 172.30.0.0/24 via 10.42.1.1
	ip -n "$1" route add 10.45.0.0/24 via 10.42.1.1
	mkdir -p "$PX_DIR/$4"
	echo "$4" >"$PX_DIR/$4/name"
	# /cgi-bin/src answers with the source address the pod sees
	mkdir -p "$PX_DIR/$4/cgi-bin"
	printf '#!/bin/sh\necho "Content-Type: text/plain"\necho\necho "$REMOTE_ADDR"\n' \
		>"$PX_DIR/$4/cgi-bin/src"
	chmod +x "$PX_DIR/$4/cgi-bin/src"
	ip netns exec "$1" busybox httpd -f -p "$3:8080" -h "$PX_DIR/$4" 3>&- &
	echo $! >>"$PX_DIR/pids"
	ip netns exec "$1" /usr/bin/python3 -c "$UDP_SERVER" "$3" "$4" 3>&- &
	echo $! >>"$PX_DIR/pids"
}

setup_file() {
	[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, nftables)"
	export PX_DIR
	PX_DIR="$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/px.XXXXXX")"
	export NODE="c8s-lab-px$$-node" CLIENT="c8s-lab-px$$-client"
	export PODA="c8s-lab-px$$-pa" PODB="c8s-lab-px$$-pb"
	nft list tables >"$PX_DIR/host-tables.before" 2>&1 || true
	for ns in "$NODE" "$CLIENT" "$PODA" "$PODB"; do
		ip netns add "$ns"
		echo "$ns" >>"$PX_DIR/netns"
	done
	ip -n "$NODE" link set lo up
	in_ns "$NODE" sysctl -qw net.ipv4.ip_forward=1
	ip -n "$NODE" link add c8s0 type bridge
	ip -n "$NODE" addr add 10.42.1.1/24 dev c8s0
	ip -n "$NODE" link set c8s0 up
	ip -n "$NODE" addr add 172.31.0.1/32 dev lo
	ip -n "$NODE" link add eth0 type veth peer name eth0 netns "$CLIENT"
	ip -n "$NODE" addr add 172.30.0.1/24 dev eth0
	ip -n "$NODE" link set eth0 up
	ip -n "$CLIENT" link set lo up
	ip -n "$CLIENT" addr add 172.30.0.2/24 dev eth0
	ip -n "$CLIENT" link set eth0 up
	ip -n "$CLIENT" route add 10.43.0.0/16 via 172.30.0.1
	ip -n "$CLIENT" route add 10.45.0.0/24 via 172.30.0.1
	ip -n "$CLIENT" route add 172.31.0.1/32 via 172.30.0.1
	add_pod "$PODA" vetha 10.42.1.2 pod-a
	add_pod "$PODB" vethb 10.42.1.3 pod-b
	wait_for 20 get "$PODA" http://10.42.1.2:8080/name
	wait_for 20 get "$PODB" http://10.42.1.3:8080/name
	wait_for 20 udp_get "$PODA" 10.42.1.2 5353
	wait_for 20 udp_get "$PODB" 10.42.1.3 5353
	# the pods answer directly before any rule exists
	wait_for 20 get "$CLIENT" http://10.42.1.2:8080/name 2>/dev/null || true

	model "$EPA,$EPB" >"$PX_DIR/m1.json"
	model "$EPA" >"$PX_DIR/m2.json"
	model "" no-web >"$PX_DIR/m3.json"
	apply "$PX_DIR/m1.json"
}

# A test that started an API server (and its background commands) ends
# them here: C8S_DIR is not seen by teardown_file.
teardown() {
	if [ -n "${C8S_DIR:-}" ]; then
		cleanup_server
	fi
}

teardown_file() {
	[ -n "${PX_DIR:-}" ] || return 0
	if [ -s "$PX_DIR/pids" ]; then
		while read -r pid; do
			kill "$pid" 2>/dev/null || true
			wait_pid_gone "$pid" 5 || kill -KILL "$pid" 2>/dev/null || true
		done <"$PX_DIR/pids"
	fi
	if [ -s "$PX_DIR/netns" ]; then
		while read -r ns; do
			ip netns del "$ns" 2>/dev/null || true
		done <"$PX_DIR/netns"
	fi
	rm -rf "$PX_DIR"
}

@test "netproxy: ClusterIP spreads over both pods, from outside and from a pod" {
	run names "$CLIENT" http://10.43.0.20/name 30
	[ "$output" = "pod-a pod-b " ]
	run names "$PODB" http://10.43.0.20/name 30
	[ "$output" = "pod-a pod-b " ]
}

@test "netproxy: a UDP Service spreads over both pods" {
	local i seen=" "
	for i in $(seq 20); do
		run udp_get "$CLIENT" 10.43.0.25 53
		[ "$status" -eq 0 ]
		[[ "$seen" == *" $output "* ]] || seen="$seen$output "
	done
	[[ "$seen" == *" pod-a "* ]] && [[ "$seen" == *" pod-b "* ]]
}

@test "netproxy: NodePort answers on every node address" {
	run names "$CLIENT" http://172.30.0.1:30080/name 30
	[ "$output" = "pod-a pod-b " ]
	run names "$CLIENT" http://172.31.0.1:30080/name 30
	[ "$output" = "pod-a pod-b " ]
	# and from the node itself (output hook)
	run names "$NODE" http://172.30.0.1:30080/name 20
	[ "$output" = "pod-a pod-b " ]
}

@test "netproxy: sessionAffinity ClientIP sticks to one pod" {
	run names "$CLIENT" http://10.43.0.21/name 20
	[ "$output" = "pod-a " ] || [ "$output" = "pod-b " ]
	# the client's address is in exactly one endpoint's affinity set
	run in_ns "$NODE" nft list table ip "$TABLE"
	[ "$(grep -c 'elements = { 172.30.0.2 ' <<<"$output")" -eq 1 ]
}

@test "netproxy: LoadBalancer address and externalTrafficPolicy Local" {
	# pod-b is on another node: external traffic only reaches pod-a
	run names "$CLIENT" http://10.45.0.100/name 20
	[ "$output" = "pod-a " ]
	run names "$CLIENT" http://172.30.0.1:30082/name 20
	[ "$output" = "pod-a " ]
	# the cluster IP stays cluster-wide; so does traffic from a pod
	run names "$CLIENT" http://10.43.0.22/name 30
	[ "$output" = "pod-a pod-b " ]
	run names "$PODA" http://10.45.0.100/name 30
	[ "$output" = "pod-a pod-b " ]
}

@test "netproxy: a Service without endpoints rejects at once" {
	run in_ns "$CLIENT" curl -s --connect-timeout 5 http://10.43.0.23/name
	[ "$status" -eq 7 ] # connection refused, not a timeout (28)
	run in_ns "$CLIENT" curl -s --connect-timeout 5 http://172.30.0.1:30083/name
	[ "$status" -eq 7 ]
	# headless: no rules at all
	run in_ns "$NODE" nft list table ip "$TABLE"
	[[ "$output" != *headless* ]]
}

@test "netproxy: hairpin, a pod reaching itself through its Service" {
	run names "$PODA" http://10.43.0.24/name 5
	[ "$output" = "pod-a " ]
}

@test "netproxy: masquerade from outside the pod network and for hairpin only" {
	# from the client (outside the pod network): masqueraded to the node
	run get "$CLIENT" http://10.43.0.20/cgi-bin/src
	[ "$output" = 10.42.1.1 ]
	run get "$CLIENT" http://172.31.0.1:30080/cgi-bin/src
	[ "$output" = 10.42.1.1 ]
	# externalTrafficPolicy Local keeps the client's address
	run get "$CLIENT" http://10.45.0.100/cgi-bin/src
	[ "$output" = 172.30.0.2 ]
	run get "$CLIENT" http://172.30.0.1:30082/cgi-bin/src
	[ "$output" = 172.30.0.2 ]
	# pod to another pod's Service: the pod's own address
	run get "$PODB" http://10.43.0.24/cgi-bin/src
	[ "$output" = 10.42.1.3 ]
	# hairpin: masqueraded, or the reply would not come back through the node
	run get "$PODA" http://10.43.0.24/cgi-bin/src
	[ "$output" = 10.42.1.1 ]
}

@test "netproxy: an incremental update moves traffic, then removal stops it" {
	run apply --from "$PX_DIR/m1.json" "$PX_DIR/m2.json"
	[ "$status" -eq 0 ]
	[[ "$output" == *"incremental update"* ]]
	run names "$CLIENT" http://10.43.0.20/name 20
	[ "$output" = "pod-a " ]
	run names "$CLIENT" http://172.30.0.1:30080/name 10
	[ "$output" = "pod-a " ]
	run names "$CLIENT" http://10.43.0.22/name 20 # untouched
	[ "$output" = "pod-a pod-b " ]
	# the Service goes away: its rules and traffic with it
	run apply --from "$PX_DIR/m2.json" "$PX_DIR/m3.json"
	[ "$status" -eq 0 ]
	run in_ns "$NODE" nft list table ip "$TABLE"
	[[ "$output" != *default/web/* ]]
	[[ "$output" == *default/lb/* ]]
	run get "$CLIENT" http://10.43.0.20/name
	[ "$status" -ne 0 ]
	run get "$CLIENT" http://172.30.0.1:30080/name
	[ "$status" -ne 0 ]
	run names "$CLIENT" http://10.45.0.100/name 5
	[ "$output" = "pod-a " ]
}

@test "netproxy: a full sync replaces the table in place; delete removes it" {
	# traffic keeps flowing while full syncs (an agent restart) replace the table
	local i
	(for i in $(seq 40); do get "$CLIENT" http://10.43.0.22/name >/dev/null || echo FAIL; done) \
		>"$PX_DIR/during" 3>&- &
	local loop=$!
	for i in 1 2 3 4 5; do
		apply "$PX_DIR/m1.json"
	done
	wait "$loop"
	! grep -q FAIL "$PX_DIR/during"
	run names "$CLIENT" http://10.43.0.20/name 30
	[ "$output" = "pod-a pod-b " ]
	apply --delete
	run in_ns "$NODE" nft list tables
	[[ "$output" != *"$TABLE"* ]]
	apply --delete # idempotent
	run get "$CLIENT" http://10.43.0.20/name
	[ "$status" -ne 0 ]
	# the host's own ruleset was never touched
	nft list tables >"$PX_DIR/host-tables.after" 2>&1 || true
	! grep -q "$TABLE" "$PX_DIR/host-tables.after"
}

@test "netproxy: the informer-driven proxy follows Services and EndpointSlices" {
	start_apiserver
	k create -f - <<EOF
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  type: NodePort
  ports: [{name: http, port: 80, targetPort: 8080}]
EOF
	cip=$(k get svc web -o jsonpath='{.spec.clusterIP}')
	np=$(k get svc web -o jsonpath='{.spec.ports[0].nodePort}')
	[ -n "$cip" ] && [ -n "$np" ]
	# routes for whatever address the API server allocated
	ip -n "$CLIENT" route replace "$cip/32" via 172.30.0.1
	ip -n "$PODA" route replace "$cip/32" via 10.42.1.1
	bg_start "$PX_DIR/proxy.log" "$C8S_DIR/c8s" proxy-apply --kubeconfig "$KUBECONFIG" \
		--netns "/run/netns/$NODE" --table "$TABLE" --node-name node1 --cleanup -v 3
	proxy_pid=$BG_PID
	# no endpoints yet: rejected
	wait_for 20 in_ns "$NODE" nft list table ip "$TABLE"
	run in_ns "$CLIENT" curl -s --connect-timeout 5 "http://$cip/name"
	[ "$status" -eq 7 ]
	k create -f - <<EOF
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {name: web-1, labels: {kubernetes.io/service-name: web}}
addressType: IPv4
ports: [{name: http, port: 8080, protocol: TCP}]
endpoints:
- {addresses: [10.42.1.2], conditions: {ready: true}, nodeName: node1}
- {addresses: [10.42.1.3], conditions: {ready: true}, nodeName: node1}
EOF
	wait_for 20 get "$CLIENT" "http://$cip/name"
	run names "$CLIENT" "http://$cip/name" 30
	[ "$output" = "pod-a pod-b " ]
	run names "$CLIENT" "http://172.30.0.1:$np/name" 20
	[ "$output" = "pod-a pod-b " ]
	# pod-b turns unready: traffic stops going to it
	k patch endpointslice web-1 --type=json \
		-p '[{"op":"replace","path":"/endpoints/1/conditions/ready","value":false}]'
	sleep_until_only_a() { [ "$(names "$CLIENT" "http://$cip/name" 10)" = "pod-a " ]; }
	wait_for 20 sleep_until_only_a
	run names "$CLIENT" "http://$cip/name" 20
	[ "$output" = "pod-a " ]
	grep -q "partial sync" "$PX_DIR/proxy.log"
	# the Service is deleted: its rules go
	k delete svc web
	gone() { ! in_ns "$NODE" nft list table ip "$TABLE" | grep -q default/web/; }
	wait_for 20 gone
	run get "$CLIENT" "http://$cip/name"
	[ "$status" -ne 0 ]
	# stopping with --cleanup removes the table
	bg_stop "$proxy_pid"
	run in_ns "$NODE" nft list tables
	[[ "$output" != *"$TABLE"* ]]
	grep -q "service proxy: signal" "$PX_DIR/proxy.log"
	# (with the ASan build: no leak or error reports)
	! grep -E "Sanitizer|runtime error" "$PX_DIR/proxy.log"
}
