# A lab for node agent tests: a network namespace with no default route
# (only lo and a veth pair, "node0" holding the node's address), in which a c8s
# server, a c8s agent, a loopback registry and kubectl run. Processes enter
# it with nsenter --net only (not `ip netns exec`, whose private mount
# namespace and fresh /sys would hide the cgroup mounts from the runtime and
# the agent's mounts from the host). Everything the lab makes is recorded
# under $LAB_DIR so that lab_teardown can undo it even after a failure:
# processes by PID, mounts under the agent's directories, the pods'
# cgroups, the namespace.
#
# Use: source helpers.bash and lab.bash; lab_setup in setup_file, lab_load
# in setup, lab_teardown in teardown_file.

LAB_NODE_IP=10.250.0.1

lab_save() {
	declare -p LAB_DIR LAB_NS LAB_CG LAB_ROOT LAB_DATA LAB_PORT LAB_REG_PORT LAB_STREAM_PORT \
		LAB_IMAGES LAB_BIN | sed 's/^declare /declare -g /' >"$LAB_DIR/env"
}

lab_load() {
	# shellcheck disable=SC1090
	[ -n "${LAB_ENV:-}" ] && [ -s "$LAB_ENV" ] && source "$LAB_ENV"
	export KUBECONFIG="$LAB_DIR/server/admin.kubeconfig"
	export KUBECACHEDIR="$LAB_DIR/kubecache"
}

lab_exec() {
	nsenter --net="/run/netns/$LAB_NS" "$@"
}

kl() {
	lab_exec kubectl --request-timeout=30s "$@"
}

lab_requirements() {
	[ "$(id -u)" = 0 ] || { echo "needs root"; return 1; }
	local b
	for b in crun conmon docker-registry skopeo umoci kubectl nsenter ip; do
		command -v "$b" >/dev/null || { echo "needs $b"; return 1; }
	done
	[ -x /usr/lib/cni/bridge ] || { echo "needs containernetworking-plugins"; return 1; }
}

# lab_setup [with-agent]: namespace, images, registry, server, agent (or a
# server running the agent in its process); waits for the node.
lab_setup() {
	LAB_DIR=$(mktemp -d /tmp/c8s-lab.XXXXXX)
	export LAB_ENV=$LAB_DIR/env
	LAB_NS=c8s-lab-$$
	LAB_CG=/c8s-lab-$$
	LAB_ROOT=/run/c8s-lab-$$
	LAB_DATA=$LAB_DIR/agent
	LAB_IMAGES=$LAB_DIR/images
	LAB_PORT=6443
	LAB_REG_PORT=5000
	LAB_STREAM_PORT=10250
	LAB_BIN=$LAB_DIR/c8s
	lab_save
	export KUBECONFIG="$LAB_DIR/server/admin.kubeconfig"
	export KUBECACHEDIR="$LAB_DIR/kubecache"
	cp "$C8S_BIN" "$LAB_BIN"
	ip netns add "$LAB_NS"
	ip -n "$LAB_NS" link set lo up
	ip -n "$LAB_NS" link add node0 type veth peer name node0p
	ip -n "$LAB_NS" link set node0p up
	ip -n "$LAB_NS" addr add "$LAB_NODE_IP/24" dev node0
	ip -n "$LAB_NS" link set node0 up
	lab_exec sysctl -qw net.ipv4.ip_forward=1

	"$C8S_ROOT/tests/images/build.sh" "$LAB_IMAGES" >/dev/null
	mkdir -p "$LAB_DIR/registry" "$LAB_DATA/images"
	lab_exec "$C8S_ROOT/tests/images/registry.sh" start "$LAB_DIR/registry" "$LAB_REG_PORT" >/dev/null
	cat "$LAB_DIR/registry/pid" >>"$LAB_DIR/pids"
	lab_exec "$C8S_ROOT/tests/images/registry.sh" push "$LAB_DIR/registry" "$LAB_REG_PORT" \
		"$LAB_IMAGES/layout" 1 busybox:1
	# The same image, imported from an archive at the agent's start.
	cp "$LAB_IMAGES/busybox-oci.tar" "$LAB_DATA/images/"

	if [ "${1:-}" = with-agent ]; then
		# One process: the server runs the agent (c8s server --with-agent),
		# with runc (the separate agent uses crun).
		lab_start_server --with-agent --runtime runc --node-name lab-node --node-ip "$LAB_NODE_IP" \
			--agent-data-dir "$LAB_DATA" --agent-root-dir "$LAB_ROOT" \
			--cgroup-root "$LAB_CG" --stream-port "$LAB_STREAM_PORT" \
			--insecure-registry "127.0.0.1:$LAB_REG_PORT"
	else
		lab_start_server
		lab_start_agent
	fi
	wait_for 60 lab_node_ready
}

# lab_start_server [flags...]
lab_start_server() {
	# nsenter execs the program: $! is the server's PID.
	nsenter --net="/run/netns/$LAB_NS" "$LAB_BIN" server --data-dir "$LAB_DIR/server" \
		--bind-address 127.0.0.1 --secure-port "$LAB_PORT" "$@" \
		>>"$LAB_DIR/server.log" 2>&1 3>&- &
	echo $! >"$LAB_DIR/server.pid"
	echo $! >>"$LAB_DIR/pids"
	disown $! 2>/dev/null || true
	wait_for 30 lab_exec curl -skf --max-time 2 "https://127.0.0.1:$LAB_PORT/readyz"
	wait_for 30 test -s "$LAB_DIR/server/node-token"
}

# lab_start_agent [flags...]
lab_start_agent() {
	nsenter --net="/run/netns/$LAB_NS" "$LAB_BIN" agent --server "https://127.0.0.1:$LAB_PORT" \
		--token "$(cat "$LAB_DIR/server/node-token")" --node-name lab-node \
		--node-ip "$LAB_NODE_IP" --data-dir "$LAB_DATA" --root-dir "$LAB_ROOT" \
		--cgroup-root "$LAB_CG" --stream-port "$LAB_STREAM_PORT" \
		--insecure-registry "127.0.0.1:$LAB_REG_PORT" -v 1 "$@" \
		>>"$LAB_DIR/agent.log" 2>&1 3>&- &
	echo $! >"$LAB_DIR/agent.pid"
	echo $! >>"$LAB_DIR/pids"
	disown $! 2>/dev/null || true
}

lab_stop_agent() {
	local pid
	pid=$(cat "$LAB_DIR/agent.pid" 2>/dev/null) || return 0
	if pid_alive "$pid"; then
		kill -TERM "$pid"
		wait_pid_gone "$pid" 20 || { kill -KILL "$pid"; wait_pid_gone "$pid" 5; }
	fi
	rm -f "$LAB_DIR/agent.pid"
}

lab_node_ready() {
	kl get node lab-node -o jsonpath='{.status.conditions[?(@.type=="Ready")].status}' |
		grep -qx True &&
		[ -n "$(kl get node lab-node -o jsonpath='{.spec.podCIDR}')" ]
}

# The PIDs of every process in the lab's cgroups (the containers).
lab_container_pids() {
	local f
	for f in /sys/fs/cgroup/*"$LAB_CG"/ /sys/fs/cgroup/*/"$LAB_CG"/; do
		[ -d "$f" ] || continue
		find "$f" -name cgroup.procs -exec cat {} + 2>/dev/null
	done | sort -u
}

lab_teardown() {
	[ -n "${LAB_DIR:-}" ] && [ -d "$LAB_DIR" ] || return 0
	local pid f m i
	lab_stop_agent || true
	# Containers and their conmons (by PID: ours only).
	for pid in $(lab_container_pids); do kill -KILL "$pid" 2>/dev/null || true; done
	for f in "$LAB_ROOT"/containers/persist/*/conmon.pid; do
		[ -s "$f" ] && kill -KILL "$(cat "$f")" 2>/dev/null || true
	done
	if [ -s "$LAB_DIR/pids" ]; then
		while read -r pid; do
			pid_alive "$pid" || continue
			kill -TERM "$pid" 2>/dev/null || true
			wait_pid_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
		done <"$LAB_DIR/pids"
	fi
	# Mounts under the agent's directories, deepest first.
	for i in 1 2 3; do
		awk '{ print $5 }' /proc/self/mountinfo | grep -E "^($LAB_ROOT|$LAB_DIR)/" |
			sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
	done
	# The pods' cgroups.
	for i in 1 2 3; do
		for pid in $(lab_container_pids); do kill -KILL "$pid" 2>/dev/null || true; done
		for f in /sys/fs/cgroup/*"$LAB_CG" /sys/fs/cgroup/*/"$LAB_CG"; do
			[ -d "$f" ] && find "$f" -depth -type d -exec rmdir {} + 2>/dev/null
		done
		sleep 0.2
	done
	ip netns del "$LAB_NS" 2>/dev/null || true
	rm -rf "$LAB_ROOT"
	if [ -z "${LAB_KEEP:-}" ]; then
		rm -rf "$LAB_DIR"
	else
		echo "lab kept in $LAB_DIR" >&3
	fi
}

# lab_wait_pod TIMEOUT NAME JSONPATH VALUE: poll until the pod's field is VALUE.
lab_wait_field() {
	local timeout=$1 name=$2 path=$3 want=$4
	local deadline=$((SECONDS + timeout)) got
	while :; do
		got=$(kl get pod "$name" -o jsonpath="$path" 2>/dev/null) || got=
		[ "$got" = "$want" ] && return 0
		if [ $SECONDS -ge $deadline ]; then
			echo "pod $name: $path is '$got', not '$want' after ${timeout}s" >&2
			kl get pod "$name" -o yaml >&2 || true
			kl get events --field-selector involvedObject.name="$name" >&2 || true
			tail -n 30 "$LAB_DIR/agent.log" >&2
			return 1
		fi
		sleep 0.3
	done
}

lab_wait_phase() {
	lab_wait_field "$1" "$2" '{.status.phase}' "$3"
}

# lab_events NAME: the reasons and messages of the pod's events.
lab_events() {
	kl get events --field-selector "involvedObject.name=$1" \
		-o jsonpath='{range .items[*]}{.reason}: {.message}{"\n"}{end}'
}
