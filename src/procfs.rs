//! A verified handle on procfs, for writes that must reach the kernel's
//! own files and nothing a container planted (CVE-2019-16884 class: a
//! volume bound over /proc, a symlink or a bind mount over
//! /proc/self/attr/exec, would let a container skip its LSM label).
//!
//! The handle is `/proc` opened `O_PATH|O_DIRECTORY`, accepted only when
//! `fstatfs` says procfs and its inode is the procfs root (so it is not
//! some procfs subdirectory bound there). Files are opened beneath it with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
//! RESOLVE_NO_XDEV)`: no symlink is followed (the `thread-self` link is
//! read with readlinkat and its digits checked, never followed), no mount
//! is crossed, and the opened file is checked to be on procfs again.

use crate::error::{Context, Error, Result};
use crate::openat2::{
    RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV, openat2,
};
use nix::errno::Errno;
use nix::sys::statfs::{FsType, PROC_SUPER_MAGIC};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The inode number of a procfs mount's root directory.
const PROC_ROOT_INO: u64 = 1;

/// Resolution for files beneath the handle: stay below it, follow no
/// symlink of any kind, cross no mount.
const STRICT: u64 = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;

/// True when `fd` lies on procfs.
pub fn is_procfs(fd: BorrowedFd) -> bool {
    fs_type(fd) == Some(PROC_SUPER_MAGIC)
}

fn fs_type(fd: BorrowedFd) -> Option<FsType> {
    nix::sys::statfs::fstatfs(fd)
        .ok()
        .map(|st| st.filesystem_type())
}

/// An open, verified procfs root.
pub struct Procfs {
    dir: OwnedFd,
    path: PathBuf,
}

impl Procfs {
    /// The process's `/proc`, verified.
    pub fn open() -> Result<Procfs> {
        Self::open_at(Path::new("/proc"))
    }

    /// `path` opened as a procfs root, refused unless it is one.
    pub fn open_at(path: &Path) -> Result<Procfs> {
        use nix::fcntl::OFlag;
        let dir = nix::fcntl::open(
            path,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            nix::sys::stat::Mode::empty(),
        )
        .ctx(|| format!("open {} as procfs", path.display()))?;
        Self::verify(dir, path)
    }

    /// Accepts `dir` (an open directory) only if it is a procfs root.
    pub fn verify(dir: OwnedFd, path: &Path) -> Result<Procfs> {
        match fs_type(dir.as_fd()) {
            Some(t) if t == PROC_SUPER_MAGIC => {}
            Some(t) => {
                return Err(Error::msg(format!(
                    "{} is not procfs (filesystem magic {:#x}): refusing to write process attributes through it",
                    path.display(),
                    t.0
                )));
            }
            None => {
                return Err(Error::msg(format!(
                    "{}: fstatfs failed: {}",
                    path.display(),
                    Errno::last()
                )));
            }
        }
        let st = nix::sys::stat::fstat(&dir).ctx(|| format!("stat {}", path.display()))?;
        if st.st_ino != PROC_ROOT_INO {
            return Err(Error::msg(format!(
                "{} is on procfs but is not the root of a procfs mount (inode {}): something is mounted over it",
                path.display(),
                st.st_ino
            )));
        }
        Ok(Procfs {
            dir,
            path: path.to_path_buf(),
        })
    }

    /// The calling thread's directory in this procfs ("PID/task/TID", or
    /// "PID" on kernels without thread-self), read from the link without
    /// following it.
    fn thread_dir(&self) -> Result<PathBuf> {
        self.own_dir(&["thread-self", "self"])
    }

    /// The calling process's directory ("PID"): some files (timens_offsets)
    /// exist only there.
    fn process_dir(&self) -> Result<PathBuf> {
        self.own_dir(&["self"])
    }

    fn own_dir(&self, links: &[&str]) -> Result<PathBuf> {
        for &link in links {
            let target = match nix::fcntl::readlinkat(self.dir.as_fd(), link) {
                Ok(t) => t,
                Err(Errno::ENOENT) if link == "thread-self" => continue,
                Err(e) => {
                    return Err(e).ctx(|| {
                        format!(
                            "read {}/{link} (is this process visible in that procfs's pid namespace?)",
                            self.path.display()
                        )
                    });
                }
            };
            let t = target.to_string_lossy();
            let parts: Vec<&str> = t.split('/').collect();
            let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
            let ok = match parts.as_slice() {
                [pid] => digits(pid),
                [pid, "task", tid] => digits(pid) && digits(tid),
                _ => false,
            };
            if !ok {
                return Err(Error::msg(format!(
                    "{}/{link} points to {t:?}, not a process directory",
                    self.path.display()
                )));
            }
            return Ok(PathBuf::from(t.as_ref()));
        }
        Err(Error::msg(format!(
            "{}: neither thread-self nor self is readable",
            self.path.display()
        )))
    }

    /// How `rel` (under the calling thread's directory) is named in messages.
    fn display(&self, rel: &str) -> String {
        format!("{}/thread-self/{rel}", self.path.display())
    }

    /// Opens `rel` under the calling thread's directory (e.g. "attr/exec")
    /// with `flags`, strictly beneath the handle, and checks the result is
    /// on procfs. Errors keep the errno (`Error::Sys`).
    pub fn open_self(&self, rel: &str, flags: i32) -> Result<OwnedFd> {
        let path = self.thread_dir()?.join(rel);
        self.open_beneath(&path, &self.display(rel), flags)
    }

    /// Writes `data` to `rel` (relative to the procfs root) in one write(2).
    pub fn write_file(&self, rel: &str, data: &[u8]) -> Result<()> {
        let shown = format!("{}/{rel}", self.path.display());
        let fd = self.open_beneath(Path::new(rel), &shown, libc::O_WRONLY)?;
        write_all_once(&fd, data, &shown)
    }

    /// Writes `data` to `rel` under the calling process's own directory
    /// (for files only a process has, e.g. timens_offsets).
    pub fn write_process_self(&self, rel: &str, data: &[u8]) -> Result<()> {
        let path = self.process_dir()?.join(rel);
        let shown = format!("{}/self/{rel}", self.path.display());
        let fd = self.open_beneath(&path, &shown, libc::O_WRONLY)?;
        write_all_once(&fd, data, &shown)
    }

    fn open_beneath(&self, path: &Path, shown: &str, flags: i32) -> Result<OwnedFd> {
        let fd = match openat2(self.dir.as_fd(), path, flags | libc::O_NOCTTY, STRICT) {
            Ok(fd) => fd,
            Err(errno) => {
                let why = match errno {
                    Errno::ELOOP => " (a symlink is in the way: refused)",
                    Errno::EXDEV => {
                        " (something is mounted over it, or it leads outside /proc: refused)"
                    }
                    _ => "",
                };
                return Err(Error::Sys {
                    context: format!("open {shown}{why}"),
                    errno,
                });
            }
        };
        if !is_procfs(fd.as_fd()) {
            return Err(Error::msg(format!(
                "{shown} is not on procfs: refusing to use it"
            )));
        }
        Ok(fd)
    }

    /// Writes `data` to `rel` in one write(2), as the attr files require.
    pub fn write_self(&self, rel: &str, data: &[u8]) -> Result<()> {
        let fd = self.open_self(rel, libc::O_WRONLY)?;
        write_all_once(&fd, data, &self.display(rel))
    }

    /// Reads `rel` whole.
    pub fn read_self(&self, rel: &str) -> Result<Vec<u8>> {
        use std::io::Read;
        let fd = self.open_self(rel, libc::O_RDONLY)?;
        let mut out = Vec::new();
        std::fs::File::from(fd)
            .read_to_end(&mut out)
            .ctx(|| format!("read {}", self.display(rel)))?;
        Ok(out)
    }
}

/// One write(2) of all of `data` (procfs files take their value whole).
fn write_all_once(fd: &OwnedFd, data: &[u8], shown: &str) -> Result<()> {
    let n = nix::unistd::write(fd, data).ctx(|| format!("write {shown}"))?;
    if n != data.len() {
        return Err(Error::msg(format!(
            "write {shown}: short write ({n} of {} bytes)",
            data.len()
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "hull-procfs-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    /// Runs `f` in a forked child (which may unshare its mount namespace,
    /// impossible in the threaded test harness) and returns what it wrote.
    fn in_child(f: impl FnOnce() -> String) -> String {
        let (r, w) = nix::unistd::pipe().unwrap();
        // SAFETY: the child only makes syscalls, writes to the pipe and _exits.
        match unsafe { nix::unistd::fork() }.unwrap() {
            nix::unistd::ForkResult::Child => {
                drop(r);
                let msg = f();
                let _ = nix::unistd::write(&w, msg.as_bytes());
                // SAFETY: leave the forked copy without running destructors.
                unsafe { libc::_exit(0) }
            }
            nix::unistd::ForkResult::Parent { child } => {
                drop(w);
                let mut out = String::new();
                use std::io::Read;
                std::fs::File::from(r).read_to_string(&mut out).unwrap();
                nix::sys::wait::waitpid(child, None).unwrap();
                out
            }
        }
    }

    /// A private mount namespace for the child, so its mounts vanish with it.
    /// Without root, in a user namespace of its own (which may mount).
    fn private_mounts() -> std::result::Result<(), String> {
        use nix::mount::{MsFlags, mount};
        use nix::sched::CloneFlags;
        let flags = if nix::unistd::geteuid().is_root() {
            CloneFlags::CLONE_NEWNS
        } else {
            CloneFlags::CLONE_NEWUSER | CloneFlags::CLONE_NEWNS
        };
        let (uid, gid) = (nix::unistd::getuid(), nix::unistd::getgid());
        nix::sched::unshare(flags).map_err(|e| format!("unshare: {e}"))?;
        if flags.contains(CloneFlags::CLONE_NEWUSER) {
            // Map our own ids, so files made on the child's mounts have an owner.
            for (file, text) in [
                ("setgroups", "deny".to_string()),
                ("uid_map", format!("0 {uid} 1")),
                ("gid_map", format!("0 {gid} 1")),
            ] {
                std::fs::write(format!("/proc/self/{file}"), text)
                    .map_err(|e| format!("write /proc/self/{file}: {e}"))?;
            }
        }
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_PRIVATE | MsFlags::MS_REC,
            None::<&str>,
        )
        .map_err(|e| format!("make / private: {e}"))
    }

    #[test]
    fn real_proc_is_accepted_and_a_harmless_file_round_trips() {
        let got = in_child(|| {
            let p = match Procfs::open() {
                Ok(p) => p,
                Err(e) => return format!("open: {e}"),
            };
            if let Err(e) = p.write_self("comm", b"hull-procfs-t") {
                return format!("write: {e}");
            }
            match p.read_self("comm") {
                Ok(v) => String::from_utf8_lossy(&v).trim().to_string(),
                Err(e) => format!("read: {e}"),
            }
        });
        assert_eq!(got, "hull-procfs-t");
    }

    #[test]
    fn a_plain_directory_is_not_procfs() {
        let d = scratch("plain");
        // Even a tree that looks like /proc: the handle itself is refused.
        std::fs::create_dir_all(d.join("1/attr")).unwrap();
        std::os::unix::fs::symlink("1", d.join("self")).unwrap();
        std::fs::write(d.join("1/attr/exec"), "").unwrap();
        let err = Procfs::open_at(&d).err().expect("a plain dir was accepted");
        assert!(err.to_string().contains("is not procfs"), "{err}");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn tmp_is_not_procfs() {
        let err = Procfs::open_at(Path::new("/tmp"))
            .err()
            .expect("/tmp was accepted as procfs");
        assert!(err.to_string().contains("is not procfs"), "{err}");
    }

    #[test]
    fn a_procfs_subdirectory_is_not_a_procfs_root() {
        let err = Procfs::open_at(Path::new("/proc/sys"))
            .err()
            .expect("/proc/sys was accepted as a procfs root");
        assert!(
            err.to_string().contains("not the root of a procfs mount"),
            "{err}"
        );
    }

    #[test]
    fn a_symlink_as_the_proc_handle_is_refused() {
        let d = scratch("link");
        std::os::unix::fs::symlink("/proc", d.join("proc")).unwrap();
        let err = Procfs::open_at(&d.join("proc"))
            .err()
            .expect("a symlink to /proc was followed");
        let msg = err.to_string();
        assert!(msg.contains("ENOTDIR") || msg.contains("ELOOP"), "{msg}");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A tmpfs mounted over /proc (a volume hiding the real one) is refused.
    #[test]
    fn a_tmpfs_over_proc_is_refused() {
        let got = in_child(|| {
            if let Err(e) = private_mounts() {
                return format!("setup: {e}");
            }
            use nix::mount::{MsFlags, mount};
            if let Err(e) = mount(
                Some("tmpfs"),
                "/proc",
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            ) {
                return format!("setup: mount tmpfs: {e}");
            }
            match Procfs::open() {
                Ok(_) => "accepted".into(),
                Err(e) => e.to_string(),
            }
        });
        assert!(got.contains("/proc is not procfs"), "{got}");
    }

    /// A procfs subdirectory bound over /proc is refused too.
    #[test]
    fn a_procfs_subdirectory_bound_over_proc_is_refused() {
        let got = in_child(|| {
            if let Err(e) = private_mounts() {
                return format!("setup: {e}");
            }
            use nix::mount::{MsFlags, mount};
            if let Err(e) = mount(
                Some("/proc/sys"),
                "/proc",
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            ) {
                return format!("setup: bind: {e}");
            }
            match Procfs::open() {
                Ok(_) => "accepted".into(),
                Err(e) => e.to_string(),
            }
        });
        assert!(got.contains("not the root of a procfs mount"), "{got}");
    }

    /// The attack itself: a tmpfs over this thread's attr directory holding
    /// `exec` as a symlink to a file outside. The write is refused and the
    /// file pointed to is untouched.
    #[test]
    fn a_mount_with_a_symlink_over_attr_is_refused() {
        let d = scratch("attr");
        let victim = d.join("victim");
        std::fs::write(&victim, "untouched").unwrap();
        let victim2 = victim.clone();
        let got = in_child(move || {
            if let Err(e) = private_mounts() {
                return format!("setup: {e}");
            }
            use nix::mount::{MsFlags, mount};
            // SAFETY: gettid takes no arguments.
            let tid = unsafe { libc::gettid() };
            let attr = format!("/proc/{}/task/{tid}/attr", std::process::id());
            if let Err(e) = mount(
                Some("tmpfs"),
                attr.as_str(),
                Some("tmpfs"),
                MsFlags::empty(),
                None::<&str>,
            ) {
                return format!("setup: mount tmpfs on {attr}: {e}");
            }
            if let Err(e) = std::os::unix::fs::symlink(&victim2, format!("{attr}/exec")) {
                return format!("setup: symlink: {e}");
            }
            // The plain path would follow the link: prove the trap is armed.
            if std::fs::read_to_string(format!("{attr}/exec"))
                .ok()
                .as_deref()
                != Some("untouched")
            {
                return "setup: the planted link does not lead to the victim".into();
            }
            let p = match Procfs::open() {
                Ok(p) => p,
                Err(e) => return format!("open: {e}"),
            };
            match p.write_self("attr/exec", b"exec evil") {
                Ok(()) => "written".into(),
                Err(e) => e.to_string(),
            }
        });
        assert!(got.contains("mounted over it"), "{got}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");
        let _ = std::fs::remove_dir_all(&d);
    }

    /// A regular file bound over one attr file is refused (RESOLVE_NO_XDEV).
    #[test]
    fn a_file_bound_over_an_attr_file_is_refused() {
        let d = scratch("bindfile");
        let fake = d.join("fake");
        std::fs::write(&fake, "").unwrap();
        let fake2 = fake.clone();
        let got = in_child(move || {
            if let Err(e) = private_mounts() {
                return format!("setup: {e}");
            }
            use nix::mount::{MsFlags, mount};
            // SAFETY: gettid takes no arguments.
            let tid = unsafe { libc::gettid() };
            let target = format!("/proc/{}/task/{tid}/comm", std::process::id());
            if let Err(e) = mount(
                Some(&fake2),
                target.as_str(),
                None::<&str>,
                MsFlags::MS_BIND,
                None::<&str>,
            ) {
                return format!("setup: bind over {target}: {e}");
            }
            let p = match Procfs::open() {
                Ok(p) => p,
                Err(e) => return format!("open: {e}"),
            };
            match p.write_self("comm", b"evil") {
                Ok(()) => "written".into(),
                Err(e) => e.to_string(),
            }
        });
        assert!(got.contains("mounted over it"), "{got}");
        assert_eq!(std::fs::read_to_string(&fake).unwrap(), "");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn paths_escaping_the_handle_are_refused() {
        let p = Procfs::open().unwrap();
        let err = p
            .open_self("../../../../../../etc/passwd", libc::O_RDONLY)
            .expect_err("escaped the procfs handle");
        assert!(err.to_string().contains("EXDEV"), "{err}");
    }
}
