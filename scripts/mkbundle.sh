#!/usr/bin/env bash
# Make an OCI bundle with a busybox-static root file system.
#
#   scripts/mkbundle.sh DIR [--runtime BIN] [-- ARGS...]
#
# DIR/rootfs gets /bin/busybox plus a symlink in /bin for every applet, the
# usual top-level directories and minimal /etc/passwd and /etc/group.
# DIR/config.json comes from `BIN spec` (run inside DIR) and is edited so that
# process.terminal is false and process.args is ARGS (default: sh).
# BIN defaults to $HULL, else target/debug/hull of this repository.
# If DIR already exists and holds a bundle (or is empty), it is recreated.
set -euo pipefail

die() { echo "mkbundle: $*" >&2; exit 1; }
usage() { echo "usage: $0 DIR [--runtime BIN] [-- ARGS...]" >&2; exit 2; }

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

[[ $# -ge 1 ]] || usage
DIR=$1; shift
[[ -n $DIR && $DIR != -* ]] || usage
RUNTIME=${HULL:-$REPO/target/debug/hull}
ARGS=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --runtime) [[ $# -ge 2 ]] || usage; RUNTIME=$2; shift 2 ;;
        --runtime=*) RUNTIME=${1#--runtime=}; shift ;;
        --) shift; ARGS=("$@"); break ;;
        -h|--help) usage ;;
        *) die "unexpected argument: $1" ;;
    esac
done
((${#ARGS[@]})) || ARGS=(sh)

# The runtime may be a bare name on PATH or a path.
if [[ $RUNTIME != */* ]]; then
    RUNTIME_PATH=$(command -v "$RUNTIME") || die "runtime '$RUNTIME' not found on PATH"
    RUNTIME=$RUNTIME_PATH
fi
[[ -x $RUNTIME ]] || die "runtime binary '$RUNTIME' missing or not executable (build hull first, or pass --runtime BIN)"
RUNTIME=$(cd "$(dirname "$RUNTIME")" && pwd)/$(basename "$RUNTIME")

# busybox must be the static build: the rootfs has no libc.
BUSYBOX=/bin/busybox
if [[ ! -x $BUSYBOX ]] || ldd "$BUSYBOX" >/dev/null 2>&1; then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "mkbundle: installing busybox-static" >&2
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static </dev/null >/dev/null ||
            { DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
              DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static </dev/null >/dev/null; }
    fi
    [[ -x $BUSYBOX ]] && ! ldd "$BUSYBOX" >/dev/null 2>&1 ||
        die "$BUSYBOX is missing or not statically linked (install busybox-static)"
fi
command -v python3 >/dev/null || die "python3 is needed to edit config.json"

# Recreate DIR, but never wipe a directory that does not look like a bundle.
if [[ -e $DIR ]]; then
    [[ -d $DIR ]] || die "$DIR exists and is not a directory"
    if [[ -n $(ls -A "$DIR") && ! -e $DIR/config.json && ! -e $DIR/rootfs ]]; then
        die "$DIR exists, is not empty and is not a bundle; refusing to remove it"
    fi
    # --one-file-system: do not descend into anything still mounted in there.
    rm -rf --one-file-system "$DIR"
fi
mkdir -p "$DIR"
DIR=$(cd "$DIR" && pwd)
ROOTFS=$DIR/rootfs

mkdir -p "$ROOTFS"/{bin,proc,sys,dev,etc,tmp,root}
chmod 1777 "$ROOTFS/tmp"
chmod 0700 "$ROOTFS/root"
cp "$BUSYBOX" "$ROOTFS/bin/busybox"
for applet in $("$BUSYBOX" --list); do
    [[ $applet == busybox || $applet == */* ]] && continue
    ln -sf busybox "$ROOTFS/bin/$applet"
done

cat >"$ROOTFS/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat >"$ROOTFS/etc/group" <<'GROUP'
root:x:0:
tty:x:5:
nogroup:x:65534:
GROUP

(cd "$DIR" && "$RUNTIME" spec) || die "'$RUNTIME spec' failed in $DIR"
[[ -s $DIR/config.json ]] || die "'$RUNTIME spec' wrote no config.json in $DIR"

python3 - "$DIR/config.json" "${ARGS[@]}" <<'PY'
import json, sys
path, args = sys.argv[1], sys.argv[2:]
with open(path) as f:
    cfg = json.load(f)
proc = cfg.setdefault("process", {})
proc["terminal"] = False
proc["args"] = args
with open(path, "w") as f:
    json.dump(cfg, f, indent=2)
    f.write("\n")
PY
echo "mkbundle: bundle ready at $DIR (args: ${ARGS[*]})" >&2
