//! Lifecycle hooks: order, namespace, state on stdin, args/env, timeout and
//! failure handling (config.md "POSIX-platform Hooks", runtime.md lifecycle).

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::Path;
use std::time::Duration;

/// A hook script on the host that appends "<name> <ns-inode> <stdin>" to `log`.
fn write_logging_hook(dir: &Path, log: &Path) -> std::path::PathBuf {
    let script = dir.join("hook.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$1 $(readlink /proc/self/ns/mnt) $HOOK_ENV $(cat)\" >> {}\n",
            log.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).unwrap();
    script
}

fn hook(path: &Path, name: &str) -> Value {
    json!({"path": path.to_string_lossy(), "args": ["hook.sh", name], "env": ["HOOK_ENV=env-ok"]})
}

fn log_lines(log: &Path) -> Vec<String> {
    fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn hooks_run_in_order_with_state_on_stdin() {
    if !hull_only("hooks (runc 1.1 lacks createRuntime/createContainer/startContainer)") {
        return;
    }
    let tmp = TempDir::new("hooks");
    let log = tmp.path().join("log");
    let script = write_logging_hook(tmp.path(), &log);
    let mut b = Bundle::new(&["true"]);
    // startContainer runs inside the container: give it the same script there.
    fs::create_dir_all(b.rootfs().join("hooks")).unwrap();
    let inner_log = b.out_dir();
    fs::write(
        b.rootfs().join("hooks/hook.sh"),
        "#!/bin/sh\necho \"$1 $(readlink /proc/self/ns/mnt) $HOOK_ENV $(cat)\" >> /out/log\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(
        b.rootfs().join("hooks/hook.sh"),
        fs::Permissions::from_mode(0o755),
    )
    .unwrap();
    let inner = Path::new("/hooks/hook.sh");
    b.config["hooks"] = json!({
        "prestart": [hook(&script, "prestart")],
        "createRuntime": [hook(&script, "createRuntime")],
        "createContainer": [hook(&script, "createContainer")],
        "startContainer": [hook(inner, "startContainer")],
        "poststart": [hook(&script, "poststart")],
        "poststop": [hook(&script, "poststop")],
    });
    let rt = Runtime::new();
    let id = unique_id("hooks");
    rt.run_with(&b, &id, &[]).ok();
    let host_mnt = host_ns("mnt");
    let lines = log_lines(&log);
    let names: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    assert_eq!(
        names,
        [
            "prestart",
            "createRuntime",
            "createContainer",
            "poststart",
            "poststop"
        ],
        "{lines:#?}"
    );
    for l in &lines {
        let mut parts = l.splitn(4, ' ');
        let name = parts.next().unwrap();
        let ns = parts.next().unwrap();
        assert_eq!(parts.next().unwrap(), "env-ok", "hook env not passed: {l}");
        let state: Value = serde_json::from_str(parts.next().unwrap()).unwrap();
        assert_eq!(state["id"], json!(id), "{l}");
        assert_eq!(state["bundle"], json!(b.path().to_string_lossy()), "{l}");
        let want_status = match name {
            "poststart" => "running",
            "poststop" => "stopped",
            _ => "created",
        };
        assert_eq!(state["status"], json!(want_status), "{l}");
        // createContainer runs in the container's mount namespace; the others in the runtime's.
        if name == "createContainer" {
            assert_ne!(
                ns, host_mnt,
                "createContainer ran in the host mount namespace"
            );
        } else {
            assert_eq!(ns, host_mnt, "{name} did not run in the runtime namespace");
        }
    }
    let inner_lines = log_lines(&inner_log.join("log"));
    assert_eq!(inner_lines.len(), 1, "startContainer ran {inner_lines:?}");
    assert!(
        inner_lines[0].starts_with("startContainer "),
        "{inner_lines:?}"
    );
    assert!(
        inner_lines[0].contains("\"status\":\"created\""),
        "{inner_lines:?}"
    );
}

#[test]
fn failing_create_runtime_hook_fails_create_and_cleans_up() {
    if !hull_only("createRuntime hooks") {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] = json!({"createRuntime": [{"path": "/bin/false"}]});
    let rt = Runtime::new();
    let id = unique_id("hookfail");
    let o = rt.create(&b, &id).fail();
    assert!(o.stderr.contains("hooks.createRuntime[0]"), "{o}");
    assert!(!rt.root().join(&id).exists(), "state dir left behind");
    assert!(
        cgroup_leftovers(&format!("/hull/{id}")).is_empty(),
        "cgroup left behind"
    );
}

#[test]
fn hook_timeout_is_enforced() {
    if !hull_only("hook timeouts") {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] =
        json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "30"], "timeout": 1}]});
    let rt = Runtime::new();
    let id = unique_id("hooktime");
    let started = std::time::Instant::now();
    let o = rt.create(&b, &id).fail();
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "timeout not enforced"
    );
    assert!(o.stderr.contains("timed out"), "{o}");
}

#[test]
fn failing_poststop_hook_only_warns() {
    if !hull_only("poststop hooks") {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] = json!({"poststop": [{"path": "/bin/false"}]});
    let rt = Runtime::new();
    let id = unique_id("poststop");
    let o = rt.run_with(&b, &id, &[]).ok();
    assert!(o.stderr.contains("hooks.poststop[0]"), "no warning: {o}");
    assert!(!rt.root().join(&id).exists());
}
