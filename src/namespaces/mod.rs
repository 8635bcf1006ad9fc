//! Namespaces: kinds and clone flags, creating them (`clone.rs`: clone3), joining by path, user namespace id
//! maps (written by the parent), time namespace offsets and moving network
//! devices into the container's network namespace.

pub mod clone;
mod netdev;

pub use netdev::{loopback_up, move_net_devices};

use crate::error::{Context, Error, Result};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespace, LinuxNamespaceType};
use std::collections::HashMap;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

pub fn clone_flag(t: LinuxNamespaceType) -> CloneFlags {
    match t {
        LinuxNamespaceType::Mount => CloneFlags::CLONE_NEWNS,
        LinuxNamespaceType::Cgroup => CloneFlags::CLONE_NEWCGROUP,
        LinuxNamespaceType::Uts => CloneFlags::CLONE_NEWUTS,
        LinuxNamespaceType::Ipc => CloneFlags::CLONE_NEWIPC,
        LinuxNamespaceType::User => CloneFlags::CLONE_NEWUSER,
        LinuxNamespaceType::Pid => CloneFlags::CLONE_NEWPID,
        LinuxNamespaceType::Network => CloneFlags::CLONE_NEWNET,
        LinuxNamespaceType::Time => CloneFlags::from_bits_retain(libc::CLONE_NEWTIME),
    }
}

/// The namespace plan of a container: which are new and which are joined.
#[derive(Clone)]
pub struct Plan {
    /// Namespaces to create (as clone flags).
    pub new: CloneFlags,
    /// Namespaces to join, in the order to join them (user first).
    pub join: Vec<Join>,
}

/// A namespace joined by path.
#[derive(Clone)]
pub struct Join {
    pub typ: LinuxNamespaceType,
    pub path: PathBuf,
    /// Its index in linux.namespaces, for error messages.
    pub index: usize,
}

/// The config.json word for a namespace type ("network", not "net").
pub fn type_word(t: LinuxNamespaceType) -> String {
    serde_json::to_value(t)
        .ok()
        .and_then(|v| v.as_str().map(String::from))
        .unwrap_or_else(|| t.to_string())
}

impl Plan {
    pub fn from_spec(namespaces: &[LinuxNamespace]) -> Plan {
        let mut plan = Plan {
            new: CloneFlags::empty(),
            join: Vec::new(),
        };
        for (index, ns) in namespaces.iter().enumerate() {
            match ns.path() {
                Some(p) => plan.join.push(Join {
                    typ: ns.typ(),
                    path: p.clone(),
                    index,
                }),
                None => plan.new |= clone_flag(ns.typ()),
            }
        }
        // Joining the user namespace first gives the rights to join the rest;
        // the mount namespace last keeps the other paths resolvable.
        plan.join.sort_by_key(|j| match j.typ {
            LinuxNamespaceType::User => 0,
            LinuxNamespaceType::Mount => 2,
            _ => 1,
        });
        plan
    }

    pub fn creates(&self, t: LinuxNamespaceType) -> bool {
        self.new.contains(clone_flag(t))
    }

    pub fn joins(&self, t: LinuxNamespaceType) -> bool {
        self.join.iter().any(|j| j.typ == t)
    }
}

/// Opens every namespace file to join, up front (before any setns changes
/// what the paths mean).
pub fn open_join_fds(plan: &Plan) -> Result<Vec<(LinuxNamespaceType, OwnedFd)>> {
    plan.join
        .iter()
        .map(|j| {
            let fd = nix::fcntl::open(
                j.path.as_path(),
                nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ctx(|| {
                format!(
                    "/linux/namespaces/{}/path: open {} namespace {}",
                    j.index,
                    type_word(j.typ),
                    j.path.display()
                )
            })?;
            Ok((j.typ, fd))
        })
        .collect()
}

/// Joins the namespaces of `plan.join` through their descriptors (from
/// open_join_fds, in the same order).
pub fn join(plan: &Plan, fds: &[(LinuxNamespaceType, OwnedFd)]) -> Result<()> {
    let joins_user = plan.joins(LinuxNamespaceType::User);
    for (j, (t, fd)) in plan.join.iter().zip(fds) {
        // The kernel refuses to re-enter the caller's own user namespace
        // (EINVAL); "joining" it is a no-op.
        if *t == LinuxNamespaceType::User && is_own_user_ns(fd)? {
            continue;
        }
        if let Err(errno) = nix::sched::setns(fd.as_fd(), clone_flag(*t)) {
            // After joining a user namespace, only the namespaces it owns
            // can be joined (setns needs CAP_SYS_ADMIN over their owner).
            let hint = if errno == nix::errno::Errno::EPERM
                && joins_user
                && *t != LinuxNamespaceType::User
            {
                " (hint: a namespace joined along with a user namespace must belong to that user namespace)"
            } else {
                ""
            };
            return Err(Error::msg(format!(
                "/linux/namespaces/{}/path: join the {} namespace {}: setns: {errno}{hint}",
                j.index,
                type_word(*t),
                j.path.display()
            )));
        }
    }
    Ok(())
}

fn is_own_user_ns(fd: &OwnedFd) -> Result<bool> {
    let theirs = nix::sys::stat::fstat(fd).ctx(|| "stat user namespace file".into())?;
    let ours =
        nix::sys::stat::stat("/proc/self/ns/user").ctx(|| "stat /proc/self/ns/user".into())?;
    Ok(theirs.st_ino == ours.st_ino && theirs.st_dev == ours.st_dev)
}

fn format_map(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

/// Writes uid_map/gid_map of a process in a new user namespace. The parent
/// writes them: a process cannot map ids for itself beyond its own. Root
/// writes the files directly; an unprivileged caller may write only a
/// single mapping of its own id (and must deny setgroups first for gid_map),
/// anything wider goes through the setuid helpers newuidmap/newgidmap, which
/// check /etc/subuid and /etc/subgid.
pub fn write_id_maps(pid: i32, uid: &[LinuxIdMapping], gid: &[LinuxIdMapping]) -> Result<()> {
    let privileged = caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SETUID)
        .unwrap_or(false)
        && caps::has_cap(None, caps::CapSet::Effective, caps::Capability::CAP_SETGID)
            .unwrap_or(false);
    let proc = crate::procfs::Procfs::open()?;
    let write = |file: &str, text: &str, field: &str| {
        proc.write_file(&format!("{pid}/{file}"), text.as_bytes())
            .map_err(|e| e.wrap(field))
    };
    if privileged {
        write("uid_map", &format_map(uid), "linux.uidMappings")?;
        write("gid_map", &format_map(gid), "linux.gidMappings")?;
        return Ok(());
    }
    let euid = nix::unistd::geteuid().as_raw();
    let egid = nix::unistd::getegid().as_raw();
    if is_own_id(uid, euid) {
        write("uid_map", &format_map(uid), "linux.uidMappings")?;
    } else {
        run_map_helper("newuidmap", "linux.uidMappings", "/etc/subuid", pid, uid)?;
    }
    if is_own_id(gid, egid) {
        write("setgroups", "deny", "linux.gidMappings")?;
        write("gid_map", &format_map(gid), "linux.gidMappings")?;
    } else {
        run_map_helper("newgidmap", "linux.gidMappings", "/etc/subgid", pid, gid)?;
    }
    Ok(())
}

/// True inside a user namespace other than the host's (where uid_map is not
/// the identity map of the whole range).
pub fn in_child_user_namespace() -> bool {
    match std::fs::read_to_string("/proc/self/uid_map") {
        Ok(map) => map.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"],
        Err(_) => false,
    }
}

/// A mapping an unprivileged process may write itself: its own id, once.
fn is_own_id(maps: &[LinuxIdMapping], own: u32) -> bool {
    matches!(maps, [m] if m.host_id() == own && m.size() == 1)
}

fn run_map_helper(
    helper: &str,
    field: &str,
    ranges_file: &str,
    pid: i32,
    maps: &[LinuxIdMapping],
) -> Result<()> {
    let mut args = vec![pid.to_string()];
    for m in maps {
        args.extend([m.container_id(), m.host_id(), m.size()].map(|n| n.to_string()));
    }
    let out = std::process::Command::new(helper)
        .args(&args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| {
            Error::msg(format!(
                "{field}: mapping more than the caller's own id needs {helper} \
                 (Debian package uidmap): run {helper}: {e}"
            ))
        })?;
    if !out.status.success() {
        return Err(Error::msg(format!(
            "{field}: {helper} {} failed ({}): {} (the ranges must be granted to this user \
             in {ranges_file})",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(())
}

/// Writes the time namespace offsets for the calling process's new
/// (not yet entered) time namespace.
pub fn write_time_offsets(
    offsets: &HashMap<String, oci_spec::runtime::LinuxTimeOffset>,
) -> Result<()> {
    let mut text = String::new();
    for (clock, off) in offsets {
        text.push_str(&format!(
            "{clock} {} {}\n",
            off.secs().unwrap_or(0),
            off.nanosecs().unwrap_or(0)
        ));
    }
    if text.is_empty() {
        return Ok(());
    }
    crate::procfs::Procfs::open()
        .and_then(|proc| proc.write_process_self("timens_offsets", text.as_bytes()))
        .map_err(|e| e.wrap("linux.timeOffsets"))
}

/// The inode of a namespace of a process, for tests and checks.
pub fn ns_inode(pid: &str, kind: &str) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    let p = Path::new("/proc").join(pid).join("ns").join(kind);
    Ok(std::fs::metadata(&p)
        .ctx(|| format!("stat {}", p.display()))?
        .ino())
}

pub fn unknown(t: &str) -> Error {
    Error::msg(format!("unknown namespace type {t:?}"))
}
