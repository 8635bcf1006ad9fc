//! Root filesystem and mounts: readonly root, bind and tmpfs mounts,
//! masked and readonly paths, devices, propagation, sysctl, symlink
//! escapes, --no-pivot, root.path forms, cleanup of mounts.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::time::Duration;

#[test]
fn readonly_root_refuses_writes() {
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "touch /x 2>/dev/null && echo wrote || echo refused",
        ],
    );
    assert_eq!(out.trim(), "refused");
    assert!(!b.rootfs().join("x").exists());
}

#[test]
fn writable_root_allows_writes() {
    let mut b = Bundle::new(&[]);
    b.config["root"]["readonly"] = json!(false);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &["sh", "-c", "echo data > /x && echo wrote || echo refused"],
    );
    assert_eq!(out.trim(), "wrote");
    assert_eq!(fs::read_to_string(b.rootfs().join("x")).unwrap(), "data\n");
}

#[test]
fn bind_mount_readonly() {
    let host_dir = TempDir::new("bindro");
    fs::write(host_dir.path().join("f"), "hello\n").unwrap();
    let mut b = Bundle::new(&[]);
    b.bind(host_dir.path(), "/mnt/ro", &["ro"]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "cat /mnt/ro/f; touch /mnt/ro/y 2>/dev/null && echo wrote || echo refused",
        ],
    );
    assert_eq!(out, "hello\nrefused\n");
    assert!(!host_dir.path().join("y").exists());
}

#[test]
fn bind_mount_readwrite() {
    let host_dir = TempDir::new("bindrw");
    let mut b = Bundle::new(&[]);
    b.bind(host_dir.path(), "/mnt/rw", &["rw"]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &["sh", "-c", "echo from-inside > /mnt/rw/y && echo wrote"],
    );
    assert_eq!(out.trim(), "wrote");
    assert_eq!(
        fs::read_to_string(host_dir.path().join("y")).unwrap(),
        "from-inside\n"
    );
}

#[test]
fn bind_mount_of_a_file() {
    let host_dir = TempDir::new("bindfile");
    let f = host_dir.path().join("greeting");
    fs::write(&f, "hi-file\n").unwrap();
    let mut b = Bundle::new(&[]);
    b.add_mount(json!({"destination": "/etc/greeting", "type": "bind",
        "source": f.to_string_lossy(), "options": ["bind", "ro"]}));
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["cat", "/etc/greeting"]);
    assert_eq!(out, "hi-file\n");
}

#[test]
fn tmpfs_mount_with_options() {
    let mut b = Bundle::new(&[]);
    b.add_mount(
        json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "nodev", "size=1m", "mode=750"]}),
    );
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "grep ' /scratch ' /proc/mounts; stat -c %a /scratch",
        ],
    );
    let line = out.lines().next().unwrap_or("");
    let f: Vec<&str> = line.split_whitespace().collect();
    assert!(
        f.len() >= 4 && f[2] == "tmpfs",
        "no tmpfs at /scratch: {out}"
    );
    let opts: Vec<&str> = f[3].split(',').collect();
    for want in ["nosuid", "nodev", "size=1024k", "mode=750"] {
        assert!(opts.contains(&want), "option {want} missing: {line}");
    }
    assert_eq!(out.lines().nth(1), Some("750"));
}

/// A masked file that exists and is non-empty on this host (kernels
/// without CONFIG_PROC_KCORE have no /proc/kcore).
fn masked_candidate() -> &'static str {
    for f in [
        "/proc/kcore",
        "/proc/timer_list",
        "/proc/keys",
        "/proc/sched_debug",
    ] {
        let nonempty = fs::File::open(f)
            .and_then(|mut fh| {
                let mut buf = [0u8; 16];
                std::io::Read::read(&mut fh, &mut buf)
            })
            .map(|n| n > 0)
            .unwrap_or(false);
        if nonempty {
            return f;
        }
    }
    panic!("no non-empty masked /proc file on this host");
}

#[test]
fn masked_file_reads_empty() {
    let f = masked_candidate();
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["sh", "-c", &format!("wc -c < {f}")]);
    assert_eq!(out.trim(), "0", "{f} not masked");
}

#[test]
fn masked_directory_lists_empty() {
    assert!(
        fs::read_dir("/sys/firmware")
            .map(|mut d| d.next().is_some())
            .unwrap_or(false),
        "precondition: host /sys/firmware should not be empty"
    );
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["sh", "-c", "ls -A /sys/firmware | wc -l"]);
    assert_eq!(out.trim(), "0");
}

#[test]
fn unmasked_when_not_listed() {
    // Control for masked_file_reads_empty.
    let f = masked_candidate();
    let mut b = Bundle::new(&[]);
    b.config["linux"]["maskedPaths"] = json!([]);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["sh", "-c", &format!("head -c 16 {f} | wc -c")]);
    assert_eq!(out.trim(), "16", "{f} unreadable inside without masking");
}

/// Adds CAP_NET_ADMIN so that net sysctls of the container netns are
/// writable unless /proc/sys is read-only.
fn with_net_admin(b: &mut Bundle) {
    for set in ["bounding", "effective", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_NET_ADMIN"));
    }
}

#[test]
fn readonly_path_refuses_writes() {
    let mut b = Bundle::new(&[]);
    with_net_admin(&mut b);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "echo 1 > /proc/sys/net/ipv4/ip_forward 2>/dev/null && echo wrote || echo refused; \
             cat /proc/sys/net/ipv4/ip_forward; grep ' /proc/sys ' /proc/mounts",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first().copied(), Some("refused"), "{out}");
    assert_eq!(lines.get(1).copied(), Some("0"), "{out}");
    let opts = lines
        .get(2)
        .and_then(|l| l.split_whitespace().nth(3))
        .unwrap_or("");
    assert!(
        opts.split(',').any(|o| o == "ro"),
        "/proc/sys not ro: {out}"
    );
}

#[test]
fn proc_sys_writable_when_not_readonly_path() {
    // Control for readonly_path_refuses_writes: the same write works when
    // /proc/sys is not listed (net sysctls belong to the container netns).
    let mut b = Bundle::new(&[]);
    b.config["linux"]["readonlyPaths"] = json!(["/proc/bus"]);
    with_net_admin(&mut b);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "echo 1 > /proc/sys/net/ipv4/ip_forward && cat /proc/sys/net/ipv4/ip_forward",
        ],
    );
    assert_eq!(out.trim(), "1");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "0",
        "host ip_forward changed"
    );
}

#[test]
fn default_devices() {
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "for d in null zero full random urandom tty; do echo $d $(stat -c '%F %t %T' /dev/$d); done",
        ],
    );
    for (d, maj, min) in [
        ("null", 1, 3),
        ("zero", 1, 5),
        ("full", 1, 7),
        ("random", 1, 8),
        ("urandom", 1, 9),
        ("tty", 5, 0),
    ] {
        let want = format!("{d} character special file {maj:x} {min:x}");
        assert!(out.lines().any(|l| l == want), "want {want:?} in:\n{out}");
    }
}

#[test]
fn default_devices_usable() {
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "echo x > /dev/null && head -c 4 /dev/zero | wc -c && head -c 8 /dev/urandom | wc -c",
        ],
    );
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["4", "8"]);
}

#[test]
fn default_dev_symlinks() {
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "for l in fd stdin stdout stderr ptmx; do echo $l $(readlink /dev/$l); done",
        ],
    );
    for want in [
        "fd /proc/self/fd",
        "stdin /proc/self/fd/0",
        "stdout /proc/self/fd/1",
        "stderr /proc/self/fd/2",
        "ptmx pts/ptmx",
    ] {
        assert!(out.lines().any(|l| l == want), "want {want:?} in:\n{out}");
    }
}

#[test]
fn linux_devices_entry_created() {
    let mut b = Bundle::new(&[]);
    b.config["linux"]["devices"] = json!([{
        "path": "/dev/mydev", "type": "c", "major": 1, "minor": 3,
        "fileMode": 0o644, "uid": 0, "gid": 0
    }]);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["stat", "-c", "%F %t %T %a %u %g", "/dev/mydev"]);
    assert_eq!(out.trim(), "character special file 1 3 644 0 0");
}

#[test]
fn linux_devices_allowed_in_cgroup_can_be_used() {
    let mut b = Bundle::new(&[]);
    b.config["linux"]["devices"] = json!([{
        "path": "/dev/mynull", "type": "c", "major": 1, "minor": 3,
        "fileMode": 0o666, "uid": 0, "gid": 0
    }]);
    b.config["linux"]["resources"]["devices"] = json!([
        { "allow": false, "access": "rwm" },
        { "allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm" }
    ]);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["sh", "-c", "echo x > /dev/mynull && echo ok"]);
    assert_eq!(out.trim(), "ok");
}

fn root_mount_optional_fields(out: &str) -> String {
    // mountinfo: id parent maj:min root mountpoint opts [optional...] - ...
    let line = out
        .lines()
        .find(|l| l.split_whitespace().nth(4) == Some("/"))
        .unwrap_or_else(|| panic!("no / in mountinfo:\n{out}"));
    let f: Vec<&str> = line.split_whitespace().collect();
    let end = f.iter().position(|x| *x == "-").unwrap();
    f[6..end].join(" ")
}

#[test]
fn rootfs_propagation_shared() {
    let mut b = Bundle::new(&[]);
    b.config["linux"]["rootfsPropagation"] = json!("shared");
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["cat", "/proc/self/mountinfo"]);
    let opt = root_mount_optional_fields(&out);
    if !opt.contains("shared:") && !runtime_is_hull() {
        println!(
            "SKIP (HULL-ONLY): rootfsPropagation shared -- runc 1.1 leaves the container root private ({opt:?})"
        );
        return;
    }
    assert!(opt.contains("shared:"), "root mount not shared: {opt:?}");
}

#[test]
fn rootfs_propagation_private() {
    let mut b = Bundle::new(&[]);
    b.config["linux"]["rootfsPropagation"] = json!("private");
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["cat", "/proc/self/mountinfo"]);
    let opt = root_mount_optional_fields(&out);
    assert!(
        !opt.contains("shared:") && !opt.contains("master:"),
        "root mount not private: {opt:?}"
    );
}

#[test]
fn sysctl_applied_in_container_netns() {
    let mut b = Bundle::new(&[]);
    b.config["linux"]["sysctl"] = json!({ "net.ipv4.ip_forward": "1" });
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["cat", "/proc/sys/net/ipv4/ip_forward"]);
    assert_eq!(out.trim(), "1");
    assert_eq!(
        fs::read_to_string("/proc/sys/net/ipv4/ip_forward")
            .unwrap()
            .trim(),
        "0",
        "host ip_forward changed"
    );
}

#[test]
fn mount_under_symlink_stays_in_rootfs() {
    let host_dir = TempDir::new("escape");
    let mut b = Bundle::new(&[]);
    symlink(host_dir.path(), b.rootfs().join("evil")).unwrap();
    b.add_mount(
        json!({"destination": "/evil/x", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=64k"]}),
    );
    let rt = Runtime::new();
    let id = unique_id("escape");
    b.set_args(&["sh", "-c", "touch /evil/x/marker; echo done"]);
    let o = rt.run_with(&b, &id, &[]);
    // Whether the runtime refuses or contains the mount, nothing may
    // appear in the host dir the symlink points to.
    assert_host_dir_untouched(host_dir.path(), &format!("mount under a symlink ({o})"));
    if o.success() {
        // Contained: the container saw a working /evil/x.
        assert_eq!(o.stdout.trim(), "done", "{o}");
    }
}

#[test]
fn no_pivot_works() {
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "echo pivotless; cat /proc/self/mountinfo | wc -l",
    ]);
    b.set_args(&["sh", "-c", "echo pivotless; ls /bin/busybox"]);
    let rt = Runtime::new();
    let id = unique_id("nopivot");
    let o = rt.run_with(&b, &id, &["--no-pivot"]).ok();
    assert_eq!(o.stdout, "pivotless\n/bin/busybox\n");
}

#[test]
fn relative_root_path_other_name() {
    let mut b = Bundle::new(&[]);
    fs::rename(b.rootfs(), b.path().join("myroot")).unwrap();
    b.config["root"]["path"] = json!("myroot");
    let rt = Runtime::new();
    // The runtime's cwd is not the bundle: the path must be resolved
    // against the bundle dir.
    let out = rt.run_ok(&mut b, &["echo", "rel-ok"]);
    assert_eq!(out.trim(), "rel-ok");
}

#[test]
fn absolute_root_path() {
    let mut b = Bundle::new(&[]);
    let abs = b.rootfs().to_string_lossy().to_string();
    b.config["root"]["path"] = json!(abs);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["echo", "abs-ok"]);
    assert_eq!(out.trim(), "abs-ok");
}

#[test]
fn delete_leaves_no_mounts() {
    let b = Bundle::new(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = unique_id("mnt");
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    rt.kill(&id, "KILL").ok();
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));
    rt.delete(&id).ok();
    let bp = b.path().to_string_lossy().to_string();
    let left = mountinfo_mentioning(&bp);
    assert!(left.is_empty(), "mounts left after delete: {left:#?}");
}

#[test]
fn container_mounts_not_visible_on_host() {
    let b = Bundle::new(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = unique_id("mntns");
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    let bp = b.path().to_string_lossy().to_string();
    let left = mountinfo_mentioning(&bp);
    assert!(
        left.is_empty(),
        "container mounts leaked to the host ns: {left:#?}"
    );
}

/// Masked directories share one read-only tmpfs (HULL-ONLY: runc 1.1.5
/// mounts one each, runc 1.3 and crun share one); masked files stay
/// /dev/null binds.
#[test]
fn masked_directories_share_one_read_only_tmpfs() {
    let mut b = Bundle::new(&[]);
    for d in ["m1", "m2", "m3"] {
        fs::create_dir_all(b.rootfs().join(d).join("inner")).unwrap();
    }
    b.config["linux"]["maskedPaths"] = serde_json::json!(["/m1", "/m2", "/m3"]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "cat /proc/self/mountinfo; ls -A /m1 /m2 /m3; touch /m2/x 2>&1 || echo refused",
        ],
    );
    let mounts: Vec<Vec<&str>> = ["/m1", "/m2", "/m3"]
        .iter()
        .map(|m| {
            let line = out
                .lines()
                .rfind(|l| l.split(' ').nth(4) == Some(m))
                .unwrap_or_else(|| panic!("{m} is not a mount point:\n{out}"));
            line.split(' ').collect()
        })
        .collect();
    for m in &mounts {
        assert!(m[5].split(',').any(|o| o == "ro"), "{m:?} not read-only");
        assert!(m.contains(&"tmpfs"), "{m:?} not a tmpfs");
    }
    assert!(
        !out.contains("inner"),
        "a masked directory shows its content:\n{out}"
    );
    assert!(
        out.contains("refused"),
        "a masked directory was writable:\n{out}"
    );
    if hull_only("one shared tmpfs for masked directories (runc 1.1.5 mounts one each)") {
        assert!(
            mounts.iter().all(|m| m[2] == mounts[0][2]),
            "masked directories on different tmpfs instances: {mounts:?}"
        );
    }
}
