//! Shared helpers for hull's integration tests: temp dirs, busybox bundles,
//! a wrapper that runs the runtime binary with a private `--root`, and
//! cgroup / mount inspection helpers.
//!
//! The binary under test is `$HULL_RUNTIME`, else `$HULL_BIN`, else the
//! `hull` binary cargo built for this package.

#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod support;

pub use support::*;

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Default time a single runtime invocation may take before it is killed.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);
/// This suite's name in /tmp paths.
pub const SUITE: &str = "it";

/// Lines of /proc/self/mountinfo that mention `needle` anywhere.
pub fn mountinfo_mentioning(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(|s| s.to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Busybox rootfs template
// ---------------------------------------------------------------------------

/// Builds (once per test process) a busybox rootfs template.
pub fn rootfs_template() -> &'static Path {
    static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();
    TEMPLATE.get_or_init(|| {
        let dir = support::files::template_dir();
        support::files::busybox_rootfs(
            &dir,
            &["out"],
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
        );
        fs::write(dir.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        dir
    })
}

// ---------------------------------------------------------------------------
// Bundle
// ---------------------------------------------------------------------------

impl Bundle {
    /// A busybox bundle running `args`, its config.json written.
    pub fn new(args: &[&str]) -> Bundle {
        let b = Bundle::from_template(rootfs_template(), default_config(args));
        b.save();
        b
    }
}

/// The config `runc spec` would write (terminal false), plus a cgroup
/// namespace and a /sys/fs/cgroup mount.
pub fn default_config(args: &[&str]) -> Value {
    runc_spec_config(args, "hull-test")
}

/// Wait until `pid` no longer exists (or is a zombie).
pub fn wait_pid_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(s) => {
                // state field follows the ")" of comm.
                if let Some(rest) = s.rsplit_once(')')
                    && rest.1.trim_start().starts_with('Z')
                {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Wait until `path` exists and is non-empty; returns its content.
pub fn wait_file(path: &Path, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(s) = fs::read_to_string(path)
            && !s.is_empty()
        {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Wait until `path` contains `needle`; returns the content.
pub fn wait_file_contains(path: &Path, needle: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(s) = fs::read_to_string(path)
            && s.contains(needle)
        {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

// ---------------------------------------------------------------------------
// cgroups
// ---------------------------------------------------------------------------

/// Host directory of `path` (absolute cgroup path) in controller `ctrl`
/// (ignored on v2).
pub fn cgroup_dir(ctrl: &str, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    match cgroup_version() {
        CgroupVersion::V2 => PathBuf::from("/sys/fs/cgroup").join(rel),
        CgroupVersion::V1 => PathBuf::from("/sys/fs/cgroup").join(ctrl).join(rel),
    }
}

/// Every host dir where a cgroup `path` could exist (all v1 hierarchies,
/// or the single v2 dir).
pub fn cgroup_dirs_all(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    match cgroup_version() {
        CgroupVersion::V2 => vec![PathBuf::from("/sys/fs/cgroup").join(rel)],
        CgroupVersion::V1 => fs::read_dir("/sys/fs/cgroup")
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                    .map(|e| e.path().join(rel))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Existing dirs for cgroup `path`, in any hierarchy.
pub fn cgroup_leftovers(path: &str) -> Vec<PathBuf> {
    cgroup_dirs_all(path)
        .into_iter()
        .filter(|p| p.exists())
        .collect()
}

/// A cgroup parent `/hull-test-<unique>`; on drop removes
/// `<parent>/*` and `<parent>` from every hierarchy (rmdir only).
///
/// Declare it before the `Runtime` so that it drops after the runtime has
/// deleted its containers: a child cgroup still there at that point was
/// leaked by the runtime, and the drop fails the test (after removing it),
/// unless the test is already failing.
pub struct CgroupParent {
    pub name: String,
}

impl CgroupParent {
    pub fn new() -> CgroupParent {
        CgroupParent {
            name: format!("/{}", unique_id("hull-test")),
        }
    }
    pub fn child(&self, id: &str) -> String {
        format!("{}/{id}", self.name)
    }
}

fn rmdir_tree(p: &Path) {
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                rmdir_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(p);
}

/// Directories below `p` (not `p` itself), deepest last.
fn subdirs(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.push(e.path());
                out.extend(subdirs(&e.path()));
            }
        }
    }
    out
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        let mut leaked = Vec::new();
        for d in cgroup_dirs_all(&self.name) {
            if d.exists() {
                leaked.extend(subdirs(&d));
                rmdir_tree(&d);
            }
        }
        let left = cgroup_leftovers(&self.name);
        if !std::thread::panicking() {
            assert!(
                leaked.is_empty(),
                "cgroups left behind after the runtime deleted its containers: {leaked:?}"
            );
            assert!(left.is_empty(), "cannot remove test cgroups: {left:?}");
        }
    }
}

/// Asserts that nothing was created or mounted in the host directory `dir`
/// (the target of an escape attempt); `what` says which attempt.
pub fn assert_host_dir_untouched(dir: &Path, what: &str) {
    let entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        entries.is_empty(),
        "{what}: escaped into the host dir {}: {entries:?}",
        dir.display()
    );
    assert!(
        mounts_under(dir).is_empty(),
        "{what}: the host dir {} got a mount",
        dir.display()
    );
}

/// Read a file and trim it.
pub fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// readlink /proc/self/ns/<ns> of the test process.
pub fn host_ns(ns: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .to_string()
}

/// Run a host command, asserting success; returns stdout.
pub fn host(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}
