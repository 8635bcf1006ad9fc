#!/bin/sh
# Runs inside the cgroup v2 VM (make engines-test-v2): the root containerd
# and podman smokes and the rootless podman smoke (with a user cgroup the
# smoke delegates itself, as there is no systemd in the VM), in one boot. State goes to the VM's own /run (tmpfs).
#   usage: v2-guest.sh HULL
set -u
here=$(dirname "$(readlink -f "$0")")
export SMOKE_TMPDIR=/run/engines-smoke
mkdir -p "$SMOKE_TMPDIR"
# TCG emulation is 20-40x slower than the host: more time per engine command
export SMOKE_TIMEOUT=${SMOKE_TIMEOUT:-300}
# Each engine command is 20-40x slower under TCG, so runc is not run as the
# control here (ENGINES_CONTROL=/usr/sbin/runc does); the one check that
# fails with runc too in this VM is named: podman's slirp4netns network needs
# /dev/net/tun, which the VM has not.
export ENGINES_CONTROL=${ENGINES_CONTROL:-none}
export SMOKE_KNOWN_ENV_FAILURES=${SMOKE_KNOWN_ENV_FAILURES:-slirp4netns}
exec "$here/run-all" "$1" rootless-podman-smoke containerd-smoke podman-smoke
