#!/bin/bash
# containerd's runc-v2 shim with SystemdCgroup = true (ctr's
# --runc-systemd-cgroup sets that shim option) driving hull: run inside
# systemd's namespaces by boot-systemd.sh. Checks that the container lands
# in the scope unit of its slice:prefix:name path with its memory limit,
# that exec and kill work, and that the unit is gone after the task and
# container are removed.
#   usage: containerd-systemd.sh HULL_BINARY SHARED_ENGINES_DIR
# Prints one line per check and "N passed, N failed"; exit 0 when all pass.
set -u
HULL=$1
ENGINES=$2
# shellcheck source=/dev/null
. "$ENGINES/lib/smoke-common.sh"
pass=0 fail=0
ok() { echo "ok - $*"; pass=$((pass + 1)); }
notok() { echo "not ok - $*"; fail=$((fail + 1)); }
check() { # DESC COMMAND...
    local d=$1; shift
    if "$@"; then ok "$d"; else notok "$d"; fi
}
TMP=$(mktemp -d /tmp/ctrd-systemd.XXXXXX)
SOCK=$TMP/containerd.sock
NS=sdsmoke
IMG=localhost/smoke/busybox:latest
ID=sdsmoke-$$
UNIT=ctrsmoke-$ID.scope
mkdir -p "$TMP/root" "$TMP/state" "$TMP/opt" "$TMP/runtime-root" "$TMP/fifo"
cat >"$TMP/config.toml" <<CFG
version = 2
root = "$TMP/root"
state = "$TMP/state"
disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.zfs"]
[grpc]
  address = "$SOCK"
[ttrpc]
  address = "$SOCK.ttrpc"
[plugins]
  [plugins."io.containerd.internal.v1.opt"]
    path = "$TMP/opt"
CFG
containerd --config "$TMP/config.toml" >"$TMP/containerd.log" 2>&1 &
ctrd=$!
cleanup() {
    ctr -a "$SOCK" -n "$NS" task kill -s KILL "$ID" >/dev/null 2>&1
    ctr -a "$SOCK" -n "$NS" task rm -f "$ID" >/dev/null 2>&1
    ctr -a "$SOCK" -n "$NS" container rm "$ID" >/dev/null 2>&1
    kill -TERM "$ctrd" 2>/dev/null
    wait "$ctrd" 2>/dev/null
    smoke_umount_under "$TMP" >/dev/null 2>&1
    rm -rf --one-file-system "$TMP"
}
trap cleanup EXIT
CTR=(timeout -k 5 180 ctr -a "$SOCK" -n "$NS")
echo "# containerd $(containerd --version | awk '{print $3}') started; waiting for its socket"
up=
deadline=$(($(date +%s) + 180))
while [ "$(date +%s)" -lt "$deadline" ]; do
    if timeout -k 2 20 ctr -a "$SOCK" version >/dev/null 2>&1; then up=1; break; fi
    kill -0 "$ctrd" 2>/dev/null || break
    sleep 0.5
done
if [ -z "$up" ]; then
    echo "# containerd did not answer within 180 s; its log:"
    tail -30 "$TMP/containerd.log" | sed 's/^/# /'
    echo "containerd-systemd: 0 passed, 1 failed"; exit 1
fi
echo "# containerd answers"
smoke_build_rootfs "$TMP/rootfs" && smoke_rootfs_tar "$TMP/rootfs" "$TMP/rootfs.tar" &&
    smoke_build_oci_archive "$TMP/rootfs.tar" "$TMP/img.tar" "$IMG" &&
    "${CTR[@]}" image import --snapshotter native "$TMP/img.tar" >/dev/null || {
    echo "image import failed"; echo "0 passed, 1 failed"; exit 1
}
echo "# image imported"
RUN=("${CTR[@]}" run --snapshotter native --runc-binary "$HULL" --runc-root "$TMP/runtime-root"
    --fifo-dir "$TMP/fifo" --runc-systemd-cgroup --cgroup "system.slice:ctrsmoke:$ID")
"${RUN[@]}" -d --memory-limit 67108864 "$IMG" "$ID" sleep 300 >"$TMP/run.out" 2>&1
check "ctr run -d --runc-systemd-cgroup with hull starts the task" \
    sh -c "ctr -a '$SOCK' -n $NS task ls | grep -q '$ID.*RUNNING'"
check "the task runs in $UNIT (active)" \
    test "$(systemctl show -p ActiveState --value "$UNIT")" = active
check "the unit's MemoryMax is the --memory-limit" \
    test "$(systemctl show -p MemoryMax --value "$UNIT")" = 67108864
check "memory.max of /system.slice/$UNIT is the limit" \
    test "$(cat "/sys/fs/cgroup/system.slice/$UNIT/memory.max" 2>/dev/null)" = 67108864
out=$("${CTR[@]}" task exec --fifo-dir "$TMP/fifo" --exec-id e1 "$ID" cat /proc/self/cgroup 2>&1)
check "ctr task exec runs in the scope ($out)" \
    sh -c "case '$out' in *'$UNIT'*|'0::/') exit 0;; *) exit 1;; esac"
"${CTR[@]}" task kill -s KILL "$ID" >/dev/null 2>&1
for _ in $(seq 100); do
    "${CTR[@]}" task ls | grep -q "$ID.*STOPPED" && break
    sleep 0.2
done
"${CTR[@]}" task rm "$ID" >/dev/null 2>&1
"${CTR[@]}" container rm "$ID" >/dev/null 2>&1
check "after kill and task rm, $UNIT is gone" \
    sh -c "! systemctl status '$UNIT' >/dev/null 2>&1 && [ ! -d '/sys/fs/cgroup/system.slice/$UNIT' ]"
if [ "$fail" != 0 ]; then
    echo "# ctr run output:"; sed 's/^/# /' "$TMP/run.out"
    echo "# containerd log (tail):"; tail -20 "$TMP/containerd.log" | sed 's/^/# /'
fi
echo "containerd-systemd: $pass passed, $fail failed"
[ "$fail" = 0 ]
