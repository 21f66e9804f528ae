#!/bin/sh
# Build the test images from Debian's busybox-static, without Docker:
#   OUT/layout            OCI image layout with tags busybox:1 and busybox:latest
#   OUT/busybox-docker.tar  docker-archive of c8s.test/busybox:1
#   OUT/busybox-oci.tar     oci-archive of c8s.test/busybox:1
# Usage: tests/images/build.sh OUT
set -eu
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

root=$work/rootfs
mkdir -p "$root/bin" "$root/etc" "$root/tmp" "$root/root" "$root/proc" "$root/sys" "$root/dev"
chmod 1777 "$root/tmp"
cp /bin/busybox "$root/bin/busybox"
for applet in $(/bin/busybox --list-full); do
	case "$applet" in bin/busybox) continue ;; esac
	mkdir -p "$root/$(dirname "$applet")"
	ln -sf /bin/busybox "$root/$applet"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n' >"$root/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
printf '127.0.0.1 localhost\n' >"$root/etc/hosts"
printf 'hosts: files dns\n' >"$root/etc/nsswitch.conf"
: >"$root/etc/resolv.conf"

# skopeo and umoci keep caches under /var/lib/containers and $HOME: keep them here.
export HOME=$work/home
mkdir -p "$HOME"
layout=$out/layout
rm -rf "$layout"
umoci init --layout "$layout" >/dev/null
umoci new --image "$layout:busybox" >/dev/null
umoci unpack --rootless --image "$layout:busybox" "$work/bundle" >/dev/null 2>&1 ||
	umoci unpack --image "$layout:busybox" "$work/bundle" >/dev/null
cp -a "$root/." "$work/bundle/rootfs/"
umoci repack --image "$layout:busybox" "$work/bundle" >/dev/null
umoci config --image "$layout:busybox" --tag 1 \
	--config.cmd /bin/sh --config.env PATH=/usr/sbin:/usr/bin:/sbin:/bin \
	--config.workingdir / >/dev/null
umoci tag --image "$layout:1" latest >/dev/null
umoci rm --image "$layout:busybox" >/dev/null
umoci gc --layout "$layout" >/dev/null

sk="skopeo --override-os linux --override-arch amd64"
rm -f "$out/busybox-docker.tar" "$out/busybox-oci.tar"
$sk copy -q "oci:$layout:1" "docker-archive:$out/busybox-docker.tar:c8s.test/busybox:1"
$sk copy -q "oci:$layout:1" "oci-archive:$out/busybox-oci.tar:c8s.test/busybox:1"
echo "$out"
