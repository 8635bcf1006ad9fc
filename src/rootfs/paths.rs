//! Resolving paths inside the rootfs without ever following a symlink out
//! of it: openat2(RESOLVE_IN_ROOT) walks every component as if the rootfs
//! were `/`. Mounts then target `/proc/self/fd/N` of the O_PATH handle.

use crate::error::{Context, Result};
use crate::openat2::{RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, openat2};
use nix::errno::Errno;
use std::ffi::CString;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

/// openat2(dirfd, path, flags, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS).
pub fn open_in_root(
    root: BorrowedFd,
    path: &Path,
    flags: i32,
) -> std::result::Result<OwnedFd, Errno> {
    openat2(
        root,
        &relative(path),
        flags,
        RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS,
    )
}

/// `path` made relative ("." for the root itself), dropping leading `/`.
pub fn relative(path: &Path) -> PathBuf {
    let rel: PathBuf = path
        .components()
        .filter(|c| matches!(c, Component::Normal(_)))
        .collect();
    if rel.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        rel
    }
}

/// The `/proc/self/fd/N` path of a descriptor.
pub fn fd_path(fd: &impl AsRawFd) -> PathBuf {
    PathBuf::from(format!("/proc/self/fd/{}", fd.as_raw_fd()))
}

pub enum Kind {
    Dir,
    File,
}

/// Opens (O_PATH) `path` inside the root, creating missing components as
/// directories, and the last one as `kind`. Symlinks are resolved inside the root.
pub fn ensure(root: BorrowedFd, path: &Path, kind: Kind) -> Result<OwnedFd> {
    match open_in_root(root, path, libc::O_PATH) {
        Ok(fd) => return Ok(fd),
        Err(Errno::ENOENT) => {}
        Err(e) => return Err(e).ctx(|| format!("resolve {} in rootfs", path.display())),
    }
    let rel = relative(path);
    let parent_rel = rel.parent().map(Path::to_path_buf).unwrap_or_default();
    let parent = if parent_rel.as_os_str().is_empty() {
        open_in_root(root, Path::new("."), libc::O_PATH | libc::O_DIRECTORY)
            .ctx(|| "open rootfs".into())?
    } else {
        ensure(root, &parent_rel, Kind::Dir)?
    };
    let name = rel
        .file_name()
        .map(|n| n.to_os_string())
        .unwrap_or_default();
    // Re-open the parent as a real directory to create inside it.
    let dir = open_in_root(root, &parent_rel, libc::O_DIRECTORY | libc::O_RDONLY)
        .ctx(|| format!("open {} in rootfs", parent_rel.display()))?;
    drop(parent);
    let cname = CString::new(name.as_encoded_bytes())
        .map_err(|_| Errno::EINVAL)
        .ctx(|| "path".into())?;
    let res = match kind {
        // SAFETY: valid dirfd and NUL-terminated name.
        Kind::Dir => unsafe { libc::mkdirat(dir.as_raw_fd(), cname.as_ptr(), 0o755) },
        // SAFETY: as above; O_EXCL|O_NOFOLLOW never follows a planted symlink.
        Kind::File => unsafe {
            let fd = libc::openat(
                dir.as_raw_fd(),
                cname.as_ptr(),
                libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644,
            );
            if fd >= 0 {
                libc::close(fd);
                0
            } else {
                -1
            }
        },
    };
    if res < 0 {
        let e = Errno::last();
        if e != Errno::EEXIST {
            return Err(e).ctx(|| format!("create {} in rootfs", path.display()));
        }
    }
    open_in_root(root, path, libc::O_PATH).ctx(|| format!("resolve {} in rootfs", path.display()))
}

/// Opens the rootfs directory itself.
pub fn open_root(rootfs: &Path) -> Result<OwnedFd> {
    nix::fcntl::open(
        rootfs,
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("open rootfs {}", rootfs.display()))
}
