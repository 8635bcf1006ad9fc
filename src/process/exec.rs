//! `exec`: a new process inside a running container. A first stage joins
//! every namespace of the container's init (user first, mount last) and
//! forks the process, which the parent puts in the container's cgroup
//! before it sets itself up and execs.

use super::attrs;
use super::sync::{Channel, Msg};
use crate::error::{Context, Error, Result};
use crate::security::seccomp;
use oci_spec::runtime::{Process, Spec};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};

/// Namespace kinds in the order they are joined.
const KINDS: [(&str, libc::c_int); 8] = [
    ("user", libc::CLONE_NEWUSER),
    ("ipc", libc::CLONE_NEWIPC),
    ("uts", libc::CLONE_NEWUTS),
    ("net", libc::CLONE_NEWNET),
    ("pid", libc::CLONE_NEWPID),
    ("cgroup", libc::CLONE_NEWCGROUP),
    ("time", libc::CLONE_NEWTIME),
    ("mnt", libc::CLONE_NEWNS),
];

pub struct ExecTarget<'a> {
    pub id: &'a str,
    pub bundle: &'a std::path::Path,
    pub init_pid: i32,
    pub spec: &'a Spec,
    pub process: &'a Process,
    pub console: Option<OwnedFd>,
    pub preserve_fds: i32,
    /// The cgroup the new process joins.
    pub cgroup: &'a dyn crate::cgroups::Manager,
    /// The resctrl `tasks` file of the container's linux.intelRdt group.
    pub resctrl_tasks: Option<std::path::PathBuf>,
}

/// The namespaces of `pid` that differ from hull's own, opened up front.
fn open_namespaces(pid: i32) -> Result<Vec<(&'static str, libc::c_int, OwnedFd)>> {
    use std::os::unix::fs::MetadataExt;
    let mut out = Vec::new();
    for (kind, flag) in KINDS {
        let theirs = format!("/proc/{pid}/ns/{kind}");
        let ours = format!("/proc/self/ns/{kind}");
        let (Ok(a), Ok(b)) = (std::fs::metadata(&theirs), std::fs::metadata(&ours)) else {
            continue;
        };
        if a.ino() == b.ino() && a.dev() == b.dev() {
            continue;
        }
        let f = std::fs::File::open(&theirs).ctx(|| format!("open {theirs}"))?;
        out.push((kind, flag, OwnedFd::from(f)));
    }
    Ok(out)
}

/// Forks the process into the container; returns its host pid once it has
/// exec'd (or the error that stopped it).
pub fn spawn(t: &ExecTarget) -> Result<i32> {
    let namespaces = open_namespaces(t.init_pid)?;
    // The same mount namespace as hull's: the container's root is the
    // init's chroot, opened here while /proc shows it.
    let shared_root = if namespaces.iter().any(|(k, _, _)| *k == "mnt") {
        None
    } else {
        let p = format!("/proc/{}/root", t.init_pid);
        Some(OwnedFd::from(
            std::fs::File::open(&p).ctx(|| format!("open {p}"))?,
        ))
    };
    // The container's seccomp profile applies to exec'd processes too;
    // compile it and reach its listener while still on the host.
    let filter = match t.spec.linux().as_ref().and_then(|l| l.seccomp().as_ref()) {
        Some(s) => Some(seccomp::compile(s)?),
        None => None,
    };
    let listener = match filter.as_ref().map(super::seccomp_notify::connect) {
        Some(r) => r?,
        None => None,
    };
    let seccomp = Seccomp {
        filter: filter.as_ref(),
        listener: listener.as_ref().map(|l| l.as_raw_fd()),
    };
    let in_userns = namespaces.iter().any(|(k, _, _)| *k == "user");
    let (parent, child) = Channel::pair()?;
    let min_fd = 3 + t.preserve_fds;
    let child_fd = lift(child.fd(), min_fd)?;
    drop(child);
    let console = match &t.console {
        Some(c) => Some(lift(c, min_fd)?),
        None => None,
    };
    // SAFETY: hull is single-threaded here; the child only runs `stage`.
    let stage = match unsafe { nix::unistd::fork() }.ctx(|| "fork exec stage".into())? {
        nix::unistd::ForkResult::Child => {
            let chan = Channel::from_fd(child_fd);
            let res = join_and_fork(&chan, &namespaces, shared_root.as_ref(), t.cgroup, || {
                run_process(
                    &chan,
                    t,
                    console.as_ref().map(|c| c.as_raw_fd()),
                    in_userns,
                    &seccomp,
                )
            });
            if let Err(e) = res {
                let _ = chan.send(&Msg::Error { msg: e.to_string() });
            }
            // SAFETY: leave the forked copy without running destructors.
            unsafe { libc::_exit(0) }
        }
        nix::unistd::ForkResult::Parent { child } => child,
    };
    drop(child_fd);
    drop(console);
    let (pid, placed) = match parent.recv() {
        Ok(Some(Msg::ExecPid { pid, placed })) => (pid, placed),
        Ok(Some(Msg::Error { msg })) => {
            let _ = nix::sys::wait::waitpid(stage, None);
            return Err(Error::Msg(msg));
        }
        other => {
            let _ = nix::sys::wait::waitpid(stage, None);
            return Err(Error::msg(format!(
                "exec: unexpected reply from the exec stage: {other:?}"
            )));
        }
    };
    let _ = nix::sys::wait::waitpid(stage, None);
    let join = if placed {
        Ok(())
    } else {
        t.cgroup.add_process(pid)
    };
    let join = join.and_then(|_| match &t.resctrl_tasks {
        Some(tasks) => crate::cgroups::resctrl::add(tasks, pid),
        None => Ok(()),
    });
    let go = join.and_then(|_| parent.send(&Msg::Go { pid }));
    if let Err(e) = go {
        let _ = super::signals::send(pid, libc::SIGKILL);
        return Err(e);
    }
    // The channel closes on a successful exec (close-on-exec).
    match parent.recv() {
        Ok(None) => Ok(pid),
        Ok(Some(Msg::Error { msg })) => Err(Error::Msg(msg)),
        Ok(Some(Msg::ExecFailed { errno })) => Err(Error::Sys {
            context: format!(
                "exec {:?}",
                t.process
                    .args()
                    .as_deref()
                    .unwrap_or_default()
                    .first()
                    .map_or("", |a| a.as_str())
            ),
            errno: nix::errno::Errno::from_raw(errno),
        }),
        Ok(Some(other)) => Err(Error::msg(format!("exec: unexpected {other:?}"))),
        Err(e) => Err(e),
    }
}

fn lift(fd: &OwnedFd, min: RawFd) -> Result<OwnedFd> {
    let new = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_DUPFD_CLOEXEC(min))
        .ctx(|| "duplicate descriptor".into())?;
    // SAFETY: fcntl just returned this new descriptor.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(new) })
}

/// In the exec stage: join the namespaces, then fork the process itself
/// (a pid or time namespace applies only to children).
fn join_and_fork(
    chan: &Channel,
    namespaces: &[(&str, libc::c_int, OwnedFd)],
    shared_root: Option<&OwnedFd>,
    cgroup: &dyn crate::cgroups::Manager,
    child: impl FnOnce() -> Result<()>,
) -> Result<()> {
    if !namespaces.iter().any(|(k, _, _)| *k == "user") {
        attrs::set_non_dumpable();
    }
    // The fast placement, as for the init: this stage moves its own thread
    // into the v1 hierarchies (still on the host, as host root) and the
    // process is cloned into the cgroup2 part; a failure falls back to the
    // parent's cgroup.procs write.
    let self_joined = cgroup.join_self_v1().is_ok();
    let target = cgroup.clone_target().filter(|_| self_joined);
    let v1_only = self_joined && cgroup.clone_target().is_none();
    // The cgroup namespace is joined by the process itself, once born in
    // its cgroup: CLONE_INTO_CGROUP from inside the container's cgroup
    // namespace is refused (the source cgroup lies outside its root).
    let (cgroup_ns, others): (Vec<_>, Vec<_>) =
        namespaces.iter().partition(|(k, _, _)| *k == "cgroup");
    for (kind, flag, fd) in others {
        nix::sched::setns(fd.as_fd(), nix::sched::CloneFlags::from_bits_retain(*flag))
            .ctx(|| format!("exec: join the container's {kind} namespace"))?;
    }
    // A container that shares hull's mount namespace is only chrooted into
    // its rootfs: the process enters the init's root the same way.
    if let Some(root) = shared_root {
        nix::unistd::fchdir(root.as_fd()).ctx(|| "exec: enter the container's root".into())?;
        nix::unistd::chroot(".").ctx(|| "exec: chroot into the container's root".into())?;
        nix::unistd::chdir("/").ctx(|| "exec: chdir /".into())?;
    }
    let mut child = Some(child);
    let mut run_child = || -> std::convert::Infallible {
        let joined = cgroup_ns.iter().try_for_each(|(_, flag, fd)| {
            nix::sched::setns(fd.as_fd(), nix::sched::CloneFlags::from_bits_retain(*flag))
                .ctx(|| "exec: join the container's cgroup namespace".into())
        });
        let result = joined.and_then(|_| child.take().map_or(Ok(()), |c| c()));
        if let Err(e) = result {
            let _ = chan.send(&Msg::Error { msg: e.to_string() });
        }
        // SAFETY: see spawn().
        unsafe { libc::_exit(127) }
    };
    let placed_pid = target.as_ref().and_then(|fd| {
        crate::namespaces::clone::clone_into(
            nix::sched::CloneFlags::empty(),
            Some(fd.as_raw_fd()),
            &mut run_child,
        )
        .ok()
    });
    let (pid, placed) = match placed_pid {
        Some(pid) => (pid, true),
        None => (
            crate::namespaces::clone::clone_into(
                nix::sched::CloneFlags::empty(),
                None,
                &mut run_child,
            )?,
            false,
        ),
    };
    chan.send(&Msg::ExecPid {
        pid,
        placed: placed || v1_only,
    })
}

/// The exec'd process: wait for the cgroup, set up, exec. Returns only on error.
struct Seccomp<'a> {
    filter: Option<&'a seccomp::Filter>,
    listener: Option<RawFd>,
}

impl Seccomp<'_> {
    fn install(&self, t: &ExecTarget, pid: i32) -> Result<()> {
        super::seccomp_notify::install_for(
            self.filter,
            self.listener,
            t.spec,
            t.id,
            pid,
            t.bundle,
            "running",
        )
    }
}

fn run_process(
    chan: &Channel,
    t: &ExecTarget,
    console: Option<RawFd>,
    in_userns: bool,
    seccomp: &Seccomp,
) -> Result<()> {
    super::supervise::reset_signal_state();
    let host_pid = match chan.recv()? {
        Some(Msg::Go { pid }) => pid,
        other => return Err(Error::msg(format!("exec: expected Go, got {other:?}"))),
    };
    let p = t.process;
    if !in_userns {
        attrs::set_non_dumpable();
    }
    if p.terminal().unwrap_or(false) {
        let fd = console.ok_or_else(|| Error::msg("exec: --tty needs a console socket"))?;
        nix::unistd::setsid().ctx(|| "setsid".into())?;
        let size = p
            .console_size()
            .as_ref()
            .map(|b| (b.height() as u16, b.width() as u16));
        crate::console::setup_in_container(fd, size, false, p.user().uid())?;
        let _ = nix::unistd::close(fd);
    }
    let nnp = p.no_new_privileges().unwrap_or(false);
    attrs::close_on_exec_from_3();
    let trampoline = crate::security::trampoline::Trampoline::prepare()?;
    // As in the init: without no_new_privs the filter must go in while
    // CAP_SYS_ADMIN is still effective, i.e. before the uid change.
    attrs::apply_process(p, t.spec, in_userns, &mut || {
        if nnp {
            Ok(())
        } else {
            seccomp.install(t, host_pid)
        }
    })?;
    let env = p.env().clone().unwrap_or_default();
    let args = p
        .args()
        .as_deref()
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Error::msg("exec: no command given"))?;
    let exe = attrs::find_executable(&args[0], &env)?;
    let argv = attrs::to_cstrings(args, "process.args")?;
    let envp = attrs::to_cstrings(&env, "process.env")?;
    if nnp {
        crate::security::set_no_new_privs()?;
    }
    attrs::set_non_dumpable();
    attrs::pass_fds(t.preserve_fds);
    if nnp {
        seccomp.install(t, host_pid)?;
    }
    let err = match &trampoline {
        Some(t) => t.exec(&exe, &argv, &envp, chan.fd().as_raw_fd()),
        None => nix::unistd::execve(&exe, &argv, &envp).unwrap_err(),
    };
    Err(Error::Sys {
        context: format!("exec {exe:?}"),
        errno: err,
    })
}
