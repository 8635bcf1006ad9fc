//! runtime.md from outside: state at each step, and the operations that
//! must fail. The container process is busybox, not the checker.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(20);

fn sleeper() -> Bundle {
    let mut b = Bundle::new();
    b.config["process"]["args"] = json!(["/bin/sleep", "300"]);
    b
}

fn assert_state(rt: &Runtime, id: &str, b: &Bundle, want: &str) -> serde_json::Value {
    let st = rt
        .state(id)
        .unwrap_or_else(|o| panic!("runtime.md#query-state: state {id} failed: {o}"));
    assert_eq!(st["status"], want, "runtime.md#state: status of {id}: {st}");
    assert_eq!(st["id"], id, "runtime.md#state: id: {st}");
    assert!(
        st["ociVersion"].is_string(),
        "runtime.md#state: ociVersion missing: {st}"
    );
    let bundle = fs::canonicalize(b.path()).unwrap();
    assert_eq!(
        st["bundle"],
        bundle.to_string_lossy().as_ref(),
        "runtime.md#state: bundle: {st}"
    );
    if want == "created" || want == "running" {
        let pid = st["pid"].as_i64().unwrap_or(0);
        assert!(
            pid > 0,
            "runtime.md#state: pid must be set when {want}: {st}"
        );
        assert!(
            fs::metadata(format!("/proc/{pid}")).is_ok(),
            "runtime.md#state: pid {pid} is not alive: {st}"
        );
    }
    st
}

#[test]
fn lifecycle_states_create_start_kill_delete() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("lc");
    let pidfile = b.path().join("pid");
    rt.create_with(&b, &id, &["--pid-file", &pidfile.to_string_lossy()])
        .ok();
    let st = assert_state(&rt, &id, &b, "created");
    let pf = fs::read_to_string(&pidfile).expect("runtime.md#create: --pid-file written");
    assert_eq!(pf.trim(), st["pid"].to_string(), "pid file vs state pid");
    rt.cmd(&["start", &id]).ok();
    assert_state(&rt, &id, &b, "running");
    rt.cmd(&["kill", &id, "KILL"]).ok();
    rt.wait_for_status(&id, "stopped", WAIT);
    assert_state(&rt, &id, &b, "stopped");
    rt.cmd(&["delete", &id]).ok();
    rt.cmd(&["state", &id])
        .fail_with("runtime.md#delete: state after delete");
}

#[test]
fn lifecycle_create_existing_id_fails() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("lc");
    rt.create_with(&b, &id, &[]).ok();
    let b2 = sleeper();
    rt.create_with(&b2, &id, &[])
        .fail_with("runtime.md#create: create with an id in use");
    // The first container is untouched.
    assert_state(&rt, &id, &b, "created");
}

#[test]
fn lifecycle_start_twice_fails() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("lc");
    rt.create_with(&b, &id, &[]).ok();
    rt.cmd(&["start", &id]).ok();
    rt.cmd(&["start", &id])
        .fail_with("runtime.md#start: start on a running container");
    assert_state(&rt, &id, &b, "running");
}

#[test]
fn lifecycle_kill_created() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("lc");
    rt.create_with(&b, &id, &[]).ok();
    rt.cmd(&["kill", &id, "KILL"]).ok();
    rt.wait_for_status(&id, "stopped", WAIT);
    rt.cmd(&["start", &id])
        .fail_with("runtime.md#start: start on a stopped container");
    rt.cmd(&["delete", &id]).ok();
}

#[test]
fn lifecycle_delete_running_fails() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("lc");
    rt.create_with(&b, &id, &[]).ok();
    rt.cmd(&["start", &id]).ok();
    rt.cmd(&["delete", &id])
        .fail_with("runtime.md#delete: delete on a running container");
    assert_state(&rt, &id, &b, "running");
    rt.cmd(&["delete", "-f", &id]).ok();
    rt.cmd(&["state", &id])
        .fail_with("runtime.md#delete: state after delete -f");
}

#[test]
fn lifecycle_unknown_id_errors() {
    let rt = Runtime::new();
    let id = unique_id("nonexistent");
    rt.cmd(&["state", &id])
        .fail_with("runtime.md#query-state: unknown id");
    rt.cmd(&["start", &id])
        .fail_with("runtime.md#start: unknown id");
    rt.cmd(&["kill", &id, "TERM"])
        .fail_with("runtime.md#kill: unknown id");
    rt.cmd(&["delete", &id])
        .fail_with("runtime.md#delete: unknown id");
}

#[test]
fn lifecycle_init_exit_stops() {
    let rt = Runtime::new();
    let mut b = sleeper();
    b.config["process"]["args"] = json!(["/bin/sh", "-c", "exit 0"]);
    let id = unique_id("lc");
    rt.create_with(&b, &id, &[]).ok();
    assert_state(&rt, &id, &b, "created");
    rt.cmd(&["start", &id]).ok();
    rt.wait_for_status(&id, "stopped", WAIT);
    rt.cmd(&["kill", &id, "KILL"])
        .fail_with("runtime.md#kill: kill on a stopped container");
    rt.cmd(&["delete", &id]).ok();
}

#[test]
fn lifecycle_run_returns_exit_status() {
    let rt = Runtime::new();
    let mut b = sleeper();
    b.config["process"]["args"] = json!(["/bin/sh", "-c", "exit 7"]);
    let id = unique_id("lc");
    let o = rt.run_with(&b, &id, &[]);
    assert_eq!(
        o.code,
        Some(7),
        "run: exit status of the container process: {o}"
    );
}

/// config.md#posix-platform-hooks and runtime.md#lifecycle: hooks run in
/// the order of the lifecycle, each with the state on stdin; prestart,
/// createRuntime, poststart and poststop in the runtime namespace (they see
/// the host's files), and the container is "stopped" for poststop.
#[test]
fn lifecycle_hooks_order_and_state() {
    let mut b = sleeper();
    let log = b.temp("hooks").join("log");
    let script = b.temp("hookbin").join("hook.sh");
    fs::write(
        &script,
        format!("#!/bin/sh\necho \"$1 $(cat)\" >> {}\n", log.display()),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    let hook =
        |name: &str| json!([{ "path": script.to_string_lossy(), "args": ["hook.sh", name] }]);
    b.config["hooks"] = json!({
        "prestart": hook("prestart"),
        "createRuntime": hook("createRuntime"),
        "createContainer": hook("createContainer"),
        "poststart": hook("poststart"),
        "poststop": hook("poststop"),
    });
    let rt = Runtime::new();
    let id = unique_id("hooks");
    rt.create_with(&b, &id, &[]).ok();
    rt.cmd(&["start", &id]).ok();
    rt.cmd(&["kill", &id, "KILL"]).ok();
    rt.wait_for_status(&id, "stopped", WAIT);
    rt.cmd(&["delete", &id]).ok();
    let text = fs::read_to_string(&log).unwrap_or_default();
    let names: Vec<&str> = text
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    let want = [
        "prestart",
        "createRuntime",
        "createContainer",
        "poststart",
        "poststop",
    ];
    assert_eq!(
        names, want,
        "config.md#posix-platform-hooks: hook order: {text}"
    );
    for line in text.lines() {
        let (name, state) = line.split_once(' ').unwrap();
        let state: serde_json::Value = serde_json::from_str(state)
            .unwrap_or_else(|e| panic!("runtime.md#state: {name} got no state JSON ({e}): {line}"));
        assert_eq!(state["id"], id, "{name}: {state}");
        if name == "poststop" {
            assert_eq!(
                state["status"], "stopped",
                "runtime.md#lifecycle: poststop status: {state}"
            );
        }
    }
}
