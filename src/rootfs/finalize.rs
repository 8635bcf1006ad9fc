//! After pivot_root: masked and read-only paths, the read-only root,
//! sysctls and the other settings made from inside the new root, and the
//! verified /dev/null they rely on.

use super::*;

/// After pivot_root: sysctls, read-only and masked paths, read-only /dev
/// and root, and the root's propagation.
pub fn finalize(spec: &Spec) -> Result<()> {
    let linux = spec.linux().as_ref();
    let mount_label = lsm::mount_label(spec)?;
    if let Some(sysctl) = linux.and_then(|l| l.sysctl().as_ref()) {
        let mut keys: Vec<&String> = sysctl.keys().collect();
        keys.sort();
        // Through the verified procfs handle: never a file a volume or a
        // symlink put at /proc.
        let proc = if keys.is_empty() {
            None
        } else {
            Some(crate::procfs::Procfs::open().map_err(|e| e.wrap("linux.sysctl"))?)
        };
        for (key, proc) in keys.into_iter().zip(proc.iter().cycle()) {
            let rel = format!("sys/{}", key.replace('.', "/"));
            proc.write_file(&rel, sysctl[key].as_bytes())
                .map_err(|e| e.wrap(format!("linux.sysctl[{key:?}]: {:?}", sysctl[key])))?;
        }
    }
    for (i, p) in linux
        .and_then(|l| l.readonly_paths().as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        readonly_path(Path::new(p)).map_err(|e| e.wrap(format!("/linux/readonlyPaths/{i}")))?;
    }
    let mut masking_tmpfs = None;
    for (i, p) in linux
        .and_then(|l| l.masked_paths().as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        mask_path(Path::new(p), mount_label, &mut masking_tmpfs)
            .map_err(|e| e.wrap(format!("/linux/maskedPaths/{i}")))?;
    }
    let dev_ro = spec.mounts().iter().flatten().any(|m| {
        m.destination() == Path::new("/dev")
            && options::parse(m.options().as_deref().unwrap_or(&[]))
                .flags
                .contains(MsFlags::MS_RDONLY)
    });
    if dev_ro {
        // A bind remount, as runc does: the mount is read-only, the tmpfs
        // under it stays as mounted.
        let f = current_mount_flags(Path::new("/dev")).unwrap_or(MsFlags::empty());
        super::remount_bind(Path::new("/dev"), MsFlags::MS_RDONLY | f)
            .ctx(|| "remount /dev read-only".into())?;
    }
    if spec
        .root()
        .as_ref()
        .and_then(|r| r.readonly())
        .unwrap_or(false)
    {
        remount_bind(
            Path::new("/"),
            MsFlags::MS_RDONLY | current_mount_flags(Path::new("/")).unwrap_or(MsFlags::empty()),
        )
        .ctx(|| "root.readonly: remount / read-only".into())?;
    }
    if let Some(p) = root_propagation(spec) {
        mount(NONE, "/", NONE, p, NONE)
            .ctx(|| "linux.rootfsPropagation: set propagation of /".into())?;
    }
    Ok(())
}

/// Opens a path after pivot_root without following a final symlink: the
/// masked and read-only paths must be what the config names, not where a
/// planted link points (None when the path does not exist).
fn open_target(p: &Path) -> Result<Option<(OwnedFd, nix::sys::stat::FileStat)>> {
    use nix::fcntl::{OFlag, open};
    let fd = match open(
        p,
        OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    ) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e).ctx(|| format!("open {}", p.display())),
    };
    let st = nix::sys::stat::fstat(&fd).ctx(|| format!("stat {}", p.display()))?;
    if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
        return Err(Error::msg(format!(
            "{} is a symlink: refusing to mount over where it points",
            p.display()
        )));
    }
    Ok(Some((fd, st)))
}

/// The container's /dev/null, verified to be the null device (1:3), so a
/// planted file or link can never be bound over a masked path.
fn verified_dev_null() -> Result<OwnedFd> {
    let (fd, st) =
        open_target(Path::new("/dev/null"))?.ok_or_else(|| Error::msg("/dev/null is missing"))?;
    let is_null = st.st_mode & libc::S_IFMT == libc::S_IFCHR
        && nix::sys::stat::major(st.st_rdev) == 1
        && nix::sys::stat::minor(st.st_rdev) == 3;
    if !is_null {
        return Err(Error::msg(
            "/dev/null in the container is not the null device (1:3)",
        ));
    }
    Ok(fd)
}

/// Stdio that is the host's /dev/null is reopened as the container's own
/// (after the root is entered), so nothing of the container points at a
/// mount outside it: CRIU cannot dump a descriptor on a mount the
/// container does not have, and runc does the same.
pub fn reopen_dev_null_stdio() -> Result<()> {
    let is_null = |st: &libc::stat| {
        st.st_mode & libc::S_IFMT == libc::S_IFCHR
            && nix::sys::stat::major(st.st_rdev) == 1
            && nix::sys::stat::minor(st.st_rdev) == 3
    };
    let mut null: Option<OwnedFd> = None;
    for fd in 0..3 {
        // SAFETY: fstat on a descriptor number; an unused one gives EBADF.
        let st = match nix::sys::stat::fstat(unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) }) {
            Ok(st) => st,
            Err(_) => continue,
        };
        if !is_null(&st) {
            continue;
        }
        if null.is_none() {
            let fd = nix::fcntl::open(
                "/dev/null",
                nix::fcntl::OFlag::O_RDWR
                    | nix::fcntl::OFlag::O_NOFOLLOW
                    | nix::fcntl::OFlag::O_CLOEXEC,
                nix::sys::stat::Mode::empty(),
            )
            .ctx(|| "reopen stdio: open the container's /dev/null".into())?;
            let own = nix::sys::stat::fstat(&fd).ctx(|| "fstat /dev/null".into())?;
            if !is_null(&own) {
                return Err(Error::msg(
                    "/dev/null in the container is not the null device (1:3)",
                ));
            }
            if own.st_dev == st.st_dev && own.st_ino == st.st_ino {
                // Already the container's own node.
                continue;
            }
            null = Some(fd);
        }
        let src = null.as_ref().expect("opened above");
        // SAFETY: dup2 onto a stdio number this process owns.
        if unsafe { libc::dup2(std::os::fd::AsRawFd::as_raw_fd(src), fd) } < 0 {
            return Err(nix::errno::Errno::last())
                .ctx(|| format!("reopen stdio {fd} on /dev/null"));
        }
    }
    Ok(())
}

fn readonly_path(p: &Path) -> Result<()> {
    let Some((fd, _)) = open_target(p)? else {
        return Ok(());
    };
    mount(
        Some(&fd_path(&fd)),
        &fd_path(&fd),
        NONE,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        NONE,
    )
    .ctx(|| format!("bind {}", p.display()))?;
    let flags = current_mount_flags(p).unwrap_or(MsFlags::empty());
    remount_bind(p, flags | MsFlags::MS_RDONLY | MsFlags::MS_REC)
        .ctx(|| format!("remount {} read-only", p.display()))
}

/// Masks a path: a directory with an empty read-only tmpfs, a file with
/// /dev/null. Directories share one tmpfs (`tmpfs`: the first one's root,
/// bound over the others), as runc and crun do: Kubernetes masks dozens of
/// per-CPU sysfs directories, and one superblock each would cost memory
/// and mount time for nothing.
fn mask_path(p: &Path, label: Option<&str>, tmpfs: &mut Option<OwnedFd>) -> Result<()> {
    let Some((fd, st)) = open_target(p)? else {
        return Ok(());
    };
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        if let Some(shared) = tmpfs {
            // A bind keeps the read-only flag of the tmpfs it copies.
            return mount(
                Some(&fd_path(shared)),
                &fd_path(&fd),
                NONE,
                MsFlags::MS_BIND,
                NONE,
            )
            .ctx(|| format!("mask {} with the masking tmpfs", p.display()));
        }
        mount(
            Some("tmpfs"),
            &fd_path(&fd),
            Some("tmpfs"),
            MsFlags::MS_RDONLY,
            lsm::label_mount_data(None, label).as_deref(),
        )
        .ctx(|| format!("mask {} with an empty tmpfs", p.display()))?;
        // The path now leads to the new tmpfs's root.
        *tmpfs = open_target(p)?.map(|(fd, _)| fd);
        Ok(())
    } else {
        let null = verified_dev_null()?;
        mount(
            Some(&fd_path(&null)),
            &fd_path(&fd),
            NONE,
            MsFlags::MS_BIND,
            NONE,
        )
        .ctx(|| format!("mask {} with /dev/null", p.display()))
    }
}
