//! Cgroups: one `Manager` interface, with v1 (including hybrid hosts) and
//! v2 implementations chosen by probing `/sys/fs/cgroup`.

pub mod devices;
pub mod resctrl;
pub mod resources;
mod stats;
pub mod systemd;
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
    /// Moves a process into the cgroup (from outside: a `cgroup.procs`
    /// write, which costs an RCU grace period, several ms, for the kernel's
    /// global threadgroup lock). The fast way is `clone_target` plus
    /// `join_self_v1`.
    fn add_process(&self, pid: i32) -> Result<()>;
    /// The cgroup2 directory (pure v2, or the hybrid unified mount) as a
    /// descriptor for clone3(CLONE_INTO_CGROUP): the child starts there and
    /// no migration happens.
    fn clone_target(&self) -> Option<std::os::fd::OwnedFd> {
        None
    }
    /// Moves the calling single-threaded process into every v1 hierarchy
    /// by writing "0" to `tasks`: moving one's own thread skips the global
    /// lock that `cgroup.procs` takes.
    fn join_self_v1(&self) -> Result<()> {
        Ok(())
    }
    /// True when the cgroup lives in v1 hierarchies only (no cgroup2 part
    /// to clone into): `join_self_v1` then places a process completely.
    fn v1_only(&self) -> bool {
        false
    }
    /// Pids of every process in the cgroup.
    fn pids(&self) -> Result<Vec<i32>>;
    /// Kills everything inside, waits for it to empty, and removes the cgroup.
    fn destroy(&self) -> Result<()>;
    /// True when the cgroup directory exists.
    fn exists(&self) -> bool;
    /// Freezes or thaws every process in the cgroup, waiting until done.
    fn set_frozen(&self, frozen: bool) -> Result<()>;
    /// True when the cgroup is frozen or freezing (a process placed there
    /// would stop at once).
    fn is_frozen(&self) -> bool {
        false
    }
    /// Installs the device rules (config rules followed by the defaults).
    fn apply_devices(&self, rules: &[devices::Rule]) -> Result<()>;
    /// Usage statistics, shaped like the `data` of runc's `events --stats`.
    fn stats(&self) -> Result<serde_json::Value>;
    /// How many processes the OOM killer has killed in the cgroup so far.
    fn oom_kills(&self) -> u64;
    /// True for the stand-in used when the container runs without a cgroup.
    fn is_skipped(&self) -> bool {
        false
    }
    /// The cgroup path the container was placed in, when it is known only
    /// after placement (systemd decides where a scope goes).
    fn placed_path(&self) -> Option<String> {
        None
    }
}

/// Stands in when cgroup setup was skipped (no permission, no resources).
pub struct Skipped;

impl Manager for Skipped {
    fn is_skipped(&self) -> bool {
        true
    }
    fn create(&self) -> Result<()> {
        Ok(())
    }
    fn apply(&self, _: &LinuxResources) -> Result<()> {
        Ok(())
    }
    fn add_process(&self, _: i32) -> Result<()> {
        Ok(())
    }
    fn pids(&self) -> Result<Vec<i32>> {
        Ok(Vec::new())
    }
    fn destroy(&self) -> Result<()> {
        Ok(())
    }
    fn exists(&self) -> bool {
        false
    }
    fn set_frozen(&self, _: bool) -> Result<()> {
        Err(Error::msg(
            "pause and resume need the cgroup freezer, and this container has no cgroup \
             (hull could not create one: no permission, e.g. rootless with no delegated cgroup)",
        ))
    }
    fn apply_devices(&self, _: &[devices::Rule]) -> Result<()> {
        Ok(())
    }
    fn stats(&self) -> Result<serde_json::Value> {
        Ok(serde_json::json!({}))
    }
    fn oom_kills(&self) -> u64 {
        0
    }
}

/// Checks a `cgroupsPath` that already exists before anything is put in
/// it: a frozen cgroup would stop the init before it reports, so it is
/// refused; one that holds processes gets runc's warning (runc 1.1 runs
/// the container anyway; Kubernetes' pod cgroups are never shared).
pub fn check_existing(path: &str) -> Result<()> {
    let m = manager(path);
    if !m.exists() {
        return Ok(());
    }
    if m.is_frozen() {
        return Err(Error::msg(format!(
            "linux.cgroupsPath {path:?}: the container's cgroup is frozen (thaw it first)"
        )));
    }
    let n = m.pids().map(|p| p.len()).unwrap_or(0);
    if n > 0 {
        crate::logging::warn(format!(
            "container's cgroup is not empty: {n} process(es) found"
        ));
    }
    Ok(())
}

/// True for the errors of an unprivileged mkdir in a cgroup tree.
fn is_permission_error(e: &Error) -> bool {
    use nix::errno::Errno;
    matches!(
        e,
        Error::Sys {
            errno: Errno::EACCES | Errno::EPERM | Errno::EROFS,
            ..
        }
    )
}

/// Creates the container's cgroup and applies `linux.resources` and the
/// device rules. Without permission to create cgroups (rootless, no
/// delegation) and with nothing to limit, cgroup setup is skipped.
pub fn setup(path: &str, resources: Option<&LinuxResources>) -> Result<Box<dyn Manager>> {
    setup_with(manager(path), path, resources)
}

/// `setup` with a given manager (the systemd driver's).
pub fn setup_with(
    m: Box<dyn Manager>,
    path: &str,
    resources: Option<&LinuxResources>,
) -> Result<Box<dyn Manager>> {
    if let Err(e) = m.create() {
        if !is_permission_error(&e) {
            return Err(e);
        }
        if resources.is_none_or(resources::is_empty_ignoring_devices) {
            crate::logging::debug(format!(
                "cgroups: no permission to create {path} ({e}) and no resources to apply: running without a cgroup (device rules are not installed)"
            ));
            let _ = m.destroy();
            return Ok(Box::new(Skipped));
        }
        return Err(e.wrap(
            "linux.resources needs a cgroup, and hull may not create one here (run as root or delegate a cgroup to this user)",
        ));
    }
    if let Some(r) = resources {
        m.apply(r)?;
    }
    let rules = devices::effective_rules(
        resources
            .and_then(|r| r.devices().as_deref())
            .unwrap_or_default(),
    )?;
    if nix::unistd::geteuid().is_root() {
        m.apply_devices(&rules)?;
    } else {
        // Device rules (v1 devices.deny, a v2 BPF program) need
        // CAP_SYS_ADMIN on the host. Rootless containers have a user
        // namespace, where mknod is refused and device nodes are bind
        // mounts of the host's, guarded by the host's permissions.
        crate::logging::debug(format!(
            "cgroups: {path}: device rules not installed (they need root on the host; the user namespace already refuses mknod)"
        ));
    }
    Ok(m)
}

/// `rdma` entries onto rdma.max ("mlx5_1 hca_handle=3 hca_object=max").
pub(crate) fn write_rdma(
    dir: &Path,
    rdma: &std::collections::HashMap<String, oci_spec::runtime::LinuxRdma>,
) -> Result<()> {
    let mut names: Vec<&String> = rdma.keys().collect();
    names.sort();
    for name in names {
        let r = &rdma[name];
        let field = format!("linux.resources.rdma[{name:?}]");
        if r.hca_handles().is_none() && r.hca_objects().is_none() {
            return Err(Error::msg(format!(
                "{field}: set hcaHandles, hcaObjects or both"
            )));
        }
        let v = |x: Option<u32>| x.map_or("max".to_string(), |x| x.to_string());
        resources::Dir { path: dir }.set(
            &field,
            "rdma.max",
            &format!(
                "{name} hca_handle={} hca_object={}",
                v(r.hca_handles()),
                v(r.hca_objects())
            ),
            "the rdma controller is not enabled for this cgroup",
        )?;
    }
    Ok(())
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
/// Opens a cgroup directory for CLONE_INTO_CGROUP.
pub(crate) fn open_cgroup_dir(dir: &Path) -> Option<std::os::fd::OwnedFd> {
    use nix::fcntl::OFlag;
    nix::fcntl::open(
        dir,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ok()
}

/// An empty path is a container that runs without a cgroup (rootless
/// without delegation): its state records "" and every operation is a no-op.
pub fn manager(path: &str) -> Box<dyn Manager> {
    if path.is_empty() {
        return Box::new(Skipped);
    }
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
            "linux.cgroupsPath {p:?}: the slice:prefix:name form is the systemd driver's: it needs --systemd-cgroup"
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

/// `exec --cgroup` values: `SUB` for every hierarchy (the only form on
/// cgroup v2), `CTRL[,CTRL]:SUB` for the v1 hierarchies of those
/// controllers. SUB lies below the container's cgroup ("" or "/" is the
/// container's cgroup itself).
#[derive(Debug, Default, PartialEq)]
pub struct ExecSubCgroups {
    pub all: Option<String>,
    pub per_controller: Vec<(Vec<String>, String)>,
}

impl ExecSubCgroups {
    /// Parses and checks the values (pure: nothing on the host is read).
    pub fn parse(values: &[String]) -> Result<ExecSubCgroups> {
        let mut out = ExecSubCgroups::default();
        for v in values {
            let (ctrls, sub) = match v.split_once(':') {
                Some((c, s)) => (Some(c), s),
                None => (None, v.as_str()),
            };
            let sub = sub_cgroup(v, sub)?;
            match ctrls {
                None | Some("") => {
                    if out.all.replace(sub).is_some() {
                        return Err(Error::msg(format!(
                            "--cgroup {v:?}: a sub-cgroup for every controller was given twice"
                        )));
                    }
                }
                Some(c) => {
                    let list: Vec<String> = c.split(',').map(str::to_string).collect();
                    if list.iter().any(|c| c.is_empty()) {
                        return Err(Error::msg(format!("--cgroup {v:?}: empty controller name")));
                    }
                    out.per_controller.push((list, sub));
                }
            }
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_none() && self.per_controller.is_empty()
    }
}

/// A sub-cgroup path, cleaned and relative ("" for the cgroup itself);
/// refused when it climbs out of the container's cgroup.
fn sub_cgroup(value: &str, sub: &str) -> Result<String> {
    let mut parts: Vec<&str> = Vec::new();
    for part in sub.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(Error::msg(format!(
                        "--cgroup {value:?}: {sub} is not a sub cgroup path (it leaves the container's cgroup)"
                    )));
                }
            }
            p => parts.push(p),
        }
    }
    Ok(parts.join("/"))
}

/// The cgroup an exec'd process joins: the container's (`base`), or the
/// sub-cgroups `exec --cgroup` names, which must exist.
pub fn exec_manager(base: &str, subs: &ExecSubCgroups) -> Result<Box<dyn Manager>> {
    if subs.is_empty() {
        return Ok(manager(base));
    }
    if base.is_empty() {
        return Err(Error::msg(
            "--cgroup: the container has no cgroup (hull could not create one)",
        ));
    }
    match host_version() {
        Version::V2 => {
            if !subs.per_controller.is_empty() {
                return Err(Error::msg(
                    "--cgroup: cgroup v2 has a single hierarchy: give the sub-cgroup without a controller",
                ));
            }
            let sub = subs.all.as_deref().unwrap_or("");
            let path = format!("{}/{sub}", base.trim_end_matches('/'));
            let m = V2Manager::new(PathBuf::from(CGROUP_ROOT), &path);
            if !m.exists() {
                return Err(Error::msg(format!(
                    "--cgroup: {CGROUP_ROOT}{} does not exist",
                    path.trim_end_matches('/')
                )));
            }
            Ok(Box::new(m))
        }
        Version::V1 => Ok(Box::new(V1Manager::with_subs(
            base,
            subs.all.as_deref(),
            &subs.per_controller,
        )?)),
    }
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
    for (ctrls, path) in crate::procinfo::cgroup_entries(&text) {
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

/// The sub-cgroups of `dir` (made by `exec --cgroup` users or by the
/// container itself), deepest first.
fn sub_cgroups(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            out.extend(sub_cgroups(&e.path()));
            out.push(e.path());
        }
    }
    out
}

/// Pids in `dir` and every cgroup below it, as runc's ps and kill --all
/// see them; a sub-cgroup removed meanwhile counts as empty.
pub(crate) fn read_pids_recursive(dir: &Path) -> Result<Vec<i32>> {
    let mut pids = read_pids(&dir.join("cgroup.procs"))?;
    for sub in sub_cgroups(dir) {
        pids.extend(read_pids(&sub.join("cgroup.procs")).unwrap_or_default());
    }
    Ok(pids)
}

/// Removes a cgroup and the sub-cgroups below it (a cgroup with children
/// cannot be removed).
pub(crate) fn rmdir_tree(dir: &Path) -> Result<()> {
    for sub in sub_cgroups(dir) {
        rmdir_retry(&sub)?;
    }
    rmdir_retry(dir)
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

/// The pids limit as the kernel wants it: "max" for -1 (unlimited); 0 is
/// a real limit, as the spec asks.
pub(crate) fn pids_value(limit: i64) -> String {
    if limit >= 0 {
        limit.to_string()
    } else {
        "max".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_permission_errors_allow_running_without_a_cgroup() {
        use nix::errno::Errno;
        let sys = |errno| Error::Sys {
            context: "create cgroup".into(),
            errno,
        };
        assert!(is_permission_error(&sys(Errno::EACCES)));
        assert!(is_permission_error(&sys(Errno::EPERM)));
        assert!(is_permission_error(&sys(Errno::EROFS)));
        assert!(!is_permission_error(&sys(Errno::ENOSPC)));
        assert!(!is_permission_error(&Error::msg("x")));
        let none: LinuxResources =
            serde_json::from_str(r#"{"devices":[{"allow":false,"access":"rwm"}]}"#).unwrap();
        assert!(resources::is_empty_ignoring_devices(&none));
        let some: LinuxResources = serde_json::from_str(r#"{"pids":{"limit":5}}"#).unwrap();
        assert!(!resources::is_empty_ignoring_devices(&some));
    }

    #[test]
    fn exec_sub_cgroups_stay_below_the_container() {
        let p = |v: &[&str]| {
            ExecSubCgroups::parse(&v.iter().map(|s| s.to_string()).collect::<Vec<_>>())
        };
        assert_eq!(p(&["a/b"]).unwrap().all.as_deref(), Some("a/b"));
        assert_eq!(p(&["/"]).unwrap().all.as_deref(), Some(""));
        assert_eq!(p(&["a/../b"]).unwrap().all.as_deref(), Some("b"));
        let m = p(&["memory:sub", "cpu,cpuacct:x/y"]).unwrap();
        assert_eq!(m.per_controller[1].0, vec!["cpu", "cpuacct"]);
        assert_eq!(m.per_controller[1].1, "x/y");
        for bad in ["..", "../x", "/a/../../b", "memory:..", ",cpu:x"] {
            assert!(p(&[bad]).is_err(), "{bad} accepted");
        }
        assert!(p(&["a", "b"]).is_err(), "two paths for every controller");
    }

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
