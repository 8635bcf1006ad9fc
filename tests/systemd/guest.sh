#!/bin/sh
# Runs in systemd's namespaces inside the VM (boot-systemd.sh): the
# systemd driver's integration tests, then containerd with
# SystemdCgroup = true driving hull, when containerd is installed.
#   usage: guest.sh INTEGRATION_EXE HULL_BINARY SHARED_ENGINES_DIR
set -u
exe=$1 hull=$2 engines=$3
here=$(dirname "$(readlink -f "$0")")
HULL_REQUIRE_SYSTEMD=1 "$exe" systemd_driver --test-threads=1
a=$?
b=0
if command -v containerd >/dev/null && command -v ctr >/dev/null &&
    command -v containerd-shim-runc-v2 >/dev/null && [ -f "$engines/lib/smoke-common.sh" ]; then
    bash "$here/containerd-systemd.sh" "$hull" "$engines"
    b=$?
else
    echo "containerd-systemd: SKIPPED: containerd, ctr, containerd-shim-runc-v2 or $engines/lib/smoke-common.sh is missing (make engines-test installs the engines)"
fi
[ "$a" = 0 ] && [ "$b" = 0 ]
