//! Crash recovery: what `state` and `delete --force` make of the state a
//! killed or broken hull leaves behind.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::process::Stdio;
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
