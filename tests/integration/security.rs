//! Known runtime escapes, each attempted for real and expected to fail.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;

/// CVE-2019-5736: while the init still runs hull's image (between create
/// and start), another container in its pid namespace must not be able to
/// open /proc/<pid>/exe, the host's hull binary.
#[test]
fn init_image_is_not_reachable_through_proc_exe() {
    let rt = Runtime::new();
    let a = Bundle::new(&["true"]);
    let ida = unique_id("victim");
    rt.create(&a, &ida).ok();
    let pid = rt.pid(&ida);
    let mut b = Bundle::new(&[]);
    b.set_namespace("pid", Some(&format!("/proc/{pid}/ns/pid")));
    let out = rt.run_ok(
        &mut b,
        &["sh", "-c", "readlink /proc/1/exe; echo readlink=$?; cat /proc/1/exe >/dev/null; echo open=$?; readlink /proc/1/fd/0 >/dev/null; echo fd=$?"],
    );
    assert!(
        out.contains("readlink=1"),
        "the init's exe link was readable: {out}"
    );
    assert!(
        out.contains("open=1"),
        "the init's exe could be opened: {out}"
    );
    assert!(
        out.contains("fd=1"),
        "the init's fds could be followed: {out}"
    );
}

/// CVE-2024-21626: no descriptor of hull's reaches the container process.
#[test]
fn no_hull_descriptor_leaks_into_the_container() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let out = rt.run_ok(&mut b, &["ls", "/proc/self/fd"]);
    let fds: Vec<&str> = out.split_whitespace().collect();
    // stdio plus the directory ls itself has open.
    assert!(fds.len() <= 4, "descriptors in the container: {fds:?}");
}

/// CVE-2024-21626: a cwd through /proc/self/fd cannot reach outside the root.
#[test]
fn cwd_through_proc_self_fd_is_refused() {
    let rt = Runtime::new();
    for fd in 3..8 {
        let mut b = Bundle::new(&["pwd"]);
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{fd}"));
        let id = unique_id("cwdfd");
        let o = rt.run_with(&b, &id, &[]);
        assert!(!o.success(), "cwd /proc/self/fd/{fd} was accepted: {o}");
        assert!(!rt.root().join(&id).exists());
    }
}

/// CVE-2025-31133: a /dev/null that is not the null device (here a plain
/// file in a /dev bound from the bundle) is never bound over masked paths.
#[test]
fn masked_paths_refuse_a_fake_dev_null() {
    if !hull_only("the verified /dev/null for masked paths") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    let dev = TempDir::new("fakedev");
    fs::write(dev.path().join("null"), "not a device").unwrap();
    // /dev comes from the bundle: hull adds no device of its own then.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
    b.bind(dev.path(), "/dev", &["rw"]);
    b.config["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/timer_list"]);
    let id = unique_id("fakenull");
    let o = rt.run_with(&b, &id, &[]);
    assert!(!o.success(), "container ran with a fake /dev/null: {o}");
    assert!(o.stderr.contains("null device"), "{o}");
    assert!(!rt.root().join(&id).exists());
}

/// CVE-2025-52565: /dev/console planted as a symlink to a proc file must
/// not get the pty bound over its target.
#[test]
fn console_symlink_is_refused() {
    if !hull_only("the /dev/console symlink check") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    let dev = TempDir::new("condev");
    symlink("/proc/sys/kernel/core_pattern", dev.path().join("console")).unwrap();
    fs::create_dir(dev.path().join("pts")).unwrap();
    symlink("pts/ptmx", dev.path().join("ptmx")).unwrap();
    b.config["mounts"].as_array_mut().unwrap().retain(|m| {
        m["destination"] != "/dev"
            && m["destination"] != "/dev/shm"
            && m["destination"] != "/dev/mqueue"
    });
    // Keep devpts (mounted over the bound /dev) so a pty can be opened.
    let devpts = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["destination"] == "/dev/pts")
        .unwrap();
    let m = b.config["mounts"].as_array_mut().unwrap().remove(devpts);
    b.bind(dev.path(), "/dev", &["rw"]);
    b.add_mount(m);
    b.config["process"]["terminal"] = json!(true);
    let before = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let tmp = TempDir::new("consock");
    let sock = tmp.path().join("c.sock");
    let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let id = unique_id("consym");
    let o = rt.create_with(&b, &id, &["--console-socket", sock.to_str().unwrap()]);
    assert!(
        !o.success(),
        "create went ahead with /dev/console a symlink: {o}"
    );
    assert!(o.stderr.contains("/dev/console"), "{o}");
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        before
    );
    assert!(!rt.root().join(&id).exists());
}

/// Masked and read-only paths that are symlinks are refused, not followed.
#[test]
fn masked_path_symlink_is_refused() {
    if !hull_only("masked path symlink check") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    symlink("/proc/sys/kernel/core_pattern", b.rootfs().join("evil")).unwrap();
    b.config["linux"]["maskedPaths"] = json!(["/evil"]);
    let id = unique_id("masksym");
    let o = rt.run_with(&b, &id, &[]);
    assert!(!o.success(), "{o}");
    assert!(o.stderr.contains("symlink"), "{o}");
}

/// CVE-2019-16884 class: only procfs may be mounted at or under /proc.
#[test]
fn bind_over_proc_is_refused() {
    if !hull_only("the /proc destination check") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    let fake = TempDir::new("fakeproc");
    b.bind(fake.path(), "/proc/sys", &["rw"]);
    let id = unique_id("procbind");
    let o = rt.run_with(&b, &id, &[]);
    assert!(!o.success(), "{o}");
    assert!(o.stderr.contains("/proc"), "{o}");
    // An lxcfs-style file is still allowed.
    let mut b = Bundle::new(&["cat", "/proc/uptime"]);
    let f = TempDir::new("uptime");
    fs::write(f.path().join("uptime"), "1.00 2.00\n").unwrap();
    b.add_mount(json!({"destination": "/proc/uptime", "type": "bind", "source": f.path().join("uptime"), "options": ["bind", "ro"]}));
    let out = rt.run_ok(&mut b, &["cat", "/proc/uptime"]);
    assert_eq!(out.trim(), "1.00 2.00");
}

/// CVE-2021-30465: a container swaps a path of a shared volume between a
/// directory and a symlink to a host directory while another container is
/// created with a mount whose destination runs through that path. Every
/// destination must resolve inside the new container's rootfs at the
/// moment of the mount (openat2 RESOLVE_IN_ROOT, mount on the fd): nothing
/// may be created or mounted in the host directory, whichever state the
/// race catches.
#[test]
fn mount_destination_symlink_swap_race_stays_in_rootfs() {
    let volume = TempDir::new("race-vol");
    let host_target = TempDir::new("race-target");
    let rt = Runtime::new();
    // The attacker: swaps /vol/d between a directory and a symlink to the
    // host directory as fast as it can.
    let mut attacker = Bundle::new(&[]);
    attacker.bind(volume.path(), "/vol", &[]);
    attacker.set_args(&[
        "sh",
        "-c",
        &format!(
            "while :; do rm -rf /vol/d; mkdir /vol/d; rm -rf /vol/d; ln -s {} /vol/d; done",
            host_target.path().display()
        ),
    ]);
    let attacker_id = unique_id("race-attacker");
    rt.create_start(&attacker, &attacker_id);
    // The victim: its tmpfs destination runs through the swapped path.
    let mut victim = Bundle::new(&[
        "sh",
        "-c",
        "grep -c ' /vol/d/x \\| /x ' /proc/self/mountinfo || true",
    ]);
    victim.bind(volume.path(), "/vol", &[]);
    victim.add_mount(
        json!({"destination": "/vol/d/x", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=64k"]}),
    );
    let (mut contained, mut refused) = (0, 0);
    for round in 0..40 {
        let id = unique_id("race-victim");
        let o = rt.run_with(&victim, &id, &[]);
        if o.success() {
            contained += 1;
        } else {
            assert!(
                o.stderr.starts_with("hull: ") || !runtime_is_hull(),
                "round {round}: {o}"
            );
            if refused == 0 {
                println!("first refusal: {}", o.stderr.trim());
            }
            refused += 1;
        }
        assert_host_dir_untouched(
            host_target.path(),
            &format!("round {round}: mount destination ({o})"),
        );
    }
    println!("symlink-swap race: {contained} runs contained the mount, {refused} refused");
    assert!(
        contained > 0,
        "no run succeeded: the race test exercised nothing"
    );
    rt.kill(&attacker_id, "KILL").ok();
}

// ---------------------------------------------------------------------------
// CVE-2019-16884 / CVE-2023-28642: /proc in the rootfs is a symlink.
// ---------------------------------------------------------------------------

/// `/proc -> /fakeproc`, and a host volume bound at /fakeproc holding the
/// files hull would write (a sysctl and oom_score_adj): following the link
/// would mount procfs under the volume and send hull's writes into it. The
/// destination is refused, and the volume is unchanged.
#[test]
fn proc_symlink_to_a_volume_is_refused() {
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("fakeproc");
    let volume = TempDir::new("fakeproc-vol");
    for (f, text) in [
        ("sys/kernel/domainname", "host-value\n"),
        ("self/oom_score_adj", "0\n"),
    ] {
        let p = volume.path().join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
    }
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    b.config["linux"]["sysctl"] = json!({"kernel.domainname": "evil"});
    b.config["process"]["oomScoreAdj"] = json!(999);
    b.bind(volume.path(), "/fakeproc", &["rw"]);
    fs::remove_dir(b.rootfs().join("proc")).unwrap();
    fs::create_dir(b.rootfs().join("fakeproc")).unwrap();
    symlink("/fakeproc", b.rootfs().join("proc")).unwrap();
    let o = rt.create(&b, &id);
    assert_eq!(
        read_trim(&volume.path().join("sys/kernel/domainname")),
        "host-value",
        "a sysctl write reached the volume: {o}"
    );
    assert_eq!(
        read_trim(&volume.path().join("self/oom_score_adj")),
        "0",
        "the oom_score_adj write reached the volume: {o}"
    );
    let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, o);
    if runtime_is_hull() {
        assert!(
            o.stderr.contains("/proc is a symlink")
                && o.stderr
                    .contains("must be mounted on an ordinary directory"),
            "{o}"
        );
    }
}

/// A dangling `/proc -> /symlink`: the same clear refusal, not an ENOENT.
#[test]
fn dangling_proc_symlink_is_refused_clearly() {
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("danglingproc");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    fs::remove_dir(b.rootfs().join("proc")).unwrap();
    symlink("/symlink", b.rootfs().join("proc")).unwrap();
    let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    if runtime_is_hull() {
        assert!(
            o.stderr
                .contains("/proc is a symlink (to \"/symlink\"): proc must be mounted on an ordinary directory"),
            "{o}"
        );
    }
    assert!(
        !b.rootfs().join("symlink").exists(),
        "the link was followed"
    );
}

/// The same for /sys (sysfs).
#[test]
fn sys_symlink_is_refused() {
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("sysln");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    fs::remove_dir(b.rootfs().join("sys")).unwrap();
    symlink("/tmp", b.rootfs().join("sys")).unwrap();
    let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    if runtime_is_hull() {
        assert!(
            o.stderr
                .contains("sysfs must be mounted on an ordinary directory"),
            "{o}"
        );
    }
}

/// `--no-pivot`: the host's mount tree stays under the moved rootfs, and a
/// fully visible procfs anywhere in the mount namespace lets a new user
/// namespace mount a fresh one (then /proc/sysrq-trigger is writable). Every
/// host procfs and sysfs is detached first: the mount is refused, as runc
/// refuses it.
#[test]
fn no_pivot_leaves_no_host_procfs_to_mount_again() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    for set in ["bounding", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SETFCAP"));
    }
    b.set_args(&[
        "sh",
        "-c",
        "unshare -mrpf sh -c 'mount -t proc none /proc && echo MOUNTED && echo h > /proc/sysrq-trigger' 2>&1; echo rc=$?",
    ]);
    let id = unique_id("nopivot-proc");
    let o = rt.run_with(&b, &id, &["--no-pivot"]).ok();
    assert!(!o.stdout.contains("MOUNTED"), "procfs was mounted: {o}");
    assert!(
        o.stdout.contains("mount: permission denied"),
        "not refused as expected: {o}"
    );
    // The container's own /proc is still there.
    let mut b = Bundle::new(&["cat", "/proc/self/stat"]);
    b.config["process"]["args"] = json!(["sh", "-c", "test -e /proc/self/stat && echo procok"]);
    let o = rt
        .run_with(&b, &unique_id("nopivot-own"), &["--no-pivot"])
        .ok();
    assert!(o.stdout.contains("procok"), "{o}");
}
