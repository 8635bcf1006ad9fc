//! One test per config slice; each runs the checker inside the container.

use crate::common::*;
use serde_json::json;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant};

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
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

/// Makes `dir` a shared bind mount of itself on the host (undone when its
/// TempDir is dropped), so that slave/shared propagation is observable.
fn make_shared(dir: &Path) {
    let c = CString::new(dir.to_string_lossy().as_bytes()).unwrap();
    unsafe {
        assert_eq!(
            libc::mount(
                c.as_ptr(),
                c.as_ptr(),
                std::ptr::null(),
                libc::MS_BIND,
                std::ptr::null()
            ),
            0,
            "bind {}",
            dir.display()
        );
        assert_eq!(
            libc::mount(
                std::ptr::null(),
                c.as_ptr(),
                std::ptr::null(),
                libc::MS_SHARED,
                std::ptr::null()
            ),
            0,
            "make-shared {}",
            dir.display()
        );
    }
}

#[test]
fn config_default() {
    check(&Bundle::new());
}

#[test]
fn config_root_readonly_false() {
    let mut b = Bundle::new();
    b.config["root"]["readonly"] = json!(false);
    check(&b);
}

#[test]
fn config_user_groups_umask_cwd_env() {
    let mut b = Bundle::new();
    let p = &mut b.config["process"];
    p["user"] = json!({ "uid": 1000, "gid": 1000, "additionalGids": [5, 100], "umask": 0o027 });
    p["cwd"] = json!("/tmp");
    p["env"] = json!([
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "FOO=bar",
        "WITH_EQUALS=a=b",
        "EMPTY=",
        "HOME=/home"
    ]);
    check(&b);
}

#[test]
fn config_rlimits() {
    let mut b = Bundle::new();
    b.config["process"]["rlimits"] = json!([
        { "type": "RLIMIT_NOFILE", "soft": 512, "hard": 1024 },
        { "type": "RLIMIT_CORE", "soft": 0, "hard": u64::MAX },
        { "type": "RLIMIT_NPROC", "soft": 1000, "hard": 2000 },
        { "type": "RLIMIT_MEMLOCK", "soft": 65536, "hard": 131072 },
        { "type": "RLIMIT_STACK", "soft": 8388608, "hard": u64::MAX },
        { "type": "RLIMIT_MSGQUEUE", "soft": 819200, "hard": 819200 },
    ]);
    check(&b);
}

#[test]
fn config_capabilities_root_subset() {
    let mut b = Bundle::new();
    // For uid 0 the kernel makes permitted = effective = bounding at exec,
    // so a consistent config lists the same set there.
    let set = json!([
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_SETUID",
        "CAP_SETGID",
        "CAP_NET_ADMIN"
    ]);
    b.config["process"]["capabilities"] = json!({
        "bounding": set, "effective": set, "permitted": set,
        "inheritable": ["CAP_NET_ADMIN"], "ambient": ["CAP_NET_ADMIN"]
    });
    check(&b);
}

#[test]
fn config_capabilities_root_all() {
    let mut b = Bundle::new();
    // Only the caps the runner itself holds: a runtime cannot grant more.
    let bnd = fs::read_to_string("/proc/self/status")
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("CapBnd:")
                .map(|v| u64::from_str_radix(v.trim(), 16).unwrap())
        })
        .unwrap();
    type Caps<'a> = Vec<(usize, &'a str)>;
    let (held, missing): (Caps, Caps) = ALL_CAPS
        .iter()
        .copied()
        .enumerate()
        .partition(|(i, _)| bnd & (1 << i) != 0);
    if !missing.is_empty() {
        println!(
            "NOTE: the runner's bounding set lacks {missing:?}; they are left out of the config"
        );
    }
    let all = json!(held.iter().map(|(_, c)| *c).collect::<Vec<_>>());
    b.config["process"]["capabilities"] = json!({
        "bounding": all, "effective": all, "permitted": all, "inheritable": all, "ambient": all
    });
    b.config["process"]["noNewPrivileges"] = json!(false);
    check(&b);
}

#[test]
fn config_capabilities_nonroot_ambient() {
    let mut b = Bundle::new();
    b.config["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    let amb = json!(["CAP_NET_BIND_SERVICE", "CAP_NET_RAW"]);
    b.config["process"]["capabilities"] = json!({
        "bounding": ["CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_KILL"],
        "effective": amb, "permitted": amb, "inheritable": amb, "ambient": amb
    });
    check(&b);
}

#[test]
fn config_capabilities_nonroot_none() {
    let mut b = Bundle::new();
    b.config["process"]["user"] = json!({ "uid": 1000, "gid": 1000 });
    b.config["process"]["capabilities"] = json!({ "bounding": ["CAP_CHOWN"] });
    check(&b);
}

#[test]
fn config_no_new_privileges_false() {
    let mut b = Bundle::new();
    b.config["process"]["noNewPrivileges"] = json!(false);
    check(&b);
}

#[test]
fn config_oom_score_adj() {
    let mut b = Bundle::new();
    b.config["process"]["oomScoreAdj"] = json!(123);
    check(&b);
}

#[test]
fn config_sysctl() {
    let mut b = Bundle::new();
    b.config["linux"]["sysctl"] = json!({
        "net.ipv4.ip_forward": "1",
        "net.core.somaxconn": "1000",
        "kernel.shmmax": "123456789",
        "fs.mqueue.msg_max": "20",
    });
    check(&b);
}

#[test]
fn config_devices() {
    let mut b = Bundle::new();
    b.config["linux"]["devices"] = json!([
        { "path": "/dev/fuse", "type": "c", "major": 10, "minor": 229, "fileMode": 0o666, "uid": 0, "gid": 0 },
        { "path": "/dev/oci-loop", "type": "b", "major": 7, "minor": 200, "fileMode": 0o640, "uid": 1, "gid": 2 },
        { "path": "/dev/oci-sub/null2", "type": "c", "major": 1, "minor": 3, "fileMode": 0o600, "uid": 1000, "gid": 1000 },
        { "path": "/dev/oci-fifo", "type": "p", "fileMode": 0o620 },
    ]);
    b.config["linux"]["resources"]["devices"] = json!([
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "c", "major": 10, "minor": 229, "access": "rwm" },
    ]);
    check(&b);
}

#[test]
fn config_masked_and_readonly_paths() {
    let mut b = Bundle::new();
    b.add_mount(json!({ "destination": "/data", "type": "tmpfs", "source": "tmpfs", "options": ["size=1m"] }));
    b.config["root"]["readonly"] = json!(false);
    b.config["linux"]["maskedPaths"] = json!([
        "/proc/kcore",
        "/sys/firmware",
        "/etc/secret",
        "/etc/secretdir",
        "/does/not/exist"
    ]);
    b.config["linux"]["readonlyPaths"] =
        json!(["/proc/sys", "/proc/sysrq-trigger", "/data", "/etc"]);
    check(&b);
}

#[test]
fn config_mounts_options() {
    let mut b = Bundle::new();
    let ro = b.temp("bind-ro");
    fs::write(ro.join("file"), "x").unwrap();
    let rw = b.temp("bind-rw");
    fs::set_permissions(&rw, fs::Permissions::from_mode(0o777)).unwrap();
    let file = b.temp("bind-file").join("f");
    fs::write(&file, "x").unwrap();
    b.add_mount(json!({ "destination": "/mnt/bindro", "type": "bind", "source": ro, "options": ["rbind", "ro"] }));
    b.add_mount(json!({ "destination": "/mnt/bindrw", "type": "none", "source": rw, "options": ["bind", "rw", "nosuid", "nodev", "noexec"] }));
    b.add_mount(json!({ "destination": "/mnt/file", "type": "bind", "source": file, "options": ["bind", "ro"] }));
    b.add_mount(
        json!({ "destination": "/mnt/tmpfs", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "noexec", "size=1m", "mode=0700", "uid=1000", "gid=1000"] }),
    );
    b.add_mount(
        json!({ "destination": "/mnt/noatime", "type": "tmpfs", "source": "oci-src",
        "options": ["noatime", "nodiratime", "ro", "mode=1777"] }),
    );
    b.add_mount(json!({ "destination": "/mnt/strict", "type": "tmpfs", "source": "tmpfs", "options": ["strictatime", "exec", "suid", "dev"] }));
    check(&b);
}

#[test]
fn config_mounts_propagation() {
    let mut b = Bundle::new();
    let sh = b.temp("shared-src");
    make_shared(&sh);
    let sl = b.temp("slave-src");
    make_shared(&sl);
    b.add_mount(json!({ "destination": "/mnt/shared", "type": "tmpfs", "source": "tmpfs", "options": ["shared"] }));
    b.add_mount(json!({ "destination": "/mnt/private", "type": "tmpfs", "source": "tmpfs", "options": ["rprivate"] }));
    b.add_mount(json!({ "destination": "/mnt/unbindable", "type": "tmpfs", "source": "tmpfs", "options": ["unbindable"] }));
    b.add_mount(json!({ "destination": "/mnt/rshared", "type": "bind", "source": sh, "options": ["rbind", "rshared"] }));
    b.add_mount(json!({ "destination": "/mnt/rslave", "type": "bind", "source": sl, "options": ["rbind", "rslave"] }));
    check(&b);
}

fn rootfs_propagation(p: &str) {
    let mut b = Bundle::new();
    // A shared rootfs on the host makes slave vs private observable.
    make_shared(&b.rootfs());
    b.config["linux"]["rootfsPropagation"] = json!(p);
    check(&b);
}

#[test]
fn config_rootfs_propagation_private() {
    rootfs_propagation("private");
}

#[test]
fn config_rootfs_propagation_slave() {
    rootfs_propagation("rslave");
}

#[test]
fn config_rootfs_propagation_shared() {
    rootfs_propagation("shared");
}

#[test]
fn config_rootfs_propagation_unbindable() {
    rootfs_propagation("unbindable");
}

#[test]
fn config_hostname_domainname() {
    let mut b = Bundle::new();
    b.config["hostname"] = json!("oci-host");
    b.config["domainname"] = json!("oci.example");
    check(&b);
}

fn shared_ns(ty: &str) {
    let mut b = Bundle::new();
    b.remove_namespace(ty);
    if ty == "uts" {
        // A hostname needs a new uts namespace.
        b.config.as_object_mut().unwrap().remove("hostname");
    }
    check(&b);
}

#[test]
fn config_namespace_shared_pid() {
    shared_ns("pid");
}

#[test]
fn config_namespace_shared_network() {
    shared_ns("network");
}

#[test]
fn config_namespace_shared_ipc() {
    shared_ns("ipc");
}

#[test]
fn config_namespace_shared_uts() {
    shared_ns("uts");
}

#[test]
fn config_namespace_shared_cgroup() {
    shared_ns("cgroup");
}

/// A helper process sitting in new net/ipc/uts namespaces; killed on drop.
struct NsHolder(Child);

impl Drop for NsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn config_namespace_join_by_path() {
    let holder = NsHolder(
        Command::new("/bin/busybox")
            .args(["unshare", "-n", "-i", "-u", "/bin/busybox", "sleep", "120"])
            .spawn()
            .expect("spawn busybox unshare"),
    );
    let pid = holder.0.id();
    let mine = fs::read_link("/proc/self/ns/net").unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while fs::read_link(format!("/proc/{pid}/ns/net")).ok().as_ref() == Some(&mine) {
        assert!(
            Instant::now() < deadline,
            "busybox unshare did not enter a new network namespace"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut b = Bundle::new();
    b.config.as_object_mut().unwrap().remove("hostname");
    for (ty, f) in [("network", "net"), ("ipc", "ipc"), ("uts", "uts")] {
        b.set_namespace(ty, Some(&format!("/proc/{pid}/ns/{f}")));
    }
    check(&b);
    drop(holder);
}

#[test]
fn config_user_namespace_mappings() {
    let mut b = Bundle::new();
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] =
        json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]);
    b.config["linux"]["gidMappings"] =
        json!([{ "containerID": 0, "hostID": 200000, "size": 65536 }]);
    check(&b);
}

#[test]
fn config_time_namespace_offsets() {
    let mut b = Bundle::new();
    b.set_namespace("time", None);
    b.config["linux"]["timeOffsets"] = json!({
        "monotonic": { "secs": 31536000, "nanosecs": 0 },
        "boottime": { "secs": 1000000, "nanosecs": 500 },
    });
    check(&b);
}

#[test]
fn config_personality_linux32() {
    let mut b = Bundle::new();
    b.config["linux"]["personality"] = json!({ "domain": "LINUX32" });
    check(&b);
}

#[test]
fn config_personality_linux() {
    let mut b = Bundle::new();
    b.config["linux"]["personality"] = json!({ "domain": "LINUX" });
    check(&b);
}

/// Removes `/sys/fs/cgroup/**/<path>` dirs a runtime left behind.
struct CgroupCleanup(String);

impl Drop for CgroupCleanup {
    fn drop(&mut self) {
        let rel = self.0.trim_start_matches('/');
        let mut dirs = vec![Path::new("/sys/fs/cgroup").join(rel)];
        if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
            dirs.extend(rd.flatten().map(|e| e.path().join(rel)));
        }
        for d in dirs {
            let _ = fs::remove_dir(d);
        }
    }
}

fn cgroup_limits(with_ns: bool) {
    let mut b = Bundle::new();
    let path = format!("/{}", unique_id("hull-ociv"));
    let _cleanup = CgroupCleanup(path.clone());
    b.config["linux"]["cgroupsPath"] = json!(path);
    b.config["linux"]["resources"]["memory"] = json!({ "limit": 104857600 });
    b.config["linux"]["resources"]["pids"] = json!({ "limit": 64 });
    if !with_ns {
        b.remove_namespace("cgroup");
    }
    println!(
        "cgroup v{} on the host; cgroupsPath {path}",
        cgroup_version() as u64
    );
    check(&b);
}

#[test]
fn config_cgroup_memory_pids_limits() {
    cgroup_limits(true);
}

#[test]
fn config_cgroup_limits_without_cgroupns() {
    cgroup_limits(false);
}

#[test]
fn config_combined() {
    let mut b = Bundle::new();
    let rw = b.temp("combined");
    fs::set_permissions(&rw, fs::Permissions::from_mode(0o777)).unwrap();
    b.config["hostname"] = json!("combined");
    b.config["domainname"] = json!("combined.example");
    let p = &mut b.config["process"];
    p["user"] = json!({ "uid": 1000, "gid": 100, "additionalGids": [1000], "umask": 0o077 });
    p["cwd"] = json!("/work");
    p["env"] = json!(["PATH=/bin", "A=1"]);
    p["rlimits"] = json!([{ "type": "RLIMIT_NOFILE", "soft": 256, "hard": 256 }]);
    p["oomScoreAdj"] = json!(250);
    p["noNewPrivileges"] = json!(false);
    let amb = json!(["CAP_NET_BIND_SERVICE"]);
    p["capabilities"] = json!({ "bounding": amb, "effective": amb, "permitted": amb, "inheritable": amb, "ambient": amb });
    b.add_mount(json!({ "destination": "/work", "type": "bind", "source": rw, "options": ["rbind", "rw", "nosuid"] }));
    b.config["linux"]["sysctl"] = json!({ "kernel.msgmax": "4096" });
    b.config["linux"]["personality"] = json!({ "domain": "LINUX" });
    b.config["linux"]["devices"] = json!([{ "path": "/dev/oci-null", "type": "c", "major": 1, "minor": 3, "fileMode": 0o666, "uid": 1000, "gid": 100 }]);
    check(&b);
}

/// A denied syscall returns the configured errno (and EPERM by default).
#[test]
fn config_seccomp_errno() {
    let mut b = Bundle::new();
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
        "syscalls": [
            { "names": ["mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 18 },
            { "names": ["getpriority"], "action": "SCMP_ACT_ERRNO" }
        ]
    });
    check(&b);
}
