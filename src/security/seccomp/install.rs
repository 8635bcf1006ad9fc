//! Loads a compiled filter into the calling process with seccomp(2).

use super::Filter;
use crate::error::{Context, Result};
use std::os::fd::{FromRawFd, OwnedFd, RawFd};

const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;

impl Filter {
    /// Installs the filter on the calling thread (needs no_new_privs or
    /// CAP_SYS_ADMIN). Returns the notify fd when a rule uses SCMP_ACT_NOTIFY.
    pub fn install(&self) -> Result<Option<OwnedFd>> {
        let prog = libc::sock_fprog {
            len: self.program.len() as u16,
            filter: self.program.as_ptr() as *mut libc::sock_filter,
        };
        // SAFETY: prog points at self.program, alive for the call; the
        // kernel copies it.
        let r = unsafe {
            libc::syscall(
                libc::SYS_seccomp,
                SECCOMP_SET_MODE_FILTER,
                self.flags as libc::c_uint,
                &prog as *const libc::sock_fprog,
            )
        };
        if r < 0 {
            return Err(std::io::Error::last_os_error()).ctx(|| {
                format!(
                    "linux.seccomp: seccomp(SECCOMP_SET_MODE_FILTER, flags {:#x})",
                    self.flags
                )
            });
        }
        if self.notify {
            // SAFETY: with NEW_LISTENER the kernel returned a new descriptor.
            Ok(Some(unsafe { OwnedFd::from_raw_fd(r as RawFd) }))
        } else {
            Ok(None)
        }
    }
}
