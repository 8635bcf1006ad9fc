#!/bin/sh
# Runs inside the cgroup v2 VM (make engines-test-v2): the root containerd
# and podman smokes and the rootless podman smoke (with a user cgroup the
# smoke delegates itself, as there is no systemd in the VM), hull and runc
# side by side, in one boot. State goes to the VM's own /run (tmpfs).
#   usage: v2-guest.sh HULL
set -u
here=$(dirname "$(readlink -f "$0")")
export SMOKE_TMPDIR=/run/engines-smoke
mkdir -p "$SMOKE_TMPDIR"
# TCG emulation is 20-40x slower than the host: more time per engine command
export SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-300}
exec "$here/run-all" "$1" containerd-smoke podman-smoke rootless-podman-smoke
