#!/usr/bin/env bats
# Cluster DNS: `c8s dns` (the server the agent runs on every node, started
# alone) against a real `c8s server` with a simulated node, queried with dig
# on loopback. The server has no upstream, so nothing is ever sent off this
# machine: names outside the cluster get SERVFAIL.

bats_require_minimum_version 1.5.0

load helpers

PREFIX=dns-e2e-
NODE=${PREFIX}0
# The DNS server may be another build than the server (C8S_DNS_BIN=./c8s-asan).
DNS_BIN=${C8S_DNS_BIN:-$C8S_BIN}

setup_file() {
	command -v dig >/dev/null || skip "dig is not installed (scripts/deps.sh: dnsutils)"
	start_server
	bg_start "$C8S_DIR/agent.log" "$C8S_BIN" agent --kubeconfig "$KUBECONFIG" --simulate 1 \
		--node-name-prefix "$PREFIX"
	DNS_PORT=$(free_port)
	echo "$DNS_PORT" >"$C8S_DIR/dns.port"
	bg_start "$C8S_DIR/dns.log" "$DNS_BIN" dns --kubeconfig "$KUBECONFIG" --bind 127.0.0.1 \
		--port "$DNS_PORT" -v 1
	echo "$BG_PID" >"$C8S_DIR/dns.pid"
	wait_for 30 q_has kubernetes.default.svc.cluster.local A .
	wait_for 30 node_ready
}

teardown_file() {
	cleanup_server
}

node_ready() {
	[ "$(k get node "$NODE" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

dns_port() {
	cat "$C8S_DIR/dns.port"
}

# q NAME [TYPE] [dig options...]: the answer section, one record per line
# (dig +short).
q() {
	local name=$1 type=${2:-A}
	shift 2 || shift $#
	dig @127.0.0.1 -p "$(dns_port)" +time=2 +tries=1 +short "$@" "$name" "$type"
}

# q_has NAME TYPE REGEX: some answer line matches.
q_has() {
	q "$1" "$2" | grep -Eq "$3"
}

# status NAME [TYPE]: the rcode (NOERROR, NXDOMAIN, SERVFAIL, ...).
status() {
	dig @127.0.0.1 -p "$(dns_port)" +time=2 +tries=1 +noall +comments "$1" "${2:-A}" |
		sed -n 's/.*status: \([A-Z]*\),.*/\1/p'
}

# answer NAME TYPE [dig options...]: whole records of the answer section,
# fields separated by single spaces.
answer() {
	local name=$1 type=$2
	shift 2
	dig @127.0.0.1 -p "$(dns_port)" +time=2 +tries=1 +noall +answer "$@" "$name" "$type" |
		tr -s ' \t' '  '
}

status_is() {
	[ "$(status "$1" "$2")" = "$3" ]
}

# make_pod NAME LABEL [extra spec JSON]: a pod bound to the simulated node.
make_pod() {
	k create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Pod","metadata":{"name":"$1","labels":{"app":"$2"}},
 "spec":{"nodeName":"$NODE","containers":[{"name":"app","image":"registry.example/app:1",
 "ports":[{"name":"http","containerPort":8080}]}]${3:+,$3}}}
EOF
}

pod_ip() {
	k get pod "$1" -o jsonpath='{.status.podIP}'
}

has_ip() {
	[ -n "$(pod_ip "$1")" ]
}

# ms since the epoch
now_ms() {
	date +%s%3N
}

@test "the kubernetes Service resolves to its cluster IP, in the query's case" {
	local ip
	ip=$(k get svc kubernetes -o jsonpath='{.spec.clusterIP}')
	[ "$(q kubernetes.default.svc.cluster.local A)" = "$ip" ]
	run -0 answer KuBeRnEtEs.Default.SVC.cluster.local A
	[[ "$output" == "KuBeRnEtEs.Default.SVC.cluster.local. 5 IN A $ip" ]]
	# answered authoritatively; the SRV of its named port
	run -0 dig @127.0.0.1 -p "$(dns_port)" +time=2 +tries=1 kubernetes.default.svc.cluster.local
	[[ "$output" == *"flags: qr aa rd ra;"* ]]
	[ "$(q _https._tcp.kubernetes.default.svc.cluster.local SRV)" = \
		"0 100 443 kubernetes.default.svc.cluster.local." ]
	# and the reverse
	local rev
	rev=$(awk -F. '{ print $4"."$3"."$2"."$1 }' <<<"$ip")
	[ "$(q "$rev.in-addr.arpa" PTR)" = "kubernetes.default.svc.cluster.local." ]
}

@test "a new ClusterIP Service resolves within a second, with SRV for its named port; deleted, NXDOMAIN" {
	local t0 ip
	ip=$(k create service clusterip web --tcp=80:8080 -o jsonpath='{.spec.clusterIP}')
	t0=$(now_ms)
	[ -n "$ip" ]
	wait_for 10 q_has web.default.svc.cluster.local A "^$ip\$"
	local took=$(($(now_ms) - t0))
	echo "# resolvable after ${took} ms" >&3
	[ "$took" -lt 2000 ]
	[ "$(q _80-8080._tcp.web.default.svc.cluster.local SRV)" = \
		"0 100 80 web.default.svc.cluster.local." ]
	# the same over TCP
	[ "$(q web.default.svc.cluster.local A +tcp)" = "$ip" ]
	# other types of an existing name: NODATA
	[ "$(status web.default.svc.cluster.local AAAA)" = NOERROR ]
	[ -z "$(q web.default.svc.cluster.local AAAA)" ]

	k delete service web >/dev/null
	t0=$(now_ms)
	wait_for 10 status_is web.default.svc.cluster.local A NXDOMAIN
	took=$(($(now_ms) - t0))
	echo "# NXDOMAIN after ${took} ms" >&3
	[ "$took" -lt 2000 ]
}

@test "a headless Service answers with its ready pods, by host name too, and SRV per pod" {
	make_pod hl-0 hl '"hostname":"web-0","subdomain":"hl"'
	make_pod hl-1 hl
	k create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Service","metadata":{"name":"hl"},
 "spec":{"clusterIP":"None","selector":{"app":"hl"},
 "ports":[{"name":"http","port":80,"targetPort":"http"}]}}
EOF
	wait_for 30 has_ip hl-0
	wait_for 30 has_ip hl-1
	local ip0 ip1
	ip0=$(pod_ip hl-0)
	ip1=$(pod_ip hl-1)
	wait_for 30 q_has hl.default.svc.cluster.local A "^$ip1\$"
	wait_for 10 q_has hl.default.svc.cluster.local A "^$ip0\$"
	[ "$(q hl.default.svc.cluster.local A | wc -l)" -eq 2 ]
	[ "$(q web-0.hl.default.svc.cluster.local A)" = "$ip0" ]
	run -0 q _http._tcp.hl.default.svc.cluster.local SRV
	[ "${#lines[@]}" -eq 2 ]
	[[ "$output" == *" 8080 web-0.hl.default.svc.cluster.local."* ]]
	[[ "$output" == *" 8080 ${ip1//./-}.hl.default.svc.cluster.local."* ]]
}

@test "a selector-less headless Service with its own EndpointSlice: ready endpoints only" {
	k create -f - >/dev/null <<EOF
{"apiVersion":"v1","kind":"Service","metadata":{"name":"manual"},
 "spec":{"clusterIP":"None","ports":[{"name":"db","port":5432}]}}
EOF
	k create -f - >/dev/null <<EOF
{"apiVersion":"discovery.k8s.io/v1","kind":"EndpointSlice",
 "metadata":{"name":"manual-1","labels":{"kubernetes.io/service-name":"manual"}},
 "addressType":"IPv4","ports":[{"name":"db","port":5432,"protocol":"TCP"}],
 "endpoints":[{"addresses":["10.9.0.1"],"hostname":"a","conditions":{"ready":true}},
              {"addresses":["10.9.0.2"],"conditions":{"ready":false}}]}
EOF
	wait_for 10 q_has manual.default.svc.cluster.local A '^10\.9\.0\.1$'
	[ "$(q manual.default.svc.cluster.local A)" = 10.9.0.1 ]
	[ "$(q a.manual.default.svc.cluster.local A)" = 10.9.0.1 ]
	[ "$(q _db._tcp.manual.default.svc.cluster.local SRV)" = "0 100 5432 a.manual.default.svc.cluster.local." ]
	[ "$(q 1.0.9.10.in-addr.arpa PTR)" = "a.manual.default.svc.cluster.local." ]
	# the second endpoint turns ready
	k patch endpointslice manual-1 --type=json -p \
		'[{"op":"replace","path":"/endpoints/1/conditions/ready","value":true}]' >/dev/null
	wait_for 10 q_has manual.default.svc.cluster.local A '^10\.9\.0\.2$'
	[ "$(q 10-9-0-2.manual.default.svc.cluster.local A)" = 10.9.0.2 ]
}

@test "an ExternalName Service is a CNAME; unknown names NXDOMAIN with the SOA; pods by address" {
	k create service externalname ext --external-name www.example.com >/dev/null
	wait_for 10 q_has ext.default.svc.cluster.local A '^www\.example\.com\.$'
	run -0 answer ext.default.svc.cluster.local A
	[[ "$output" == *"IN CNAME www.example.com."* ]]

	[ "$(status nope.default.svc.cluster.local)" = NXDOMAIN ]
	run -0 answer nope.default.svc.cluster.local A +noanswer +authority
	[[ "$output" == "cluster.local. 5 IN SOA ns.dns.cluster.local. hostmaster.cluster.local. "* ]]
	[ "$(status nosuchns.svc.cluster.local)" = NXDOMAIN ]
	[ "$(status default.svc.cluster.local)" = NOERROR ]

	[ "$(q 10-244-7-9.default.pod.cluster.local A)" = 10.244.7.9 ]
	[ "$(q dns-version.cluster.local TXT)" = '"1.1.0"' ]
}

@test "names outside the cluster domain with no upstream: SERVFAIL at once" {
	run -0 dig @127.0.0.1 -p "$(dns_port)" +time=5 +tries=1 www.example.com A
	[[ "$output" == *"status: SERVFAIL"* ]]
	# dig's own measure: the server's answer time, not this busy machine's
	# process start-up
	local ms
	ms=$(sed -n 's/^;; Query time: \([0-9]*\) msec$/\1/p' <<<"$output")
	echo "# answered in ${ms} ms" >&3
	[ "$ms" -lt 500 ]
}

@test "with an upstream (a fake one on 127.0.0.1): other names forwarded, ExternalName targets resolved" {
	local up_port dns2_port
	up_port=$(free_port)
	dns2_port=$(free_port)
	# answers every A query with 192.0.2.55, except silent.test (no answer)
	bg_start "$C8S_DIR/upstream.log" python3 -c '
import socket, struct, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", int(sys.argv[1])))
open(sys.argv[2], "w").close()
while True:
    q, a = s.recvfrom(4096)
    qd_end = 12
    while q[qd_end] != 0:
        qd_end += q[qd_end] + 1
    qd_end += 5
    name = q[12:qd_end - 4]
    if b"silent" in name:
        continue
    r = q[:2] + b"\x81\x80" + struct.pack(">HHHH", 1, 1, 0, 0) + q[12:qd_end]
    r += b"\xc0\x0c" + struct.pack(">HHIH", 1, 1, 60, 4) + bytes([192, 0, 2, 55])
    s.sendto(r, a)
' "$up_port" "$C8S_DIR/upstream.ready"
	wait_for 60 test -e "$C8S_DIR/upstream.ready"
	bg_start "$C8S_DIR/dns2.log" "$DNS_BIN" dns --kubeconfig "$KUBECONFIG" --bind 127.0.0.1 \
		--port "$dns2_port" --upstream "127.0.0.1:$up_port"
	local dns2_pid=$BG_PID
	k create service externalname far --external-name far.example.test >/dev/null
	dig2() {
		dig @127.0.0.1 -p "$dns2_port" +time=3 +tries=1 +noall +answer "$@" | tr -s ' \t' '  '
	}
	wait_for 20 eval '[ -n "$(dig2 kubernetes.default.svc.cluster.local A)" ]'
	[ "$(dig2 www.example.test A)" = "www.example.test. 60 IN A 192.0.2.55" ]
	wait_for 10 eval 'dig2 far.default.svc.cluster.local A | grep -q CNAME'
	run -0 dig2 far.default.svc.cluster.local A
	[ "${lines[0]}" = "far.default.svc.cluster.local. 5 IN CNAME far.example.test." ]
	[ "${lines[1]}" = "far.example.test. 60 IN A 192.0.2.55" ]
	# cluster names are still answered here
	[ -n "$(dig2 kubernetes.default.svc.cluster.local A)" ]
	# an upstream that does not answer: SERVFAIL after the timeout, not never
	run -0 dig @127.0.0.1 -p "$dns2_port" +time=8 +tries=1 silent.test A
	[[ "$output" == *"status: SERVFAIL"* ]]
	bg_stop "$dns2_pid"
}

@test "malformed, truncated and oversized packets are dropped or get FORMERR; the server keeps serving" {
	run -0 python3 - "$(dns_port)" <<'EOF'
import socket, struct, sys, random
port = int(sys.argv[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
def ask(pkt):
    s.sendto(pkt, ("127.0.0.1", port))
    try:
        return s.recv(65535)
    except socket.timeout:
        return None
def query(name, qid=0x1234, qtype=1):
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for l in name.split("."):
        q += bytes([len(l)]) + l.encode()
    return q + b"\0" + struct.pack(">HH", qtype, 1)
good = query("kubernetes.default.svc.cluster.local")
assert ask(b"") is None and ask(b"\x01\x02\x03") is None, "short packets answered"
assert ask(good[:2] + b"\x81\x00" + good[4:]) is None, "a response was answered"
assert ask(good + b"\0" * 600) is None, "an oversized query was answered"
r = ask(good[:20])
assert r and r[:2] == good[:2] and (r[3] & 15) == 1, "no FORMERR for a cut question"
loop = struct.pack(">HHHHHH", 7, 0, 1, 0, 0, 0) + b"\xc0\x0c" + b"\0\1\0\1"
r = ask(loop)
assert r and (r[3] & 15) == 1, "no FORMERR for a compression loop"
rnd = random.Random(1)
for i in range(3000):
    b = bytearray(good)
    for _ in range(rnd.randint(1, 4)):
        b[rnd.randrange(len(b))] = rnd.randrange(256)
    ask(bytes(b[:rnd.randint(0, len(b))]) if i % 3 == 0 else bytes(b))
r = ask(good)
assert r and r[:2] == good[:2] and (r[3] & 15) == 0, "not serving after the garbage"
print("ok")
EOF
	[ "$output" = ok ]
	local pid
	pid=$(cat "$C8S_DIR/dns.pid")
	pid_alive "$pid"
	[ -n "$(q kubernetes.default.svc.cluster.local A)" ]
}

@test "the DNS server stops cleanly on SIGTERM (no sanitizer report with C8S_DNS_BIN=c8s-asan)" {
	local pid
	pid=$(cat "$C8S_DIR/dns.pid")
	kill -TERM "$pid"
	run wait_pid_gone "$pid" 20
	[ "$status" -eq 0 ]
	run -0 cat "$C8S_DIR/dns.log"
	[[ "$output" == *"received Terminated; stopping"* ]]
	[[ "$output" != *"Sanitizer"* ]]
	[[ "$output" != *"runtime error"* ]]
}
