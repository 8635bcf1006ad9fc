//! The container's root filesystem: mounts, devices, pivot_root, masked
//! and read-only paths. Runs in the init stage, inside the new mount namespace.

mod devices;
mod finalize;
pub mod idmap;
pub mod paths;

use crate::error::{Context, Error, Result};
use crate::mount_options::{self as options, propagation_flags};
use crate::security::lsm;
use nix::mount::{MntFlags, MsFlags, mount, umount2};
use oci_spec::runtime::{Mount, Spec};
use paths::{Kind, ensure, fd_path, open_in_root};
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};

pub use devices::{create_devices, dev_is_bind_mounted, setup_dev_symlinks};
pub use finalize::{finalize, reopen_dev_null_stdio};

const NONE: Option<&str> = None;

/// What the rootfs set-up needs to know beyond the spec.
pub struct Setup<'a> {
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    /// What a "cgroup" mount shows; asked only when there is one.
    pub cgroup_view: &'a dyn Fn() -> Result<CgroupView>,
    pub new_cgroupns: bool,
    pub in_userns: bool,
    /// Idmapped mounts the parent prepared: (index in `mounts`, detached tree).
    pub idmapped: &'a [(usize, std::os::fd::RawFd)],
}

fn root_propagation(spec: &Spec) -> Option<MsFlags> {
    spec.linux()
        .as_ref()
        .and_then(|l| l.rootfs_propagation().as_deref())
        .and_then(propagation_flags)
}

/// What a mount of type "cgroup" shows, told by the caller: the rootfs
/// mounts cgroupfs but does not manage cgroups.
pub enum CgroupView {
    /// A pure cgroup v2 host: the container's cgroup directory, or the
    /// cgroup2 root, read-only, for a container without a cgroup.
    V2 { dir: PathBuf, read_only: bool },
    /// A cgroup v1 host: each v1 hierarchy.
    V1(Vec<CgroupV1Dir>),
}

/// One cgroup v1 hierarchy as a "cgroup" mount shows it.
pub struct CgroupV1Dir {
    /// Where the host mounts it (its last component names the mount).
    pub mount_point: PathBuf,
    /// Its controllers (e.g. ["cpu", "cpuacct"]).
    pub controllers: Vec<String>,
    /// The container's cgroup directory in it.
    pub dir: PathBuf,
}

/// Everything before pivot_root: propagation, the rootfs bind, every mount
/// in order, and the default devices. Returns the path by which the init
/// reaches the rootfs from now on: its own, or /proc/self/fd/N when the
/// container's root may not traverse the path (see `bind_rootfs`).
pub fn prepare(s: &Setup) -> Result<PathBuf> {
    // Keep the container's mounts from leaking back to the host.
    // (rootfsPropagation is applied to the new root after pivot_root, which
    // refuses a shared current root.)
    mount(NONE, "/", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .ctx(|| "rootfs: make / rslave in the container's mount namespace".into())?;
    let rootfs = bind_rootfs(s)?;
    let root = paths::open_root(&rootfs)?;
    let mounts = s.spec.mounts().as_deref().unwrap_or(&[]);
    let devices_below = !dev_is_bind_mounted(mounts);
    // A read-only tmpfs that gets mount points (or devices) made in it later
    // (a read-only /dev, then /dev/pts...) is mounted writable and turned
    // read-only once everything below it is in place.
    let mut read_only_later: Vec<(usize, MsFlags)> = Vec::new();
    for (i, m) in mounts.iter().enumerate() {
        let opts = m.options().as_deref().unwrap_or(&[]);
        let parsed = options::parse(opts);
        crate::logging::debug(format!(
            "mount /mounts/{i}: {} on {} type {} flags [{}] data {:?}",
            m.source()
                .as_deref()
                .map(|p| p.display().to_string())
                .unwrap_or_default(),
            m.destination().display(),
            m.typ().as_deref().unwrap_or("-"),
            parsed
                .flags
                .iter_names()
                .map(|(n, _)| n)
                .collect::<Vec<_>>()
                .join(","),
            parsed.data().unwrap_or_default()
        ));
        let dest = m.destination();
        let filled_later = mounts[i + 1..]
            .iter()
            .any(|n| n.destination() != dest && n.destination().starts_with(dest))
            || (devices_below && dest == Path::new("/dev"));
        // Only a tmpfs starts empty: other filesystems (sysfs, binds) bring
        // their mount points with them.
        let defer = filled_later
            && m.typ().as_deref() == Some("tmpfs")
            && !parsed.is_bind()
            && parsed.flags.contains(MsFlags::MS_RDONLY);
        if defer {
            crate::logging::debug(format!(
                "mount /mounts/{i}: writable until the mounts below it are made, then read-only"
            ));
            read_only_later.push((i, parsed.flags - MsFlags::MS_REC));
        }
        mount_one(s, root.as_fd(), i, m, defer)
            .map_err(|e| e.wrap(format!("mount /mounts/{i} ({})", dest.display())))?;
    }
    if devices_below {
        crate::logging::debug("create the default devices and /dev symlinks");
        create_devices(root.as_fd(), s.spec, s.in_userns)?;
        setup_dev_symlinks(root.as_fd())?;
    }
    // A missing working directory is created, as other runtimes do.
    if let Some(p) = s.spec.process() {
        ensure(root.as_fd(), p.cwd(), Kind::Dir).map_err(|e| e.wrap("process.cwd"))?;
    }
    for (i, flags) in read_only_later {
        let dest = mounts[i].destination();
        let top = open_in_root(root.as_fd(), dest, libc::O_PATH)
            .ctx(|| format!("reopen {}", dest.display()))?;
        // A bind remount: the mount turns read-only, its filesystem stays
        // as mounted (what runc shows in mountinfo).
        mount(
            NONE,
            &fd_path(&top),
            NONE,
            MsFlags::MS_REMOUNT | MsFlags::MS_BIND | flags,
            NONE,
        )
        .ctx(|| format!("mount /mounts/{i} ({}): remount read-only", dest.display()))?;
    }
    Ok(rootfs)
}

/// Bind-mounts the rootfs onto itself (pivot_root needs a mount point).
/// In a user namespace the container's root may be refused the path (a
/// bundle under a 0700 directory of the host's root): then the rootfs is
/// reached through the working directory stage 1 entered as host root, a
/// copy of it is attached there, and the init keeps a descriptor of that
/// mount, returned as /proc/self/fd/N.
fn bind_rootfs(s: &Setup) -> Result<PathBuf> {
    let flags = MsFlags::MS_BIND | MsFlags::MS_REC;
    match mount(Some(s.rootfs), s.rootfs, NONE, flags, NONE) {
        Ok(()) => return Ok(s.rootfs.to_path_buf()),
        Err(nix::errno::Errno::EACCES) if s.in_userns => {}
        Err(e) => {
            return Err(e)
                .ctx(|| format!("root.path: bind mount {} onto itself", s.rootfs.display()));
        }
    }
    crate::logging::debug(format!(
        "root.path: {} is out of reach of the container's root: bind it through the working directory",
        s.rootfs.display()
    ));
    let tree = idmap::clone_tree(Path::new("."), true)
        .map_err(|e| e.wrap(format!("root.path {}", s.rootfs.display())))?;
    let here = nix::fcntl::open(
        ".",
        nix::fcntl::OFlag::O_PATH | nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| "root.path: open the working directory".into())?;
    idmap::attach(tree.as_fd(), here.as_fd())
        .ctx(|| format!("root.path: bind mount {} onto itself", s.rootfs.display()))?;
    // Kept open until exec (close-on-exec): the path returned names it.
    let raw = std::os::fd::IntoRawFd::into_raw_fd(tree);
    Ok(PathBuf::from(format!("/proc/self/fd/{raw}")))
}

fn bind_source(s: &Setup, m: &Mount) -> PathBuf {
    let src = m.source().clone().unwrap_or_default();
    if src.is_absolute() {
        src
    } else {
        s.bundle.join(src)
    }
}

/// Mounts `m`; `writable`: leave out its read-only flag (the caller
/// remounts it read-only later).
fn mount_one(
    s: &Setup,
    root: std::os::fd::BorrowedFd,
    i: usize,
    m: &Mount,
    writable: bool,
) -> Result<()> {
    let mut opts = options::parse(m.options().as_deref().unwrap_or(&[]));
    if writable {
        opts.flags -= MsFlags::MS_RDONLY;
    }
    let typ = m.typ().as_deref().unwrap_or("");
    let dest = m.destination();
    let src_for_check = (opts.is_bind() || typ == "bind").then(|| bind_source(s, m));
    check_proc_destination(dest, typ, src_for_check.as_deref())?;
    if matches!(typ, "proc" | "sysfs") && !opts.is_bind() {
        ordinary_directory(root, dest, typ)?;
    }
    if typ == "cgroup" && !opts.is_bind() {
        return mount_cgroup(s, root, dest, &opts);
    }
    if opts.is_bind() || typ == "bind" {
        let src = bind_source(s, m);
        let rec = opts.flags & MsFlags::MS_REC;
        if let Some(&(_, tree)) = s.idmapped.iter().find(|(n, _)| *n == i) {
            // SAFETY: the parent passed this descriptor for this mount only;
            // the init owns it from here (it is closed once attached).
            let tree = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(tree) };
            let st = nix::sys::stat::fstat(&tree)
                .ctx(|| format!("stat idmapped bind source {}", src.display()))?;
            let kind = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                Kind::Dir
            } else {
                Kind::File
            };
            let target = ensure(root, dest, kind)?;
            idmap::attach(tree.as_fd(), target.as_fd()).ctx(|| {
                format!(
                    "attach the idmapped bind of {} on {} (move_mount)",
                    src.display(),
                    dest.display()
                )
            })?;
        } else {
            let meta = std::fs::metadata(&src).ctx(|| format!("bind source {}", src.display()))?;
            let kind = if meta.is_dir() { Kind::Dir } else { Kind::File };
            let target = ensure(root, dest, kind)?;
            mount(
                Some(&src),
                &fd_path(&target),
                NONE,
                MsFlags::MS_BIND | rec,
                NONE,
            )
            .ctx(|| format!("bind mount {} on {}", src.display(), dest.display()))?;
        }
        let extra = opts.flags - (MsFlags::MS_BIND | MsFlags::MS_REC | MsFlags::MS_REMOUNT);
        if !extra.is_empty() {
            let top = open_in_root(root, dest, libc::O_PATH)
                .ctx(|| format!("reopen {}", dest.display()))?;
            remount_bind(&fd_path(&top), extra | rec).ctx(|| {
                format!(
                    "remount {} with options {}",
                    dest.display(),
                    m.options().as_deref().unwrap_or(&[]).join(",")
                )
            })?;
        }
    } else {
        let target = ensure(root, dest, Kind::Dir)?;
        let source = m.source().clone().unwrap_or_else(|| PathBuf::from(typ));
        let label = lsm::mount_label(s.spec)?;
        let data = lsm::label_mount_data(opts.data(), label.filter(|_| lsm::takes_context(typ)));
        let flags = opts.flags - MsFlags::MS_REC;
        let res = mount(
            Some(&source),
            &fd_path(&target),
            Some(typ),
            flags,
            data.as_deref(),
        );
        match res {
            // Without a network namespace of its own (or in a user namespace)
            // sysfs cannot be mounted: fall back to the host's, read-only.
            Err(nix::errno::Errno::EPERM) if typ == "sysfs" => {
                mount(
                    Some("/sys"),
                    &fd_path(&target),
                    NONE,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    NONE,
                )
                .ctx(|| format!("bind /sys on {}", dest.display()))?;
                let top = open_in_root(root, dest, libc::O_PATH)
                    .ctx(|| format!("reopen {}", dest.display()))?;
                remount_bind(&fd_path(&top), flags | MsFlags::MS_REC)
                    .ctx(|| format!("remount {}", dest.display()))?;
            }
            Err(nix::errno::Errno::EPERM) if typ == "mqueue" && s.in_userns => {
                mount(
                    Some("/dev/mqueue"),
                    &fd_path(&target),
                    NONE,
                    MsFlags::MS_BIND,
                    NONE,
                )
                .ctx(|| format!("bind /dev/mqueue on {}", dest.display()))?;
            }
            Ok(()) if typ == "mqueue" && label.is_some() => {
                let top = open_in_root(root, dest, libc::O_RDONLY | libc::O_DIRECTORY)
                    .ctx(|| format!("reopen {}", dest.display()))?;
                lsm::label_file(top.as_fd(), dest, label.unwrap_or_default())?;
            }
            r => r.map_err(|errno| {
                let hint = match errno {
                    nix::errno::Errno::ENODEV => {
                        " (hint: the kernel does not know this filesystem type; see /proc/filesystems)"
                    }
                    nix::errno::Errno::EINVAL => {
                        " (hint: the filesystem refused one of these options)"
                    }
                    _ => "",
                };
                crate::error::Error::msg(format!(
                    "mount {} (type {typ:?}, options {:?}) on {}: {errno}{hint}",
                    source.display(),
                    m.options().as_deref().unwrap_or(&[]).join(","),
                    dest.display()
                ))
            })?,
        }
    }
    if !opts.propagation.is_empty() || opts.rec_set != 0 || opts.rec_clr != 0 {
        let top =
            open_in_root(root, dest, libc::O_PATH).ctx(|| format!("reopen {}", dest.display()))?;
        for p in &opts.propagation {
            mount(NONE, &fd_path(&top), NONE, *p, NONE)
                .ctx(|| format!("set propagation of {}", dest.display()))?;
        }
        if opts.rec_set != 0 || opts.rec_clr != 0 {
            mount_setattr_recursive(&top, opts.rec_set, opts.rec_clr)
                .ctx(|| format!("set recursive mount attributes of {}", dest.display()))?;
        }
    }
    Ok(())
}

/// Remounts a bind mount with new flags, keeping flags the kernel locked
/// (a user namespace may not clear nodev/nosuid/noexec/ro it inherited).
fn remount_bind(path: &Path, flags: MsFlags) -> std::result::Result<(), nix::errno::Errno> {
    let f = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | flags;
    match mount(NONE, path, NONE, f, NONE) {
        Err(nix::errno::Errno::EPERM) => {
            let locked = current_mount_flags(path).unwrap_or(MsFlags::empty());
            mount(NONE, path, NONE, f | locked, NONE)
        }
        r => r,
    }
}

/// The flags of the mount at `path`, from statvfs.
pub fn current_mount_flags(path: &Path) -> Option<MsFlags> {
    use nix::sys::statvfs::FsFlags;
    let st = nix::sys::statvfs::statvfs(path).ok()?;
    let f = st.flags();
    let mut out = MsFlags::empty();
    for (sf, mf) in [
        (FsFlags::ST_RDONLY, MsFlags::MS_RDONLY),
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if f.contains(sf) {
            out |= mf;
        }
    }
    Some(out)
}

#[repr(C)]
struct MountAttr {
    attr_set: u64,
    attr_clr: u64,
    propagation: u64,
    userns_fd: u64,
}

fn mount_setattr_recursive(
    fd: &OwnedFd,
    set: u64,
    clr: u64,
) -> std::result::Result<(), nix::errno::Errno> {
    use std::os::fd::AsRawFd;
    let attr = MountAttr {
        attr_set: set,
        attr_clr: clr,
        propagation: 0,
        userns_fd: 0,
    };
    let empty = c"";
    // SAFETY: attr and the empty path outlive the call; size matches.
    let r = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            fd.as_raw_fd(),
            empty.as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr as *const MountAttr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    if r < 0 {
        Err(nix::errno::Errno::last())
    } else {
        Ok(())
    }
}

/// A mount of type "cgroup": cgroup2 on v2 hosts; on v1 a tmpfs holding one
/// mount per hierarchy. With a cgroup namespace the kernel shows the
/// container's cgroup as the root; without one, the directories the caller's
/// view names are bound (the init's current cgroup on v1; on v2 its cgroup,
/// or the cgroup2 root read-only when it has none).
fn mount_cgroup(
    s: &Setup,
    root: std::os::fd::BorrowedFd,
    dest: &Path,
    opts: &options::MountOptions,
) -> Result<()> {
    let flags = opts.flags - (MsFlags::MS_REC | MsFlags::MS_BIND);
    let target = ensure(root, dest, Kind::Dir)?;
    let view = (s.cgroup_view)()?;
    let hierarchies = match view {
        CgroupView::V1(h) => h,
        CgroupView::V2 {
            dir: src,
            read_only,
        } => {
            let flags = if read_only {
                flags | MsFlags::MS_RDONLY
            } else {
                flags
            };
            if s.new_cgroupns {
                return mount(
                    Some("cgroup2"),
                    &fd_path(&target),
                    Some("cgroup2"),
                    flags,
                    NONE,
                )
                .ctx(|| format!("mount cgroup2 on {}", dest.display()));
            }
            mount(Some(&src), &fd_path(&target), NONE, MsFlags::MS_BIND, NONE)
                .ctx(|| format!("bind {} on {}", src.display(), dest.display()))?;
            let top = open_in_root(root, dest, libc::O_PATH)
                .ctx(|| format!("reopen {}", dest.display()))?;
            return remount_bind(&fd_path(&top), flags)
                .ctx(|| format!("remount {}", dest.display()));
        }
    };
    let tmpfs_flags = flags - MsFlags::MS_RDONLY;
    let data = lsm::label_mount_data(Some("mode=755".into()), lsm::mount_label(s.spec)?);
    mount(
        Some("tmpfs"),
        &fd_path(&target),
        Some("tmpfs"),
        tmpfs_flags,
        data.as_deref(),
    )
    .ctx(|| format!("mount tmpfs for cgroups on {}", dest.display()))?;
    for h in &hierarchies {
        let Some(name) = h.mount_point.file_name() else {
            continue;
        };
        let sub = dest.join(name);
        let t = ensure(root, &sub, Kind::Dir)?;
        if s.new_cgroupns {
            let data = h.controllers.join(",");
            mount(
                Some("cgroup"),
                &fd_path(&t),
                Some("cgroup"),
                flags,
                Some(data.as_str()),
            )
            .ctx(|| format!("mount cgroup ({data}) on {}", sub.display()))?;
        } else {
            let src = &h.dir;
            mount(Some(src), &fd_path(&t), NONE, MsFlags::MS_BIND, NONE)
                .ctx(|| format!("bind {} on {}", src.display(), sub.display()))?;
            let top = open_in_root(root, &sub, libc::O_PATH)
                .ctx(|| format!("reopen {}", sub.display()))?;
            remount_bind(&fd_path(&top), flags).ctx(|| format!("remount {}", sub.display()))?;
        }
        // Co-mounted controllers ("cpu,cpuacct") get a link per controller name.
        let name = name.to_string_lossy();
        if name.contains(',') {
            for c in name.split(',') {
                let dir = open_in_root(root, dest, libc::O_DIRECTORY)
                    .ctx(|| format!("open {}", dest.display()))?;
                let _ = nix::unistd::symlinkat(name.as_ref(), &dir, c);
            }
        }
    }
    if flags.contains(MsFlags::MS_RDONLY) {
        let top =
            open_in_root(root, dest, libc::O_PATH).ctx(|| format!("reopen {}", dest.display()))?;
        mount(
            NONE,
            &fd_path(&top),
            NONE,
            MsFlags::MS_REMOUNT | tmpfs_flags | MsFlags::MS_RDONLY,
            data.as_deref(),
        )
        .ctx(|| format!("remount {} read-only", dest.display()))?;
    }
    Ok(())
}

/// Swaps the root: pivot_root(2), or with `--no-pivot` MS_MOVE + chroot.
/// Enters the rootfs by chroot alone: the container has no mount
/// namespace of its own, so nothing may be moved or unmounted.
pub fn chroot_into(rootfs: &Path) -> Result<()> {
    nix::unistd::chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
    nix::unistd::chroot(".").ctx(|| format!("chroot into {}", rootfs.display()))?;
    nix::unistd::chdir("/").ctx(|| "chdir /".into())
}

/// For `--no-pivot`: the host's mount tree stays in the container's mount
/// namespace under the moved rootfs, and the kernel lets a new user
/// namespace mount a fresh procfs or sysfs whenever a fully visible one is
/// anywhere in its mount namespace (a container could then write
/// /proc/sysrq-trigger). Every procfs and sysfs mount outside the rootfs
/// (a whole filesystem, mountinfo root "/") is detached first, its
/// unmount kept from propagating; where unmounting is refused (rootless),
/// a tmpfs covers it.
fn detach_host_pseudo_filesystems(rootfs: &Path) -> Result<()> {
    let text = std::fs::read_to_string("/proc/self/mountinfo")
        .ctx(|| "--no-pivot: read /proc/self/mountinfo".into())?;
    // Mount points in mountinfo are canonical: so must the rootfs be, or
    // the container's own /proc would look like the host's.
    let rootfs = std::fs::canonicalize(rootfs)
        .ctx(|| format!("--no-pivot: resolve {}", rootfs.display()))?;
    let targets: Vec<PathBuf> = text
        .lines()
        .filter_map(crate::procinfo::mountinfo_line)
        .filter(|m| m.root == "/" && matches!(m.fstype, "proc" | "sysfs"))
        .map(|m| PathBuf::from(m.mount_point))
        .filter(|p| !p.starts_with(&rootfs))
        .collect();
    for p in targets {
        match mount(NONE, &p, NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE) {
            // Gone with an earlier detach of a mount above it.
            Err(nix::errno::Errno::ENOENT | nix::errno::Errno::EINVAL) => continue,
            r => r.ctx(|| format!("--no-pivot: make {} a slave mount", p.display()))?,
        }
        match umount2(&p, MntFlags::MNT_DETACH) {
            Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
            Err(nix::errno::Errno::EINVAL | nix::errno::Errno::EPERM) => {
                mount(Some("tmpfs"), &p, Some("tmpfs"), MsFlags::MS_RDONLY, NONE)
                    .ctx(|| format!("--no-pivot: cover {} with a tmpfs", p.display()))?;
            }
            Err(e) => {
                return Err(e).ctx(|| format!("--no-pivot: detach {}", p.display()));
            }
        }
    }
    Ok(())
}

pub fn enter(rootfs: &Path, no_pivot: bool) -> Result<()> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::Mode;
    if no_pivot {
        detach_host_pseudo_filesystems(rootfs)?;
        nix::unistd::chdir(rootfs).ctx(|| format!("chdir {}", rootfs.display()))?;
        mount(Some(rootfs), "/", NONE, MsFlags::MS_MOVE, NONE).ctx(|| "move rootfs to /".into())?;
        nix::unistd::chroot(".").ctx(|| "chroot into rootfs".into())?;
        return nix::unistd::chdir("/").ctx(|| "chdir /".into());
    }
    let flags = OFlag::O_DIRECTORY | OFlag::O_RDONLY | OFlag::O_CLOEXEC;
    let old = open("/", flags, Mode::empty()).ctx(|| "open /".into())?;
    let new = open(rootfs, flags, Mode::empty()).ctx(|| format!("open {}", rootfs.display()))?;
    nix::unistd::fchdir(new.as_fd()).ctx(|| "fchdir rootfs".into())?;
    nix::unistd::pivot_root(".", ".").ctx(|| format!("pivot_root into {}", rootfs.display()))?;
    nix::unistd::fchdir(old.as_fd()).ctx(|| "fchdir old root".into())?;
    // The old root is stacked under the new one: detach it without
    // propagating the unmount to the host.
    mount(NONE, ".", NONE, MsFlags::MS_SLAVE | MsFlags::MS_REC, NONE)
        .ctx(|| "make old root rslave".into())?;
    umount2(".", MntFlags::MNT_DETACH).ctx(|| "unmount old root".into())?;
    nix::unistd::chdir("/").ctx(|| "chdir /".into())
}

/// procfs and sysfs go on an ordinary directory of the rootfs (or a new
/// one), never through a symlink (CVE-2019-16884, CVE-2023-28642): a
/// `/proc -> /fakeproc` link would put procfs where a volume can cover it,
/// and hull's writes to /proc would land in that volume.
fn ordinary_directory(root: std::os::fd::BorrowedFd, dest: &Path, typ: &str) -> Result<()> {
    let fd = match paths::open_in_root(root, dest, libc::O_PATH | libc::O_NOFOLLOW) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(()),
        Err(e) => return Err(e).ctx(|| format!("resolve {} in rootfs", dest.display())),
    };
    let st = nix::sys::stat::fstat(&fd).ctx(|| format!("stat {}", dest.display()))?;
    let what = match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => return Ok(()),
        libc::S_IFLNK => {
            let target = nix::fcntl::readlinkat(&fd, "")
                .map(|t| format!(" (to {:?})", t))
                .unwrap_or_default();
            format!("a symlink{target}")
        }
        _ => "not a directory".to_string(),
    };
    Err(Error::msg(format!(
        "{} is {what}: {typ} must be mounted on an ordinary directory",
        dest.display()
    )))
}

/// Mounts under /proc may only bring procfs (CVE-2019-16884 class): a bind
/// of anything else there could hide the real /proc files from hull's own
/// checks. A few files are allowed for lxcfs-style overlays.
fn check_proc_destination(dest: &Path, typ: &str, src: Option<&Path>) -> Result<()> {
    let rel = paths::relative(dest);
    if !rel.starts_with("proc") {
        return Ok(());
    }
    if typ == "proc" && rel == Path::new("proc") {
        return Ok(());
    }
    const ALLOWED: [&str; 9] = [
        "proc/cpuinfo",
        "proc/diskstats",
        "proc/meminfo",
        "proc/stat",
        "proc/swaps",
        "proc/uptime",
        "proc/loadavg",
        "proc/slabinfo",
        "proc/net/dev",
    ];
    if ALLOWED.iter().any(|a| rel == Path::new(a)) {
        return Ok(());
    }
    let on_procfs = src
        .and_then(|s| nix::sys::statfs::statfs(s).ok())
        .is_some_and(|st| st.filesystem_type() == nix::sys::statfs::PROC_SUPER_MAGIC);
    if on_procfs {
        return Ok(());
    }
    Err(Error::msg(format!(
        "{} is under /proc: only procfs (or one of the lxcfs-style files) may be mounted there",
        dest.display()
    )))
}

pub fn unknown_field(field: &str, value: &str) -> Error {
    Error::msg(format!("{field}: unsupported value {value:?}"))
}
