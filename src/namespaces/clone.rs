//! clone3(2): where hull's new namespaces are created. The parent clones
//! the init (or stage 1) with the namespace flags of the plan, optionally
//! straight into its cgroup; exec's stages and the helper children of
//! idmapped mounts use it too.

use crate::error::{Context, Result};
use nix::sched::CloneFlags;
use std::os::fd::RawFd;

/// The kernel's `struct clone_args`.
#[repr(C)]
#[derive(Default)]
pub struct CloneArgs {
    pub flags: u64,
    pub pidfd: u64,
    pub child_tid: u64,
    pub parent_tid: u64,
    pub exit_signal: u64,
    pub stack: u64,
    pub stack_size: u64,
    pub tls: u64,
    pub set_tid: u64,
    pub set_tid_size: u64,
    pub cgroup: u64,
}

/// clone3 as a fork with namespace flags; the child runs `child` and never returns.
pub fn clone_with(
    flags: CloneFlags,
    child: impl FnOnce() -> std::convert::Infallible,
) -> Result<i32> {
    clone_into(flags, None, child)
}

/// clone3, optionally straight into a cgroup2 directory (CLONE_INTO_CGROUP).
pub fn clone_into(
    flags: CloneFlags,
    cgroup: Option<RawFd>,
    child: impl FnOnce() -> std::convert::Infallible,
) -> Result<i32> {
    const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;
    let args = CloneArgs {
        flags: flags.bits() as u64 | cgroup.map_or(0, |_| CLONE_INTO_CGROUP),
        exit_signal: libc::SIGCHLD as u64,
        cgroup: cgroup.map_or(0, |fd| fd as u64),
        ..Default::default()
    };
    // SAFETY: without CLONE_VM this behaves like fork: the child gets a copy
    // of this single-threaded process and runs only `child`.
    let r = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &args as *const CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    match r {
        #[allow(unreachable_code)]
        0 => match child() {},
        pid if pid > 0 => Ok(pid as i32),
        _ => {
            Err(std::io::Error::last_os_error()).ctx(|| format!("clone3 with namespaces {flags:?}"))
        }
    }
}
