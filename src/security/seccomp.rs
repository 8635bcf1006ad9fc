//! `linux.seccomp`: compiles the config into a classic BPF program (in the
//! parent, before the clone) and installs it in the container init.
//!
//! hull writes the BPF itself instead of going through libseccomp or
//! seccompiler, because it needs `SECCOMP_RET_USER_NOTIF` and wants the
//! program shape under its own control. The program is:
//!
//! ```text
//!     ld  arch
//!     jeq AUDIT_ARCH_X86_64 -> section x86_64   (one check per audit arch)
//!     jeq AUDIT_ARCH_I386   -> section x86
//!     ret KILL_PROCESS                          (an architecture not listed)
//! section x86_64:
//!     ld  nr
//!     jge 0x40000000 -> x32 rules, or KILL_PROCESS when x32 is not listed
//!     <x86_64 rules>  ret default
//!     <x32 rules>     ret default
//! section x86:
//!     ld  nr
//!     <x86 rules>     ret default
//! ```
//!
//! Choices, each matching runc (libseccomp) unless said otherwise:
//!
//! - The native architecture is always filtered, listed or not (libseccomp
//!   adds it to every filter). A syscall made through an architecture that
//!   is neither native nor listed gets `SECCOMP_RET_KILL_PROCESS`, the
//!   "bad arch" action. x32 calls arrive as `AUDIT_ARCH_X86_64` with
//!   `__X32_SYSCALL_BIT` set in the number; unless `SCMP_ARCH_X32` is listed
//!   they are killed too, so they can never match (or slip past) x86_64 rules.
//! - Only x86_64, x86 and x32 have syscall tables (generated from the kernel
//!   headers by `scripts/gen-syscall-tables.sh`). Other listed architectures
//!   cannot occur on an x86 kernel and are skipped with a debug log. A name
//!   missing from an architecture's table is skipped with a debug log.
//! - Rules are checked in config order and the first match wins; a syscall
//!   named in several entries takes the action of the first entry whose
//!   argument conditions hold. (libseccomp instead merges rules per
//!   syscall; the results only differ for contradictory profiles.)
//! - Conditions on different arguments in one entry are ANDed. When one
//!   entry has several conditions on the same argument index they are
//!   ORed (each becomes a rule of its own), as runc does; Docker's profile
//!   relies on this, e.g. for `personality`.
//! - Comparisons are 64-bit on x86_64 and x32 (high word, then low word)
//!   and 32-bit on x86, whose arguments are 32-bit (only the low word of
//!   the value is compared, as libseccomp does).
//! - `SCMP_ACT_NOTIFY` needs `listenerPath`, cannot be the default action
//!   (runc refuses it too), and cannot apply to `sendmsg`: the init sends
//!   the notify fd over `sendmsg` after the filter is in place, so notifying
//!   on it would block the init forever.

use crate::error::{Context, Error, Result};
use crate::spec::CONFIG;
use oci_spec::runtime::{
    Arch, LinuxSeccomp, LinuxSeccompAction as Action, LinuxSeccompFilterFlag as FilterFlag,
    LinuxSeccompOperator as Op,
};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

#[path = "syscalls/x32.rs"]
mod x32_table;
#[path = "syscalls/x86_64.rs"]
mod x86_64_table;
#[path = "syscalls/x86.rs"]
mod x86_table;

// Classic BPF opcodes (linux/bpf_common.h).
/// BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20).
const BPF_LD_W_ABS: u16 = 0x20;
const BPF_ALU_AND_K: u16 = 0x04 | 0x50;
const BPF_JA: u16 = 0x05;
const BPF_JEQ_K: u16 = 0x05 | 0x10;
const BPF_JGT_K: u16 = 0x05 | 0x20;
const BPF_JGE_K: u16 = 0x05 | 0x30;
const BPF_RET_K: u16 = 0x06;
/// The kernel's limit on a classic BPF program (BPF_MAXINSNS).
pub const MAX_INSNS: usize = 4096;

// struct seccomp_data offsets.
const OFF_NR: u32 = 0;
const OFF_ARCH: u32 = 4;
const OFF_ARGS: u32 = 16;

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
/// What a syscall from an architecture not in the filter gets.
const RET_BAD_ARCH: u32 = RET_KILL_PROCESS;

// seccomp(2) operations and flags.
const SECCOMP_SET_MODE_FILTER: libc::c_uint = 1;
const FLAG_TSYNC: u32 = 1;
const FLAG_LOG: u32 = 2;
const FLAG_SPEC_ALLOW: u32 = 4;
const FLAG_NEW_LISTENER: u32 = 8;
const FLAG_TSYNC_ESRCH: u32 = 16;
const FLAG_WAIT_KILLABLE_RECV: u32 = 32;

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

    /// 32-bit syscall arguments: only the low word is compared.
    fn narrow(self) -> bool {
        self == Abi::X86
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

fn field(ptr: &str, msg: impl std::fmt::Display) -> Error {
    Error::config(CONFIG, &format!("/linux/seccomp{ptr}"), msg)
}

/// One argument condition, validated.
#[derive(Clone, Copy, Debug)]
struct Cond {
    index: u32,
    op: Op,
    value: u64,
    value_two: u64,
}

/// One `syscalls[]` entry, validated.
struct Rule {
    names: Vec<String>,
    action: u32,
    /// Alternatives (ORed), each a list of ANDed conditions; empty when
    /// the entry has no `args` (matches on the number alone).
    alternatives: Vec<Vec<Cond>>,
}

fn action_value(action: Action, errno: Option<u32>, default_errno: u32, ptr: &str) -> Result<u32> {
    let data = |e: u32| -> Result<u32> {
        if e > 0xffff {
            return Err(field(
                ptr,
                format!("errno {e} does not fit the 16-bit seccomp return data"),
            ));
        }
        Ok(e)
    };
    Ok(match action {
        Action::ScmpActErrno => RET_ERRNO | data(errno.unwrap_or(default_errno))?,
        Action::ScmpActTrace => RET_TRACE | data(errno.unwrap_or(default_errno))?,
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

/// Compiles `linux.seccomp` into a BPF program. Runs in the parent.
pub fn compile(s: &LinuxSeccomp) -> Result<Filter> {
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
            if sc.names().iter().any(|n| n == "sendmsg") {
                return Err(field(
                    &format!("{ptr}/action"),
                    "SCMP_ACT_NOTIFY cannot be used for sendmsg: the init needs it to hand the notify fd to the listener",
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
            conds.push(Cond {
                index: a.index() as u32,
                op: a.op(),
                value: a.value(),
                value_two: a.value_two().unwrap_or(0),
            });
        }
        let mut per_index = [0; 6];
        conds.iter().for_each(|c| per_index[c.index as usize] += 1);
        let alternatives = if conds.is_empty() {
            Vec::new()
        } else if per_index.iter().any(|&n| n > 1) {
            conds.into_iter().map(|c| vec![c]).collect()
        } else {
            vec![conds]
        };
        rules.push(Rule {
            names: sc.names().clone(),
            action,
            alternatives,
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
                    audit_arch(*other)
                ));
                continue;
            }
        };
        if !abis.contains(&abi) {
            abis.push(abi);
        }
    }

    let program = assemble(&abis, &rules, default)?;
    if program.len() > MAX_INSNS {
        return Err(field(
            "/syscalls",
            format!(
                "the seccomp program needs {} BPF instructions, more than the kernel's limit of {MAX_INSNS}",
                program.len()
            ),
        ));
    }
    Ok(Filter {
        program,
        flags,
        notify,
        listener_path: s.listener_path().clone(),
        listener_metadata: s.listener_metadata().clone(),
    })
}

fn stmt(code: u16, k: u32) -> libc::sock_filter {
    libc::sock_filter {
        code,
        jt: 0,
        jf: 0,
        k,
    }
}

fn jump(code: u16, k: u32, jt: u8, jf: u8) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Builds the whole program (see the module docs for its layout).
fn assemble(abis: &[Abi], rules: &[Rule], default: u32) -> Result<Vec<libc::sock_filter>> {
    let has = |a: Abi| abis.contains(&a);
    // One section per audit arch value.
    let mut sections: Vec<(u32, Vec<libc::sock_filter>)> = Vec::new();
    if has(Abi::X86_64) || has(Abi::X32) {
        let mut sec = vec![stmt(BPF_LD_W_ABS, OFF_NR)];
        let x32 = if has(Abi::X32) {
            let mut v = rules_for(Abi::X32, rules)?;
            v.push(stmt(BPF_RET_K, default));
            v
        } else {
            vec![stmt(BPF_RET_K, RET_BAD_ARCH)]
        };
        let x86_64 = if has(Abi::X86_64) {
            let mut v = rules_for(Abi::X86_64, rules)?;
            v.push(stmt(BPF_RET_K, default));
            v
        } else {
            vec![stmt(BPF_RET_K, RET_BAD_ARCH)]
        };
        // jge X32_BIT -> (ja over x86_64) ; else fall into x86_64
        sec.push(jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1));
        sec.push(stmt(BPF_JA, x86_64.len() as u32));
        sec.extend(x86_64);
        sec.extend(x32);
        sections.push((AUDIT_ARCH_X86_64, sec));
    }
    if has(Abi::X86) {
        let mut sec = vec![stmt(BPF_LD_W_ABS, OFF_NR)];
        sec.extend(rules_for(Abi::X86, rules)?);
        sec.push(stmt(BPF_RET_K, default));
        sections.push((AUDIT_ARCH_I386, sec));
    }

    // Dispatch: per section "jeq arch; ja section", then the bad-arch return.
    let mut prog = vec![stmt(BPF_LD_W_ABS, OFF_ARCH)];
    let dispatch_len = 2 * sections.len() + 1;
    let mut offset = 0usize; // of each section, from the end of the dispatch
    for (i, (arch, sec)) in sections.iter().enumerate() {
        prog.push(jump(BPF_JEQ_K, *arch, 0, 1));
        // The ja sits at dispatch index 2i+1 (1-based after the ld); the
        // next instruction is 2i+2; the section starts at dispatch_len + offset.
        let from = 2 * i + 2;
        prog.push(stmt(BPF_JA, (dispatch_len - from + offset) as u32));
        offset += sec.len();
    }
    prog.push(stmt(BPF_RET_K, RET_BAD_ARCH));
    for (_, sec) in sections {
        prog.extend(sec);
    }
    Ok(prog)
}

/// The rules of one ABI. Expects the syscall number in A and leaves it
/// there when no rule matched.
fn rules_for(abi: Abi, rules: &[Rule]) -> Result<Vec<libc::sock_filter>> {
    let mut out = Vec::new();
    // A run of argument-less names sharing an action: one jeq each, one ret.
    let mut run: Vec<u32> = Vec::new();
    let mut run_action = 0;
    let flush = |out: &mut Vec<libc::sock_filter>, run: &mut Vec<u32>, action: u32| {
        let k = run.len();
        for (i, nr) in run.drain(..).enumerate() {
            if i + 1 == k {
                out.push(jump(BPF_JEQ_K, nr, 0, 1));
            } else {
                out.push(jump(BPF_JEQ_K, nr, (k - 1 - i) as u8, 0));
            }
        }
        if k > 0 {
            out.push(stmt(BPF_RET_K, action));
        }
    };
    for rule in rules {
        for name in &rule.names {
            let Some(nr) = abi.lookup(name) else {
                crate::logging::debug(format!(
                    "seccomp: unknown syscall {name:?} for {abi:?}, skipped"
                ));
                continue;
            };
            if rule.alternatives.is_empty() {
                if run_action != rule.action || run.len() == 255 {
                    flush(&mut out, &mut run, run_action);
                }
                run_action = rule.action;
                run.push(nr);
                continue;
            }
            flush(&mut out, &mut run, run_action);
            for conds in &rule.alternatives {
                out.extend(conditional(abi, nr, conds, rule.action)?);
            }
        }
    }
    flush(&mut out, &mut run, run_action);
    Ok(out)
}

/// A jump target inside one condition block, resolved when the block is done.
#[derive(Clone, Copy)]
enum To {
    /// The next instruction.
    Next,
    /// The instruction after this condition (it holds).
    Pass,
    /// The end of the rule (it does not hold).
    Fail,
}

/// `jeq nr; <conds>; ret action; ld nr` where a failed condition jumps to
/// the `ld nr` that restores A for the rules after it.
fn conditional(abi: Abi, nr: u32, conds: &[Cond], action: u32) -> Result<Vec<libc::sock_filter>> {
    let mut body: Vec<(libc::sock_filter, To, To)> = Vec::new();
    let mut ends: Vec<usize> = Vec::new(); // index after each condition
    for c in conds {
        let start = body.len();
        emit_cond(abi, c, &mut body);
        ends.push(body.len());
        debug_assert!(body.len() > start);
    }
    // Layout: [0] jeq nr, [1..=n] body, [n+1] ret, [n+2] ld nr, [n+3] end.
    let n = body.len();
    let ret_at = n + 1;
    let reload_at = n + 2;
    let mut out = Vec::with_capacity(n + 3);
    out.push(jump(BPF_JEQ_K, nr, 0, u8_off(n + 2)?));
    let mut cond_idx = 0;
    for (i, (mut ins, jt, jf)) in body.into_iter().enumerate() {
        while ends[cond_idx] <= i {
            cond_idx += 1;
        }
        let pos = i + 1;
        let resolve = |t: To| -> Result<u8> {
            let target = match t {
                To::Next => pos + 1,
                To::Pass => ends[cond_idx] + 1,
                To::Fail => reload_at,
            };
            u8_off(target - pos - 1)
        };
        if ins.code & 0x07 == 0x05 && ins.code != BPF_JA {
            ins.jt = resolve(jt)?;
            ins.jf = resolve(jf)?;
        }
        out.push(ins);
    }
    debug_assert_eq!(out.len(), ret_at);
    out.push(stmt(BPF_RET_K, action));
    out.push(stmt(BPF_LD_W_ABS, OFF_NR));
    Ok(out)
}

fn u8_off(n: usize) -> Result<u8> {
    u8::try_from(n).map_err(|_| Error::msg("seccomp: a rule is too long for a BPF jump"))
}

/// Emits one condition; it falls through (or jumps to Pass) when it holds
/// and jumps to Fail when it does not.
fn emit_cond(abi: Abi, c: &Cond, body: &mut Vec<(libc::sock_filter, To, To)>) {
    let lo_off = OFF_ARGS + 8 * c.index;
    let hi_off = lo_off + 4;
    let (hi, lo) = ((c.value >> 32) as u32, c.value as u32);
    let (hi2, lo2) = ((c.value_two >> 32) as u32, c.value_two as u32);
    let ld = |off| (stmt(BPF_LD_W_ABS, off), To::Next, To::Next);
    let j = |code, k, jt, jf| (jump(code, k, 0, 0), jt, jf);
    let narrow = abi.narrow();
    use To::*;
    match c.op {
        Op::ScmpCmpEq => {
            if !narrow {
                body.push(ld(hi_off));
                body.push(j(BPF_JEQ_K, hi, Next, Fail));
            }
            body.push(ld(lo_off));
            body.push(j(BPF_JEQ_K, lo, Pass, Fail));
        }
        Op::ScmpCmpNe => {
            if !narrow {
                body.push(ld(hi_off));
                body.push(j(BPF_JEQ_K, hi, Next, Pass));
            }
            body.push(ld(lo_off));
            body.push(j(BPF_JEQ_K, lo, Fail, Pass));
        }
        Op::ScmpCmpMaskedEq => {
            if !narrow {
                body.push(ld(hi_off));
                body.push((stmt(BPF_ALU_AND_K, hi), Next, Next));
                body.push(j(BPF_JEQ_K, hi2, Next, Fail));
            }
            body.push(ld(lo_off));
            body.push((stmt(BPF_ALU_AND_K, lo), Next, Next));
            body.push(j(BPF_JEQ_K, lo2, Pass, Fail));
        }
        // Ordered comparisons (unsigned, as the kernel's BPF jumps are):
        // decided by the high word unless it is equal, then by the low word.
        Op::ScmpCmpGt | Op::ScmpCmpGe | Op::ScmpCmpLt | Op::ScmpCmpLe => {
            let greater_holds = matches!(c.op, Op::ScmpCmpGt | Op::ScmpCmpGe);
            let (above, below) = if greater_holds {
                (Pass, Fail)
            } else {
                (Fail, Pass)
            };
            if !narrow {
                body.push(ld(hi_off));
                body.push(j(BPF_JGT_K, hi, above, Next));
                body.push(j(BPF_JEQ_K, hi, Next, below));
            }
            body.push(ld(lo_off));
            match c.op {
                // GT: lo > v ; LE = !GT
                Op::ScmpCmpGt => body.push(j(BPF_JGT_K, lo, Pass, Fail)),
                Op::ScmpCmpLe => body.push(j(BPF_JGT_K, lo, Fail, Pass)),
                // GE: lo >= v ; LT = !GE
                Op::ScmpCmpGe => body.push(j(BPF_JGE_K, lo, Pass, Fail)),
                _ => body.push(j(BPF_JGE_K, lo, Fail, Pass)),
            }
        }
    }
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

    /// Connects to `listenerPath`. Runs in the parent, before the clone:
    /// the path is on the host, and the init installs the filter after
    /// pivot_root.
    pub fn connect_listener(&self) -> Result<Option<OwnedFd>> {
        let Some(path) = self.listener_path.as_deref().filter(|_| self.notify) else {
            return Ok(None);
        };
        let s = std::os::unix::net::UnixStream::connect(path)
            .ctx(|| format!("linux.seccomp.listenerPath: connect {}", path.display()))?;
        Ok(Some(s.into()))
    }

    /// The container process state the listener receives (config-linux.md,
    /// "The Container Process State").
    pub fn process_state(
        &self,
        oci_version: &str,
        id: &str,
        pid: i32,
        bundle: &Path,
        annotations: Option<&std::collections::HashMap<String, String>>,
        status: &str,
    ) -> serde_json::Value {
        let mut state = serde_json::json!({
            "ociVersion": oci_version,
            "fds": ["seccompFd"],
            "pid": pid,
            "state": {
                "ociVersion": oci_version,
                "id": id,
                "status": status,
                "pid": pid,
                "bundle": bundle,
                "annotations": annotations.cloned().unwrap_or_default(),
            },
        });
        if let Some(m) = &self.listener_metadata {
            state["metadata"] = serde_json::Value::String(m.clone());
        }
        state
    }
}

/// Sends the state JSON with the notify fd (SCM_RIGHTS, first message
/// only) over the connected listener socket, then closes the socket.
pub fn send_to_listener(sock: OwnedFd, notify_fd: &OwnedFd, state: &[u8]) -> Result<()> {
    use nix::sys::socket::{ControlMessage, MsgFlags, sendmsg};
    let fds = [notify_fd.as_raw_fd()];
    let cmsg = [ControlMessage::ScmRights(&fds)];
    let mut sent = 0;
    while sent < state.len() {
        let iov = [std::io::IoSlice::new(&state[sent..])];
        let cmsgs: &[ControlMessage] = if sent == 0 { &cmsg } else { &[] };
        match sendmsg::<()>(sock.as_raw_fd(), &iov, cmsgs, MsgFlags::MSG_NOSIGNAL, None) {
            Ok(n) => sent += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => {
                return Err(e).ctx(|| "linux.seccomp.listenerPath: send the seccomp state".into());
            }
        }
    }
    drop(sock);
    Ok(())
}

/// This process's pid as the runtime sees it, read from /proc/self while
/// the host's /proc is still mounted (before pivot_root); falls back to getpid.
/// Installs the filter; with SCMP_ACT_NOTIFY, sends the notify fd and the
/// process state (built only then) to the listener socket.
pub fn install_and_notify(
    filter: &Filter,
    listener: Option<std::os::fd::RawFd>,
    state: impl FnOnce() -> serde_json::Value,
) -> Result<()> {
    let Some(notify_fd) = filter.install()? else {
        return Ok(());
    };
    let sock =
        listener.ok_or_else(|| Error::msg("linux.seccomp: SCMP_ACT_NOTIFY needs listenerPath"))?;
    // SAFETY: the parent passed this connected socket to this process only.
    let sock = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(sock) };
    send_to_listener(sock, &notify_fd, state().to_string().as_bytes())
}

/// Installs the container's filter (if any) for a process of container
/// `id`, telling a NOTIFY listener the process state with `status`.
pub fn install_for(
    filter: Option<&Filter>,
    listener: Option<std::os::fd::RawFd>,
    spec: &oci_spec::runtime::Spec,
    id: &str,
    pid: i32,
    bundle: &Path,
    status: &str,
) -> Result<()> {
    let Some(filter) = filter else {
        return Ok(());
    };
    install_and_notify(filter, listener, || {
        filter.process_state(
            crate::spec::OCI_VERSION,
            id,
            pid,
            bundle,
            spec.annotations().as_ref(),
            status,
        )
    })
}

pub fn host_pid() -> i32 {
    std::fs::read_link("/proc/self")
        .ok()
        .and_then(|p| p.to_str().and_then(|s| s.parse().ok()))
        .unwrap_or_else(|| nix::unistd::getpid().as_raw())
}

#[cfg(test)]
mod tests {
    use super::*;
    use oci_spec::runtime::LinuxSeccomp;

    fn parse(json: serde_json::Value) -> LinuxSeccomp {
        serde_json::from_value(json).expect("valid LinuxSeccomp")
    }

    fn compile_json(json: serde_json::Value) -> Result<Filter> {
        compile(&parse(json))
    }

    /// A tiny classic-BPF interpreter for the instructions hull emits.
    fn run(prog: &[libc::sock_filter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
        let mut data = [0u8; 64];
        data[0..4].copy_from_slice(&nr.to_le_bytes());
        data[4..8].copy_from_slice(&arch.to_le_bytes());
        for (i, a) in args.iter().enumerate() {
            data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
        }
        let mut a: u32 = 0;
        let mut pc = 0usize;
        for _ in 0..100_000 {
            let ins = prog
                .get(pc)
                .unwrap_or_else(|| panic!("pc {pc} ran off the program"));
            pc += 1;
            match ins.code {
                BPF_LD_W_ABS => {
                    let k = ins.k as usize;
                    assert!(k.is_multiple_of(4) && k + 4 <= 64, "bad load offset {k}");
                    a = u32::from_le_bytes(data[k..k + 4].try_into().unwrap());
                }
                BPF_ALU_AND_K => a &= ins.k,
                BPF_JA => pc += ins.k as usize,
                BPF_JEQ_K | BPF_JGT_K | BPF_JGE_K => {
                    let t = match ins.code {
                        BPF_JEQ_K => a == ins.k,
                        BPF_JGT_K => a > ins.k,
                        _ => a >= ins.k,
                    };
                    pc += if t { ins.jt } else { ins.jf } as usize;
                }
                BPF_RET_K => return ins.k,
                c => panic!("unexpected opcode {c:#x}"),
            }
        }
        panic!("program did not return");
    }

    fn nr(name: &str) -> u32 {
        Abi::X86_64.lookup(name).unwrap()
    }

    fn x86_64(f: &Filter, name: &str, args: [u64; 6]) -> u32 {
        run(&f.program, nr(name), AUDIT_ARCH_X86_64, args)
    }

    #[test]
    fn tables_are_sorted_and_known() {
        for abi in [Abi::X86_64, Abi::X86, Abi::X32] {
            let t = abi.table();
            assert!(t.len() > 300, "{abi:?}");
            assert!(t.windows(2).all(|w| w[0].0 < w[1].0), "{abi:?} not sorted");
        }
        assert_eq!(Abi::X86_64.lookup("read"), Some(0));
        assert_eq!(Abi::X86_64.lookup("mkdir"), Some(83));
        assert_eq!(Abi::X86_64.lookup("seccomp"), Some(317));
        assert_eq!(Abi::X86.lookup("mkdir"), Some(39));
        assert_eq!(Abi::X86.lookup("socketcall"), Some(102));
        assert_eq!(Abi::X32.lookup("read"), Some(X32_SYSCALL_BIT));
        assert_eq!(Abi::X32.lookup("mkdir"), Some(X32_SYSCALL_BIT | 83));
        assert_eq!(Abi::X86_64.lookup("socketcall"), None);
        assert_eq!(Abi::X86_64.lookup("no_such_call"), None);
        assert_eq!(native_syscall("getppid"), Some(libc::SYS_getppid as u32));
    }

    #[test]
    fn program_shape_for_a_simple_deny_list() {
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["mkdir", "rmdir"], "action": "SCMP_ACT_ERRNO" }]
        }))
        .unwrap();
        let p = &f.program;
        // ld arch; jeq x86_64; ja; ret kill; ld nr; jge x32; ja; jeq; jeq; ret errno;
        // ret allow; ret kill (x32 not listed)
        assert_eq!(p.len(), 12, "{p:?}");
        assert_eq!((p[0].code, p[0].k), (BPF_LD_W_ABS, OFF_ARCH));
        assert_eq!((p[1].code, p[1].k), (BPF_JEQ_K, AUDIT_ARCH_X86_64));
        assert_eq!((p[3].code, p[3].k), (BPF_RET_K, RET_BAD_ARCH));
        assert_eq!((p[4].code, p[4].k), (BPF_LD_W_ABS, OFF_NR));
        assert_eq!((p[5].code, p[5].k), (BPF_JGE_K, X32_SYSCALL_BIT));
        assert_eq!((p[7].code, p[7].k, p[7].jt, p[7].jf), (BPF_JEQ_K, 83, 1, 0));
        assert_eq!((p[8].code, p[8].k, p[8].jt, p[8].jf), (BPF_JEQ_K, 84, 0, 1));
        assert_eq!((p[9].code, p[9].k), (BPF_RET_K, RET_ERRNO | 1));
        assert_eq!((p[10].code, p[10].k), (BPF_RET_K, RET_ALLOW));
        assert_eq!(f.flags, 0);
        assert!(!f.notify());
        assert_eq!(x86_64(&f, "mkdir", [0; 6]), RET_ERRNO | 1);
        assert_eq!(x86_64(&f, "rmdir", [0; 6]), RET_ERRNO | 1);
        assert_eq!(x86_64(&f, "read", [0; 6]), RET_ALLOW);
    }

    #[test]
    fn architectures_and_x32() {
        let deny =
            serde_json::json!([{ "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }]);
        // Native only: i386 and x32 calls are killed, x32 cannot reach x86_64 rules.
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "syscalls": deny
        }))
        .unwrap();
        assert_eq!(run(&f.program, 39, AUDIT_ARCH_I386, [0; 6]), RET_BAD_ARCH);
        assert_eq!(
            run(&f.program, X32_SYSCALL_BIT | 83, AUDIT_ARCH_X86_64, [0; 6]),
            RET_BAD_ARCH
        );
        assert_eq!(
            run(&f.program, X32_SYSCALL_BIT | 3, AUDIT_ARCH_X86_64, [0; 6]),
            RET_BAD_ARCH
        );
        assert_eq!(run(&f.program, 83, 0xc00000b7, [0; 6]), RET_BAD_ARCH);
        assert_eq!(
            run(&f.program, 83, AUDIT_ARCH_X86_64, [0; 6]),
            RET_ERRNO | 38
        );

        // All three listed (and an arch without a table, ignored).
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32", "SCMP_ARCH_AARCH64"],
            "syscalls": deny
        }))
        .unwrap();
        assert_eq!(run(&f.program, 39, AUDIT_ARCH_I386, [0; 6]), RET_ERRNO | 38);
        assert_eq!(run(&f.program, 40, AUDIT_ARCH_I386, [0; 6]), RET_ALLOW);
        assert_eq!(
            run(&f.program, X32_SYSCALL_BIT | 83, AUDIT_ARCH_X86_64, [0; 6]),
            RET_ERRNO | 38
        );
        assert_eq!(
            run(&f.program, X32_SYSCALL_BIT | 84, AUDIT_ARCH_X86_64, [0; 6]),
            RET_ALLOW
        );
        assert_eq!(
            run(&f.program, 83, AUDIT_ARCH_X86_64, [0; 6]),
            RET_ERRNO | 38
        );
        assert_eq!(run(&f.program, 83, 0xc00000b7, [0; 6]), RET_BAD_ARCH);

        // Only x86 listed: native x86_64 is still filtered.
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86"], "syscalls": deny
        }))
        .unwrap();
        assert_eq!(
            run(&f.program, 83, AUDIT_ARCH_X86_64, [0; 6]),
            RET_ERRNO | 38
        );
        assert_eq!(run(&f.program, 39, AUDIT_ARCH_I386, [0; 6]), RET_ERRNO | 38);
        assert_eq!(audit_arch(Arch::ScmpArchX86), AUDIT_ARCH_I386);
        assert_eq!(audit_arch(Arch::ScmpArchX32), AUDIT_ARCH_X86_64);
        assert_eq!(audit_arch(Arch::ScmpArchAarch64), 0xc00000b7);
    }

    #[test]
    fn actions_and_errno() {
        let cases = [
            (serde_json::json!("SCMP_ACT_KILL"), None, RET_KILL_THREAD),
            (
                serde_json::json!("SCMP_ACT_KILL_THREAD"),
                None,
                RET_KILL_THREAD,
            ),
            (
                serde_json::json!("SCMP_ACT_KILL_PROCESS"),
                None,
                RET_KILL_PROCESS,
            ),
            (serde_json::json!("SCMP_ACT_TRAP"), None, RET_TRAP),
            (serde_json::json!("SCMP_ACT_ERRNO"), None, RET_ERRNO | 1),
            (
                serde_json::json!("SCMP_ACT_ERRNO"),
                Some(13),
                RET_ERRNO | 13,
            ),
            (serde_json::json!("SCMP_ACT_TRACE"), Some(5), RET_TRACE | 5),
            (serde_json::json!("SCMP_ACT_TRACE"), None, RET_TRACE | 1),
            (serde_json::json!("SCMP_ACT_LOG"), None, RET_LOG),
            (serde_json::json!("SCMP_ACT_ALLOW"), None, RET_ALLOW),
        ];
        for (action, errno, want) in cases {
            let mut rule = serde_json::json!({ "names": ["getppid"], "action": action });
            if let Some(e) = errno {
                rule["errnoRet"] = e.into();
            }
            let f = compile_json(serde_json::json!({
                "defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 7, "syscalls": [rule]
            }))
            .unwrap();
            assert_eq!(x86_64(&f, "getppid", [0; 6]), want, "{action}");
            assert_eq!(x86_64(&f, "getpid", [0; 6]), RET_ERRNO | 7, "{action}");
        }
        // EPERM by default.
        let f = compile_json(serde_json::json!({ "defaultAction": "SCMP_ACT_ERRNO" })).unwrap();
        assert_eq!(x86_64(&f, "getpid", [0; 6]), RET_ERRNO | 1);
    }

    #[test]
    fn config_errors_name_the_field() {
        let err = |j| compile_json(j).unwrap_err().to_string();
        let e = err(
            serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                { "names": ["read"], "action": "SCMP_ACT_ALLOW" },
                { "names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "errnoRet": 1 }
            ]}),
        );
        assert!(e.contains("/linux/seccomp/syscalls/1/errnoRet"), "{e}");
        let e = err(serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1 }));
        assert!(e.contains("/linux/seccomp/defaultErrnoRet"), "{e}");
        let e = err(
            serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                { "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }
            ]}),
        );
        assert!(e.contains("SCMP_ACT_NOTIFY needs listenerPath"), "{e}");
        let e = err(
            serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                { "names": ["mkdir"], "action": "SCMP_ACT_ALLOW", "args": [{ "index": 6, "value": 0, "op": "SCMP_CMP_EQ" }] }
            ]}),
        );
        assert!(e.contains("/linux/seccomp/syscalls/0/args/0/index"), "{e}");
        let e = err(
            serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                { "names": [], "action": "SCMP_ACT_ALLOW" }
            ]}),
        );
        assert!(e.contains("/linux/seccomp/syscalls/0/names"), "{e}");
        let e =
            err(serde_json::json!({ "defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x" }));
        assert!(e.contains("/linux/seccomp/defaultAction"), "{e}");
        let e =
            err(serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m" }));
        assert!(e.contains("/linux/seccomp/listenerMetadata"), "{e}");
        let e = err(
            serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [
                { "names": ["sendmsg"], "action": "SCMP_ACT_NOTIFY" }
            ]}),
        );
        assert!(e.contains("/linux/seccomp/syscalls/0/action"), "{e}");
    }

    #[test]
    fn flags_and_notify() {
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "flags": ["SECCOMP_FILTER_FLAG_LOG", "SECCOMP_FILTER_FLAG_SPEC_ALLOW", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"]
        }))
        .unwrap();
        assert_eq!(f.flags, FLAG_LOG | FLAG_SPEC_ALLOW);
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "listenerPath": "/run/agent.sock",
            "listenerMetadata": "meta",
            "flags": ["SECCOMP_FILTER_FLAG_TSYNC", "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV"],
            "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }]
        }))
        .unwrap();
        assert!(f.notify());
        assert_eq!(
            f.flags,
            FLAG_TSYNC | FLAG_TSYNC_ESRCH | FLAG_NEW_LISTENER | FLAG_WAIT_KILLABLE_RECV
        );
        assert_eq!(x86_64(&f, "mkdir", [0; 6]), RET_USER_NOTIF);
        let s = f.process_state("1.2.0", "c1", 42, Path::new("/b"), None, "creating");
        assert_eq!(s["fds"], serde_json::json!(["seccompFd"]));
        assert_eq!(s["metadata"], "meta");
        assert_eq!(s["state"]["status"], "creating");
        assert_eq!(s["state"]["pid"], 42);
        assert_eq!(s["state"]["bundle"], "/b");
    }

    /// Every operator against values around the comparison point, in both
    /// words, checked against Rust's own u64 comparison.
    #[test]
    fn argument_comparisons_are_64_bit() {
        let points: [u64; 9] = [
            0,
            1,
            0xffff_ffff,
            0x1_0000_0000,
            0x1_0000_0001,
            0x2_0000_0000,
            0xffff_ffff_0000_0000,
            0xffff_ffff_ffff_fffe,
            u64::MAX,
        ];
        let ops = [
            (
                "SCMP_CMP_EQ",
                (|a, v, _| a == v) as fn(u64, u64, u64) -> bool,
            ),
            ("SCMP_CMP_NE", |a, v, _| a != v),
            ("SCMP_CMP_LT", |a, v, _| a < v),
            ("SCMP_CMP_LE", |a, v, _| a <= v),
            ("SCMP_CMP_GT", |a, v, _| a > v),
            ("SCMP_CMP_GE", |a, v, _| a >= v),
            ("SCMP_CMP_MASKED_EQ", |a, v, v2| a & v == v2),
        ];
        for (op, want) in ops {
            for &v in &points {
                let v2 = v & 0xffff_0000_ffff_0001;
                let f = compile_json(serde_json::json!({
                    "defaultAction": "SCMP_ACT_ALLOW",
                    "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ERRNO",
                        "args": [{ "index": 3, "value": v, "valueTwo": v2, "op": op }] }]
                }))
                .unwrap();
                for &a in points
                    .iter()
                    .chain(&[v.wrapping_add(1), v.wrapping_sub(1), v2])
                {
                    let mut args = [0u64; 6];
                    args[3] = a;
                    let got = x86_64(&f, "personality", args);
                    let expect = if want(a, v, v2) {
                        RET_ERRNO | 1
                    } else {
                        RET_ALLOW
                    };
                    assert_eq!(got, expect, "{op} arg {a:#x} value {v:#x} value2 {v2:#x}");
                    // Other syscalls are untouched, whatever A held.
                    assert_eq!(x86_64(&f, "getpid", args), RET_ALLOW);
                }
            }
        }
    }

    #[test]
    fn x86_compares_only_the_low_word() {
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86"],
            "syscalls": [{ "names": ["personality"], "action": "SCMP_ACT_ERRNO",
                "args": [{ "index": 0, "value": 0xffff_ffffu64, "op": "SCMP_CMP_EQ" }] }]
        }))
        .unwrap();
        let pers = Abi::X86.lookup("personality").unwrap();
        assert_eq!(
            run(
                &f.program,
                pers,
                AUDIT_ARCH_I386,
                [0xffff_ffff, 0, 0, 0, 0, 0]
            ),
            RET_ERRNO | 1
        );
        assert_eq!(
            run(&f.program, pers, AUDIT_ARCH_I386, [8, 0, 0, 0, 0, 0]),
            RET_ALLOW
        );
    }

    #[test]
    fn several_args_and_then_or_and_first_match_wins() {
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [
                // Different indexes: ANDed.
                { "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
                  "args": [{ "index": 0, "value": 2, "op": "SCMP_CMP_EQ" },
                           { "index": 1, "value": 1, "op": "SCMP_CMP_EQ" }] },
                // Same index: ORed (runc's rule).
                { "names": ["personality"], "action": "SCMP_ACT_ERRNO", "errnoRet": 22,
                  "args": [{ "index": 0, "value": 0, "op": "SCMP_CMP_EQ" },
                           { "index": 0, "value": 8, "op": "SCMP_CMP_EQ" }] },
                // socket again: first match wins, so only the leftovers get 13.
                { "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13 },
                { "names": ["socket", "getpid"], "action": "SCMP_ACT_KILL" }
            ]
        }))
        .unwrap();
        assert_eq!(x86_64(&f, "socket", [2, 1, 0, 0, 0, 0]), RET_ERRNO | 97);
        assert_eq!(x86_64(&f, "socket", [2, 2, 0, 0, 0, 0]), RET_ERRNO | 13);
        assert_eq!(x86_64(&f, "socket", [1, 1, 0, 0, 0, 0]), RET_ERRNO | 13);
        assert_eq!(x86_64(&f, "personality", [0; 6]), RET_ERRNO | 22);
        assert_eq!(
            x86_64(&f, "personality", [8, 0, 0, 0, 0, 0]),
            RET_ERRNO | 22
        );
        assert_eq!(x86_64(&f, "personality", [9, 0, 0, 0, 0, 0]), RET_ALLOW);
        assert_eq!(x86_64(&f, "getpid", [0; 6]), RET_KILL_THREAD);
    }

    #[test]
    fn unknown_names_are_skipped() {
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "syscalls": [{ "names": ["no_such_call", "mkdir", "socketcall"], "action": "SCMP_ACT_ERRNO" }]
        }))
        .unwrap();
        assert_eq!(x86_64(&f, "mkdir", [0; 6]), RET_ERRNO | 1);
    }

    /// A Docker-sized allowlist (every x86_64 name, three arches) stays
    /// well under the kernel limit; runs longer than 255 are split.
    #[test]
    fn large_profiles_fit_and_overflow_is_an_error() {
        let names: Vec<&str> = Abi::X86_64.table().iter().map(|(n, _)| *n).collect();
        let f = compile_json(serde_json::json!({
            "defaultAction": "SCMP_ACT_ERRNO",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{ "names": names, "action": "SCMP_ACT_ALLOW" }]
        }))
        .unwrap();
        assert!(f.len() < 1500, "{} instructions", f.len());
        for (name, nr) in Abi::X86_64.table() {
            assert_eq!(
                run(&f.program, *nr, AUDIT_ARCH_X86_64, [0; 6]),
                RET_ALLOW,
                "{name}"
            );
        }
        assert_eq!(
            run(&f.program, 9999, AUDIT_ARCH_X86_64, [0; 6]),
            RET_ERRNO | 1
        );
        for (name, nr) in Abi::X32.table() {
            let want = if names.contains(name) {
                RET_ALLOW
            } else {
                RET_ERRNO | 1
            };
            assert_eq!(
                run(&f.program, *nr, AUDIT_ARCH_X86_64, [0; 6]),
                want,
                "x32 {name}"
            );
        }

        // 700 conditional rules: each is 1 + 4 + 2 instructions, too many.
        let rules: Vec<_> = (0..700)
            .map(|i| {
                serde_json::json!({ "names": ["ioctl"], "action": "SCMP_ACT_ALLOW",
                "args": [{ "index": 1, "value": i, "op": "SCMP_CMP_EQ" }] })
            })
            .collect();
        let e = compile_json(
            serde_json::json!({ "defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules }),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("limit of 4096"), "{e}");
    }
}
