#!/usr/bin/env bash
# Startup benchmark: hull side by side with runc and crun.
#
#   bench/bench.sh            (every scenario, defaults below)
#
#   BENCH_SCENARIOS    run,disk,csd,exec,rss,scale,list (a subset for a quick run,
#                      e.g. BENCH_SCENARIOS=run,exec BENCH_ROUNDS=20)
#   BENCH_ROUNDS       50   rounds of run, csd and exec
#   BENCH_RSS_SAMPLES  5
#   BENCH_SCALE_NS     "25 50 100 200"   container counts of `scale`
#   BENCH_SCALE_JOBS   16   invocations in flight (thread pool) in scale/list
#   BENCH_SCALE_REPS   3
#   BENCH_LIST_N       1000 containers in the root for `list`
#   BENCH_LIST_ROUNDS  20
#
# Builds hull in release mode, makes one busybox bundle running /bin/true and
# gives each runtime its own copy of it and its own --root on a tmpfs (as
# /run, where engines keep runtime state, is on most hosts). bench/bench.py
# then times, interleaved round by round:
#   run    `RUNTIME --root R run -b B ID`, beside the kernel floor: `unshare`
#          of the bundle's namespaces + `chroot` + /bin/true
#   disk   `run` with the state roots in a directory on the host's disk
#          (the default /run/hull where /run is not a tmpfs, as here)
#   csd    `create` + `start` (summed) and `delete` as separate invocations
#   exec   `exec ID /bin/true` into a running `sleep` container
#   rss    peak RSS of `run` with /usr/bin/time
#   scale  N `sleep` containers created+started by a pool of BENCH_SCALE_JOBS
#          workers, then `delete -f`'d by the same pool; wall time per N
#   list   `list`, `list --format json` and `state` with BENCH_LIST_N created
#          containers in the root, and `list` of an empty root
# Reports medians in ms and hull's ratios to the others. A runtime that is
# missing or fails is reported and left out; the script exits 0.
#
# On a hybrid cgroup host (v1 controllers plus cgroup2 at
# /sys/fs/cgroup/unified), crun 1.8 refuses to run. Its invocations then run
# as `unshare -m sh -c 'mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec crun ...'`:
# the tmpfs is mounted in a private mount namespace only, the host's mounts
# are not touched. The cost of that wrapper is timed too (around /bin/true) and
# crun is reported both raw and with the wrapper cost subtracted.
set -uo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
ROUNDS=${BENCH_ROUNDS:-50}
RSS_SAMPLES=${BENCH_RSS_SAMPLES:-5}

say() { echo "bench: $*" >&2; }

if [[ $(id -u) -ne 0 ]]; then
    say "must run as root (containers need it); nothing measured"
    exit 0
fi

# --- tools -----------------------------------------------------------------
is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
missing=()
for p in runc crun hyperfine time busybox-static python3 util-linux; do
    is_installed "$p" || missing+=("$p")
done
if ((${#missing[@]})); then
    say "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null ||
        say "warning: could not install all of: ${missing[*]}"
fi

# --- hull (release) ----------------------------------------------------------
[[ -d $HOME/.cargo/bin ]] && PATH=$HOME/.cargo/bin:$PATH
HULL_BIN=${HULL_BENCH_BIN:-$REPO/target/release/hull}
if [[ -z ${HULL_BENCH_BIN:-} ]]; then
    if command -v cargo >/dev/null; then
        say "building hull (make release: static, hot functions first)"
        if ! make --no-print-directory -s -C "$REPO" release; then
            say "HULL RELEASE BUILD FAILED: hull is left out of the benchmark"
            HULL_BIN=
        fi
    else
        say "cargo not found: using an existing $HULL_BIN if there is one"
    fi
fi

# --- bundles -----------------------------------------------------------------
# Hybrid cgroup layout: v1 controllers plus cgroup2 at /sys/fs/cgroup/unified.
HYBRID=0
awk '$5 == "/sys/fs/cgroup/unified" && $0 ~ / - cgroup2 /' /proc/self/mountinfo | grep -q . && HYBRID=1

TMP=$(mktemp -d /tmp/hull-bench.XXXXXX)
cleanup() { rm -rf --one-file-system "$TMP"; }
trap cleanup EXIT

# The bundle's config comes from `runc spec` (a plain OCI config with the
# default namespaces); hull's own `spec` is not needed for this.
if ! "$REPO/scripts/mkbundle.sh" "$TMP/bundle" --runtime runc -- /bin/true 2>"$TMP/mkbundle.log"; then
    say "could not make the bundle:"; cat "$TMP/mkbundle.log" >&2
    exit 0
fi

args=(--rounds "$ROUNDS" --rss-samples "$RSS_SAMPLES"
    --scenarios "${BENCH_SCENARIOS:-run,disk,csd,exec,rss,scale,list}"
    --disk-roots "$TMP/disk-roots" --floor-rootfs "$TMP/bundle/rootfs"
    --scale-ns "${BENCH_SCALE_NS:-25 50 100 200}"
    --scale-jobs "${BENCH_SCALE_JOBS:-16}" --scale-reps "${BENCH_SCALE_REPS:-3}"
    --list-n "${BENCH_LIST_N:-1000}" --list-rounds "${BENCH_LIST_ROUNDS:-20}")
for rt in hull runc crun; do
    case $rt in
        hull) bin=$HULL_BIN ;;
        *) bin=$(command -v "$rt" || true) ;;
    esac
    if [[ -z $bin || ! -x $bin ]]; then
        say "$rt: binary ${bin:-(none)} not found: left out"
        args+=(--absent "$rt")
        continue
    fi
    mkdir -p "$TMP/$rt" "$TMP/roots/$rt"
    cp -a "$TMP/bundle" "$TMP/$rt/bundle"
    echo "$bin" >"$TMP/$rt/bin"
    args+=(--runtime "$rt" "$bin" "$TMP/roots/$rt" "$TMP/$rt/bundle")
done

# The whole benchmark runs in one private mount namespace (the host's own
# mounts are untouched) with a tmpfs for the state roots. On a hybrid host a
# tmpfs there also hides the cgroup2 mount, which crun refuses: rather than
# wrap crun alone (and subtract the wrapper's cost), all three runtimes see
# the same pure-v1 host.
setup="mount -t tmpfs tmpfs '$TMP/roots'"
if ((HYBRID)); then
    say "hybrid cgroup layout: the benchmark's private mount namespace has a tmpfs over /sys/fs/cgroup/unified"
    setup+=" && mount -t tmpfs tmpfs /sys/fs/cgroup/unified"
fi
# bench.py deletes its containers; the loop after it is the safety net (it
# must run in the namespace that holds the roots).
inner="$setup"' || exit 1
"$@"; status=$?
for rt in hull runc crun; do
    bin=$(cat "'"$TMP"'/$rt/bin" 2>/dev/null) || continue
    for id in $(ls "'"$TMP"'/roots/$rt" 2>/dev/null); do
        "$bin" --root "'"$TMP"'/roots/$rt" delete -f "$id" >/dev/null 2>&1
    done
done
exit $status'
unshare -m --propagation private sh -c "$inner" sh python3 "$REPO/bench/bench.py" "${args[@]}" \
    || say "bench.py failed (status $?)"
exit 0
