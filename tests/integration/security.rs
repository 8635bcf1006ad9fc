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
