//! AppArmor / SELinux. This host has neither: every requested label must be
//! a clear error naming where it came from, and leave nothing behind.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::path::Path;
use std::time::Duration;

fn apparmor_enabled() -> bool {
    fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.starts_with('Y'))
        && Path::new("/sys/kernel/security/apparmor").is_dir()
}

fn selinux_enabled() -> bool {
    nix::sys::statfs::statfs("/sys/fs/selinux")
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::SELINUX_MAGIC)
}

/// Whether the LSM a check needs to be absent is absent; prints why not.
fn lsm_absent(lsm: &str) -> bool {
    let present = match lsm {
        "AppArmor" => apparmor_enabled(),
        _ => selinux_enabled(),
    };
    if present {
        eprintln!("SKIPPED: {lsm} is enabled on this host, so its absent-LSM error cannot be seen");
    }
    !present
}

/// Host processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == std::process::id().to_string() {
            continue;
        }
        if let Ok(c) = fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(needle) {
                out.push(format!("{name}: {c}"));
            }
        }
    }
    out
}

const LABEL: &str = "system_u:system_r:container_t:s0:c1,c2";

/// create refuses each label whose LSM is absent, naming the field, and
/// leaves no state dir, cgroup, mount or process.
#[test]
fn create_refuses_each_label_of_an_absent_lsm() {
    if !hull_only("LSM errors") {
        return;
    }
    // linux.mountLabel is ignored without SELinux (compat::mount_label_*).
    let cases: [(&str, &str, &str, serde_json::Value); 2] = [
        (
            "AppArmor",
            "process",
            "apparmorProfile",
            json!("docker-default"),
        ),
        ("SELinux", "process", "selinuxLabel", json!(LABEL)),
    ];
    let mut checked = 0;
    for (lsm, section, field, value) in cases {
        if !lsm_absent(lsm) {
            continue;
        }
        let parent = CgroupParent::new();
        let rt = Runtime::new();
        let id = unique_id("lsm");
        let mut b = Bundle::new(&["sleep", "30"]);
        b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
        b.config[section][field] = value;
        // `hull check` reports it where the pre-flight of create finds it.
        let bp = b.path().to_string_lossy().to_string();
        b.save();
        let want = format!("/{section}/{field}: {lsm} is not enabled on this host");
        let o = rt.cmd(&["check", "--bundle", &bp]).fail();
        assert!(
            o.stdout.contains(&want) || o.stderr.contains(&want),
            "check: expected {want:?}: {o}"
        );
        let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
        assert!(o.stderr.contains(&want), "expected {want:?}: {o}");
        assert!(!o.stderr.contains("panicked"), "{o}");
        let left = processes_mentioning(&id);
        assert!(left.is_empty(), "processes left: {left:?}");
        // `run` takes the same path.
        let id2 = unique_id("lsmrun");
        b.config["linux"]["cgroupsPath"] = json!(parent.child(&id2));
        let o = crate::errors::assert_failed_cleanly(
            &rt,
            &b,
            &parent,
            &id2,
            rt.run_with(&b, &id2, &[]),
        );
        assert!(o.stderr.contains(&want), "run: expected {want:?}: {o}");
        checked += 1;
    }
    eprintln!("{checked} of 3 absent-LSM create cases checked");
}

/// A running container in its own cgroup, for the exec cases.
/// Returns the bundle, the id and the host side of its /out.
fn running_in(parent: &CgroupParent, rt: &Runtime) -> (Bundle, String, std::path::PathBuf) {
    let id = unique_id("lsmexec");
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    let out = b.out_dir();
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    (b, id, out)
}

fn container_pids(rt: &Runtime, id: &str) -> Vec<i64> {
    let o = rt.cmd(&["ps", "--format", "json", id]).ok();
    let mut v: Vec<i64> = serde_json::from_str(o.stdout.trim()).unwrap();
    v.sort();
    v
}

/// exec refuses --apparmor, --process-label and a process.json with
/// apparmorProfile or selinuxLabel when the LSM is absent: the error names
/// the flag or field, nothing runs in the container, no process stays.
#[test]
fn exec_refuses_each_label_of_an_absent_lsm() {
    if !hull_only("LSM errors") {
        return;
    }
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let (_b, id, out) = running_in(&parent, &rt);
    let before = container_pids(&rt, &id);
    let marker = out.join("lsm-marker");
    let cmd = ["sh", "-c", "touch /out/lsm-marker"];
    let dir = TempDir::new("lsmproc");
    let process_json = |field: &str, value: &str| {
        let p = dir.path().join(format!("{field}.json"));
        let v = json!({
            "args": cmd,
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            field: value,
        });
        fs::write(&p, v.to_string()).unwrap();
        p.to_string_lossy().to_string()
    };
    let cases: Vec<(&str, Vec<String>, String)> = vec![
        (
            "AppArmor",
            vec!["--apparmor".into(), "docker-default".into()],
            "--apparmor: AppArmor is not enabled".into(),
        ),
        (
            "SELinux",
            vec!["--process-label".into(), LABEL.into()],
            "--process-label: SELinux is not enabled".into(),
        ),
        (
            "AppArmor",
            vec![
                "--process".into(),
                process_json("apparmorProfile", "docker-default"),
            ],
            "process.apparmorProfile: AppArmor is not enabled".into(),
        ),
        (
            "SELinux",
            vec!["--process".into(), process_json("selinuxLabel", LABEL)],
            "process.selinuxLabel: SELinux is not enabled".into(),
        ),
    ];
    let mut checked = 0;
    for (lsm, flags, want) in cases {
        if !lsm_absent(lsm) {
            continue;
        }
        let mut args: Vec<&str> = vec!["exec"];
        args.extend(flags.iter().map(String::as_str));
        args.push(&id);
        if !flags.iter().any(|f| f == "--process") {
            args.extend(cmd);
        }
        let o = rt.cmd(&args).fail();
        assert!(o.stderr.contains(&want), "expected {want:?}: {o}");
        assert!(!o.stderr.contains("panicked"), "{o}");
        assert!(!marker.exists(), "the command ran despite the error: {o}");
        assert_eq!(container_pids(&rt, &id), before, "{o}");
        assert_eq!(rt.status(&id).as_deref(), Some("running"));
        checked += 1;
    }
    // The same exec without a label runs: the cases above failed for the label.
    let mut ok = vec!["exec", id.as_str()];
    ok.extend(cmd);
    rt.cmd(&ok).ok();
    assert!(marker.exists());
    eprintln!("{checked} of 4 absent-LSM exec cases checked");
}

/// features reports the LSMs as the runtime detects them.
#[test]
fn features_report_lsms_as_detected() {
    if !hull_only("features LSM detection") {
        return;
    }
    let rt = Runtime::new();
    let o = rt.cmd(&["features"]).ok();
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(
        v["linux"]["apparmor"]["enabled"],
        json!(apparmor_enabled()),
        "{o}"
    );
    assert_eq!(
        v["linux"]["selinux"]["enabled"],
        json!(selinux_enabled()),
        "{o}"
    );
}

/// The verified procfs handle that LSM labels are written through (here
/// exercised by oomScoreAdj, which takes the same path, as no LSM is
/// present) works where the labels are written: in the init after
/// pivot_root, with and without a user namespace, and in an exec'd process.
#[test]
fn process_attributes_go_through_the_verified_procfs_handle() {
    if !hull_only("the verified procfs handle") {
        return;
    }
    for userns in [false, true] {
        let rt = Runtime::new();
        let mut b = Bundle::new(&["sleep", "60"]);
        b.config["process"]["oomScoreAdj"] = json!(321);
        if userns {
            b.set_namespace("user", None);
            b.config["linux"]["uidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
            b.config["linux"]["gidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        }
        let id = unique_id("procfsh");
        rt.create_start(&b, &id);
        rt.wait_for_status(&id, "running", Duration::from_secs(10));
        let pid = rt.pid(&id);
        assert_eq!(
            read_trim(Path::new(&format!("/proc/{pid}/oom_score_adj"))),
            "321",
            "init (user namespace: {userns})"
        );
        let dir = TempDir::new("procfsh");
        let p = dir.path().join("process.json");
        let v = json!({
            "args": ["cat", "/proc/self/oom_score_adj"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            "oomScoreAdj": 654,
        });
        fs::write(&p, v.to_string()).unwrap();
        let o = rt
            .cmd(&["exec", "--process", p.to_str().unwrap(), &id])
            .ok();
        assert_eq!(
            o.stdout.trim(),
            "654",
            "exec (user namespace: {userns}): {o}"
        );
    }
}

/// Without a procfs at /proc (the config mounts none), the write is
/// refused by the handle's check rather than landing in a plain directory.
#[test]
fn process_attributes_need_a_real_procfs() {
    if !hull_only("the verified procfs handle") {
        return;
    }
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("noproc");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    b.config["process"]["oomScoreAdj"] = json!(100);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/proc");
    // maskedPaths and readonlyPaths live under /proc.
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    fs::create_dir_all(b.rootfs().join("proc")).unwrap();
    let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    assert!(
        o.stderr
            .contains("process.oomScoreAdj 100: /proc is not procfs"),
        "{o}"
    );
    assert!(processes_mentioning(&id).is_empty());
}
