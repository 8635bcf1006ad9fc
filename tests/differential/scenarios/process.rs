//! The container process: user, groups, umask, cwd, capabilities, rlimits,
//! no_new_privs, oom_score_adj, hostname, env, args, terminal, sysctl.

use crate::framework::*;
use crate::observe::{PROBE, PROBE_NO_MOUNTS};
use crate::scenarios;
use serde_json::json;

const ALL_CAPS: &[&str] = &[
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
];

fn probe_run() -> Scenario {
    Scenario::probe().step(run(&[]).probe())
}

scenarios! {
    user_ids_groups: probe_run()
        .set("/process/user", json!({"uid": 1000, "gid": 1000, "additionalGids": [10, 20]}));
    user_umask: probe_run().set("/process/user/umask", json!(23));
    /// A user with no /etc/passwd entry: HOME and the rest.
    user_unknown_uid: probe_run().set("/process/user", json!({"uid": 4321, "gid": 4321}));
    cwd_created_when_missing: probe_run().set("/process/cwd", json!("/new/dir"));
    /// A cwd only the runtime can enter (0700, another owner), the process
    /// without CAP_DAC_OVERRIDE.
    cwd_only_runtime_can_enter: Scenario::new(&["sh", "-c", "pwd; id"])
        .set("/process/cwd", json!("/root"))
        .setup(|c| {
            let d = c.rootfs().join("root");
            std::fs::set_permissions(&d, std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
            std::os::unix::fs::chown(&d, Some(1234), Some(1234)).unwrap();
        })
        .step(run(&[]));
    cwd_relative: Scenario::new(&["pwd"]).set("/process/cwd", json!("tmp")).step(run(&[]));
    caps_all: probe_run().edit(|c, _| {
        for set in ["bounding", "effective", "permitted", "inheritable", "ambient"] {
            c["process"]["capabilities"][set] = json!(ALL_CAPS);
        }
    });
    caps_none: probe_run().unset("/process/capabilities");
    caps_ambient_non_root: probe_run()
        .set("/process/user", json!({"uid": 1000, "gid": 1000}))
        .edit(|c, _| {
            let caps = json!(["CAP_NET_BIND_SERVICE", "CAP_KILL"]);
            for set in ["bounding", "effective", "permitted", "inheritable", "ambient"] {
                c["process"]["capabilities"][set] = caps.clone();
            }
        });
    caps_unknown_name: probe_run().edit(|c, _| {
        c["process"]["capabilities"]["bounding"]
            .as_array_mut().unwrap().push(json!("CAP_NOT_A_CAP"));
    });
    rlimits_several: probe_run().set("/process/rlimits", json!([
        {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 2048},
        {"type": "RLIMIT_CORE", "soft": 0, "hard": 0},
        {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
        {"type": "RLIMIT_STACK", "soft": 4194304, "hard": 8388608},
    ]));
    rlimit_soft_above_hard: probe_run().set("/process/rlimits", json!([
        {"type": "RLIMIT_NOFILE", "soft": 4096, "hard": 1024},
    ]));
    rlimit_unknown_type: probe_run().set("/process/rlimits", json!([
        {"type": "RLIMIT_BOGUS", "soft": 1, "hard": 1},
    ]));
    no_new_privs_off: probe_run().set("/process/noNewPrivileges", json!(false));
    oom_score_adj: probe_run().set("/process/oomScoreAdj", json!(123));
    hostname_domainname: Scenario::new(&["sh", "-c", "hostname; cat /proc/sys/kernel/domainname"])
        .set("/hostname", json!("box")).set("/domainname", json!("example.org"))
        .step(run(&[]));
    env_without_path: Scenario::new(&["sh", "-c", "echo PATH=$PATH; env | sort"])
        .set("/process/env", json!(["FOO=1"])).step(run(&[]));
    env_duplicate: Scenario::new(&["sh", "-c", "env | sort"])
        .set("/process/env", json!(["A=1", "A=2", "PATH=/bin"])).step(run(&[]));
    args_missing_binary: Scenario::new(&["/nonexistent"]).step(run(&[]));
    args_resolved_through_path: Scenario::new(&["busybox", "echo", "found"]).step(run(&[]));
    args_not_executable: Scenario::new(&["/etc/passwd"]).step(run(&[]));
    /// `run` in a terminal: the pty belongs to the process's user.
    terminal_run: Scenario::new(&["sh", "-c", PROBE_NO_MOUNTS])
        .set("/process/terminal", json!(true))
        .set("/process/user", json!({"uid": 1000, "gid": 1000}))
        .step(run(&[]).probe().tty());
    terminal_create_console_socket: Scenario::new(&["sh", "-c", PROBE])
        .set("/process/terminal", json!(true))
        .set("/process/user", json!({"uid": 1000, "gid": 1000}))
        .steps([create(&["--console-socket", "{sock}"]).probe().console().into(),
                start().into(), wait_stopped()]);
    terminal_console_size: Scenario::new(&["stty", "size"])
        .set("/process/terminal", json!(true))
        .set("/process/consoleSize", json!({"height": 40, "width": 100}))
        .steps([create(&["--console-socket", "{sock}"]).console().into(), start().into(), wait_stopped()]);
    terminal_without_console_socket: Scenario::new(&["true"])
        .set("/process/terminal", json!(true)).step(create(&[]));
    sysctl_set: Scenario::new(&["sh", "-c", "cat /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/msgmax"])
        .set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1", "kernel.msgmax": "9000"}))
        .step(run(&[]));
    sysctl_host_namespace_refused: Scenario::new(&["true"])
        .without_ns("network")
        .set("/linux/sysctl", json!({"net.ipv4.ip_forward": "1"}))
        .step(run(&[]));
    namespaces_shared_with_host: Scenario::new(&["sleep", "1000"])
        .without_ns("pid").without_ns("ipc").without_ns("uts").without_ns("network").without_ns("cgroup")
        .steps([create(&[]).into(), outside()]);
    pid_one_is_the_process: Scenario::new(&["sh", "-c", "echo $$; cat /proc/1/cmdline | tr '\\0' ' '"])
        .step(run(&[]));
}
