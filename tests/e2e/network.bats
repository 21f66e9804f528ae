#!/usr/bin/env bats
# The cluster network and Services on a 3-node `c8s cluster create`: pod to
# pod across nodes, ClusterIP, NodePort, LoadBalancer, cluster DNS,
# endpoints following readiness, kubectl proxy, and a `cluster delete` that
# leaves nothing behind.
#
# Everything runs in the lab the cluster makes (a network namespace with no
# default route, one namespace per node); the only traffic from this shell
# goes over the cluster's own link c8s-NAME to the node addresses and the
# LoadBalancer pool routed through it.

bats_require_minimum_version 1.5.0

load helpers

IMG=c8s.test/busybox:1

setup_file() {
	export NT_DIR
	NT_DIR="$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/net.XXXXXX")"
	export CL_NAME="nt$((RANDOM % 100000))"
	export CL_STATE="$NT_DIR/state" CL_RUN="/run/c8s-e2e-$CL_NAME"
	export KUBECONFIG="$NT_DIR/kubeconfig"
	export KUBECACHEDIR="$NT_DIR/kubecache"
	cp "$C8S_BIN" "$NT_DIR/c8s"
	echo "$CL_NAME" >"$NT_DIR/name"
	"$C8S_ROOT/tests/images/build.sh" "$NT_DIR/images" >/dev/null
	cl create --nodes 3 --kubeconfig "$KUBECONFIG" --wait 120s >"$NT_DIR/create.out" 2>&1 || {
		cat "$NT_DIR/create.out" >&2
		return 1
	}
	cl load "$NT_DIR/images/busybox-docker.tar" >"$NT_DIR/load.out" 2>&1 || {
		cat "$NT_DIR/load.out" >&2
		return 1
	}
}

teardown_file() {
	[ -n "${NT_DIR:-}" ] || return 0
	"$NT_DIR/c8s" cluster delete --name "$CL_NAME" --state-dir "$CL_STATE" \
		--run-dir "$CL_RUN" >/dev/null 2>&1 || true
	rm -rf "$NT_DIR" "$CL_RUN"
}

cl() {
	local cmd=$1
	shift
	"$NT_DIR/c8s" cluster "$cmd" --name "$CL_NAME" --state-dir "$CL_STATE" --run-dir "$CL_RUN" "$@"
}

node() { echo "$CL_NAME-node-$1"; }
node_ip() { k get node "$(node "$1")" -o jsonpath='{.status.addresses[?(@.type=="InternalIP")].address}'; }
host_link() { echo "c8s-$CL_NAME"; }

# curl from this shell, bound to the cluster's link: a packet can only ever
# leave through it.
hcurl() { curl -s --interface "$(host_link)" --max-time 5 "$@"; }

# ep_count SERVICE FIELD N: the Service's Endpoints list N addresses in
# FIELD (addresses or notReadyAddresses) over all subsets.
ep_count() {
	[ "$(k get endpoints "$1" -o jsonpath="{.subsets[*].$2[*].ip}" | wc -w)" -eq "$3" ]
}

pod_running() { [ "$(k get pod "$1" -o jsonpath='{.status.phase}')" = Running ]; }
pod_ready() {
	[ "$(k get pod "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# web NAME NODE [TEXT]: a pod on node NODE serving TEXT (default: its name)
# on :8080 with busybox httpd, labelled app=NAME-app unless set.
web_pod() {
	local name=$1 nodeidx=$2 app=${3:-web}
	k apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata:
  name: $name
  labels: {app: $app}
spec:
  nodeName: $(node "$nodeidx")
  containers:
  - name: httpd
    image: $IMG
    command: ["sh", "-c", "mkdir -p /www/cgi-bin && echo \$(hostname) > /www/index.html && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho \$REMOTE_ADDR\\n' > /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && touch /tmp/ready && exec httpd -f -p 8080 -h /www"]
    ports: [{name: http, containerPort: 8080}]
    readinessProbe:
      exec: {command: ["test", "-f", "/tmp/ready"]}
      periodSeconds: 1
      failureThreshold: 1
EOF
}

client_pod() {
	k apply -f - <<EOF
apiVersion: v1
kind: Pod
metadata: {name: $1}
spec:
  nodeName: $(node "$2")
  containers:
  - name: c
    image: $IMG
    command: ["sleep", "3600"]
EOF
}

@test "cluster create --nodes 3: every node Ready with its own pod CIDR and address in the lab" {
	run -0 k get nodes -o jsonpath='{range .items[*]}{.metadata.name} {.spec.podCIDR} {.status.conditions[?(@.type=="Ready")].status}{"\n"}{end}'
	[ "$(printf '%s\n' "$output" | grep -c ' True$')" = 3 ]
	[ "$(printf '%s\n' "$output" | awk '{print $2}' | sort -u | grep -c '^10\.42\.')" = 3 ]
	for i in 0 1 2; do
		[[ "$(node_ip $i)" == 172.30.* ]]
		ip netns list | grep -q "^c8s-$CL_NAME-n$i\b"
	done
	ip netns list | grep -q "^c8s-$CL_NAME-lab\b"
	# the lab and the nodes have no default route
	[ -z "$(ip -n "c8s-$CL_NAME-lab" route show default)" ]
	[ -z "$(ip -n "c8s-$CL_NAME-n1" route show default)" ]
	grep -q "Ready in" "$NT_DIR/create.out"
}

@test "pods on different nodes reach each other directly by IP" {
	web_pod pp-a 1 pp
	client_pod pp-b 2
	wait_for 90 pod_ready pp-a
	wait_for 90 pod_running pp-b
	local ipa
	ipa=$(k get pod pp-a -o jsonpath='{.status.podIP}')
	[[ "$ipa" == 10.42.* ]]
	run -0 k exec pp-b -- timeout 5 wget -qO- "http://$ipa:8080/"
	[ "$output" = pp-a ]
	# the server sees the client pod's own address (no NAT between pods)
	# (busybox httpd gives REMOTE_ADDR as [::ffff:A.B.C.D])
	run -0 k exec pp-b -- timeout 5 wget -qO- "http://$ipa:8080/cgi-bin/ip"
	[ "$(sed 's/^\[::ffff://; s/\]$//' <<<"$output")" = "$(k get pod pp-b -o jsonpath='{.status.podIP}')" ]
}

@test "a ClusterIP Service spreads requests from a pod on another node over all its pods" {
	web_pod ci-0 0 ci
	web_pod ci-1 1 ci
	web_pod ci-2 2 ci
	client_pod ci-client 1
	k create service clusterip ci --tcp=80:8080 -o name
	k patch service ci -p '{"spec":{"selector":{"app":"ci"}}}'
	for p in ci-0 ci-1 ci-2; do wait_for 90 pod_ready $p; done
	wait_for 90 pod_running ci-client
	local ip
	ip=$(k get service ci -o jsonpath='{.spec.clusterIP}')
	wait_for 30 ep_count ci addresses 3
	run -0 k exec ci-client -- sh -c "for i in \$(seq 40); do timeout 5 wget -qO- http://$ip/; done"
	[ "$(printf '%s\n' "$output" | sort -u | tr '\n' ' ')" = "ci-0 ci-1 ci-2 " ]
}

@test "NodePort: the Service answers on every node's address from this machine" {
	web_pod np-0 2 np
	k create service nodeport np --tcp=80:8080 -o name
	k patch service np -p '{"spec":{"selector":{"app":"np"}}}'
	wait_for 90 pod_ready np-0
	local port
	port=$(k get service np -o jsonpath='{.spec.ports[0].nodePort}')
	for i in 0 1 2; do
		wait_for 20 hcurl "http://$(node_ip $i):$port/"
		[ "$(hcurl "http://$(node_ip $i):$port/")" = np-0 ]
	done
}

@test "LoadBalancer: an external address from the pool, shown by kubectl, reachable from this machine" {
	web_pod lb-0 1 lb
	k create service loadbalancer lb --tcp=80:8080 -o name
	k patch service lb -p '{"spec":{"selector":{"app":"lb"}}}'
	wait_for 90 pod_ready lb-0
	wait_for 30 test -n "$(k get service lb -o jsonpath='{.status.loadBalancer.ingress[0].ip}')"
	local ext
	ext=$(k get service lb -o jsonpath='{.status.loadBalancer.ingress[0].ip}')
	run -0 k get service lb
	[[ "$output" == *"$ext"* ]]
	wait_for 20 hcurl "http://$ext/"
	[ "$(hcurl "http://$ext/")" = lb-0 ]
}

@test "cluster DNS: Service names, the search path, ExternalName, and a fast SERVFAIL outside" {
	web_pod dns-0 0 dnsapp
	client_pod dns-client 2
	k create service clusterip dnsweb --tcp=80:8080 -o name
	k patch service dnsweb -p '{"spec":{"selector":{"app":"dnsapp"}}}'
	k create service externalname dnsext --external-name=example.invalid -o name
	wait_for 90 pod_ready dns-0
	wait_for 90 pod_running dns-client
	local ip
	ip=$(k get service dnsweb -o jsonpath='{.spec.clusterIP}')
	run -0 k exec dns-client -- cat /etc/resolv.conf
	[[ "$output" == *"nameserver 10.43.0.10"* ]]
	[[ "$output" == *"search default.svc.cluster.local svc.cluster.local cluster.local"* ]]
	[[ "$output" == *"ndots:5"* ]]
	run -0 k exec dns-client -- nslookup dnsweb.default.svc.cluster.local
	[[ "$output" == *"$ip"* ]]
	# the short name through the search path, and the answer serves requests
	run -0 k exec dns-client -- timeout 5 wget -qO- http://dnsweb/
	[ "$output" = dns-0 ]
	run k exec dns-client -- nslookup -type=CNAME dnsext.default.svc.cluster.local
	[[ "$output" == *"example.invalid"* ]]
	# nothing outside the cluster in the lab: an error, quickly
	local t0=$SECONDS
	run k exec dns-client -- nslookup -timeout=5 example.com
	[ "$status" -ne 0 ]
	[ $((SECONDS - t0)) -lt 5 ]
}

@test "endpoints drop a pod that turns unready, and traffic stops going to it" {
	web_pod rd-0 0 rd
	web_pod rd-1 1 rd
	client_pod rd-client 2
	k create service clusterip rd --tcp=80:8080 -o name
	k patch service rd -p '{"spec":{"selector":{"app":"rd"}}}'
	wait_for 90 pod_ready rd-0
	wait_for 90 pod_ready rd-1
	wait_for 90 pod_running rd-client
	wait_for 30 ep_count rd addresses 2
	k exec rd-1 -- rm /tmp/ready
	wait_for 30 ep_count rd notReadyAddresses 1
	[ "$(k get endpoints rd -o jsonpath='{.subsets[0].notReadyAddresses[0].targetRef.name}')" = rd-1 ]
	[ "$(k get endpointslices -l kubernetes.io/service-name=rd -o jsonpath='{.items[0].endpoints[?(@.targetRef.name=="rd-1")].conditions.ready}')" = false ]
	local ip
	ip=$(k get service rd -o jsonpath='{.spec.clusterIP}')
	sleep 2 # rules follow within a second
	run -0 k exec rd-client -- sh -c "for i in \$(seq 20); do timeout 5 wget -qO- http://$ip/; done"
	[ "$(printf '%s\n' "$output" | sort -u | tr '\n' ' ')" = "rd-0 " ]
}

@test "a pod's IP is not reachable from this machine" {
	web_pod iso-0 1 iso
	wait_for 90 pod_ready iso-0
	local ip
	ip=$(k get pod iso-0 -o jsonpath='{.status.podIP}')
	# this machine has no route to the pod network through the cluster's
	# link (ip route get sends nothing)
	run ip route get "$ip"
	[[ "$output" != *"dev $(host_link)"* ]]
	run hcurl "http://$ip:8080/"
	[ "$status" -ne 0 ]
}

@test "kubectl proxy reaches a pod through the API server's proxy subresource" {
	web_pod px-0 2 px
	wait_for 90 pod_ready px-0
	local port
	port=$(free_port)
	kubectl proxy --port="$port" >"$NT_DIR/proxy.log" 2>&1 &
	local ppid=$!
	wait_for 20 curl -sf "http://127.0.0.1:$port/version"
	run curl -s --max-time 10 "http://127.0.0.1:$port/api/v1/namespaces/default/pods/px-0:8080/proxy/"
	kill "$ppid"
	wait "$ppid" 2>/dev/null || true
	[ "$status" -eq 0 ]
	[ "$output" = px-0 ]
}

@test "deleting a Service removes its rules: its NodePort stops answering" {
	web_pod del-0 0 del
	k create service nodeport del --tcp=80:8080 -o name
	k patch service del -p '{"spec":{"selector":{"app":"del"}}}'
	wait_for 90 pod_ready del-0
	local port ip
	port=$(k get service del -o jsonpath='{.spec.ports[0].nodePort}')
	ip=$(k get service del -o jsonpath='{.spec.clusterIP}')
	wait_for 20 hcurl "http://$(node_ip 1):$port/"
	ip netns exec "c8s-$CL_NAME-n1" nft list ruleset | grep -q "$ip"
	k delete service del
	wait_for 10 sh -c "! ip netns exec c8s-$CL_NAME-n1 nft list ruleset | grep -q '$ip'"
	run hcurl "http://$(node_ip 1):$port/"
	[ "$status" -ne 0 ]
}

@test "cluster delete leaves no process, namespace, link, mount, cgroup or directory behind" {
	local pids
	pids=$(jq -r '.serverPID, .nodes[].agentPID' "$CL_STATE/$CL_NAME/cluster.json")
	run -0 cl delete
	for p in $pids; do ! pid_alive "$p"; done
	! ip netns list | grep -q "c8s-$CL_NAME-"
	! ip link show "$(host_link)" 2>/dev/null
	! grep -q -e "$CL_RUN" -e "$CL_STATE" /proc/self/mountinfo
	! ls -d /sys/fs/cgroup/*/c8s/"$CL_NAME"-node-* 2>/dev/null
	[ ! -e "$CL_STATE/$CL_NAME" ]
	[ ! -e "$CL_RUN/$CL_NAME" ]
	# nothing else runs in the lab's addresses
	! ip route | grep -q "$(host_link)"
}
