//! Device nodes in the container's /dev: the defaults of config-linux.md,
//! `linux.devices`, and the standard /dev symlinks.

use super::paths::{Kind, ensure, fd_path, open_in_root};
use crate::error::{Context, Error, Result};
use nix::mount::{MsFlags, mount};
use nix::sys::stat::{Mode, SFlag, makedev, mknodat};
use oci_spec::runtime::{LinuxDeviceType, Mount, Spec};
use std::os::fd::BorrowedFd;
use std::path::Path;

struct Node<'a> {
    path: &'a Path,
    kind: SFlag,
    major: u64,
    minor: u64,
    mode: u32,
    uid: u32,
    gid: u32,
}

const DEFAULTS: [(&str, u64, u64); 6] = [
    ("/dev/null", 1, 3),
    ("/dev/zero", 1, 5),
    ("/dev/full", 1, 7),
    ("/dev/random", 1, 8),
    ("/dev/urandom", 1, 9),
    ("/dev/tty", 5, 0),
];

/// True when /dev comes from the host by a bind mount: then hull adds nothing.
pub fn dev_is_bind_mounted(mounts: &[Mount]) -> bool {
    mounts.iter().any(|m| {
        m.destination() == Path::new("/dev")
            && (m.typ().as_deref() == Some("bind")
                || m.options()
                    .iter()
                    .flatten()
                    .any(|o| o == "bind" || o == "rbind"))
    })
}

pub fn create_devices(root: BorrowedFd, spec: &Spec, in_userns: bool) -> Result<()> {
    let configured = spec.linux().as_ref().and_then(|l| l.devices().as_ref());
    for (path, major, minor) in DEFAULTS {
        if configured
            .into_iter()
            .flatten()
            .any(|d| d.path() == Path::new(path))
        {
            continue;
        }
        let node = Node {
            path: Path::new(path),
            kind: SFlag::S_IFCHR,
            major,
            minor,
            mode: 0o666,
            uid: 0,
            gid: 0,
        };
        make_node(root, &node, in_userns).map_err(|e| e.wrap(format!("default device {path}")))?;
    }
    for (i, d) in configured.into_iter().flatten().enumerate() {
        let field = format!("linux.devices[{i}]");
        let kind = match d.typ() {
            LinuxDeviceType::C | LinuxDeviceType::U => SFlag::S_IFCHR,
            LinuxDeviceType::B => SFlag::S_IFBLK,
            LinuxDeviceType::P => SFlag::S_IFIFO,
            LinuxDeviceType::A => {
                return Err(Error::msg(format!(
                    "{field}.type: \"a\" is not a device node type"
                )));
            }
        };
        if !d.path().is_absolute() || !d.path().starts_with("/dev") {
            return Err(Error::msg(format!(
                "{field}.path: {} must be an absolute path under /dev",
                d.path().display()
            )));
        }
        let node = Node {
            path: d.path(),
            kind,
            major: d.major() as u64,
            minor: d.minor() as u64,
            mode: d.file_mode().unwrap_or(0o666) & 0o7777,
            uid: d.uid().unwrap_or(0),
            gid: d.gid().unwrap_or(0),
        };
        make_node(root, &node, in_userns).map_err(|e| e.wrap(field))?;
    }
    Ok(())
}

fn make_node(root: BorrowedFd, n: &Node, in_userns: bool) -> Result<()> {
    let parent = n.path.parent().unwrap_or(Path::new("/"));
    let name = n
        .path
        .file_name()
        .ok_or_else(|| Error::msg("device path has no name"))?;
    ensure(root, parent, Kind::Dir)?;
    let dir = open_in_root(root, parent, libc::O_DIRECTORY | libc::O_RDONLY)
        .ctx(|| format!("open {}", parent.display()))?;
    if in_userns {
        // mknod is not allowed in a user namespace: bind the host's node.
        let target = ensure(root, n.path, Kind::File)?;
        return mount(
            Some(n.path),
            &fd_path(&target),
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .ctx(|| format!("bind host {} into the container", n.path.display()));
    }
    let _ = nix::unistd::unlinkat(&dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
    mknodat(
        &dir,
        name,
        n.kind,
        Mode::from_bits_truncate(n.mode),
        makedev(n.major, n.minor),
    )
    .ctx(|| format!("mknod {} ({}:{})", n.path.display(), n.major, n.minor))?;
    nix::sys::stat::fchmodat(
        &dir,
        name,
        Mode::from_bits_truncate(n.mode),
        nix::sys::stat::FchmodatFlags::FollowSymlink,
    )
    .ctx(|| format!("chmod {}", n.path.display()))?;
    nix::unistd::fchownat(
        &dir,
        name,
        Some(nix::unistd::Uid::from_raw(n.uid)),
        Some(nix::unistd::Gid::from_raw(n.gid)),
        nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
    )
    .ctx(|| format!("chown {}", n.path.display()))
}

/// /dev/fd, /dev/std{in,out,err} and /dev/ptmx -> pts/ptmx.
pub fn setup_dev_symlinks(root: BorrowedFd) -> Result<()> {
    let dev = match open_in_root(root, Path::new("/dev"), libc::O_DIRECTORY | libc::O_RDONLY) {
        Ok(d) => d,
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).ctx(|| "open /dev in rootfs".into()),
    };
    let links = [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
    ];
    for (name, target) in links {
        match nix::unistd::symlinkat(target, &dev, name) {
            Ok(()) | Err(nix::errno::Errno::EEXIST) => {}
            Err(e) => return Err(e).ctx(|| format!("symlink /dev/{name}")),
        }
    }
    // ptmx must point into the container's own devpts instance.
    let _ = nix::unistd::unlinkat(&dev, "ptmx", nix::unistd::UnlinkatFlags::NoRemoveDir);
    nix::unistd::symlinkat("pts/ptmx", &dev, "ptmx").ctx(|| "symlink /dev/ptmx".into())
}
