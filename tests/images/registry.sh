#!/bin/sh
# A local OCI registry for tests (Debian docker-registry), on loopback only.
#   registry.sh start DIR PORT   -> starts it, prints its PID, writes DIR/pid
#   registry.sh push DIR PORT LAYOUT TAG NAME:TAG  -> pushes an image from an OCI layout
#   registry.sh stop DIR         -> stops the one started in DIR (by PID)
set -eu
cmd=${1:?usage}
dir=${2:?usage}
case "$cmd" in
start)
	port=${3:?usage}
	mkdir -p "$dir/storage"
	cat >"$dir/config.yml" <<EOC
version: 0.1
log:
  level: error
storage:
  filesystem:
    rootdirectory: $dir/storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
EOC
	docker-registry serve "$dir/config.yml" >"$dir/registry.log" 2>&1 &
	echo $! >"$dir/pid"
	i=0
	until curl -sf "http://127.0.0.1:$port/v2/" >/dev/null 2>&1; do
		i=$((i + 1))
		[ $i -lt 100 ] || { echo "registry did not start" >&2; exit 1; }
		sleep 0.1
	done
	cat "$dir/pid"
	;;
push)
	port=${3:?usage}
	layout=${4:?usage}
	tag=${5:?usage}
	name=${6:?usage}
	HOME=$dir skopeo copy -q --dest-tls-verify=false "oci:$layout:$tag" "docker://127.0.0.1:$port/$name"
	;;
stop)
	if [ -f "$dir/pid" ]; then
		kill "$(cat "$dir/pid")" 2>/dev/null || true
		rm -f "$dir/pid"
	fi
	;;
*)
	echo "usage: registry.sh start|push|stop ..." >&2
	exit 2
	;;
esac
