//! The container process: cwd, env, user, umask, rlimits, capabilities,
//! no_new_privs, oom score, terminal/console socket, preserved fds,
//! personality, I/O priority, scheduler.

use crate::common::*;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use serde_json::json;
use std::fs;
use std::io::{IoSliceMut, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::net::UnixListener;
use std::time::{Duration, Instant};

fn status_field(status: &str, key: &str) -> String {
    status
        .lines()
        .find_map(|l| l.strip_prefix(&format!("{key}:")))
        .unwrap_or_else(|| panic!("{key} not in:\n{status}"))
        .trim()
        .to_string()
}

#[test]
fn cwd_is_set() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["cwd"] = json!("/tmp");
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&mut b, &["pwd"]).trim(), "/tmp");
}

#[test]
fn cwd_is_created_if_missing() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["cwd"] = json!("/work/here");
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&mut b, &["pwd"]).trim(), "/work/here");
}

#[test]
fn env_is_set() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["env"]
        .as_array_mut()
        .unwrap()
        .push(json!("FOO=bar"));
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["env"]);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines.contains(&"FOO=bar"), "{out}");
    assert!(lines.contains(&"TERM=xterm"), "{out}");
    assert!(lines.iter().any(|l| l.starts_with("PATH=")), "{out}");
}

#[test]
fn user_uid_gid_and_additional_gids() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["user"] = json!({ "uid": 1000, "gid": 1000, "additionalGids": [5, 6] });
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["sh", "-c", "id -u; id -g; cat /proc/self/status"]);
    let mut it = out.lines();
    assert_eq!(it.next(), Some("1000"), "{out}");
    assert_eq!(it.next(), Some("1000"), "{out}");
    let uid: Vec<String> = status_field(&out, "Uid")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(uid, ["1000"; 4], "Uid line");
    let gid: Vec<String> = status_field(&out, "Gid")
        .split_whitespace()
        .map(String::from)
        .collect();
    assert_eq!(gid, ["1000"; 4], "Gid line");
    let mut groups: Vec<u32> = status_field(&out, "Groups")
        .split_whitespace()
        .map(|g| g.parse().unwrap())
        .collect();
    groups.sort();
    assert_eq!(groups, [5, 6], "supplementary groups");
}

#[test]
fn root_user_has_no_stray_groups() {
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["cat", "/proc/self/status"]);
    assert_eq!(
        status_field(&out, "Groups"),
        "",
        "root should have no supplementary groups"
    );
}

#[test]
fn umask_is_set() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["user"]["umask"] = json!(0o027);
    let rt = Runtime::new();
    assert_eq!(rt.run_ok(&mut b, &["sh", "-c", "umask"]).trim(), "0027");
}

#[test]
fn rlimit_nofile() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "soft": 512, "hard": 768 }]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; grep 'Max open files' /proc/self/limits",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first().copied(), Some("512"), "{out}");
    assert_eq!(lines.get(1).copied(), Some("768"), "{out}");
    let f: Vec<&str> = lines.get(2).unwrap_or(&"").split_whitespace().collect();
    assert_eq!(f, ["Max", "open", "files", "512", "768", "files"], "{out}");
}

fn cap_mask(caps: &[u32]) -> u64 {
    caps.iter().fold(0, |m, c| m | (1u64 << c))
}

const CAP_CHOWN: u32 = 0;
const CAP_DAC_OVERRIDE: u32 = 1;
const CAP_KILL: u32 = 5;
const CAP_NET_BIND_SERVICE: u32 = 10;
const CAP_NET_RAW: u32 = 13;

fn caps_bundle(uid: u32) -> Bundle {
    let mut b = Bundle::new(&["grep", "^Cap", "/proc/self/status"]);
    b.config["process"]["user"] = json!({ "uid": uid, "gid": uid });
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        "effective": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        "permitted": ["CAP_CHOWN", "CAP_KILL", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW"],
        "inheritable": ["CAP_KILL", "CAP_NET_BIND_SERVICE"],
        "ambient": ["CAP_NET_BIND_SERVICE"]
    });
    b
}

fn read_caps(out: &str) -> [u64; 5] {
    let get = |k: &str| u64::from_str_radix(&status_field(out, k), 16).unwrap();
    [
        get("CapBnd"),
        get("CapEff"),
        get("CapPrm"),
        get("CapInh"),
        get("CapAmb"),
    ]
}

#[test]
fn capabilities_non_root() {
    // For a non-root process without file caps, execve leaves
    // permitted = effective = ambient; bounding and inheritable are kept.
    let mut b = caps_bundle(1000);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["grep", "^Cap", "/proc/self/status"]);
    let [bnd, eff, prm, inh, amb] = read_caps(&out);
    let want_bnd = cap_mask(&[
        CAP_CHOWN,
        CAP_DAC_OVERRIDE,
        CAP_KILL,
        CAP_NET_BIND_SERVICE,
        CAP_NET_RAW,
    ]);
    let want_inh = cap_mask(&[CAP_KILL, CAP_NET_BIND_SERVICE]);
    let want_amb = cap_mask(&[CAP_NET_BIND_SERVICE]);
    assert_eq!(bnd, want_bnd, "CapBnd\n{out}");
    assert_eq!(inh, want_inh, "CapInh\n{out}");
    assert_eq!(amb, want_amb, "CapAmb\n{out}");
    assert_eq!(prm, want_amb, "CapPrm\n{out}");
    assert_eq!(eff, want_amb, "CapEff\n{out}");
}

#[test]
fn capabilities_root() {
    // For uid 0, execve would grant permitted = inheritable | bounding,
    // but with noNewPrivileges (set here) the kernel caps the new
    // permitted set at the old one, so permitted = effective = the
    // configured permitted set.
    let mut b = caps_bundle(0);
    b.config["process"]["noNewPrivileges"] = json!(true);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["grep", "^Cap", "/proc/self/status"]);
    let [bnd, eff, prm, inh, amb] = read_caps(&out);
    let want_bnd = cap_mask(&[
        CAP_CHOWN,
        CAP_DAC_OVERRIDE,
        CAP_KILL,
        CAP_NET_BIND_SERVICE,
        CAP_NET_RAW,
    ]);
    assert_eq!(bnd, want_bnd, "CapBnd\n{out}");
    assert_eq!(
        inh,
        cap_mask(&[CAP_KILL, CAP_NET_BIND_SERVICE]),
        "CapInh\n{out}"
    );
    assert_eq!(amb, cap_mask(&[CAP_NET_BIND_SERVICE]), "CapAmb\n{out}");
    let want_prm = cap_mask(&[CAP_CHOWN, CAP_KILL, CAP_NET_BIND_SERVICE, CAP_NET_RAW]);
    assert_eq!(prm, want_prm, "CapPrm\n{out}");
    assert_eq!(eff, want_prm, "CapEff\n{out}");
}

#[test]
fn capabilities_of_running_init_seen_from_host() {
    // The init's effective set as seen from the host via /proc/<pid>.
    let mut b = caps_bundle(1000);
    b.set_args(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = unique_id("caps");
    rt.run_with(&b, &id, &["-d"]).ok();
    let st = fs::read_to_string(format!("/proc/{}/status", rt.pid(&id))).unwrap();
    let [bnd, eff, ..] = read_caps(&st);
    assert_eq!(eff, cap_mask(&[CAP_NET_BIND_SERVICE]));
    assert_eq!(
        bnd,
        cap_mask(&[
            CAP_CHOWN,
            CAP_DAC_OVERRIDE,
            CAP_KILL,
            CAP_NET_BIND_SERVICE,
            CAP_NET_RAW
        ])
    );
}

#[test]
fn no_new_privileges_true() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["noNewPrivileges"] = json!(true);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&out, "NoNewPrivs"), "1");
}

#[test]
fn no_new_privileges_false() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["noNewPrivileges"] = json!(false);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["cat", "/proc/self/status"]);
    assert_eq!(status_field(&out, "NoNewPrivs"), "0");
}

#[test]
fn oom_score_adj() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["oomScoreAdj"] = json!(500);
    let rt = Runtime::new();
    assert_eq!(
        rt.run_ok(&mut b, &["cat", "/proc/self/oom_score_adj"])
            .trim(),
        "500"
    );
}

/// Receive one fd over SCM_RIGHTS from the first connection on `l`.
pub(crate) fn recv_console_fd(l: UnixListener) -> Option<OwnedFd> {
    // Accept with a deadline so a runtime that never connects fails the
    // test instead of hanging it.
    l.set_nonblocking(true).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let conn = loop {
        match l.accept() {
            Ok((c, _)) => break c,
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(20))
            }
            Err(_) => return None,
        }
    };
    conn.set_nonblocking(false).unwrap();
    conn.set_read_timeout(Some(Duration::from_secs(20)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let mut iov = [IoSliceMut::new(&mut buf)];
    let mut cmsg = nix::cmsg_space!([RawFd; 4]);
    let msg = recvmsg::<()>(
        conn.as_raw_fd(),
        &mut iov,
        Some(&mut cmsg),
        MsgFlags::empty(),
    )
    .expect("recvmsg on console socket");
    for c in msg.cmsgs().expect("cmsgs") {
        if let ControlMessageOwned::ScmRights(fds) = c
            && let Some(fd) = fds.first()
        {
            return Some(unsafe { OwnedFd::from_raw_fd(*fd) });
        }
    }
    None
}

/// Read from a pty master until EOF/EIO or the deadline.
pub(crate) fn read_pty(fd: &OwnedFd, timeout: Duration) -> String {
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    let mut f = fs::File::from(fd.try_clone().unwrap());
    while Instant::now() < deadline {
        let mut p = libc::pollfd {
            fd: fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let r = unsafe { libc::poll(&mut p, 1, 200) };
        if r <= 0 {
            continue;
        }
        let mut buf = [0u8; 4096];
        match f.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(_) => break, // EIO: slave side closed
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

/// create with --console-socket, start, and return what the container
/// wrote to its terminal.
fn run_with_console(b: &mut Bundle, args: &[&str]) -> String {
    b.config["process"]["terminal"] = json!(true);
    b.set_args(args);
    let sockdir = TempDir::new("console");
    let sock = sockdir.path().join("console.sock");
    let listener = UnixListener::bind(&sock).unwrap();
    let receiver = std::thread::spawn(move || recv_console_fd(listener));
    let rt = Runtime::new();
    let id = unique_id("tty");
    let o = rt.create_with(b, &id, &["--console-socket", sock.to_str().unwrap()]);
    if !o.success() {
        // Unblock the receiver thread before failing.
        let _ = std::os::unix::net::UnixStream::connect(&sock);
        panic!("create with console socket failed: {o}");
    }
    let master = receiver
        .join()
        .expect("console receiver panicked")
        .unwrap_or_else(|| panic!("no pty master fd received on the console socket ({o})"));
    rt.start(&id).ok();
    let text = read_pty(&master, Duration::from_secs(15));
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));
    text
}

#[test]
fn terminal_via_console_socket() {
    let mut b = Bundle::new(&[]);
    let text = run_with_console(&mut b, &["sh", "-c", "tty; echo hello"]);
    assert!(text.contains("/dev/pts/0"), "tty output: {text:?}");
    assert!(text.contains("hello"), "tty output: {text:?}");
}

#[test]
fn terminal_console_size() {
    let mut b = Bundle::new(&[]);
    b.config["process"]["consoleSize"] = json!({ "height": 40, "width": 100 });
    let text = run_with_console(&mut b, &["stty", "size"]);
    assert!(text.contains("40 100"), "stty size output: {text:?}");
}

#[test]
fn preserve_fds_passes_extra_fd() {
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let b = Bundle::new(&["sh", "-c", "echo via-fd3 > /proc/self/fd/3"]);
    b.save();
    let rt = Runtime::new();
    let id = unique_id("pfd");
    rt.track(&id);
    let bp = b.path().to_string_lossy().to_string();
    let o = rt.cmd_opts(
        &["run", "--bundle", &bp, "--preserve-fds", "1", &id],
        CmdOpts {
            extra_fd: Some((wr.as_raw_fd(), 3)),
            ..Default::default()
        },
    );
    drop(wr);
    let o = o.ok();
    let mut s = String::new();
    fs::File::from(rd).read_to_string(&mut s).unwrap();
    assert_eq!(s, "via-fd3\n", "{o}");
}

#[test]
fn fds_not_preserved_by_default() {
    // Without --preserve-fds an inherited fd 3 must not reach the
    // container: none of the init's fds may be our pipe.
    let (_rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let ino = fs::metadata(format!("/proc/self/fd/{}", wr.as_raw_fd())).unwrap();
    let pipe_name = format!("pipe:[{}]", std::os::unix::fs::MetadataExt::ino(&ino));
    let b = Bundle::new(&["sleep", "30"]);
    b.save();
    let rt = Runtime::new();
    let id = unique_id("nopfd");
    rt.track(&id);
    let bp = b.path().to_string_lossy().to_string();
    rt.cmd_opts(
        &["run", "-d", "--bundle", &bp, &id],
        CmdOpts {
            extra_fd: Some((wr.as_raw_fd(), 3)),
            ..Default::default()
        },
    )
    .ok();
    let pid = rt.pid(&id);
    let mut fds = Vec::new();
    for e in fs::read_dir(format!("/proc/{pid}/fd")).unwrap().flatten() {
        let target = fs::read_link(e.path())
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_default();
        fds.push((e.file_name().to_string_lossy().to_string(), target));
    }
    assert!(
        !fds.iter().any(|(_, t)| *t == pipe_name),
        "init holds the unpreserved fd: {fds:?}"
    );
    assert!(
        !fds.iter().any(|(n, _)| n == "3"),
        "init has an fd 3: {fds:?}"
    );
}

#[test]
fn personality_linux32() {
    let mut b = Bundle::new(&[]);
    b.config["linux"]["personality"] = json!({ "domain": "LINUX32" });
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["uname", "-m"]);
    let host_m = host("uname", &["-m"]);
    if host_m.trim() != "x86_64" {
        println!(
            "SKIP: personality LINUX32 check written for x86_64 hosts (host is {})",
            host_m.trim()
        );
        return;
    }
    if out.trim() == "x86_64" && !runtime_is_hull() {
        println!(
            "SKIP (HULL-ONLY): linux.personality -- runc 1.1 ignores it (uname -m {:?})",
            out.trim()
        );
        return;
    }
    assert!(
        ["i686", "i386", "i586"].contains(&out.trim()),
        "uname -m with LINUX32 personality: {out:?}"
    );
}

#[test]
fn io_priority_idle() {
    if !hull_only("process.ioPriority (runc 1.1 does not implement it)") {
        return;
    }
    let mut b = Bundle::new(&["sleep", "30"]);
    b.config["process"]["ioPriority"] = json!({ "class": "IOPRIO_CLASS_IDLE", "priority": 0 });
    let rt = Runtime::new();
    let id = unique_id("ioprio");
    rt.run_with(&b, &id, &["-d"]).ok();
    let pid = rt.pid(&id);
    let v = unsafe {
        libc::syscall(libc::SYS_ioprio_get, 1 /* IOPRIO_WHO_PROCESS */, pid)
    };
    assert!(v >= 0, "ioprio_get failed");
    assert_eq!(v >> 13, 3, "I/O class of {pid}: raw {v}, want IDLE (3)");
}

#[test]
fn io_priority_best_effort_level() {
    if !hull_only("process.ioPriority (runc 1.1 does not implement it)") {
        return;
    }
    let mut b = Bundle::new(&["sleep", "30"]);
    b.config["process"]["ioPriority"] = json!({ "class": "IOPRIO_CLASS_BE", "priority": 6 });
    let rt = Runtime::new();
    let id = unique_id("ioprio");
    rt.run_with(&b, &id, &["-d"]).ok();
    let pid = rt.pid(&id);
    let v = unsafe { libc::syscall(libc::SYS_ioprio_get, 1, pid) };
    assert_eq!((v >> 13, v & 0x1fff), (2, 6), "ioprio raw {v}");
}

#[test]
fn scheduler_batch() {
    if !hull_only("process.scheduler (runc 1.1 does not implement it)") {
        return;
    }
    let mut b = Bundle::new(&["sleep", "30"]);
    b.config["process"]["scheduler"] = json!({ "policy": "SCHED_BATCH" });
    let rt = Runtime::new();
    let id = unique_id("sched");
    rt.run_with(&b, &id, &["-d"]).ok();
    let pid = rt.pid(&id);
    let pol = unsafe { libc::sched_getscheduler(pid) };
    assert!(pol >= 0, "sched_getscheduler({pid}) failed");
    // Ignore SCHED_RESET_ON_FORK if the runtime set it.
    assert_eq!(pol & !0x4000_0000, libc::SCHED_BATCH, "policy of {pid}");
}

/// The `Pid:` line of a pidfd's fdinfo, in this process.
fn pidfd_target(fd: &OwnedFd) -> i32 {
    let info = fs::read_to_string(format!("/proc/self/fdinfo/{}", fd.as_raw_fd())).unwrap();
    info.lines()
        .find_map(|l| l.strip_prefix("Pid:"))
        .unwrap_or_else(|| panic!("not a pidfd: {info}"))
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn pidfd_socket_receives_the_init_and_exec_pidfds() {
    if !hull_only("--pidfd-socket (runc 1.1 lacks it)") {
        return;
    }
    let tmp = TempDir::new("pidfd");
    let rt = Runtime::new();
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("pidfd");
    let sock = tmp.path().join("init.sock");
    let l = UnixListener::bind(&sock).unwrap();
    rt.create_with(&b, &id, &["--pidfd-socket", sock.to_str().unwrap()])
        .ok();
    let fd = recv_console_fd(l).expect("no pidfd received for create");
    assert_eq!(pidfd_target(&fd), rt.pid(&id));
    rt.start(&id).ok();
    let sock = tmp.path().join("exec.sock");
    let l = UnixListener::bind(&sock).unwrap();
    let pf = tmp.path().join("exec.pid");
    rt.cmd(&[
        "exec",
        "-d",
        "--pid-file",
        pf.to_str().unwrap(),
        "--pidfd-socket",
        sock.to_str().unwrap(),
        &id,
        "sleep",
        "30",
    ])
    .ok();
    let fd = recv_console_fd(l).expect("no pidfd received for exec");
    let pid: i32 = fs::read_to_string(&pf).unwrap().trim().parse().unwrap();
    assert_eq!(pidfd_target(&fd), pid);
}

/// A container's processes do not keep the CPU affinity of whatever
/// started the runtime: the init and exec'd processes may use every CPU
/// (HULL-ONLY: runc 1.1.5 lets them inherit it), unless
/// process.execCPUAffinity.final says otherwise for an exec.
#[test]
fn process_cpu_affinity_is_reset_for_init_and_exec() {
    if !hull_only("CPU affinity reset (runc 1.1.5 keeps the caller's affinity)") {
        return;
    }
    let online = read_trim(std::path::Path::new("/sys/devices/system/cpu/online"));
    if online == "0" {
        println!("SKIPPED: one CPU: nothing to reset");
        return;
    }
    let rt = Runtime::new();
    let id = unique_id("aff");
    let b = Bundle::new(&["sleep", "300"]);
    b.save();
    rt.track(&id);
    let scratch = TempDir::new("affout");
    let pinned = |args: &[&str]| {
        let mut c = rt.command(args);
        // SAFETY: only sched_setaffinity between fork and exec.
        unsafe {
            std::os::unix::process::CommandExt::pre_exec(&mut c, || {
                let mut set: libc::cpu_set_t = std::mem::zeroed();
                libc::CPU_SET(0, &mut set);
                if libc::sched_setaffinity(0, std::mem::size_of_val(&set), &set) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        // Output to files: the container's init keeps pipes open.
        run_cmd(c, scratch.path(), CmdOpts::default()).ok().stdout
    };
    let bp = b.path().to_str().unwrap().to_string();
    pinned(&["create", "--bundle", &bp, &id]);
    pinned(&["start", &id]);
    let allowed = |pid: i32| {
        fs::read_to_string(format!("/proc/{pid}/status"))
            .unwrap()
            .lines()
            .find_map(|l| {
                l.strip_prefix("Cpus_allowed_list:")
                    .map(|v| v.trim().to_string())
            })
            .unwrap()
    };
    assert_eq!(allowed(rt.pid(&id)), online, "init");
    let out = pinned(&[
        "exec",
        &id,
        "grep",
        "Cpus_allowed_list",
        "/proc/self/status",
    ]);
    assert!(out.contains(&format!("\t{online}")), "exec: {out}");
    // execCPUAffinity.final applies to exec'd processes.
    let tmp = TempDir::new("aff");
    let mut p = b.config["process"].clone();
    p["args"] = json!(["grep", "Cpus_allowed_list", "/proc/self/status"]);
    p["execCPUAffinity"] = json!({"final": "1"});
    let pf = tmp.path().join("process.json");
    fs::write(&pf, p.to_string()).unwrap();
    let out = pinned(&["exec", "--process", pf.to_str().unwrap(), &id]);
    assert!(
        out.contains("\t1\n"),
        "exec with execCPUAffinity.final 1: {out}"
    );
}
