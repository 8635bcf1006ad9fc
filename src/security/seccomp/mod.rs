//! `linux.seccomp`: compiles the config into a classic BPF program (in the
//! parent, before the clone) and installs it in the container's processes.
//!
//! - `profile.rs`: checks the config and turns it into rules, flags and ABIs;
//! - `bpf.rs`: assembles those into the BPF program;
//! - `install.rs`: loads the program with seccomp(2).
//!
//! The SCMP_ACT_NOTIFY listener (connecting to `listenerPath`, the state it
//! receives, handing it the notify fd) is process plumbing and lives in
//! `process/seccomp_notify.rs`.
//!
//! hull writes the BPF itself instead of going through libseccomp or
//! seccompiler, because it needs `SECCOMP_RET_USER_NOTIF` and wants the
//! program shape under its own control. The result is checked against
//! libseccomp's own filters by a differential test (`differential.rs`).

use crate::error::Result;
use oci_spec::runtime::{Arch, LinuxSeccomp};
use std::path::{Path, PathBuf};

mod bpf;
mod install;
mod profile;
#[path = "syscalls/x32.rs"]
mod x32_table;
#[path = "syscalls/x86_64.rs"]
mod x86_64_table;
#[path = "syscalls/x86.rs"]
mod x86_table;

/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

const AUDIT_ARCH_X86_64: u32 = 0xc000_003e;
const AUDIT_ARCH_I386: u32 = 0x4000_0003;
const X32_SYSCALL_BIT: u32 = 0x4000_0000;

// Return values (linux/seccomp.h).
pub const RET_KILL_PROCESS: u32 = 0x8000_0000;
pub const RET_KILL_THREAD: u32 = 0x0000_0000;
pub const RET_TRAP: u32 = 0x0003_0000;
pub const RET_ERRNO: u32 = 0x0005_0000;
pub const RET_USER_NOTIF: u32 = 0x7fc0_0000;
pub const RET_TRACE: u32 = 0x7ff0_0000;
pub const RET_LOG: u32 = 0x7ffc_0000;
pub const RET_ALLOW: u32 = 0x7fff_0000;
/// What a syscall from an architecture not in the filter gets: libseccomp's
/// default bad-arch action (SCMP_ACT_KILL), which runc keeps.
const RET_BAD_ARCH: u32 = RET_KILL_THREAD;

/// A compiled seccomp filter, ready to install.
#[derive(Debug)]
pub struct Filter {
    program: Vec<libc::sock_filter>,
    flags: u32,
    notify: bool,
    listener_path: Option<PathBuf>,
    listener_metadata: Option<String>,
}

/// A syscall ABI hull has a table for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Abi {
    X86_64,
    X86,
    X32,
}

impl Abi {
    fn native() -> Option<Abi> {
        if cfg!(target_arch = "x86_64") {
            Some(Abi::X86_64)
        } else if cfg!(target_arch = "x86") {
            Some(Abi::X86)
        } else {
            None
        }
    }

    fn table(self) -> &'static [(&'static str, u32)] {
        match self {
            Abi::X86_64 => x86_64_table::TABLE,
            Abi::X86 => x86_table::TABLE,
            Abi::X32 => x32_table::TABLE,
        }
    }

    /// Only the low word of an argument is compared: x86's arguments are
    /// 32-bit, and libseccomp treats x32 as a 32-bit ABI too.
    fn narrow(self) -> bool {
        matches!(self, Abi::X86 | Abi::X32)
    }

    fn lookup(self, name: &str) -> Option<u32> {
        let t = self.table();
        t.binary_search_by(|(n, _)| (*n).cmp(name))
            .ok()
            .map(|i| t[i].1)
    }
}

/// The AUDIT_ARCH value the kernel reports in `seccomp_data.arch` for an
/// OCI architecture (x32 shares x86_64's; native is resolved by the caller).
pub fn audit_arch(a: Arch) -> u32 {
    match a {
        Arch::ScmpArchNative | Arch::ScmpArchX86_64 | Arch::ScmpArchX32 => AUDIT_ARCH_X86_64,
        // The other libseccomp SCMP_ARCH_* values are the AUDIT_ARCH values.
        other => other as u32,
    }
}

/// The number of `name` on the native architecture, if hull knows it.
pub fn native_syscall(name: &str) -> Option<u32> {
    Abi::native().and_then(|a| a.lookup(name))
}

/// Every syscall name of the native ABI's table.
pub fn native_syscall_names() -> Vec<&'static str> {
    Abi::native()
        .map(|a| a.table().iter().map(|(n, _)| *n).collect())
        .unwrap_or_default()
}

/// Compiles `linux.seccomp` into a BPF program. Runs in the parent.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
    let p = profile::Profile::check(s)?;
    let program = bpf::assemble(&p)?;
    if program.len() > MAX_INSNS {
        return Err(profile::field(
            "/syscalls",
            format!(
                "the seccomp program needs {} BPF instructions, more than the kernel's limit of {MAX_INSNS}",
                program.len()
            ),
        ));
    }
    Ok(Filter {
        program,
        flags: p.flags,
        notify: p.notify,
        listener_path: s.listener_path().clone(),
        listener_metadata: s.listener_metadata().clone(),
    })
}

impl Filter {
    /// True when some rule uses SCMP_ACT_NOTIFY (install then returns a fd).
    pub fn notify(&self) -> bool {
        self.notify
    }

    pub fn len(&self) -> usize {
        self.program.len()
    }

    pub fn is_empty(&self) -> bool {
        self.program.is_empty()
    }

    pub fn program(&self) -> &[libc::sock_filter] {
        &self.program
    }

    pub fn flags(&self) -> u32 {
        self.flags
    }

    pub fn listener_path(&self) -> Option<&Path> {
        self.listener_path.as_deref()
    }

    pub fn listener_metadata(&self) -> Option<&str> {
        self.listener_metadata.as_deref()
    }
}

#[cfg(test)]
mod differential;
#[cfg(test)]
mod tests;
