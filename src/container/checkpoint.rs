//! `checkpoint` and `restore` through CRIU (src/criu.rs is the RPC).
//!
//! Checkpoint dumps the container's process tree (with its namespaces,
//! mounts and cgroup) into an image directory and, unless asked to leave it
//! running, removes the container as `delete` would. Restore builds a new
//! container (state dir, cgroup) from a bundle, has CRIU recreate the tree
//! there as a child of hull, and then behaves as `run` does: it returns at
//! once with `--detach`, or waits for the container and returns its status.
//!
//! What CRIU cannot see from inside the container is described to it as
//! runc describes it, so images move between the two: bind mounts are
//! external mounts keyed by their destination, masked files are external
//! mounts of /dev/null, namespaces joined by path are external, and the
//! init's stdio is recorded in `descriptors.json` so pipes can be handed to
//! the restored process.

use super::lifecycle::{delete, destroy, wait_exit};
use super::{Container, State, Status, validate_id, write_state};
use crate::cgroups;
use crate::criu::{self, ExtMount, InheritFd, Opts, ReqType};
use crate::error::{Context, Error, Result};
use crate::spec::Bundle;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// The file beside the images that records the init's stdio (runc's name).
const DESCRIPTORS: &str = "descriptors.json";

/// Flags both commands share, named as runc names them.
#[derive(Debug, Default, Clone)]
pub struct CriuFlags {
    pub image_path: Option<PathBuf>,
    pub work_path: Option<PathBuf>,
    pub tcp_established: bool,
    pub ext_unix_sk: bool,
    pub shell_job: bool,
    pub file_locks: bool,
    pub lazy_pages: bool,
    pub manage_cgroups_mode: Option<String>,
    pub empty_ns: Vec<String>,
}

#[derive(Debug, Default)]
pub struct CheckpointOptions {
    pub root: PathBuf,
    pub id: String,
    pub criu: CriuFlags,
    pub parent_path: Option<PathBuf>,
    pub leave_running: bool,
    pub pre_dump: bool,
    pub auto_dedup: bool,
    pub status_fd: Option<i32>,
    pub page_server: Option<String>,
}

#[derive(Debug, Default)]
pub struct RestoreOptions {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub criu: CriuFlags,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    pub no_subreaper: bool,
    pub no_pivot: bool,
    pub lsm_profile: Option<String>,
    pub lsm_mount_context: Option<String>,
}

/// The image directory: `--image-path`, else `checkpoint` in the current
/// directory (runc's default).
fn image_dir(flags: &CriuFlags) -> Result<PathBuf> {
    let dir = flags
        .image_path
        .clone()
        .unwrap_or_else(|| PathBuf::from("checkpoint"));
    std::path::absolute(&dir).ctx(|| format!("--image-path {}", dir.display()))
}

fn open_dir(path: &Path, flag: &str) -> Result<OwnedFd> {
    nix::fcntl::open(
        path,
        nix::fcntl::OFlag::O_DIRECTORY | nix::fcntl::OFlag::O_RDONLY | nix::fcntl::OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .ctx(|| format!("{flag} {}", path.display()))
}

/// Options every request carries.
fn base_opts(flags: &CriuFlags, images: &OwnedFd, work: &OwnedFd, log: &str) -> Result<Opts> {
    let mut o = Opts::new();
    o.set_images_dir_fd(images.as_raw_fd());
    o.set_work_dir_fd(work.as_raw_fd());
    o.set_log_level(4);
    o.set_log_file(log.to_string());
    o.set_manage_cgroups(true);
    o.set_notify_scripts(true);
    o.set_shell_job(flags.shell_job);
    o.set_tcp_established(flags.tcp_established);
    o.set_ext_unix_sk(flags.ext_unix_sk);
    o.set_file_locks(flags.file_locks);
    o.set_lazy_pages(flags.lazy_pages);
    if let Some(mode) = &flags.manage_cgroups_mode {
        o.set_manage_cgroups_mode(criu::cgroup_mode(mode)?);
    }
    let empty = criu::empty_ns_flags(&flags.empty_ns)?;
    if empty != 0 {
        o.set_empty_ns(empty);
    }
    Ok(o)
}

fn is_bind(m: &oci_spec::runtime::Mount) -> bool {
    m.typ().as_deref() == Some("bind")
        || m.options()
            .as_ref()
            .is_some_and(|o| o.iter().any(|x| x == "bind" || x == "rbind"))
}

/// Masked paths that are files inside the container: hull binds /dev/null
/// over them, which CRIU sees as an external mount.
fn masked_files(spec: &Spec, container_root: &Path) -> Vec<String> {
    let masked = spec
        .linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default();
    masked
        .into_iter()
        .filter(|p| {
            let inside = container_root.join(p.trim_start_matches('/'));
            std::fs::symlink_metadata(inside).is_ok_and(|m| !m.is_dir())
        })
        .collect()
}

/// Namespaces the config joins by path, as CRIU's external keys
/// ("net[INODE]:extRootNetNS"), with the path for restore.
fn joined_namespaces(spec: &Spec) -> Vec<(&'static str, &'static str, PathBuf)> {
    let Some(nss) = spec.linux().as_ref().and_then(|l| l.namespaces().clone()) else {
        return Vec::new();
    };
    nss.iter()
        .filter_map(|n| {
            let path = n.path().clone()?;
            match n.typ() {
                LinuxNamespaceType::Network => Some(("net", "extRootNetNS", path)),
                LinuxNamespaceType::Pid => Some(("pid", "extRootPidNS", path)),
                _ => None,
            }
        })
        .collect()
}

fn ns_inode(path: &Path) -> Result<u64> {
    use std::os::unix::fs::MetadataExt;
    Ok(std::fs::metadata(path)
        .ctx(|| format!("namespace {}", path.display()))?
        .ino())
}

/// `checkpoint`: dump a running (or paused) container into the image dir.
pub fn checkpoint(o: CheckpointOptions) -> Result<()> {
    let c = Container::load(&o.root, &o.id)?;
    match c.status() {
        Status::Running | Status::Paused => {}
        s => {
            return Err(Error::msg(format!(
                "cannot checkpoint container \"{}\": it is {s}, not running",
                o.id
            )));
        }
    }
    criu::check_version()?;
    let spec = c.saved_spec()?;
    let images_path = image_dir(&o.criu)?;
    std::fs::create_dir_all(&images_path)
        .ctx(|| format!("--image-path: create {}", images_path.display()))?;
    let work_path = match &o.criu.work_path {
        Some(p) => {
            std::fs::create_dir_all(p).ctx(|| format!("--work-path: create {}", p.display()))?;
            p.clone()
        }
        None => images_path.clone(),
    };
    if let Some(parent) = &o.parent_path {
        let full = images_path.join(parent);
        if !full.is_dir() {
            return Err(Error::msg(format!(
                "--parent-path {}: {} is not a directory of earlier images",
                parent.display(),
                full.display()
            )));
        }
    }
    let images = open_dir(&images_path, "--image-path")?;
    let work = open_dir(&work_path, "--work-path")?;
    let log = if o.pre_dump {
        "pre-dump.log"
    } else {
        "dump.log"
    };
    let mut opts = base_opts(&o.criu, &images, &work, log)?;
    opts.set_pid(c.state.pid);
    opts.set_root(c.state.rootfs.display().to_string());
    opts.set_leave_running(o.leave_running);
    opts.set_auto_dedup(o.auto_dedup);
    // A terminal's master lives outside the container (with the engine):
    // CRIU records the slave as an orphan, and restore makes a new pair.
    opts.set_orphan_pts_master(true);
    if o.pre_dump {
        opts.set_track_mem(true);
    }
    if let Some(parent) = &o.parent_path {
        opts.set_parent_img(parent.display().to_string());
        opts.set_track_mem(true);
    }
    let mut keep = vec![images.as_raw_fd(), work.as_raw_fd()];
    if let Some(fd) = o.status_fd {
        opts.set_status_fd(fd);
        keep.push(fd);
    }
    if let Some(ps) = &o.page_server {
        let (addr, port) = ps
            .rsplit_once(':')
            .ok_or_else(|| Error::msg(format!("--page-server {ps}: expected ADDRESS:PORT")))?;
        let port: i32 = port
            .parse()
            .map_err(|_| Error::msg(format!("--page-server {ps}: bad port \"{port}\"")))?;
        let mut info = criu::PageServer::new();
        info.set_address(addr.to_string());
        info.set_port(port);
        opts.ps = protobuf::MessageField::some(info);
    }
    let proc_root = PathBuf::from(format!("/proc/{}/root", c.state.pid));
    for m in spec.mounts().as_deref().unwrap_or(&[]) {
        if is_bind(m) {
            let dest = m.destination().display().to_string();
            opts.ext_mnt.push(ext_mount(&dest, &dest));
        }
    }
    for path in masked_files(&spec, &proc_root) {
        opts.ext_mnt.push(ext_mount(&path, &path));
    }
    for (kind, key, path) in joined_namespaces(&spec) {
        opts.external
            .push(format!("{kind}[{}]:{key}", ns_inode(&path)?));
    }
    if c.status() == Status::Paused && !c.state.cgroup_path.is_empty() {
        // CRIU thaws and refreezes through the freezer rather than seizing
        // frozen tasks.
        let dir = match cgroups::host_version() {
            cgroups::Version::V2 => format!("{}{}", cgroups::CGROUP_ROOT, c.state.cgroup_path),
            cgroups::Version::V1 => {
                format!("{}/freezer{}", cgroups::CGROUP_ROOT, c.state.cgroup_path)
            }
        };
        opts.set_freeze_cgroup(dir);
    }
    if !o.pre_dump {
        save_descriptors(&images_path, c.state.pid)?;
    }
    let kind = if o.pre_dump {
        ReqType::PRE_DUMP
    } else {
        ReqType::DUMP
    };
    let started = std::time::Instant::now();
    criu::call(
        criu::Request {
            kind,
            opts,
            keep_fds: keep,
            before_send: None,
        },
        &mut |_, _, _| Ok(()),
    )
    .map_err(|e| with_log(e, &work_path.join(log)))?;
    crate::logging::debug(format!(
        "{} of {} done in {:.1?}",
        if o.pre_dump { "pre-dump" } else { "dump" },
        o.id,
        started.elapsed()
    ));
    if o.pre_dump || o.leave_running {
        return Ok(());
    }
    // CRIU killed the tree after the dump: the container is gone.
    if !wait_exit(c.state.pid, c.state.pid_start_time, 10_000) {
        return Err(Error::msg(format!(
            "checkpoint: container init {} still runs after the dump",
            c.state.pid
        )));
    }
    destroy(&c)
}

fn ext_mount(key: &str, val: &str) -> ExtMount {
    let mut m = ExtMount::new();
    m.set_key(key.to_string());
    m.set_val(val.to_string());
    m
}

fn with_log(e: Error, log: &Path) -> Error {
    let errors = criu::log_errors(log);
    if errors.is_empty() {
        Error::msg(format!("{e} (log: {})", log.display()))
    } else {
        Error::msg(format!("{e}: {errors} (log: {})", log.display()))
    }
}

/// What the init's stdio was: restore hands pipes on to the new process.
fn save_descriptors(images: &Path, pid: i32) -> Result<()> {
    let fds: Vec<String> = (0..3)
        .map(|fd| {
            std::fs::read_link(format!("/proc/{pid}/fd/{fd}"))
                .map(|p| p.display().to_string())
                .unwrap_or_else(|_| "/dev/null".to_string())
        })
        .collect();
    let path = images.join(DESCRIPTORS);
    let text = serde_json::to_string(&fds).expect("strings serialize");
    std::fs::write(&path, text).ctx(|| format!("write {}", path.display()))
}

fn load_descriptors(images: &Path) -> Result<Vec<String>> {
    let path = images.join(DESCRIPTORS);
    let text = std::fs::read(&path).ctx(|| {
        format!(
            "--image-path: {} (is this a checkpoint's image directory?)",
            path.display()
        )
    })?;
    serde_json::from_slice(&text).map_err(|e| Error::msg(format!("{}: {e}", path.display())))
}

/// `restore`: a new container from a bundle and a checkpoint's images.
/// Returns the exit code (0 with `--detach`).
pub fn restore(mut o: RestoreOptions) -> Result<i32> {
    use crate::process::supervise;
    validate_id(&o.id)?;
    crate::check::preflight(&o.bundle)?;
    let bundle = Bundle::load(&o.bundle)?;
    if o.root.join(&o.id).exists() {
        return Err(Error::msg(format!(
            "container \"{}\" already exists: restore needs a new id (or delete the old container first)",
            o.id
        )));
    }
    let images_path = image_dir(&o.criu)?;
    if !images_path.is_dir() {
        return Err(Error::msg(format!(
            "--image-path {}: no such directory of checkpoint images",
            images_path.display()
        )));
    }
    let descriptors = load_descriptors(&images_path)?;
    criu::check_version()?;
    let process = bundle.spec.process().as_ref().expect("validated");
    let terminal = process.terminal().unwrap_or(false);
    let fixed_size = process.console_size().is_some();
    if terminal && o.detach && o.console_socket.is_none() {
        return Err(Error::msg(
            "process.terminal is true: a detached restore needs --console-socket for the terminal",
        ));
    }
    if !o.detach {
        if !o.no_subreaper {
            supervise::become_subreaper()?;
        }
        supervise::block_signals()?;
    }
    let console = match &o.console_socket {
        Some(p) => Some(
            std::os::unix::net::UnixStream::connect(p)
                .ctx(|| format!("--console-socket: connect {}", p.display()))?,
        ),
        None => None,
    };
    let linux = bundle.spec.linux().as_ref();
    let cgroup_path =
        cgroups::resolve_path(linux.and_then(|l| l.cgroups_path().as_deref()), &o.id)?;
    let mut state = State::creating(&o.id, &bundle, &cgroup_path);
    let (dir, lock) = Container::create(&o.root, &o.id, &state)?;
    let cgroup_existed = cgroups::manager(&cgroup_path).exists();
    let mut restored_pid = 0;
    let mut master: Option<OwnedFd> = None;
    let result = (|| -> Result<()> {
        std::fs::write(dir.join(crate::spec::CONFIG), &bundle.raw)
            .ctx(|| format!("save {}", dir.join(crate::spec::CONFIG).display()))?;
        let cgroup = cgroups::setup(&cgroup_path, linux.and_then(|l| l.resources().as_ref()))?;
        if cgroup.is_skipped() {
            state.cgroup_path = String::new();
        }
        let work_path = match &o.criu.work_path {
            Some(p) => {
                std::fs::create_dir_all(p)
                    .ctx(|| format!("--work-path: create {}", p.display()))?;
                p.clone()
            }
            None => images_path.clone(),
        };
        let images = open_dir(&images_path, "--image-path")?;
        let work = open_dir(&work_path, "--work-path")?;
        let criu_root = prepare_root(&dir, &bundle)?;
        let mut opts = base_opts(&o.criu, &images, &work, "restore.log")?;
        opts.set_root(criu_root.0.display().to_string());
        opts.set_rst_sibling(true);
        if terminal {
            opts.set_orphan_pts_master(true);
        }
        if let Some(p) = &o.lsm_profile {
            opts.set_lsm_profile(p.clone());
        }
        if let Some(c) = &o.lsm_mount_context {
            opts.set_lsm_mount_context(c.clone());
        }
        for m in bundle.spec.mounts().as_deref().unwrap_or(&[]) {
            if is_bind(m) {
                let source = m.source().clone().unwrap_or_default();
                let source = if source.is_relative() {
                    bundle.dir.join(source)
                } else {
                    source
                };
                opts.ext_mnt.push(ext_mount(
                    &m.destination().display().to_string(),
                    &source.display().to_string(),
                ));
            }
        }
        for path in masked_paths(&bundle.spec) {
            opts.ext_mnt.push(ext_mount(&path, "/dev/null"));
        }
        let mut keep = vec![images.as_raw_fd(), work.as_raw_fd()];
        // Pipes the init had are replaced by ours (stdio 0..2, which CRIU
        // inherits); files and /dev/null are reopened by CRIU itself.
        for (fd, what) in descriptors.iter().enumerate() {
            if what.starts_with("pipe:") {
                let mut i = InheritFd::new();
                i.set_key(what.clone());
                i.set_fd(fd as i32);
                opts.inherit_fd.push(i);
            }
        }
        let mut ns_files = Vec::new();
        for (_, key, path) in joined_namespaces(&bundle.spec) {
            let f = std::fs::File::open(&path).ctx(|| format!("namespace {}", path.display()))?;
            let mut i = InheritFd::new();
            i.set_key(key.to_string());
            i.set_fd(f.as_raw_fd());
            keep.push(f.as_raw_fd());
            opts.inherit_fd.push(i);
            ns_files.push(f);
        }
        let spec = &bundle.spec;
        let id = o.id.clone();
        let bundle_dir = bundle.dir.clone();
        let cgroup_ref = cgroup.as_ref();
        let mut place = |criu_pid: i32, opts: &mut Opts| -> Result<()> {
            if cgroup_ref.is_skipped() {
                return Ok(());
            }
            // CRIU puts the restored tasks where it runs itself.
            cgroup_ref.add_process(criu_pid)?;
            for (ctrl, path) in own_cgroups(criu_pid)? {
                let mut root = criu::CgroupRoot::new();
                root.set_ctrl(ctrl);
                root.set_path(path);
                opts.cg_root.push(root);
            }
            Ok(())
        };
        let mut notify = |script: &str, n: &criu::Notify, fd: Option<OwnedFd>| -> Result<()> {
            match script {
                "setup-namespaces" => {
                    let state =
                        crate::hooks::state_json(&id, "created", n.pid(), &bundle_dir, spec);
                    crate::hooks::run(spec, crate::hooks::Kind::Prestart, &state)?;
                    crate::hooks::run(spec, crate::hooks::Kind::CreateRuntime, &state)?;
                }
                "post-restore" => restored_pid = n.pid(),
                "orphan-pts-master" => master = fd,
                _ => {}
            }
            Ok(())
        };
        let started = std::time::Instant::now();
        let pid = criu::call(
            criu::Request {
                kind: ReqType::RESTORE,
                opts,
                keep_fds: keep,
                before_send: Some(&mut place),
            },
            &mut notify,
        )
        .map_err(|e| with_log(e, &work_path.join("restore.log")))?;
        drop(ns_files);
        drop(criu_root);
        if restored_pid == 0 {
            restored_pid = pid;
        }
        crate::logging::debug(format!(
            "restored {} (init pid {restored_pid}) in {:.1?}",
            o.id,
            started.elapsed()
        ));
        if restored_pid <= 0 {
            return Err(Error::msg("criu: restore reported no init pid"));
        }
        state.status = Status::Running;
        state.pid = restored_pid;
        state.pid_start_time = crate::procinfo::start_time(restored_pid).unwrap_or(0);
        write_state(&dir, &state)?;
        if let Some(p) = &o.pid_file {
            super::lifecycle::write_pid_file(p, restored_pid)?;
        }
        if let (Some(sock), Some(m)) = (&console, master.as_ref()) {
            crate::console::send_fd(sock.as_raw_fd(), m, b"console")
                .ctx(|| "--console-socket: send the terminal".to_string())?;
            master = None;
        }
        Ok(())
    })();
    if let Err(e) = result {
        if restored_pid > 0 {
            let _ = crate::process::signals::send(restored_pid, libc::SIGKILL);
            let _ = wait_exit(restored_pid, 0, 5_000);
        }
        if !cgroup_existed && let Err(ce) = cgroups::manager(&cgroup_path).destroy() {
            crate::logging::warn(format!("clean-up: {ce}"));
        }
        let _ = std::fs::remove_dir_all(&dir);
        return Err(e);
    }
    let container = Container::from_parts(dir, state.clone(), lock);
    drop(container);
    if o.detach {
        return Ok(0);
    }
    let code = supervise::supervise(state.pid, master.take(), fixed_size)?;
    delete(&o.root, &o.id, true)?;
    let _ = &mut o;
    Ok(code)
}

fn masked_paths(spec: &Spec) -> Vec<String> {
    // At restore the container does not exist yet: CRIU's image knows which
    // masked paths were file mounts; offering /dev/null for all is harmless,
    // as CRIU only looks up the keys it recorded.
    spec.linux()
        .as_ref()
        .and_then(|l| l.masked_paths().clone())
        .unwrap_or_default()
}

/// The (controller, path) pairs of a process's cgroups, as CRIU's cgroup
/// roots: where the restored tree is to live.
fn own_cgroups(pid: i32) -> Result<Vec<(String, String)>> {
    let path = format!("/proc/{pid}/cgroup");
    let text = std::fs::read_to_string(&path).ctx(|| format!("read {path}"))?;
    Ok(text
        .lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let _id = parts.next()?;
            let ctrl = parts.next()?.trim_start_matches("name=").to_string();
            let path = parts.next()?.to_string();
            Some((ctrl, path))
        })
        .collect())
}

/// CRIU needs the rootfs as a mount point of its own: it is bound onto
/// `criu-root` in the state dir for the time of the restore (the guard
/// detaches it again, before anything could remove the state dir through
/// it). Mount points the config needs that the rootfs lacks are created
/// first.
fn prepare_root(state_dir: &Path, bundle: &Bundle) -> Result<RootBind> {
    use nix::mount::{MsFlags, mount};
    create_mount_points(bundle)?;
    let target = state_dir.join("criu-root");
    std::fs::create_dir_all(&target).ctx(|| format!("create {}", target.display()))?;
    mount(
        Some(&bundle.rootfs),
        &target,
        None::<&str>,
        MsFlags::MS_BIND | MsFlags::MS_REC,
        None::<&str>,
    )
    .ctx(|| {
        format!(
            "restore: bind {} on {}",
            bundle.rootfs.display(),
            target.display()
        )
    })?;
    Ok(RootBind(target))
}

/// The rootfs bound for CRIU; detached and its mount point removed on drop.
struct RootBind(PathBuf);

impl Drop for RootBind {
    fn drop(&mut self) {
        if let Err(e) = nix::mount::umount2(&self.0, nix::mount::MntFlags::MNT_DETACH) {
            crate::logging::warn(format!("restore: unmount {}: {e}", self.0.display()));
            return;
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// Bind-mount destinations missing from the rootfs, except under a tmpfs
/// mount (CRIU restores a tmpfs's content itself).
fn create_mount_points(bundle: &Bundle) -> Result<()> {
    use crate::rootfs::paths::{Kind, ensure, open_root};
    let mounts = bundle.spec.mounts().as_deref().unwrap_or(&[]);
    let tmpfs: Vec<&Path> = mounts
        .iter()
        .filter(|m| m.typ().as_deref() == Some("tmpfs"))
        .map(|m| m.destination().as_path())
        .collect();
    let root = open_root(&bundle.rootfs)?;
    for m in mounts.iter().filter(|m| is_bind(m)) {
        let dest = m.destination();
        if tmpfs.iter().any(|t| dest.starts_with(t) && dest != *t) {
            continue;
        }
        let source = m.source().clone().unwrap_or_default();
        let source = if source.is_relative() {
            bundle.dir.join(source)
        } else {
            source
        };
        let kind = if std::fs::metadata(&source).is_ok_and(|s| !s.is_dir()) {
            Kind::File
        } else {
            Kind::Dir
        };
        use std::os::fd::AsFd;
        ensure(root.as_fd(), dest, kind)?;
    }
    Ok(())
}

/// Whether a checkpoint can work here: CRIU present and new enough.
pub fn available() -> bool {
    criu::check_version().is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cgroups_reads_v1_and_v2_lines() {
        let pid = std::process::id() as i32;
        let got = own_cgroups(pid).unwrap();
        assert!(!got.is_empty());
        assert!(got.iter().all(|(_, p)| p.starts_with('/')));
    }
}
