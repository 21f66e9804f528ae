#!/usr/bin/env bats
# The node agent end to end: a server and an agent in a lab network
# namespace (lab.bash), real kubectl, real containers (crun under conmon),
# images from a loopback registry and from an imported archive.

load helpers
load lab

IMG=c8s.test/busybox:1 # imported from <data-dir>/images at the agent's start

setup_file() {
	if ! why=$(lab_requirements); then
		skip "$why"
	fi
	lab_setup || { lab_teardown; return 1; }
	echo "LAB_ENV=$LAB_ENV" >"$BATS_FILE_TMPDIR/lab"
}

teardown_file() {
	if [ -s "$BATS_FILE_TMPDIR/lab" ]; then
		source "$BATS_FILE_TMPDIR/lab"
		export LAB_ENV
		lab_load
		lab_teardown
	fi
}

setup() {
	source "$BATS_FILE_TMPDIR/lab"
	export LAB_ENV
	lab_load
	REG=127.0.0.1:$LAB_REG_PORT
}

# pod NAME COMMAND [yaml lines for the container...]: a one-container pod
# from the imported image running sh -c COMMAND.
pod() {
	local name=$1 cmd=$2
	shift 2
	{
		cat <<EOY
apiVersion: v1
kind: Pod
metadata: {name: $name}
spec:
  restartPolicy: ${RESTART:-Always}
  terminationGracePeriodSeconds: ${GRACE:-5}
  containers:
  - name: c
    image: $IMG
    imagePullPolicy: IfNotPresent
    command: ["sh", "-c", $(printf '%s' "$cmd" | jq -Rs .)]
EOY
		local l
		for l in "$@"; do printf '    %s\n' "$l"; done
	} | kl apply -f -
}

field() {
	kl get pod "$1" -o jsonpath="$2"
}

@test "the node registers with the machine's capacity, addresses, nodeInfo and a lease" {
	run kl get node lab-node -o json
	[ "$status" -eq 0 ]
	node=$output
	[ "$(jq -r .status.capacity.cpu <<<"$node")" = "$(nproc)" ]
	[ "$(jq -r .status.capacity.pods <<<"$node")" = 110 ]
	mem=$(awk '/MemTotal/ { print $2 }' /proc/meminfo)
	[ "$(jq -r .status.capacity.memory <<<"$node")" = "${mem}Ki" ]
	[ "$(jq -r .status.allocatable.cpu <<<"$node")" = "$(nproc)" ]
	[ "$(jq -r '.status.addresses[] | select(.type=="InternalIP") | .address' <<<"$node")" = "$LAB_NODE_IP" ]
	[ "$(jq -r .status.nodeInfo.kernelVersion <<<"$node")" = "$(uname -r)" ]
	[[ "$(jq -r .status.nodeInfo.containerRuntimeVersion <<<"$node")" == crun* ]]
	[ "$(jq -r .status.nodeInfo.operatingSystem <<<"$node")" = linux ]
	[ "$(jq -r .status.daemonEndpoints.kubeletEndpoint.Port <<<"$node")" = "$LAB_STREAM_PORT" ]
	for c in Ready MemoryPressure DiskPressure PIDPressure; do
		jq -e --arg c "$c" '.status.conditions[] | select(.type==$c)' <<<"$node" >/dev/null
	done
	[ "$(jq -r '.status.conditions[] | select(.type=="Ready") | .status' <<<"$node")" = True ]
	[[ "$(jq -r .spec.podCIDR <<<"$node")" == 10.42.* ]]
	# The imported archive's image is listed.
	jq -e '[.status.images[].names[]] | index("c8s.test/busybox:1")' <<<"$node" >/dev/null
	run kl -n kube-node-lease get lease lab-node -o jsonpath='{.spec.holderIdentity}'
	[ "$output" = lab-node ]
	# The lease is renewed.
	t1=$(kl -n kube-node-lease get lease lab-node -o jsonpath='{.spec.renewTime}')
	sleep 3
	t2=$(kl -n kube-node-lease get lease lab-node -o jsonpath='{.spec.renewTime}')
	[ "$t1" != "$t2" ]
}

@test "a pod runs, gets an IP from the node's pod CIDR, and kubectl logs shows its output" {
	pod hello 'echo hello from $(hostname); sleep 3600'
	lab_wait_phase 60 hello Running
	lab_wait_field 30 hello '{.status.containerStatuses[0].ready}' true
	[[ "$(field hello '{.status.podIP}')" == 10.42.* ]]
	# The network is attached while the container is made: /etc/hosts,
	# bind-mounted before the address was known, names it all the same.
	run kl exec hello -- cat /etc/hosts
	[[ "$output" == *"$(field hello '{.status.podIP}')"$'\t'hello* ]]
	[ "$(field hello '{.status.hostIP}')" = "$LAB_NODE_IP" ]
	[ -n "$(field hello '{.status.startTime}')" ]
	[[ "$(field hello '{.status.containerStatuses[0].containerID}')" == c8s://* ]]
	[ -n "$(field hello '{.status.containerStatuses[0].imageID}')" ]
	[ "$(field hello '{.status.containerStatuses[0].started}')" = true ]
	for c in PodScheduled Initialized ContainersReady Ready; do
		[ "$(field hello "{.status.conditions[?(@.type==\"$c\")].status}")" = True ]
	done
	wait_for 20 sh -c "nsenter --net=/run/netns/$LAB_NS kubectl logs hello | grep -qx 'hello from hello'"
	run lab_events hello
	[[ "$output" == *"Created: Created container c"* ]]
	[[ "$output" == *"Started: Started container c"* ]]
	kl delete pod hello --wait=true
}

@test "an image is pulled from the registry (imagePullPolicy Always)" {
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: pulled}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: "$REG/busybox:1", imagePullPolicy: Always, command: [sleep, "3600"]}
EOY
	lab_wait_phase 60 pulled Running
	run lab_events pulled
	[[ "$output" == *"Pulling: Pulling image \"$REG/busybox:1\""* ]]
	[[ "$output" == *"Pulled: Successfully pulled image"* ]]
	[[ "$(field pulled '{.status.containerStatuses[0].imageID}')" == *"busybox@sha256:"* ]]
	kl delete pod pulled --wait=true
}

@test "imagePullSecrets authenticate to a registry with basic auth" {
	dir=$LAB_DIR/authreg
	mkdir -p "$dir/storage"
	# c8s / s3cret, bcrypt cost 4 (as tests/unit/test_image_registry.c)
	printf '%s\n' 'c8s:$2b$04$7glUe0xcSlxmXp7dNwbaT.T6.B133PKYYFTeHbDkkmeI1CgRGuBje' >"$dir/htpasswd"
	cat >"$dir/config.yml" <<EOC
version: 0.1
log: {level: error}
storage: {filesystem: {rootdirectory: $dir/storage}}
http: {addr: 127.0.0.1:5001}
auth: {htpasswd: {realm: c8s, path: $dir/htpasswd}}
EOC
	nsenter --net="/run/netns/$LAB_NS" docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 3>&- &
	echo $! >>"$LAB_DIR/pids"
	wait_for 20 lab_exec curl -s -o /dev/null http://127.0.0.1:5001/v2/
	HOME=$dir lab_exec skopeo copy -q --dest-tls-verify=false --dest-creds c8s:s3cret \
		"oci:$LAB_IMAGES/layout:1" docker://127.0.0.1:5001/private/busybox:1
	kl create secret docker-registry regcred --docker-server=127.0.0.1:5001 \
		--docker-username=c8s --docker-password=s3cret
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: private}
spec:
  terminationGracePeriodSeconds: 1
  imagePullSecrets: [{name: regcred}]
  containers:
  - {name: c, image: "127.0.0.1:5001/private/busybox:1", command: [sleep, "3600"]}
---
apiVersion: v1
kind: Pod
metadata: {name: nocreds}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: "127.0.0.1:5001/private/busybox:1", imagePullPolicy: Always, command: [sleep, "3600"]}
EOY
	lab_wait_phase 60 private Running
	lab_wait_field 60 nocreds '{.status.containerStatuses[0].state.waiting.reason}' ErrImagePull
	[[ "$(field nocreds '{.status.containerStatuses[0].state.waiting.message}')" == *unauthorized* ]]
	kl delete pod private nocreds --wait=true
}

@test "the pod is reachable at its IP from the node, and through its hostPort" {
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMG
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'mkdir -p /www && echo "hello from \$(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www']
    ports: [{containerPort: 8080, hostPort: 18080}]
    readinessProbe: {tcpSocket: {port: 8080}, periodSeconds: 1}
EOY
	lab_wait_field 60 web '{.status.conditions[?(@.type=="Ready")].status}' True
	ip=$(field web '{.status.podIP}')
	run lab_exec curl -s --max-time 5 "http://$ip:8080/"
	[ "$output" = "hello from web" ]
	run lab_exec curl -s --max-time 5 "http://$LAB_NODE_IP:18080/"
	[ "$output" = "hello from web" ]
	kl delete pod web --wait=true
}

@test "env from configMaps, secrets and the downward API; the termination message" {
	kl create configmap envcm --from-literal=color=blue --from-literal=size=large
	kl create secret generic envsec --from-literal=password=s3cret
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: envpod, labels: {app: envtest}}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: $IMG
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'env | sort; echo bye > /dev/termination-log']
    envFrom:
    - configMapRef: {name: envcm}
      prefix: CM_
    env:
    - {name: PLAIN, value: plain-value}
    - {name: EXPANDED, value: "x-\$(PLAIN)-y"}
    - name: COLOR
      valueFrom: {configMapKeyRef: {name: envcm, key: color}}
    - name: PASSWORD
      valueFrom: {secretKeyRef: {name: envsec, key: password}}
    - name: POD_NAME
      valueFrom: {fieldRef: {fieldPath: metadata.name}}
    - name: POD_NS
      valueFrom: {fieldRef: {fieldPath: metadata.namespace}}
    - name: POD_IP
      valueFrom: {fieldRef: {fieldPath: status.podIP}}
    - name: NODE
      valueFrom: {fieldRef: {fieldPath: spec.nodeName}}
EOY
	lab_wait_phase 60 envpod Succeeded
	ip=$(field envpod '{.status.podIP}')
	run kl logs envpod
	[ "$status" -eq 0 ]
	for want in PLAIN=plain-value EXPANDED=x-plain-value-y COLOR=blue PASSWORD=s3cret \
		POD_NAME=envpod POD_NS=default "POD_IP=$ip" NODE=lab-node CM_color=blue CM_size=large; do
		grep -qx "$want" <<<"$output" || { echo "missing $want in: $output"; false; }
	done
	[ "$(field envpod '{.status.containerStatuses[0].state.terminated.reason}')" = Completed ]
	[ "$(field envpod '{.status.containerStatuses[0].state.terminated.exitCode}')" = 0 ]
	[ "$(field envpod '{.status.containerStatuses[0].state.terminated.message}')" = bye ]
	kl delete pod envpod --wait=true
}

@test "configMap and secret volumes hold their keys" {
	kl create configmap volcm --from-literal=greeting=hi --from-literal=other=x
	kl create secret generic volsec --from-literal=token=abc123
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: volpod}
spec:
  restartPolicy: Never
  containers:
  - name: c
    image: $IMG
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'echo "g=\$(cat /cfg/greeting) o=\$(cat /cfg/other) t=\$(cat /sec/token) i=\$(cat /items/renamed)"']
    volumeMounts:
    - {name: cfg, mountPath: /cfg}
    - {name: sec, mountPath: /sec, readOnly: true}
    - {name: items, mountPath: /items}
  volumes:
  - {name: cfg, configMap: {name: volcm}}
  - {name: sec, secret: {secretName: volsec}}
  - {name: items, configMap: {name: volcm, items: [{key: greeting, path: renamed}]}}
EOY
	lab_wait_phase 60 volpod Succeeded
	run kl logs volpod
	[ "$output" = "g=hi o=x t=abc123 i=hi" ]
	kl delete pod volpod --wait=true
}

@test "init containers run first, in order" {
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: initpod}
spec:
  restartPolicy: Never
  initContainers:
  - {name: one, image: $IMG, imagePullPolicy: IfNotPresent, command: [sh, -c, 'echo one >> /w/log'], volumeMounts: [{name: w, mountPath: /w}]}
  - {name: two, image: $IMG, imagePullPolicy: IfNotPresent, command: [sh, -c, 'sleep 1; echo two >> /w/log'], volumeMounts: [{name: w, mountPath: /w}]}
  containers:
  - {name: app, image: $IMG, imagePullPolicy: IfNotPresent, command: [sh, -c, 'echo app >> /w/log; cat /w/log'], volumeMounts: [{name: w, mountPath: /w}]}
  volumes:
  - {name: w, emptyDir: {}}
EOY
	lab_wait_phase 60 initpod Succeeded
	run kl logs initpod -c app
	[ "$output" = "$(printf 'one\ntwo\napp')" ]
	[ "$(field initpod '{.status.initContainerStatuses[0].state.terminated.reason}')" = Completed ]
	[ "$(field initpod '{.status.initContainerStatuses[1].state.terminated.reason}')" = Completed ]
	[ "$(field initpod '{.status.conditions[?(@.type=="Initialized")].status}')" = True ]
	kl delete pod initpod --wait=true
}

@test "a crashing container is restarted with growing back-off (CrashLoopBackOff)" {
	GRACE=1 pod crasher 'echo crash; exit 3'
	declare -a at
	deadline=$((SECONDS + 120))
	last=0
	while [ $SECONDS -lt $deadline ]; do
		n=$(field crasher '{.status.containerStatuses[0].restartCount}')
		if [ -n "$n" ] && [ "$n" -gt "$last" ]; then
			at[$n]=$SECONDS
			last=$n
			[ "$n" -ge 3 ] && break
		fi
		sleep 0.2
	done
	[ "$last" -ge 3 ]
	# restart 1 at once, then 10 s, then 20 s
	gap2=$((at[2] - at[1]))
	gap3=$((at[3] - at[2]))
	echo "gaps: $gap2 $gap3"
	[ "$gap2" -ge 8 ]
	[ "$gap3" -gt "$gap2" ]
	lab_wait_field 30 crasher '{.status.containerStatuses[0].state.waiting.reason}' CrashLoopBackOff
	[ "$(field crasher '{.status.containerStatuses[0].lastState.terminated.exitCode}')" = 3 ]
	[ "$(field crasher '{.status.containerStatuses[0].lastState.terminated.reason}')" = Error ]
	[ "$(field crasher '{.status.phase}')" = Running ]
	run lab_events crasher
	[[ "$output" == *"BackOff: Back-off restarting failed container c"* ]]
	kl delete pod crasher --wait=true
}

@test "a failing liveness probe restarts the container" {
	GRACE=1 pod live 'touch /tmp/alive; sleep 4; rm /tmp/alive; sleep 3600' \
		'livenessProbe: {exec: {command: [test, -f, /tmp/alive]}, periodSeconds: 1, failureThreshold: 2}'
	lab_wait_field 90 live '{.status.containerStatuses[0].restartCount}' 1
	run lab_events live
	[[ "$output" == *"Unhealthy: Liveness probe failed"* ]]
	[[ "$output" == *"Killing: Container c failed liveness probe, will be restarted"* ]]
	kl delete pod live --wait=true
}

@test "readiness flips the Ready condition" {
	GRACE=1 pod ready 'sleep 3; touch /tmp/ready; sleep 8; rm /tmp/ready; sleep 3600' \
		'readinessProbe: {exec: {command: [test, -f, /tmp/ready]}, periodSeconds: 1}'
	lab_wait_phase 60 ready Running
	[ "$(field ready '{.status.conditions[?(@.type=="Ready")].status}')" = False ]
	lab_wait_field 30 ready '{.status.conditions[?(@.type=="Ready")].status}' True
	[ "$(field ready '{.status.containerStatuses[0].ready}')" = true ]
	lab_wait_field 30 ready '{.status.conditions[?(@.type=="Ready")].status}' False
	[ "$(field ready '{.status.containerStatuses[0].restartCount}')" = 0 ]
	kl delete pod ready --wait=true
}

@test "a memory limit is enforced: OOMKilled with exit code 137" {
	RESTART=Never pod oom 'tail /dev/zero' 'resources: {limits: {memory: 16Mi}}'
	lab_wait_phase 90 oom Failed
	[ "$(field oom '{.status.containerStatuses[0].state.terminated.reason}')" = OOMKilled ]
	[ "$(field oom '{.status.containerStatuses[0].state.terminated.exitCode}')" = 137 ]
	kl delete pod oom --wait=true
}

@test "deletion delivers SIGTERM, runs preStop and honours the grace period" {
	hp=$LAB_DIR/hostpath-term
	mkdir -p "$hp"
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: term}
spec:
  terminationGracePeriodSeconds: 20
  containers:
  - name: c
    image: $IMG
    imagePullPolicy: IfNotPresent
    command: [sh, -c, 'trap "echo got-TERM >> /hp/out; sleep 1; echo clean-exit >> /hp/out; exit 0" TERM; echo started >> /hp/out; while :; do sleep 0.2; done']
    lifecycle:
      preStop: {exec: {command: [sh, -c, 'echo prestop >> /hp/out']}}
    volumeMounts: [{name: hp, mountPath: /hp}]
  volumes:
  - {name: hp, hostPath: {path: "$hp", type: Directory}}
EOY
	lab_wait_phase 60 term Running
	wait_for 20 grep -qx started "$hp/out"
	kl delete pod term --wait=true --timeout=60s
	run cat "$hp/out"
	echo "$output"
	[ "$output" = "$(printf 'started\nprestop\ngot-TERM\nclean-exit')" ]
	# A container that ignores SIGTERM is killed when the grace period ends.
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: stubborn}
spec:
  terminationGracePeriodSeconds: 4
  containers:
  - {name: c, image: $IMG, imagePullPolicy: IfNotPresent, command: [sh, -c, 'trap "" TERM; while :; do sleep 0.2; done']}
EOY
	lab_wait_phase 60 stubborn Running
	t0=$SECONDS
	kl delete pod stubborn --wait=true --timeout=60s
	took=$((SECONDS - t0))
	echo "took $took s"
	[ "$took" -ge 3 ]
	[ "$took" -le 20 ]
}

@test "a missing image shows ErrImagePull, then ImagePullBackOff, with the registry's message" {
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: "$REG/does-not-exist:1", imagePullPolicy: Always}
EOY
	lab_wait_field 60 noimage '{.status.containerStatuses[0].state.waiting.reason}' ErrImagePull
	[[ "$(field noimage '{.status.containerStatuses[0].state.waiting.message}')" == *"name unknown"* ]] ||
		[[ "$(field noimage '{.status.containerStatuses[0].state.waiting.message}')" == *"unknown"* ]]
	lab_wait_field 30 noimage '{.status.containerStatuses[0].state.waiting.reason}' ImagePullBackOff
	[ "$(field noimage '{.status.phase}')" = Pending ]
	run lab_events noimage
	[[ "$output" == *"Failed: Failed to pull image \"$REG/does-not-exist:1\""* ]]
	[[ "$output" == *"BackOff: Back-off pulling image"* ]]
	kl delete pod noimage --wait=true
}

@test "restarting the agent keeps containers running and status right" {
	GRACE=1 pod survivor 'echo up; sleep 3600'
	lab_wait_phase 60 survivor Running
	cid=$(field survivor '{.status.containerStatuses[0].containerID}')
	uid=$(kl get pod survivor -o jsonpath='{.metadata.uid}')
	apid=$(cat "$LAB_DIR/agent.pid")
	before=$(lab_container_pids | wc -l)
	[ "$before" -ge 1 ]
	lab_stop_agent
	# The container and its conmon outlive the agent.
	[ "$(lab_container_pids | wc -l)" -eq "$before" ]
	! pid_alive "$apid"
	lab_start_agent
	[ "$(cat "$LAB_DIR/agent.pid")" != "$apid" ]
	sleep 5
	pid_alive "$(cat "$LAB_DIR/agent.pid")"
	grep -q "adopted 1 pod" "$LAB_DIR/agent.log"
	[ "$(field survivor '{.status.phase}')" = Running ]
	[ "$(field survivor '{.status.containerStatuses[0].containerID}')" = "$cid" ]
	[ "$(field survivor '{.status.containerStatuses[0].restartCount}')" = 0 ]
	[ "$(field survivor '{.status.conditions[?(@.type=="Ready")].status}')" = True ]
	run kl logs survivor
	[ "$output" = up ]
	# ... and it still manages the pod.
	kl delete pod survivor --wait=true --timeout=60s
	[ ! -e "$LAB_ROOT/pods/$uid" ]
	[ ! -e "$LAB_ROOT/ns/$uid" ]
}

@test "after a reboot (run state and containers gone) the pod is recreated with restartCount up" {
	GRACE=1 pod rebooted 'echo boot; sleep 3600'
	lab_wait_phase 60 rebooted Running
	cid=$(field rebooted '{.status.containerStatuses[0].containerID}')
	lab_stop_agent
	# What a reboot does to a node: every process and mount under /run is gone.
	for pid in $(lab_container_pids); do kill -KILL "$pid"; done
	for f in "$LAB_ROOT"/containers/persist/*/conmon.pid; do
		[ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null || true
	done
	sleep 1
	awk '{ print $5 }' /proc/self/mountinfo | grep "^$LAB_ROOT/" | sort -r |
		while read -r m; do umount -l "$m"; done
	rm -rf "$LAB_ROOT"
	lab_start_agent
	lab_wait_field 60 rebooted '{.status.containerStatuses[0].restartCount}' 1
	lab_wait_phase 30 rebooted Running
	lab_wait_field 30 rebooted '{.status.containerStatuses[0].state.running.startedAt}' \
		"$(field rebooted '{.status.containerStatuses[0].state.running.startedAt}')"
	[ "$(field rebooted '{.status.containerStatuses[0].containerID}')" != "$cid" ]
	[ "$(field rebooted '{.status.conditions[?(@.type=="Ready")].status}')" = True ]
	kl delete pod rebooted --wait=true --timeout=60s
}

@test "bad input is refused with a clear status and event: subPath with .., missing hostPath, huge env" {
	# The API refuses a subPath with ..; a subPathExpr gets it from the env.
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: badsubpath}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMG
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    env: [{name: DIR, value: "a/../../../etc"}]
    volumeMounts: [{name: v, mountPath: /v, subPathExpr: "\$(DIR)"}]
  volumes: [{name: v, emptyDir: {}}]
EOY
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: badhostpath}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: $IMG, imagePullPolicy: IfNotPresent, command: [sleep, "3600"], volumeMounts: [{name: v, mountPath: /v}]}
  volumes: [{name: v, hostPath: {path: /nonexistent/c8s-test-path}}]
EOY
	big=$(head -c 1100000 /dev/zero | tr '\0' x)
	# create, not apply: apply would copy the value into an annotation
	kl create -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: hugeenv}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - name: c
    image: $IMG
    imagePullPolicy: IfNotPresent
    command: [sleep, "3600"]
    env: [{name: BIG, value: "$big"}]
EOY
	for p in badsubpath badhostpath hugeenv; do
		deadline=$((SECONDS + 60))
		until r=$(field $p '{.status.containerStatuses[0].state.waiting.reason}') &&
			[[ "$r" == Create* || "$r" == ContainerCreating && -n "$(field $p '{.status.containerStatuses[0].state.waiting.message}')" ]]; do
			[ $SECONDS -lt $deadline ] || { kl get pod $p -o yaml; lab_events $p; false; }
			sleep 0.5
		done
		msg=$(field $p '{.status.containerStatuses[0].state.waiting.message}')
		echo "$p: $r: $msg"
		[ -n "$msg" ]
		[ "$(field $p '{.status.phase}')" = Pending ]
		run lab_events $p
		[[ "$output" == *Failed* ]]
	done
	[[ "$(field badsubpath '{.status.containerStatuses[0].state.waiting.message}')" == *subPath* ]]
	[[ "$(field hugeenv '{.status.containerStatuses[0].state.waiting.message}')" == *env* ]]
	[ ! -e /nonexistent/c8s-test-path ]
	kl delete pod badsubpath badhostpath hugeenv --wait=true
}

@test "an image whose layer escapes its directory is refused" {
	# An OCI image whose only layer holds ../escaped-by-layer.
	work=$LAB_DIR/evil
	mkdir -p "$work"
	python3 - "$work" <<'EOP'
import hashlib, io, json, os, sys, tarfile
d = sys.argv[1]
os.makedirs(f"{d}/layout/blobs/sha256", exist_ok=True)
def blob(data):
    h = hashlib.sha256(data).hexdigest()
    open(f"{d}/layout/blobs/sha256/{h}", "wb").write(data)
    return "sha256:" + h
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    data = b"pwned\n"
    ti = tarfile.TarInfo("../escaped-by-layer"); ti.size = len(data)
    t.addfile(ti, io.BytesIO(data))
layer = buf.getvalue()
ld = blob(layer)
cfg = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Cmd": ["/bin/sh"]},
                  "rootfs": {"type": "layers", "diff_ids": [ld]}}).encode()
cd = blob(cfg)
man = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(cfg)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": ld, "size": len(layer)}]}).encode()
md = blob(man)
json.dump({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json",
    "digest": md, "size": len(man), "annotations": {"org.opencontainers.image.ref.name": "1"}}]},
    open(f"{d}/layout/index.json", "w"))
open(f"{d}/layout/oci-layout", "w").write('{"imageLayoutVersion": "1.0.0"}')
EOP
	lab_exec "$C8S_ROOT/tests/images/registry.sh" push "$LAB_DIR/registry" "$LAB_REG_PORT" \
		"$work/layout" 1 evil:1
	kl apply -f - <<EOY
apiVersion: v1
kind: Pod
metadata: {name: evil}
spec:
  terminationGracePeriodSeconds: 1
  containers:
  - {name: c, image: "$REG/evil:1", imagePullPolicy: IfNotPresent}
EOY
	lab_wait_field 60 evil '{.status.containerStatuses[0].state.waiting.reason}' CreateContainerError
	msg=$(field evil '{.status.containerStatuses[0].state.waiting.message}')
	echo "$msg"
	[[ "$msg" == *escaped-by-layer* ]]
	run lab_events evil
	[[ "$output" == *"Failed: Error: "*escaped-by-layer* ]]
	[ -z "$(find "$LAB_DATA" -name escaped-by-layer)" ]
	[ ! -e "$LAB_DATA/images/escaped-by-layer" ]
	kl delete pod evil --wait=true
}
