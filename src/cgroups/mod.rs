//! Cgroups: one `Manager` interface, with v1 (including hybrid hosts) and
//! v2 implementations chosen by probing `/sys/fs/cgroup`.

mod v1;
mod v2;

use crate::error::{Context, Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

pub use v1::V1Manager;
pub use v1::{Hierarchy, hierarchies as v1_hierarchies};
pub use v2::V2Manager;

pub const CGROUP_ROOT: &str = "/sys/fs/cgroup";

pub trait Manager {
    /// Makes the cgroup (and any missing ancestors).
    fn create(&self) -> Result<()>;
    /// Writes the resource limits of `linux.resources`.
    fn apply(&self, resources: &LinuxResources) -> Result<()>;
    /// Moves a process into the cgroup.
    fn add_process(&self, pid: i32) -> Result<()>;
    /// Pids of every process in the cgroup.
    fn pids(&self) -> Result<Vec<i32>>;
    /// Kills everything inside, waits for it to empty, and removes the cgroup.
    fn destroy(&self) -> Result<()>;
    /// True when the cgroup directory exists.
    fn exists(&self) -> bool;
    /// Freezes or thaws every process in the cgroup, waiting until done.
    fn set_frozen(&self, frozen: bool) -> Result<()>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Version {
    V1,
    V2,
}

/// Which cgroup layout this host has: pure v2, or v1 (possibly hybrid).
pub fn host_version() -> Version {
    match nix::sys::statfs::statfs(CGROUP_ROOT) {
        Ok(s) if s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC => Version::V2,
        _ => Version::V1,
    }
}

/// Picks the manager for this host for a resolved absolute cgroup path.
pub fn manager(path: &str) -> Box<dyn Manager> {
    match host_version() {
        Version::V2 => Box::new(V2Manager::new(PathBuf::from(CGROUP_ROOT), path)),
        Version::V1 => Box::new(V1Manager::new(path)),
    }
}

/// Resolves `linux.cgroupsPath` to an absolute path: absolute paths are
/// taken as they are, relative ones go under hull's own cgroup, and an
/// absent one becomes `/hull/<id>`.
pub fn resolve_path(cgroups_path: Option<&Path>, id: &str) -> Result<String> {
    let p = match cgroups_path {
        None => return Ok(format!("/hull/{id}")),
        Some(p) => p.to_string_lossy().into_owned(),
    };
    if p.is_empty() {
        return Ok(format!("/hull/{id}"));
    }
    if p.contains(':') && !p.starts_with('/') {
        return Err(Error::msg(format!(
            "linux.cgroupsPath {p:?}: the slice:prefix:name form needs --systemd-cgroup, which hull does not support yet"
        )));
    }
    let clean = clean_path(&p)?;
    if p.starts_with('/') {
        return Ok(clean);
    }
    let own = own_cgroup()?;
    Ok(format!(
        "{}/{}",
        own.trim_end_matches('/'),
        clean.trim_start_matches('/')
    ))
}

/// Normalizes a cgroup path, refusing `..` so it cannot climb out of its hierarchy.
fn clean_path(p: &str) -> Result<String> {
    let mut out = String::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                return Err(Error::msg(format!(
                    "linux.cgroupsPath {p:?}: \"..\" is not allowed"
                )));
            }
            s => {
                out.push('/');
                out.push_str(s);
            }
        }
    }
    if out.is_empty() {
        out.push('/');
    }
    Ok(out)
}

/// hull's own cgroup: the v2 entry, or on v1 the pids (else first) hierarchy's.
fn own_cgroup() -> Result<String> {
    let text =
        std::fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup".into())?;
    let mut first = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, ctrls, path) = (
            parts.next(),
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("/"),
        );
        if host_version() == Version::V2 && ctrls.is_empty() {
            return Ok(path.to_string());
        }
        if ctrls.split(',').any(|c| c == "pids") {
            return Ok(path.to_string());
        }
        if !ctrls.is_empty() && first.is_none() {
            first = Some(path.to_string());
        }
    }
    Ok(first.unwrap_or_else(|| "/".into()))
}

/// Writes a control file, naming the file and value on failure.
pub(crate) fn write_file(dir: &Path, file: &str, value: &str) -> Result<()> {
    let path = dir.join(file);
    std::fs::write(&path, value).ctx(|| format!("write {value:?} to {}", path.display()))
}

pub(crate) fn read_pids(file: &Path) -> Result<Vec<i32>> {
    let text = std::fs::read_to_string(file).ctx(|| format!("read {}", file.display()))?;
    Ok(text.lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// Removes a cgroup dir, retrying while the kernel still sees it busy.
pub(crate) fn rmdir_retry(dir: &Path) -> Result<()> {
    let mut delay = std::time::Duration::from_millis(1);
    for _ in 0..12 {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                std::thread::sleep(delay);
                delay = (delay * 2).min(std::time::Duration::from_millis(100));
            }
            Err(e) => return Err(e).ctx(|| format!("remove cgroup {}", dir.display())),
        }
    }
    std::fs::remove_dir(dir).ctx(|| format!("remove cgroup {}", dir.display()))
}

/// Polls `done` until it holds, for at most about two seconds.
pub(crate) fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Result<()> {
    let mut delay = std::time::Duration::from_micros(100);
    for _ in 0..40 {
        if done() {
            return Ok(());
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(std::time::Duration::from_millis(100));
    }
    Err(Error::msg(format!("{what}: timed out")))
}

/// The pids limit as the kernel wants it: "max" for unlimited.
pub(crate) fn pids_value(limit: i64) -> String {
    if limit > 0 {
        limit.to_string()
    } else {
        "max".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_cleaned_and_dotdot_refused() {
        assert_eq!(clean_path("/a//b/./c/").unwrap(), "/a/b/c");
        assert!(clean_path("/a/../../etc").is_err());
        assert_eq!(resolve_path(None, "x").unwrap(), "/hull/x");
        assert_eq!(
            resolve_path(Some(Path::new("/k8s/pod")), "x").unwrap(),
            "/k8s/pod"
        );
    }
}
