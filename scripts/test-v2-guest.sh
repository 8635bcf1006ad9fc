#!/bin/sh
# Runs inside the cgroup v2 VM (see `make test-v2`): the integration and
# oci-validation test binaries, filtered to the tests whose names contain
# "cgroup" (plus the rootless integration tests), then checks that they
# left no cgroup behind. The VM's cgroup tree is fresh, so every directory that was not there before the tests
# was made by them (or by the runtime they drove).
#   usage: test-v2-guest.sh INTEGRATION_EXE OCI_VALIDATION_EXE
set -u
root=/sys/fs/cgroup
before=$(find "$root" -mindepth 1 -type d | sort)
"$1" cgroup --test-threads=1 --show-output; a=$?
# Rootless mode on a pure v2 host (user namespaces, delegated subtrees).
"$1" rootless --skip cgroup --test-threads=1 --show-output || a=1
# checkpoint/restore: CRIU works on the VM's kernel (not on every host's).
"$1" checkpoint --test-threads=1 --show-output || a=1
"$2" cgroup --test-threads=1 --show-output; b=$?
after=$(find "$root" -mindepth 1 -type d | sort)
new=$(printf '%s\n' "$after" | grep -vxF -e "$(printf '%s\n' "$before")" | grep -v '^$')
# The runtime's default parent (/hull, for containers without a
# cgroupsPath) may stay, as runc's parents do, but only empty.
left=$(printf '%s\n' "$new" | grep -vx "$root/hull" | grep -v '^$')
status=0
if [ -n "$left" ]; then
    echo "test-v2: FAILED: cgroups left behind after the tests:" >&2
    printf '  %s\n' $left >&2
    status=1
else
    echo "test-v2: no cgroup left behind ($(printf '%s\n' "$new" | grep -c .) new empty default parent(s): $(echo $new))"
fi
[ "$a" = 0 ] && [ "$b" = 0 ] && [ "$status" = 0 ]
