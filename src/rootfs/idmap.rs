//! Idmapped bind mounts: `mounts[].uidMappings` / `gidMappings` and the
//! "idmap" / "ridmap" options of config.md.
//!
//! Setting `MOUNT_ATTR_IDMAP` needs CAP_SYS_ADMIN in the user namespace that
//! owns the source's filesystem (the host's, for host directories), which a
//! container init in its own user namespace lacks. So the parent, root on
//! the host, makes each idmapped mount before it clones the init:
//! `open_tree(OPEN_TREE_CLONE [| AT_RECURSIVE])` detaches a copy of the
//! source, `mount_setattr(MOUNT_ATTR_IDMAP)` gives it the mapping of a user
//! namespace made for that mapping only, and the init, which inherits the
//! detached tree's descriptor, attaches it with `move_mount` onto the
//! destination resolved inside the rootfs. Nothing here runs unless a mount
//! asks for an idmapping.
//!
//! The mapping's user namespace is a child cloned with CLONE_NEWUSER that
//! only blocks on a pipe: the parent writes its uid_map and gid_map, opens
//! /proc/PID/ns/user, closes the pipe and reaps it. Identical mappings share
//! one namespace. The detached mount keeps the namespace alive by itself.

use crate::error::{Context, Error, Result};
use crate::mount_options as options;
use crate::namespaces::Plan;
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxIdMapping, LinuxNamespaceType, Mount, Spec};
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};

const OPEN_TREE_CLONE: libc::c_uint = 1;
const AT_RECURSIVE: libc::c_uint = 0x8000;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 0x4;
const MOVE_MOUNT_T_EMPTY_PATH: libc::c_uint = 0x40;
pub const MOUNT_ATTR_IDMAP: u64 = 0x0010_0000;

fn has(m: &Option<Vec<LinuxIdMapping>>) -> bool {
    m.as_ref().is_some_and(|v| !v.is_empty())
}

/// True when this mount asks for an idmapping (an option or a mapping).
pub fn requested(m: &Mount) -> bool {
    has(m.uid_mappings())
        || has(m.gid_mappings())
        || options::parse(m.options().as_deref().unwrap_or(&[])).idmap
}

/// Where the mapping of one mount comes from.
#[derive(PartialEq)]
enum Source {
    /// The map text (uid_map, gid_map) of a namespace made for it.
    Maps(String, String),
    /// The user namespace the container joins (its path).
    Joined(PathBuf),
}

fn map_text(maps: &[LinuxIdMapping]) -> String {
    maps.iter()
        .map(|m| format!("{} {} {}\n", m.container_id(), m.host_id(), m.size()))
        .collect()
}

fn mapping_of(i: usize, m: &Mount, spec: &Spec, plan: &Plan) -> Result<Source> {
    let field = |f: &str| format!("/mounts/{i}/{f}");
    match (has(m.uid_mappings()), has(m.gid_mappings())) {
        (true, true) => {
            return Ok(Source::Maps(
                map_text(m.uid_mappings().as_deref().unwrap_or(&[])),
                map_text(m.gid_mappings().as_deref().unwrap_or(&[])),
            ));
        }
        (true, false) => {
            return Err(Error::msg(format!(
                "{}: missing or empty: uidMappings must come with gidMappings",
                field("gidMappings")
            )));
        }
        (false, true) => {
            return Err(Error::msg(format!(
                "{}: missing or empty: gidMappings must come with uidMappings",
                field("uidMappings")
            )));
        }
        (false, false) => {}
    }
    // "idmap" without mappings: the container's user namespace mapping.
    let linux = spec.linux().as_ref();
    if plan.creates(LinuxNamespaceType::User) {
        let l = linux.expect("a user namespace implies linux");
        return Ok(Source::Maps(
            map_text(l.uid_mappings().as_deref().unwrap_or(&[])),
            map_text(l.gid_mappings().as_deref().unwrap_or(&[])),
        ));
    }
    if let Some(j) = plan.join.iter().find(|j| j.typ == LinuxNamespaceType::User) {
        return Ok(Source::Joined(j.path.clone()));
    }
    Err(Error::msg(format!(
        "{}: \"idmap\"/\"ridmap\" without uidMappings and gidMappings needs a container user namespace (hint: add the mount's own uidMappings and gidMappings)",
        field("options")
    )))
}

/// A detached, idmapped copy of one bind mount's source, for the init.
pub struct Prepared {
    /// Index in `mounts`.
    pub index: usize,
    pub tree: OwnedFd,
}

/// Makes every idmapped mount the spec asks for (none: no work at all).
/// Runs in the parent, before the clone.
pub fn prepare(spec: &Spec, bundle: &Path, plan: &Plan) -> Result<Vec<Prepared>> {
    let mounts = spec.mounts().as_deref().unwrap_or(&[]);
    let mut out = Vec::new();
    // One user namespace per distinct mapping.
    let mut userns: Vec<(Source, OwnedFd)> = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        if !requested(m) {
            continue;
        }
        let opts = options::parse(m.options().as_deref().unwrap_or(&[]));
        if !(opts.is_bind() || m.typ().as_deref() == Some("bind")) {
            let f = if has(m.uid_mappings()) {
                "uidMappings"
            } else if has(m.gid_mappings()) {
                "gidMappings"
            } else {
                "options"
            };
            return Err(Error::msg(format!(
                "/mounts/{i}/{f}: idmapped mounts are only supported for bind mounts (type {:?})",
                m.typ().as_deref().unwrap_or("")
            )));
        }
        let source = mapping_of(i, m, spec, plan)?;
        let ns = match userns.iter().position(|(s, _)| *s == source) {
            Some(n) => n,
            None => {
                let fd = match &source {
                    Source::Maps(uid, gid) => new_userns(i, uid, gid)?,
                    Source::Joined(p) => joined_userns(i, p)?,
                };
                userns.push((source, fd));
                userns.len() - 1
            }
        };
        let src = m.source().clone().unwrap_or_default();
        let src = if src.is_absolute() {
            src
        } else {
            bundle.join(src)
        };
        let tree = idmapped_tree(
            &src,
            opts.flags.contains(nix::mount::MsFlags::MS_REC),
            opts.ridmap,
            userns[ns].1.as_raw_fd(),
        )
        .map_err(|e| e.wrap(format!("/mounts/{i} ({})", m.destination().display())))?;
        crate::logging::debug(format!(
            "mount /mounts/{i}: idmapped {}{} prepared for {}",
            src.display(),
            if opts.ridmap { " (recursively)" } else { "" },
            m.destination().display()
        ));
        out.push(Prepared { index: i, tree });
    }
    Ok(out)
}

/// The user namespace the container joins, for "idmap" without mappings;
/// the host's own cannot carry an idmapping.
fn joined_userns(i: usize, p: &Path) -> Result<OwnedFd> {
    let fd = nix::fcntl::open(
        p,
        nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("/mounts/{i}: open user namespace {}", p.display()))?;
    let st = nix::sys::stat::fstat(&fd).ctx(|| format!("stat {}", p.display()))?;
    let host =
        nix::sys::stat::stat("/proc/self/ns/user").ctx(|| "stat /proc/self/ns/user".into())?;
    if (st.st_dev, st.st_ino) == (host.st_dev, host.st_ino) {
        return Err(Error::msg(format!(
            "/mounts/{i}/options: \"idmap\" without mappings uses the container's user namespace, but {} is the host's, which cannot idmap a mount (hint: give the mount its own uidMappings and gidMappings)",
            p.display()
        )));
    }
    Ok(fd)
}

/// A user namespace holding the given maps, made by a child that waits on a
/// pipe while its maps are written and its namespace is opened.
fn new_userns(i: usize, uid_map: &str, gid_map: &str) -> Result<OwnedFd> {
    let (rd, wr) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).ctx(|| "pipe".into())?;
    let (rd_raw, wr_raw) = (rd.as_raw_fd(), wr.as_raw_fd());
    let pid = crate::namespaces::clone::clone_into(CloneFlags::CLONE_NEWUSER, None, || {
        // SAFETY: this child only closes its copy of the write end, blocks
        // until the parent closes its own (or dies), and exits; it never
        // returns, so the parent's OwnedFds are never dropped here.
        unsafe {
            libc::close(wr_raw);
            let mut b = 0u8;
            libc::read(rd_raw, &mut b as *mut u8 as *mut libc::c_void, 1);
            libc::_exit(0)
        }
    })
    .map_err(|e| e.wrap(format!("/mounts/{i}: user namespace for the mapping")))?;
    drop(rd);
    let res = (|| -> Result<OwnedFd> {
        let proc = crate::procfs::Procfs::open()?;
        for (file, map, field) in [("uid_map", uid_map, "uid"), ("gid_map", gid_map, "gid")] {
            proc.write_file(&format!("{pid}/{file}"), map.as_bytes())
                .map_err(|e| {
                    let e = match e {
                        Error::Sys { errno, .. } => errno.to_string(),
                        e => e.to_string(),
                    };
                    Error::msg(format!(
                        "/mounts/{i}/{field}Mappings: the kernel refused the mapping {:?}: {e}",
                        map.trim_end().replace('\n', ", "),
                    ))
                })?;
        }
        nix::fcntl::open(
            format!("/proc/{pid}/ns/user").as_str(),
            nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| format!("open /proc/{pid}/ns/user"))
    })();
    drop(wr);
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
    res
}

/// For a container with a user namespace: detached copies of the bind
/// sources (not already in `done`) whose path crosses a directory others
/// may not search (a 0700 directory of the host's root): the container's
/// root could not reach them, so they are cloned here, root on the host,
/// and the init attaches them. Runs in the parent, before the clone.
pub fn clone_unreachable_sources(
    spec: &Spec,
    bundle: &Path,
    done: &[Prepared],
) -> Result<Vec<Prepared>> {
    use std::os::unix::fs::PermissionsExt;
    let mut out = Vec::new();
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        let opts = options::parse(m.options().as_deref().unwrap_or(&[]));
        if !(opts.is_bind() || m.typ().as_deref() == Some("bind"))
            || done.iter().any(|p| p.index == i)
        {
            continue;
        }
        let src = m.source().clone().unwrap_or_default();
        let src = if src.is_absolute() {
            src
        } else {
            bundle.join(src)
        };
        let closed = src
            .ancestors()
            .skip(1)
            .any(|d| std::fs::metadata(d).is_ok_and(|md| md.permissions().mode() & 0o001 == 0));
        if !closed {
            continue;
        }
        crate::logging::debug(format!(
            "mount /mounts/{i}: {} is behind a directory others may not search: cloned as host root",
            src.display()
        ));
        let tree = clone_tree(&src, opts.flags.contains(nix::mount::MsFlags::MS_REC))
            .map_err(|e| e.wrap(format!("/mounts/{i}")))?;
        out.push(Prepared { index: i, tree });
    }
    Ok(out)
}

/// Detaches a copy of `src` (with its submounts when `recursive`), to be
/// attached with [`attach`]: whoever attaches it needs no access to the
/// path of `src`.
pub fn clone_tree(src: &Path, recursive: bool) -> Result<OwnedFd> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(src.as_os_str().as_bytes()).map_err(|_| {
        Error::msg(format!(
            "bind source {}: contains a NUL byte",
            src.display()
        ))
    })?;
    let mut flags = OPEN_TREE_CLONE | libc::O_CLOEXEC as libc::c_uint;
    if recursive {
        flags |= AT_RECURSIVE;
    }
    // SAFETY: a NUL-terminated path; the result is a new descriptor or -1.
    let fd = unsafe { libc::syscall(libc::SYS_open_tree, libc::AT_FDCWD, c.as_ptr(), flags) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| format!("bind source {}: open_tree", src.display()));
    }
    // SAFETY: open_tree just returned this descriptor; nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd as i32) })
}

/// Detaches a copy of `src` (with its submounts when `recursive`) and
/// idmaps it (its submounts too when `ridmap`).
fn idmapped_tree(src: &Path, recursive: bool, ridmap: bool, userns: i32) -> Result<OwnedFd> {
    let tree = clone_tree(src, recursive)?;
    let attr = super::MountAttr {
        attr_set: MOUNT_ATTR_IDMAP,
        attr_clr: 0,
        propagation: 0,
        userns_fd: userns as u64,
    };
    let at = libc::AT_EMPTY_PATH as libc::c_uint | if ridmap { AT_RECURSIVE } else { 0 };
    // SAFETY: attr and the empty path outlive the call; the size matches.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            tree.as_raw_fd(),
            c"".as_ptr(),
            at,
            &attr as *const super::MountAttr,
            std::mem::size_of::<super::MountAttr>(),
        )
    };
    if r < 0 {
        let errno = nix::errno::Errno::last();
        let why = match errno {
            nix::errno::Errno::EINVAL => format!(
                "the filesystem of the source ({}) does not support idmapped mounts",
                fs_name(src)
            ),
            nix::errno::Errno::EPERM => "not permitted: idmapping needs CAP_SYS_ADMIN over the source's filesystem (root on the host; rootless containers cannot use idmapped mounts)".into(),
            nix::errno::Errno::ENOSYS => "the kernel has no mount_setattr (Linux 5.12 or later is needed)".into(),
            _ => "mount_setattr(MOUNT_ATTR_IDMAP) failed".into(),
        };
        return Err(Error::msg(format!(
            "idmap bind source {}: {why}: {errno}",
            src.display()
        )));
    }
    Ok(tree)
}

/// The name of the filesystem `p` is on, for messages.
fn fs_name(p: &Path) -> String {
    use nix::sys::statfs::*;
    let Ok(st) = statfs(p) else {
        return "unknown".into();
    };
    let t = st.filesystem_type();
    let known = [
        (TMPFS_MAGIC, "tmpfs"),
        (EXT4_SUPER_MAGIC, "ext4"),
        (XFS_SUPER_MAGIC, "xfs"),
        (BTRFS_SUPER_MAGIC, "btrfs"),
        (OVERLAYFS_SUPER_MAGIC, "overlay"),
        (PROC_SUPER_MAGIC, "proc"),
        (SYSFS_MAGIC, "sysfs"),
        (NFS_SUPER_MAGIC, "nfs"),
        (CGROUP_SUPER_MAGIC, "cgroup"),
        (CGROUP2_SUPER_MAGIC, "cgroup2"),
        (DEVPTS_SUPER_MAGIC, "devpts"),
        (FUSE_SUPER_MAGIC, "fuse"),
    ];
    known
        .iter()
        .find(|(m, _)| *m == t)
        .map(|(_, n)| (*n).to_string())
        .unwrap_or_else(|| format!("filesystem magic {:#x}", t.0))
}

/// Attaches a prepared tree onto `target` (an O_PATH handle resolved inside
/// the rootfs). Runs in the init.
pub fn attach(tree: BorrowedFd, target: BorrowedFd) -> std::result::Result<(), nix::errno::Errno> {
    // SAFETY: both descriptors are open; the empty paths are NUL-terminated.
    let r = unsafe {
        libc::syscall(
            libc::SYS_move_mount,
            tree.as_raw_fd(),
            c"".as_ptr(),
            target.as_raw_fd(),
            c"".as_ptr(),
            MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH,
        )
    };
    if r < 0 {
        Err(nix::errno::Errno::last())
    } else {
        Ok(())
    }
}
