//! linux.seccomp: errno/kill actions, allowlists, argument conditions,
//! architecture checks (x32) and SCMP_ACT_NOTIFY with a listener.

use crate::common::*;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use serde_json::{Value, json};
use std::fs;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// A bundle with a writable root and the given seccomp config.
fn bundle(seccomp: Value) -> Bundle {
    let mut b = Bundle::new(&["true"]);
    b.config["root"]["readonly"] = json!(false);
    b.config["linux"]["seccomp"] = seccomp;
    b
}

fn deny(names: &[&str], errno: u32) -> Value {
    json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": names, "action": "SCMP_ACT_ERRNO", "errnoRet": errno }]
    })
}

#[test]
fn errno_eperm_blocks_mkdir() {
    let rt = Runtime::new();
    let mut b = bundle(deny(&["mkdir", "mkdirat"], 1));
    let (code, out, err) = rt.run_container(
        &mut b,
        &[
            "sh",
            "-c",
            "mkdir /tmp/x; echo rc=$?; touch /tmp/y; echo touch=$?",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("rc=1"), "{out}");
    assert!(err.contains("Operation not permitted"), "{err}");
    assert!(out.contains("touch=0"), "{out}");
    assert!(!b.rootfs().join("tmp/x").exists());
    assert!(b.rootfs().join("tmp/y").exists());
}

#[test]
fn errno_enosys_blocks_mkdir() {
    let rt = Runtime::new();
    let mut b = bundle(deny(&["mkdir", "mkdirat"], 38));
    let (code, out, err) = rt.run_container(&mut b, &["sh", "-c", "mkdir /tmp/x; echo rc=$?"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("rc=1"), "{out}");
    assert!(err.contains("Function not implemented"), "{err}");
    // Control: without the rule the directory is made.
    let mut b = bundle(deny(&["rmdir"], 38));
    rt.run_ok(&mut b, &["mkdir", "/tmp/x"]);
    assert!(b.rootfs().join("tmp/x").is_dir());
}

/// Without noNewPrivileges the filter is installed before the user and
/// capabilities change (it needs CAP_SYS_ADMIN); it must still apply.
#[test]
fn errno_without_no_new_privileges() {
    let rt = Runtime::new();
    let mut b = bundle(deny(&["mkdir", "mkdirat"], 13));
    b.config["process"]["noNewPrivileges"] = json!(false);
    b.config["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    let (code, out, err) = rt.run_container(
        &mut b,
        &[
            "sh",
            "-c",
            "id -u; mkdir /tmp/x; echo rc=$?; grep NoNewPrivs /proc/self/status",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("1000\n"), "{out}");
    assert!(out.contains("rc=1"), "{out}");
    assert!(out.contains("NoNewPrivs:\t0"), "{out}");
    assert!(err.contains("Permission denied"), "{err}");
}

/// Docker's default allowlist (unconditional names plus its conditional
/// rules for socket, clone, clone3 and personality).
fn docker_like_profile(default_errno: u32) -> Value {
    const ALLOW: &str = "accept accept4 access adjtimex alarm bind brk cachestat capget capset chdir chmod \
        chown chown32 clock_adjtime clock_adjtime64 clock_getres clock_getres_time64 clock_gettime \
        clock_gettime64 clock_nanosleep clock_nanosleep_time64 close close_range connect copy_file_range \
        creat dup dup2 dup3 epoll_create epoll_create1 epoll_ctl epoll_ctl_old epoll_pwait epoll_pwait2 \
        epoll_wait epoll_wait_old eventfd eventfd2 execve execveat exit exit_group faccessat faccessat2 \
        fadvise64 fadvise64_64 fallocate fanotify_mark fchdir fchmod fchmodat fchmodat2 fchown fchown32 \
        fchownat fcntl fcntl64 fdatasync fgetxattr flistxattr flock fork fremovexattr fsetxattr fstat \
        fstat64 fstatat64 fstatfs fstatfs64 fsync ftruncate ftruncate64 futex futex_requeue futex_time64 \
        futex_wait futex_waitv futex_wake futimesat getcpu getcwd getdents getdents64 getegid getegid32 \
        geteuid geteuid32 getgid getgid32 getgroups getgroups32 getitimer getpeername getpgid getpgrp \
        getpid getppid getpriority getrandom getresgid getresgid32 getresuid getresuid32 getrlimit \
        get_robust_list getrusage getsid getsockname getsockopt get_thread_area gettid gettimeofday \
        getuid getuid32 getxattr inotify_add_watch inotify_init inotify_init1 inotify_rm_watch \
        io_cancel ioctl io_destroy io_getevents io_pgetevents io_pgetevents_time64 ioprio_get ioprio_set \
        io_setup io_submit ipc kill landlock_add_rule landlock_create_ruleset landlock_restrict_self \
        lchown lchown32 lgetxattr link linkat listen listxattr llistxattr _llseek lremovexattr lseek \
        lsetxattr lstat lstat64 madvise map_shadow_stack membarrier memfd_create memfd_secret mincore \
        mkdir mkdirat mknod mknodat mlock mlock2 mlockall mmap mmap2 mprotect mq_getsetattr mq_notify \
        mq_open mq_timedreceive mq_timedreceive_time64 mq_timedsend mq_timedsend_time64 mq_unlink \
        mremap msgctl msgget msgrcv msgsnd msync munlock munlockall munmap name_to_handle_at nanosleep \
        newfstatat _newselect open openat openat2 pause pidfd_open pidfd_send_signal pipe pipe2 \
        pkey_alloc pkey_free pkey_mprotect poll ppoll ppoll_time64 prctl pread64 preadv preadv2 \
        prlimit64 process_mrelease pselect6 pselect6_time64 pwrite64 pwritev pwritev2 read readahead \
        readlink readlinkat readv recv recvfrom recvmmsg recvmmsg_time64 recvmsg remap_file_pages \
        removexattr rename renameat renameat2 restart_syscall rmdir rseq rt_sigaction rt_sigpending \
        rt_sigprocmask rt_sigqueueinfo rt_sigreturn rt_sigsuspend rt_sigtimedwait \
        rt_sigtimedwait_time64 rt_tgsigqueueinfo sched_getaffinity sched_getattr sched_getparam \
        sched_get_priority_max sched_get_priority_min sched_getscheduler sched_rr_get_interval \
        sched_rr_get_interval_time64 sched_setaffinity sched_setattr sched_setparam sched_setscheduler \
        sched_yield seccomp select semctl semget semop semtimedop semtimedop_time64 send sendfile \
        sendfile64 sendmmsg sendmsg sendto setfsgid setfsgid32 setfsuid setfsuid32 setgid setgid32 \
        setgroups setgroups32 setitimer setpgid setpriority setregid setregid32 setresgid setresgid32 \
        setresuid setresuid32 setreuid setreuid32 setrlimit set_robust_list setsid setsockopt \
        set_thread_area set_tid_address setuid setuid32 setxattr shmat shmctl shmdt shmget shutdown \
        sigaltstack signalfd signalfd4 sigprocmask sigreturn socketcall socketpair splice stat stat64 \
        statfs statfs64 statx symlink symlinkat sync sync_file_range syncfs sysinfo tee tgkill time \
        timer_create timer_delete timer_getoverrun timer_gettime timer_gettime64 timer_settime \
        timer_settime64 timerfd_create timerfd_gettime timerfd_gettime64 timerfd_settime \
        timerfd_settime64 times tkill truncate truncate64 ugetrlimit umask uname unlink unlinkat utime \
        utimensat utimensat_time64 utimes vfork vmsplice wait4 waitid waitpid write writev \
        arch_prctl modify_ldt";
    let names: Vec<&str> = ALLOW.split_whitespace().collect();
    assert!(names.len() > 300);
    let personality: Vec<Value> = [0u64, 8, 131072, 131080, 4294967295]
        .iter()
        .map(|v| json!({ "index": 0, "value": v, "op": "SCMP_CMP_EQ" }))
        .collect();
    json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "defaultErrnoRet": default_errno,
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            { "names": names, "action": "SCMP_ACT_ALLOW" },
            { "names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": personality },
            { "names": ["socket"], "action": "SCMP_ACT_ALLOW",
              "args": [{ "index": 0, "value": 40, "op": "SCMP_CMP_NE" }] },
            { "names": ["clone"], "action": "SCMP_ACT_ALLOW",
              "args": [{ "index": 0, "value": 2114060288u64, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ" }] },
            { "names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }
        ]
    })
}

fn allowlist_runs_busybox(no_new_privileges: bool) {
    let rt = Runtime::new();
    let mut b = bundle(docker_like_profile(38));
    b.config["process"]["noNewPrivileges"] = json!(no_new_privileges);
    // hostname needs sethostname, which the allowlist leaves out: it gets
    // the default action (ENOSYS here, to tell it from a missing capability).
    let (code, out, err) = rt.run_container(
        &mut b,
        &[
            "sh",
            "-c",
            "echo ok; echo piped | cat; ls / >/dev/null && echo ls-ok; hostname foo; echo host=$?",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(out, "ok\npiped\nls-ok\nhost=1\n", "stderr: {err}");
    assert!(err.contains("Function not implemented"), "{err}");
}

#[test]
fn default_errno_with_docker_allowlist() {
    allowlist_runs_busybox(true);
}

#[test]
fn default_errno_with_docker_allowlist_without_no_new_privileges() {
    allowlist_runs_busybox(false);
}

#[test]
fn argument_condition_denies_af_inet_sockets_only() {
    let rt = Runtime::new();
    let mut b = bundle(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
            "args": [{ "index": 0, "value": 2, "op": "SCMP_CMP_EQ" }] }]
    }));
    // ifconfig opens an AF_INET socket, ip an AF_NETLINK one and logger
    // an AF_UNIX one (its send to the missing /dev/log fails later, but
    // socket() itself must not).
    let (code, out, err) = rt.run_container(
        &mut b,
        &[
            "sh",
            "-c",
            "ifconfig lo; echo ifconfig=$?; ip link show lo >/dev/null; echo ip=$?; logger hi; echo logger=$?",
        ],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ifconfig=1"), "{out}\n{err}");
    assert!(
        err.contains("Address family not supported by protocol"),
        "{err}"
    );
    assert!(out.contains("ip=0"), "{out}\n{err}");
    assert!(!err.contains("logger: socket"), "{err}");
    // Control: AF_INET works without the condition matching (value 3 is AF_AX25).
    b.config["linux"]["seccomp"]["syscalls"][0]["args"][0]["value"] = json!(3);
    let (code, out, err) = rt.run_container(
        &mut b,
        &["sh", "-c", "ifconfig lo >/dev/null; echo ifconfig=$?"],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("ifconfig=0"), "{out}\n{err}");
}

#[test]
fn kill_process_gives_sigsys_exit_status() {
    let rt = Runtime::new();
    let mut b = bundle(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["sync"], "action": "SCMP_ACT_KILL_PROCESS" }]
    }));
    let (code, out, err) =
        rt.run_container(&mut b, &["sh", "-c", "echo before; exec sync; echo after"]);
    assert_eq!(code, 128 + libc::SIGSYS, "stdout {out:?} stderr {err:?}");
    assert_eq!(out, "before\n");
}

/// A static x86_64 ELF that makes the x32 mkdir syscall
/// (`__X32_SYSCALL_BIT | 83`) on "/tmp/x32dir" and exits with its errno
/// (0 on success), using only native syscalls otherwise.
fn x32_mkdir_elf() -> Vec<u8> {
    let base: u64 = 0x400000;
    let mut code: Vec<u8> = Vec::new();
    code.push(0xb8); // mov eax, imm32
    code.extend_from_slice(&(0x4000_0000u32 | 83).to_le_bytes());
    code.extend_from_slice(&[0x48, 0x8d, 0x3d]); // lea rdi, [rip + 18]
    code.extend_from_slice(&18u32.to_le_bytes());
    code.extend_from_slice(&[0xbe, 0xff, 0x01, 0x00, 0x00]); // mov esi, 0o777
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    code.extend_from_slice(&[0x89, 0xc7]); // mov edi, eax
    code.extend_from_slice(&[0xf7, 0xdf]); // neg edi
    code.extend_from_slice(&[0xb8, 231, 0, 0, 0]); // mov eax, exit_group
    code.extend_from_slice(&[0x0f, 0x05]); // syscall
    assert_eq!(code.len(), 30);
    code.extend_from_slice(b"/tmp/x32dir\0");
    let total = (64 + 56 + code.len()) as u64;
    let mut elf = Vec::new();
    elf.extend_from_slice(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    elf.extend_from_slice(&2u16.to_le_bytes()); // ET_EXEC
    elf.extend_from_slice(&0x3eu16.to_le_bytes()); // x86_64
    elf.extend_from_slice(&1u32.to_le_bytes());
    elf.extend_from_slice(&(base + 64 + 56).to_le_bytes()); // entry
    elf.extend_from_slice(&64u64.to_le_bytes()); // phoff
    elf.extend_from_slice(&0u64.to_le_bytes()); // shoff
    elf.extend_from_slice(&0u32.to_le_bytes()); // flags
    elf.extend_from_slice(&64u16.to_le_bytes());
    elf.extend_from_slice(&56u16.to_le_bytes());
    elf.extend_from_slice(&1u16.to_le_bytes());
    elf.extend_from_slice(&[0; 6]);
    elf.extend_from_slice(&1u32.to_le_bytes()); // PT_LOAD
    elf.extend_from_slice(&5u32.to_le_bytes()); // R+X
    elf.extend_from_slice(&0u64.to_le_bytes());
    elf.extend_from_slice(&base.to_le_bytes());
    elf.extend_from_slice(&base.to_le_bytes());
    elf.extend_from_slice(&total.to_le_bytes());
    elf.extend_from_slice(&total.to_le_bytes());
    elf.extend_from_slice(&0x1000u64.to_le_bytes());
    elf.extend_from_slice(&code);
    elf
}

#[test]
fn x32_syscalls_cannot_bypass_x86_64_rules() {
    let rt = Runtime::new();
    let install = |b: &Bundle| {
        let p = b.rootfs().join("bin/x32mkdir");
        fs::write(&p, x32_mkdir_elf()).unwrap();
        fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    };
    // x32 not listed: the x32 number is killed (bad arch), it neither
    // reaches the kernel nor slips past the x86_64 mkdir rule.
    let mut b = bundle(deny(&["mkdir", "mkdirat"], 1));
    install(&b);
    let (code, out, err) = rt.run_container(&mut b, &["/bin/x32mkdir"]);
    assert_eq!(code, 128 + libc::SIGSYS, "{out}{err}");
    assert!(!b.rootfs().join("tmp/x32dir").exists());

    // x32 listed: its own table applies and mkdir gets the errno.
    let mut b = bundle(deny(&["mkdir", "mkdirat"], 1));
    b.config["linux"]["seccomp"]["architectures"] = json!(["SCMP_ARCH_X86_64", "SCMP_ARCH_X32"]);
    install(&b);
    let (code, out, err) = rt.run_container(&mut b, &["/bin/x32mkdir"]);
    assert_eq!(code, 1, "{out}{err}");

    // Control: x32 listed, mkdir not denied: the kernel runs it (0) or,
    // without CONFIG_X86_X32_ABI, answers ENOSYS (38); never SIGSYS.
    let mut b = bundle(deny(&["rmdir"], 1));
    b.config["linux"]["seccomp"]["architectures"] = json!(["SCMP_ARCH_X32"]);
    install(&b);
    let (code, out, err) = rt.run_container(&mut b, &["/bin/x32mkdir"]);
    assert!(code == 0 || code == 38, "code {code}: {out}{err}");
}

#[test]
fn notify_without_listener_path_fails_create() {
    let rt = Runtime::new();
    let b = bundle(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
    }));
    let id = unique_id("sc-nolistener");
    let o = rt.create(&b, &id).fail();
    assert!(
        o.stderr.contains("SCMP_ACT_NOTIFY needs listenerPath"),
        "{o}"
    );
    assert!(o.stderr.contains("/linux/seccomp/listenerPath"), "{o}");
}

#[test]
fn notify_with_unreachable_listener_fails_create() {
    let rt = Runtime::new();
    let dir = TempDir::new("sc-agent");
    let b = bundle(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": dir.path().join("missing.sock"),
        "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
    }));
    let id = unique_id("sc-badlistener");
    let o = rt.create(&b, &id).fail();
    if runtime_is_hull() {
        assert!(
            o.stderr.contains("the seccomp agent could not be reached"),
            "{o}"
        );
        assert!(o.stderr.contains("linux.seccomp.listenerPath"), "{o}");
    }
    assert!(o.stderr.contains("missing.sock"), "{o}");
    assert!(rt.state(&id).is_err(), "{id} left behind");
}

/// SCMP_ACT_NOTIFY on a syscall hull itself makes between loading the
/// filter and the agent holding the notify fd would hang the container:
/// refused at create, before anything is made.
#[test]
fn notify_on_syscalls_hull_needs_is_refused() {
    let rt = Runtime::new();
    let dir = TempDir::new("sc-agent");
    let sock = dir.path().join("agent.sock");
    let _listener = UnixListener::bind(&sock).expect("bind agent socket");
    for name in ["write", "sendmsg", "close"] {
        if name != "write" && !runtime_is_hull() {
            continue;
        }
        let b = bundle(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "syscalls": [{ "names": [name], "action": "SCMP_ACT_NOTIFY" }]
        }));
        let id = unique_id("sc-notify-needed");
        let o = rt.create(&b, &id).fail();
        let want = format!("SCMP_ACT_NOTIFY cannot be used for the {name} syscall");
        assert!(o.stderr.contains(&want), "{o}");
        if runtime_is_hull() {
            assert!(o.stderr.contains("/linux/seccomp/syscalls/0/action"), "{o}");
        }
        assert!(rt.state(&id).is_err(), "{id} left behind");
    }
}

/// startContainer hooks run inside the container under its filter (as in
/// runc), with and without noNewPrivileges; `run` reports the failure.
#[test]
fn start_container_hook_runs_under_the_filter() {
    if !hull_only("startContainer hooks (runc 1.1 lacks them)") {
        return;
    }
    let rt = Runtime::new();
    let hook = json!({ "path": "/bin/sh", "args": ["sh", "-c", "mkdir /dev/shm/foo"] });
    for nnp in [true, false] {
        let mut b = bundle(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_KILL" }]
        }));
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        b.config["hooks"] = json!({ "startContainer": [hook] });
        b.set_args(&["sh", "-c", "echo container-ran"]);
        let id = unique_id("sc-hook");
        let o = rt.run_with(&b, &id, &[]).fail();
        assert!(o.stderr.contains("startContainer[0]"), "nnp {nnp}: {o}");
        assert!(
            o.stderr.to_lowercase().contains("bad system call"),
            "nnp {nnp}: {o}"
        );
        assert!(!o.stdout.contains("container-ran"), "nnp {nnp}: {o}");
        // Control: the same hook without the rule succeeds.
        let mut b = bundle(deny(&["rmdir"], 1));
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        b.config["hooks"] = json!({ "startContainer": [hook] });
        b.set_args(&["sh", "-c", "[ -d /dev/shm/foo ] && echo container-ran"]);
        let o = rt.run_with(&b, &unique_id("sc-hook"), &[]).ok();
        assert!(o.stdout.contains("container-ran"), "nnp {nnp}: {o}");
    }
}

/// A startContainer hook of a container with a notify listener gets only
/// stdio: no notify fd, no descriptor of hull's.
#[test]
fn start_container_hook_gets_no_extra_fd() {
    if !hull_only("startContainer hooks (runc 1.1 lacks them)") {
        return;
    }
    let rt = Runtime::new();
    let dir = TempDir::new("sc-agent");
    let sock = dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).expect("bind agent socket");
    for nnp in [true, false] {
        let mut b = bundle(json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": sock,
            "syscalls": [{ "names": ["getpgid"], "action": "SCMP_ACT_NOTIFY" }]
        }));
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        let out = b.out_dir();
        // The hook's shell lists its descriptors (through ls, whose own
        // directory fd is not the shell's).
        b.config["hooks"] = json!({ "startContainer": [{ "path": "/bin/sh",
            "args": ["sh", "-c", "exec >/out/fds; ls /proc/$$/fd; ls -l /proc/$$/fd >&2"] }] });
        b.set_args(&["true"]);
        let id = unique_id("sc-hook-fds");
        rt.create(&b, &id).ok();
        rt.start(&id).ok();
        let (_state, _fd) = receive_state(&listener);
        let fds = wait_file_contains(&out.join("fds"), "\n", Duration::from_secs(20))
            .or_else(|| fs::read_to_string(out.join("fds")).ok())
            .unwrap_or_default();
        // fd 1 is /out/fds itself.
        let fds: Vec<&str> = fds.split_whitespace().collect();
        rt.delete_force(&id);
        assert_eq!(fds, ["0", "1", "2"], "nnp {nnp}: {fds:?}");
    }
}

/// A static program in the rootfs, built once per test run.
fn seccomp_probe() -> PathBuf {
    static PROBE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    PROBE
        .get_or_init(|| {
            let src =
                Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/integration/seccomp_probe.rs");
            let bin = Path::new(env!("CARGO_TARGET_TMPDIR")).join("seccomp-probe");
            let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
            let o = std::process::Command::new(&rustc)
                .args([
                    "--edition",
                    "2021",
                    "-O",
                    "-C",
                    "target-feature=+crt-static",
                    "-o",
                ])
                .arg(&bin)
                .arg(&src)
                .output()
                .unwrap_or_else(|e| panic!("run {rustc:?}: {e}"));
            assert!(
                o.status.success(),
                "build the seccomp probe: {}",
                String::from_utf8_lossy(&o.stderr)
            );
            bin
        })
        .clone()
}

/// runc's own default-ERRNO test, from raw syscalls: a long allow list
/// (every x86_64 syscall below clone3's number except the probed ones),
/// per-rule errnoRet, MASKED_EQ rules ORed, conditions in a rule ANDed,
/// and ENOSYS for syscalls newer than the profile (glibc's clone3
/// fallback to clone keeps threads working).
#[test]
fn errno_default_long_allowlist_from_raw_syscalls() {
    let rt = Runtime::new();
    let probed = ["getpgrp", "getppid", "socket", "process_vm_readv", "kcmp"];
    let clone3 = hull::security::seccomp::native_syscall("clone3").unwrap();
    let allow: Vec<&str> = hull::security::seccomp::native_syscall_names()
        .into_iter()
        .filter(|n| !probed.contains(n))
        .filter(|n| hull::security::seccomp::native_syscall(n).unwrap() < clone3)
        .collect();
    assert!(allow.len() > 300, "{}", allow.len());
    let masked = |mask: u64, want: u64| {
        json!({ "names": ["socket"], "action": "SCMP_ACT_ALLOW",
                "args": [{ "index": 2, "value": mask, "valueTwo": want, "op": "SCMP_CMP_MASKED_EQ" }] })
    };
    let eq =
        |index: u32, value: u64| json!({ "index": index, "value": value, "op": "SCMP_CMP_EQ" });
    let mut b = bundle(json!({
        "defaultAction": "SCMP_ACT_ERRNO",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            { "names": allow, "action": "SCMP_ACT_ALLOW" },
            { "names": ["getppid"], "action": "SCMP_ACT_ERRNO", "errnoRet": libc::ENOANO },
            masked(0xff00, 0),
            masked(0xff00, 0x100),
            masked(0xffff_ffff_0000_0000, 0x5_0000_0000),
            { "names": ["process_vm_readv"], "action": "SCMP_ACT_ALLOW", "args": [eq(0, 100)] },
            { "names": ["process_vm_readv"], "action": "SCMP_ACT_ALLOW", "args": [eq(0, 9001)] },
            { "names": ["kcmp"], "action": "SCMP_ACT_ALLOW", "args": [eq(0, 0), eq(1, 1337)] },
        ]
    }));
    fs::copy(seccomp_probe(), b.rootfs().join("bin/seccomp-probe")).unwrap();
    let (code, out, err) = rt.run_container(&mut b, &["/bin/seccomp-probe"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("19 checks, 0 mismatches"), "{out}{err}");
}

fn poll_in(fd: RawFd, timeout: Duration) -> bool {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    };
    let r = unsafe { libc::poll(&mut p, 1, timeout.as_millis() as i32) };
    r == 1 && p.revents & libc::POLLIN != 0
}

#[repr(C)]
#[derive(Default, Debug)]
struct SeccompData {
    nr: i32,
    arch: u32,
    ip: u64,
    args: [u64; 6],
}

#[repr(C)]
#[derive(Default, Debug)]
struct SeccompNotif {
    id: u64,
    pid: u32,
    flags: u32,
    data: SeccompData,
}

#[repr(C)]
#[derive(Default, Debug)]
struct SeccompNotifResp {
    id: u64,
    val: i64,
    error: i32,
    flags: u32,
}

// _IOWR('!', 0, struct seccomp_notif) and _IOWR('!', 1, struct seccomp_notif_resp).
const SECCOMP_IOCTL_NOTIF_RECV: libc::c_ulong = 0xc050_2100;
const SECCOMP_IOCTL_NOTIF_SEND: libc::c_ulong = 0xc018_2101;

/// Waits for one notification and answers it with `error` (0 = success
/// with `val` 0, else -errno); returns the notification.
fn answer(fd: &OwnedFd, error: i32) -> SeccompNotif {
    assert_eq!(std::mem::size_of::<SeccompNotif>(), 80);
    assert_eq!(std::mem::size_of::<SeccompNotifResp>(), 24);
    assert!(
        poll_in(fd.as_raw_fd(), Duration::from_secs(20)),
        "no seccomp notification within 20s"
    );
    let mut n = SeccompNotif::default();
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_RECV, &mut n) };
    assert_eq!(r, 0, "NOTIF_RECV: {}", std::io::Error::last_os_error());
    let resp = SeccompNotifResp {
        id: n.id,
        val: 0,
        error: -error,
        flags: 0,
    };
    let r = unsafe { libc::ioctl(fd.as_raw_fd(), SECCOMP_IOCTL_NOTIF_SEND, &resp) };
    assert_eq!(r, 0, "NOTIF_SEND: {}", std::io::Error::last_os_error());
    n
}

/// Receives the seccomp state and the notify fd from the listener.
fn receive_state(l: &UnixListener) -> (Value, OwnedFd) {
    assert!(
        poll_in(l.as_raw_fd(), Duration::from_secs(20)),
        "hull never connected to the listener"
    );
    let (mut conn, _) = l.accept().expect("accept listener connection");
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = vec![0u8; 65536];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .expect("recvmsg seccomp state");
    let mut fds = Vec::new();
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(v) = c {
            fds.extend(v.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
        }
    }
    let n = msg.bytes;
    let mut data = buf[..n].to_vec();
    conn.read_to_end(&mut data)
        .expect("read rest of state (connection must be closed)");
    let state: Value = serde_json::from_slice(&data).unwrap_or_else(|e| {
        panic!(
            "state is not JSON ({e}): {}",
            String::from_utf8_lossy(&data)
        )
    });
    assert_eq!(
        fds.len(),
        1,
        "one fd in SCM_RIGHTS, got {fds:?}; state {state}"
    );
    (state, fds.pop().unwrap())
}

#[test]
fn notify_sends_state_and_fd_to_listener() {
    let rt = Runtime::new();
    let agent_dir = TempDir::new("sc-agent");
    let sock = agent_dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).expect("bind agent socket");
    let mut b = bundle(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "listenerMetadata": "hello-agent",
        "flags": ["SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY" }]
    }));
    b.config["annotations"] = json!({ "org.hull.test": "seccomp" });
    let out = b.out_dir();
    b.set_args(&[
        "sh",
        "-c",
        "mkdir /tmp/a; echo a=$? >/out/log; mkdir /tmp/b 2>/out/err; echo b=$? >>/out/log; \
         [ -d /tmp/a ] && echo a-exists >>/out/log; echo done >>/out/log",
    ]);
    let id = unique_id("sc-notify");
    rt.create(&b, &id).ok();
    rt.start(&id).ok();
    let (state, fd) = receive_state(&listener);
    let pid = rt.pid(&id);
    // The state speaks the spec version hull implements, not the bundle's.
    let oci = json!("1.3.0");
    assert_eq!(state["ociVersion"], oci, "{state}");
    assert_eq!(state["fds"], json!(["seccompFd"]), "{state}");
    assert_eq!(state["pid"], json!(pid), "{state}");
    assert_eq!(state["metadata"], json!("hello-agent"), "{state}");
    let s = &state["state"];
    assert_eq!(s["ociVersion"], oci, "{state}");
    assert_eq!(s["id"], json!(id), "{state}");
    assert_eq!(s["status"], json!("creating"), "{state}");
    assert_eq!(s["pid"], json!(pid), "{state}");
    assert_eq!(s["bundle"], json!(b.path()), "{state}");
    assert_eq!(
        s["annotations"],
        json!({ "org.hull.test": "seccomp" }),
        "{state}"
    );

    let mkdir = [libc::SYS_mkdir as i32, libc::SYS_mkdirat as i32];
    // First mkdir: "succeeds" without the agent doing anything.
    let n = answer(&fd, 0);
    assert!(mkdir.contains(&n.data.nr), "{n:?}");
    assert_eq!(n.data.arch, 0xc000_003e, "{n:?}");
    // Second mkdir: EACCES.
    let n = answer(&fd, libc::EACCES);
    assert!(mkdir.contains(&n.data.nr), "{n:?}");
    let log = wait_file_contains(&out.join("log"), "done", Duration::from_secs(20)).unwrap_or_else(
        || {
            panic!(
                "container did not finish: {:?}",
                fs::read_to_string(out.join("log"))
            )
        },
    );
    assert_eq!(log, "a=0\nb=1\ndone\n");
    let err = fs::read_to_string(out.join("err")).unwrap();
    assert!(err.contains("Permission denied"), "{err}");
}

/// Without noNewPrivileges the filter (and so the listener handshake)
/// happens during create.
#[test]
fn notify_during_create_without_no_new_privileges() {
    let rt = Runtime::new();
    let agent_dir = TempDir::new("sc-agent");
    let sock = agent_dir.path().join("agent.sock");
    let listener = UnixListener::bind(&sock).expect("bind agent socket");
    let mut b = bundle(json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "listenerPath": sock,
        "syscalls": [{ "names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_NOTIFY" }]
    }));
    b.config["process"]["noNewPrivileges"] = json!(false);
    let out = b.out_dir();
    b.set_args(&["sh", "-c", "mkdir /tmp/a 2>/out/err; echo a=$? >/out/log"]);
    let id = unique_id("sc-notify-create");
    rt.create(&b, &id).ok();
    // The state is already there before start.
    let (state, fd) = receive_state(&listener);
    assert_eq!(state["pid"], json!(rt.pid(&id)), "{state}");
    assert!(state.get("metadata").is_none(), "{state}");
    rt.start(&id).ok();
    let n = answer(&fd, libc::EROFS);
    assert!(
        [libc::SYS_mkdir as i32, libc::SYS_mkdirat as i32].contains(&n.data.nr),
        "{n:?}"
    );
    let log = wait_file_contains(&out.join("log"), "a=", Duration::from_secs(20)).unwrap();
    assert_eq!(log, "a=1\n");
    let err = fs::read_to_string(out.join("err")).unwrap();
    assert!(err.contains("Read-only file system"), "{err}");
}
