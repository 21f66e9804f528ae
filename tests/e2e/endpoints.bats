#!/usr/bin/env bats
# The Endpoints, EndpointSlice and ServiceLB controllers and the Services the
# server makes itself (default/kubernetes with its endpoints, kube-system/
# kube-dns), driven by the real kubectl against one c8s server with
# `c8s agent --simulate 3` playing the nodes (pods Running with IPs; Ready
# follows readiness gates, which the tests flip through pods/status).

bats_require_minimum_version 1.5.0

load helpers

MANAGED=endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io
AGENT_BIN=${C8S_AGENT_BIN:-$C8S_BIN}

setup_file() {
	start_server --advertise-address 192.0.2.1 --service-lb-cidr 10.44.0.0/29
	bg_start "$C8S_DIR/agent.log" "$AGENT_BIN" agent --simulate 3 --kubeconfig "$KUBECONFIG" \
		--node-name-prefix ep-sim-
	local n
	for n in 0 1 2; do
		wait_for 60 node_ready "ep-sim-$n"
	done
}

teardown_file() {
	cleanup_server
}

node_ready() {
	[ "$(k get node "$1" -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}')" = True ]
}

# deploy NS NAME REPLICAS [gated]: a Deployment of pods labelled app=NAME with
# a container port named http (8080); "gated": a readiness gate c8s.io/gate.
deploy() {
	local gates=""
	[ "${4:-}" = gated ] && gates="      readinessGates: [{conditionType: c8s.io/gate}]"
	k -n "$1" apply -f - <<EOF
apiVersion: apps/v1
kind: Deployment
metadata: {name: $2}
spec:
  replicas: $3
  selector: {matchLabels: {app: $2}}
  template:
    metadata: {labels: {app: $2}}
    spec:
$gates
      containers:
      - name: web
        image: nginx:1.25
        ports: [{name: http, containerPort: 8080}]
EOF
}

# service NS NAME SELECTOR_APP [extra spec lines]: a Service of port 80 ->
# targetPort http.
service() {
	k -n "$1" apply -f - <<EOF
apiVersion: v1
kind: Service
metadata: {name: $2, labels: {team: blue}}
spec:
  selector: {app: $3}
  ports: [{name: web, port: 80, targetPort: http}]
${4:-}
EOF
}

# ep_counts NS SVC: "READY NOTREADY" addresses (distinct IPs) of the Endpoints.
ep_counts() {
	k -n "$1" get endpoints "$2" -o json |
		jq -r '"\([.subsets[]?.addresses[]?.ip] | unique | length) \([.subsets[]?.notReadyAddresses[]?.ip] | unique | length)"'
}

slices_json() {
	k -n "$1" get endpointslices -l "kubernetes.io/service-name=$2,$MANAGED" -o json
}

# slice_counts NS SVC: "READY TOTAL SLICES" over the managed slices.
slice_counts() {
	slices_json "$1" "$2" |
		jq -r '"\([.items[].endpoints[]? | select(.conditions.ready)] | length) \([.items[].endpoints[]?] | length) \(.items | length)"'
}

# counts_are NS SVC "EP_READY EP_NOTREADY" "SL_READY SL_TOTAL SLICES"
counts_are() {
	local e s
	e=$(ep_counts "$1" "$2") || return 1
	s=$(slice_counts "$1" "$2") || return 1
	[ "$e" = "$3" ] && [ "$s" = "$4" ]
}

# set_gate NS POD True|False: the pod's readiness gate condition.
set_gate() {
	k -n "$1" patch pod "$2" --subresource=status --type=strategic \
		-p "{\"status\":{\"conditions\":[{\"type\":\"c8s.io/gate\",\"status\":\"$3\"}]}}" >/dev/null
}

running_pods() {
	k -n "$1" get pods -l "app=$2" -o json |
		jq -r '[.items[] | select(.status.podIP != null and .metadata.deletionTimestamp == null)] | length'
}

# eq WANT COMMAND...: COMMAND prints WANT (wait_for runs it again each time).
eq() {
	local want=$1 got
	shift
	got=$("$@") || return 1
	[ "$got" = "$want" ]
}

slice_label() {
	slices_json "$1" "$2" | jq -r ".items[0].metadata.labels.$3"
}

slice_ready_total() {
	slice_counts "$1" "$2" | cut -d' ' -f1,2
}

# failed_names NS: the Services with AllocationFailed events.
failed_names() {
	k -n "$1" get events --field-selector reason=AllocationFailed -o json |
		jq -r '[.items[].involvedObject.name] | unique | join(" ")'
}

failed_for() {
	failed_names "$1" | tr ' ' '\n' | grep -qx "$2"
}

gone() {
	! k "$@" >/dev/null 2>&1
}

# ep_settled NS NAME: the Endpoints and slice of NAME did not change for 2 s.
ep_settled() {
	local a b
	a="$(k -n "$1" get endpoints "$2" -o jsonpath='{.metadata.resourceVersion}') $(slices_json "$1" "$2" | jq -r '[.items[].metadata.resourceVersion] | join(",")')"
	sleep 2
	b="$(k -n "$1" get endpoints "$2" -o jsonpath='{.metadata.resourceVersion}') $(slices_json "$1" "$2" | jq -r '[.items[].metadata.resourceVersion] | join(",")')"
	[ "$a" = "$b" ]
}

@test "the server makes kube-dns and keeps the kubernetes endpoints on its address" {
	run -0 k -n kube-system get service kube-dns -o json
	[ "$(json_field "$output" .spec.clusterIP)" = 10.43.0.10 ]
	[ "$(json_field "$output" .metadata.labels[\"k8s-app\"])" = kube-dns ]
	[ "$(json_field "$output" '.spec.selector // "none"')" = none ]
	[ "$(json_field "$output" '[.spec.ports[] | "\(.name)/\(.port)/\(.protocol)"] | join(" ")')" = "dns/53/UDP dns-tcp/53/TCP" ]
	run -0 k get endpoints kubernetes -o json
	[ "$(json_field "$output" '.subsets[0] | "\(.addresses[0].ip):\(.ports[0].port)"')" = "192.0.2.1:$C8S_PORT" ]
	run -0 k get endpointslice kubernetes -o json
	[ "$(json_field "$output" '"\(.endpoints[0].addresses[0]):\(.ports[0].port)"')" = "192.0.2.1:$C8S_PORT" ]
	# Nobody writes Endpoints for a Service without a selector.
	run -1 k -n kube-system get endpoints kube-dns
}

@test "endpoints and slices follow scale up and down with named ports resolved" {
	k create namespace ep-scale
	deploy ep-scale web 3
	service ep-scale web web
	wait_for 90 counts_are ep-scale web "3 0" "3 3 1"
	run -0 k -n ep-scale get endpoints web -o json
	local ep=$output
	[ "$(json_field "$ep" '.subsets | length')" = 1 ]
	[ "$(json_field "$ep" '.subsets[0].ports | map("\(.name)/\(.port)/\(.protocol)") | join(" ")')" = "web/8080/TCP" ]
	[ "$(json_field "$ep" '[.subsets[0].addresses[] | .targetRef.kind == "Pod" and (.nodeName | startswith("ep-sim-"))] | all')" = true ]
	[ "$(json_field "$ep" '.metadata.labels.team')" = blue ]
	[ -n "$(json_field "$ep" '.metadata.annotations["endpoints.kubernetes.io/last-change-trigger-time"] // empty')" ]
	# The pod IPs, sorted, are the addresses.
	local ips
	ips=$(k -n ep-scale get pods -l app=web -o json | jq -r '[.items[].status.podIP] | sort | join(" ")')
	[ "$(json_field "$ep" '[.subsets[0].addresses[].ip] | sort | join(" ")')" = "$ips" ]

	run -0 slices_json ep-scale web
	local sl=$output slice
	slice=$(json_field "$sl" '.items[0].metadata.name')
	[ "$(json_field "$sl" '.items[0].addressType')" = IPv4 ]
	[ "$(json_field "$sl" '.items[0].metadata.ownerReferences[0] | "\(.kind)/\(.name)/\(.controller)"')" = "Service/web/true" ]
	[ "$(json_field "$sl" '.items[0].metadata.ownerReferences[0].uid')" = "$(k -n ep-scale get svc web -o jsonpath='{.metadata.uid}')" ]
	[ "$(json_field "$sl" '.items[0].ports | map("\(.name)/\(.port)/\(.protocol)") | join(" ")')" = "web/8080/TCP" ]
	[ "$(json_field "$sl" '[.items[0].endpoints[] | .conditions.ready and .conditions.serving and (.conditions.terminating | not) and .targetRef.kind == "Pod" and (.nodeName | startswith("ep-sim-"))] | all')" = true ]
	[ "$(json_field "$sl" '.items[0].metadata.labels.team')" = blue ]

	# Only what changes is written: a Service change that changes nothing
	# in them (an annotation) writes nothing; a label is copied (one write
	# each, seen from a watch starting before both changes).
	local rv
	# first let the Endpoints and slice settle (a loaded machine may still
	# be reporting pods Ready)
	wait_for 60 ep_settled ep-scale web
	rv=$(store_rev)
	k -n ep-scale annotate service web touched=yes
	k -n ep-scale label service web tier=front
	wait_for 30 eq front k -n ep-scale get endpoints web -o jsonpath='{.metadata.labels.tier}'
	wait_for 30 eq front slice_label ep-scale web tier
	run -0 watch_lines "/api/v1/namespaces/ep-scale/endpoints?watch=1&resourceVersion=$rv" 2
	[ "$(grep -c . <<<"$output")" = 1 ]
	run -0 watch_lines "/apis/discovery.k8s.io/v1/namespaces/ep-scale/endpointslices?watch=1&resourceVersion=$rv" 2
	[ "$(grep -c . <<<"$output")" = 1 ]

	k -n ep-scale scale deployment web --replicas=5
	wait_for 90 counts_are ep-scale web "5 0" "5 5 1"
	k -n ep-scale scale deployment web --replicas=1
	wait_for 90 counts_are ep-scale web "1 0" "1 1 1"
	# The slice was updated in place, not replaced.
	[ "$(slices_json ep-scale web | jq -r '.items[0].metadata.name')" = "$slice" ]
	k -n ep-scale scale deployment web --replicas=0
	wait_for 90 counts_are ep-scale web "0 0" "0 0 1"

	# Deleting the Service deletes its Endpoints and slices.
	k -n ep-scale delete service web
	wait_for 30 gone -n ep-scale get endpoints web
	wait_for 30 eq "0 0 0" slice_counts ep-scale web
	k delete namespace ep-scale --wait=false
}

@test "not-ready pods are notReadyAddresses until ready; publishNotReadyAddresses lists them all" {
	k create namespace ep-ready
	deploy ep-ready gated 2 gated
	service ep-ready gated gated
	service ep-ready pub gated "  publishNotReadyAddresses: true"
	wait_for 90 counts_are ep-ready gated "0 2" "0 2 1"
	wait_for 30 counts_are ep-ready pub "2 0" "2 2 1"
	run -0 slices_json ep-ready gated
	[ "$(json_field "$output" '[.items[0].endpoints[] | (.conditions.ready | not) and (.conditions.serving | not) and (.conditions.terminating | not)] | all')" = true ]

	local p1 p2
	p1=$(k -n ep-ready get pods -l app=gated -o jsonpath='{.items[0].metadata.name}')
	p2=$(k -n ep-ready get pods -l app=gated -o jsonpath='{.items[1].metadata.name}')
	set_gate ep-ready "$p1" True
	wait_for 60 counts_are ep-ready gated "1 1" "1 2 1"
	local ip1
	ip1=$(k -n ep-ready get pod "$p1" -o jsonpath='{.status.podIP}')
	[ "$(k -n ep-ready get endpoints gated -o jsonpath='{.subsets[0].addresses[0].ip}')" = "$ip1" ]
	set_gate ep-ready "$p2" True
	wait_for 60 counts_are ep-ready gated "2 0" "2 2 1"
	# Turning unready drops it from the ready addresses again.
	set_gate ep-ready "$p1" False
	wait_for 60 counts_are ep-ready gated "1 1" "1 2 1"
	[ "$(k -n ep-ready get endpoints gated -o jsonpath='{.subsets[0].notReadyAddresses[0].ip}')" = "$ip1" ]
	# publishNotReadyAddresses: ready whatever the pods say.
	counts_are ep-ready pub "2 0" "2 2 1"
	k delete namespace ep-ready --wait=false
}

@test "a terminating pod leaves the Endpoints and stays in its slice as terminating" {
	k create namespace ep-term
	# A finalizer keeps the deleted pod around, terminating.
	k -n ep-term apply -f - <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: stay, labels: {app: term}, finalizers: [c8s.io/hold]}
spec:
  containers: [{name: c, image: nginx:1.25, ports: [{name: http, containerPort: 8080}]}]
EOF
	service ep-term term term
	wait_for 90 counts_are ep-term term "1 0" "1 1 1"
	k -n ep-term delete pod stay --wait=false
	wait_for 60 counts_are ep-term term "0 0" "0 1 1"
	run -0 slices_json ep-term term
	[ "$(json_field "$output" '.items[0].endpoints[0].conditions | "\(.ready) \(.serving) \(.terminating)"')" = "false true true" ]
	k -n ep-term patch pod stay --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
	wait_for 60 counts_are ep-term term "0 0" "0 0 1"
	k delete namespace ep-term --wait=false
}

@test "named ports are resolved per pod: pods without the port are left out of it" {
	k create namespace ep-ports
	k -n ep-ports apply -f - <<'EOF'
apiVersion: v1
kind: Pod
metadata: {name: both, labels: {app: mixed}}
spec:
  containers:
  - name: c
    image: nginx:1.25
    ports: [{name: http, containerPort: 8080}, {name: metrics, containerPort: 9100}]
---
apiVersion: v1
kind: Pod
metadata: {name: httponly, labels: {app: mixed}}
spec:
  containers:
  - name: c
    image: nginx:1.25
    ports: [{name: http, containerPort: 8081}]
---
apiVersion: v1
kind: Service
metadata: {name: mixed}
spec:
  selector: {app: mixed}
  ports:
  - {name: web, port: 80, targetPort: http}
  - {name: metrics, port: 9100, targetPort: metrics}
  - {name: fixed, port: 81, targetPort: 7070}
EOF
	wait_for 90 counts_are ep-ports mixed "2 0" "2 2 2"
	local both http
	both=$(k -n ep-ports get pod both -o jsonpath='{.status.podIP}')
	http=$(k -n ep-ports get pod httponly -o jsonpath='{.status.podIP}')
	run -0 k -n ep-ports get endpoints mixed -o json
	# Like Kubernetes' RepackSubsets: ports reaching the same addresses
	# share a subset. fixed/7070 reaches both pods; web/8080 and
	# metrics/9100 only "both"; web/8081 only "httponly".
	[ "$(json_field "$output" '.subsets | length')" = 3 ]
	subset_ports() {
		json_field "$output" ".subsets[] | select([.addresses[].ip] | sort == ($1 | sort)) | .ports | map(\"\(.name)=\(.port)\") | sort | join(\" \")"
	}
	[ "$(subset_ports "[\"$both\"]")" = "metrics=9100 web=8080" ]
	[ "$(subset_ports "[\"$http\"]")" = "web=8081" ]
	[ "$(subset_ports "[\"$both\", \"$http\"]")" = "fixed=7070" ]
	# Slices: one per distinct port set of a pod.
	run -0 slices_json ep-ports mixed
	[ "$(json_field "$output" ".items[] | select(.endpoints[0].addresses[0] == \"$both\") | .ports | map(\"\(.name)=\(.port)\") | sort | join(\" \")")" = "fixed=7070 metrics=9100 web=8080" ]
	[ "$(json_field "$output" ".items[] | select(.endpoints[0].addresses[0] == \"$http\") | .ports | map(\"\(.name)=\(.port)\") | sort | join(\" \")")" = "fixed=7070 web=8081" ]
	k delete namespace ep-ports --wait=false
}

@test "headless Services list pods with their hostnames and no ports" {
	k create namespace ep-hl
	k -n ep-hl apply -f - <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: hl}
spec:
  clusterIP: None
  selector: {app: hl}
---
apiVersion: v1
kind: Pod
metadata: {name: hl-a, labels: {app: hl}}
spec:
  hostname: alpha
  subdomain: hl
  containers: [{name: c, image: nginx:1.25}]
---
apiVersion: v1
kind: Pod
metadata: {name: hl-b, labels: {app: hl}}
spec:
  containers: [{name: c, image: nginx:1.25}]
EOF
	wait_for 90 counts_are ep-hl hl "2 0" "2 2 1"
	run -0 k -n ep-hl get endpoints hl -o json
	[ "$(json_field "$output" '.metadata.labels["service.kubernetes.io/headless"]')" = "" ]
	[ "$(json_field "$output" '.metadata.labels | has("service.kubernetes.io/headless")')" = true ]
	[ "$(json_field "$output" '.subsets[0].ports // "none"')" = none ]
	[ "$(json_field "$output" '[.subsets[0].addresses[] | select(.targetRef.name == "hl-a") | .hostname] | join(" ")')" = alpha ]
	[ "$(json_field "$output" '[.subsets[0].addresses[] | select(.targetRef.name == "hl-b") | .hostname // "none"] | join(" ")')" = none ]
	run -0 slices_json ep-hl hl
	[ "$(json_field "$output" '.items[0].ports | length')" = 0 ]
	[ "$(json_field "$output" '.items[0].endpoints[] | select(.targetRef.name == "hl-a") | .hostname')" = alpha ]
	[ "$(json_field "$output" '.items[0].metadata.labels | has("service.kubernetes.io/headless")')" = true ]
	k delete namespace ep-hl --wait=false
}

@test "more than 100 pods are split over slices of at most 100" {
	k create namespace ep-big
	deploy ep-big big 105
	service ep-big big big
	wait_for 240 counts_are ep-big big "105 0" "105 105 2"
	run -0 slices_json ep-big big
	[ "$(json_field "$output" '[.items[] | .endpoints | length] | max')" -le 100 ]
	# Every pod exactly once.
	[ "$(json_field "$output" '[.items[].endpoints[].targetRef.uid] | unique | length')" = 105 ]
	k -n ep-big scale deployment big --replicas=40
	wait_for 240 eq "40 0" ep_counts ep-big big
	wait_for 60 eq "40 40" slice_ready_total ep-big big
	k -n ep-big delete service big
	wait_for 60 eq "0 0 0" slice_counts ep-big big
	wait_for 30 gone -n ep-big get endpoints big
	k delete namespace ep-big --wait=false
}

@test "Endpoints of a Service without a selector are left alone" {
	k create namespace ep-manual
	k -n ep-manual apply -f - <<'EOF'
apiVersion: v1
kind: Service
metadata: {name: ext}
spec:
  ports: [{port: 80}]
---
apiVersion: v1
kind: Endpoints
metadata: {name: ext}
subsets:
- addresses: [{ip: 192.0.2.10}]
  ports: [{port: 80}]
EOF
	# A Service with a selector in the same namespace gets synced: by then
	# the selectorless one has been seen too.
	service ep-manual other other
	wait_for 60 k -n ep-manual get endpoints other
	run -0 k -n ep-manual get endpoints ext -o jsonpath='{.subsets[0].addresses[0].ip}'
	[ "$output" = 192.0.2.10 ]
	[ "$(slice_counts ep-manual ext)" = "0 0 0" ]
	k delete namespace ep-manual --wait=false
}

external_ip() {
	k -n "$1" get service "$2" -o jsonpath='{.status.loadBalancer.ingress[0].ip}'
}

has_external_ip() {
	[ -n "$(external_ip "$1" "$2")" ]
}

@test "LoadBalancer Services get an address from the pool, shown as EXTERNAL-IP and freed again" {
	k create namespace ep-lb
	k -n ep-lb create service loadbalancer lb1 --tcp=80:8080
	wait_for 30 has_external_ip ep-lb lb1
	local ip1
	ip1=$(external_ip ep-lb lb1)
	# The pool is 10.44.0.0/29: .1 to .6 (no network or broadcast address).
	[[ "$ip1" =~ ^10\.44\.0\.[1-6]$ ]]
	[ "$(k -n ep-lb get service lb1 -o jsonpath='{.status.loadBalancer.ingress[0].ipMode}')" = VIP ]
	run -0 k -n ep-lb get service lb1
	[[ "$(sed -n 2p <<<"$output" | awk '{ print $2, $4 }')" == "LoadBalancer $ip1" ]]

	# spec.loadBalancerIP is honoured when free and in the pool.
	service ep-lb lb2 lb2 "  type: LoadBalancer
  loadBalancerIP: 10.44.0.5"
	wait_for 30 eq 10.44.0.5 external_ip ep-lb lb2
	# ... and not when outside it, nor when taken.
	service ep-lb lb3 lb3 "  type: LoadBalancer
  loadBalancerIP: 192.0.2.7"
	service ep-lb lb4 lb4 "  type: LoadBalancer
  loadBalancerIP: 10.44.0.5"
	wait_for 30 eq "lb3 lb4" failed_names ep-lb
	[ -z "$(external_ip ep-lb lb3)" ]
	[ -z "$(external_ip ep-lb lb4)" ]
	run -0 k -n ep-lb get service lb3
	[[ "$(sed -n 2p <<<"$output" | awk '{ print $4 }')" == "<pending>" ]]

	# Deleting lb2 frees 10.44.0.5 for lb4, which was waiting for it.
	k -n ep-lb delete service lb2
	wait_for 30 eq 10.44.0.5 external_ip ep-lb lb4

	# Leaving type LoadBalancer clears the status and frees the address.
	k -n ep-lb patch service lb1 --type=merge -p '{"spec":{"type":"ClusterIP"}}'
	wait_for 30 eq "" external_ip ep-lb lb1
	service ep-lb lb5 lb5 "  type: LoadBalancer
  loadBalancerIP: $ip1"
	wait_for 30 eq "$ip1" external_ip ep-lb lb5
}

@test "LoadBalancer addresses survive a restart and the kubernetes endpoints follow the advertised address" {
	has_external_ip ep-lb lb4 && has_external_ip ep-lb lb5 || skip "needs the previous test"
	local before
	before=$(k get services -A -o json | jq -r '[.items[].status.loadBalancer.ingress[]?.ip] | sort | join(" ")')
	restart_server --advertise-address 192.0.2.2 --service-lb-cidr 10.44.0.0/29
	wait_for 30 eq 192.0.2.2 k get endpoints kubernetes -o jsonpath='{.subsets[0].addresses[0].ip}'
	[ "$(k get endpointslice kubernetes -o jsonpath='{.endpoints[0].addresses[0]}')" = 192.0.2.2 ]
	# Four more fill the pool (6 addresses, 2 taken) without reusing any.
	local i
	for i in 6 7 8 9; do
		k -n ep-lb create service loadbalancer "lb$i" --tcp=80:8080
	done
	for i in 6 7 8 9; do
		wait_for 30 has_external_ip ep-lb "lb$i"
	done
	local all
	all=$(k get services -A -o json | jq -r '[.items[].status.loadBalancer.ingress[]?.ip]')
	[ "$(jq 'length' <<<"$all")" = 6 ]
	[ "$(jq 'unique | length' <<<"$all")" = 6 ]
	[ "$(k get services -A -o json | jq -r '[.items[] | select(.metadata.name == "lb4" or .metadata.name == "lb5") | .status.loadBalancer.ingress[]?.ip] | sort | join(" ")')" = "$before" ]
	# The pool is full now.
	k -n ep-lb create service loadbalancer lb10 --tcp=80:8080
	wait_for 30 failed_for ep-lb lb10
	[ -z "$(external_ip ep-lb lb10)" ]
	k delete namespace ep-lb --wait=false
}
