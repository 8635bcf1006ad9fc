#!/usr/bin/env python3
"""Startup timing for OCI runtimes; driven by bench/bench.sh.

Each runtime gets its own bundle and --root. Runtimes are measured
round-robin (one invocation of each per round) so that drift on the machine
hits all of them alike. Every invocation is timed as wall time with
time.perf_counter_ns() around subprocess.run(); stdio go to /dev/null and a
log file (never a pipe, which a created container would hold open).
"""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys
import time

# Runs "$@" in a private mount namespace with a tmpfs over the cgroup2 mount
# of a hybrid host. `unshare -m` makes the new namespace's mounts private, so
# the host's mounts stay as they are.
WRAP_SCRIPT = 'mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec "$@"'
WRAP_PREFIX = ["unshare", "-m", "sh", "-c", WRAP_SCRIPT, "sh"]


class Runtime:
    def __init__(self, name, binary, root, bundle, wrapped):
        self.name, self.binary, self.root, self.bundle = name, binary, root, bundle
        self.wrapped = wrapped
        self.log = os.path.join(os.path.dirname(root), "stderr.log")
        self.failures = 0
        self.last_error = ""

    def argv(self, *args, prefix=(), root=None):
        cmd = [*prefix, self.binary, "--root", root or self.root, *args]
        return WRAP_PREFIX + cmd if self.wrapped else cmd


def timed(argv, log_path):
    """Run argv; return (elapsed_ns, returncode)."""
    with open(log_path, "ab") as log:
        t0 = time.perf_counter_ns()
        rc = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=log).returncode
        return time.perf_counter_ns() - t0, rc


def log_tail(path, lines=5):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ""


def quiet(argv):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL).returncode


def state_status(rt, cid):
    p = subprocess.run(rt.argv("state", cid), stdin=subprocess.DEVNULL,
                       capture_output=True, text=True)
    if p.returncode != 0:
        return None
    try:
        return json.loads(p.stdout).get("status")
    except ValueError:
        return None


def wait_stopped(rt, cid, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if state_status(rt, cid) == "stopped":
            return True
        time.sleep(0.005)
    return False


def probe(rt, cid):
    """Check that rt really runs containers; return None, or why not.

    A binary that exits 0 without doing anything must not be timed, so the
    probe also goes through create/state/start/delete and checks the states.
    """
    def why(what, rc=None):
        status = " failed" if rc is None else f" failed (exit {rc})"
        if what.startswith("!"):
            what, status = what[1:], ""
        return f"{what}{status}: " + (log_tail(rt.log) or "(no message on stderr)")

    _, rc = timed(rt.argv("run", "-b", rt.bundle, cid + "r"), rt.log)
    if rc != 0:
        return why("`run`", rc)
    _, rc = timed(rt.argv("create", "-b", rt.bundle, cid), rt.log)
    if rc != 0:
        return why("`create`", rc)
    st = state_status(rt, cid)
    if st != "created":
        return why(f"!`state` after a successful create gave status {st!r}, not 'created'")
    _, rc = timed(rt.argv("start", cid), rt.log)
    if rc != 0:
        return why("`start`", rc)
    if not wait_stopped(rt, cid):
        return why("waiting for status 'stopped' after start")
    _, rc = timed(rt.argv("delete", cid), rt.log)
    if rc != 0:
        return why("`delete`", rc)
    if state_status(rt, cid) is not None:
        return why("!`state` still answers after delete")
    return None


def fail(rt, what, cid):
    rt.failures += 1
    rt.last_error = f"{what} failed: " + (log_tail(rt.log, 3) or "(no message)")
    quiet(rt.argv("delete", "-f", cid))


def ms(ns):
    return ns / 1e6


def med(xs):
    return statistics.median(xs) if xs else None


def pct(xs, p):
    if not xs:
        return None
    s = sorted(xs)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def fmt(x, unit=""):
    return "n/a" if x is None else f"{x:.2f}{unit}"


def sleep_bundle(rt):
    """A copy of rt's bundle whose process is `sleep 3600` (made once)."""
    bundle = rt.bundle + "-sleep"
    if not os.path.isdir(bundle):
        subprocess.run(["cp", "-a", rt.bundle, bundle], check=False)
        cfg_path = os.path.join(bundle, "config.json")
        with open(cfg_path) as f:
            cfg = json.load(f)
        cfg["process"]["args"] = ["sleep", "3600"]
        with open(cfg_path, "w") as f:
            json.dump(cfg, f)
    return bundle


def pool_map(fn, items, jobs):
    """fn over items with at most `jobs` in flight; results in order."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=jobs) as ex:
        return list(ex.map(fn, items))


def scale_once(rt, n, jobs, tag):
    """Create+start n `sleep` containers in parallel, then delete -f them in
    parallel. Returns (up_ns, down_ns, failures); nothing is left behind."""
    bundle = sleep_bundle(rt)
    ids = [f"{tag}-{rt.name}-s{n}-{k}" for k in range(n)]

    def up(cid):
        _, rc = timed(rt.argv("create", "-b", bundle, cid), rt.log)
        if rc == 0:
            _, rc = timed(rt.argv("start", cid), rt.log)
        return rc == 0

    def down(cid):
        _, rc = timed(rt.argv("delete", "-f", cid), rt.log)
        return rc == 0

    t0 = time.perf_counter_ns()
    ok_up = pool_map(up, ids, jobs)
    t_up = time.perf_counter_ns() - t0
    t0 = time.perf_counter_ns()
    ok_down = pool_map(down, ids, jobs)
    t_down = time.perf_counter_ns() - t0
    failures = ok_up.count(False) + ok_down.count(False)
    for entry in os.listdir(rt.root):  # should be none
        failures += 1
        quiet(rt.argv("delete", "-f", entry))
    return t_up, t_down, failures


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=50)
    ap.add_argument("--rss-samples", type=int, default=5)
    ap.add_argument("--runtime", nargs=4, action="append", default=[],
                    metavar=("NAME", "BIN", "ROOT", "BUNDLE"))
    ap.add_argument("--wrap", action="append", default=[],
                    help="runtime whose invocations need the cgroup2 tmpfs wrapper")
    ap.add_argument("--absent", action="append", default=[])
    ap.add_argument("--scenarios", default="run,disk,csd,exec,rss,scale,list",
                    help="comma-separated subset of run,disk,csd,exec,rss,scale,list")
    ap.add_argument("--disk-roots", default=None,
                    help="directory on the host's disk for the `disk` scenario's state roots")
    ap.add_argument("--floor-rootfs", default=None,
                    help="rootfs for the kernel floor: unshare of the bundle's namespaces + chroot")
    ap.add_argument("--scale-ns", default="25,50,100,200",
                    help="container counts of the parallel scale scenario")
    ap.add_argument("--scale-jobs", type=int, default=16,
                    help="worker pool size (invocations in flight) of scale and list")
    ap.add_argument("--scale-reps", type=int, default=3)
    ap.add_argument("--list-n", type=int, default=1000)
    ap.add_argument("--list-rounds", type=int, default=20)
    a = ap.parse_args()
    scenarios = {x.strip() for x in a.scenarios.split(",") if x.strip()}
    unknown = scenarios - {"run", "disk", "csd", "exec", "rss", "scale", "list"}
    if unknown:
        ap.error(f"--scenarios: unknown {', '.join(sorted(unknown))}")
    scale_ns = [int(x) for x in a.scale_ns.replace(" ", ",").split(",") if x]
    sys.stdout.reconfigure(line_buffering=True)

    tag = f"b{os.getpid()}"
    runtimes = [Runtime(n, b, r, d, n in a.wrap) for n, b, r, d in a.runtime]
    absent = {n: "binary not found" for n in a.absent}

    # Probe: one `run` each; a runtime that cannot run the bundle is left out.
    active = []
    for rt in runtimes:
        cid = f"{tag}-{rt.name}-probe"
        why = probe(rt, cid)
        if why is None:
            active.append(rt)
        else:
            quiet(rt.argv("delete", "-f", cid))
            absent[rt.name] = why
    for name, why in absent.items():
        print(f"bench: {name.upper()} LEFT OUT: {why}", file=sys.stderr)
    if not active:
        print("bench: no runtime could run the bundle; nothing to measure")
        return 0

    wrap_needed = any(rt.wrapped for rt in active)
    wrapper_log = os.path.join(os.path.dirname(active[0].root), "wrapper.log")
    baseline = {"/bin/true": [], "wrapper": []}
    # The kernel floor: what any runtime must pay to run /bin/true in the
    # bundle's namespaces (mount, uts, ipc, pid, net) and root.
    floor_argv = None
    if a.floor_rootfs:
        floor_argv = ["unshare", "--mount", "--uts", "--ipc", "--pid", "--net", "--fork",
                      "chroot", a.floor_rootfs, "/bin/true"]
    floor_ns = []

    # Scenario 1: run.
    run_ns = {rt.name: [] for rt in active}
    rounds = a.rounds if "run" in scenarios else 0
    print(f"bench: scenario run: `run` x {rounds} rounds ({', '.join(r.name for r in active)})",
          file=sys.stderr)
    for i in range(rounds):
        for rt in active:
            cid = f"{tag}-{rt.name}-run-{i}"
            t, rc = timed(rt.argv("run", "-b", rt.bundle, cid), rt.log)
            if rc == 0:
                run_ns[rt.name].append(t)
            else:
                fail(rt, "run", cid)
        t, _ = timed(["/bin/true"], wrapper_log)
        baseline["/bin/true"].append(t)
        if floor_argv:
            t, rc = timed(floor_argv, wrapper_log)
            if rc == 0:
                floor_ns.append(t)
        if wrap_needed:
            t, rc = timed(WRAP_PREFIX + ["/bin/true"], wrapper_log)
            if rc == 0:
                baseline["wrapper"].append(t)

    # Scenario 1b: run with the state root on the host's disk (the default
    # /run/hull is there when /run is not a tmpfs), not on the tmpfs.
    disk_ns = {rt.name: [] for rt in active}
    rounds = a.rounds if "disk" in scenarios and a.disk_roots else 0
    if rounds:
        print(f"bench: scenario disk: `run` x {rounds} rounds, roots in {a.disk_roots}",
              file=sys.stderr)
    for i in range(rounds):
        for rt in active:
            root = os.path.join(a.disk_roots, rt.name)
            os.makedirs(root, exist_ok=True)
            cid = f"{tag}-{rt.name}-disk-{i}"
            t, rc = timed(rt.argv("run", "-b", rt.bundle, cid, root=root), rt.log)
            if rc == 0:
                disk_ns[rt.name].append(t)
            else:
                rt.failures += 1
                quiet(rt.argv("delete", "-f", cid, root=root))

    # Scenario 2: create + start, then delete once the container has stopped.
    cs_ns = {rt.name: [] for rt in active}
    create_ns = {rt.name: [] for rt in active}
    start_ns = {rt.name: [] for rt in active}
    del_ns = {rt.name: [] for rt in active}
    rounds = a.rounds if "csd" in scenarios else 0
    print(f"bench: scenario csd: create+start / delete x {rounds} rounds", file=sys.stderr)
    for i in range(rounds):
        for rt in active:
            cid = f"{tag}-{rt.name}-csd-{i}"
            tc, rc = timed(rt.argv("create", "-b", rt.bundle, cid), rt.log)
            if rc != 0:
                fail(rt, "create", cid)
                continue
            ts, rc = timed(rt.argv("start", cid), rt.log)
            if rc != 0:
                fail(rt, "start", cid)
                continue
            if not wait_stopped(rt, cid):
                fail(rt, "wait for stopped", cid)
                continue
            td, rc = timed(rt.argv("delete", cid), rt.log)
            if rc != 0:
                fail(rt, "delete", cid)
                continue
            create_ns[rt.name].append(tc)
            start_ns[rt.name].append(ts)
            cs_ns[rt.name].append(tc + ts)
            del_ns[rt.name].append(td)

    # Scenario 3: exec of /bin/true into a running container (`sleep` as init).
    exec_ns = {rt.name: [] for rt in active}
    sleepers = {}
    for rt in (active if "exec" in scenarios else []):
        cid = f"{tag}-{rt.name}-exec"
        bundle = sleep_bundle(rt)
        _, rc = timed(rt.argv("run", "-d", "-b", bundle, cid), rt.log)
        if rc == 0:
            sleepers[rt.name] = cid
        else:
            fail(rt, "run -d (exec scenario)", cid)
    rounds = a.rounds if "exec" in scenarios else 0
    print(f"bench: scenario exec: exec x {rounds} rounds", file=sys.stderr)
    for i in range(rounds):
        for rt in active:
            cid = sleepers.get(rt.name)
            if cid is None:
                continue
            t, rc = timed(rt.argv("exec", cid, "/bin/true"), rt.log)
            if rc == 0:
                exec_ns[rt.name].append(t)
            else:
                fail(rt, "exec", cid)
    for rt in active:
        if rt.name in sleepers:
            quiet(rt.argv("delete", "-f", sleepers[rt.name]))

    # Peak RSS of `run` (GNU time's %M, KiB: the largest process it reaped).
    rss = {rt.name: [] for rt in active}
    time_bin = "/usr/bin/time"
    if "rss" not in scenarios:
        pass
    elif os.access(time_bin, os.X_OK):
        for i in range(a.rss_samples):
            for rt in active:
                cid = f"{tag}-{rt.name}-rss-{i}"
                out = os.path.join(os.path.dirname(rt.root), f"rss-{i}")
                argv = rt.argv("run", "-b", rt.bundle, cid,
                               prefix=(time_bin, "-o", out, "-f", "%M"))
                _, rc = timed(argv, rt.log)
                try:
                    with open(out) as f:
                        kib = int(f.read().split()[-1])
                except (OSError, ValueError, IndexError):
                    kib = None
                if rc == 0 and kib is not None:
                    rss[rt.name].append(kib)
                else:
                    fail(rt, "run (rss)", cid)
    else:
        print("bench: /usr/bin/time missing: no RSS numbers", file=sys.stderr)

    # Scenario scale: N containers created+started in parallel, then deleted.
    scale = {}  # (rt, n) -> {"up": [], "down": [], "total": []}
    scale_fail = {rt.name: 0 for rt in active}
    if "scale" in scenarios:
        print(f"bench: scenario scale: N = {scale_ns}, pool of {a.scale_jobs} workers, "
              f"{a.scale_reps} reps", file=sys.stderr)
        for r in range(a.scale_reps):
            for j, n in enumerate(scale_ns):
                k = (r + j) % len(active)
                for rt in active[k:] + active[:k]:
                    up, down, nfail = scale_once(rt, n, a.scale_jobs, f"{tag}r{r}")
                    scale_fail[rt.name] += nfail
                    d = scale.setdefault((rt.name, n), {"up": [], "down": [], "total": []})
                    if nfail == 0:
                        d["up"].append(up)
                        d["down"].append(down)
                        d["total"].append(up + down)
                    else:
                        rt.failures += nfail
                        rt.last_error = "scale: " + (log_tail(rt.log, 3) or "(no message)")

    # Scenario list: `list` and `state` with list_n created containers in the
    # root, against `list` of an empty root (the fixed cost of one invocation).
    listing = {rt.name: {"list": [], "json": [], "empty": [], "state": []} for rt in active}
    list_counts = {}
    if "list" in scenarios and a.list_n > 0:
        print(f"bench: scenario list: creating {a.list_n} containers per runtime "
              f"(pool of {a.scale_jobs})", file=sys.stderr)
        populated = {}
        for rt in active:
            empty = rt.root + "-empty"
            os.makedirs(empty, exist_ok=True)
            ids = [f"{tag}-{rt.name}-l{k}" for k in range(a.list_n)]

            def create(cid, rt=rt):
                _, rc = timed(rt.argv("create", "-b", rt.bundle, cid), rt.log)
                return rc == 0
            ok = pool_map(create, ids, a.scale_jobs)
            populated[rt.name] = (ids, empty)
            if not all(ok):
                rt.failures += ok.count(False)
                rt.last_error = "list: create: " + (log_tail(rt.log, 3) or "(no message)")
            p = subprocess.run(rt.argv("list", "-q"), stdin=subprocess.DEVNULL,
                               capture_output=True, text=True)
            list_counts[rt.name] = (len(p.stdout.split()), ok.count(True))
        print(f"bench: scenario list: {a.list_rounds} rounds", file=sys.stderr)
        for i in range(a.list_rounds):
            for rt in active:
                ids, empty = populated[rt.name]
                mid = ids[len(ids) // 2]
                for key, argv in (("list", rt.argv("list")),
                                  ("json", rt.argv("list", "--format", "json")),
                                  ("state", rt.argv("state", mid))):
                    t, rc = timed(argv, rt.log)
                    if rc == 0:
                        listing[rt.name][key].append(t)
                    else:
                        fail(rt, key, mid)
                argv = [x if x != rt.root else empty for x in rt.argv("list")]
                t, rc = timed(argv, rt.log)
                if rc == 0:
                    listing[rt.name]["empty"].append(t)
        for rt in active:
            ids, _ = populated[rt.name]
            pool_map(lambda cid, rt=rt: quiet(rt.argv("delete", "-f", cid)), ids, a.scale_jobs)

    # Leftovers (should be none).
    for rt in active:
        for entry in os.listdir(rt.root):
            quiet(rt.argv("delete", "-f", entry))

    # ---- report ----
    wrap_med = med(baseline["wrapper"]) if wrap_needed else None
    true_med = med(baseline["/bin/true"])

    def rows(samples_by_rt, n_wrappers):
        out = []
        for rt in active:
            xs = [ms(x) for x in samples_by_rt[rt.name]]
            out.append((rt.name + (" (raw)" if rt.wrapped else ""), xs, None))
            if rt.wrapped and wrap_med is not None and xs:
                adj = [x - n_wrappers * ms(wrap_med) for x in xs]
                out.append((rt.name + " (-wrapper)", adj, None))
        return out

    def table(title, samples_by_rt, n_wrappers):
        if not any(samples_by_rt.values()):
            return {}
        print(f"\n{title}")
        print(f"  {'runtime':<18}{'median':>10}{'min':>10}{'p90':>10}{'n':>6}")
        meds = {}
        for label, xs, _ in rows(samples_by_rt, n_wrappers):
            meds[label] = med(xs)
            print(f"  {label:<18}{fmt(med(xs)):>10}{fmt(min(xs) if xs else None):>10}"
                  f"{fmt(pct(xs, 90)):>10}{len(xs):>6}")
        return meds

    def ratios(meds, what=""):
        h = meds.get("hull")
        parts = []
        for label, m in meds.items():
            if label == "hull":
                continue
            r = f"{h / m:.2f}" if (h is not None and m) else "n/a"
            parts.append(f"hull/{label} = {r}")
        if parts:
            print(f"  ratios{what} (median): " + ", ".join(parts))

    print()
    print("=" * 64)
    print(f"hull benchmark: {', '.join(sorted(scenarios))}; {a.rounds} interleaved rounds "
          f"of run/csd/exec, times in ms (wall)")
    print(f"runtimes: " + ", ".join(f"{rt.name} ({rt.binary})" for rt in active))
    if absent:
        print("left out: " + "; ".join(f"{n}: {w.splitlines()[0]}" for n, w in absent.items()))
    if true_med is not None:
        print(f"baseline: spawning /bin/true from the harness: {fmt(ms(true_med))} ms")
    if wrap_needed and wrap_med is not None:
        print(f"crun wrapper (unshare -m + tmpfs mount) around /bin/true: "
              f"{fmt(ms(wrap_med) if wrap_med else None)} ms median")
    print("=" * 64)

    ratios(table("run -b BUNDLE ID  (container runs /bin/true)", run_ns, 1))
    if floor_ns:
        f = med(floor_ns)
        parts = [f"{name} {med(v) / f:.2f}" for name, v in run_ns.items() if v]
        print(f"  kernel floor (unshare of the same namespaces + chroot + /bin/true): "
              f"{fmt(ms(f))} ms; run / floor: " + ", ".join(parts))
    if any(disk_ns.values()):
        ratios(table("run with the state root on the host's disk (not tmpfs)", disk_ns, 1))
    ratios(table("create + start  (two invocations, summed)", cs_ns, 2))
    table("  of which create", create_ns, 1)
    table("  of which start", start_ns, 1)
    ratios(table("delete  (after the container stopped)", del_ns, 1))
    ratios(table("exec ID /bin/true  (into a running container)", exec_ns, 1))

    if any(rss.values()):
        print("\npeak RSS of `run` (GNU time %M, the largest process reaped, MiB)")
        print(f"  {'runtime':<18}{'median':>10}{'max':>10}{'n':>6}")
        meds = {}
        for rt in active:
            xs = [k / 1024 for k in rss[rt.name]]
            meds[rt.name] = med(xs)
            print(f"  {rt.name:<18}{fmt(med(xs)):>10}{fmt(max(xs) if xs else None):>10}"
                  f"{len(xs):>6}")
        ratios(meds)

    if scale:
        print(f"\nparallel scale: N `sleep` containers create+start, then delete -f, "
              f"{a.scale_jobs} invocations in flight; wall ms, median of {a.scale_reps}")
        print(f"  {'N':>5}  {'runtime':<8}{'up':>10}{'down':>10}{'total':>10}"
              f"{'ms/ctr':>9}  ratios (total)")
        for n in scale_ns:
            tot = {}
            for rt in active:
                d = scale.get((rt.name, n), {"up": [], "down": [], "total": []})
                up, down, total = (med([ms(x) for x in d[k]]) for k in ("up", "down", "total"))
                tot[rt.name] = total
                per = total / n if total is not None else None
                print(f"  {n:>5}  {rt.name:<8}{fmt(up):>10}{fmt(down):>10}{fmt(total):>10}"
                      f"{fmt(per):>9}")
            h = tot.get("hull")
            parts = [f"hull/{k} = {h / v:.2f}" for k, v in tot.items()
                     if k != "hull" and h is not None and v]
            if parts:
                print(f"  {'':>5}  {'':<8}{'':>39}  " + ", ".join(parts))

    if any(v for d in listing.values() for v in d.values()):
        print(f"\nlist / state with {a.list_n} created containers in the root; "
              f"ms, median of {a.list_rounds}")
        print(f"  {'runtime':<10}{'listed':>8}{'list':>10}{'list json':>11}{'empty root':>12}"
              f"{'us/ctr':>9}{'state':>9}")
        meds = {}
        for rt in active:
            d = {k: med([ms(x) for x in v]) for k, v in listing[rt.name].items()}
            meds[rt.name] = d
            per = ((d["list"] - d["empty"]) * 1000 / a.list_n
                   if d["list"] is not None and d["empty"] is not None else None)
            listed = list_counts.get(rt.name, (0, 0))
            print(f"  {rt.name:<10}{f'{listed[0]}/{listed[1]}':>8}{fmt(d['list']):>10}"
                  f"{fmt(d['json']):>11}{fmt(d['empty']):>12}{fmt(per):>9}{fmt(d['state']):>9}")
        for key in ("list", "state"):
            ratios({k: v[key] for k, v in meds.items()}, f" of {key}")

    failed = [rt for rt in active if rt.failures]
    if failed:
        print("\nfailures during measurement (samples left out):")
        for rt in failed:
            print(f"  {rt.name}: {rt.failures}; last: {rt.last_error.splitlines()[0] if rt.last_error else ''}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
