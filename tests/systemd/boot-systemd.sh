#!/bin/sh
# Starts systemd as PID 1 of a new pid namespace (inside the cgroup v2 VM,
# whose own init is a shell), booted to a small target of our own so that
# it is up in seconds even under software emulation, then runs COMMAND in
# systemd's pid and mount namespaces (where /run/systemd/private is, and
# where the pids hull hands to systemd are systemd's). Stops systemd after.
#   usage: boot-systemd.sh COMMAND [ARG]...
set -u
units=$(mktemp -d /tmp/hull-systemd-units.XXXXXX)
cat >"$units/hull-test.target" <<'UNIT'
[Unit]
Description=hull systemd driver tests
DefaultDependencies=no
UNIT
for s in system.slice user.slice; do
    printf '[Unit]\nDescription=%s\nDefaultDependencies=no\n' "$s" >"$units/$s"
done
log=$(mktemp /tmp/hull-systemd-log.XXXXXX)
SYSTEMD_UNIT_PATH="$units" container=other \
    unshare --pid --fork --mount-proc /lib/systemd/systemd --system \
    --unit=hull-test.target --log-target=console --log-level=notice \
    --show-status=no >"$log" 2>&1 &
helper=$!
pid=
started=$(date +%s)
while :; do
    if [ -z "$pid" ]; then
        pid=$(cat /proc/$helper/task/*/children 2>/dev/null | awk '{print $1}')
    fi
    if [ -n "$pid" ] && nsenter -t "$pid" -m test -S /run/systemd/private 2>/dev/null &&
        nsenter -t "$pid" -m -p systemctl is-system-running >/dev/null 2>&1; then
        break
    fi
    if ! kill -0 "$helper" 2>/dev/null || [ $(($(date +%s) - started)) -gt 120 ]; then
        echo "boot-systemd: systemd did not come up; its log:" >&2
        cat "$log" >&2
        exit 125
    fi
    sleep 0.2
done
echo "boot-systemd: systemd $(nsenter -t "$pid" -m -p systemctl --version | head -1 | awk '{print $2}') up as pid $pid in $(($(date +%s) - started)) s ($(nsenter -t "$pid" -m -p systemctl is-system-running 2>&1))"
nsenter -t "$pid" -m -p -- "$@"
rc=$?
# The VM is thrown away: no orderly shutdown needed.
kill -KILL "$pid" 2>/dev/null
wait "$helper" 2>/dev/null
if [ "$rc" != 0 ]; then
    echo "boot-systemd: systemd's log:" >&2
    tail -40 "$log" >&2
fi
exit "$rc"
