//! The child side: stage 1 (join namespaces, create the user and time
//! namespaces) and the init stage (PID 1 of the container), which sets up
//! the rootfs and process, waits for `start`, then execs the user process.

use super::attrs;
use super::sync::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::hooks;
use crate::namespaces::Plan;
use crate::rootfs;
use crate::security::{self, seccomp};
use nix::sched::CloneFlags;
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::ffi::CString;
use std::os::fd::{FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub struct InitConfig<'a> {
    pub id: &'a str,
    pub spec: &'a Spec,
    pub rootfs: &'a Path,
    pub bundle: &'a Path,
    pub cgroup_path: &'a str,
    pub plan: &'a Plan,
    pub sync_fd: RawFd,
    pub listen_fd: RawFd,
    pub console_fd: Option<RawFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub inherited_fds: i32,
    pub listen_fds: i32,
    /// linux.seccomp, compiled by the parent.
    pub seccomp: Option<&'a seccomp::Filter>,
    /// Connected socket to linux.seccomp.listenerPath (SCMP_ACT_NOTIFY).
    pub seccomp_listener: Option<RawFd>,
    pub cgroup: &'a dyn crate::cgroups::Manager,
    /// The init moves itself into the v1 hierarchies (the fast placement).
    pub cgroup_self_join: bool,
    /// Idmapped mounts prepared by the parent: (index in `mounts`, detached tree).
    pub idmapped: &'a [(usize, RawFd)],
}

fn channel(cfg: &InitConfig) -> std::mem::ManuallyDrop<Channel> {
    // SAFETY: sync_fd stays open for the life of this process; ManuallyDrop
    // keeps this borrowed view from closing it.
    std::mem::ManuallyDrop::new(Channel::from_fd(unsafe {
        OwnedFd::from_raw_fd(cfg.sync_fd)
    }))
}

/// Routes this process's --debug lines to the parent over the sync channel
/// (see logging::set_forward), prefixed with the stage and the time since it began.
fn forward_debug(sync_fd: RawFd, stage: &'static str) {
    let started = std::time::Instant::now();
    crate::logging::set_forward(Some(Box::new(move |msg: &str| {
        // SAFETY: as in channel(): the descriptor outlives this process's use of it.
        let chan =
            std::mem::ManuallyDrop::new(Channel::from_fd(unsafe { OwnedFd::from_raw_fd(sync_fd) }));
        let _ = chan.send(&Msg::Debug {
            msg: format!("{stage} (+{:.1?}): {msg}", started.elapsed()),
        });
    })));
}

/// Once the sync channel is closed, debug lines without a --log file are
/// dropped: stderr is the container's.
fn stop_forwarding_debug() {
    crate::logging::set_forward(Some(Box::new(|_: &str| {})));
}

fn die(cfg: &InitConfig, stage: &str, e: Error) -> ! {
    let _ = channel(cfg).send(&Msg::Error {
        msg: format!("{stage}: {e}"),
    });
    // SAFETY: _exit skips atexit handlers and destructors of the copied parent state.
    unsafe { libc::_exit(1) }
}

/// Stage 1: joins namespaces by path, creates the user namespace (the
/// parent writes its id maps) and the time namespace (with offsets), then
/// clones the init into the remaining new namespaces.
pub fn stage1(
    cfg: &InitConfig,
    join_fds: &[(LinuxNamespaceType, OwnedFd)],
    _flags: CloneFlags,
    clone_init: impl FnOnce(&InitConfig) -> Result<i32>,
) -> ! {
    forward_debug(cfg.sync_fd, "stage 1");
    let run = || -> Result<i32> {
        // Still root on the host: enter the rootfs now. The init inherits
        // this working directory (carried into its new mount namespace),
        // so it reaches the rootfs even where the container's mapped root
        // cannot traverse the path to it (a 0700 directory of the host's).
        if let Err(e) = nix::unistd::chdir(cfg.rootfs) {
            crate::logging::debug(format!("chdir {}: {e}", cfg.rootfs.display()));
        }
        for (t, _) in join_fds {
            crate::logging::debug(format!(
                "join the {} namespace (setns)",
                crate::namespaces::type_word(*t)
            ));
        }
        crate::namespaces::join(cfg.plan, join_fds)?;
        // setns(CLONE_NEWUSER) gives every capability in the joined user
        // namespace but keeps the host's ids, which that namespace does not
        // map: files the init creates (the rootfs's /dev/pts...) would have
        // an owner it cannot represent (EOVERFLOW). Become its root first;
        // its id maps were written by whoever created it, never by hull.
        if cfg.plan.joins(LinuxNamespaceType::User) {
            crate::logging::debug("become root in the joined user namespace");
            become_root_in_userns()?;
        }
        let chan = channel(cfg);
        // The time namespace is made while hull is still root on the host:
        // writing its offsets needs CAP_SYS_TIME over its owner.
        if cfg.plan.creates(LinuxNamespaceType::Time) {
            crate::logging::debug("create the time namespace (unshare CLONE_NEWTIME)");
            nix::sched::unshare(CloneFlags::from_bits_retain(libc::CLONE_NEWTIME))
                .ctx(|| "unshare time namespace".into())?;
            if let Some(offsets) = cfg
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.time_offsets().as_ref())
            {
                crate::namespaces::write_time_offsets(offsets)?;
            }
        }
        if cfg.plan.creates(LinuxNamespaceType::User) {
            crate::logging::debug("create the user namespace (unshare CLONE_NEWUSER)");
            nix::sched::unshare(CloneFlags::CLONE_NEWUSER)
                .ctx(|| "unshare user namespace".into())?;
            chan.send(&Msg::MapIds {
                pid: nix::unistd::getpid().as_raw(),
            })?;
            chan.expect(Msg::MapsDone)?;
            become_root_in_userns()?;
        }
        clone_init(cfg)
    };
    match run() {
        Ok(pid) => {
            let _ = channel(cfg).send(&Msg::InitPid { pid });
            // SAFETY: see die().
            unsafe { libc::_exit(0) }
        }
        Err(e) => die(cfg, "stage 1", e),
    }
}

fn become_root_in_userns() -> Result<()> {
    let root = nix::unistd::Uid::from_raw(0);
    let gid = nix::unistd::Gid::from_raw(0);
    nix::unistd::setresgid(gid, gid, gid)
        .ctx(|| "setresgid 0 in the user namespace (is gid 0 mapped?)".into())?;
    nix::unistd::setresuid(root, root, root)
        .ctx(|| "setresuid 0 in the user namespace (is uid 0 mapped?)".into())
}

/// The init stage: never returns.
pub fn run(cfg: &InitConfig) -> ! {
    match setup(cfg) {
        Ok(never) => match never {},
        Err(e) => die(cfg, "init", e),
    }
}

fn reset_signals() {
    use nix::sys::signal::{SigHandler, SigSet, SigmaskHow, Signal, signal};
    let _ = nix::sys::signal::sigprocmask(SigmaskHow::SIG_SETMASK, Some(&SigSet::empty()), None);
    for sig in Signal::iterator() {
        if sig != Signal::SIGKILL && sig != Signal::SIGSTOP {
            // SAFETY: restoring default dispositions installs no Rust handler.
            let _ = unsafe { signal(sig, SigHandler::SigDfl) };
        }
    }
}

enum Never {}

fn setup(cfg: &InitConfig) -> Result<Never> {
    let spec = cfg.spec;
    let process = spec.process().as_ref().expect("validated");
    let chan = channel(cfg);
    forward_debug(cfg.sync_fd, "init");
    reset_signals();
    let host_pid = match chan.recv()? {
        Some(Msg::Go { pid }) => pid,
        Some(Msg::Error { msg }) => return Err(Error::Msg(msg)),
        other => return Err(Error::msg(format!("sync: expected Go, got {other:?}"))),
    };
    if cfg.cgroup_self_join {
        cfg.cgroup.join_self_v1()?;
    }
    // Also true when hull itself was started in a user namespace (rootless
    // podman runs the runtime in its own): mknod is refused there too.
    let in_userns = cfg.plan.creates(LinuxNamespaceType::User)
        || cfg.plan.joins(LinuxNamespaceType::User)
        || crate::namespaces::in_child_user_namespace();
    // Outside a user namespace /proc/self stays root's either way: protect
    // the image at once. In one, later writes to /proc/self (oom_score_adj,
    // mode 0644) need it dumpable: becoming root in the new user namespace
    // (setresuid in stage 1, a change of euid) made the process
    // non-dumpable, and a non-dumpable process's /proc files belong to the
    // host's root, which the namespace's root cannot write. It is made
    // non-dumpable again before it reports Ready.
    if in_userns {
        attrs::set_dumpable();
    } else {
        attrs::set_non_dumpable();
    }
    crate::logging::debug(format!("started as host pid {host_pid}"));
    if cfg.plan.creates(LinuxNamespaceType::Cgroup) {
        crate::logging::debug("create the cgroup namespace (unshare CLONE_NEWCGROUP)");
        nix::sched::unshare(CloneFlags::CLONE_NEWCGROUP)
            .ctx(|| "unshare cgroup namespace".into())?;
    }
    if cfg.plan.creates(LinuxNamespaceType::Network) {
        crate::namespaces::loopback_up()?;
    }
    nix::unistd::setsid().ctx(|| "setsid".into())?;
    if !cfg.no_new_keyring {
        // Before pivot_root: /proc here is the host's, in this mount namespace.
        security::lsm::set_keycreate_label(process)?;
        join_session_keyring(cfg.id);
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::empty());
    // Without a mount namespace of its own the container shares hull's (a
    // namespace not listed is inherited): nothing is mounted into it, and
    // the rootfs is entered by chroot (`hull check` lists what is not made).
    let own_mounts =
        cfg.plan.creates(LinuxNamespaceType::Mount) || cfg.plan.joins(LinuxNamespaceType::Mount);
    // The rootfs as the init reaches it (see rootfs::prepare).
    let mut rootfs_path = cfg.rootfs.to_path_buf();
    if own_mounts {
        rootfs_path = rootfs::prepare(&rootfs::Setup {
            spec,
            rootfs: cfg.rootfs,
            bundle: cfg.bundle,
            cgroup_view: &|| cgroup_view(cfg.cgroup_path, !cfg.cgroup.is_skipped(), cfg.rootfs),
            new_cgroupns: cfg.plan.creates(LinuxNamespaceType::Cgroup),
            in_userns,
            idmapped: cfg.idmapped,
        })?;
    } else {
        crate::logging::debug(
            "no mount namespace: sharing the runtime's; no mounts are made, the rootfs is entered by chroot",
        );
    }
    if !hooks::list(spec, hooks::Kind::Prestart).is_empty()
        || !hooks::list(spec, hooks::Kind::CreateRuntime).is_empty()
    {
        chan.send(&Msg::RunHooks)?;
        chan.expect(Msg::HooksDone)?;
    }
    let hook_state = |status: &str| hooks::state_json(cfg.id, status, host_pid, cfg.bundle, spec);
    // "created" as crun says (and the OCI validation suite expects): the
    // create operation's environment exists when these hooks run.
    hooks::run_in(
        spec,
        hooks::Kind::CreateContainer,
        &hook_state("created"),
        Some(&rootfs_path),
    )?;
    crate::logging::debug("rootfs prepared; createContainer hooks done");
    if !own_mounts {
        rootfs::chroot_into(cfg.rootfs)?;
    } else {
        rootfs::enter(&rootfs_path, cfg.no_pivot)?;
    }
    crate::logging::debug(if !own_mounts {
        "entered the rootfs (chroot)"
    } else if cfg.no_pivot {
        "entered the rootfs (MS_MOVE + chroot)"
    } else {
        "entered the rootfs (pivot_root)"
    });
    // (In the runtime's mount namespace the host's /dev/null is no
    // foreign mount, and the rootfs may have no /dev at all.)
    if own_mounts && !process.terminal().unwrap_or(false) {
        rootfs::reopen_dev_null_stdio()?;
    }
    if process.terminal().unwrap_or(false) {
        let fd = cfg.console_fd.ok_or_else(|| {
            Error::msg("process.terminal is true but no console socket was given")
        })?;
        let size = process
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        // /dev/console is bound only in a mount namespace of the container's.
        crate::console::setup_in_container(fd, size, own_mounts, process.user().uid())?;
        let _ = nix::unistd::close(fd);
    }
    if let Some(h) = spec.hostname().as_deref().filter(|h| !h.is_empty()) {
        nix::unistd::sethostname(h).ctx(|| format!("hostname: sethostname {h:?}"))?;
    }
    if let Some(d) = spec.domainname().as_deref().filter(|d| !d.is_empty()) {
        set_domainname(d)?;
    }
    if own_mounts {
        rootfs::finalize(spec)?;
        crate::logging::debug("sysctls, readonlyPaths and maskedPaths applied");
    }
    attrs::set_memory_policy(spec)?;
    // Without no_new_privs, seccomp needs CAP_SYS_ADMIN, which changing
    // to a non-root user clears from the effective set: install it just
    // before the uid change, so the profile also governs the rest of the
    // set-up (setgroups, setres[ug]id, capset, prctl, the ready message,
    // accept4, startContainer hooks, fcntl, execve; close_range comes first).
    let nnp = process.no_new_privileges().unwrap_or(false);
    attrs::close_on_exec_from_3();
    // Made before seccomp may be in place (apply_process installs it
    // without no_new_privs).
    let trampoline = security::trampoline::Trampoline::prepare()?;
    attrs::apply_process(process, spec, in_userns, &mut || {
        if nnp {
            Ok(())
        } else {
            install_seccomp(cfg, host_pid)
        }
    })?;
    let mut env: Vec<String> = process.env().clone().unwrap_or_default();
    if cfg.listen_fds > 0 {
        env.retain(|e| !e.starts_with("LISTEN_FDS=") && !e.starts_with("LISTEN_PID="));
        env.push(format!("LISTEN_FDS={}", cfg.listen_fds));
        env.push("LISTEN_PID=1".into());
    }
    let args = process.args().as_deref().expect("validated");
    let exe = attrs::find_executable(&args[0], &env)?;
    let argv = attrs::to_cstrings(args, "process.args")?;
    let envp = attrs::to_cstrings(&env, "process.env")?;
    if nnp {
        security::set_no_new_privs()?;
    }
    attrs::set_non_dumpable();
    crate::logging::debug(format!(
        "ready: will exec {:?} with {} argument(s) after `start`",
        exe,
        args.len()
    ));
    chan.send(&Msg::Ready)?;
    stop_forwarding_debug();
    let _ = nix::unistd::close(cfg.sync_fd);
    // Wait for `start`.
    // SAFETY: listen_fd is open in this process and owned by nobody else here.
    let listener = unsafe { OwnedFd::from_raw_fd(cfg.listen_fd) };
    let conn = loop {
        match nix::sys::socket::accept4(&listener, nix::sys::socket::SockFlag::SOCK_CLOEXEC) {
            Ok(fd) => break fd,
            Err(nix::errno::Errno::EINTR) => continue,
            // Nobody is left to tell: stop quietly.
            // SAFETY: see die().
            Err(_) => unsafe { libc::_exit(1) },
        }
    };
    drop(listener);
    // With no_new_privs, the filter goes in as late as it can: only the
    // startContainer hooks (which run under it, as in runc), the notify fd
    // hand-off, fcntl and execve run under it.
    if nnp && let Err(e) = install_seccomp(cfg, host_pid) {
        let _ = nix::unistd::write(&conn, format!("{e}").as_bytes());
        // SAFETY: see die().
        unsafe { libc::_exit(1) }
    }
    if let Err(e) = hooks::run(spec, hooks::Kind::StartContainer, &hook_state("created")) {
        let _ = nix::unistd::write(&conn, e.to_string().as_bytes());
        // SAFETY: see die().
        unsafe { libc::_exit(1) }
    }
    attrs::pass_fds(cfg.inherited_fds);
    let err = match &trampoline {
        Some(t) => t.exec(&exe, &argv, &envp, std::os::fd::AsRawFd::as_raw_fd(&conn)),
        None => nix::unistd::execve(&exe, &argv, &envp).unwrap_err(),
    };
    let msg = format!("exec {:?}: {err}", exe);
    let _ = nix::unistd::write(&conn, msg.as_bytes());
    // SAFETY: see die().
    unsafe { libc::_exit(127) }
}

/// What a "cgroup" mount in the rootfs shows: the container's cgroup
/// directory on a cgroup2 host, else each v1 hierarchy's.
fn cgroup_view(
    path: &str,
    has_cgroup: bool,
    rootfs: &std::path::Path,
) -> Result<rootfs::CgroupView> {
    use crate::cgroups;
    if cgroups::host_version() == cgroups::Version::V2 {
        let root = std::path::Path::new(cgroups::CGROUP_ROOT);
        return Ok(if has_cgroup {
            rootfs::CgroupView::V2 {
                dir: root.join(path.trim_start_matches('/')),
                read_only: false,
            }
        } else {
            rootfs::CgroupView::V2 {
                dir: root.to_path_buf(),
                read_only: true,
            }
        });
    }
    // Where the init is now: its own cgroup, or where the caller left it
    // when it has none. Only existing directories: never a path hull did
    // not create.
    let current =
        std::fs::read_to_string("/proc/self/cgroup").ctx(|| "read /proc/self/cgroup".into())?;
    Ok(rootfs::CgroupView::V1(
        cgroups::v1_hierarchies()?
            .iter()
            // Not the copies that a bind of /sys into the rootfs made.
            .filter(|h| !h.is_v2 && !h.mount_point.starts_with(rootfs))
            .map(|h| rootfs::CgroupV1Dir {
                mount_point: h.mount_point.clone(),
                controllers: h.controllers.clone(),
                dir: h
                    .path_in(&current)
                    .map(|p| h.dir_of(&p))
                    .filter(|d| d.is_dir())
                    .unwrap_or_else(|| h.mount_point.clone()),
            })
            .collect(),
    ))
}

/// Installs linux.seccomp (if any), notifying its listener.
fn install_seccomp(cfg: &InitConfig, pid: i32) -> Result<()> {
    super::seccomp_notify::install_for(
        cfg.seccomp,
        cfg.seccomp_listener,
        cfg.spec,
        cfg.id,
        pid,
        cfg.bundle,
        "creating",
    )
}

fn set_domainname(d: &str) -> Result<()> {
    // SAFETY: pointer and length describe the string's bytes.
    let r = unsafe { libc::setdomainname(d.as_ptr() as *const libc::c_char, d.len()) };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| format!("domainname: setdomainname {d:?}"));
    }
    Ok(())
}

/// A fresh session keyring per container, so containers do not share keys.
fn join_session_keyring(id: &str) {
    let name = CString::new(format!("_ses.{id}")).unwrap_or_default();
    const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
    // SAFETY: keyctl with a valid NUL-terminated name.
    let r = unsafe { libc::syscall(libc::SYS_keyctl, KEYCTL_JOIN_SESSION_KEYRING, name.as_ptr()) };
    if r < 0 {
        crate::logging::debug(format!(
            "join session keyring: {}",
            std::io::Error::last_os_error()
        ));
    }
}
