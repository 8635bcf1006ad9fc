//! cgroup v2: one unified hierarchy; controllers are enabled down the path.

use super::{Manager, pids_value, read_pids, rmdir_retry, write_file};
use crate::error::{Context, Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::PathBuf;

pub struct V2Manager {
    mount: PathBuf,
    dir: PathBuf,
}

impl V2Manager {
    pub fn new(mount: PathBuf, path: &str) -> V2Manager {
        let dir = mount.join(path.trim_start_matches('/'));
        V2Manager { mount, dir }
    }

    fn require(&self, file: &str, field: &str) -> Result<()> {
        if self.dir.join(file).exists() {
            Ok(())
        } else {
            Err(Error::msg(format!(
                "{field}: {file} is missing in {}: the controller is not enabled there",
                self.dir.display()
            )))
        }
    }
}

impl Manager for V2Manager {
    fn create(&self) -> Result<()> {
        let available = std::fs::read_to_string(self.mount.join("cgroup.controllers"))
            .ctx(|| format!("read {}/cgroup.controllers", self.mount.display()))?;
        let rel = self
            .dir
            .strip_prefix(&self.mount)
            .unwrap_or(&self.dir)
            .to_path_buf();
        let mut cur = self.mount.clone();
        for part in rel.components() {
            // Delegate every controller to the next level down.
            let enabled =
                std::fs::read_to_string(cur.join("cgroup.subtree_control")).unwrap_or_default();
            for c in available.split_whitespace() {
                if !enabled.split_whitespace().any(|e| e == c) {
                    let _ = std::fs::write(cur.join("cgroup.subtree_control"), format!("+{c}"));
                }
            }
            cur.push(part);
            match std::fs::create_dir(&cur) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                Err(e) => return Err(e).ctx(|| format!("create cgroup {}", cur.display())),
            }
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        if let Some(mem) = r.memory() {
            if let Some(limit) = mem.limit() {
                self.require("memory.max", "linux.resources.memory.limit")?;
                let v = if limit < 0 {
                    "max".to_string()
                } else {
                    limit.to_string()
                };
                write_file(&self.dir, "memory.max", &v)?;
                if let Some(swap) = mem.swap() {
                    // v1's swap is memory+swap; v2's swap.max is swap alone.
                    let v = if swap < 0 {
                        "max".to_string()
                    } else if swap < limit {
                        return Err(Error::msg(format!(
                            "linux.resources.memory.swap ({swap}) must be >= memory.limit ({limit})"
                        )));
                    } else {
                        (swap - limit).to_string()
                    };
                    self.require("memory.swap.max", "linux.resources.memory.swap")?;
                    write_file(&self.dir, "memory.swap.max", &v)?;
                }
            }
            if let Some(res) = mem.reservation() {
                self.require("memory.low", "linux.resources.memory.reservation")?;
                write_file(&self.dir, "memory.low", &res.to_string())?;
            }
        }
        if let Some(cpu) = r.cpu() {
            if let Some(shares) = cpu.shares() {
                self.require("cpu.weight", "linux.resources.cpu.shares")?;
                write_file(
                    &self.dir,
                    "cpu.weight",
                    &shares_to_weight(shares).to_string(),
                )?;
            }
            if cpu.quota().is_some() || cpu.period().is_some() {
                self.require("cpu.max", "linux.resources.cpu.quota")?;
                let quota = match cpu.quota() {
                    Some(q) if q > 0 => q.to_string(),
                    _ => "max".to_string(),
                };
                let period = cpu.period().unwrap_or(100_000);
                write_file(&self.dir, "cpu.max", &format!("{quota} {period}"))?;
            }
            if let Some(cpus) = cpu.cpus().as_deref().filter(|c| !c.is_empty()) {
                self.require("cpuset.cpus", "linux.resources.cpu.cpus")?;
                write_file(&self.dir, "cpuset.cpus", cpus)?;
            }
            if let Some(mems) = cpu.mems().as_deref().filter(|c| !c.is_empty()) {
                self.require("cpuset.mems", "linux.resources.cpu.mems")?;
                write_file(&self.dir, "cpuset.mems", mems)?;
            }
        }
        if let Some(pids) = r.pids() {
            self.require("pids.max", "linux.resources.pids.limit")?;
            write_file(&self.dir, "pids.max", &pids_value(pids.limit()))?;
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        write_file(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        read_pids(&self.dir.join("cgroup.procs"))
    }

    fn destroy(&self) -> Result<()> {
        if !self.dir.exists() {
            return Ok(());
        }
        if self.dir.join("cgroup.kill").exists() {
            let _ = write_file(&self.dir, "cgroup.kill", "1");
        }
        for _ in 0..200 {
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
        rmdir_retry(&self.dir)
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        self.require("cgroup.freeze", "pause")?;
        write_file(&self.dir, "cgroup.freeze", if frozen { "1" } else { "0" })?;
        let want = if frozen { "frozen 1" } else { "frozen 0" };
        super::wait_until(
            &format!("{} {want}", self.dir.join("cgroup.events").display()),
            || {
                std::fs::read_to_string(self.dir.join("cgroup.events"))
                    .is_ok_and(|s| s.lines().any(|l| l == want))
            },
        )
    }

    fn exists(&self) -> bool {
        self.dir.exists()
    }
}

/// cgroup v1 cpu.shares [2, 262144] mapped onto v2 cpu.weight [1, 10000].
pub fn shares_to_weight(shares: u64) -> u64 {
    if shares == 0 {
        return 100;
    }
    let s = shares.clamp(2, 262_144);
    1 + ((s - 2) * 9999) / 262_142
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_map_onto_weights() {
        assert_eq!(super::shares_to_weight(2), 1);
        assert_eq!(super::shares_to_weight(262_144), 10_000);
        assert_eq!(super::shares_to_weight(1024), 39);
    }
}
