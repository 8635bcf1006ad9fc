//! `exec`: a new process in a created or running container, joining the
//! init's namespaces and cgroup.

use super::lifecycle::{connect_console, send_pidfd, write_pid_file};
use super::{Container, Status};
use crate::cgroups;
use crate::error::{Error, Result};
use crate::security::exeseal;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

pub struct ExecOptions {
    pub root: PathBuf,
    pub id: String,
    /// The process: from --process, or built from the container's config and flags.
    pub process: oci_spec::runtime::Process,
    pub console_socket: Option<PathBuf>,
    pub detach: bool,
    pub pid_file: Option<PathBuf>,
    pub preserve_fds: i32,
    /// Sub-cgroups (below the container's) for the new process.
    pub sub_cgroups: cgroups::ExecSubCgroups,
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
    let cgroup = cgroups::exec_manager(&cgroup_path, &o.sub_cgroups)?;
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
    let pid = px::spawn(&px::ExecTarget {
        id: &o.id,
        bundle: &bundle_dir,
        init_pid: pid,
        spec: &spec,
        process: &o.process,
        console,
        preserve_fds: o.preserve_fds,
        cgroup: cgroup.as_ref(),
        resctrl_tasks: match spec.linux().as_ref().and_then(|l| l.intel_rdt().as_ref()) {
            Some(r) => Some(cgroups::resctrl::tasks_of(&o.id, r)?),
            None => None,
        },
    })
    .map_err(|e| {
        // A container killed while hull joins it makes the joins fail
        // obscurely (clone3 into a dead pid namespace is ENOMEM, the stage
        // dies: EPIPE): say what happened.
        if super::process_matches(pid, start_time) && !crate::procinfo::exiting(pid) {
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

/// Where `exec`'s process comes from.
pub enum ExecProcess<'a> {
    /// A process.json (`--process`).
    File(&'a Path),
    /// The container's own process with exec's flags laid over it.
    Overrides(crate::spec::ProcessOverrides),
}

/// The process `exec` runs in container `id`.
pub fn exec_process(
    root: &Path,
    id: &str,
    source: ExecProcess,
) -> Result<oci_spec::runtime::Process> {
    match source {
        ExecProcess::File(path) => {
            // A pipe cannot be read again by the sealed copy of hull, so
            // decide on re-executing before reading it.
            if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
                let c = Container::load(root, id)?;
                let spec = c.saved_spec()?;
                protect_exec(c.state.pid, &spec, &c.state.cgroup_path, None)?;
            }
            let text = std::fs::read(path)
                .map_err(|e| Error::msg(format!("--process {}: {e}", path.display())))?;
            let mut p = crate::spec::parse_process(&path.display().to_string(), &text)?;
            // Without `capabilities` the process gets the container's, as
            // runc gives it (not an empty set).
            let names_caps = serde_json::from_slice::<serde_json::Value>(&text)
                .is_ok_and(|v| v.get("capabilities").is_some());
            if !names_caps {
                let c = Container::load(root, id)?;
                let caps = c
                    .saved_spec()?
                    .process()
                    .as_ref()
                    .and_then(|cp| cp.capabilities().clone());
                p.set_capabilities(caps);
            }
            Ok(p)
        }
        ExecProcess::Overrides(o) => {
            let c = Container::load(root, id)?;
            let mut p = c
                .saved_spec()?
                .process()
                .clone()
                .ok_or_else(|| Error::msg("container config has no process"))?;
            drop(c);
            crate::spec::override_process(&mut p, &o)?;
            Ok(p)
        }
    }
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
