//! cgroups (v1 or v2, detected at run time). Every test name here
//! contains "cgroup" so the set can be selected with a filter.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

/// A bundle running `sleep 30` in cgroup `<parent>/<id>` with `resources`.
fn cgroup_bundle(parent: &CgroupParent, id: &str, resources: serde_json::Value) -> Bundle {
    let mut b = Bundle::new(&["sleep", "30"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(id));
    b.config["linux"]["resources"] = resources;
    b
}

fn procs_of(dir: &std::path::Path) -> Vec<i32> {
    fs::read_to_string(dir.join("cgroup.procs"))
        .unwrap_or_else(|e| panic!("read {}/cgroup.procs: {e}", dir.display()))
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

#[test]
fn cgroup_memory_and_pids_limits() {
    let parent = CgroupParent::new();
    let id = unique_id("cglim");
    let b = cgroup_bundle(
        &parent,
        &id,
        json!({ "memory": { "limit": 67108864 }, "pids": { "limit": 50 } }),
    );
    let rt = Runtime::new();
    rt.create_start(&b, &id);
    let path = parent.child(&id);
    let (mem_file, pids_file) = match cgroup_version() {
        CgroupVersion::V1 => (
            cgroup_dir("memory", &path).join("memory.limit_in_bytes"),
            cgroup_dir("pids", &path).join("pids.max"),
        ),
        CgroupVersion::V2 => (
            cgroup_dir("", &path).join("memory.max"),
            cgroup_dir("", &path).join("pids.max"),
        ),
    };
    assert_eq!(read_trim(&mem_file), "67108864", "{}", mem_file.display());
    assert_eq!(read_trim(&pids_file), "50", "{}", pids_file.display());
}

#[test]
fn cgroup_cpu_quota() {
    let parent = CgroupParent::new();
    let id = unique_id("cgcpu");
    let b = cgroup_bundle(
        &parent,
        &id,
        json!({ "cpu": { "quota": 50000, "period": 100000 } }),
    );
    let rt = Runtime::new();
    rt.create_start(&b, &id);
    let path = parent.child(&id);
    match cgroup_version() {
        CgroupVersion::V1 => {
            let d = cgroup_dir("cpu", &path);
            assert_eq!(read_trim(&d.join("cpu.cfs_quota_us")), "50000");
            assert_eq!(read_trim(&d.join("cpu.cfs_period_us")), "100000");
        }
        CgroupVersion::V2 => {
            assert_eq!(
                read_trim(&cgroup_dir("", &path).join("cpu.max")),
                "50000 100000"
            );
        }
    }
}

#[test]
fn cgroup_custom_path_holds_the_init() {
    let parent = CgroupParent::new();
    let id = unique_id("cgpath");
    let b = cgroup_bundle(&parent, &id, json!({ "pids": { "limit": 100 } }));
    let rt = Runtime::new();
    rt.create(&b, &id).ok();
    let pid = rt.pid(&id);
    let path = parent.child(&id);
    let ctrls: &[&str] = match cgroup_version() {
        CgroupVersion::V1 => &["memory", "pids", "cpu", "devices", "freezer"],
        CgroupVersion::V2 => &[""],
    };
    for c in ctrls {
        let d = cgroup_dir(c, &path);
        assert!(
            procs_of(&d).contains(&pid),
            "init {pid} not in {}",
            d.display()
        );
    }
    // And the host's view of the process agrees.
    let pc = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    assert!(
        pc.lines().any(|l| l.ends_with(&format!(":{path}"))),
        "/proc/{pid}/cgroup:\n{pc}"
    );
}

/// The /proc/self/cgroup line for the memory controller (v1) or the
/// unified line (v2).
fn own_cgroup_line(out: &str) -> String {
    let line = match cgroup_version() {
        CgroupVersion::V1 => out.lines().find(|l| {
            l.split(':')
                .nth(1)
                .map(|c| c.split(',').any(|x| x == "memory"))
                .unwrap_or(false)
        }),
        CgroupVersion::V2 => out.lines().find(|l| l.starts_with("0::")),
    };
    line.unwrap_or_else(|| panic!("no cgroup line in:\n{out}"))
        .to_string()
}

#[test]
fn cgroup_path_visible_inside_without_cgroupns() {
    let parent = CgroupParent::new();
    let id = unique_id("cgin");
    let mut b = cgroup_bundle(&parent, &id, json!({}));
    b.remove_namespace("cgroup");
    b.set_args(&["cat", "/proc/self/cgroup"]);
    let rt = Runtime::new();
    let out = rt.run_with(&b, &id, &[]).ok().stdout;
    let line = own_cgroup_line(&out);
    assert!(line.ends_with(&format!(":{}", parent.child(&id))), "{line}");
}

#[test]
fn cgroup_namespace_shows_root_inside() {
    let parent = CgroupParent::new();
    let id = unique_id("cgns");
    let mut b = cgroup_bundle(&parent, &id, json!({}));
    b.set_namespace("cgroup", None);
    b.set_args(&["cat", "/proc/self/cgroup"]);
    let rt = Runtime::new();
    let out = rt.run_with(&b, &id, &[]).ok().stdout;
    let line = own_cgroup_line(&out);
    assert!(line.ends_with(":/"), "{line}");
}

#[test]
fn cgroup_removed_after_delete() {
    let parent = CgroupParent::new();
    let id = unique_id("cgdel");
    let b = cgroup_bundle(
        &parent,
        &id,
        json!({ "memory": { "limit": 67108864 }, "pids": { "limit": 50 } }),
    );
    let rt = Runtime::new();
    rt.create_start(&b, &id);
    let path = parent.child(&id);
    assert!(
        !cgroup_leftovers(&path).is_empty(),
        "cgroup {path} never created"
    );
    rt.kill(&id, "KILL").ok();
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));
    rt.delete(&id).ok();
    let left = cgroup_leftovers(&path);
    assert!(left.is_empty(), "cgroup dirs left after delete: {left:?}");
}

#[test]
fn cgroup_removed_after_force_delete_of_running() {
    let parent = CgroupParent::new();
    let id = unique_id("cgfdel");
    let b = cgroup_bundle(&parent, &id, json!({ "pids": { "limit": 50 } }));
    let rt = Runtime::new();
    rt.create_start(&b, &id);
    let path = parent.child(&id);
    assert!(
        !cgroup_leftovers(&path).is_empty(),
        "cgroup {path} never created"
    );
    rt.delete_force(&id).ok();
    let left = cgroup_leftovers(&path);
    assert!(
        left.is_empty(),
        "cgroup dirs left after delete --force: {left:?}"
    );
}

#[test]
fn cgroup_default_path_is_hull_id() {
    if !hull_only("default cgroupsPath /hull/<id>") {
        return;
    }
    let b = Bundle::new(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = unique_id("cgdef");
    rt.create(&b, &id).ok();
    let pid = rt.pid(&id);
    let path = format!("/hull/{id}");
    let ctrl = match cgroup_version() {
        CgroupVersion::V1 => "pids",
        CgroupVersion::V2 => "",
    };
    let d = cgroup_dir(ctrl, &path);
    assert!(d.exists(), "{} does not exist", d.display());
    assert!(
        procs_of(&d).contains(&pid),
        "init {pid} not in {}",
        d.display()
    );
    rt.delete_force(&id).ok();
    let left = cgroup_leftovers(&path);
    assert!(left.is_empty(), "cgroup dirs left after delete: {left:?}");
}

#[test]
fn cgroup_leak_check_of_the_test_parent_fires() {
    // The suite's leftover check: a child cgroup still under a test parent
    // when it drops fails the test, and is removed all the same.
    let parent = CgroupParent::new();
    let name = parent.name.clone();
    let leak = parent.child("leaked");
    let dirs: Vec<_> = match cgroup_version() {
        CgroupVersion::V1 => vec![cgroup_dir("pids", &leak)],
        CgroupVersion::V2 => vec![cgroup_dir("", &leak)],
    };
    for d in &dirs {
        fs::create_dir_all(d).unwrap();
    }
    let r = std::panic::catch_unwind(move || drop(parent));
    let msg = r
        .expect_err("a leaked cgroup went unnoticed")
        .downcast::<String>()
        .map(|s| *s)
        .unwrap_or_default();
    assert!(msg.contains("cgroups left behind"), "{msg}");
    assert!(msg.contains("leaked"), "{msg}");
    let left = cgroup_leftovers(&name);
    assert!(left.is_empty(), "{left:?}");
}

/// A v1-only host (here: the hybrid host with its cgroup2 mount hidden by a
/// tmpfs in a private mount namespace): the init moves itself into every
/// v1 hierarchy (no cgroup.procs write by the parent), and `run` removes
/// the cgroup after.
#[test]
fn cgroup_v1_only_host_places_the_init_in_every_hierarchy() {
    if cgroup_version() == CgroupVersion::V2 {
        println!("SKIPPED: a cgroup v2 host has no v1 hierarchies");
        return;
    }
    let parent = CgroupParent::new();
    let id = unique_id("cgv1only");
    let path = parent.child(&id);
    let mut b = cgroup_bundle(&parent, &id, json!({"pids": {"limit": 33}}));
    b.set_args(&["sh", "-c", "cat /proc/self/cgroup"]);
    b.config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .retain(|n| n["type"] != "cgroup");
    b.save();
    let rt = Runtime::new();
    let script = format!(
        "mount -t tmpfs tmpfs /sys/fs/cgroup/unified && exec {} --root {} run --bundle {} {id}",
        runtime_bin().display(),
        rt.root().display(),
        b.path().display()
    );
    let mut c = std::process::Command::new("unshare");
    c.args(["-m", "--propagation", "private", "sh", "-c", &script]);
    let scratch = TempDir::new("v1only");
    let o = run_cmd(c, scratch.path(), CmdOpts::default()).ok();
    // Every v1 line of /proc/self/cgroup inside names the container's path.
    let v1: Vec<&str> = o
        .stdout
        .lines()
        .filter(|l| !l.starts_with("0::") && !l.contains("name=") && !l.is_empty())
        .collect();
    assert!(v1.len() >= 5, "v1 hierarchies seen: {o}");
    for l in &v1 {
        assert!(l.ends_with(&path), "not in {path}: {l} ({o})");
    }
    assert!(cgroup_leftovers(&path).is_empty(), "run removes the cgroup");
}
