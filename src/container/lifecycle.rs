//! The operations of runtime.md on the state dir: create, start, kill,
//! delete, plus `run` built from them. `exec` is in exec.rs; pause,
//! resume, ps, update, stats and events in control.rs.

use super::control::container_pids;
use super::{Container, State, Status, validate_id, write_state};
use crate::cgroups;
use crate::error::{Context, Error, Result};
use crate::process::{self, LaunchOptions};
use crate::security::exeseal;
use crate::spec::Bundle;
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
pub(super) fn send_pidfd(path: &Path, pid: i32) -> Result<()> {
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

pub(super) fn connect_console(path: &Path) -> Result<OwnedFd> {
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
    if crate::spec::sets_kernel_memory(&bundle.raw) {
        crate::logging::warn(crate::spec::KERNEL_MEMORY_IGNORED);
    }
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
    let cgroups_path = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.cgroups_path().as_deref());
    // The systemd driver: a scope unit, whose cgroup path is systemd's
    // choice (the expected one until the unit has started).
    let systemd_unit = if cgroups::systemd::requested() {
        Some(cgroups::systemd::unit::parse(
            cgroups_path.map(|p| p.to_string_lossy()).as_deref(),
            &o.id,
            cgroups::systemd::bus::use_user_instance(),
        )?)
    } else {
        None
    };
    let cgroup_path = match &systemd_unit {
        Some(u) => u.cgroup.clone(),
        None => cgroups::resolve_path(cgroups_path, &o.id)?,
    };
    cgroups::check_existing(&cgroup_path)?;
    let intel_rdt = bundle
        .spec
        .linux()
        .as_ref()
        .and_then(|l| l.intel_rdt().as_ref());
    if let Some(r) = intel_rdt {
        cgroups::resctrl::check(r)?;
    }
    // Written before anything else is set up: a create killed from here on
    // leaves a state ("creating", no pid yet) that names the cgroup, so
    // `delete --force` can remove everything.
    let mut state = State {
        systemd_unit: systemd_unit.as_ref().map(|u| u.unit.clone()),
        ..State::creating(&o.id, &bundle, &cgroup_path)
    };
    let (dir, lock) = Container::create(&o.root, &o.id, &state)?;
    let new_manager = || -> Box<dyn cgroups::Manager> {
        match &systemd_unit {
            Some(u) => Box::new(cgroups::systemd::SystemdManager::new(u.clone())),
            None => cgroups::manager(&cgroup_path),
        }
    };
    let cgroup = new_manager();
    let cgroup_existed = cgroup.exists();
    let result = (|| -> Result<Container> {
        let cg_started = std::time::Instant::now();
        let cgroup = cgroups::setup_with(
            new_manager(),
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
        if let Some(p) = cgroup.placed_path() {
            state.cgroup_path = p;
        }
        state.status = Status::Created;
        state.pid = launched.pid;
        state.pid_start_time = crate::procinfo::start_time(launched.pid).unwrap_or(0);
        let state = state.clone();
        let container = Container::from_parts(dir.clone(), state, lock);
        // The init must be killed if anything below fails.
        let finish = || -> Result<()> {
            if let Some(r) = intel_rdt {
                cgroups::resctrl::add(&cgroups::resctrl::setup(&o.id, r)?, launched.pid)?;
            }
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
            // The container is stopped and deleted (runtime.md, lifecycle
            // step 3 onwards, e.g. a failing prestart hook): its poststop
            // hooks run, as runc runs them (from the bundle, as its create).
            let state = crate::hooks::state_json(&o.id, "stopped", 0, &bundle.dir, &bundle.spec);
            crate::hooks::run_warn_in(
                &bundle.spec,
                crate::hooks::Kind::Poststop,
                &state,
                Some(&bundle.dir),
            );
            if let Some(r) = intel_rdt {
                cgroups::resctrl::remove(&o.id, r);
            }
            let _ = std::fs::remove_dir_all(&dir);
            Err(e)
        }
    }
}

/// Writes the pid file atomically: a temp file beside it, then rename.
pub(crate) fn write_pid_file(path: &Path, pid: i32) -> Result<()> {
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
    let reply = process::start::release(&c.dir)?;
    if !reply.is_empty() {
        c.state.status = Status::Stopped;
        let _ = c.save();
        return Err(Error::msg(format!("start: {reply}")));
    }
    c.state.status = Status::Running;
    c.save()?;
    // runtime.md step 9: a failing poststart hook is an error and the
    // container is stopped; `delete` continues the lifecycle.
    if let Err(e) = c.run_hooks(crate::hooks::Kind::Poststart, "running") {
        let _ = process::signals::send(c.state.pid, libc::SIGKILL);
        if !wait_exit(c.state.pid, c.state.pid_start_time, 10_000) {
            crate::logging::warn(format!(
                "start: container init {} did not die after SIGKILL",
                c.state.pid
            ));
        }
        c.state.status = Status::Stopped;
        let _ = c.save();
        return Err(e);
    }
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

/// `delete`: removes a stopped container; one that is not stopped only
/// with `force` (it is killed first).
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
        // runtime.md: deleting a container that is not stopped MUST error
        // and MUST have no effect on it (created included; docs/compat.md).
        status if !force => {
            return Err(Error::msg(format!(
                "cannot delete container \"{id}\" that is not stopped: {status} (use --force)"
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
    c.cgroup().destroy()?;
    if let Some(r) = c
        .saved_spec()
        .ok()
        .and_then(|s| s.linux().as_ref()?.intel_rdt().clone())
    {
        cgroups::resctrl::remove(&c.state.id, &r);
    }
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
    let bundle_dir = bundle.as_ref().map(|b| b.dir.clone());
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
        // Poststop hooks of a `run` start in the bundle, as runc's (it works
        // from the bundle for the whole run); the state root is made
        // absolute first so a relative --root still names it.
        let root = std::path::absolute(&root).unwrap_or(root);
        if let Some(dir) = &bundle_dir {
            let _ = std::env::set_current_dir(dir);
        }
        delete(&root, &id, true)?;
        crate::logging::debug(format!("deleted in {:.1?}", t.elapsed()));
    }
    Ok(code)
}
