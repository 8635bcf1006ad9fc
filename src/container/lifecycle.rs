//! The operations of runtime.md on the state dir: create, start, kill,
//! delete, plus `run` built from them.

use super::{Container, START_SOCKET, State, Status, validate_id, write_state};
use crate::cgroups;
use crate::error::{Context, Error, Result};
use crate::process::{self, LaunchOptions};
use crate::security::exeseal;
use crate::spec::Bundle;
use std::io::Read;
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

pub struct CreateOptions {
    pub root: PathBuf,
    pub id: String,
    pub bundle: PathBuf,
    pub pid_file: Option<PathBuf>,
    pub console_socket: Option<PathBuf>,
    /// An already connected console socket (used by `run` for its own terminal).
    pub console_fd: Option<OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    pub preserve_fds: i32,
    /// `run` without --detach: the caller keeps watching the container.
    pub foreground: bool,
    /// Unix socket that receives a pidfd of the init.
    pub pidfd_socket: Option<PathBuf>,
}

/// Sends a pidfd of `pid` over the unix socket at `path` (--pidfd-socket).
fn send_pidfd(path: &Path, pid: i32) -> Result<()> {
    let sock = std::os::unix::net::UnixStream::connect(path)
        .ctx(|| format!("--pidfd-socket: connect {}", path.display()))?;
    // SAFETY: pidfd_open with plain integers; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| format!("--pidfd-socket: pidfd_open {pid}"));
    }
    // SAFETY: fd is a fresh pidfd we own.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    crate::console::send_fd(sock.as_raw_fd(), &fd, b"pidfd").ctx(|| "--pidfd-socket: send".into())
}

/// Descriptors passed by socket activation (LISTEN_FDS meant for this process).
fn listen_fds() -> i32 {
    let n = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|v| v.parse::<i32>().ok())
        .unwrap_or(0);
    let for_us = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .is_none_or(|p| p == std::process::id());
    if n > 0 && for_us { n } else { 0 }
}

fn connect_console(path: &Path) -> Result<OwnedFd> {
    let s = std::os::unix::net::UnixStream::connect(path)
        .ctx(|| format!("--console-socket: connect {}", path.display()))?;
    Ok(OwnedFd::from(s))
}

/// `create`: a container whose init waits for `start`. Returns the init pid.
/// On failure nothing is left behind: no state dir, cgroup or process.
pub fn create(mut o: CreateOptions) -> Result<i32> {
    validate_id(&o.id)?;
    // Fail here, in `hull check`'s words, rather than deep inside the init.
    let started = std::time::Instant::now();
    crate::check::preflight(&o.bundle)?;
    let bundle = Bundle::load(&o.bundle)?;
    crate::logging::debug(format!(
        "bundle {} loaded and checked ({:.1?})",
        bundle.dir.display(),
        started.elapsed()
    ));
    let process = bundle.spec.process().as_ref().expect("validated");
    crate::security::lsm::check(&bundle.spec, process)?;
    // Before anything is changed: this may start the command over from a
    // sealed copy of hull (CVE-2019-5736).
    exeseal::protect(exeseal::spec_exposure(&bundle.spec))?;
    let terminal = process.terminal().unwrap_or(false);
    if terminal && o.console_socket.is_none() && o.console_fd.is_none() {
        return Err(Error::msg(
            "process.terminal is true: a terminal needs --console-socket when hull does not stay attached (or set terminal to false)",
        ));
    }
    if !terminal && o.console_socket.is_some() {
        return Err(Error::msg(
            "--console-socket was given but process.terminal is false: there is no terminal to send",
        ));
    }
    if let Some(path) = &o.console_socket {
        o.console_fd = Some(connect_console(path)?);
    }
    let cgroup_path = cgroups::resolve_path(
        bundle
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.cgroups_path().as_deref()),
        &o.id,
    )?;
    let own_pid_ns = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .is_some_and(|ns| {
            ns.iter().any(|n| {
                n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid && n.path().is_none()
            })
        });
    // Written before anything else is set up: a create killed from here on
    // leaves a state ("creating", no pid yet) that names the cgroup, so
    // `delete --force` can remove everything.
    let mut state = State {
        oci_version: crate::spec::OCI_VERSION.to_string(),
        id: o.id.clone(),
        status: Status::Creating,
        pid: 0,
        pid_start_time: 0,
        bundle: bundle.dir.clone(),
        rootfs: bundle.rootfs.clone(),
        created: crate::logging::rfc3339_now(true),
        annotations: bundle.spec.annotations().clone().unwrap_or_default(),
        cgroup_path: cgroup_path.clone(),
        own_pid_ns,
        resources: None,
    };
    let (dir, lock) = Container::create(&o.root, &o.id, &state)?;
    let cgroup = cgroups::manager(&cgroup_path);
    let cgroup_existed = cgroup.exists();
    let result = (|| -> Result<Container> {
        let cg_started = std::time::Instant::now();
        let cgroup = cgroups::setup(
            &cgroup_path,
            bundle
                .spec
                .linux()
                .as_ref()
                .and_then(|l| l.resources().as_ref()),
        )?;
        if cgroup.is_skipped() {
            // Recorded so exec, kill --all, ps and delete know there is none.
            state.cgroup_path = String::new();
        } else {
            crate::logging::debug(format!(
                "cgroup {cgroup_path}: set up ({:?} host), linux.resources applied ({:.1?})",
                cgroups::host_version(),
                cg_started.elapsed()
            ));
        }
        let listen = listen_fds();
        let launched = process::launch(&LaunchOptions {
            id: &o.id,
            bundle: &bundle,
            state_dir: &dir,
            state_lock_fd: lock.as_raw_fd(),
            cgroup_path: &cgroup_path,
            cgroup: cgroup.as_ref(),
            console: o.console_fd.take(),
            no_pivot: o.no_pivot,
            no_new_keyring: o.no_new_keyring,
            inherited_fds: listen + o.preserve_fds,
            listen_fds: listen,
        })?;
        state.status = Status::Created;
        state.pid = launched.pid;
        state.pid_start_time = super::process_start_time(launched.pid).unwrap_or(0);
        let state = state.clone();
        let container = Container::from_parts(dir.clone(), state, lock);
        // The init must be killed if anything below fails.
        let finish = || -> Result<()> {
            std::fs::write(dir.join(crate::spec::CONFIG), &bundle.raw)
                .ctx(|| format!("save {}", dir.join(crate::spec::CONFIG).display()))?;
            write_state(&dir, &container.state)?;
            if let Some(p) = &o.pid_file {
                write_pid_file(p, launched.pid)?;
            }
            if let Some(p) = &o.pidfd_socket {
                send_pidfd(p, launched.pid)?;
            }
            Ok(())
        };
        if let Err(e) = finish() {
            let _ = process::signals::send(launched.pid, libc::SIGKILL);
            return Err(e);
        }
        Ok(container)
    })();
    match result {
        Ok(c) => {
            crate::logging::debug(format!(
                "created {} (init pid {}) in {:.1?}",
                o.id,
                c.state.pid,
                started.elapsed()
            ));
            Ok(c.state.pid)
        }
        Err(e) => {
            if !cgroup_existed && let Err(ce) = cgroup.destroy() {
                crate::logging::warn(format!("clean-up: {ce}"));
            }
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// Writes the pid file atomically: a temp file beside it, then rename.
fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
    let path = std::path::absolute(path).ctx(|| format!("--pid-file {}", path.display()))?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = path.with_file_name(format!(".{name}.tmp"));
    std::fs::write(&tmp, pid.to_string()).ctx(|| format!("--pid-file: write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).ctx(|| format!("--pid-file: rename to {}", path.display()))
}

/// `start`: releases the waiting init to exec the user process.
pub fn start(root: &Path, id: &str) -> Result<()> {
    let mut c = Container::load(root, id)?;
    match c.status() {
        Status::Created => {}
        Status::Stopped => {
            return Err(Error::msg(format!(
                "cannot start container \"{id}\": it has stopped"
            )));
        }
        s => {
            return Err(Error::msg(format!(
                "cannot start container \"{id}\": it is {s}, not created"
            )));
        }
    }
    let dir = std::fs::File::open(&c.dir).ctx(|| format!("open {}", c.dir.display()))?;
    let path = format!("/proc/self/fd/{}/{START_SOCKET}", dir.as_raw_fd());
    let mut conn = std::os::unix::net::UnixStream::connect(&path).ctx(|| {
        format!(
            "start: connect to the container init ({})",
            c.dir.join(START_SOCKET).display()
        )
    })?;
    let mut reply = Vec::new();
    let _ = conn.read_to_end(&mut reply);
    let _ = std::fs::remove_file(c.dir.join(START_SOCKET));
    if !reply.is_empty() {
        c.state.status = Status::Stopped;
        let _ = c.save();
        if let Some(errno) = crate::security::trampoline::decode_failure(&reply) {
            return Err(Error::Sys {
                context: "start: exec process.args[0]".into(),
                errno,
            });
        }
        return Err(Error::msg(format!(
            "start: {}",
            String::from_utf8_lossy(&reply)
        )));
    }
    c.state.status = Status::Running;
    c.save()?;
    c.run_hooks_warn(crate::hooks::Kind::Poststart, "running");
    Ok(())
}

/// `kill`: a signal to the init, or with `all` to every process in the cgroup.
pub fn kill(root: &Path, id: &str, sig: i32, all: bool) -> Result<()> {
    let c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        if all {
            // Leftover processes of a container without its own pid namespace.
            for pid in container_pids(&c)? {
                let _ = process::signals::send(pid, sig);
            }
            return Ok(());
        }
        return Err(Error::msg("container not running"));
    }
    if all {
        for pid in container_pids(&c)? {
            let _ = process::signals::send(pid, sig);
        }
        return Ok(());
    }
    process::signals::send(c.state.pid, sig)
        .ctx(|| format!("kill: signal {sig} to pid {}", c.state.pid))
}

/// Waits for a (not necessarily child) process to exit, via a pidfd.
pub fn wait_exit(pid: i32, start_time: u64, timeout_ms: i32) -> bool {
    if !super::process_matches(pid, start_time) {
        return true;
    }
    // SAFETY: pidfd_open with plain integers; the result is checked.
    let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if fd < 0 {
        return true;
    }
    // SAFETY: fd is a fresh pidfd we own.
    let fd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd as i32) };
    // Re-check: the pid may have been reused between the first check and pidfd_open.
    if !super::process_matches(pid, start_time) {
        return true;
    }
    let mut pfd = [nix::poll::PollFd::new(
        std::os::fd::AsFd::as_fd(&fd),
        nix::poll::PollFlags::POLLIN,
    )];
    matches!(nix::poll::poll(&mut pfd, nix::poll::PollTimeout::try_from(timeout_ms).unwrap_or(nix::poll::PollTimeout::MAX)), Ok(n) if n > 0)
}

/// `delete`: removes a stopped container; a created one is killed first;
/// a running one only with `force`.
pub fn delete(root: &Path, id: &str, force: bool) -> Result<()> {
    let c = match Container::load(root, id) {
        Ok(c) => c,
        Err(Error::NotFound(_)) if force => {
            // A create that died before writing its state leaves a
            // `~ID.PID` dir (older versions: a bare dir).
            if validate_id(id).is_ok() {
                let _ = std::fs::remove_dir_all(root.join(id));
                super::remove_dead_creating_dirs(root, id);
            }
            return Ok(());
        }
        Err(e) if force && validate_id(id).is_ok() => {
            // An unreadable state.json: the saved config still names the
            // cgroup; emptying it kills whatever the container left.
            crate::logging::warn(format!("delete --force: {e}; removing what can be found"));
            let dir = root.join(id);
            if let Ok(text) = std::fs::read(dir.join(crate::spec::CONFIG))
                && let Ok(spec) = crate::spec::parse(crate::spec::CONFIG, &text)
                && let Ok(path) = cgroups::resolve_path(
                    spec.linux()
                        .as_ref()
                        .and_then(|l| l.cgroups_path().as_deref()),
                    id,
                )
            {
                cgroups::manager(&path).destroy()?;
            }
            return std::fs::remove_dir_all(&dir).ctx(|| format!("remove {}", dir.display()));
        }
        Err(e) => return Err(e),
    };
    match c.status() {
        Status::Stopped => {}
        Status::Running if !force => {
            return Err(Error::msg(format!(
                "cannot delete container \"{id}\" that is not stopped: running (use --force)"
            )));
        }
        status => {
            let _ = process::signals::send(c.state.pid, libc::SIGKILL);
            if status == Status::Paused {
                cgroups::manager(&c.state.cgroup_path).set_frozen(false)?;
            }
            if !wait_exit(c.state.pid, c.state.pid_start_time, 10_000) {
                return Err(Error::msg(format!(
                    "delete: container init {} did not die after SIGKILL",
                    c.state.pid
                )));
            }
        }
    }
    destroy(&c)
}

/// Removes the cgroup (killing anything left in it) and the state dir.
pub fn destroy(c: &Container) -> Result<()> {
    cgroups::manager(&c.state.cgroup_path).destroy()?;
    c.run_hooks_warn(crate::hooks::Kind::Poststop, "stopped");
    c.remove_dir()
}

/// `run`: create + start, then (unless detached) wait for the container,
/// forwarding signals, and delete it unless `keep`. Returns the exit code.
pub fn run(mut o: CreateOptions, detach: bool, keep: bool) -> Result<i32> {
    use crate::process::supervise;
    let root = o.root.clone();
    let id = o.id.clone();
    let mut own_terminal = None;
    let mut fixed_size = false;
    let bundle = Bundle::load(&o.bundle).ok();
    // Before the subreaper, the signal mask and the terminal socket: the
    // sealed copy of hull (if needed) starts `run` over. A bundle that does
    // not load fails in create() with the full message.
    if let Some(b) = &bundle {
        exeseal::protect(exeseal::spec_exposure(&b.spec))?;
    }
    if !detach {
        supervise::become_subreaper()?;
        supervise::block_signals()?;
        o.foreground = true;
        let process = bundle.and_then(|b| b.spec.process().clone());
        let wants_tty = process.as_ref().and_then(|p| p.terminal()).unwrap_or(false);
        fixed_size = process.as_ref().is_some_and(|p| p.console_size().is_some());
        if wants_tty && o.console_socket.is_none() {
            let (ours, theirs) = crate::console::internal_socket()?;
            o.console_fd = Some(theirs);
            own_terminal = Some(ours);
        }
    }
    let pid = create(o)?;
    let master = match own_terminal {
        Some(sock) => match crate::console::recv_fd(sock.as_raw_fd()) {
            Ok(m) => Some(m),
            Err(e) => {
                let _ = delete(&root, &id, true);
                return Err(e);
            }
        },
        None => None,
    };
    let t = std::time::Instant::now();
    let started = start(&root, &id);
    crate::logging::debug(format!("started in {:.1?}", t.elapsed()));
    if let Err(e) = started {
        let _ = delete(&root, &id, true);
        return Err(e);
    }
    if detach {
        return Ok(0);
    }
    let t = std::time::Instant::now();
    let code = supervise::supervise(pid, master, fixed_size)?;
    crate::logging::debug(format!(
        "container exited with {code} after {:.1?}",
        t.elapsed()
    ));
    let t = std::time::Instant::now();
    if !keep {
        delete(&root, &id, true)?;
        crate::logging::debug(format!("deleted in {:.1?}", t.elapsed()));
    }
    Ok(code)
}

pub struct ExecOptions {
    pub root: PathBuf,
    pub id: String,
    /// The process: from --process, or built from the container's config and flags.
    pub process: oci_spec::runtime::Process,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    /// Sub-cgroup (relative to the container's) for the new process.
    pub sub_cgroup: Option<String>,
    pub ignore_paused: bool,
    pub pidfd_socket: Option<PathBuf>,
}

/// `exec`: runs a process in a created or running container. Returns its
/// exit code when not detached.
pub fn exec(mut o: ExecOptions) -> Result<i32> {
    use crate::process::{exec as px, supervise};
    // A label whose LSM is absent: refused before anything is touched.
    crate::security::lsm::check_process(&o.process)?;
    let (pid, start_time, spec, cgroup_path, bundle_dir) = {
        let c = Container::load(&o.root, &o.id)?;
        match c.status() {
            Status::Stopped => {
                return Err(Error::msg(format!(
                    "cannot exec in container \"{}\": it is stopped",
                    o.id
                )));
            }
            Status::Paused if !o.ignore_paused => {
                return Err(Error::msg(format!(
                    "cannot exec in container \"{}\": it is paused (use --ignore-paused)",
                    o.id
                )));
            }
            _ => {}
        }
        (
            c.state.pid,
            c.state.pid_start_time,
            c.saved_spec()?,
            c.state.cgroup_path.clone(),
            c.state.bundle.clone(),
        )
    };
    protect_exec(pid, &spec, &cgroup_path, Some(&o.process))?;
    let cgroup_path = match &o.sub_cgroup {
        Some(sub) => format!(
            "{}/{}",
            cgroup_path.trim_end_matches('/'),
            sub.trim_start_matches('/')
        ),
        None => cgroup_path,
    };
    let terminal = o.process.terminal().unwrap_or(false);
    let mut own_terminal = None;
    let console = match (&o.console_socket, terminal) {
        (Some(p), true) => Some(connect_console(p)?),
        (Some(_), false) => return Err(Error::msg("--console-socket needs --tty")),
        (None, true) if o.detach => {
            return Err(Error::msg("--tty with --detach needs --console-socket"));
        }
        (None, true) => {
            let (ours, theirs) = crate::console::internal_socket()?;
            own_terminal = Some(ours);
            Some(theirs)
        }
        (None, false) => None,
    };
    if !o.detach {
        supervise::become_subreaper()?;
        supervise::block_signals()?;
    }
    let cgroup = cgroups::manager(&cgroup_path);
    if o.sub_cgroup.is_some() && !cgroup.exists() {
        return Err(Error::msg(format!(
            "--cgroup: {cgroup_path} does not exist"
        )));
    }
    let pid = px::spawn(&px::ExecTarget {
        id: &o.id,
        bundle: &bundle_dir,
        init_pid: pid,
        spec: &spec,
        process: &o.process,
        console,
        preserve_fds: o.preserve_fds,
        cgroup: cgroup.as_ref(),
    })
    .map_err(|e| {
        // A container killed while hull joins it makes the joins fail
        // obscurely (clone3 into a dead pid namespace is ENOMEM, the stage
        // dies: EPIPE): say what happened.
        if super::process_matches(pid, start_time) && !super::process_exiting(pid) {
            e
        } else {
            Error::msg(format!(
                "cannot exec in container \"{}\": it stopped during the exec ({e})",
                o.id
            ))
        }
    })?;
    if let Some(p) = o.pid_file.take() {
        write_pid_file(&p, pid)?;
    }
    if let Some(p) = &o.pidfd_socket {
        send_pidfd(p, pid)?;
    }
    if o.detach {
        return Ok(0);
    }
    let master = match own_terminal {
        Some(sock) => Some(crate::console::recv_fd(sock.as_raw_fd())?),
        None => None,
    };
    supervise::supervise(pid, master, o.process.console_size().is_some())
}

/// Re-executes `exec` from a sealed copy of hull when the container could
/// reach hull's binary (see security::exeseal). `process` is None when the
/// new process is not known yet (a --process file that cannot be read twice).
pub fn protect_exec(
    init_pid: i32,
    spec: &oci_spec::runtime::Spec,
    cgroup_path: &str,
    process: Option<&oci_spec::runtime::Process>,
) -> Result<()> {
    if exeseal::mode()? != exeseal::Mode::Auto {
        return exeseal::protect(None);
    }
    let pids = cgroups::manager(cgroup_path).pids().unwrap_or_default();
    let caps = process.map(|p| p.capabilities().as_ref());
    let label = process.and_then(exeseal::label_exposure);
    exeseal::protect(label.or_else(|| exeseal::exec_exposure(init_pid, spec, caps, &pids)))
}

/// `pause` (freeze every process) and `resume` (thaw them).
pub fn set_paused(root: &Path, id: &str, paused: bool) -> Result<()> {
    let mut c = Container::load(root, id)?;
    let (want, next) = if paused {
        (Status::Running, Status::Paused)
    } else {
        (Status::Paused, Status::Running)
    };
    let status = c.status();
    if status != want {
        return Err(Error::msg(format!(
            "container \"{id}\" is {status}, not {want}"
        )));
    }
    cgroups::manager(&c.state.cgroup_path).set_frozen(paused)?;
    c.state.status = next;
    c.save()
}

/// `ps`: the pids of every process in the container's cgroup.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let c = Container::load(root, id)?;
    container_pids(&c)
}

/// The container's processes: those of its cgroup; for a container that
/// runs without one (rootless, nothing delegated), those of its own pid
/// namespace (exec'd processes included, which are not the init's
/// descendants), else just the init.
fn container_pids(c: &Container) -> Result<Vec<i32>> {
    if !c.state.cgroup_path.is_empty() {
        return cgroups::manager(&c.state.cgroup_path).pids();
    }
    let init = c.state.pid;
    if init <= 0 || !super::process_matches(init, c.state.pid_start_time) {
        return Ok(Vec::new());
    }
    let ns_of = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(ns) = ns_of(init).filter(|_| c.state.own_pid_ns) else {
        return Ok(vec![init]);
    };
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .ctx(|| "read /proc".into())?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| ns_of(pid).as_ref() == Some(&ns))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// The resources in force: the last `update`'s, else the config's.
fn current_resources(c: &Container) -> Result<oci_spec::runtime::LinuxResources> {
    if let Some(r) = &c.state.resources {
        return Ok(r.clone());
    }
    Ok(c.saved_spec()?
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default())
}

/// `update`: merges `changes` onto the resources in force, applies the
/// result to the live cgroup (device rules are left as they are) and
/// records it in the state.
pub fn update(root: &Path, id: &str, changes: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let mut c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::msg(format!(
            "cannot update container \"{id}\": it is stopped"
        )));
    }
    let merged = cgroups::resources::merge(&current_resources(&c)?, changes)?;
    let m = cgroups::manager(&c.state.cgroup_path);
    if !m.exists() {
        return Err(Error::msg(format!(
            "cannot update container \"{id}\": it has no cgroup"
        )));
    }
    let mut live = merged.clone();
    live.set_devices(None);
    // Only the memory fields asked for are checked against usage.
    if let Some(mem) = live.memory_mut()
        && changes
            .memory()
            .as_ref()
            .is_none_or(|m| m.limit().is_none())
    {
        mem.set_check_before_update(None);
    }
    m.apply(&live)?;
    c.state.resources = Some(merged);
    c.save()
}

/// Stats of a container's cgroup (runc's `events --stats` data).
pub fn stats(root: &Path, id: &str) -> Result<serde_json::Value> {
    let c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::msg(format!("container \"{id}\" is stopped")));
    }
    cgroups::manager(&c.state.cgroup_path).stats()
}

/// `events`: prints one JSON object per line: a stats event every
/// `interval` (none when `interval` is None) and an `oom` event whenever
/// the OOM killer strikes in the cgroup. Returns when the container stops.
pub fn events(
    root: &Path,
    id: &str,
    interval: Option<std::time::Duration>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let (path, pid, start_time) = {
        let c = Container::load(root, id)?;
        if c.status() == Status::Stopped {
            return Err(Error::msg(format!("container \"{id}\" is stopped")));
        }
        (
            c.state.cgroup_path.clone(),
            c.state.pid,
            c.state.pid_start_time,
        )
    };
    let m = cgroups::manager(&path);
    let mut ooms = m.oom_kills();
    let tick = std::time::Duration::from_millis(100);
    let mut next_stats = std::time::Instant::now();
    let emit = |out: &mut dyn std::io::Write, v: serde_json::Value| -> Result<()> {
        writeln!(out, "{v}")
            .and_then(|_| out.flush())
            .map_err(|e| Error::msg(format!("events: write: {e}")))
    };
    loop {
        let alive = super::process_matches(pid, start_time);
        let now = m.oom_kills();
        if now > ooms {
            ooms = now;
            emit(out, serde_json::json!({"type": "oom", "id": id}))?;
        }
        if !alive {
            return Ok(());
        }
        if let Some(iv) = interval
            && std::time::Instant::now() >= next_stats
        {
            let data = m.stats()?;
            emit(
                out,
                serde_json::json!({"type": "stats", "id": id, "data": data}),
            )?;
            next_stats = std::time::Instant::now() + iv;
        }
        std::thread::sleep(tick);
    }
}
