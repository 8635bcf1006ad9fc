//! Rootless mode: hull run by a real unprivileged user (`hull-rootless`,
//! created by scripts/install-deps.sh or here), with its state under
//! $XDG_RUNTIME_DIR/hull, a user namespace mapping the caller (or subordinate
//! ranges through newuidmap/newgidmap), and no cgroup unless one is delegated.

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::{PermissionsExt, chown};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

const USER: &str = "hull-rootless";

/// The test user: uid, gid and its first subordinate uid/gid range.
struct User {
    uid: u32,
    gid: u32,
    subuid: (u32, u32),
    subgid: (u32, u32),
}

fn id_of(flag: &str) -> Option<u32> {
    let o = Command::new("id").args([flag, USER]).output().ok()?;
    String::from_utf8_lossy(&o.stdout).trim().parse().ok()
}

fn sub_range(file: &str) -> Option<(u32, u32)> {
    let text = fs::read_to_string(file).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.split(':');
        (f.next()? == USER).then_some(())?;
        Some((f.next()?.parse().ok()?, f.next()?.parse().ok()?))
    })
}

/// Creates the user and its subordinate ranges when missing (the same
/// set-up as scripts/install-deps.sh).
fn user() -> &'static User {
    static USER_INFO: OnceLock<User> = OnceLock::new();
    USER_INFO.get_or_init(|| {
        if id_of("-u").is_none() {
            host(
                "useradd",
                &["--no-create-home", "--shell", "/usr/sbin/nologin", USER],
            );
        }
        if sub_range("/etc/subuid").is_none() {
            host("usermod", &["--add-subuids", "300000-365535", USER]);
        }
        if sub_range("/etc/subgid").is_none() {
            host("usermod", &["--add-subgids", "300000-365535", USER]);
        }
        User {
            uid: id_of("-u").expect("uid of hull-rootless"),
            gid: id_of("-g").expect("gid of hull-rootless"),
            subuid: sub_range("/etc/subuid").expect("subuid range"),
            subgid: sub_range("/etc/subgid").expect("subgid range"),
        }
    })
}

/// hull as the unprivileged user, with its own XDG_RUNTIME_DIR and no
/// --root, so the default state root is exercised.
struct Rootless {
    xdg: TempDir,
    scratch: TempDir,
    ids: std::cell::RefCell<Vec<String>>,
}

impl Rootless {
    fn new() -> Rootless {
        let u = user();
        let xdg = TempDir::new("xdg");
        chown(xdg.path(), Some(u.uid), Some(u.gid)).unwrap();
        fs::set_permissions(xdg.path(), fs::Permissions::from_mode(0o700)).unwrap();
        Rootless {
            xdg,
            scratch: TempDir::new("scratch"),
            ids: Default::default(),
        }
    }

    fn state_root(&self) -> PathBuf {
        self.xdg.path().join("hull")
    }

    fn command(&self, args: &[&str]) -> Command {
        let u = user();
        let mut c = Command::new(runtime_bin());
        c.args(args)
            .env_clear()
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .env("XDG_RUNTIME_DIR", self.xdg.path())
            .uid(u.uid)
            .gid(u.gid);
        c
    }

    fn cmd(&self, args: &[&str]) -> Out {
        if let Some(id) = args.last()
            && matches!(args.first(), Some(&"create") | Some(&"run"))
        {
            self.ids.borrow_mut().push(id.to_string());
        }
        run_cmd(self.command(args), self.scratch.path(), CmdOpts::default())
    }

    /// Ids left in the state root.
    fn leftovers(&self) -> Vec<String> {
        fs::read_dir(self.state_root())
            .map(|rd| {
                rd.flatten()
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

impl Drop for Rootless {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = run_cmd(
                self.command(&["delete", "--force", id]),
                self.scratch.path(),
                CmdOpts::default(),
            );
        }
    }
}

/// A bundle whose config.json is what `hull spec --rootless` writes for the
/// user, with `args` and no terminal. The bundle stays owned by root and
/// world-readable, as an image unpacked by someone else would be.
fn rootless_bundle(rl: &Rootless, args: &[&str]) -> Bundle {
    let mut b = Bundle::new(args);
    fs::remove_file(b.path().join("config.json")).unwrap();
    let spec_dir = TempDir::new("spec");
    chown(spec_dir.path(), Some(user().uid), None).unwrap();
    rl.cmd(&[
        "spec",
        "--rootless",
        "--bundle",
        &spec_dir.path().to_string_lossy(),
    ])
    .ok();
    let mut config: Value =
        serde_json::from_slice(&fs::read(spec_dir.path().join("config.json")).unwrap()).unwrap();
    config["process"]["terminal"] = json!(false);
    config["process"]["args"] = json!(args);
    *b.config_mut() = config;
    b.save();
    b
}

fn bundle_arg(b: &Bundle) -> String {
    b.path().to_string_lossy().to_string()
}

/// Processes whose cmdline mentions `needle` (the test's bundle or id).
fn processes_mentioning(needle: &str) -> Vec<i32> {
    fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).contains(needle))
                .unwrap_or(false)
        })
        .collect()
}

#[test]
fn rootless_spec_and_run_map_the_caller_to_root() {
    if !hull_only("rootless state root and spec") {
        return;
    }
    let rl = Rootless::new();
    let b = rootless_bundle(
        &rl,
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map /proc/self/gid_map; id -u; id -g; \
             echo hi > /dev/shm/f && cat /dev/shm/f; hostname",
        ],
    );
    assert_eq!(b.config["linux"]["uidMappings"][0]["hostID"], user().uid);
    let id = unique_id("rootless-run");
    let out = rl.cmd(&["run", "--bundle", &bundle_arg(&b), &id]).ok();
    let lines: Vec<Vec<&str>> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    let (uid, gid) = (user().uid.to_string(), user().gid.to_string());
    assert_eq!(lines[0], ["0", uid.as_str(), "1"], "{out}");
    assert_eq!(lines[1], ["0", gid.as_str(), "1"], "{out}");
    assert_eq!(lines[2], ["0"], "{out}");
    assert_eq!(lines[3], ["0"], "{out}");
    assert_eq!(lines[4], ["hi"], "{out}");
    assert_eq!(lines[5], ["hull"], "{out}");
    assert!(rl.state_root().is_dir(), "state root under XDG_RUNTIME_DIR");
    let meta = fs::metadata(rl.state_root()).unwrap();
    assert_eq!(std::os::unix::fs::MetadataExt::uid(&meta), user().uid);
    assert!(rl.leftovers().is_empty(), "left: {:?}", rl.leftovers());
    assert!(processes_mentioning(&id).is_empty());
}

#[test]
fn rootless_lifecycle_create_start_exec_kill_delete() {
    if !hull_only("rootless lifecycle") {
        return;
    }
    let rl = Rootless::new();
    let b = rootless_bundle(&rl, &["sleep", "100"]);
    let bundle = bundle_arg(&b);
    let id = unique_id("rootless-life");
    rl.cmd(&["create", "--bundle", &bundle, &id]).ok();
    let state: Value = serde_json::from_str(&rl.cmd(&["state", &id]).ok().stdout).unwrap();
    assert_eq!(state["status"], "created");
    let pid = state["pid"].as_i64().unwrap() as i32;
    // From the host: the init runs as the caller, in its own user namespace.
    let status = fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let uid_line = status.lines().find(|l| l.starts_with("Uid:")).unwrap();
    assert!(
        uid_line
            .split_whitespace()
            .skip(1)
            .all(|u| u == user().uid.to_string()),
        "{uid_line}"
    );
    assert_ne!(
        fs::read_link(format!("/proc/{pid}/ns/user")).unwrap(),
        fs::read_link("/proc/self/ns/user").unwrap()
    );
    rl.cmd(&["start", &id]).ok();
    let exec = rl
        .cmd(&["exec", &id, "sh", "-c", "id -u; cat /proc/self/uid_map"])
        .ok();
    let mut lines = exec.stdout.lines();
    assert_eq!(lines.next().map(str::trim), Some("0"), "{exec}");
    assert!(
        lines.next().unwrap_or("").contains(&user().uid.to_string()),
        "{exec}"
    );
    let list = rl.cmd(&["list", "--format", "json"]).ok();
    assert!(list.stdout.contains(&id), "{list}");
    // Without a cgroup, ps and kill --all go by the container's pid
    // namespace: the init and a detached exec'd process.
    rl.cmd(&["exec", "-d", &id, "sleep", "100"]).ok();
    let ps = rl.cmd(&["ps", "--format", "json", &id]).ok();
    let pids: Vec<i32> = serde_json::from_str(ps.stdout.trim()).unwrap();
    assert!(pids.contains(&pid) && pids.len() == 2, "ps: {ps}");
    rl.cmd(&["kill", "--all", &id, "KILL"]).ok();
    for p in &pids {
        assert!(
            wait_pid_gone(*p, Duration::from_secs(10)),
            "pid {p} survived kill --all"
        );
    }
    let state: Value = serde_json::from_str(&rl.cmd(&["state", &id]).ok().stdout).unwrap();
    assert_eq!(state["status"], "stopped");
    rl.cmd(&["delete", &id]).ok();
    assert!(rl.leftovers().is_empty(), "left: {:?}", rl.leftovers());
}

#[test]
fn rootless_subordinate_ranges_go_through_newuidmap() {
    if !hull_only("rootless newuidmap") {
        return;
    }
    let u = user();
    let rl = Rootless::new();
    let mut b = rootless_bundle(
        &rl,
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; touch /dev/shm/f && chown 1000:1000 /dev/shm/f && \
             stat -c '%u:%g' /dev/shm/f",
        ],
    );
    let c = b.config_mut();
    for set in ["bounding", "effective", "permitted"] {
        c["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_CHOWN"));
    }
    c["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": u.uid, "size": 1},
        {"containerID": 1, "hostID": u.subuid.0, "size": u.subuid.1}
    ]);
    c["linux"]["gidMappings"] = json!([
        {"containerID": 0, "hostID": u.gid, "size": 1},
        {"containerID": 1, "hostID": u.subgid.0, "size": u.subgid.1}
    ]);
    b.save();
    let id = unique_id("rootless-subid");
    let out = rl.cmd(&["run", "--bundle", &bundle_arg(&b), &id]).ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(
        lines[1].split_whitespace().collect::<Vec<_>>(),
        ["1", &u.subuid.0.to_string(), &u.subuid.1.to_string()],
        "{out}"
    );
    assert_eq!(lines[2], "1000:1000", "{out}");
    assert!(rl.leftovers().is_empty());
}

#[test]
fn rootless_ungranted_range_is_a_clear_error_and_leaves_nothing() {
    if !hull_only("rootless error text") {
        return;
    }
    let u = user();
    let rl = Rootless::new();
    let mut b = rootless_bundle(&rl, &["true"]);
    // A range /etc/subuid does not grant this user.
    let outside = u.subuid.0 + u.subuid.1 + 1_000_000;
    b.config_mut()["linux"]["uidMappings"] = json!([
        {"containerID": 0, "hostID": u.uid, "size": 1},
        {"containerID": 1, "hostID": outside, "size": 10}
    ]);
    b.save();
    let id = unique_id("rootless-badmap");
    let out = rl.cmd(&["run", "--bundle", &bundle_arg(&b), &id]).fail();
    assert!(out.stderr.contains("linux.uidMappings"), "{out}");
    assert!(out.stderr.contains("newuidmap"), "{out}");
    assert!(out.stderr.contains("/etc/subuid"), "{out}");
    assert!(!out.stderr.contains("panicked"), "{out}");
    assert!(rl.leftovers().is_empty(), "left: {:?}", rl.leftovers());
    assert!(processes_mentioning(&id).is_empty());
}

#[test]
fn rootless_resources_without_a_delegated_cgroup_is_a_clear_error() {
    if !hull_only("rootless cgroup error text") {
        return;
    }
    let rl = Rootless::new();
    let mut b = rootless_bundle(&rl, &["true"]);
    b.config_mut()["linux"]["resources"] = json!({"pids": {"limit": 10}});
    b.save();
    let id = unique_id("rootless-res");
    let out = rl.cmd(&["run", "--bundle", &bundle_arg(&b), &id]).fail();
    assert!(out.stderr.contains("linux.resources"), "{out}");
    assert!(out.stderr.contains("delegate"), "{out}");
    assert!(rl.leftovers().is_empty(), "left: {:?}", rl.leftovers());
    assert!(processes_mentioning(&id).is_empty());
}

#[test]
fn rootless_without_xdg_runtime_dir_or_root_is_a_clear_error() {
    if !hull_only("rootless state root error") {
        return;
    }
    let rl = Rootless::new();
    let mut c = rl.command(&["list"]);
    c.env_remove("XDG_RUNTIME_DIR");
    let out = run_cmd(c, rl.scratch.path(), CmdOpts::default()).fail();
    assert!(out.stderr.contains("XDG_RUNTIME_DIR"), "{out}");
    assert!(out.stderr.contains("--root"), "{out}");
    // And --root is honoured as given.
    let own_root = rl.xdg.path().join("elsewhere");
    let mut c = rl.command(&["--root", &own_root.to_string_lossy(), "list"]);
    c.env_remove("XDG_RUNTIME_DIR");
    run_cmd(c, rl.scratch.path(), CmdOpts::default()).ok();
}

/// A cgroup delegated to the user (v2: a subtree it owns, with the caller
/// already inside it, as a systemd user session arranges; v1: the
/// container's directory pre-created and owned by the user in every
/// hierarchy) lets rootless hull apply limits.
#[test]
fn rootless_delegated_cgroup_applies_limits() {
    if !hull_only("rootless cgroup delegation") {
        return;
    }
    let u = user();
    let rl = Rootless::new();
    let parent = CgroupParent::new();
    let mut b = rootless_bundle(&rl, &["sleep", "100"]);
    let path = parent.child("c");
    b.config_mut()["linux"]["cgroupsPath"] = json!(path);
    b.config_mut()["linux"]["resources"] = json!({"pids": {"limit": 42}});
    b.save();
    let chown_tree = |dir: &Path| {
        chown(dir, Some(u.uid), Some(u.gid)).unwrap();
        for e in fs::read_dir(dir).unwrap().flatten() {
            let _ = chown(e.path(), Some(u.uid), Some(u.gid));
        }
    };
    // The cgroup2 part (all of v2, or the hybrid host's unified tree):
    // a subtree the user owns with the caller inside it, as a systemd user
    // session arranges; the shell moves itself there before dropping root.
    let v2_root = match cgroup_version() {
        CgroupVersion::V2 => PathBuf::from("/sys/fs/cgroup"),
        CgroupVersion::V1 => PathBuf::from("/sys/fs/cgroup/unified"),
    };
    let mut enter = String::new();
    let mut caller_dir = None;
    if v2_root.join("cgroup.procs").exists() {
        let top = v2_root.join(parent.name.trim_start_matches('/'));
        fs::create_dir(&top).unwrap();
        if cgroup_version() == CgroupVersion::V2 {
            fs::write(top.join("cgroup.subtree_control"), "+pids").unwrap();
        }
        let caller = top.join("caller");
        fs::create_dir(&caller).unwrap();
        chown_tree(&top);
        chown_tree(&caller);
        enter = format!("echo $$ > {}/cgroup.procs && ", caller.display());
        caller_dir = Some(caller);
    }
    // v1 hierarchies: the parent directory, made by the admin and handed
    // to the user; hull makes (and removes) the container's own below it.
    if cgroup_version() == CgroupVersion::V1 {
        for dir in cgroup_dirs_all(&parent.name) {
            let hierarchy = dir.parent().unwrap();
            if !hierarchy.join("cgroup.procs").exists() || hierarchy == v2_root {
                continue;
            }
            fs::create_dir(&dir).unwrap();
            // A new v1 cpuset starts empty: the admin fills it in.
            if hierarchy.join("cpuset.cpus").exists() {
                for f in ["cpuset.cpus", "cpuset.mems"] {
                    let v = fs::read_to_string(hierarchy.join(f)).unwrap();
                    fs::write(dir.join(f), &v).unwrap();
                }
            }
            chown_tree(&dir);
        }
    }
    let id = unique_id("rootless-deleg");
    rl.ids.borrow_mut().push(id.clone());
    let script = format!(
        "{enter}exec setpriv --reuid={} --regid={} --clear-groups env XDG_RUNTIME_DIR={} \
         {} create --bundle {} {id}",
        u.uid,
        u.gid,
        rl.xdg.path().display(),
        runtime_bin().display(),
        b.path().display()
    );
    let mut c = Command::new("sh");
    c.args(["-c", &script]);
    run_cmd(c, rl.scratch.path(), CmdOpts::default()).ok();
    let state: Value = serde_json::from_str(&rl.cmd(&["state", &id]).ok().stdout).unwrap();
    let pid = state["pid"].as_i64().unwrap();
    let pids_dir = cgroup_dir("pids", &path);
    assert_eq!(read_trim(&pids_dir.join("pids.max")), "42");
    let procs = read_trim(&pids_dir.join("cgroup.procs"));
    assert!(
        procs.lines().any(|p| p == pid.to_string()),
        "init {pid} in {}: {procs:?}",
        pids_dir.display()
    );
    rl.cmd(&["delete", "--force", &id]).ok();
    assert!(rl.leftovers().is_empty());
    assert!(!pids_dir.exists(), "hull removes the cgroup it created");
    // The caller's cgroup is the test's own (its shell has exited).
    if let Some(caller) = caller_dir {
        fs::remove_dir(&caller).unwrap();
    }
}

/// With no cgroup of its own (nothing delegated), the container's `cgroup`
/// mount shows the hierarchies where its process is (v1) or the cgroup2 root
/// read-only (v2), never a per-container path hull did not create; `pause`
/// says it needs a freezer, and the container can still be killed and
/// deleted.
#[test]
fn rootless_cgroup_mount_without_a_cgroup() {
    if !hull_only("rootless cgroup mount") {
        return;
    }
    let rl = Rootless::new();
    let mut b = rootless_bundle(&rl, &["sleep", "100"]);
    // As rootless podman on v1 sends it: no cgroup namespace.
    b.config_mut()["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "cgroup");
    b.config_mut()["mounts"]
        .as_array_mut()
        .unwrap()
        .push(json!({
            "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]
        }));
    b.save();
    let id = unique_id("rootless-cgmount");
    rl.cmd(&["create", "--bundle", &bundle_arg(&b), &id]).ok();
    rl.cmd(&["start", &id]).ok();
    let listing = rl.cmd(&["exec", &id, "ls", "/sys/fs/cgroup"]).ok();
    if Path::new("/sys/fs/cgroup/cgroup.controllers").exists() {
        assert!(listing.stdout.contains("cgroup.controllers"), "{listing}");
    } else {
        assert!(listing.stdout.contains("memory"), "{listing}");
        let inner = rl.cmd(&["exec", &id, "ls", "/sys/fs/cgroup/memory"]).ok();
        assert!(inner.stdout.contains("cgroup.procs"), "{inner}");
    }
    let touch = rl
        .cmd(&[
            "exec",
            &id,
            "sh",
            "-c",
            "touch /sys/fs/cgroup/x || echo refused",
        ])
        .ok();
    assert!(touch.stdout.contains("refused"), "read-only mount: {touch}");
    let pause = rl.cmd(&["pause", &id]).fail();
    assert!(pause.stderr.contains("freezer"), "{pause}");
    let state: Value = serde_json::from_str(&rl.cmd(&["state", &id]).ok().stdout).unwrap();
    assert_eq!(state["status"], "running");
    rl.cmd(&["kill", "--all", &id, "KILL"]).ok();
    rl.cmd(&["delete", "--force", &id]).ok();
    assert!(rl.leftovers().is_empty(), "left: {:?}", rl.leftovers());
    assert!(processes_mentioning(&id).is_empty());
}
