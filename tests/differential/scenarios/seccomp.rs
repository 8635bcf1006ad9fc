//! seccomp: the mode seen from inside, errno actions, unknown names, and
//! profiles that block calls a runtime might make after loading them.

use crate::framework::*;
use crate::observe::PROBE;
use crate::scenarios;
use serde_json::json;

fn profile(syscalls: serde_json::Value) -> serde_json::Value {
    json!({"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_AARCH64"],
           "syscalls": syscalls})
}

scenarios! {
    seccomp_errno_mkdir: Scenario::new(&["sh", "-c", "mkdir /tmp/d; echo mkdir=$?; grep Seccomp /proc/self/status"])
        .set("/linux/seccomp", profile(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1}])))
        .step(run(&[]));
    seccomp_probe: Scenario::new(&["sh", "-c", PROBE])
        .set("/linux/seccomp", profile(json!([{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}])))
        .step(run(&[]).probe());
    /// A profile that blocks getcwd must not break start.
    seccomp_blocks_getcwd: Scenario::new(&["echo", "started"])
        .set("/linux/seccomp", profile(json!([{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}])))
        .step(run(&[]));
    /// Calls a runtime may make between loading the filter and exec.
    seccomp_blocks_runtime_calls: Scenario::new(&["echo", "started"])
        .set("/linux/seccomp", profile(json!([{"names": ["getcwd", "close_range", "fstat", "newfstatat", "statx",
            "prctl", "capset", "setgroups", "getdents64", "openat", "fcntl", "write"],
            "action": "SCMP_ACT_ERRNO"}])))
        .step(run(&[]));
    seccomp_unknown_syscall_name: Scenario::new(&["sh", "-c", "mkdir /tmp/d; echo mkdir=$?"])
        .set("/linux/seccomp", profile(json!([{"names": ["not_a_syscall", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])))
        .step(run(&[]));
    seccomp_args_filter: Scenario::new(&["sh", "-c", "kill -0 $$; echo zero=$?; kill -USR2 $$ 2>/dev/null; echo usr2=$?"])
        .set("/linux/seccomp", profile(json!([{"names": ["kill"], "action": "SCMP_ACT_ERRNO", "errnoRet": 1,
            "args": [{"index": 1, "value": 12, "op": "SCMP_CMP_EQ"}]}])))
        .step(run(&[]));
    seccomp_without_no_new_privs: Scenario::new(&["sh", "-c", "grep -E 'NoNewPrivs|Seccomp' /proc/self/status; mkdir /tmp/d; echo $?"])
        .set("/process/noNewPrivileges", json!(false))
        .set("/linux/seccomp", profile(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])))
        .step(run(&[]));
    seccomp_default_errno_allowlist: Scenario::new(&["echo", "allowed"])
        .set("/linux/seccomp", json!({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": []}))
        .step(run(&[]));
    seccomp_unknown_action: Scenario::new(&["true"])
        .set("/linux/seccomp", profile(json!([{"names": ["mkdir"], "action": "SCMP_ACT_BOGUS"}])))
        .step(run(&[]));
    seccomp_exec_inherits: Scenario::new(&["sleep", "1000"])
        .set("/linux/seccomp", profile(json!([{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}])))
        .steps([create(&[]).into(), start().into(), exec(&["sh", "-c", "mkdir /tmp/e; echo $?; grep Seccomp: /proc/self/status"]).into()]);
}
