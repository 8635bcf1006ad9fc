//! cgroup v1: one directory per mounted hierarchy. On hybrid hosts the
//! cgroup2 mount (usually /sys/fs/cgroup/unified) is joined as well.

use super::{Manager, pids_value, read_pids, rmdir_retry, write_file};
use crate::error::{Context, Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// A mounted cgroup hierarchy.
#[derive(Clone, Debug)]
pub struct Hierarchy {
    pub mount_point: PathBuf,
    /// Root of the hierarchy as seen by this mount (mountinfo field 4).
    pub root: String,
    /// Controllers (e.g. ["cpu","cpuacct"], ["name=systemd"]); empty for cgroup2.
    pub controllers: Vec<String>,
    pub is_v2: bool,
}

impl Hierarchy {
    pub fn has(&self, controller: &str) -> bool {
        self.controllers.iter().any(|c| c == controller)
    }

    /// The directory of `path` (absolute cgroup path) in this hierarchy.
    pub fn dir_of(&self, path: &str) -> PathBuf {
        let rel = path.strip_prefix(self.root.as_str()).unwrap_or(path);
        self.mount_point.join(rel.trim_start_matches('/'))
    }
}

/// Every cgroup hierarchy mounted in this mount namespace.
pub fn hierarchies() -> Result<Vec<Hierarchy>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "read /proc/self/mountinfo".into())?;
    let mut out: Vec<Hierarchy> = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        let fstype = post[0];
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let mount_point = PathBuf::from(unescape(pre[4]));
        if out.iter().any(|h| h.mount_point == mount_point) {
            continue;
        }
        let controllers = if fstype == "cgroup" {
            post[2]
                .split(',')
                .filter(|o| {
                    !matches!(*o, "rw" | "ro" | "relatime" | "noexec" | "nosuid" | "nodev")
                        && !o.starts_with("release_agent")
                        && *o != "clone_children"
                        && *o != "noprefix"
                        && *o != "xattr"
                        && *o != "cpuset_v2_mode"
                })
                .map(str::to_string)
                .collect()
        } else {
            Vec::new()
        };
        out.push(Hierarchy {
            mount_point,
            root: unescape(pre[3]),
            controllers,
            is_v2: fstype == "cgroup2",
        });
    }
    Ok(out)
}

/// mountinfo escapes space, tab, newline and backslash as octal.
pub fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 4 <= b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 4], 8)
        {
            out.push(v);
            i += 4;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub struct V1Manager {
    path: String,
    hierarchies: Vec<Hierarchy>,
}

impl V1Manager {
    pub fn new(path: &str) -> V1Manager {
        V1Manager {
            path: path.to_string(),
            hierarchies: hierarchies().unwrap_or_default(),
        }
    }

    fn dir(&self, controller: &str) -> Option<PathBuf> {
        self.hierarchies
            .iter()
            .find(|h| h.has(controller))
            .map(|h| h.dir_of(&self.path))
    }

    fn require(&self, controller: &str, field: &str) -> Result<PathBuf> {
        self.dir(controller).ok_or_else(|| {
            Error::msg(format!(
                "{field}: the {controller} cgroup controller is not mounted on this host"
            ))
        })
    }
}

/// cpuset cgroups start empty and refuse tasks: copy cpus/mems from the parent.
fn init_cpuset(dir: &Path) -> Result<()> {
    for file in ["cpuset.cpus", "cpuset.mems"] {
        let current = std::fs::read_to_string(dir.join(file)).unwrap_or_default();
        if current.trim().is_empty()
            && let Some(parent) = dir.parent()
        {
            init_cpuset(parent)?;
            let value = std::fs::read_to_string(parent.join(file))
                .ctx(|| format!("read {}", parent.join(file).display()))?;
            write_file(dir, file, value.trim())?;
        }
    }
    Ok(())
}

impl Manager for V1Manager {
    fn create(&self) -> Result<()> {
        for h in &self.hierarchies {
            let dir = h.dir_of(&self.path);
            std::fs::create_dir_all(&dir).ctx(|| format!("create cgroup {}", dir.display()))?;
            if h.has("cpuset") {
                init_cpuset(&dir)?;
            }
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        if let Some(mem) = r.memory() {
            if let Some(limit) = mem.limit() {
                let dir = self.require("memory", "linux.resources.memory.limit")?;
                let swap = mem.swap();
                // memsw must stay >= limit: raise memsw first when both grow.
                if let Some(swap) = swap {
                    let _ = write_file(&dir, "memory.memsw.limit_in_bytes", &swap.to_string());
                }
                write_file(&dir, "memory.limit_in_bytes", &limit.to_string())?;
                if let Some(swap) = swap {
                    if dir.join("memory.memsw.limit_in_bytes").exists() {
                        write_file(&dir, "memory.memsw.limit_in_bytes", &swap.to_string())?;
                    } else {
                        return Err(Error::msg(
                            "linux.resources.memory.swap: this host has no swap accounting (memory.memsw.limit_in_bytes)",
                        ));
                    }
                }
            }
            if let Some(res) = mem.reservation() {
                let dir = self.require("memory", "linux.resources.memory.reservation")?;
                write_file(&dir, "memory.soft_limit_in_bytes", &res.to_string())?;
            }
        }
        if let Some(cpu) = r.cpu() {
            if let Some(shares) = cpu.shares() {
                let dir = self.require("cpu", "linux.resources.cpu.shares")?;
                write_file(&dir, "cpu.shares", &shares.to_string())?;
            }
            // The period first: the kernel checks quota against the current period.
            if let Some(period) = cpu.period() {
                let dir = self.require("cpu", "linux.resources.cpu.period")?;
                write_file(&dir, "cpu.cfs_period_us", &period.to_string())?;
            }
            if let Some(quota) = cpu.quota() {
                let dir = self.require("cpu", "linux.resources.cpu.quota")?;
                write_file(&dir, "cpu.cfs_quota_us", &quota.to_string())?;
            }
            if let Some(cpus) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
                let dir = self.require("cpuset", "linux.resources.cpu.cpus")?;
                write_file(&dir, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = cpu.mems().as_deref().filter(|c| !c.is_empty()) {
                let dir = self.require("cpuset", "linux.resources.cpu.mems")?;
                write_file(&dir, "cpuset.mems", mems)?;
            }
        }
        if let Some(pids) = r.pids() {
            let dir = self.require("pids", "linux.resources.pids.limit")?;
            write_file(&dir, "pids.max", &pids_value(pids.limit()))?;
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        for h in &self.hierarchies {
            write_file(&h.dir_of(&self.path), "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let dir = self
            .dir("pids")
            .or_else(|| self.dir("memory"))
            .or_else(|| self.hierarchies.first().map(|h| h.dir_of(&self.path)));
        match dir {
            Some(d) if d.exists() => read_pids(&d.join("cgroup.procs")),
            _ => Ok(Vec::new()),
        }
    }

    fn destroy(&self) -> Result<()> {
        // v1 has no cgroup.kill: signal every pid until none is left
        // (thawed, or a frozen process could never die).
        if self.dir("freezer").is_some_and(|d| d.exists()) {
            let _ = self.set_frozen(false);
        }
        for _ in 0..100 {
            let pids = self.pids()?;
            if pids.is_empty() {
                break;
            }
            for pid in pids {
                let _ = nix::sys::signal::kill(
                    nix::unistd::Pid::from_raw(pid),
                    nix::sys::signal::Signal::SIGKILL,
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
        let mut first_err = None;
        for h in &self.hierarchies {
            if let Err(e) = rmdir_retry(&h.dir_of(&self.path)) {
                first_err.get_or_insert(e);
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        let dir = self.require("freezer", "pause")?;
        let want = if frozen { "FROZEN" } else { "THAWED" };
        write_file(&dir, "freezer.state", want)?;
        super::wait_until(
            &format!("{} {want}", dir.join("freezer.state").display()),
            || std::fs::read_to_string(dir.join("freezer.state")).is_ok_and(|s| s.trim() == want),
        )
    }

    fn exists(&self) -> bool {
        self.hierarchies
            .iter()
            .any(|h| h.dir_of(&self.path).exists())
    }
}
