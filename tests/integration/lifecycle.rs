//! Container lifecycle: create/start/state/kill/delete, run, list.

use crate::common::*;
use std::fs;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

const SLEEP: &[&str] = &["sleep", "30"];

fn proc_exists(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[test]
fn create_start_kill_delete() {
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("life");

    rt.create(&b, &id).ok();
    let st = rt.state(&id).unwrap_or_else(|o| panic!("{o}"));
    assert_eq!(st["status"], "created", "state after create: {st}");
    assert_eq!(st["id"], id.as_str());
    let pid = st["pid"].as_i64().unwrap_or(0) as i32;
    assert!(pid > 0, "pid must be > 0: {st}");
    assert!(proc_exists(pid), "init pid {pid} not on the host");
    assert!(
        rt.root().join(&id).exists(),
        "no state dir {}/{id}",
        rt.root().display()
    );

    rt.start(&id).ok();
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    assert_eq!(rt.pid(&id), pid, "pid changed by start");

    rt.kill(&id, "KILL").ok();
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));

    rt.delete(&id).ok();
    assert!(
        !rt.root().join(&id).exists(),
        "state dir remains after delete"
    );
    assert!(
        rt.state(&id).is_err(),
        "state of a deleted container succeeded"
    );
    assert!(wait_pid_gone(pid, Duration::from_secs(5)));
}

#[test]
fn state_json_has_oci_fields() {
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("state");
    rt.create(&b, &id).ok();
    let st = rt.state(&id).unwrap_or_else(|o| panic!("{o}"));
    for k in ["ociVersion", "id", "status", "pid", "bundle"] {
        assert!(st.get(k).is_some(), "state lacks {k}: {st}");
    }
    let bundle = st["bundle"].as_str().unwrap();
    assert_eq!(
        fs::canonicalize(bundle).unwrap(),
        fs::canonicalize(b.path()).unwrap(),
        "bundle path in state"
    );
}

#[test]
fn start_on_running_fails() {
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("start2");
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    rt.start(&id).fail();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
}

#[test]
fn delete_running_needs_force() {
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("delrun");
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    let pid = rt.pid(&id);

    rt.delete(&id).fail();
    assert_eq!(
        rt.status(&id).as_deref(),
        Some("running"),
        "delete without --force changed it"
    );
    assert!(proc_exists(pid));

    rt.delete_force(&id).ok();
    assert!(rt.state(&id).is_err(), "state after delete --force");
    assert!(
        wait_pid_gone(pid, Duration::from_secs(10)),
        "init {pid} survived delete --force"
    );
    assert!(!rt.root().join(&id).exists());
}

#[test]
fn delete_force_of_created_container() {
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("delcr");
    rt.create(&b, &id).ok();
    let pid = rt.pid(&id);
    rt.delete_force(&id).ok();
    assert!(wait_pid_gone(pid, Duration::from_secs(10)));
    assert!(rt.state(&id).is_err());
}

#[test]
fn create_existing_id_fails() {
    let b = Bundle::new(SLEEP);
    let b2 = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("dup");
    rt.create(&b, &id).ok();
    let pid = rt.pid(&id);
    rt.create(&b2, &id).fail();
    // The original is untouched.
    let st = rt.state(&id).unwrap_or_else(|o| panic!("{o}"));
    assert_eq!(st["status"], "created");
    assert_eq!(st["pid"].as_i64().unwrap() as i32, pid);
}

#[test]
fn run_exit_code_propagates() {
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let (code, _, err) = rt.run_container(&mut b, &["sh", "-c", "exit 3"]);
    assert_eq!(code, 3, "stderr: {err}");
    let (code, out, err) = rt.run_container(&mut b, &["sh", "-c", "echo hi; exit 0"]);
    assert_eq!(code, 0, "stderr: {err}");
    assert_eq!(out.trim(), "hi");
}

#[test]
fn run_removes_container_after_exit() {
    let mut b = Bundle::new(&["true"]);
    let rt = Runtime::new();
    let id = unique_id("runrm");
    b.set_args(&["true"]);
    rt.run_with(&b, &id, &[]).ok();
    assert!(
        rt.state(&id).is_err(),
        "run without --keep left the container"
    );
    assert!(!rt.root().join(&id).exists());
}

#[test]
fn run_killed_by_signal_gives_128_plus_sig() {
    let b = Bundle::new(&["sleep", "100"]);
    b.save();
    let rt = Runtime::new();
    let id = unique_id("sig");
    rt.track(&id);
    let bp = b.path().to_string_lossy().to_string();
    let mut cmd = rt.command(&["run", "--bundle", &bp, &id]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(15);
    while rt.status(&id).as_deref() != Some("running") {
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!("container never reached running");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    rt.kill(&id, "KILL").ok();
    let deadline = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("run did not return after its container was killed");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(status.code(), Some(137), "run exit status {status:?}");
}

#[test]
fn run_detach_returns_immediately() {
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("det");
    let t0 = Instant::now();
    rt.run_with(&b, &id, &["-d"]).ok();
    assert!(
        t0.elapsed() < Duration::from_secs(10),
        "run -d took {:?}",
        t0.elapsed()
    );
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    let pid = rt.pid(&id);
    assert!(proc_exists(pid));
}

#[test]
fn run_keep_leaves_stopped_container() {
    let b = Bundle::new(&["true"]);
    let rt = Runtime::new();
    let id = unique_id("keep");
    rt.run_with(&b, &id, &["--keep"]).ok();
    let st = rt
        .state(&id)
        .unwrap_or_else(|o| panic!("state after run --keep: {o}"));
    assert_eq!(st["status"], "stopped", "{st}");
    rt.delete(&id).ok();
    assert!(rt.state(&id).is_err());
}

#[test]
fn list_formats() {
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("list");
    rt.create(&b, &id).ok();

    let table = rt.cmd(&["list"]).ok().stdout;
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"],
        "table header: {table}"
    );
    assert!(
        table
            .lines()
            .skip(1)
            .any(|l| l.split_whitespace().next() == Some(id.as_str())),
        "id missing from table: {table}"
    );

    let js = rt.cmd(&["list", "--format", "json"]).ok().stdout;
    let v: serde_json::Value =
        serde_json::from_str(&js).unwrap_or_else(|e| panic!("list json ({e}): {js}"));
    let arr = v.as_array().expect("list --format json must be an array");
    assert!(
        arr.iter().any(|c| c["id"] == id.as_str()),
        "id missing from {js}"
    );

    let q = rt.cmd(&["list", "-q"]).ok().stdout;
    let lines: Vec<&str> = q.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines, [id.as_str()], "list -q output: {q:?}");
}

/// A reader that closed its end (`| head`, `| grep -q`) before `state`,
/// `list` or `ps` wrote is not a failure: exit 0, no panic on stderr.
#[test]
fn output_to_a_closed_pipe_is_not_a_panic() {
    if !hull_only("runc is killed by SIGPIPE there (Go's default for stdout)") {
        return;
    }
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("pipe");
    rt.create(&b, &id).ok();
    for args in [
        vec!["state", id.as_str()],
        vec!["list"],
        vec!["list", "--format", "json"],
        vec!["ps", "--format", "json", id.as_str()],
        vec!["features"],
    ] {
        let (read_end, write_end) = nix::unistd::pipe().expect("pipe");
        drop(read_end);
        let out = std::process::Command::new(runtime_bin())
            .arg("--root")
            .arg(rt.root())
            .args(&args)
            .stdout(Stdio::from(write_end))
            .output()
            .expect("spawn hull");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && !stderr.contains("panicked"),
            "{args:?} into a closed pipe: {:?}, stderr: {stderr}",
            out.status
        );
    }
}

/// `list` reads state.json without the container's lock: a command holding
/// the lock (here the test itself) does not stall it. A "creating" state
/// whose create still holds the lock is listed as creating; once nobody
/// holds it (the create died) it is stopped.
#[test]
fn list_does_not_wait_for_locked_containers() {
    use nix::fcntl::{Flock, FlockArg};
    if !hull_only("hull's state dir lock and state.json layout") {
        return;
    }
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("lslock");
    rt.create(&b, &id).ok();
    let dir = rt.root().join(&id);
    let lock = Flock::lock(fs::File::open(&dir).unwrap(), FlockArg::LockExclusive).unwrap();

    // A create still at work: its state says "creating", its lock is held.
    let busy = unique_id("lsbusy");
    let busy_dir = rt.root().join(&busy);
    fs::create_dir(&busy_dir).unwrap();
    let mut st: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join("state.json")).unwrap()).unwrap();
    st["id"] = busy.as_str().into();
    st["status"] = "creating".into();
    st["pid"] = 0.into();
    st["pidStartTime"] = 0.into();
    fs::write(busy_dir.join("state.json"), st.to_string()).unwrap();
    let busy_lock =
        Flock::lock(fs::File::open(&busy_dir).unwrap(), FlockArg::LockExclusive).unwrap();

    let list = |what: &str| -> serde_json::Value {
        let o = rt.cmd_opts(
            &["list", "--format", "json"],
            CmdOpts {
                timeout: Some(Duration::from_secs(5)),
                ..Default::default()
            },
        );
        assert!(o.success(), "list {what}: {o}");
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("list json ({e}): {o}"))
    };
    let status_of = |v: &serde_json::Value, id: &str| -> String {
        let arr = v.as_array().expect("list --format json must be an array");
        let c = arr
            .iter()
            .find(|c| c["id"] == id)
            .unwrap_or_else(|| panic!("{id} missing from {v}"));
        c["status"].as_str().unwrap_or("").to_string()
    };
    let v = list("with both locks held");
    assert_eq!(status_of(&v, &id), "created", "{v}");
    assert_eq!(status_of(&v, &busy), "creating", "{v}");

    drop(busy_lock);
    drop(lock);
    let v = list("after the locks went");
    assert_eq!(status_of(&v, &busy), "stopped", "{v}");
    rt.delete_force(&busy).ok();
    rt.delete_force(&id).ok();
    assert!(!busy_dir.exists() && !dir.exists());
}

#[test]
fn list_empty_root() {
    let rt = Runtime::new();
    let q = rt.cmd(&["list", "-q"]).ok().stdout;
    assert!(q.trim().is_empty(), "{q:?}");
}

/// Starts a detached container that echoes got-term on SIGTERM, sends
/// `sig`, and checks the trap ran and the container stopped.
fn kill_term_with(sig: &str) {
    let mut b = Bundle::new(&[]);
    let out = b.out_dir();
    b.set_args(&[
        "sh",
        "-c",
        "trap 'echo got-term >> /out/log; exit 0' TERM; echo ready >> /out/log; \
         while :; do sleep 0.1; done",
    ]);
    let rt = Runtime::new();
    let id = unique_id("kterm");
    rt.run_with(&b, &id, &["-d"]).ok();
    let log = out.join("log");
    wait_file_contains(&log, "ready", Duration::from_secs(10)).expect("container never ready");
    rt.kill(&id, sig).ok();
    let s = wait_file_contains(&log, "got-term", Duration::from_secs(10));
    assert!(
        s.is_some(),
        "signal {sig:?} did not reach the trap: {:?}",
        fs::read_to_string(&log)
    );
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));
}

#[test]
fn kill_term_by_name() {
    kill_term_with("TERM");
}

#[test]
fn kill_term_by_sig_name() {
    kill_term_with("SIGTERM");
}

#[test]
fn kill_term_by_number() {
    kill_term_with("15");
}

#[test]
fn kill_default_signal_is_term() {
    let mut b = Bundle::new(&[]);
    let out = b.out_dir();
    b.set_args(&[
        "sh",
        "-c",
        "trap 'echo got-term >> /out/log; exit 0' TERM; echo ready >> /out/log; \
         while :; do sleep 0.1; done",
    ]);
    let rt = Runtime::new();
    let id = unique_id("kdef");
    rt.run_with(&b, &id, &["-d"]).ok();
    let log = out.join("log");
    wait_file_contains(&log, "ready", Duration::from_secs(10)).expect("container never ready");
    rt.cmd(&["kill", &id]).ok();
    assert!(wait_file_contains(&log, "got-term", Duration::from_secs(10)).is_some());
}

fn children_of(pid: i32) -> Vec<i32> {
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir(format!("/proc/{pid}/task")) {
        for t in rd.flatten() {
            if let Ok(s) = fs::read_to_string(t.path().join("children")) {
                v.extend(s.split_whitespace().filter_map(|x| x.parse::<i32>().ok()));
            }
        }
    }
    v
}

#[test]
fn kill_all_kills_every_process() {
    let mut b = Bundle::new(&[]);
    let out = b.out_dir();
    b.set_args(&[
        "sh",
        "-c",
        "sleep 100 & sleep 100 & echo ready > /out/r; wait",
    ]);
    let rt = Runtime::new();
    let id = unique_id("kall");
    rt.run_with(&b, &id, &["-d"]).ok();
    wait_file(&out.join("r"), Duration::from_secs(10)).expect("never ready");
    let init = rt.pid(&id);
    let kids = children_of(init);
    assert_eq!(
        kids.len(),
        2,
        "expected two sleep children of {init}: {kids:?}"
    );
    rt.cmd(&["kill", "--all", &id, "KILL"]).ok();
    for k in kids {
        assert!(
            wait_pid_gone(k, Duration::from_secs(10)),
            "child {k} survived kill --all"
        );
    }
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));
}

#[test]
fn kill_unknown_signal_fails() {
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("kbad");
    rt.run_with(&b, &id, &["-d"]).ok();
    rt.kill(&id, "SIGNOTASIGNAL").fail();
    rt.kill(&id, "NOPE").fail();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
}

#[test]
fn state_unknown_id_fails() {
    let rt = Runtime::new();
    rt.cmd(&["state", &unique_id("nosuch")]).fail();
}

#[test]
fn kill_and_delete_unknown_id_fail() {
    let rt = Runtime::new();
    let id = unique_id("nosuch");
    rt.kill(&id, "KILL").fail();
    rt.delete(&id).fail();
}

#[test]
fn pid_file_holds_init_host_pid() {
    let b = Bundle::new(SLEEP);
    let rt = Runtime::new();
    let id = unique_id("pidf");
    let pf = b.path().join("init.pid");
    rt.create_with(&b, &id, &["--pid-file", pf.to_str().unwrap()])
        .ok();
    let s = fs::read_to_string(&pf).expect("pid file not written");
    let pid: i32 = s
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file content {s:?}"));
    assert_eq!(pid, rt.pid(&id));
    // It is the host pid of the container's init (pid 1 in its pid ns).
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let nspid = status
        .lines()
        .find(|l| l.starts_with("NSpid:"))
        .unwrap()
        .to_string();
    let last = nspid.split_whitespace().last().unwrap();
    assert_eq!(last, "1", "{nspid}");
}

#[test]
fn stopped_container_is_stopped_after_exit() {
    let b = Bundle::new(&["true"]);
    let rt = Runtime::new();
    let id = unique_id("exit");
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));
    rt.delete(&id).ok();
}

#[test]
fn cgroup_pause_freezes_and_resume_thaws() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "60"]);
    b.set_args(&["sleep", "60"]);
    let id = unique_id("pause");
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    let pid = rt.pid(&id);
    rt.cmd(&["pause", &id]).ok();
    assert_eq!(rt.status(&id).as_deref(), Some("paused"));
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap();
    let state = stat
        .rsplit(')')
        .next()
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_string();
    assert!(state == "D" || state == "S", "frozen init in state {state}");
    let o = rt.cmd(&["exec", &id, "true"]).fail();
    assert!(o.stderr.contains("paused"), "{o}");
    rt.cmd(&["pause", &id]).fail();
    rt.cmd(&["resume", &id]).ok();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.cmd(&["resume", &id]).fail();
    // A paused container can be force-deleted.
    rt.cmd(&["pause", &id]).ok();
    rt.delete_force(&id).ok();
    assert!(
        wait_pid_gone(pid, Duration::from_secs(10)),
        "paused init survived delete --force"
    );
}

#[test]
fn ps_lists_the_container_processes() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("ps");
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    let pid = rt.pid(&id);
    let o = rt.cmd(&["ps", "--format", "json", &id]).ok();
    let pids: Vec<i32> =
        serde_json::from_str(o.stdout.trim()).unwrap_or_else(|e| panic!("{e}: {o}"));
    assert_eq!(pids, vec![pid]);
    let o = rt.cmd(&["ps", &id]).ok();
    assert!(o.stdout.lines().next().unwrap_or("").contains("PID"), "{o}");
    assert!(o.stdout.contains(&pid.to_string()), "{o}");
}

/// The state dir lock makes concurrent commands on one id safe: of two
/// simultaneous `start`s exactly one wins, and the container runs once.
#[test]
fn concurrent_starts_on_one_id_start_it_once() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let out = b.out_dir();
    b.set_args(&["sh", "-c", "echo started >> /out/log; sleep 30"]);
    let id = unique_id("race");
    rt.create(&b, &id).ok();
    let spawn = || {
        rt.command(&["start", &id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap()
    };
    let (mut a, mut c) = (spawn(), spawn());
    let ok = [a.wait().unwrap().success(), c.wait().unwrap().success()];
    assert_eq!(
        ok.iter().filter(|s| **s).count(),
        1,
        "both or neither start succeeded: {ok:?}"
    );
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    let log = wait_file_contains(&out.join("log"), "started", Duration::from_secs(10))
        .unwrap_or_default();
    assert_eq!(log.lines().count(), 1, "container process ran {log:?}");
}

/// An init killed from outside (not through hull) reads as stopped, and a
/// later process that reuses nothing of it is not mistaken for it.
#[test]
fn init_killed_outside_hull_reads_stopped() {
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("outside");
    rt.create_start(&b, &id);
    let pid = rt.pid(&id);
    unsafe { libc::kill(pid, libc::SIGKILL) };
    assert!(wait_pid_gone(pid, Duration::from_secs(10)));
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));
    assert_eq!(rt.state(&id).unwrap()["pid"], serde_json::json!(0));
    rt.delete(&id).ok();
    assert!(!rt.root().join(&id).exists());
}
