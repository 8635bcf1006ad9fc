//! Crash recovery: what `state` and `delete --force` make of the state a
//! killed or broken hull leaves behind.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Writes `bytes` as a container's state.json and checks that `state`
/// reports it as corrupt, naming the file, not as a missing container or a
/// panic.
fn assert_corrupt_state_reported(prefix: &str, bytes: impl FnOnce(&str) -> Vec<u8>) {
    if !hull_only("hull's state dir layout and messages") {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id(prefix);
    let dir = rt.root().join(&id);
    fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    fs::write(&file, bytes(&id)).unwrap();
    let o = rt.cmd(&["state", &id]).fail();
    assert!(
        o.stderr.contains("corrupt state") && o.stderr.contains(&*file.to_string_lossy()),
        "state should name the corrupt state.json: {o}"
    );
    assert!(!o.stderr.contains("panicked"), "{o}");
    // `list` names it on stderr and keeps stdout parseable.
    let l = rt.cmd(&["list", "--format", "json"]).ok();
    assert!(
        l.stderr.contains(&id) && l.stderr.contains("delete --force"),
        "list should report the unreadable container: {l}"
    );
    serde_json::from_str::<serde_json::Value>(&l.stdout).unwrap_or_else(|e| panic!("{e}: {l}"));
    // And `delete --force` removes it.
    rt.cmd(&["delete", "--force", &id]).ok();
    assert!(!dir.exists(), "delete --force left {}", dir.display());
}

/// A truncated state.json (a write cut short).
#[test]
fn recovery_truncated_state_json_is_reported_by_state() {
    assert_corrupt_state_reported("trunc", |id| {
        format!("{{\"ociVersion\":\"1.2.0\",\"id\":\"{id}\",\"sta").into_bytes()
    });
}

/// Binary garbage in state.json.
#[test]
fn recovery_garbled_state_json_is_reported_by_state() {
    assert_corrupt_state_reported("garbled", |_| {
        (0..256u32).map(|i| (i * 151 % 251) as u8).collect()
    });
}

/// A create killed before it wrote state.json leaves a bare state dir:
/// `state` says the container does not exist and `delete --force` removes it.
#[test]
fn recovery_bare_state_dir_is_removed_by_delete_force() {
    if !hull_only("hull's state dir layout") {
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("bare");
    let dir = rt.root().join(&id);
    fs::create_dir_all(&dir).unwrap();
    let o = rt.cmd(&["state", &id]).fail();
    assert!(o.stderr.contains("does not exist"), "{o}");
    rt.delete_force(&id).ok();
    assert!(!dir.exists(), "delete --force left {}", dir.display());
}

/// SIGKILL of `hull create` while a prestart hook runs (the container init
/// exists and waits for its parent): the init must not outlive it holding
/// the state dir's lock (it did: `delete --force ID` then hung forever), and
/// `delete --force ID` afterwards succeeds promptly, leaving no state dir
/// and no init process.
#[test]
fn recovery_sigkill_of_create_during_prestart_hook() {
    if !hull_only("hull's state dir layout and cgroup paths") {
        return;
    }
    let rt = Runtime::new();
    let tmp = TempDir::new("recovery");
    let hook_state = tmp.path().join("hook-state.json");
    let script = tmp.path().join("hook.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > {0}.tmp; mv {0}.tmp {0}\nexec sleep 5\n",
            hook_state.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let mut b = Bundle::new(&["sleep", "1000"]);
    b.config_mut()["hooks"] =
        json!({"prestart": [{"path": script.to_string_lossy(), "args": ["hook.sh"]}]});
    b.save();
    let id = unique_id("killed");
    rt.track(&id);
    let bp = b.path().to_string_lossy().to_string();
    let mut create = rt.command(&["create", "--bundle", &bp, &id]);
    create
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = create.spawn().expect("spawn hull create");

    // The hook has the state on stdin (with the init's pid) once it runs.
    let text = wait_file(&hook_state, Duration::from_secs(20));
    let Some(text) = text else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the prestart hook did not run within 20s");
    };
    let state: serde_json::Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("hook stdin is not the state ({e}): {text:?}"));
    let pid = state["pid"].as_i64().expect("pid in the hook's state") as i32;
    assert!(pid > 0, "{text}");
    assert!(
        fs::metadata(format!("/proc/{pid}")).is_ok(),
        "init {pid} should be alive, waiting for its parent"
    );

    // SIGKILL the create itself (not its process group), mid-hook.
    child.kill().unwrap();
    let st = child.wait().unwrap();
    assert!(!st.success(), "create should have died of SIGKILL: {st:?}");

    let start = Instant::now();
    let o = rt.delete_force(&id);
    assert!(o.success(), "delete --force after a killed create: {o}");
    assert!(
        start.elapsed() < Duration::from_secs(15),
        "delete --force took {:?}",
        start.elapsed()
    );
    assert!(
        wait_pid_gone(pid, Duration::from_secs(10)),
        "init {pid} still alive after delete --force"
    );
    let dir = rt.root().join(&id);
    assert!(!dir.exists(), "state dir {} left behind", dir.display());
    // state.json ("creating") is written before the cgroup is made, so
    // delete --force knows the cgroup and removes it too.
    let left = cgroup_leftovers(&format!("/hull/{id}"));
    assert!(left.is_empty(), "cgroup dirs left behind: {left:?}");
    // A second delete --force of the gone container still succeeds.
    rt.delete_force(&id).ok();
}

/// A garbled state.json does not stop `delete --force`: the container's
/// processes and cgroup go (found through the saved config), then the dir.
#[test]
fn recovery_delete_force_of_a_garbled_state_removes_everything() {
    if !hull_only("hull's state dir layout") {
        return;
    }
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("garbdel");
    rt.create(&b, &id).ok();
    let pid = rt.pid(&id);
    fs::write(rt.root().join(&id).join("state.json"), b"{not json").unwrap();
    rt.cmd(&["state", &id]).fail();
    let o = rt.delete_force(&id);
    assert!(o.success(), "{o}");
    assert!(
        wait_pid_gone(pid, Duration::from_secs(10)),
        "init {pid} survived"
    );
    assert!(!rt.root().join(&id).exists(), "state dir left behind");
    let left = cgroup_leftovers(&format!("/hull/{id}"));
    assert!(left.is_empty(), "cgroup dirs left behind: {left:?}");
}

// ---------------------------------------------------------------------------
// Crash points: `hull create` / `hull run` SIGKILLed at a precise stage
// (strace's fault injection on hull's own syscalls, without -f so only the
// hull process itself is hit, or a hook that signals readiness), then
// `delete --force` must remove everything.
// ---------------------------------------------------------------------------

/// Pids in the container's cgroup (`/hull/ID`), from outside.
fn cgroup_pids(id: &str) -> Vec<i32> {
    let dir = cgroup_dir("pids", &format!("/hull/{id}"));
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// After `delete --force ID`: no state dir, cgroup, process or mount.
fn assert_all_gone(rt: &Runtime, id: &str, pids: &[i32], bundle: &Bundle) {
    let dir = rt.root().join(id);
    assert!(!dir.exists(), "state dir {} left behind", dir.display());
    for &pid in pids {
        assert!(
            wait_pid_gone(pid, Duration::from_secs(10)),
            "process {pid} of {id} survived delete --force"
        );
    }
    let left = cgroup_leftovers(&format!("/hull/{id}"));
    assert!(left.is_empty(), "cgroup dirs left behind: {left:?}");
    let mounts = mountinfo_mentioning(&bundle.path().to_string_lossy());
    assert!(mounts.is_empty(), "mounts left behind: {mounts:?}");
    let o = rt.cmd(&["state", id]).fail();
    assert!(o.stderr.contains("does not exist"), "{o}");
}

/// Runs `hull create` under strace, SIGKILLed on entry to the `when`-th
/// call of `syscall`. Returns false (after printing why) without strace.
fn create_killed_at(rt: &Runtime, b: &Bundle, id: &str, syscall: &str, when: u32) -> bool {
    if std::process::Command::new("strace")
        .arg("-V")
        .stdout(Stdio::null())
        .status()
        .is_err()
    {
        eprintln!("SKIPPED: strace is not installed (it injects the SIGKILL)");
        return false;
    }
    rt.track(id);
    let bp = b.path().to_string_lossy().to_string();
    let mut c = std::process::Command::new("strace");
    c.args(["-qq", "-o", "/dev/null", "-e"])
        .arg(format!("inject={syscall}:signal=KILL:when={when}"))
        .arg(runtime_bin())
        .arg("--root")
        .arg(rt.root())
        .args(["create", "--bundle", &bp, id]);
    let scratch = TempDir::new("strace");
    let o = run_cmd(c, scratch.path(), CmdOpts::default());
    assert!(
        !o.success() && !o.timed_out,
        "create should have been killed at {syscall} #{when}: {o}"
    );
    true
}

/// Killed after the state dir is made and before state.json is written
/// (on the flock that follows the mkdir): the dir still has its temporary
/// name `~ID.PID`, so `state` reports no such container, `list` shows
/// nothing, and `delete --force ID` removes it.
#[test]
fn recovery_create_killed_before_state_is_written() {
    if !hull_only("hull's state dir layout") {
        return;
    }
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("crashdir");
    if !create_killed_at(&rt, &b, &id, "flock", 1) {
        return;
    }
    let creating: Vec<_> = fs::read_dir(rt.root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        creating.len() == 1 && creating[0].starts_with(&format!("~{id}.")),
        "the kill should leave the state dir under its temporary name: {creating:?}"
    );
    assert!(
        cgroup_leftovers(&format!("/hull/{id}")).is_empty(),
        "no cgroup yet"
    );
    let o = rt.cmd(&["state", &id]).fail();
    assert!(o.stderr.contains("does not exist"), "{o}");
    let list = rt.cmd(&["list", "-q"]).ok();
    assert!(list.stdout.trim().is_empty(), "{list}");
    rt.delete_force(&id).ok();
    let left: Vec<_> = fs::read_dir(rt.root()).unwrap().flatten().collect();
    assert!(left.is_empty(), "delete --force left {left:?}");
    assert_all_gone(&rt, &id, &[], &b);
}

/// Killed just after the init is cloned, while the init waits for the
/// parent's go-ahead (the first sendto is that message): the state says
/// "creating" with no pid, so `state` and `list` read it as stopped; the
/// init notices its parent is gone and exits; `delete --force` removes the
/// cgroup and the dir.
#[test]
fn recovery_create_killed_after_the_init_is_cloned() {
    if !hull_only("hull's state dir layout and cgroup paths") {
        return;
    }
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("crashfork");
    if !create_killed_at(&rt, &b, &id, "sendto", 1) {
        return;
    }
    let state: serde_json::Value =
        serde_json::from_slice(&fs::read(rt.root().join(&id).join("state.json")).unwrap()).unwrap();
    assert_eq!(state["status"], "creating", "{state}");
    assert!(
        cgroup_dir("pids", &format!("/hull/{id}")).exists(),
        "the cgroup should exist: the init was cloned into it"
    );
    let pids = cgroup_pids(&id);
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"));
    let list = rt.cmd(&["list", "--format", "json"]).ok();
    let listed: serde_json::Value = serde_json::from_str(&list.stdout).unwrap();
    assert!(
        listed
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["id"] == id.as_str() && c["status"] == "stopped"),
        "list should report {id} as stopped: {list}"
    );
    rt.delete_force(&id).ok();
    assert_all_gone(&rt, &id, &pids, &b);
}

/// Killed on the last state write (the second rename): the init is set up
/// and waits for `start`, but state.json still says "creating". The init
/// lives on in its cgroup; `delete --force` kills it through the cgroup.
#[test]
fn recovery_create_killed_when_the_init_is_ready() {
    if !hull_only("hull's state dir layout and cgroup paths") {
        return;
    }
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("crashready");
    if !create_killed_at(&rt, &b, &id, "rename", 2) {
        return;
    }
    let pids = cgroup_pids(&id);
    assert_eq!(pids.len(), 1, "the waiting init should be in the cgroup");
    assert!(rt.root().join(&id).join("start.sock").exists());
    rt.delete_force(&id).ok();
    assert_all_gone(&rt, &id, &pids, &b);
}

/// Writes an executable hook script that copies its stdin (the state) to
/// `ready` and sleeps.
fn sleeping_hook(dir: &std::path::Path, ready: &std::path::Path) -> String {
    let script = dir.join("hook.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\ncat > {0}.tmp; mv {0}.tmp {0}\nexec sleep 5\n",
            ready.display()
        ),
    )
    .unwrap();
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script.to_string_lossy().into_owned()
}

/// `hull run` (foreground) SIGKILLed during a createRuntime hook: as for
/// create, the init exits and `delete --force` removes everything.
#[test]
fn recovery_run_killed_during_create_runtime_hook() {
    if !hull_only("hull's state dir layout and cgroup paths") {
        return;
    }
    let rt = Runtime::new();
    let tmp = TempDir::new("recovery");
    let ready = tmp.path().join("ready.json");
    let script = sleeping_hook(tmp.path(), &ready);
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config_mut()["hooks"] = json!({"createRuntime": [{"path": script, "args": ["hook.sh"]}]});
    b.save();
    let id = unique_id("runhook");
    rt.track(&id);
    let bp = b.path().to_string_lossy().to_string();
    let mut run = rt.command(&["run", "--bundle", &bp, &id]);
    run.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = run.spawn().expect("spawn hull run");
    let Some(text) = wait_file(&ready, Duration::from_secs(20)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the createRuntime hook did not run within 20s");
    };
    let state: serde_json::Value = serde_json::from_str(&text).unwrap();
    let pid = state["pid"].as_i64().unwrap() as i32;
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        wait_pid_gone(pid, Duration::from_secs(10)),
        "init {pid} should exit once run is gone"
    );
    assert_eq!(rt.status(&id).as_deref(), Some("stopped"));
    rt.delete_force(&id).ok();
    assert_all_gone(&rt, &id, &[pid], &b);
}

/// `hull run` (foreground) SIGKILLed after the container started: the
/// container keeps running (state and list say so); killed from outside it
/// reads stopped; `delete` then removes everything.
#[test]
fn recovery_run_killed_while_the_container_runs() {
    if !hull_only("hull's state dir layout and cgroup paths") {
        return;
    }
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("runkilled");
    rt.track(&id);
    let bp = b.path().to_string_lossy().to_string();
    let mut run = rt.command(&["run", "--bundle", &bp, &id]);
    run.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    let mut child = run.spawn().expect("spawn hull run");
    let deadline = Instant::now() + Duration::from_secs(20);
    while rt.status(&id).as_deref() != Some("running") {
        assert!(Instant::now() < deadline, "{id} never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let pid = rt.pid(&id);
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let list = rt.cmd(&["list", "-q"]).ok();
    assert!(list.stdout.lines().any(|l| l == id), "{list}");
    // SAFETY: kill(2) of the container's init, a plain pid.
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(wait_pid_gone(pid, Duration::from_secs(10)));
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));
    rt.delete(&id).ok();
    assert_all_gone(&rt, &id, &[pid], &b);
}

// ---------------------------------------------------------------------------
// State dir faults: --root on a full or read-only filesystem (a small tmpfs
// mounted in a private mount namespace of `unshare -m`, so the host's
// mounts are untouched), and a --root that does not exist yet.
// ---------------------------------------------------------------------------

/// Mounts a tmpfs with `opts` on a fresh dir inside `unshare -m`, runs the
/// shell lines `prep` there ($MNT is the mount), then `hull --root $ROOT
/// create` of a `sleep` bundle. Returns hull's output (stdout ends with
/// the list of what is left under $MNT, apart from a file named `fill`),
/// the id and the bundle.
fn create_on_tmpfs(opts: &str, prep: &str, root_sub: &str) -> (Out, String, Bundle) {
    let mnt = TempDir::new("tmpfs-root");
    let scratch = TempDir::new("tmpfs-scratch");
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("fsfault");
    let script = format!(
        "mount -t tmpfs -o {opts} tmpfs \"$MNT\" || exit 99\n{prep}\n\
         \"$HULL\" --root \"$MNT{root_sub}\" create --bundle \"$BUNDLE\" \"$ID\"; rc=$?\n\
         echo '--- left:'; find \"$MNT\" -mindepth 1 ! -name fill\nexit $rc\n"
    );
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script])
        .env("MNT", mnt.path())
        .env("HULL", runtime_bin())
        .env("BUNDLE", b.path())
        .env("ID", &id);
    let o = run_cmd(c, scratch.path(), CmdOpts::default());
    assert_ne!(o.code, Some(99), "mount of the tmpfs failed: {o}");
    (o, id, b)
}

/// The create failed clearly (a `hull:` line naming `what`), and left
/// nothing: no file under the tmpfs, no cgroup, no mount.
fn assert_failed_cleanly(o: &Out, id: &str, b: &Bundle, what: &[&str]) {
    assert!(!o.success() && !o.timed_out, "create should fail: {o}");
    let last = o.stderr.lines().last().unwrap_or("");
    assert!(last.starts_with("hull: "), "no hull: error line: {o}");
    for w in what {
        assert!(o.stderr.contains(w), "error should mention {w:?}: {o}");
    }
    assert!(!o.stderr.contains("panicked"), "{o}");
    let left = o.stdout.split("--- left:").nth(1).unwrap_or("?").trim();
    assert!(
        left.is_empty() || !left.contains(id) && !left.contains("state.json"),
        "left under the state root: {left:?}\n{o}"
    );
    let cg = cgroup_leftovers(&format!("/hull/{id}"));
    assert!(cg.is_empty(), "cgroup dirs left behind: {cg:?}");
    let mounts = mountinfo_mentioning(&b.path().to_string_lossy());
    assert!(mounts.is_empty(), "mounts left behind: {mounts:?}");
}

/// A full state root: the first state write fails with ENOSPC; no
/// partial state.json, no temp file and no state dir remain.
#[test]
fn recovery_state_root_full_before_the_first_state_write() {
    if !hull_only("hull's state dir layout") {
        return;
    }
    let (o, id, b) = create_on_tmpfs(
        "size=64k",
        "dd if=/dev/zero of=\"$MNT/fill\" bs=4096 2>/dev/null",
        "",
    );
    assert_failed_cleanly(&o, &id, &b, &["ENOSPC", ".state.json.tmp"]);
}

/// One free page: the "creating" state fits, then saving config.json
/// after the init is cloned fails with ENOSPC; the init is killed and the
/// cgroup and the state dir go.
#[test]
fn recovery_state_root_full_after_the_init_is_cloned() {
    if !hull_only("hull's state dir layout") {
        return;
    }
    let (o, id, b) = create_on_tmpfs(
        "size=64k",
        "dd if=/dev/zero of=\"$MNT/fill\" bs=4096 2>/dev/null; truncate -s -4096 \"$MNT/fill\"",
        "",
    );
    assert_failed_cleanly(&o, &id, &b, &["ENOSPC", "config.json"]);
}

/// A read-only state root, existing or to be created below it.
#[test]
fn recovery_state_root_read_only() {
    if !hull_only("hull's state dir layout") {
        return;
    }
    let (o, id, b) = create_on_tmpfs("ro", "", "");
    assert_failed_cleanly(&o, &id, &b, &["EROFS", "create state dir"]);
    let (o, id, b) = create_on_tmpfs("ro", "", "/hull");
    assert_failed_cleanly(&o, &id, &b, &["EROFS", "create state root"]);
}

/// A --root that does not exist yet (like /run/hull after a reboot) is
/// made on demand, mode 0700; `state` and `list` on a missing root say
/// there is no such container / list nothing, and create nothing.
#[test]
fn recovery_missing_state_root_is_created_on_demand() {
    if !hull_only("hull's state root handling") {
        return;
    }
    let base = TempDir::new("noroot");
    let scratch = TempDir::new("noroot-scratch");
    let root = base.path().join("run/hull");
    let hull = |args: &[&str]| {
        let mut c = std::process::Command::new(runtime_bin());
        c.arg("--root").arg(&root).args(args);
        run_cmd(c, scratch.path(), CmdOpts::default())
    };
    let o = hull(&["state", "nothing"]).fail();
    assert!(o.stderr.contains("does not exist"), "{o}");
    let o = hull(&["list", "-q"]).ok();
    assert!(o.stdout.trim().is_empty(), "{o}");
    assert!(
        !root.exists(),
        "state/list should not create {}",
        root.display()
    );
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("ondemand");
    let bp = b.path().to_string_lossy().to_string();
    let o = hull(&["create", "--bundle", &bp, &id]);
    let cleanup = || hull(&["delete", "--force", &id]);
    if !o.success() {
        cleanup();
        panic!("create with a missing --root: {o}");
    }
    let mode = fs::metadata(&root).unwrap().permissions().mode() & 0o777;
    let st = hull(&["state", &id]);
    cleanup().ok();
    assert_eq!(mode, 0o700, "the state root's mode");
    assert!(st.success() && st.stdout.contains("\"created\""), "{st}");
    assert!(!root.join(&id).exists());
}

/// Spawns `hull run` of bundle `b` as `id` (stdout to `out`), waits until
/// the container runs, and returns the child.
fn spawn_run(rt: &Runtime, b: &Bundle, id: &str, out: &std::path::Path) -> std::process::Child {
    b.save();
    rt.track(id);
    let mut cmd = rt.command(&["run", "--bundle", &b.path().to_string_lossy(), id]);
    cmd.stdin(std::process::Stdio::null())
        .stdout(fs::File::create(out).unwrap())
        .stderr(std::process::Stdio::null());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while rt.status(id).as_deref() != Some("running") {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("container {id} never reached running");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

fn wait_child(child: &mut std::process::Child, what: &str) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("{what}: run did not return");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A container that exits while `run` is busy forwarding a stream of
/// signals keeps its exit code: every forwarded signal reaches it (it
/// counts them) and the status is the container's own.
#[test]
fn run_keeps_the_exit_code_while_signals_are_forwarded() {
    let dir = TempDir::new("sigflood");
    for round in 0..5 {
        let rt = Runtime::new();
        let mut b = Bundle::new(&[]);
        // Exits 7 on its 20th SIGUSR1; the handler is installed before the
        // container counts as running (the file appears first).
        b.set_args(&[
            "sh",
            "-c",
            "n=0; trap 'n=$((n+1)); [ $n -ge 20 ] && exit 7' USR1; touch /dev/shm/ready; \
             while :; do sleep 0.01; done",
        ]);
        let id = unique_id("sigflood");
        let mut child = spawn_run(&rt, &b, &id, &dir.path().join("out"));
        let pid = rt.pid(&id);
        let ready = format!("/proc/{pid}/root/dev/shm/ready");
        assert!(wait_file_exists(&ready), "container never got ready");
        let run_pid = nix::unistd::Pid::from_raw(child.id() as i32);
        let mut sent = 0;
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            // Signals sent to `run` itself, as a shell or engine would.
            let _ = nix::sys::signal::kill(run_pid, nix::sys::signal::Signal::SIGUSR1);
            sent += 1;
            assert!(sent < 5000, "round {round}: run never returned");
            std::thread::sleep(Duration::from_millis(2));
        };
        assert_eq!(
            status.code(),
            Some(7),
            "round {round}: run's status {status:?} after {sent} signals"
        );
        assert!(rt.state(&id).is_err(), "run removed the container");
    }
}

fn wait_file_exists(p: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if std::path::Path::new(p).exists() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    false
}

/// Zombie children of `pid` (processes whose parent it is, in state Z).
fn zombies_of(pid: i32) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|p| {
            let Ok(stat) = fs::read_to_string(format!("/proc/{p}/stat")) else {
                return false;
            };
            let Some((_, rest)) = stat.rsplit_once(')') else {
                return false;
            };
            let f: Vec<&str> = rest.split_whitespace().collect();
            f.first() == Some(&"Z") && f.get(1).and_then(|pp| pp.parse().ok()) == Some(pid)
        })
        .collect()
}

/// Without a pid namespace the container's orphans are reparented to
/// `run`, hull's subreaper: it reaps them as they exit (no zombie piles
/// up while the container runs) and still returns the init's own status,
/// not an orphan's.
#[test]
fn run_as_subreaper_reaps_orphans_and_keeps_the_init_status() {
    let dir = TempDir::new("reaper");
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    b.remove_namespace("pid");
    // Ten orphans (their parent subshell exits at once) that exit with 3,
    // then the init waits and exits with 5.
    b.set_args(&[
        "sh",
        "-c",
        "for i in 1 2 3 4 5 6 7 8 9 10; do (sh -c 'sleep 0.2; exit 3' &); done; \
         touch /dev/shm/forked; sleep 2; exit 5",
    ]);
    let id = unique_id("reaper");
    let mut child = spawn_run(&rt, &b, &id, &dir.path().join("out"));
    let run_pid = child.id() as i32;
    let pid = rt.pid(&id);
    assert!(wait_file_exists(&format!(
        "/proc/{pid}/root/dev/shm/forked"
    )));
    // The orphans have exited by now; give the reaper a moment.
    std::thread::sleep(Duration::from_millis(900));
    let z = zombies_of(run_pid);
    assert!(
        z.is_empty(),
        "zombies left under run (pid {run_pid}): {z:?}"
    );
    let status = wait_child(&mut child, "reaper");
    assert_eq!(status.code(), Some(5), "run's status {status:?}");
}

/// state.json writes are never synced, on a persistent state root as on a
/// tmpfs: the file describes live processes, which a power loss ends anyway,
/// so an fsync (about 1 ms each on this host's ext4) would buy nothing.
/// Counted with strace over a whole `run` on a directory of the (persistent)
/// target dir and on a tmpfs.
#[test]
fn recovery_state_writes_are_never_synced() {
    if !hull_only("hull's state write policy") {
        return;
    }
    if Command::new("strace").arg("-V").output().is_err() {
        println!("SKIPPED: strace is not installed");
        return;
    }
    let b = Bundle::new(&["true"]);
    let bundle = b.path().to_string_lossy().to_string();
    let persistent = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(unique_id("root"));
    let volatile = TempDir::new("tmpfs-root");
    let count = |root: &str, mount_tmpfs: bool| -> usize {
        let id = unique_id("sync");
        let script = format!(
            "{}exec strace -f -q -e signal=none -e trace=fsync,fdatasync,sync,syncfs,sync_file_range \
             {} --root {root} run --bundle {bundle} {id}",
            if mount_tmpfs {
                format!("mount -t tmpfs tmpfs {root} && ")
            } else {
                String::new()
            },
            runtime_bin().display()
        );
        let o = Command::new("unshare")
            .args(["-m", "sh", "-c", &script])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(o.status.success(), "{script}: {err}");
        // Proof that strace traced the run at all: its exit line.
        assert!(err.contains("+++ exited with 0 +++"), "{script}: {err}");
        err.lines()
            .filter(|l| l.contains("sync(") || l.contains("sync_file_range("))
            .count()
    };
    fs::create_dir_all(&persistent).unwrap();
    let on_disk = count(&persistent.to_string_lossy(), false);
    let _ = fs::remove_dir_all(&persistent);
    let on_tmpfs = count(&volatile.path().to_string_lossy(), true);
    assert_eq!(
        on_disk,
        0,
        "state writes on {} were synced",
        persistent.display()
    );
    assert_eq!(on_tmpfs, 0, "state writes on a tmpfs root were synced");
}
