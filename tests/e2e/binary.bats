#!/usr/bin/env bats
# Properties of the c8s binary itself.

load helpers

# Static thread-local storage is allocated and zeroed in every thread of the
# process; the API server runs about a hundred (docs/ARCHITECTURE.md,
# Conventions). A large _Thread_local buffer once cost it 21 MiB of RSS.
@test "the binary carries under 4 KiB of thread-local storage per thread" {
	local size
	[ -x "$C8S_BIN" ]
	size=$(readelf -lW "$C8S_BIN" | awk '$1 == "TLS" { print $6 }')
	size=${size:-0} # none at all
	echo "TLS segment: $size bytes"
	[ $((size)) -lt 4096 ]
}
