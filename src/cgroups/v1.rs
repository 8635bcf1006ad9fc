//! cgroup v1: one directory per mounted hierarchy. On hybrid hosts the
//! cgroup2 mount (usually /sys/fs/cgroup/unified) is joined as well.

use super::resources::{Dir, v1_bytes, write_field};
use super::{Manager, pids_value, read_pids_recursive, rmdir_tree, write_file};
use crate::error::{Context, Error, Result};
use crate::procinfo;
use oci_spec::runtime::{
    LinuxBlockIo, LinuxCpu, LinuxHugepageLimit, LinuxMemory, LinuxNetwork, LinuxResources,
};
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

    /// The cgroup path that a `/proc/PID/cgroup` text gives for this
    /// hierarchy (matched by its set of controllers; "0::" for cgroup2).
    pub fn path_in(&self, proc_cgroup: &str) -> Option<String> {
        proc_cgroup.lines().find_map(|line| {
            let mut parts = line.splitn(3, ':');
            let (_, ctrls, path) = (parts.next()?, parts.next()?, parts.next()?);
            let same = if self.is_v2 {
                ctrls.is_empty()
            } else {
                !ctrls.is_empty()
                    && ctrls.split(',').count() == self.controllers.len()
                    && ctrls.split(',').all(|c| self.has(c))
            };
            same.then(|| path.to_string())
        })
    }
}

/// Every cgroup hierarchy mounted in this mount namespace.
pub fn hierarchies() -> Result<Vec<Hierarchy>> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "read /proc/self/mountinfo".into())?;
    let mut out: Vec<Hierarchy> = Vec::new();
    for m in text.lines().filter_map(procinfo::mountinfo_line) {
        let fstype = m.fstype;
        if fstype != "cgroup" && fstype != "cgroup2" {
            continue;
        }
        let mount_point = PathBuf::from(m.mount_point);
        if out.iter().any(|h| h.mount_point == mount_point) {
            continue;
        }
        let controllers = if fstype == "cgroup" {
            m.super_options
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
            root: m.root,
            controllers,
            is_v2: fstype == "cgroup2",
        });
    }
    // mountinfo also lists mounts that something was mounted over (e.g. a
    // tmpfs hiding /sys/fs/cgroup/unified): keep only what a path reaches.
    out.retain(|h| {
        let want = if h.is_v2 {
            nix::sys::statfs::CGROUP2_SUPER_MAGIC
        } else {
            nix::sys::statfs::CGROUP_SUPER_MAGIC
        };
        nix::sys::statfs::statfs(&h.mount_point).is_ok_and(|s| s.filesystem_type() == want)
    });
    Ok(out)
}

pub struct V1Manager {
    path: String,
    hierarchies: Vec<Hierarchy>,
    /// Per-hierarchy paths that differ from `path` (`exec --cgroup
    /// CTRL:SUB`), by index into `hierarchies`.
    overrides: Vec<(usize, String)>,
}

impl V1Manager {
    pub fn new(path: &str) -> V1Manager {
        V1Manager {
            path: path.to_string(),
            hierarchies: hierarchies().unwrap_or_default(),
            overrides: Vec::new(),
        }
    }

    /// The container's cgroup `base` with `exec --cgroup`'s sub-cgroups:
    /// `all` below `base` in every hierarchy (the cgroup2 mount included),
    /// then each `(controllers, sub)` in the hierarchies of those
    /// controllers. Every resulting directory must exist.
    pub fn with_subs(
        base: &str,
        all: Option<&str>,
        per_controller: &[(Vec<String>, String)],
    ) -> Result<V1Manager> {
        let join = |sub: &str| format!("{}/{}", base.trim_end_matches('/'), sub);
        let mut m = V1Manager::new(&all.map_or_else(|| base.to_string(), join));
        for (ctrls, sub) in per_controller {
            for c in ctrls {
                let Some(i) = m.hierarchies.iter().position(|h| h.has(c)) else {
                    return Err(Error::msg(format!(
                        "--cgroup {}:{sub}: unknown controller {c:?} (not mounted on this host)",
                        ctrls.join(",")
                    )));
                };
                m.overrides.retain(|(j, _)| *j != i);
                m.overrides.push((i, join(sub)));
            }
        }
        for h in &m.hierarchies {
            let dir = m.dir_in(h);
            if !dir.is_dir() {
                return Err(Error::msg(format!(
                    "--cgroup: {} does not exist",
                    dir.display()
                )));
            }
        }
        Ok(m)
    }

    /// This cgroup's directory in hierarchy `h`.
    fn dir_in(&self, h: &Hierarchy) -> PathBuf {
        let i = self
            .hierarchies
            .iter()
            .position(|x| std::ptr::eq(x, h))
            .and_then(|i| self.overrides.iter().find(|(j, _)| *j == i));
        h.dir_of(i.map_or(&self.path, |(_, p)| p))
    }

    fn dir(&self, controller: &str) -> Option<PathBuf> {
        self.hierarchies
            .iter()
            .find(|h| h.has(controller))
            .map(|h| self.dir_in(h))
    }

    fn require(&self, controller: &str, field: &str) -> Result<PathBuf> {
        self.dir(controller).ok_or_else(|| {
            Error::msg(format!(
                "{field}: the {controller} cgroup controller is not mounted on this host"
            ))
        })
    }
}

const MAX_BYTES: u64 = 1 << 62;

impl V1Manager {
    fn mem_dir(&self, field: &str) -> Result<PathBuf> {
        self.require("memory", &format!("linux.resources.memory.{field}"))
    }

    fn apply_memory(&self, m: &LinuxMemory) -> Result<()> {
        let f = |n: &str| format!("linux.resources.memory.{n}");
        if let (Some(true), Some(limit)) = (m.check_before_update(), m.limit())
            && limit > 0
        {
            let dir = self.mem_dir("checkBeforeUpdate")?;
            let usage = super::stats::num(&dir, "memory.usage_in_bytes");
            if usage > limit as u64 {
                return Err(Error::msg(format!(
                    "linux.resources.memory.limit: {limit} is below the current usage {usage} (checkBeforeUpdate)"
                )));
            }
        }
        match (m.limit(), m.swap()) {
            (limit, Some(swap)) => {
                let dir = self.mem_dir("swap")?;
                let d = Dir { path: &dir };
                if swap < 0 && !d.has("memory.memsw.limit_in_bytes") {
                    // Unlimited memory+swap is what a host without swap
                    // accounting gives anyway.
                    if let Some(l) = limit {
                        d.set(&f("limit"), "memory.limit_in_bytes", &v1_bytes(l), "")?;
                    }
                    return self.apply_memory_rest(m);
                }
                let memsw = d.file(
                    "memory.memsw.limit_in_bytes",
                    &f("swap"),
                    "no swap accounting: boot with swapaccount=1",
                )?;
                // The kernel keeps memsw >= memory at every step: when the
                // limits grow (memsw unlimited or above the current memory
                // limit) memsw goes first, when they shrink memory does.
                let current = super::stats::num(&dir, "memory.limit_in_bytes");
                let write_memory = || match limit {
                    Some(l) => d.set(&f("limit"), "memory.limit_in_bytes", &v1_bytes(l), ""),
                    None => Ok(()),
                };
                if swap < 0 || current < swap as u64 {
                    write_field(&f("swap"), &memsw, &v1_bytes(swap))?;
                    write_memory()?;
                } else {
                    write_memory()?;
                    write_field(&f("swap"), &memsw, &v1_bytes(swap))?;
                }
            }
            (Some(l), None) => {
                let dir = self.mem_dir("limit")?;
                Dir { path: &dir }.set(&f("limit"), "memory.limit_in_bytes", &v1_bytes(l), "")?;
            }
            (None, None) => {}
        }
        self.apply_memory_rest(m)
    }

    /// The memory fields besides the limits.
    fn apply_memory_rest(&self, m: &LinuxMemory) -> Result<()> {
        let f = |n: &str| format!("linux.resources.memory.{n}");
        if let Some(v) = m.reservation() {
            let dir = self.mem_dir("reservation")?;
            Dir { path: &dir }.set(
                &f("reservation"),
                "memory.soft_limit_in_bytes",
                &v1_bytes(v),
                "",
            )?;
        }
        for (name, file, value) in [
            ("kernel", "memory.kmem.limit_in_bytes", m.kernel()),
            (
                "kernelTCP",
                "memory.kmem.tcp.limit_in_bytes",
                m.kernel_tcp(),
            ),
        ] {
            let Some(v) = value.filter(|v| *v != 0) else {
                continue;
            };
            let dir = self.mem_dir(name)?;
            let d = Dir { path: &dir };
            d.set(
                &f(name),
                file,
                &v1_bytes(v),
                "this kernel has no such limit",
            )?;
            // Linux 6.x keeps memory.kmem.limit_in_bytes but ignores writes.
            if v > 0
                && d.read(file)
                    .and_then(|s| s.parse::<u64>().ok())
                    .is_some_and(|r| r >= MAX_BYTES)
            {
                return Err(Error::msg(format!(
                    "{}: this kernel ignores {file} (kernel memory limits were removed from Linux); drop the field",
                    f(name)
                )));
            }
        }
        if let Some(v) = m.swappiness() {
            if v > 100 {
                return Err(Error::msg(format!(
                    "linux.resources.memory.swappiness: {v} is out of range (0-100)"
                )));
            }
            let dir = self.mem_dir("swappiness")?;
            Dir { path: &dir }.set(&f("swappiness"), "memory.swappiness", &v.to_string(), "")?;
        }
        if let Some(v) = m.disable_oom_killer() {
            let dir = self.mem_dir("disableOOMKiller")?;
            Dir { path: &dir }.set(
                &f("disableOOMKiller"),
                "memory.oom_control",
                if v { "1" } else { "0" },
                "",
            )?;
        }
        if let Some(v) = m.use_hierarchy() {
            let dir = self.mem_dir("useHierarchy")?;
            let d = Dir { path: &dir };
            if let Err(e) = d.set(
                &f("useHierarchy"),
                "memory.use_hierarchy",
                if v { "1" } else { "0" },
                "",
            ) {
                if !v && d.read("memory.use_hierarchy").as_deref() == Some("1") {
                    return Err(Error::msg(
                        "linux.resources.memory.useHierarchy: false is not supported by this kernel (hierarchical accounting is always on)",
                    ));
                }
                return Err(e);
            }
        }
        Ok(())
    }

    fn apply_cpu(&self, c: &LinuxCpu) -> Result<()> {
        let f = |n: &str| format!("linux.resources.cpu.{n}");
        let cpu = |n: &str| self.require("cpu", &f(n));
        if let Some(v) = c.shares() {
            Dir {
                path: &cpu("shares")?,
            }
            .set(&f("shares"), "cpu.shares", &v.to_string(), "")?;
        }
        // A smaller quota may be refused while the old burst exceeds it:
        // try the burst first, and again at the end.
        if let Some(b) = c.burst() {
            let _ = std::fs::write(cpu("burst")?.join("cpu.cfs_burst_us"), b.to_string());
        }
        // A period below the current one can be refused (EINVAL) while the
        // old quota over the new period exceeds a parent's CFS limit: then
        // the quota goes first and the period after it.
        let mut period_after = None;
        if let Some(v) = c.period() {
            let dir = cpu("period")?;
            let file = Dir { path: &dir }.file("cpu.cfs_period_us", &f("period"), "")?;
            match std::fs::write(&file, v.to_string()) {
                Ok(()) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINVAL) && c.quota().is_some() => {
                    period_after = Some((file, v));
                }
                Err(_) => write_field(&f("period"), &file, &v.to_string())?,
            }
        }
        if let Some(v) = c.quota() {
            let v = if v <= 0 { -1 } else { v };
            Dir {
                path: &cpu("quota")?,
            }
            .set(&f("quota"), "cpu.cfs_quota_us", &v.to_string(), "")?;
        }
        if let Some((file, v)) = period_after {
            write_field(&f("period"), &file, &v.to_string())?;
        }
        if let Some(b) = c.burst() {
            Dir {
                path: &cpu("burst")?,
            }
            .set(
                &f("burst"),
                "cpu.cfs_burst_us",
                &b.to_string(),
                "the kernel has no CFS burst",
            )?;
        }
        if let Some(rt) = c.realtime_runtime() {
            let _ = std::fs::write(
                cpu("realtimeRuntime")?.join("cpu.rt_runtime_us"),
                rt.to_string(),
            );
        }
        if let Some(v) = c.realtime_period() {
            Dir {
                path: &cpu("realtimePeriod")?,
            }
            .set(
                &f("realtimePeriod"),
                "cpu.rt_period_us",
                &v.to_string(),
                "the kernel has no RT group scheduling",
            )?;
        }
        if let Some(v) = c.realtime_runtime() {
            Dir {
                path: &cpu("realtimeRuntime")?,
            }
            .set(
                &f("realtimeRuntime"),
                "cpu.rt_runtime_us",
                &v.to_string(),
                "the kernel has no RT group scheduling",
            )?;
        }
        if let Some(v) = c.idle() {
            Dir {
                path: &cpu("idle")?,
            }
            .set(
                &f("idle"),
                "cpu.idle",
                &v.to_string(),
                "the kernel has no SCHED_IDLE cgroups",
            )?;
        }
        if let Some(v) = c.cpus().as_deref().filter(|v| !v.is_empty()) {
            let dir = self.require("cpuset", &f("cpus"))?;
            Dir { path: &dir }.set(&f("cpus"), "cpuset.cpus", v, "")?;
        }
        if let Some(v) = c.mems().as_deref().filter(|v| !v.is_empty()) {
            let dir = self.require("cpuset", &f("mems"))?;
            Dir { path: &dir }.set(&f("mems"), "cpuset.mems", v, "")?;
        }
        Ok(())
    }

    fn apply_blkio(&self, b: &LinuxBlockIo) -> Result<()> {
        let f = |n: &str| format!("linux.resources.blockIO.{n}");
        let dir = || self.require("blkio", &f("weight"));
        const NO_WEIGHTS: &str = "the I/O scheduler has no weights";
        if let Some(w) = b.weight() {
            let dir = dir()?;
            let d = Dir { path: &dir };
            let file = if d.has("blkio.weight") {
                "blkio.weight"
            } else if d.has("blkio.bfq.weight") {
                "blkio.bfq.weight"
            } else {
                "blkio.weight"
            };
            d.set(&f("weight"), file, &w.to_string(), NO_WEIGHTS)?;
        }
        if let Some(w) = b.leaf_weight() {
            let dir = dir()?;
            Dir { path: &dir }.set(
                &f("leafWeight"),
                "blkio.leaf_weight",
                &w.to_string(),
                "leaf weights were removed from the kernel",
            )?;
        }
        for (i, wd) in b.weight_device().iter().flatten().enumerate() {
            let dir = dir()?;
            let d = Dir { path: &dir };
            let field = f(&format!("weightDevice[{i}]"));
            if let Some(w) = wd.weight() {
                let file = if d.has("blkio.weight_device") {
                    "blkio.weight_device"
                } else if d.has("blkio.bfq.weight_device") {
                    "blkio.bfq.weight_device"
                } else {
                    "blkio.weight_device"
                };
                let path = d.file(file, &format!("{field}.weight"), NO_WEIGHTS)?;
                write_field(
                    &format!("{field}.weight"),
                    &path,
                    &format!("{}:{} {w}", wd.major(), wd.minor()),
                )
                .map_err(|e| {
                    Error::msg(format!(
                        "{e} ({})",
                        super::resources::weight_device_cause(wd.major(), wd.minor())
                    ))
                })?;
            }
            if let Some(w) = wd.leaf_weight() {
                d.set(
                    &format!("{field}.leafWeight"),
                    "blkio.leaf_weight_device",
                    &format!("{}:{} {w}", wd.major(), wd.minor()),
                    "leaf weights were removed from the kernel",
                )?;
            }
        }
        for (name, file, list) in [
            (
                "throttleReadBpsDevice",
                "blkio.throttle.read_bps_device",
                b.throttle_read_bps_device(),
            ),
            (
                "throttleWriteBpsDevice",
                "blkio.throttle.write_bps_device",
                b.throttle_write_bps_device(),
            ),
            (
                "throttleReadIOPSDevice",
                "blkio.throttle.read_iops_device",
                b.throttle_read_iops_device(),
            ),
            (
                "throttleWriteIOPSDevice",
                "blkio.throttle.write_iops_device",
                b.throttle_write_iops_device(),
            ),
        ] {
            for (i, t) in list.iter().flatten().enumerate() {
                let dir = self.require("blkio", &f(name))?;
                Dir { path: &dir }.set(
                    &f(&format!("{name}[{i}]")),
                    file,
                    &format!("{}:{} {}", t.major(), t.minor(), t.rate()),
                    "the kernel has no blkio throttling",
                )?;
            }
        }
        Ok(())
    }

    fn apply_hugetlb(&self, limits: &[LinuxHugepageLimit]) -> Result<()> {
        for (i, h) in limits.iter().enumerate() {
            super::resources::check_page_size(
                &format!("linux.resources.hugepageLimits[{i}].pageSize"),
                h.page_size(),
            )?;
        }
        if let Some(dir) = self.dir("hugetlb") {
            return super::resources::write_hugetlb(&dir, limits, "limit_in_bytes");
        }
        // Hybrid hosts may have hugetlb in the cgroup2 mount only.
        let Some(h) = self.hierarchies.iter().find(|h| h.is_v2) else {
            return Err(Error::msg(
                "linux.resources.hugepageLimits: the hugetlb cgroup controller is not mounted on this host",
            ));
        };
        let offered =
            std::fs::read_to_string(h.mount_point.join("cgroup.controllers")).unwrap_or_default();
        if !offered.split_whitespace().any(|c| c == "hugetlb") {
            return Err(Error::msg(
                "linux.resources.hugepageLimits: the hugetlb cgroup controller is neither a v1 hierarchy nor in the cgroup2 mount on this host",
            ));
        }
        let dir = self.dir_in(h);
        let root_enabled = std::fs::read_to_string(h.mount_point.join("cgroup.subtree_control"))
            .unwrap_or_default();
        if !root_enabled.split_whitespace().any(|c| c == "hugetlb") {
            return Err(Error::msg(format!(
                "linux.resources.hugepageLimits: hugetlb is in the cgroup2 mount {} but the host does not enable it for child cgroups (its cgroup.subtree_control lacks hugetlb); hull does not reconfigure the host's root cgroup",
                h.mount_point.display()
            )));
        }
        super::v2::enable_down(&h.mount_point, &dir, &["hugetlb"])?;
        super::v2::write_hugetlb(&dir, limits)
    }

    fn apply_network(&self, n: &LinuxNetwork) -> Result<()> {
        if let Some(id) = n.class_id() {
            let dir = self.require("net_cls", "linux.resources.network.classID")?;
            Dir { path: &dir }.set(
                "linux.resources.network.classID",
                "net_cls.classid",
                &id.to_string(),
                "",
            )?;
        }
        for (i, p) in n.priorities().iter().flatten().enumerate() {
            let field = format!("linux.resources.network.priorities[{i}]");
            let dir = self.require("net_prio", &field)?;
            Dir { path: &dir }.set(
                &field,
                "net_prio.ifpriomap",
                &format!("{} {}", p.name(), p.priority()),
                "",
            )?;
        }
        Ok(())
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
            let dir = self.dir_in(h);
            std::fs::create_dir_all(&dir).ctx(|| format!("create cgroup {}", dir.display()))?;
            if h.has("cpuset") {
                init_cpuset(&dir)?;
            }
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        if let Some(m) = r.memory() {
            self.apply_memory(m)?;
        }
        if let Some(c) = r.cpu() {
            self.apply_cpu(c)?;
        }
        if let Some(pids) = r.pids() {
            let dir = self.require("pids", "linux.resources.pids.limit")?;
            write_field(
                "linux.resources.pids.limit",
                &dir.join("pids.max"),
                &pids_value(pids.limit()),
            )?;
        }
        if let Some(b) = r.block_io() {
            self.apply_blkio(b)?;
        }
        if let Some(h) = r.hugepage_limits().as_deref().filter(|h| !h.is_empty()) {
            self.apply_hugetlb(h)?;
        }
        if let Some(n) = r.network() {
            self.apply_network(n)?;
        }
        if let Some(rdma) = r.rdma().as_ref().filter(|m| !m.is_empty()) {
            let dir = self.require("rdma", "linux.resources.rdma")?;
            super::write_rdma(&dir, rdma)?;
        }
        if let Some(u) = r.unified().as_ref().filter(|m| !m.is_empty()) {
            // Hybrid hosts: keys for files of the cgroup2 mount go there.
            let dir = self
                .hierarchies
                .iter()
                .find(|h| h.is_v2)
                .map(|h| self.dir_in(h));
            let mut keys: Vec<&String> = u.keys().collect();
            keys.sort();
            for k in keys {
                let Some(dir) = &dir else {
                    return Err(Error::msg(format!(
                        "linux.resources.unified[{k:?}]: this host uses cgroup v1 and mounts no cgroup2 hierarchy"
                    )));
                };
                let file = super::resources::check_unified_key(dir, k).map_err(|e| {
                    e.wrap("(this host uses cgroup v1; only files of its cgroup2 mount can be set)")
                })?;
                write_field(&format!("linux.resources.unified[{k:?}]"), &file, &u[k])?;
            }
        }
        Ok(())
    }

    fn apply_devices(&self, rules: &[super::devices::Rule]) -> Result<()> {
        let dir = self.require("devices", "linux.resources.devices")?;
        super::devices::apply_v1(&dir, rules)
    }

    fn stats(&self) -> Result<serde_json::Value> {
        let unified = self
            .hierarchies
            .iter()
            .find(|h| h.is_v2)
            .map(|h| self.dir_in(h));
        Ok(super::stats::v1(&|c| self.dir(c), unified.as_deref()))
    }

    fn oom_kills(&self) -> u64 {
        self.dir("memory")
            .map(|d| {
                let m = super::stats::keyed(&d, "memory.oom_control");
                m.get("oom_kill").copied().unwrap_or(0)
            })
            .unwrap_or(0)
    }

    fn clone_target(&self) -> Option<std::os::fd::OwnedFd> {
        let h = self.hierarchies.iter().find(|h| h.is_v2)?;
        super::open_cgroup_dir(&self.dir_in(h))
    }

    fn v1_only(&self) -> bool {
        !self.hierarchies.iter().any(|h| h.is_v2)
    }

    fn join_self_v1(&self) -> Result<()> {
        for h in self.hierarchies.iter().filter(|h| !h.is_v2) {
            write_file(&self.dir_in(h), "tasks", "0")?;
        }
        Ok(())
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        for h in &self.hierarchies {
            write_file(&self.dir_in(h), "cgroup.procs", &pid.to_string())?;
        }
        Ok(())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        let dir = self
            .dir("pids")
            .or_else(|| self.dir("memory"))
            .or_else(|| self.hierarchies.first().map(|h| self.dir_in(h)));
        match dir {
            Some(d) if d.exists() => read_pids_recursive(&d),
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
            if let Err(e) = rmdir_tree(&self.dir_in(h)) {
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

    fn is_frozen(&self) -> bool {
        self.dir("freezer")
            .and_then(|d| std::fs::read_to_string(d.join("freezer.state")).ok())
            .is_some_and(|s| s.trim() != "THAWED")
    }

    fn exists(&self) -> bool {
        self.hierarchies.iter().any(|h| self.dir_in(h).exists())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hierarchy(controllers: &[&str], is_v2: bool) -> Hierarchy {
        Hierarchy {
            mount_point: PathBuf::from("/sys/fs/cgroup/x"),
            root: "/".into(),
            controllers: controllers.iter().map(|c| c.to_string()).collect(),
            is_v2,
        }
    }

    const PROC_CGROUP: &str = "9:name=systemd:/user/1000\n\
        4:cpuacct,cpu:/a/b\n\
        3:cpuset:/\n\
        1:memory:/m\n\
        0::/unified\n";

    #[test]
    fn path_in_matches_the_set_of_controllers() {
        let cpu = hierarchy(&["cpu", "cpuacct"], false);
        assert_eq!(cpu.path_in(PROC_CGROUP).as_deref(), Some("/a/b"));
        let named = hierarchy(&["name=systemd"], false);
        assert_eq!(named.path_in(PROC_CGROUP).as_deref(), Some("/user/1000"));
        let v2 = hierarchy(&[], true);
        assert_eq!(v2.path_in(PROC_CGROUP).as_deref(), Some("/unified"));
        // "cpu" alone is not the "cpu,cpuacct" hierarchy.
        assert_eq!(hierarchy(&["cpu"], false).path_in(PROC_CGROUP), None);
        assert_eq!(hierarchy(&["pids"], false).path_in(PROC_CGROUP), None);
    }
}
