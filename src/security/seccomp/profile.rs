//! Checks `linux.seccomp` and turns it into what the BPF assembler needs:
//! the default return value, the rules in config order, the filter flags
//! and the ABIs to filter.
//!
//! Choices, each matching runc (libseccomp) unless said otherwise:
//!
//! - The native architecture is always filtered, listed or not (libseccomp
//!   adds it to every filter). Only x86_64, x86 and x32 have syscall tables
//!   (generated from the kernel headers by `scripts/gen-syscall-tables.sh`).
//!   Other listed architectures cannot occur on an x86 kernel and are
//!   skipped with a debug log. A name missing from an architecture's table
//!   is skipped with a debug log.
//! - As runc, a rule whose action is the default action is skipped. Per
//!   syscall, the first rule without `args` decides it; otherwise its
//!   conditional rules are checked in config order and the first whose
//!   conditions hold wins (libseccomp merges them into a tree whose answer
//!   for overlapping rules with different actions follows its own order:
//!   docs/compat.md).
//! - MASKED_EQ compares with `valueTwo & value`, and one with an empty mask
//!   always holds; an errno above 4094 is refused (libseccomp's checks).
//! - Conditions on different arguments in one entry are ANDed. When one
//!   entry has several conditions on the same argument index they are
//!   ORed (each becomes a rule of its own), as runc does; Docker's profile
//!   relies on this, e.g. for `personality`.
//! - `SCMP_ACT_NOTIFY` needs `listenerPath`, cannot be the default action
//!   (runc refuses it too), and cannot apply to the syscalls hull makes
//!   between loading the filter and the agent holding the notify fd
//!   (`write`, as runc refuses, `sendmsg` and `close`): notified, they would
//!   block the container process forever.

use super::{Abi, RET_ALLOW, RET_ERRNO, RET_KILL_PROCESS, RET_KILL_THREAD, RET_LOG};
use super::{RET_TRACE, RET_TRAP, RET_USER_NOTIF};
use crate::error::{Error, Result};
use crate::spec::CONFIG;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompFilterFlag as FilterFlag,
    LinuxSeccompOperator as Op,
};

// seccomp(2) filter flags.
pub(super) const FLAG_TSYNC: u32 = 1;
pub(super) const FLAG_LOG: u32 = 2;
pub(super) const FLAG_SPEC_ALLOW: u32 = 4;
pub(super) const FLAG_NEW_LISTENER: u32 = 8;
pub(super) const FLAG_TSYNC_ESRCH: u32 = 16;
pub(super) const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

/// The syscalls hull makes after loading a filter with SCMP_ACT_NOTIFY
/// rules and before the seccomp agent holds the notify fd (or when handing
/// it over fails). Notified, they would wait forever for an agent that
/// cannot answer yet, so a profile notifying on them is refused.
const NEEDED_BEFORE_AGENT: &[(&str, &str)] = &[
    (
        "write",
        "hull writes its errors back to the runtime with it after the filter is loaded",
    ),
    (
        "sendmsg",
        "hull hands the notify fd to the seccomp agent with it",
    ),
    (
        "close",
        "hull closes the agent's socket with it to end the hand-off",
    ),
];

pub(super) fn field(ptr: &str, msg: impl std::fmt::Display) -> Error {
    Error::config(CONFIG, &format!("/linux/seccomp{ptr}"), msg)
}

/// One argument condition, validated.
#[derive(Clone, Copy, Debug)]
pub(super) struct Cond {
    pub index: u32,
    pub op: Op,
    pub value: u64,
    pub value_two: u64,
}

/// One `syscalls[]` entry, validated.
pub(super) struct Rule {
    pub names: Vec<String>,
    pub action: u32,
    /// Alternatives (ORed), each a list of ANDed conditions; empty when
    /// the entry has no `args` (matches on the number alone).
    pub alternatives: Vec<Vec<Cond>>,
    /// The action is the default action: no code is emitted for it (as
    /// runc skips such rules), its names still count for the -ENOSYS stub.
    pub redundant: bool,
}

/// A checked `linux.seccomp`.
pub(super) struct Profile {
    /// The return value of `defaultAction`.
    pub default: u32,
    pub rules: Vec<Rule>,
    /// The native ABI first, then the listed ones hull has tables for.
    pub abis: Vec<Abi>,
    pub flags: u32,
    /// Some rule uses SCMP_ACT_NOTIFY.
    pub notify: bool,
    /// Syscalls newer than every syscall the profile names get ENOSYS
    /// (see bpf.rs).
    pub enosys_stub: bool,
}

fn action_value(action: Action, errno: Option<u32>, default_errno: u32, ptr: &str) -> Result<u32> {
    let data = |e: u32, max: u32| -> Result<u32> {
        if e > max {
            return Err(field(
                ptr,
                format!("{e} is out of range (0 to {max}) for {action}"),
            ));
        }
        Ok(e)
    };
    Ok(match action {
        // Below MAX_ERRNO (4095), as libseccomp checks.
        Action::ScmpActErrno => RET_ERRNO | data(errno.unwrap_or(default_errno), 4094)?,
        Action::ScmpActTrace => RET_TRACE | data(errno.unwrap_or(default_errno), 0xffff)?,
        other => {
            if errno.is_some() {
                return Err(field(
                    ptr,
                    format!(
                        "an errno return is only valid with SCMP_ACT_ERRNO or SCMP_ACT_TRACE, not {other}"
                    ),
                ));
            }
            match other {
                Action::ScmpActKill | Action::ScmpActKillThread => RET_KILL_THREAD,
                Action::ScmpActKillProcess => RET_KILL_PROCESS,
                Action::ScmpActTrap => RET_TRAP,
                Action::ScmpActNotify => RET_USER_NOTIF,
                Action::ScmpActLog => RET_LOG,
                Action::ScmpActAllow => RET_ALLOW,
                Action::ScmpActErrno | Action::ScmpActTrace => unreachable!(),
            }
        }
    })
}

impl Profile {
    pub fn check(s: &LinuxSeccomp) -> Result<Profile> {
        let native = Abi::native()
            .ok_or_else(|| field("", "seccomp is only supported on x86_64 and x86 hosts"))?;
        let default = action_value(
            s.default_action(),
            s.default_errno_ret(),
            libc::EPERM as u32,
            "/defaultErrnoRet",
        )?;
        if s.default_action() == Action::ScmpActNotify {
            return Err(field(
                "/defaultAction",
                "SCMP_ACT_NOTIFY cannot be the default action",
            ));
        }

        let mut rules = Vec::new();
        let mut notify = false;
        for (i, sc) in s.syscalls().as_deref().unwrap_or(&[]).iter().enumerate() {
            let ptr = format!("/syscalls/{i}");
            if sc.names().is_empty() {
                return Err(field(
                    &format!("{ptr}/names"),
                    "must name at least one syscall",
                ));
            }
            let action = action_value(
                sc.action(),
                sc.errno_ret(),
                // As in runc: defaultErrnoRet is for defaultAction only.
                libc::EPERM as u32,
                &format!("{ptr}/errnoRet"),
            )?;
            if action == RET_USER_NOTIF {
                notify = true;
                if let Some((name, why)) = NEEDED_BEFORE_AGENT
                    .iter()
                    .find(|(n, _)| sc.names().iter().any(|m| m == n))
                {
                    return Err(field(
                        &format!("{ptr}/action"),
                        format!("SCMP_ACT_NOTIFY cannot be used for the {name} syscall: {why}"),
                    ));
                }
            }
            let mut conds = Vec::new();
            for (j, a) in sc.args().as_deref().unwrap_or(&[]).iter().enumerate() {
                if a.index() > 5 {
                    return Err(field(
                        &format!("{ptr}/args/{j}/index"),
                        format!("{} is not an argument index (0 to 5)", a.index()),
                    ));
                }
                let value_two = a.value_two().unwrap_or(0);
                conds.push(Cond {
                    index: a.index() as u32,
                    op: a.op(),
                    value: a.value(),
                    // As libseccomp: MASKED_EQ compares with the masked
                    // value, so bits outside the mask cannot make it fail.
                    value_two: if a.op() == Op::ScmpCmpMaskedEq {
                        value_two & a.value()
                    } else {
                        value_two
                    },
                });
            }
            let mut per_index = [0; 6];
            conds.iter().for_each(|c| per_index[c.index as usize] += 1);
            let mut alternatives = if conds.is_empty() {
                Vec::new()
            } else if per_index.iter().any(|&n| n > 1) {
                conds.into_iter().map(|c| vec![c]).collect()
            } else {
                vec![conds]
            };
            // A MASKED_EQ with an empty mask always holds: libseccomp drops
            // it, and an alternative left without conditions makes the rule
            // one without args.
            for alt in &mut alternatives {
                alt.retain(|c| !(c.op == Op::ScmpCmpMaskedEq && c.value == 0));
            }
            if alternatives.iter().any(|a| a.is_empty()) {
                alternatives.clear();
            }
            rules.push(Rule {
                names: sc.names().clone(),
                action,
                alternatives,
                redundant: action == default,
            });
        }

        if notify && s.listener_path().is_none() {
            return Err(field(
                "/listenerPath",
                "SCMP_ACT_NOTIFY needs listenerPath (a unix socket for the seccomp agent)",
            ));
        }
        if s.listener_metadata().is_some() && s.listener_path().is_none() {
            return Err(field(
                "/listenerMetadata",
                "must not be set without listenerPath",
            ));
        }

        let mut flags = 0;
        for f in s.flags().as_deref().unwrap_or(&[]) {
            flags |= match f {
                FilterFlag::SeccompFilterFlagTsync => FLAG_TSYNC,
                FilterFlag::SeccompFilterFlagLog => FLAG_LOG,
                FilterFlag::SeccompFilterFlagSpecAllow => FLAG_SPEC_ALLOW,
                FilterFlag::SeccompFilterFlagWaitKillableRecv if notify => FLAG_WAIT_KILLABLE_RECV,
                FilterFlag::SeccompFilterFlagWaitKillableRecv => {
                    // The kernel refuses it without a listener.
                    crate::logging::debug(
                        "seccomp: SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV ignored: no SCMP_ACT_NOTIFY rule",
                    );
                    0
                }
            };
        }
        if notify {
            flags |= FLAG_NEW_LISTENER;
            // The kernel requires TSYNC_ESRCH when TSYNC and NEW_LISTENER meet.
            if flags & FLAG_TSYNC != 0 {
                flags |= FLAG_TSYNC_ESRCH;
            }
        }

        // Architectures: the native one always, plus the listed ones hull has tables for.
        let mut abis = vec![native];
        for (i, a) in s
            .architectures()
            .as_deref()
            .unwrap_or(&[])
            .iter()
            .enumerate()
        {
            let abi = match a {
                Arch::ScmpArchNative => native,
                Arch::ScmpArchX86_64 => Abi::X86_64,
                Arch::ScmpArchX86 => Abi::X86,
                Arch::ScmpArchX32 => Abi::X32,
                other => {
                    crate::logging::debug(format!(
                        "seccomp: architectures[{i}]: {other} (audit arch {:#x}) has no syscall table in hull; its syscalls get the bad-arch action (kill)",
                        super::audit_arch(*other)
                    ));
                    continue;
                }
            };
            if !abis.contains(&abi) {
                abis.push(abi);
            }
        }

        // As runc: no stub when the default already lets syscalls through
        // (a tracer handles ENOSYS itself) or already is ENOSYS.
        let enosys_stub = !matches!(
            s.default_action(),
            Action::ScmpActAllow | Action::ScmpActLog | Action::ScmpActTrace
        ) && default != RET_ERRNO | libc::ENOSYS as u32;
        Ok(Profile {
            default,
            rules,
            abis,
            flags,
            notify,
            enosys_stub,
        })
    }
}
