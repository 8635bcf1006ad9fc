//! The parent side of container creation: the sync channel, the start
//! socket, cloning the init (directly, or through a first stage that joins
//! namespaces and creates the user and time namespaces), then placing the
//! init in its cgroup and waiting until it is ready.

use super::init::{self, InitConfig};
use super::sync::{Channel, Msg};
use crate::cgroups::Manager;
use crate::error::{Context, Error, Result};
use crate::hooks;
use crate::namespaces::clone::{clone_into, clone_with};
use crate::namespaces::{self, Plan};
use crate::security::seccomp;
use crate::spec::Bundle;
use nix::sched::CloneFlags;
use oci_spec::runtime::LinuxNamespaceType;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

pub struct LaunchOptions<'a> {
    pub id: &'a str,
    pub bundle: &'a Bundle,
    pub state_dir: &'a Path,
    /// The descriptor holding the state dir's flock (see `close_parent_end`).
    pub state_lock_fd: RawFd,
    pub cgroup_path: &'a str,
    pub cgroup: &'a dyn Manager,
    /// Connected console socket, when process.terminal is set.
    pub console: Option<OwnedFd>,
    pub no_pivot: bool,
    pub no_new_keyring: bool,
    /// Descriptors 3.. passed to the container (LISTEN_FDS + --preserve-fds).
    pub inherited_fds: i32,
    pub listen_fds: i32,
}

/// Moves a descriptor to a number above the ones passed to the container,
/// so close_range before exec cannot keep it by accident.
fn lift_fd(fd: OwnedFd, min: RawFd) -> Result<OwnedFd> {
    if fd.as_raw_fd() >= min {
        return Ok(fd);
    }
    let new = nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(min))
        .ctx(|| "duplicate descriptor".into())?;
    // SAFETY: fcntl just returned this new descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// Stage 1 joins namespaces by path and creates user and time namespaces;
/// without those the parent clones the init directly.
fn needs_stage1_for(plan: &Plan) -> bool {
    !plan.join.is_empty()
        || plan.creates(LinuxNamespaceType::User)
        || plan.creates(LinuxNamespaceType::Time)
}

/// In a cloned child: closes its copies of the parent's own descriptors.
/// The parent's end of the sync channel, so that the child reads EOF (and
/// exits) when the parent dies instead of waiting forever. And the state
/// dir's lock: a flock belongs to the open file description, which the
/// clone shares, so a parent killed before it unlocks would leave the lock
/// held by the init for as long as the init lives (a ready init waiting
/// for `start` lives forever): every later command on the id, even
/// `delete --force`, would hang. Closing a copy does not unlock.
fn close_parent_end(parent_chan: &Channel, state_lock_fd: RawFd) {
    // SAFETY: the child never returns, so the parent's OwnedFd and File are
    // never dropped (closed a second time) in this process.
    unsafe {
        libc::close(parent_chan.fd().as_raw_fd());
        libc::close(state_lock_fd);
    }
}

/// Everything the parent must undo if launch fails after the clone.
pub struct Launched {
    pub pid: i32,
}

/// Clones the container init and takes it to the point where it waits for
/// `start`. On error the init (if any) has been killed.
pub fn launch(o: &LaunchOptions) -> Result<Launched> {
    let spec = &o.bundle.spec;
    let linux = spec.linux().as_ref();
    let plan = Plan::from_spec(linux.and_then(|l| l.namespaces().as_deref()).unwrap_or(&[]));
    // Children inherit this: none of hull's processes inside the container
    // may expose /proc/<pid>/exe (in a user namespace the init turns it off
    // itself once its own /proc writes are done).
    if !plan.creates(LinuxNamespaceType::User) && !plan.joins(LinuxNamespaceType::User) {
        super::attrs::set_non_dumpable();
    }
    // With a memory limit, the OOM killer may stop the init during set-up:
    // counted before and after to say so (read only when a limit is set).
    let memory_limit = linux
        .and_then(|l| l.resources().as_ref())
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .filter(|l| *l > 0);
    let ooms_before = memory_limit.map(|_| o.cgroup.oom_kills());
    let min_fd = 3 + o.inherited_fds;
    let (parent_chan, child_chan) = Channel::pair()?;
    let child_fd = lift_fd(child_chan.fd().try_clone().ctx(|| "dup".into())?, min_fd)?;
    drop(child_chan);
    let listener = lift_fd(super::start::listen(o.state_dir)?, min_fd)?;
    let console = match &o.console {
        Some(c) => Some(lift_fd(
            c.try_clone().ctx(|| "dup console socket".into())?,
            min_fd,
        )?),
        None => None,
    };
    let join_fds = namespaces::open_join_fds(&plan)?;
    // Compiled here so the init only installs it; the listener is on the
    // host, so it is connected before the init leaves the host's mounts.
    let seccomp = match linux.and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(seccomp::compile(s)?),
        None => None,
    };
    let seccomp_listener = match seccomp.as_ref().map(super::seccomp_notify::connect) {
        Some(sock) => sock?.map(|s| lift_fd(s, min_fd)).transpose()?,
        None => None,
    };
    // Idmapped mounts are made here, root on the host (see rootfs::idmap);
    // nothing at all when no mount asks for one. So are copies of the bind
    // sources a user namespace's root could not reach.
    let mut prepared = crate::rootfs::idmap::prepare(spec, &o.bundle.dir, &plan)?;
    if plan.creates(LinuxNamespaceType::User) || plan.joins(LinuxNamespaceType::User) {
        prepared.extend(crate::rootfs::idmap::clone_unreachable_sources(
            spec,
            &o.bundle.dir,
            &prepared,
        )?);
    }
    let idmapped = prepared
        .into_iter()
        .map(|p| Ok((p.index, lift_fd(p.tree, min_fd)?)))
        .collect::<Result<Vec<_>>>()?;
    let idmapped_fds: Vec<(usize, RawFd)> = idmapped
        .iter()
        .map(|(i, fd)| (*i, fd.as_raw_fd()))
        .collect();
    let mut cfg = InitConfig {
        id: o.id,
        spec,
        rootfs: &o.bundle.rootfs,
        bundle: &o.bundle.dir,
        cgroup_path: o.cgroup_path,
        plan: &plan,
        sync_fd: child_fd.as_raw_fd(),
        listen_fd: listener.as_raw_fd(),
        console_fd: console.as_ref().map(|c| c.as_raw_fd()),
        no_pivot: o.no_pivot,
        no_new_keyring: o.no_new_keyring,
        inherited_fds: o.inherited_fds,
        listen_fds: o.listen_fds,
        seccomp: seccomp.as_ref(),
        seccomp_listener: seccomp_listener.as_ref().map(|s| s.as_raw_fd()),
        cgroup: o.cgroup,
        cgroup_self_join: !needs_stage1_for(&plan),
        idmapped: &idmapped_fds,
    };
    // The cgroup namespace is unshared by the init once it is in its cgroup,
    // so that the namespace's root is the container's cgroup.
    let clone_flags = plan.new - CloneFlags::CLONE_NEWCGROUP;
    let needs_stage1 = needs_stage1_for(&plan);
    crate::logging::debug(format!(
        "namespaces: create [{}], join [{}]",
        flag_names(plan.new),
        plan.join
            .iter()
            .map(|j| format!("{} {}", namespaces::type_word(j.typ), j.path.display()))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    let started = std::time::Instant::now();
    let mut stage1_pid = None;
    let pid = if needs_stage1 {
        let flags = clone_flags
            - CloneFlags::CLONE_NEWUSER
            - CloneFlags::from_bits_retain(libc::CLONE_NEWTIME);
        let s1 = clone_with(CloneFlags::empty(), || {
            close_parent_end(&parent_chan, o.state_lock_fd);
            init::stage1(&cfg, &join_fds, flags, |init_cfg| {
                clone_with(flags, || init::run(init_cfg))
            })
        })?;
        stage1_pid = Some(s1);
        let linux = linux.expect("a user namespace implies linux");
        loop {
            match parent_chan.recv() {
                Ok(Some(Msg::MapIds { pid })) => {
                    let res = namespaces::write_id_maps(
                        pid,
                        linux.uid_mappings().as_deref().unwrap_or(&[]),
                        linux.gid_mappings().as_deref().unwrap_or(&[]),
                    );
                    if let Err(e) = res {
                        kill_and_reap(s1);
                        return Err(e);
                    }
                    crate::logging::debug(format!("wrote uid_map and gid_map of pid {pid}"));
                    parent_chan.send(&Msg::MapsDone)?;
                }
                Ok(Some(Msg::InitPid { pid })) => break pid,
                Ok(Some(Msg::Error { msg })) => {
                    kill_and_reap(s1);
                    return Err(Error::Msg(msg));
                }
                Ok(other) => {
                    kill_and_reap(s1);
                    return Err(Error::msg(format!(
                        "sync: unexpected {other:?} from stage 1"
                    )));
                }
                Err(e) => {
                    kill_and_reap(s1);
                    return Err(e);
                }
            }
        }
    } else {
        // The fast placement, with no cgroup.procs write (which waits for
        // an RCU grace period): born in the cgroup2 part, and the init moves
        // its own thread into the v1 hierarchies; on a v1-only host the
        // init moves itself into all of them.
        let target = o.cgroup.clone_target();
        let born_in = match &target {
            Some(fd) => clone_into(clone_flags, Some(fd.as_raw_fd()), || {
                close_parent_end(&parent_chan, o.state_lock_fd);
                init::run(&cfg)
            })
            .ok(),
            None if o.cgroup.v1_only() => Some(clone_with(clone_flags, || {
                close_parent_end(&parent_chan, o.state_lock_fd);
                init::run(&cfg)
            })?),
            None => None,
        };
        match born_in {
            Some(pid) => pid,
            None => {
                cfg.cgroup_self_join = false;
                clone_with(clone_flags, || {
                    close_parent_end(&parent_chan, o.state_lock_fd);
                    init::run(&cfg)
                })?
            }
        }
    };
    let placed = !needs_stage1 && cfg.cgroup_self_join;
    if let Some(s1) = stage1_pid {
        reap(s1);
    }
    crate::logging::debug(format!(
        "cloned the container init: host pid {pid} ({:.1?})",
        started.elapsed()
    ));
    drop(child_fd);
    drop(listener);
    drop(console);
    drop(seccomp_listener);
    drop(idmapped);
    match finish(o, &parent_chan, pid, placed) {
        Ok(()) => {
            crate::logging::debug(format!(
                "container init ready, waiting for start ({:.1?} since clone)",
                started.elapsed()
            ));
            Ok(Launched { pid })
        }
        Err(e) => {
            let _ = nix::sys::signal::kill(
                nix::unistd::Pid::from_raw(pid),
                nix::sys::signal::Signal::SIGKILL,
            );
            let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
            if let (Some(limit), Some(before)) = (memory_limit, ooms_before)
                && o.cgroup.oom_kills() > before
            {
                return Err(Error::msg(format!(
                    "the OOM killer killed the container init during set-up: \
                     linux.resources.memory.limit ({limit} bytes) is too small for the container to start ({e})"
                )));
            }
            Err(e)
        }
    }
}

/// After the clone: cgroup, CPU affinity, network devices, then release the
/// init and wait until it reports ready.
fn finish(o: &LaunchOptions, chan: &Channel, pid: i32, placed: bool) -> Result<()> {
    let spec = &o.bundle.spec;
    let process = spec.process().as_ref().expect("validated");
    if let Some(aff) = process.exec_cpu_affinity() {
        super::attrs::set_cpu_affinity(
            aff.initial().as_ref(),
            "process.execCPUAffinity.initial",
            pid,
        )?;
    }
    if placed {
        crate::logging::debug(format!(
            "cgroup {}: init cloned into its cgroup2 part (if any); it joins the v1 hierarchies itself",
            o.cgroup_path
        ));
    } else {
        o.cgroup.add_process(pid)?;
        crate::logging::debug(format!("cgroup {}: added pid {pid}", o.cgroup_path));
    }
    if let Some(devs) = spec.linux().as_ref().and_then(|l| l.net_devices().as_ref()) {
        namespaces::move_net_devices(pid, devs)?;
    }
    chan.send(&Msg::Go { pid })?;
    loop {
        match chan.recv()? {
            Some(Msg::Ready) => return Ok(()),
            Some(Msg::RunHooks) => {
                crate::logging::debug("running prestart and createRuntime hooks");
                // "created": see the createContainer hooks in init.rs.
                let state = hooks::state_json(o.id, "created", pid, &o.bundle.dir, spec);
                hooks::run(spec, hooks::Kind::Prestart, &state)?;
                hooks::run(spec, hooks::Kind::CreateRuntime, &state)?;
                chan.send(&Msg::HooksDone)?;
            }
            Some(Msg::Error { msg }) => return Err(Error::Msg(msg)),
            Some(other) => return Err(Error::msg(format!("sync: unexpected {other:?} from init"))),
            None => {
                return Err(Error::msg(
                    "container init exited during set-up without reporting an error",
                ));
            }
        }
    }
}

/// Clone flags as names ("CLONE_NEWNS, CLONE_NEWPID"), for --debug.
fn flag_names(f: CloneFlags) -> String {
    let names: Vec<&str> = f.iter_names().map(|(n, _)| n).collect();
    let mut s = names.join(", ");
    if f.bits() & libc::CLONE_NEWTIME != 0 && !s.contains("TIME") {
        if !s.is_empty() {
            s.push_str(", ");
        }
        s.push_str("CLONE_NEWTIME");
    }
    s
}

/// Kills and reaps a stage after a failure (a stage blocked on the sync
/// channel would otherwise never exit).
fn kill_and_reap(pid: i32) {
    let _ = nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid),
        nix::sys::signal::Signal::SIGKILL,
    );
    reap(pid);
}

fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}
