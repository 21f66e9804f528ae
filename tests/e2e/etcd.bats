#!/usr/bin/env bats
# The etcd v3 datastore backend: a 3-member etcd cluster on loopback, c8s
# servers with --datastore-endpoint etcd://..., resourceVersion = etcd
# revision, writes surviving the loss of the etcd leader, and two API servers
# over one datastore. Skipped when /usr/bin/etcd is absent.

bats_require_minimum_version 1.5.0

load helpers

ETCD=/usr/bin/etcd

# etcd_call N PATH JSON: POST to member N's JSON gateway.
etcd_call() {
	local port
	port=$(sed -n "$1p" "$ETCD_DIR/cports")
	curl -sf --max-time 5 -X POST "http://127.0.0.1:$port/v3/$2" -d "$3"
}

etcd_healthy() {
	local i
	for i in 1 2 3; do
		curl -sf --max-time 2 "http://127.0.0.1:$(sed -n "${i}p" "$ETCD_DIR/cports")/health" |
			grep -q '"health":"true"' || return 1
	done
}

setup_file() {
	[ -x "$ETCD" ] || skip "no $ETCD"
	ETCD_DIR="$(mktemp -d "${BATS_FILE_TMPDIR:-/tmp}/etcd.XXXXXX")"
	export ETCD_DIR
	local i cluster="" cp pp
	for i in 1 2 3; do
		cp=$(free_port)
		pp=$(free_port)
		echo "$cp" >>"$ETCD_DIR/cports"
		echo "$pp" >>"$ETCD_DIR/pports"
		cluster="$cluster${cluster:+,}m$i=http://127.0.0.1:$pp"
	done
	for i in 1 2 3; do
		cp=$(sed -n "${i}p" "$ETCD_DIR/cports")
		pp=$(sed -n "${i}p" "$ETCD_DIR/pports")
		"$ETCD" --name "m$i" --data-dir "$ETCD_DIR/m$i" \
			--listen-client-urls "http://127.0.0.1:$cp" \
			--advertise-client-urls "http://127.0.0.1:$cp" \
			--listen-peer-urls "http://127.0.0.1:$pp" \
			--initial-advertise-peer-urls "http://127.0.0.1:$pp" \
			--initial-cluster "$cluster" --initial-cluster-state new \
			>"$ETCD_DIR/m$i.log" 2>&1 3>&- &
		echo $! >>"$ETCD_DIR/pids"
		disown $!
	done
	wait_for 30 etcd_healthy
	ETCD_EP="etcd://$(sed 's/^/127.0.0.1:/' "$ETCD_DIR/cports" | paste -sd,)"
	export ETCD_EP
	start_server --datastore-endpoint "$ETCD_EP"
}

teardown_file() {
	if [ -n "${C8S2_PID:-}" ] || [ -s "${ETCD_DIR:-/nonexistent}/c8s2.pid" ]; then
		local p
		p=$(cat "$ETCD_DIR/c8s2.pid")
		kill -TERM "$p" 2>/dev/null || true
		wait_pid_gone "$p" 10 || kill -KILL "$p" 2>/dev/null || true
	fi
	cleanup_server
	if [ -n "${ETCD_DIR:-}" ]; then
		local pid
		while read -r pid; do
			kill -TERM "$pid" 2>/dev/null || true
			wait_pid_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
		done <"$ETCD_DIR/pids"
		rm -rf "$ETCD_DIR"
	fi
}

b64() { printf '%s' "$1" | base64 -w0; }

# etcd_mod_rev KEY: the key's mod revision, read from etcd directly.
etcd_mod_rev() {
	local i
	for i in 1 2 3; do
		etcd_call "$i" kv/range "{\"key\":\"$(b64 "$1")\"}" | jq -er '.kvs[0].mod_revision' &&
			return 0
	done
	return 1
}

@test "etcd: kubectl create/get/watch/delete, resourceVersion is the etcd revision" {
	run -0 k create configmap cm1 --from-literal=a=1
	run -0 k get configmap cm1 -o jsonpath='{.metadata.resourceVersion}'
	rv=$output
	run -0 etcd_mod_rev /c8s/registry/configmaps/default/cm1
	[ "$output" = "$rv" ]

	run -0 k patch configmap cm1 -p '{"data":{"a":"2"}}'
	run -0 k get configmap cm1 -o jsonpath='{.metadata.resourceVersion}'
	rv2=$output
	[ "$rv2" -gt "$rv" ]
	run -0 etcd_mod_rev /c8s/registry/configmaps/default/cm1
	[ "$output" = "$rv2" ]

	# a watch from the first version replays the update
	run -0 watch_lines "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv" 1
	echo "$output" | jq -e "select(.type == \"MODIFIED\" and .object.metadata.resourceVersion == \"$rv2\")"

	run -0 k delete configmap cm1
	run -1 etcd_mod_rev /c8s/registry/configmaps/default/cm1
	run -1 k get configmap cm1
}

@test "etcd: writes continue after the etcd leader is killed" {
	local i st leader="" lpid
	for i in 1 2 3; do
		st=$(etcd_call "$i" maintenance/status '{}')
		if [ "$(jq -r .header.member_id <<<"$st")" = "$(jq -r .leader <<<"$st")" ]; then
			leader=$i
		fi
	done
	[ -n "$leader" ]
	run -0 list_rv /api/v1/namespaces/default/configmaps
	rv_before=$output
	lpid=$(sed -n "${leader}p" "$ETCD_DIR/pids")
	kill -KILL "$lpid"
	wait_pid_gone "$lpid" 10
	# the server retries on the other members while they elect a new leader
	run -0 k create configmap after-failover --from-literal=b=1
	run -0 k get configmap after-failover -o jsonpath='{.data.b}'
	[ "$output" = 1 ]
	# the server's own etcd watch stream went on (or reconnected): a watch
	# from before the kill gets the new object
	run -0 watch_lines "/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=$rv_before" 1
	echo "$output" | jq -e 'select(.type == "ADDED" and .object.metadata.name == "after-failover")'
	for i in 1 2 3 4 5; do
		k create configmap "more-$i" --from-literal=i="$i"
	done
	run -0 k get configmaps -o name
	[[ "$output" == *configmap/more-5* ]]
}

@test "etcd: a second API server over the same etcd sees the same objects" {
	local dir2 port2 kc2
	dir2="$C8S_DIR/second"
	port2=$(free_port)
	mkdir -p "$dir2"
	"$C8S_DIR/c8s" server --data-dir "$dir2" --bind-address 127.0.0.1 --secure-port "$port2" \
		--datastore-endpoint "$ETCD_EP" >"$dir2/server.log" 2>&1 3>&- &
	echo $! >"$ETCD_DIR/c8s2.pid"
	disown $!
	wait_for 30 curl -skf --max-time 2 "https://127.0.0.1:$port2/readyz"
	kc2="$dir2/admin.kubeconfig"
	wait_for 20 test -s "$kc2"
	run -0 kubectl --kubeconfig "$kc2" --request-timeout=20s get configmap after-failover \
		-o jsonpath='{.metadata.resourceVersion}'
	rv1=$output
	run -0 k get configmap after-failover -o jsonpath='{.metadata.resourceVersion}'
	[ "$output" = "$rv1" ]
	# a write through the second server is seen by the first
	run -0 kubectl --kubeconfig "$kc2" --request-timeout=20s create configmap from-second
	wait_for 10 k get configmap from-second
}
