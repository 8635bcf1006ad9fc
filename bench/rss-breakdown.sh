#!/usr/bin/env bash
# Where the peak RSS of `create` goes, per runtime.
#
#   bench/rss-breakdown.sh [NAME=BINARY ...]
#       default: hull=target/release/hull crun=$(command -v crun) runc=$(command -v runc)
#
# The peak of `run` is the `create` part's parent process (the container
# init peaks lower before its exec; `bench.py`'s rss scenario shows the
# total). To see that process at work, the bundle gets a createRuntime hook,
# which the runtime runs as its own child while the container is being set
# up: the hook copies /proc/$PPID/smaps and /proc/$PPID/status. The mappings
# are then summed by file and permission: the runtime's own text (r-xp) and
# read-only data (r--p: .rodata, relocated .data.rel.ro, .eh_frame), each
# shared library, heap, stack and other anonymous memory; "anon" is the part
# that is private to the process (file pages are shared page cache). GNU time's %M of
# the whole `create` is printed beside it.
#
# Runs in a private mount namespace with a tmpfs over /sys/fs/cgroup/unified
# on a hybrid cgroup host (crun 1.8 refuses that layout), like bench.sh.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
[[ $(id -u) -eq 0 ]] || { echo "rss-breakdown: must run as root" >&2; exit 1; }

if (($# == 0)); then
    set -- "hull=$REPO/target/release/hull" "crun=$(command -v crun || true)" "runc=$(command -v runc || true)"
fi

TMP=$(mktemp -d /tmp/hull-rss.XXXXXX)
trap 'rm -rf --one-file-system "$TMP"' EXIT
"$REPO/scripts/mkbundle.sh" "$TMP/bundle" --runtime runc -- /bin/true >/dev/null 2>&1 ||
    "$REPO/scripts/mkbundle.sh" "$TMP/bundle" --runtime "$REPO/target/release/hull" -- /bin/true >/dev/null
python3 - "$TMP" <<'EOF'
import json, sys
tmp = sys.argv[1]
p = f"{tmp}/bundle/config.json"
c = json.load(open(p))
c.setdefault("hooks", {})["createRuntime"] = [{
    "path": "/bin/sh",
    "args": ["sh", "-c", f"cat /proc/$PPID/smaps > {tmp}/smaps; cat /proc/$PPID/status > {tmp}/status"],
}]
json.dump(c, open(p, "w"))
EOF

WRAP=':'
awk '$5 == "/sys/fs/cgroup/unified" && $0 ~ / - cgroup2 /' /proc/self/mountinfo | grep -q . &&
    WRAP='mount -t tmpfs tmpfs /sys/fs/cgroup/unified'

for spec in "$@"; do
    name=${spec%%=*} bin=${spec#*=}
    [[ -x $bin ]] || { echo "$name: no binary at '$bin'"; continue; }
    rm -f "$TMP/smaps" "$TMP/status"
    mkdir -p "$TMP/root-$name"
    unshare -m --propagation private sh -c "$WRAP && exec \"\$@\"" sh \
        /usr/bin/time -o "$TMP/time" -f %M "$bin" --root "$TMP/root-$name" create -b "$TMP/bundle" rss >/dev/null 2>"$TMP/err" ||
        { echo "$name: create failed: $(tail -2 "$TMP/err")"; continue; }
    unshare -m --propagation private sh -c "$WRAP && exec \"\$@\"" sh \
        "$bin" --root "$TMP/root-$name" delete -f rss >/dev/null 2>&1 || true
    python3 - "$name" "$bin" "$TMP" <<'EOF'
import os, re, sys
name, binary, tmp = sys.argv[1:]
exe = os.path.realpath(binary)
groups = {}
cur = None
for line in open(f"{tmp}/smaps"):
    if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
        f = line.split()
        path = f[5] if len(f) > 5 else ""
        if path in ("", "[anon]"):
            key = "other anonymous"
        elif path.startswith("["):
            key = path
        elif path == exe or path == "/":  # crun re-executes itself from a memfd
            key = f"{name} binary {f[1]}"
        else:
            key = f"{os.path.basename(path)} {f[1]}"
        cur = key
    elif line.startswith("Rss:") and cur:
        groups.setdefault(cur, [0, 0])[0] += int(line.split()[1])
    elif line.startswith("Anonymous:") and cur:
        groups.setdefault(cur, [0, 0])[1] += int(line.split()[1])
status = {l.split(":")[0]: l.split(":")[1].strip() for l in open(f"{tmp}/status")}
peak = open(f"{tmp}/time").read().split()[-1]
print(f"\n{name}: GNU time %M of create = {peak} kB; at the createRuntime hook: "
      f"VmRSS {status['VmRSS']}, RssAnon {status['RssAnon']}, RssFile {status['RssFile']}")
print(f"  {'Rss kB':>8}{'anon kB':>9}  mapping")
for k, (rss, anon) in sorted(groups.items(), key=lambda kv: -kv[1][0]):
    if rss >= 8:
        print(f"  {rss:8d}{anon:9d}  {k}")
EOF
done
