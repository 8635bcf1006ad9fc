//! Hooks: which run, in what order, with which state on stdin and which
//! working directory, and what a failing one does to the life cycle.

use crate::framework::*;
use crate::scenarios;
use serde_json::json;

/// A host hook that records the state it got and its working directory.
fn record(kind: &str) -> String {
    format!("cat > {{out}}/{kind}.json; pwd > {{out}}/{kind}.cwd")
}

/// Like [`record`], also appending its kind to {out}/order (for the hooks
/// whose order is defined: poststart and startContainer race in runc).
fn record_in_order(kind: &str) -> String {
    format!("{}; echo {kind} >> {{out}}/order", record(kind))
}

fn lifecycle() -> Vec<Step> {
    vec![
        create(&[]).into(),
        state().into(),
        start().into(),
        wait_stopped(),
        delete(&[]).into(),
        state().into(),
    ]
}

scenarios! {
    hooks_every_kind: Scenario::new(&["sh", "-c", "echo process > /out/process"])
        .out_mount()
        .hook("prestart", &record_in_order("prestart"))
        .hook("createRuntime", &record_in_order("createRuntime"))
        .hook("createContainer", &record_in_order("createContainer"))
        .hook("startContainer", "cat > /out/startContainer.json; pwd > /out/startContainer.cwd")
        .hook("poststart", &record("poststart"))
        .hook("poststop", &record_in_order("poststop"))
        .steps(lifecycle());
    hooks_on_run: Scenario::new(&["true"])
        .hook("prestart", &record("prestart"))
        .hook("poststart", &record("poststart"))
        .hook("poststop", &record("poststop"))
        .step(run(&[]));
    hook_prestart_fails: Scenario::new(&["true"])
        .hook("prestart", "echo failing >&2; exit 3")
        .hook("poststop", &record("poststop"))
        .steps(lifecycle());
    hook_create_runtime_fails: Scenario::new(&["true"])
        .hook("createRuntime", "exit 1").steps(lifecycle());
    hook_create_container_fails: Scenario::new(&["true"])
        .hook("createContainer", "exit 1").steps(lifecycle());
    hook_start_container_fails: Scenario::new(&["sh", "-c", "echo ran > /out/process"])
        .out_mount().hook("startContainer", "exit 1").steps(lifecycle());
    /// A failing poststart hook: `start` fails and the container stops.
    hook_poststart_fails: Scenario::new(&["sleep", "1000"])
        .hook("poststart", "exit 1")
        .hook("poststop", &record("poststop"))
        .steps([create(&[]).into(), start().into(), wait_stopped(), state().into(), delete(&[]).into()]);
    /// A failing poststop hook is a warning; later poststop hooks run.
    hook_poststop_fails_others_run: Scenario::new(&["true"])
        .hook("poststop", "exit 1")
        .hook("poststop", &record("poststop"))
        .steps([create(&[]).into(), start().into(), wait_stopped(), delete(&[]).into(), state().into()]);
    hook_poststop_fails_on_run: Scenario::new(&["true"])
        .hook("poststop", "exit 1")
        .hook("poststop", &record("poststop"))
        .step(run(&[]));
    /// createContainer hooks run in the container's root: relative paths
    /// reach the rootfs.
    hook_create_container_relative_path: Scenario::new(&["ls", "/hooked"])
        .hook("createContainer", "touch ./hooked")
        .step(run(&[]));
    /// A createRuntime hook that enters the container's mount namespace
    /// and bind-mounts a host file into the rootfs.
    hook_create_runtime_nsenter_bind: Scenario::new(&["cat", "/etc/from-hook"])
        .setup(|c| {
            std::fs::write(c.rootfs().join("etc/from-hook"), "original\n").unwrap();
            std::fs::write(c.work.join("src"), "from the hook\n").unwrap();
        })
        .hook("createRuntime",
              "pid=$(sed -n 's/.*\"pid\": *\\([0-9]*\\).*/\\1/p'); \
               nsenter --mount=/proc/$pid/ns/mnt mount --bind {work}/src {rootfs}/etc/from-hook")
        .step(run(&[]));
    hook_timeout: Scenario::new(&["true"])
        .edit(|c, _| c["hooks"] = json!({"prestart": [{"path": "/bin/sleep", "args": ["sleep", "5"], "timeout": 1}]}))
        .steps(lifecycle());
    hook_env_and_args: Scenario::new(&["true"])
        .edit(|c, _| c["hooks"] = json!({"prestart": [{
            "path": "/bin/sh", "args": ["hookname", "-c", "echo $0 $A $PATH > {out}/hook-env"],
            "env": ["A=from-env"]}]}))
        .step(run(&[]));
    hook_missing_binary: Scenario::new(&["true"])
        .edit(|c, _| c["hooks"] = json!({"prestart": [{"path": "/nonexistent/hook"}]}))
        .steps(lifecycle());
}
