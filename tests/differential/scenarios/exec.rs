//! `exec`: status, output, the exec'd process's view, its flags, and the
//! errors hull must report as 255 (its own failure, not the process's).

use crate::framework::*;
use crate::scenarios;
use serde_json::json;

fn running() -> Scenario {
    Scenario::new(&["sleep", "1000"]).steps([create(&[]).into(), start().into()])
}

scenarios! {
    exec_status_output: running().step(exec(&["sh", "-c", "echo out; echo err >&2; exit 5"]));
    exec_probe: running().step(exec(&["sh", "-c", crate::observe::PROBE]).probe());
    exec_user_groups: running().step(
        exec(&["--user", "1000:1000", "-g", "10", "-g", "20", "--", "sh", "-c", crate::observe::PROBE]).probe());
    exec_cwd_env: running().step(
        exec(&["--cwd", "/tmp", "-e", "FOO=bar", "--", "sh", "-c", "pwd; echo $FOO; echo $PATH"]));
    exec_process_json: running().steps([
        write("{work}/process.json", &json!({
            "terminal": false, "user": {"uid": 1000, "gid": 1000, "additionalGids": [30]},
            "args": ["sh", "-c", crate::observe::PROBE], "env": ["A=b", "PATH=/bin"], "cwd": "/tmp",
        }).to_string()),
        exec(&["-p", "{work}/process.json", "--"]).probe().into(),
    ]);
    /// A process.json without `user` (runc's defaults).
    exec_process_json_no_user: running().steps([
        write("{work}/process.json", &json!({"args": ["id"], "cwd": "/", "env": ["PATH=/bin"]}).to_string()),
        exec(&["-p", "{work}/process.json", "--"]).into(),
    ]);
    /// A process.json without env: no PATH to find args[0] with.
    exec_process_json_no_env: running().steps([
        write("{work}/process.json", &json!({"args": ["id"], "cwd": "/"}).to_string()),
        exec(&["-p", "{work}/process.json", "--"]).into(),
    ]);
    exec_process_json_invalid: running().steps([
        write("{work}/process.json", "{ not json"),
        exec(&["-p", "{work}/process.json", "--"]).into(),
    ]);
    exec_process_json_missing: running().step(exec(&["-p", "{work}/nope.json", "--"]));
    exec_pid_file_missing_dir: running().step(
        exec(&["--pid-file", "{work}/no/such/dir/pid", "--", "true"]));
    exec_paused: running().steps([pause().into(), exec(&["true"]).into(), resume().into()]);
    exec_stopped: Scenario::new(&["true"]).steps([
        create(&[]).into(), start().into(), wait_stopped(), exec(&["true"]).into(),
    ]);
    exec_created: Scenario::new(&["sleep", "1000"]).steps([create(&[]).into(), exec(&["echo", "hi"]).into()]);
    exec_missing_container: Scenario::new(&["true"]).step(exec(&["true"]));
    exec_missing_binary: running().step(exec(&["/nonexistent"]));
    exec_not_executable: running().step(exec(&["/etc/passwd"]));
    exec_detached_pid_file: running().steps([
        exec(&["-d", "--pid-file", "{out}/exec.pid", "--", "sleep", "1"]).into(),
        raw(&["ps", "--format", "json", "{id}"]).output(Output::PsJson).into(),
    ]);
    exec_cap_added: running().step(
        exec(&["--cap", "CAP_SYS_ADMIN", "--", "sh", "-c", crate::observe::PROBE]).probe());
    exec_no_new_privs_flag: Scenario::new(&["sleep", "1000"])
        .set("/process/noNewPrivileges", json!(false))
        .steps([create(&[]).into(), start().into(),
                exec(&["--no-new-privs", "--", "sh", "-c", crate::observe::PROBE]).probe().into()]);
    /// `exec -t` in a terminal: the pty belongs to the exec'd user.
    exec_tty: running().step(
        exec(&["-t", "--user", "1000:1000", "--", "sh", "-c", crate::observe::PROBE_NO_MOUNTS]).probe().tty());
    exec_tty_console_socket: Scenario::new(&["sleep", "1000"]).out_mount().steps([
        create(&[]).into(), start().into(),
        exec(&["-t", "-d", "--console-socket", "{sock}", "--user", "1000:1000", "--",
               "sh", "-c", &format!("{}; touch /out/done", crate::observe::PROBE_NO_MOUNTS)]).probe().console().into(),
        wait_file("{out}/done")]);
    /// A cwd only the runtime can enter (0700, another owner) with no
    /// CAP_DAC_OVERRIDE in the process's capabilities.
    exec_cwd_only_runtime_can_enter: running()
        .setup(|c| {
            let d = c.rootfs().join("root");
            std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&d, Some(1234), Some(1234)).unwrap();
        })
        .step(exec(&["--user", "0", "--cwd", "/root", "--", "sh", "-c", "pwd; id"]));
    exec_env_from_config: Scenario::new(&["sleep", "1000"])
        .set("/process/env", json!(["PATH=/bin:/usr/bin", "FROMCONFIG=1"]))
        .steps([create(&[]).into(), start().into(), exec(&["-e", "EXTRA=2", "--", "env"]).into()]);
}
