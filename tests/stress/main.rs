//! Concurrency stress test for hull (not part of `cargo test`; run it with
//! `make stress` or `cargo test --test stress`).
//!
//! For each N in `STRESS_COUNTS` (default "50 100 200"):
//!   1. lifecycle: N containers go through create, start, exec, kill and
//!      delete, `STRESS_WORKERS` (default 16) commands at a time, so all N
//!      exist at once, while `state` is polled concurrently;
//!   2. races on one id, max(N/10, 5) of each kind, all mixed together:
//!      two `start`s at once, `delete` during `start`, `kill` during
//!      `create`, two `create`s of one id;
//!   3. leaks: nothing may be left in the --root dir, no cgroup of the
//!      run's ids, no mount mentioning the run's dirs, no process in the
//!      run's cgroups or running hull on the run's root.
//!
//! Every command must succeed or fail with a clear `hull: ...` message (no
//! panic, no timeout, no empty stderr); every `state` output must be valid
//! JSON whose status agrees with the process (created/running: the pid is
//! alive unless the test already sent it a kill; stopped: pid 0).

#[path = "../integration/common.rs"]
mod common;

use common::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Barrier, Mutex};
use std::time::{Duration, Instant};

/// What a command is allowed to do.
#[derive(Clone, Copy, PartialEq)]
enum Expect {
    /// It must succeed.
    Ok,
    /// It may fail (a race loser, a poll of a gone container), clearly.
    Either,
}

struct Ctx {
    root: PathBuf,
    scratch: PathBuf,
    prefix: String,
    commands: AtomicU64,
    /// Failures by command and normalised message.
    failures: Mutex<BTreeMap<String, u64>>,
    /// Broken rules: each one fails the run.
    problems: Mutex<Vec<String>>,
    /// Ids in play (polled by `state`).
    live: Mutex<Vec<String>>,
    /// Ids the test has sent a kill or delete to: their init may be dead.
    doomed: Mutex<HashSet<String>>,
    state_polls: AtomicU64,
}

impl Ctx {
    fn problem(&self, p: String) {
        eprintln!("PROBLEM: {p}");
        self.problems.lock().unwrap().push(p);
    }

    /// Runs `hull --root ROOT args...`, recording it and checking the
    /// failure rules.
    fn hull(&self, args: &[&str], expect: Expect) -> Out {
        let mut c = std::process::Command::new(runtime_bin());
        c.arg("--root").arg(&self.root).args(args);
        let o = run_cmd(
            c,
            &self.scratch,
            CmdOpts {
                timeout: Some(Duration::from_secs(60)),
                ..Default::default()
            },
        );
        self.commands.fetch_add(1, Ordering::Relaxed);
        if o.success() {
            return o;
        }
        let last = o.stderr.lines().rev().find(|l| !l.trim().is_empty());
        if args[0] == "exec" && last.is_none() && o.code.is_some_and(|c| c > 128) {
            // Not a hull failure: exec passes on the status of its process,
            // here killed by a signal (128 + N) with its container.
            let kind = format!("exec: process killed by signal {}", o.code.unwrap() - 128);
            *self.failures.lock().unwrap().entry(kind).or_default() += 1;
            return o;
        }
        if o.timed_out || o.signal.is_some() {
            self.problem(format!("timed out or killed by a signal: {o}"));
        } else if o.stderr.contains("panicked") {
            self.problem(format!("panic: {o}"));
        } else if !last.is_some_and(|l| l.starts_with("hull: ")) {
            self.problem(format!("failure without a `hull: ...` message: {o}"));
        } else if expect == Expect::Ok {
            self.problem(format!("unexpected failure: {o}"));
        }
        let kind = format!(
            "{}: {}",
            args[0],
            normalise(last.unwrap_or("<empty stderr>"), args)
        );
        *self.failures.lock().unwrap().entry(kind).or_default() += 1;
        o
    }

    fn doom(&self, id: &str) {
        self.doomed.lock().unwrap().insert(id.to_string());
    }

    fn add_live(&self, id: &str) {
        self.live.lock().unwrap().push(id.to_string());
    }

    /// `state ID` and the rules its answer must follow. Returns the status
    /// ("" when the command failed).
    fn check_state(&self, id: &str) -> String {
        self.state_polls.fetch_add(1, Ordering::Relaxed);
        let o = self.hull(&["state", id], Expect::Either);
        if !o.success() {
            if !o.stderr.contains("does not exist") {
                self.problem(format!("state of {id} failed for another reason: {o}"));
            }
            return String::new();
        }
        let v: Value = match serde_json::from_str(&o.stdout) {
            Ok(v) => v,
            Err(e) => {
                self.problem(format!("state of {id} is not JSON ({e}): {o}"));
                return String::new();
            }
        };
        let status = v["status"].as_str().unwrap_or("").to_string();
        let pid = v["pid"].as_i64().unwrap_or(-1) as i32;
        if v["id"] != id {
            self.problem(format!("state of {id} names another id: {o}"));
        }
        match status.as_str() {
            "created" | "running" => {
                let alive = pid > 0 && pid_alive_not_zombie(pid);
                // Read `doomed` after the liveness check: a kill sent before
                // the check is then always seen.
                if !alive && !self.doomed.lock().unwrap().contains(id) {
                    self.problem(format!(
                        "state of {id} says {status} with pid {pid}, but that process is gone and nothing killed it: {o}"
                    ));
                }
            }
            "stopped" => {
                if pid != 0 {
                    self.problem(format!("state of {id} says stopped with pid {pid}: {o}"));
                }
                if !self.doomed.lock().unwrap().contains(id) {
                    self.problem(format!("{id} stopped although nothing killed it: {o}"));
                }
            }
            _ => self.problem(format!("state of {id}: unexpected status {status:?}: {o}")),
        }
        status
    }

    /// Polls `state ID` until it reads `want` (at most 20 s).
    fn wait_status(&self, id: &str, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let s = self.check_state(id);
            if s == want {
                return;
            }
            if Instant::now() >= deadline {
                self.problem(format!("{id} did not reach {want} in 20s (last {s:?})"));
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// Process exists and is not a zombie.
fn pid_alive_not_zombie(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(s) => s
            .rsplit_once(')')
            .is_some_and(|(_, r)| !r.trim_start().starts_with(['Z', 'X'])),
        Err(_) => false,
    }
}

/// A failure message with ids, paths and numbers replaced, so that
/// failures can be counted by kind.
fn normalise(msg: &str, args: &[&str]) -> String {
    let mut m = msg.to_string();
    for a in args.iter().filter(|a| a.starts_with("hs")) {
        m = m.replace(a, "ID");
    }
    let mut out = String::new();
    let mut in_num = false;
    for c in m.chars() {
        if c.is_ascii_digit() {
            if !in_num {
                out.push('N');
            }
            in_num = true;
        } else {
            in_num = false;
            out.push(c);
        }
    }
    out.chars().take(140).collect()
}

/// Runs `f(i)` for i in 0..n on `workers` threads.
fn pool(workers: usize, n: usize, f: impl Fn(usize) + Sync) {
    let next = AtomicUsize::new(0);
    std::thread::scope(|s| {
        for _ in 0..workers.min(n).max(1) {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    f(i);
                }
            });
        }
    });
}

/// Runs `a` and `b` at the same moment; returns both results.
fn together<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    let barrier = Barrier::new(2);
    std::thread::scope(|s| {
        let ha = s.spawn(|| {
            barrier.wait();
            a()
        });
        barrier.wait();
        let rb = b();
        (ha.join().unwrap(), rb)
    })
}

/// A cheap xorshift for picking ids and small delays.
fn rand(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

/// Lifecycle of n containers with `workers` commands at a time, while
/// two pollers run `state` on them.
fn lifecycle(ctx: &Ctx, bundle: &str, n: usize, workers: usize) {
    let ids: Vec<String> = (0..n).map(|i| format!("{}-l{i}", ctx.prefix)).collect();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for p in 0..2u64 {
            let done = &done;
            s.spawn(move || {
                let mut seed = 0x9e37_79b9_7f4a_7c15 ^ (p + 1);
                while !done.load(Ordering::Relaxed) {
                    let id = {
                        let live = ctx.live.lock().unwrap();
                        if live.is_empty() {
                            None
                        } else {
                            Some(live[rand(&mut seed) as usize % live.len()].clone())
                        }
                    };
                    match id {
                        Some(id) => {
                            ctx.check_state(&id);
                        }
                        None => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            });
        }
        pool(workers, n, |i| {
            ctx.add_live(&ids[i]);
            ctx.hull(&["create", "--bundle", bundle, &ids[i]], Expect::Ok);
        });
        pool(workers, n, |i| {
            ctx.hull(&["start", &ids[i]], Expect::Ok);
        });
        pool(workers, n, |i| {
            let o = ctx.hull(&["exec", &ids[i], "sh", "-c", "echo ok-$$"], Expect::Ok);
            if o.success() && !o.stdout.starts_with("ok-") {
                ctx.problem(format!("exec output: {o}"));
            }
        });
        pool(workers, n, |i| {
            ctx.doom(&ids[i]);
            ctx.hull(&["kill", &ids[i], "KILL"], Expect::Ok);
        });
        pool(workers, n, |i| ctx.wait_status(&ids[i], "stopped"));
        pool(workers, n, |i| {
            ctx.hull(&["delete", &ids[i]], Expect::Ok);
        });
        done.store(true, Ordering::Relaxed);
    });
    ctx.live.lock().unwrap().clear();
}

/// Kills and removes a race's container, whatever state it is in.
fn cleanup(ctx: &Ctx, id: &str) {
    ctx.doom(id);
    ctx.hull(&["delete", "--force", id], Expect::Ok);
    let o = ctx.hull(&["state", id], Expect::Either);
    if o.success() {
        ctx.problem(format!("{id} still exists after delete --force: {o}"));
    }
}

/// Exactly one of two racing commands succeeded.
fn one_winner(ctx: &Ctx, what: &str, a: &Out, b: &Out) -> bool {
    if a.success() == b.success() {
        ctx.problem(format!(
            "{what}: expected exactly one success, got {} and {}:\n{a}\n{b}",
            a.success(),
            b.success()
        ));
        return false;
    }
    true
}

fn race_double_start(ctx: &Ctx, bundle: &str, id: &str) {
    ctx.add_live(id);
    if !ctx
        .hull(&["create", "--bundle", bundle, id], Expect::Ok)
        .success()
    {
        return cleanup(ctx, id);
    }
    let (a, b) = together(
        || ctx.hull(&["start", id], Expect::Either),
        || ctx.hull(&["start", id], Expect::Either),
    );
    if one_winner(ctx, "two starts", &a, &b) {
        let loser = if a.success() { &b } else { &a };
        if !loser.stderr.contains("cannot start") {
            ctx.problem(format!("the losing start should say why: {loser}"));
        }
        if ctx.check_state(id) != "running" {
            ctx.problem(format!("{id} is not running after a successful start"));
        }
    }
    cleanup(ctx, id);
}

fn race_delete_during_start(ctx: &Ctx, bundle: &str, id: &str) {
    ctx.add_live(id);
    if !ctx
        .hull(&["create", "--bundle", bundle, id], Expect::Ok)
        .success()
    {
        return cleanup(ctx, id);
    }
    ctx.doom(id);
    let (start, del) = together(
        || ctx.hull(&["start", id], Expect::Either),
        || ctx.hull(&["delete", id], Expect::Either),
    );
    if one_winner(ctx, "start and delete", &start, &del) {
        if start.success() {
            if !del.stderr.contains("not stopped") {
                ctx.problem(format!(
                    "delete of a running container should say so: {del}"
                ));
            }
            if ctx.check_state(id) != "running" {
                ctx.problem(format!("{id} is not running after a successful start"));
            }
        } else if !start.stderr.contains("does not exist") {
            ctx.problem(format!("start after delete should say it is gone: {start}"));
        }
    }
    cleanup(ctx, id);
}

fn race_kill_during_create(ctx: &Ctx, bundle: &str, id: &str, delay_us: u64) {
    ctx.add_live(id);
    ctx.doom(id);
    let (create, kill) = together(
        || ctx.hull(&["create", "--bundle", bundle, id], Expect::Ok),
        || {
            std::thread::sleep(Duration::from_micros(delay_us));
            ctx.hull(&["kill", id, "KILL"], Expect::Either)
        },
    );
    if create.success() {
        if kill.success() {
            ctx.wait_status(id, "stopped");
            ctx.hull(&["delete", id], Expect::Ok);
        } else {
            if !kill.stderr.contains("does not exist") {
                ctx.problem(format!(
                    "kill before create should say no such container: {kill}"
                ));
            }
            if ctx.check_state(id) != "created" {
                ctx.problem(format!("{id} is not created after an unkilled create"));
            }
        }
    }
    cleanup(ctx, id);
}

fn race_double_create(ctx: &Ctx, bundle: &str, id: &str) {
    ctx.add_live(id);
    let (a, b) = together(
        || ctx.hull(&["create", "--bundle", bundle, id], Expect::Either),
        || ctx.hull(&["create", "--bundle", bundle, id], Expect::Either),
    );
    if one_winner(ctx, "two creates", &a, &b) {
        let loser = if a.success() { &b } else { &a };
        if !loser.stderr.contains("already exists") {
            ctx.problem(format!(
                "the losing create should say the id is taken: {loser}"
            ));
        }
        // The winner's container is intact: it starts and runs processes.
        if ctx.check_state(id) != "created" {
            ctx.problem(format!("{id} is not created after the winning create"));
        }
        ctx.hull(&["start", id], Expect::Ok);
        let o = ctx.hull(&["exec", id, "true"], Expect::Ok);
        if o.success() && ctx.check_state(id) != "running" {
            ctx.problem(format!("{id} is not running after start"));
        }
    }
    cleanup(ctx, id);
}

/// `exec` while the container's init is being killed: the exec either runs
/// or fails clearly, and nothing of it survives the delete.
fn race_exec_during_kill(ctx: &Ctx, bundle: &str, id: &str, delay_us: u64) {
    ctx.add_live(id);
    if !ctx
        .hull(&["create", "--bundle", bundle, id], Expect::Ok)
        .success()
        || !ctx.hull(&["start", id], Expect::Ok).success()
    {
        return cleanup(ctx, id);
    }
    ctx.doom(id);
    let (exec, _kill) = together(
        || ctx.hull(&["exec", id, "sh", "-c", "sleep 0.2"], Expect::Either),
        || {
            std::thread::sleep(Duration::from_micros(delay_us));
            ctx.hull(&["kill", id, "KILL"], Expect::Ok)
        },
    );
    if !exec.success() && !exec.stderr.is_empty() && !exec.stderr.contains("stopped") {
        ctx.problem(format!(
            "exec into a dying container should say it stopped: {exec}"
        ));
    }
    ctx.wait_status(id, "stopped");
    ctx.hull(&["delete", id], Expect::Ok);
    cleanup(ctx, id);
}

/// `delete --force` while `create` runs: either the create wins (and the
/// delete removes its container) or the delete finds nothing and the
/// create makes a whole container; never a broken one.
fn race_delete_force_during_create(ctx: &Ctx, bundle: &str, id: &str, delay_us: u64) {
    ctx.add_live(id);
    ctx.doom(id);
    let (create, _del) = together(
        || ctx.hull(&["create", "--bundle", bundle, id], Expect::Ok),
        || {
            std::thread::sleep(Duration::from_micros(delay_us));
            ctx.hull(&["delete", "--force", id], Expect::Ok)
        },
    );
    if create.success() {
        // Either still there and whole, or deleted: never half.
        let s = ctx.check_state(id);
        if s == "created" {
            ctx.hull(&["start", id], Expect::Ok);
        }
    }
    cleanup(ctx, id);
}

fn races(ctx: &Ctx, bundle: &str, n: usize, workers: usize) {
    let per_kind = (n / 10).max(5);
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        let done = &done;
        s.spawn(move || {
            let mut seed = 0x2545_f491_4f6c_dd1d;
            while !done.load(Ordering::Relaxed) {
                let id = {
                    let live = ctx.live.lock().unwrap();
                    (!live.is_empty()).then(|| live[rand(&mut seed) as usize % live.len()].clone())
                };
                match id {
                    Some(id) => {
                        ctx.check_state(&id);
                    }
                    None => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        pool(workers, per_kind * 6, |i| {
            let id = format!("{}-r{i}", ctx.prefix);
            let mut seed = 0x1234_5678 + i as u64;
            let delay = rand(&mut seed) % 40_000;
            match i % 6 {
                0 => race_double_start(ctx, bundle, &id),
                1 => race_delete_during_start(ctx, bundle, &id),
                2 => race_kill_during_create(ctx, bundle, &id, delay),
                3 => race_double_create(ctx, bundle, &id),
                4 => race_exec_during_kill(ctx, bundle, &id, delay / 4),
                _ => race_delete_force_during_create(ctx, bundle, &id, delay),
            }
        });
        done.store(true, Ordering::Relaxed);
    });
    ctx.live.lock().unwrap().clear();
}

#[derive(Default, Debug)]
struct Leaks {
    root_entries: Vec<String>,
    cgroups: Vec<PathBuf>,
    mounts: Vec<String>,
    processes: Vec<String>,
}

impl Leaks {
    fn total(&self) -> usize {
        self.root_entries.len() + self.cgroups.len() + self.mounts.len() + self.processes.len()
    }
}

/// Everything the run may have left behind.
fn leaks(ctx: &Ctx, dirs: &[&Path]) -> Leaks {
    let mut l = Leaks::default();
    if let Ok(rd) = fs::read_dir(&ctx.root) {
        l.root_entries = rd
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
    }
    // /sys/fs/cgroup/hull (v2) and /sys/fs/cgroup/<hierarchy>/hull (v1, hybrid).
    let mut parents = vec![PathBuf::from("/sys/fs/cgroup/hull")];
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        parents.extend(rd.flatten().map(|e| e.path().join("hull")));
    }
    for p in parents {
        if let Ok(rd) = fs::read_dir(&p) {
            for e in rd.flatten() {
                if e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{}-", ctx.prefix))
                {
                    l.cgroups.push(e.path());
                }
            }
        }
    }
    for d in dirs {
        l.mounts.extend(mountinfo_mentioning(&d.to_string_lossy()));
    }
    let me = std::process::id().to_string();
    let cg_needle = format!("/hull/{}-", ctx.prefix);
    let root = ctx.root.to_string_lossy().into_owned();
    if let Ok(rd) = fs::read_dir("/proc") {
        for e in rd.flatten() {
            let pid = e.file_name().to_string_lossy().into_owned();
            if !pid.bytes().all(|b| b.is_ascii_digit()) || pid == me {
                continue;
            }
            let cg = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap_or_default();
            let cmd = fs::read(format!("/proc/{pid}/cmdline"))
                .map(|b| String::from_utf8_lossy(&b).replace('\0', " "))
                .unwrap_or_default();
            if cg.contains(&cg_needle) || cmd.contains(&root) {
                l.processes.push(format!("{pid}: {}", cmd.trim()));
            }
        }
    }
    l
}

fn run_one(n: usize, workers: usize) -> bool {
    let base = TempDir::new("stress");
    let root = base.path().join("root");
    let scratch = base.path().join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    let bundle = Bundle::new(&["sleep", "100000"]);
    let bundle_path = bundle.path().to_string_lossy().into_owned();
    let ctx = Ctx {
        root,
        scratch,
        prefix: format!("hs{}n{n}", std::process::id()),
        commands: AtomicU64::new(0),
        failures: Mutex::new(BTreeMap::new()),
        problems: Mutex::new(Vec::new()),
        live: Mutex::new(Vec::new()),
        doomed: Mutex::new(HashSet::new()),
        state_polls: AtomicU64::new(0),
    };
    let t0 = Instant::now();
    lifecycle(&ctx, &bundle_path, n, workers);
    let t_life = t0.elapsed();
    let t1 = Instant::now();
    races(&ctx, &bundle_path, n, workers);
    let t_races = t1.elapsed();
    let wall = t0.elapsed();

    // Inits die asynchronously after a kill: give stragglers a moment.
    let mut l = leaks(&ctx, &[base.path(), bundle.path()]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while l.total() > 0 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
        l = leaks(&ctx, &[base.path(), bundle.path()]);
    }
    let problems = ctx.problems.lock().unwrap();
    let failures = ctx.failures.lock().unwrap();
    println!("=== stress: {n} containers, {workers} concurrent commands ===");
    println!(
        "commands: {} ({} state polls); wall {:.1}s (lifecycle {:.1}s, races {:.1}s)",
        ctx.commands.load(Ordering::Relaxed),
        ctx.state_polls.load(Ordering::Relaxed),
        wall.as_secs_f64(),
        t_life.as_secs_f64(),
        t_races.as_secs_f64()
    );
    let total: u64 = failures.values().sum();
    println!("failures (expected kinds: race losers, polls of gone ids): {total}");
    for (k, v) in failures.iter() {
        println!("  {v:6}  {k}");
    }
    println!(
        "leaks: root entries {}, cgroups {}, mounts {}, processes {}",
        l.root_entries.len(),
        l.cgroups.len(),
        l.mounts.len(),
        l.processes.len()
    );
    if l.total() > 0 {
        println!("leaked: {l:#?}");
    }
    println!("problems: {}", problems.len());
    for p in problems.iter().take(20) {
        println!("  - {}", p.replace('\n', "\n    "));
    }
    problems.is_empty() && l.total() == 0
}

fn main() {
    if !hull_only("the stress test drives hull's state dir and cgroup layout") {
        return;
    }
    if !nix::unistd::Uid::effective().is_root() {
        eprintln!("SKIPPED: the stress test needs root");
        return;
    }
    let counts: Vec<usize> = std::env::var("STRESS_COUNTS")
        .unwrap_or_else(|_| "50 100 200".into())
        .split_whitespace()
        .map(|s| s.parse().expect("STRESS_COUNTS: numbers"))
        .collect();
    let workers: usize = std::env::var("STRESS_WORKERS")
        .ok()
        .map(|s| s.parse().expect("STRESS_WORKERS: a number"))
        .unwrap_or(16);
    let mut ok = true;
    for n in counts {
        ok &= run_one(n, workers);
    }
    if !ok {
        eprintln!("stress: FAILED (see problems and leaks above)");
        std::process::exit(1);
    }
    println!("stress: OK");
}
