//! cgroup v2: one unified hierarchy; controllers are enabled down the path.

use super::resources::{Dir, blkio_weight_to_io, v2_bytes, write_field};
use super::{Manager, pids_value, read_pids_recursive, rmdir_tree, write_file};
use crate::error::{Context, Error, Result};
use oci_spec::runtime::{LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxResources};
use std::path::{Path, PathBuf};

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
        let d = Dir { path: &self.dir };
        if let Some(m) = r.memory() {
            self.apply_memory(&d, m)?;
        }
        if let Some(c) = r.cpu() {
            self.apply_cpu(&d, c)?;
        }
        if let Some(pids) = r.pids() {
            d.set(
                "linux.resources.pids.limit",
                "pids.max",
                &pids_value(pids.limit()),
                NOT_ENABLED,
            )?;
        }
        if let Some(b) = r.block_io() {
            apply_io(&d, b)?;
        }
        if let Some(h) = r.hugepage_limits().as_deref().filter(|h| !h.is_empty()) {
            write_hugetlb(&self.dir, h)?;
        }
        if let Some(n) = r.network()
            && (n.class_id().is_some() || n.priorities().as_ref().is_some_and(|p| !p.is_empty()))
        {
            return Err(Error::msg(
                "linux.resources.network: cgroup v2 has no net_cls/net_prio controllers (classify traffic with eBPF or nftables instead)",
            ));
        }
        if let Some(rdma) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            super::write_rdma(&self.dir, rdma)?;
        }
        if let Some(u) = r.unified().as_ref().filter(|m| !m.is_empty()) {
            let mut keys: Vec<&String> = u.keys().collect();
            keys.sort();
            for k in keys {
                let file = super::resources::check_unified_key(&self.dir, k)?;
                write_field(&format!("linux.resources.unified[{k:?}]"), &file, &u[k])?;
            }
        }
        Ok(())
    }

    fn apply_devices(&self, rules: &[super::devices::Rule]) -> Result<()> {
        super::devices::apply_v2(&self.dir, rules)
    }

    fn stats(&self) -> Result<serde_json::Value> {
        Ok(super::stats::v2(&self.dir))
    }

    fn oom_kills(&self) -> u64 {
        super::stats::keyed(&self.dir, "memory.events")
            .get("oom_kill")
            .copied()
            .unwrap_or(0)
    }

    fn clone_target(&self) -> Option<std::os::fd::OwnedFd> {
        super::open_cgroup_dir(&self.dir)
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        write_file(&self.dir, "cgroup.procs", &pid.to_string())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        if !self.dir.exists() {
            return Ok(Vec::new());
        }
        read_pids_recursive(&self.dir)
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
        rmdir_tree(&self.dir)
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

    fn is_frozen(&self) -> bool {
        // cgroup.events says "frozen 1" also when an ancestor is frozen.
        std::fs::read_to_string(self.dir.join("cgroup.freeze")).is_ok_and(|s| s.trim() == "1")
            || std::fs::read_to_string(self.dir.join("cgroup.events"))
                .is_ok_and(|s| s.lines().any(|l| l == "frozen 1"))
    }

    fn exists(&self) -> bool {
        self.dir.exists()
    }
}

const NOT_ENABLED: &str = "the controller is not enabled for this cgroup";

impl V2Manager {
    fn apply_memory(&self, d: &Dir, m: &LinuxMemory) -> Result<()> {
        let f = |n: &str| format!("linux.resources.memory.{n}");
        if let (Some(true), Some(limit)) = (m.check_before_update(), m.limit())
            && limit > 0
        {
            let usage = super::stats::num(d.path, "memory.current");
            if usage > limit as u64 {
                return Err(Error::msg(format!(
                    "linux.resources.memory.limit: {limit} is below the current usage {usage} (checkBeforeUpdate)"
                )));
            }
        }
        if let Some(l) = m.limit() {
            d.set(&f("limit"), "memory.max", &v2_bytes(l), NOT_ENABLED)?;
        }
        if let Some(swap) = m.swap()
            && let Some(v) = super::resources::swap_to_v2(swap, m.limit())?
        {
            d.set(
                &f("swap"),
                "memory.swap.max",
                &v,
                "no swap accounting in this kernel",
            )?;
        }
        if let Some(v) = m.reservation() {
            d.set(&f("reservation"), "memory.low", &v2_bytes(v), NOT_ENABLED)?;
        }
        for (name, v) in [("kernel", m.kernel()), ("kernelTCP", m.kernel_tcp())] {
            if v.is_some_and(|v| v > 0) {
                return Err(Error::msg(format!(
                    "{}: cgroup v2 has no separate kernel memory limit (kernel memory counts in memory.max)",
                    f(name)
                )));
            }
        }
        if m.swappiness().is_some() {
            return Err(Error::msg(
                "linux.resources.memory.swappiness: cgroup v2 has no per-cgroup swappiness",
            ));
        }
        if m.disable_oom_killer() == Some(true) {
            return Err(Error::msg(
                "linux.resources.memory.disableOOMKiller: cgroup v2 cannot disable the OOM killer for a cgroup",
            ));
        }
        if m.use_hierarchy() == Some(false) {
            return Err(Error::msg(
                "linux.resources.memory.useHierarchy: cgroup v2 accounting is always hierarchical",
            ));
        }
        Ok(())
    }

    fn apply_cpu(&self, d: &Dir, c: &LinuxCpu) -> Result<()> {
        let f = |n: &str| format!("linux.resources.cpu.{n}");
        if let Some(shares) = c.shares().filter(|s| *s != 0) {
            d.set(
                &f("shares"),
                "cpu.weight",
                &shares_to_weight(shares).to_string(),
                NOT_ENABLED,
            )?;
        }
        if c.quota().is_some() || c.period().is_some() {
            let field = if c.quota().is_some() {
                f("quota")
            } else {
                f("period")
            };
            let current = d.read("cpu.max").unwrap_or_default();
            let mut cur = current.split_whitespace();
            let (cur_quota, cur_period) = (
                cur.next().unwrap_or("max").to_string(),
                cur.next().unwrap_or("100000").to_string(),
            );
            let quota = match c.quota() {
                Some(q) if q > 0 => q.to_string(),
                Some(_) => "max".to_string(),
                None => cur_quota,
            };
            let period = c.period().map_or(cur_period, |p| p.to_string());
            d.set(&field, "cpu.max", &format!("{quota} {period}"), NOT_ENABLED)?;
        }
        if let Some(b) = c.burst() {
            d.set(
                &f("burst"),
                "cpu.max.burst",
                &b.to_string(),
                "the kernel has no CFS burst",
            )?;
        }
        for (name, v) in [
            ("realtimeRuntime", c.realtime_runtime().map(|v| v as u64)),
            ("realtimePeriod", c.realtime_period()),
        ] {
            if v.is_some_and(|v| v != 0) {
                return Err(Error::msg(format!(
                    "{}: cgroup v2 has no real-time group scheduling",
                    f(name)
                )));
            }
        }
        if let Some(v) = c.idle() {
            d.set(
                &f("idle"),
                "cpu.idle",
                &v.to_string(),
                "the kernel has no SCHED_IDLE cgroups",
            )?;
        }
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
            d.set(&f("cpus"), "cpuset.cpus", v, NOT_ENABLED)?;
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
            d.set(&f("mems"), "cpuset.mems", v, NOT_ENABLED)?;
        }
        Ok(())
    }
}

/// blockIO onto the io controller: weights to io.bfq.weight (same range as
/// v1) when BFQ is there, else io.weight (converted); throttles to io.max.
fn apply_io(d: &Dir, b: &LinuxBlockIo) -> Result<()> {
    let f = |n: &str| format!("linux.resources.blockIO.{n}");
    const NO_WEIGHTS: &str = "no weight-based I/O control: neither io.cost nor BFQ is available";
    // Refused up front, before any weight is written.
    if b.leaf_weight().is_some() {
        return Err(Error::msg(
            "linux.resources.blockIO.leafWeight: cgroup v2 has no leaf weights",
        ));
    }
    for (i, wd) in b.weight_device().iter().flatten().enumerate() {
        if wd.leaf_weight().is_some() {
            return Err(Error::msg(format!(
                "{}.leafWeight: cgroup v2 has no leaf weights",
                f(&format!("weightDevice[{i}]"))
            )));
        }
    }
    let bfq = d.has("io.bfq.weight");
    if let Some(w) = b.weight() {
        if bfq {
            d.set(&f("weight"), "io.bfq.weight", &w.to_string(), "")?;
        } else {
            d.set(
                &f("weight"),
                "io.weight",
                &format!("default {}", blkio_weight_to_io(w)),
                NO_WEIGHTS,
            )?;
        }
    }
    for (i, wd) in b.weight_device().iter().flatten().enumerate() {
        let field = f(&format!("weightDevice[{i}]"));
        if let Some(w) = wd.weight() {
            let (file, v) = if bfq {
                ("io.bfq.weight", w.to_string())
            } else {
                ("io.weight", blkio_weight_to_io(w).to_string())
            };
            let path = d.file(file, &format!("{field}.weight"), NO_WEIGHTS)?;
            write_field(
                &format!("{field}.weight"),
                &path,
                &format!("{}:{} {v}", wd.major(), wd.minor()),
            )
            .map_err(|e| {
                Error::msg(format!(
                    "{e} ({})",
                    super::resources::weight_device_cause(wd.major(), wd.minor())
                ))
            })?;
        }
    }
    for (name, key, list) in [
        (
            "throttleReadBpsDevice",
            "rbps",
            b.throttle_read_bps_device(),
        ),
        (
            "throttleWriteBpsDevice",
            "wbps",
            b.throttle_write_bps_device(),
        ),
        (
            "throttleReadIOPSDevice",
            "riops",
            b.throttle_read_iops_device(),
        ),
        (
            "throttleWriteIOPSDevice",
            "wiops",
            b.throttle_write_iops_device(),
        ),
    ] {
        for (i, t) in list.iter().flatten().enumerate() {
            let rate = if t.rate() == 0 {
                "max".to_string()
            } else {
                t.rate().to_string()
            };
            d.set(
                &f(&format!("{name}[{i}]")),
                "io.max",
                &format!("{}:{} {key}={rate}", t.major(), t.minor()),
                NOT_ENABLED,
            )?;
        }
    }
    Ok(())
}

/// hugepageLimits onto hugetlb.<size>.max (and .rsvd.max).
pub(crate) fn write_hugetlb(dir: &Path, limits: &[LinuxHugepageLimit]) -> Result<()> {
    super::resources::write_hugetlb(dir, limits, "max")
}

/// Enables `ctrls` in cgroup.subtree_control of every cgroup strictly
/// between the mount root and `dir` (the root itself is left alone).
pub(crate) fn enable_down(mount: &Path, dir: &Path, ctrls: &[&str]) -> Result<()> {
    let rel = dir.strip_prefix(mount).unwrap_or(dir);
    let mut cur = mount.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for part in parts.iter().take(parts.len().saturating_sub(1)) {
        cur.push(part);
        let enabled =
            std::fs::read_to_string(cur.join("cgroup.subtree_control")).unwrap_or_default();
        for c in ctrls {
            if !enabled.split_whitespace().any(|e| e == *c) {
                write_file(&cur, "cgroup.subtree_control", &format!("+{c}"))?;
            }
        }
    }
    Ok(())
}

/// cgroup v1 cpu.shares [2, 262144] mapped onto v2 cpu.weight [1, 10000]
/// along a quadratic in log space that meets both ends and the defaults
/// (1024 shares -> weight 100), as runc 1.3 and crun 1.23 do: a linear map
/// gave a default pod weight 39, less than half a system service's 100.
/// 0 means unset (the caller writes nothing).
pub fn shares_to_weight(shares: u64) -> u64 {
    match shares {
        0 => 100,
        1..=2 => 1,
        262_144.. => 10_000,
        s => {
            let l = (s as f64).log2();
            let exponent = (l * l + 125.0 * l) / 612.0 - 7.0 / 34.0;
            10f64.powf(exponent).ceil() as u64
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn shares_map_onto_weights() {
        for (shares, weight) in [
            (1, 1),
            (2, 1),
            (3, 2),
            (10, 4),
            (100, 17),
            (512, 59),
            (1024, 100),
            (2048, 174),
            (4096, 303),
            (102_400, 4429),
            (262_143, 10_000),
            (262_144, 10_000),
            (1 << 30, 10_000),
        ] {
            assert_eq!(super::shares_to_weight(shares), weight, "shares {shares}");
        }
    }
}
