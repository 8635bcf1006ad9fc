//! Behaviours engines and conformance suites rely on, where hull must act
//! as runc does (or as runtime-spec v1.3 says where they differ; see
//! docs/compat.md). Each test runs against `$HULL_RUNTIME` too, so the
//! same checks can be pointed at runc.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn sleeper() -> Bundle {
    Bundle::new(&["sleep", "60"])
}

// ---------------------------------------------------------------------------
// delete, kill, exec exit codes, --version
// ---------------------------------------------------------------------------

/// runtime.md "delete": deleting a container that is not stopped MUST
/// error, and MUST have no effect on it (runc 1.1 kills a created one:
/// hull follows the spec, docs/compat.md).
#[test]
fn delete_without_force_refuses_created_and_running() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("delnf");
    rt.create(&b, &id).ok();
    let pid = rt.pid(&id);
    if runtime_is_hull() {
        let o = rt.delete(&id).fail();
        assert!(o.stderr.contains("not stopped"), "{o}");
        assert_eq!(rt.status(&id).as_deref(), Some("created"));
        assert!(!wait_pid_gone(pid, Duration::from_millis(200)));
    }
    rt.start(&id).ok();
    let o = rt.delete(&id).fail();
    assert!(o.stderr.contains("not stopped"), "{o}");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.delete_force(&id).ok();
    assert!(rt.state(&id).is_err());
    assert!(wait_pid_gone(pid, WAIT));
}

/// `kill ID 0` (and `kill --all ID 0`) checks that the container is alive.
#[test]
fn kill_signal_zero_is_a_liveness_check() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("kill0");
    rt.create_start(&b, &id);
    rt.kill(&id, "0").ok();
    rt.cmd(&["kill", "--all", &id, "0"]).ok();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.kill(&id, "KILL").ok();
    rt.wait_for_status(&id, "stopped", WAIT);
    rt.kill(&id, "0").fail();
}

/// exec: failures of the runtime itself exit 255, so a caller can tell them
/// from the process's own status.
#[test]
fn exec_failures_of_the_runtime_exit_255() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("exec255");
    rt.create_start(&b, &id);
    let scratch = TempDir::new("exec255");
    let missing = scratch.path().join("no/such/dir/pid");
    let o = rt.cmd(&[
        "exec",
        "--pid-file",
        &missing.to_string_lossy(),
        &id,
        "true",
    ]);
    assert_eq!(o.code, Some(255), "--pid-file in a missing dir: {o}");
    let bad = scratch.path().join("process.json");
    fs::write(&bad, "{not json").unwrap();
    let o = rt.cmd(&["exec", "-p", &bad.to_string_lossy(), &id]);
    assert_eq!(o.code, Some(255), "bad --process: {o}");
    let o = rt.cmd(&["exec", &unique_id("nosuch"), "true"]);
    assert_eq!(o.code, Some(255), "unknown container: {o}");
    // The process's own status passes through.
    let o = rt.cmd(&["exec", &id, "sh", "-c", "exit 1"]);
    assert_eq!(o.code, Some(1), "{o}");
    rt.cmd(&["pause", &id]).ok();
    let o = rt.cmd(&["exec", &id, "true"]);
    assert_eq!(o.code, Some(255), "paused without --ignore-paused: {o}");
    rt.cmd(&["resume", &id]).ok();
}

/// exec -p with fields left out (no user, no env, no capabilities): runc's
/// defaults (uid 0, gid 0). `cwd` stays required (config.md: REQUIRED; runc
/// refuses an empty one too).
#[test]
fn exec_process_file_with_fields_left_out() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("execp");
    rt.create_start(&b, &id);
    let scratch = TempDir::new("execp");
    let p = scratch.path().join("process.json");
    fs::write(
        &p,
        json!({"args": ["/bin/sh", "-c", "echo $(id -u):$(id -g):$(pwd)"], "cwd": "/"}).to_string(),
    )
    .unwrap();
    let o = rt.cmd(&["exec", "-p", &p.to_string_lossy(), &id]).ok();
    assert_eq!(o.stdout.trim(), "0:0:/", "{o}");
}

/// `--version` / `-v`: version, commit, spec version and the seccomp
/// backend, one per line as runc prints them.
#[test]
fn version_flag_prints_versions() {
    let rt = Runtime::new();
    for flag in ["--version", "-v"] {
        let o = run_cmd(
            {
                let mut c = std::process::Command::new(&rt.bin);
                c.arg(flag);
                c
            },
            rt.root(),
            CmdOpts::default(),
        )
        .ok();
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert!(lines[0].contains(" version "), "{o}");
        assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{o}");
        assert!(lines.iter().any(|l| l.starts_with("spec: 1.")), "{o}");
        if runtime_is_hull() {
            assert!(lines.iter().any(|l| l.starts_with("seccomp: ")), "{o}");
            assert!(lines.iter().any(|l| l.starts_with("cgroup: ")), "{o}");
        }
    }
}
