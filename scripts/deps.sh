#!/bin/sh
# Install every Debian package c8s needs to build, test and run.
# Idempotent: packages already present are left alone; apt-get update runs
# only when something is missing.
set -eu

PACKAGES="
build-essential pkg-config clang-format
libmicrohttpd-dev libjansson-dev libyaml-dev libsqlite3-dev libgnutls28-dev
libcurl4-openssl-dev libarchive-dev libnftables-dev zlib1g-dev
libcmocka-dev bats curl jq sqlite3 python3 python3-kubernetes
crun runc conmon containernetworking-plugins busybox-static dnsutils openssl util-linux
skopeo umoci docker-registry nftables iproute2 etcd-server etcd-client
"

missing=""
for p in $PACKAGES; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done

if [ -n "$missing" ]; then
	echo "deps: installing:$missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	# shellcheck disable=SC2086
	apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

# The kubectl these tests drive is the one installed on the machine (v1.32).
if ! command -v kubectl >/dev/null 2>&1; then
	echo "deps: kubectl (v1.32) is not installed; the end-to-end tests need it" >&2
	exit 1
fi
echo "deps: all packages present"
