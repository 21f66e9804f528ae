#!/usr/bin/env bats
# What the server does on writes, seen through kubectl and the raw API:
# defaulting, generation, the status subresource, finalizers, dry runs.

bats_require_minimum_version 1.5.0

load helpers

setup_file() {
	start_apiserver
	make_namespace wr
}

teardown_file() {
	cleanup_server
}

@test "kubectl create deployment: defaults RollingUpdate 25%/25%, revisionHistoryLimit 10, progressDeadlineSeconds 600" {
	k -n wr create deployment dflt --image=nginx:1.25
	run -0 k -n wr get deployment dflt -o json
	[ "$(json_field "$output" '.spec.strategy | tojson')" = '{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"},"type":"RollingUpdate"}' ]
	[ "$(json_field "$output" .spec.revisionHistoryLimit)" = 10 ]
	[ "$(json_field "$output" .spec.progressDeadlineSeconds)" = 600 ]
	[ "$(json_field "$output" .spec.replicas)" = 1 ]
	local tpl
	tpl=$(json_field "$output" '.spec.template.spec | [.restartPolicy, .dnsPolicy, (.terminationGracePeriodSeconds | tostring), .schedulerName, .containers[0].imagePullPolicy] | join(" ")')
	[ "$tpl" = "Always ClusterFirst 30 default-scheduler IfNotPresent" ]
	# describe renders the defaulted strategy
	run -0 k -n wr describe deployment dflt
	[[ "$output" == *"StrategyType:           RollingUpdate"* ]]
	[[ "$output" == *"RollingUpdateStrategy:  25% max unavailable, 25% max surge"* ]]
}

@test "kubectl create -f deployment with no replicas and a Recreate strategy: replicas 1, no rollingUpdate added" {
	cat >"$BATS_TEST_TMPDIR/recreate.yaml" <<-EOF
		apiVersion: apps/v1
		kind: Deployment
		metadata: {name: recreate, namespace: wr}
		spec:
		  selector: {matchLabels: {app: recreate}}
		  strategy: {type: Recreate}
		  template:
		    metadata: {labels: {app: recreate}}
		    spec:
		      containers: [{name: app, image: "busybox:1.36"}]
	EOF
	k create -f "$BATS_TEST_TMPDIR/recreate.yaml"
	run -0 k -n wr get deployment recreate -o jsonpath='{.spec.replicas} {.spec.strategy} {.spec.revisionHistoryLimit}'
	[ "$output" = '1 {"type":"Recreate"} 10' ]
}

@test "kubectl run: pod defaults restartPolicy Always, dnsPolicy ClusterFirst, terminationGracePeriodSeconds 30" {
	k -n wr run pdef --image=busybox:1.36
	run -0 k -n wr get pod pdef -o json
	[ "$(json_field "$output" .spec.restartPolicy)" = Always ]
	[ "$(json_field "$output" .spec.dnsPolicy)" = ClusterFirst ]
	[ "$(json_field "$output" .spec.terminationGracePeriodSeconds)" = 30 ]
	[ "$(json_field "$output" .spec.schedulerName)" = default-scheduler ]
	[ "$(json_field "$output" .spec.serviceAccountName)" = default ]
	[ "$(json_field "$output" '.spec.containers[0] | [.terminationMessagePath, .terminationMessagePolicy] | join(" ")')" = "/dev/termination-log File" ]
	[ "$(json_field "$output" .status.phase)" = Pending ]
	[ "$(json_field "$output" .status.qosClass)" = BestEffort ]
}

@test "kubectl create -f pod: imagePullPolicy Always for :latest and untagged images, else IfNotPresent; explicit kept" {
	cat >"$BATS_TEST_TMPDIR/pulls.yaml" <<-EOF
		apiVersion: v1
		kind: Pod
		metadata: {name: pulls, namespace: wr}
		spec:
		  restartPolicy: OnFailure
		  containers:
		  - {name: untagged, image: busybox}
		  - {name: latest, image: "busybox:latest"}
		  - {name: tagged, image: "busybox:1.36"}
		  - {name: regport, image: "localhost:5000/app"}
		  - {name: regporttag, image: "localhost:5000/app:v2"}
		  - {name: digest, image: "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"}
		  - {name: explicit, image: "busybox:latest", imagePullPolicy: Never}
	EOF
	k create -f "$BATS_TEST_TMPDIR/pulls.yaml"
	run -0 k -n wr get pod pulls -o jsonpath='{range .spec.containers[*]}{.name}={.imagePullPolicy} {end}'
	[ "$output" = "untagged=Always latest=Always tagged=IfNotPresent regport=Always regporttag=IfNotPresent digest=IfNotPresent explicit=Never " ]
	run -0 k -n wr get pod pulls -o jsonpath='{.spec.restartPolicy}'
	[ "$output" = OnFailure ]
}

# in_service_cidr IP: true if IP is in 10.43.0.0/16 (and not the network
# or broadcast address).
in_service_cidr() {
	[[ "$1" =~ ^10\.43\.([0-9]+)\.([0-9]+)$ ]] &&
		[ "${BASH_REMATCH[1]}" -le 255 ] && [ "${BASH_REMATCH[2]}" -le 255 ] &&
		[ "$1" != 10.43.0.0 ] && [ "$1" != 10.43.255.255 ]
}

in_node_port_range() {
	[ "$1" -ge 30000 ] && [ "$1" -le 32767 ]
}

@test "kubectl create -f service: type ClusterIP, clusterIP from 10.43.0.0/16, protocol TCP, targetPort = port" {
	cat >"$BATS_TEST_TMPDIR/svc.yaml" <<-EOF
		apiVersion: v1
		kind: Service
		metadata: {name: plain, namespace: wr}
		spec:
		  selector: {app: plain}
		  ports: [{port: 8080}]
	EOF
	k create -f "$BATS_TEST_TMPDIR/svc.yaml"
	run -0 k -n wr get service plain -o json
	local ip
	ip=$(json_field "$output" .spec.clusterIP)
	in_service_cidr "$ip"
	[ "$(json_field "$output" '.spec.clusterIPs | join(",")')" = "$ip" ]
	[ "$(json_field "$output" .spec.type)" = ClusterIP ]
	[ "$(json_field "$output" '.spec.ports[0] | [.port, .protocol, .targetPort] | join(" ")')" = "8080 TCP 8080" ]
	[ "$(json_field "$output" .spec.sessionAffinity)" = None ]
	[ "$(json_field "$output" '.spec.ports[0].nodePort // "none"')" = none ]
	# the kubernetes service holds the first address of the range
	run -0 k -n default get service kubernetes -o jsonpath='{.spec.clusterIP}'
	[ "$output" = 10.43.0.1 ]
	[ "$ip" != 10.43.0.1 ]
	run -0 k -n wr get service plain
	[ "$(printf '%s\n' "$output" | awk '$1 == "plain" { print $2, $3, $5 }')" = "ClusterIP $ip 8080/TCP" ]
}

@test "kubectl expose --type=NodePort: nodePort in 30000-32767, distinct per port, clusterIP in range" {
	k -n wr create deployment exposed --image=nginx:1.25
	k -n wr expose deployment exposed --type=NodePort --port=80 --name=np1
	k -n wr expose deployment exposed --type=NodePort --port=80 --name=np2
	run -0 k -n wr get services np1 np2 -o json
	local p1 p2
	p1=$(json_field "$output" '.items[0].spec.ports[0].nodePort')
	p2=$(json_field "$output" '.items[1].spec.ports[0].nodePort')
	in_node_port_range "$p1"
	in_node_port_range "$p2"
	[ "$p1" != "$p2" ]
	[ "$(json_field "$output" '[.items[].spec.type] | join(",")')" = NodePort,NodePort ]
	[ "$(json_field "$output" '[.items[].spec.ports[0].protocol] | join(",")')" = TCP,TCP ]
	[ "$(json_field "$output" '.items[0].spec.selector | tojson')" = '{"app":"exposed"}' ]
	in_service_cidr "$(json_field "$output" '.items[0].spec.clusterIP')"
	in_service_cidr "$(json_field "$output" '.items[1].spec.clusterIP')"
	run -0 k -n wr get service np1
	[ "$(printf '%s\n' "$output" | awk '$1 == "np1" { print $2, $5 }')" = "NodePort 80:$p1/TCP" ]
}

@test "kubectl label keeps generation; kubectl set image bumps it; annotate keeps it" {
	k -n wr create deployment gen --image=nginx:1.25
	run -0 k -n wr get deployment gen -o jsonpath='{.metadata.generation}'
	[ "$output" = 1 ]
	k -n wr label deployment gen stage=test
	k -n wr annotate deployment gen note=x
	run -0 k -n wr get deployment gen -o jsonpath='{.metadata.generation} {.metadata.labels.stage}'
	[ "$output" = "1 test" ]
	run -0 k -n wr set image deployment/gen nginx=nginx:1.26
	[ "$output" = "deployment.apps/gen image updated" ]
	run -0 k -n wr get deployment gen -o jsonpath='{.metadata.generation} {.spec.template.spec.containers[0].image}'
	[ "$output" = "2 nginx:1.26" ]
	# setting the same image again is a no-op: no new resourceVersion
	local rv
	rv=$(api GET /apis/apps/v1/namespaces/wr/deployments/gen | jq -r .metadata.resourceVersion)
	k -n wr set image deployment/gen nginx=nginx:1.26
	[ "$(api GET /apis/apps/v1/namespaces/wr/deployments/gen | jq -r .metadata.resourceVersion)" = "$rv" ]
	run -0 k -n wr scale deployment gen --replicas=3
	run -0 k -n wr get deployment gen -o jsonpath='{.metadata.generation} {.spec.replicas}'
	[ "$output" = "3 3" ]
}

@test "PUT .../status ignores spec changes; PUT on the main resource ignores status changes" {
	k -n wr create deployment st --image=nginx:1.25
	local obj rv1
	obj=$(api GET /apis/apps/v1/namespaces/wr/deployments/st)
	# status write that also tries to change spec and labels
	run -0 api_json PUT /apis/apps/v1/namespaces/wr/deployments/st/status \
		"$(jq '.status = {"observedGeneration": 1, "replicas": 7} | .spec.replicas = 9 | .metadata.labels.sneaky = "yes"' <<<"$obj")"
	[ "$(reply_code "$output")" = 200 ]
	run -0 api GET /apis/apps/v1/namespaces/wr/deployments/st
	[ "$(json_field "$output" '.status | tojson')" = '{"observedGeneration":1,"replicas":7}' ]
	[ "$(json_field "$output" .spec.replicas)" = 1 ]
	[ "$(json_field "$output" '.metadata.labels.sneaky // "absent"')" = absent ]
	[ "$(json_field "$output" .metadata.generation)" = 1 ]
	rv1=$(json_field "$output" .metadata.resourceVersion)
	# main-resource write that also tries to change status
	run -0 api_json PUT /apis/apps/v1/namespaces/wr/deployments/st \
		"$(jq '.status = {"replicas": 1} | .spec.replicas = 5' <<<"$output")"
	[ "$(reply_code "$output")" = 200 ]
	run -0 k -n wr get deployment st -o json
	[ "$(json_field "$output" '.status | tojson')" = '{"observedGeneration":1,"replicas":7}' ]
	[ "$(json_field "$output" .spec.replicas)" = 5 ]
	[ "$(json_field "$output" .metadata.generation)" = 2 ]
	[ "$(json_field "$output" .metadata.resourceVersion)" -gt "$rv1" ]
	# the same split for pods: status.phase through /status only
	k -n wr run stpod --image=busybox
	obj=$(api GET /api/v1/namespaces/wr/pods/stpod)
	run -0 api_json PUT /api/v1/namespaces/wr/pods/stpod "$(jq '.status.phase = "Running"' <<<"$obj")"
	[ "$(reply_code "$output")" = 200 ]
	[ "$(api GET /api/v1/namespaces/wr/pods/stpod | jq -r .status.phase)" = Pending ]
	run -0 api_json PUT /api/v1/namespaces/wr/pods/stpod/status \
		"$(api GET /api/v1/namespaces/wr/pods/stpod | jq '.status.phase = "Running" | .spec.activeDeadlineSeconds = 5')"
	[ "$(reply_code "$output")" = 200 ]
	run -0 k -n wr get pod stpod -o jsonpath='{.status.phase} {.spec.activeDeadlineSeconds}'
	[ "$output" = "Running " ]
	run -0 k -n wr get pod stpod
	[ "$(printf '%s\n' "$output" | awk '$1 == "stpod" { print $3 }')" = Running ]
}

@test "kubectl delete pod with a finalizer only sets deletionTimestamp (Terminating) until the finalizer is removed" {
	k -n wr run held --image=busybox --overrides='{"metadata":{"finalizers":["example.com/hold"]}}'
	run -0 k -n wr delete pod held --wait=false
	[ "$output" = 'pod "held" deleted' ]
	run -0 k -n wr get pod held -o json
	[ -n "$(json_field "$output" '.metadata.deletionTimestamp // empty')" ]
	[ "$(json_field "$output" '.metadata.finalizers | join(",")')" = example.com/hold ]
	local uid
	uid=$(json_field "$output" .metadata.uid)
	run -0 k -n wr get pod held
	[ "$(printf '%s\n' "$output" | awk '$1 == "held" { print $3 }')" = Terminating ]
	# a second delete changes nothing and does not remove it either
	k -n wr delete pod held --wait=false
	run -0 k -n wr get pod held -o jsonpath='{.metadata.uid}'
	[ "$output" = "$uid" ]
	# removing the finalizer lets the deletion finish
	run -0 k -n wr patch pod held --type json -p '[{"op":"remove","path":"/metadata/finalizers"}]'
	run -1 k -n wr get pod held
	[ "$output" = 'Error from server (NotFound): pods "held" not found' ]
}

@test "kubectl create --dry-run=server: returns the defaulted object but stores nothing" {
	local before
	before=$(list_rv)
	run -0 k -n wr create deployment dry --image=nginx:1.25 --dry-run=server -o json
	[ "$(json_field "$output" .spec.strategy.type)" = RollingUpdate ]
	[ "$(json_field "$output" .metadata.name)" = dry ]
	[ "$(list_rv)" = "$before" ]
	run -1 k -n wr get deployment dry
	[ "$output" = 'Error from server (NotFound): deployments.apps "dry" not found' ]
}
