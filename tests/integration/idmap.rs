//! Idmapped bind mounts (config.md: mounts[].uidMappings / gidMappings,
//! the "idmap" and "ridmap" options): ownership as seen inside the
//! container, ownership of files created through the mount as seen on the
//! host, with and without a container user namespace, recursion into
//! submounts, and a source the kernel refuses to idmap. The sources live
//! under /tmp (ext4 here) or on a tmpfs (idmappable since Linux 6.3).

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, chown};
use std::path::Path;
use std::process::Command;

fn maps(list: &[(u32, u32, u32)]) -> Value {
    Value::Array(
        list.iter()
            .map(|&(c, h, s)| json!({"containerID": c, "hostID": h, "size": s}))
            .collect(),
    )
}

/// A world-writable host dir holding `f`, both owned by 1000:1000 (the
/// kernel refuses writes into an inode whose owner the mount does not map,
/// so the dir's owner must be one the tests map).
fn source_dir(name: &str) -> TempDir {
    let d = TempDir::new(name);
    fs::set_permissions(d.path(), fs::Permissions::from_mode(0o777)).unwrap();
    chown(d.path(), Some(1000), Some(1000)).unwrap();
    fs::write(d.path().join("f"), "data\n").unwrap();
    chown(d.path().join("f"), Some(1000), Some(1000)).unwrap();
    d
}

fn owner(p: &Path) -> String {
    let m = fs::metadata(p).unwrap_or_else(|e| panic!("stat {}: {e}", p.display()));
    format!("{}:{}", m.uid(), m.gid())
}

fn user_ns(b: &mut Bundle) {
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] = maps(&[(0, 100000, 65536)]);
    b.config["linux"]["gidMappings"] = maps(&[(0, 100000, 65536)]);
}

#[test]
fn idmap_bind_without_user_namespace() {
    let src = source_dir("idmap-src");
    let mut b = Bundle::new(&[]);
    // Host 1000.. shows as 2000.., and the container's root writes as 500.
    let m = maps(&[(1000, 2000, 10), (500, 0, 1)]);
    b.add_mount(json!({
        "destination": "/m", "type": "bind", "source": src.path(),
        "options": ["bind", "idmap"], "uidMappings": m, "gidMappings": m,
    }));
    b.add_mount(json!({
        "destination": "/r", "type": "bind", "source": src.path(),
        "options": ["bind", "idmap", "ro"], "uidMappings": m, "gidMappings": m,
    }));
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "stat -c %u:%g /m/f; touch /m/new; stat -c %u:%g /m/new; \
             stat -c %u:%g /r/f; touch /r/x 2>/dev/null && echo ro-wrote || echo ro-refused; \
             grep -c ' /m .*idmapped' /proc/self/mountinfo",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["2000:2000", "0:0", "2000:2000", "ro-refused", "1"],
        "inside view: {out}"
    );
    // Outside: the source is untouched, the new file is owned by the
    // reverse mapping of the container's root (0 -> 500).
    assert_eq!(owner(&src.path().join("f")), "1000:1000");
    assert_eq!(owner(&src.path().join("new")), "500:500");
    assert!(!src.path().join("x").exists());
}

#[test]
fn idmap_bind_with_user_namespace() {
    let own = source_dir("idmap-own");
    let cont = source_dir("idmap-cont");
    let mut b = Bundle::new(&[]);
    user_ns(&mut b);
    // The rootfs is the host root's, which the container's root is not.
    for d in ["own", "cont"] {
        fs::create_dir(b.rootfs().join(d)).unwrap();
    }
    // Its own mapping: host 1000 is the container's root (host 100000).
    let m = maps(&[(1000, 100000, 1)]);
    b.add_mount(json!({
        "destination": "/own", "type": "bind", "source": own.path(),
        "options": ["rbind", "idmap"], "uidMappings": m, "gidMappings": m,
    }));
    // "idmap" alone: the container's own mapping, so host ids read the same inside.
    b.add_mount(json!({
        "destination": "/cont", "type": "bind", "source": cont.path(),
        "options": ["rbind", "idmap"],
    }));
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "id -u; stat -c %u:%g /own/f; touch /own/new; stat -c %u:%g /own/new; \
             stat -c %u:%g /cont/f; touch /cont/new; stat -c %u:%g /cont/new",
        ],
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        ["0", "0:0", "0:0", "1000:1000", "0:0"],
        "inside view: {out}"
    );
    // Outside: the container's root is host 100000; through the mounts its
    // files land as the reverse mapping says.
    assert_eq!(owner(&own.path().join("new")), "1000:1000");
    assert_eq!(owner(&cont.path().join("new")), "0:0");
    assert_eq!(owner(&own.path().join("f")), "1000:1000");
}

#[test]
fn ridmap_maps_submounts_idmap_does_not() {
    let src = source_dir("ridmap-src");
    fs::create_dir(src.path().join("sub")).unwrap();
    let mut b = Bundle::new(&[]);
    let m = maps(&[(1000, 2000, 10)]);
    for (dest, opt) in [("/a", "idmap"), ("/b", "ridmap")] {
        b.add_mount(json!({
            "destination": dest, "type": "bind", "source": src.path(),
            "options": ["rbind", opt], "uidMappings": m, "gidMappings": m,
        }));
    }
    b.set_args(&["sh", "-c", "stat -c %u:%g /a/f /a/sub/g /b/f /b/sub/g"]);
    b.save();
    // The submount (a tmpfs holding g, owned by 1000) exists only in a
    // private mount namespace in which hull runs.
    let rt = Runtime::new();
    let id = unique_id("ridmap");
    rt.track(&id);
    let bp = b.path().to_string_lossy().to_string();
    let hull = rt.command(&["run", "--bundle", &bp, &id]);
    let sub = src.path().join("sub");
    let script = format!(
        "mount -t tmpfs -o mode=0755 idmap-test {0} && echo x > {0}/g && chown 1000:1000 {0}/g && exec \"$@\"",
        sub.display()
    );
    let mut cmd = Command::new("unshare");
    cmd.args(["-m", "--propagation", "private", "sh", "-c", &script, "sh"])
        .arg(hull.get_program())
        .args(hull.get_args());
    let scratch = TempDir::new("ridmap-scratch");
    let o = run_cmd(cmd, scratch.path(), CmdOpts::default()).ok();
    let lines: Vec<&str> = o.stdout.lines().collect();
    assert_eq!(
        lines,
        ["2000:2000", "1000:1000", "2000:2000", "2000:2000"],
        "/a (idmap) maps only the top mount, /b (ridmap) the submount too: {o}"
    );
    // Outside: the submount went with its namespace.
    assert!(mounts_under(src.path()).is_empty());
    assert!(!sub.join("g").exists());
}

#[test]
fn idmap_refused_by_the_filesystem_leaves_nothing() {
    let parent = CgroupParent::new();
    let id = unique_id("idmap-bad");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    let m = maps(&[(0, 1000, 1)]);
    // sysfs cannot be idmapped.
    b.add_mount(json!({
        "destination": "/m", "type": "bind", "source": "/sys/kernel",
        "options": ["rbind", "idmap"], "uidMappings": m, "gidMappings": m,
    }));
    let n = b.config["mounts"].as_array().unwrap().len() - 1;
    let rt = Runtime::new();
    let o = rt.run_with(&b, &id, &[]).fail();
    if hull_only("the error names the mount and the filesystem") {
        assert!(
            o.stderr.contains(&format!("/mounts/{n} (/m)"))
                && o.stderr.contains(
                    "the filesystem of the source (sysfs) does not support idmapped mounts"
                ),
            "{o}"
        );
        assert_eq!(o.stderr.lines().count(), 1, "one clean line: {o}");
    }
    crate::check::assert_nothing_left(&rt, &b, &parent, &id, "refused idmap");
    // No process of that run (e.g. the helper holding the mapping's user
    // namespace, a copy of hull) is left either.
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let cmd = fs::read(e.path().join("cmdline")).unwrap_or_default();
        let cmd = String::from_utf8_lossy(&cmd);
        assert!(
            !cmd.contains(&id),
            "process {:?} left: {cmd:?}",
            e.file_name()
        );
    }
}
