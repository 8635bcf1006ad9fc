#!/usr/bin/env bash
# Regenerates build/hot-functions.txt, the linker's symbol ordering of the
# release binary (make release).
#
#   scripts/hot-functions.sh          (as root; ~2 min, most of it the build)
#   scripts/hot-functions.sh --reuse  (the training build already made)
#
# Why: the kernel maps a file's pages around each fault (fault-around, 64 kB),
# so the peak RSS of a `hull create` counts every 64 kB window of the text
# that holds one function it runs. Scattered over 2.2 MB of code, the few
# hundred kB that run touch nearly every window. Placing the functions that
# the engine-facing commands run first, together, leaves the rest unmapped.
#
# How, in three steps (builds in target/hot-trace):
# 1. A training build of the same release profile, through
#    scripts/hot-trace-rustc (function-level SanitizerCoverage and
#    src/hot_trace.rs), runs the commands engines call most on a busybox
#    bundle (run, create, start, state, exec, kill, delete, list, ps, spec,
#    with and without --log/--log-format json and --pid-file) in a private
#    mount namespace with a tmpfs state root; every function any of those
#    processes entered is recorded.
# 2. The release build itself (with symbols) names them: a generic
#    function's symbol hash and the copy LTO keeps differ between the two
#    builds, so names are matched demangled and every copy is listed; so
#    are glibc's IFUNC resolvers (all run at start-up).
# 3. What the training cannot see (glibc, code LTO lays out differently):
#    the workload runs on the release build under `perf record -e
#    page-faults`; each instruction fetch that faults outside the listed
#    functions adds its function and the build is linked again, until no
#    such fault is left (at most 8 rounds). Skipped, with a message, without
#    perf.
# The names are the release build's own: `make release` links with them as
# they are. After code changes some go stale (the linker skips them): re-run;
# a stale list costs memory, never correctness.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$REPO/target/hot-trace
OUT=$REPO/build/hot-functions.txt
die() { echo "hot-functions: $*" >&2; exit 1; }
[[ $(id -u) -eq 0 ]] || die "must run as root (it runs containers)"
[[ -d $HOME/.cargo/bin ]] && PATH=$HOME/.cargo/bin:$PATH

cd "$REPO"
HOT_TRACE_HOST_CRATES=$(cargo metadata --format-version 1 -q | python3 scripts/host-crates.py)
export HOT_TRACE_HOST_CRATES
TRAIN=$WORK/train/release/hull
FINAL=$WORK/final/release/hull
if [[ ${1:-} != --reuse || ! -x $TRAIN ]]; then
    # The wrapper's choices are not in cargo's fingerprints: build from scratch.
    rm -rf "$WORK/train"
    echo "hot-functions: training build" >&2
    RUSTC_WRAPPER=$REPO/scripts/hot-trace-rustc cargo rustc --quiet --release --bin hull \
        --target-dir "$WORK/train" -- -C target-feature=+crt-static
fi
# The release build with symbols, linked with the ordering file $1 if given.
final_build() {
    local order=()
    [[ -n ${1:-} ]] && order=(-C "link-arg=-Wl,--symbol-ordering-file=$1")
    cargo rustc --quiet --release --bin hull --target-dir "$WORK/final" -- \
        -C target-feature=+crt-static -C strip=none "${order[@]}"
}

TMP=$(mktemp -d /tmp/hull-hot.XXXXXX)
trap 'rm -rf --one-file-system "$TMP"' EXIT
mkdir -p "$TMP/trace" "$TMP/root"
HULL=$TRAIN "$REPO/scripts/mkbundle.sh" "$TMP/true" -- /bin/true >/dev/null 2>&1
HULL=$TRAIN "$REPO/scripts/mkbundle.sh" "$TMP/sleep" -- sleep 600 >/dev/null 2>&1
echo '{"args": ["/bin/true"], "cwd": "/", "env": ["PATH=/bin"], "user": {"uid": 0, "gid": 0}}' \
    >"$TMP/process.json"

# workload BIN ROUNDS [PREFIX...]: the commands, run by PREFIX, in a private
# mount namespace with a tmpfs state root (both go with it).
workload() {
    local bin=$1 rounds=$2
    shift 2
    "$@" unshare -m --propagation private bash -euo pipefail -c '
    TMP=$1 BIN=$2 ROUNDS=$3
    mount -t tmpfs tmpfs "$TMP/root"
    h() { "$BIN" --root "$TMP/root" "$@"; }
    hl() { "$BIN" --root "$TMP/root" --log "$TMP/log.json" --log-format json "$@"; }
    (rm -rf "$TMP/spec" && mkdir "$TMP/spec" && cd "$TMP/spec" && "$BIN" spec)
    "$BIN" --version >/dev/null
    for i in $(seq "$ROUNDS"); do
        h run -b "$TMP/true" run$i
        hl run --bundle "$TMP/true" --pid-file "$TMP/run$i.pid" runl$i
        h create -b "$TMP/sleep" c$i
        h state c$i >/dev/null
        h start c$i
        h list >/dev/null
        h list --format json >/dev/null
        h ps c$i >/dev/null
        h exec c$i /bin/true
        hl exec --process "$TMP/process.json" --pid-file "$TMP/exec$i.pid" c$i
        h kill c$i KILL
        until h state c$i | grep "\"stopped\"" >/dev/null; do sleep 0.01; done
        h delete c$i
        hl create --bundle "$TMP/sleep" --pid-file "$TMP/c$i.pid" d$i
        hl start d$i
        hl kill d$i 9
        hl delete --force d$i
        h create -b "$TMP/sleep" e$i
        h delete -f e$i
    done
    ' bash "$TMP" "$bin" "$rounds"
}

echo "hot-functions: 1. training run" >&2
HULL_HOT_TRACE=$TMP/trace workload "$TRAIN" 3 env
python3 "$REPO/scripts/hot-functions.py" ran "$TRAIN" "$TMP/trace" "$TMP/ran.txt"

echo "hot-functions: 2. naming them in the release build" >&2
final_build
: >"$TMP/extra.txt"
python3 "$REPO/scripts/hot-functions.py" list "$FINAL" "$TMP/ran.txt" "$TMP/extra.txt" "$OUT"

if ! command -v perf >/dev/null; then
    echo "hot-functions: 3. skipped: no perf (apt-get install linux-perf)" >&2
    exit 0
fi
for round in 1 2 3 4 5 6 7 8; do
    final_build "$OUT"
    workload "$FINAL" 1 perf record -q -e page-faults -c 1 -d -o "$TMP/perf.data" --
    # Fields: address, its symbol, its file; ip, its symbol, its file. An
    # instruction fetch faults at its own ip.
    new=$(perf script -i "$TMP/perf.data" -F addr,ip,sym,dso --no-demangle 2>/dev/null |
        awk -v bin="($FINAL)" -v listed="$OUT" '
            BEGIN { while ((getline l < listed) > 0) known[l] = 1 }
            $1 == $4 && $6 == bin && $5 != "[unknown]" && !($5 in known) && !seen[$5]++ { print $5 }')
    echo "hot-functions: 3. round $round: $(printf '%s' "$new" | grep -c . || true) functions faulted outside the list" >&2
    [[ -z $new ]] && break
    printf '%s\n' "$new" >>"$TMP/extra.txt"
    python3 "$REPO/scripts/hot-functions.py" list "$FINAL" "$TMP/ran.txt" "$TMP/extra.txt" "$OUT"
done
