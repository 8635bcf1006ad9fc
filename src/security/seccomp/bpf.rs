//! Assembles a checked profile into a classic BPF program:
//!
//! ```text
//!     ld  arch
//!     jeq AUDIT_ARCH_X86_64 -> section x86_64   (one check per audit arch)
//!     jeq AUDIT_ARCH_I386   -> section x86
//!     ret KILL                                  (an architecture not listed)
//! section x86_64:
//!     ld  nr
//!     jset 0x40000000 -> x32 rules, or bad arch when x32 is not listed
//!     <x86_64 rules>  ret default
//!     <x32 rules>     ret default
//! section x86:
//!     ld  nr
//!     <x86 rules>     ret default
//! ```
//!
//! - A syscall made through an architecture that is neither native nor
//!   listed gets `SECCOMP_RET_KILL_THREAD`, libseccomp's default "bad arch"
//!   action. x32 calls arrive as `AUDIT_ARCH_X86_64` with
//!   `__X32_SYSCALL_BIT` set in the number; unless `SCMP_ARCH_X32` is listed
//!   they are killed too, so they can never match (or slip past) x86_64 rules.
//! - Unless the default action lets syscalls through (ALLOW, LOG, TRACE) or
//!   already is ERRNO(ENOSYS), each ABI's rules start with runc's -ENOSYS
//!   stub: a syscall numbered above the highest one the profile names gets
//!   ENOSYS, so that a program can tell a syscall newer than the profile
//!   from a refused one and fall back (glibc's clone3 to clone).
//! - Comparisons are 64-bit on x86_64 (high word, then low word) and
//!   32-bit on x86 and x32 (only the low word of argument and value), as
//!   libseccomp compares them.
//! - Per syscall, as libseccomp merges rules: a rule without `args` wins
//!   over the conditional rules of that syscall, whatever their order (the
//!   first such rule, when there are several); conditional rules are tried
//!   in config order, the first whose conditions hold wins.

use super::profile::{Cond, Profile};
use super::{AUDIT_ARCH_I386, AUDIT_ARCH_X86_64, Abi, RET_BAD_ARCH, RET_ERRNO, X32_SYSCALL_BIT};
use crate::error::{Error, Result};
use oci_spec::runtime::LinuxSeccompOperator as Op;

// Classic BPF opcodes (linux/bpf_common.h).
/// BPF_LD (0) | BPF_W (0) | BPF_ABS (0x20).
pub(super) const BPF_LD_W_ABS: u16 = 0x20;
pub(super) const BPF_ALU_AND_K: u16 = 0x04 | 0x50;
pub(super) const BPF_JA: u16 = 0x05;
pub(super) const BPF_JEQ_K: u16 = 0x05 | 0x10;
pub(super) const BPF_JGT_K: u16 = 0x05 | 0x20;
pub(super) const BPF_JGE_K: u16 = 0x05 | 0x30;
pub(super) const BPF_JSET_K: u16 = 0x05 | 0x40;
pub(super) const BPF_RET_K: u16 = 0x06;

// struct seccomp_data offsets.
pub(super) const OFF_NR: u32 = 0;
pub(super) const OFF_ARCH: u32 = 4;
pub(super) const OFF_ARGS: u32 = 16;

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
pub(super) fn assemble(p: &Profile) -> Result<Vec<libc::sock_filter>> {
    let (abis, default) = (&p.abis, p.default);
    let has = |a: Abi| abis.contains(&a);
    // One section per audit arch value.
    let mut sections: Vec<(u32, Vec<libc::sock_filter>)> = Vec::new();
    if has(Abi::X86_64) || has(Abi::X32) {
        let mut sec = vec![stmt(BPF_LD_W_ABS, OFF_NR)];
        let x32 = if has(Abi::X32) {
            let mut v = rules_for(Abi::X32, p)?;
            v.push(stmt(BPF_RET_K, default));
            v
        } else {
            // nr -1 (a tracer's skipped syscall) is not an x32 call: it
            // gets the default action, as in libseccomp.
            vec![
                jump(BPF_JEQ_K, u32::MAX, 0, 1),
                stmt(BPF_RET_K, default),
                stmt(BPF_RET_K, RET_BAD_ARCH),
            ]
        };
        let x86_64 = if has(Abi::X86_64) {
            let mut v = rules_for(Abi::X86_64, p)?;
            v.push(stmt(BPF_RET_K, default));
            if !has(Abi::X32) {
                // Without x32, libseccomp takes any number from 0x40000000
                // up for a foreign ABI (after runc's -ENOSYS stub).
                let stub = v.len() > 1 && v[1] == stmt(BPF_RET_K, RET_ERRNO | libc::ENOSYS as u32);
                let at = if stub { 2 } else { 0 };
                v.splice(
                    at..at,
                    [
                        jump(BPF_JGE_K, X32_SYSCALL_BIT, 0, 1),
                        stmt(BPF_RET_K, RET_BAD_ARCH),
                    ],
                );
            }
            v
        } else {
            vec![stmt(BPF_RET_K, RET_BAD_ARCH)]
        };
        // jset X32_BIT -> (ja over x86_64) ; else fall into x86_64. The
        // kernel tells x32 calls by that bit alone.
        sec.push(jump(BPF_JSET_K, X32_SYSCALL_BIT, 0, 1));
        sec.push(stmt(BPF_JA, x86_64.len() as u32));
        sec.extend(x86_64);
        sec.extend(x32);
        sections.push((AUDIT_ARCH_X86_64, sec));
    }
    if has(Abi::X86) {
        let mut sec = vec![stmt(BPF_LD_W_ABS, OFF_NR)];
        sec.extend(rules_for(Abi::X86, p)?);
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
fn rules_for(abi: Abi, p: &Profile) -> Result<Vec<libc::sock_filter>> {
    let rules = &p.rules;
    let mut out = Vec::new();
    // The -ENOSYS stub: a syscall numbered above every syscall the profile
    // names is newer than the profile, so it gets ENOSYS (and libc falls
    // back, e.g. from clone3 to clone) instead of the default action.
    let newest = rules
        .iter()
        .flat_map(|r| &r.names)
        .filter_map(|n| abi.lookup(n))
        .max();
    if let Some(newest) = newest.filter(|_| p.enosys_stub) {
        out.push(jump(BPF_JGT_K, newest, 0, 1));
        out.push(stmt(BPF_RET_K, RET_ERRNO | libc::ENOSYS as u32));
    }
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
    // (nr, action, alternatives) in config order, without the redundant
    // rules.
    let mut entries: Vec<(u32, u32, Vec<Vec<Cond>>)> = Vec::new();
    for rule in rules.iter().filter(|r| !r.redundant) {
        for name in &rule.names {
            // x86 also reaches the socket and SysV IPC calls through
            // socketcall(2) and ipc(2): as libseccomp, a rule on one of them
            // also covers its multiplexed form, on the call number alone
            // (the arguments are behind a pointer there).
            if let Some((mux, call)) = multiplexed(abi, name) {
                let arg0 = Cond {
                    index: 0,
                    op: Op::ScmpCmpEq,
                    value: call.into(),
                    value_two: 0,
                };
                entries.push((mux, rule.action, vec![vec![arg0]]));
            }
            match abi.lookup(name) {
                Some(nr) => entries.push((nr, rule.action, rule.alternatives.clone())),
                None if multiplexed(abi, name).is_some() => {}
                None => crate::logging::debug(format!(
                    "seccomp: unknown syscall {name:?} for {abi:?}, skipped"
                )),
            }
        }
    }
    // A syscall's first rule without args decides it: the others of that
    // syscall are dropped (libseccomp keeps one action per syscall then).
    let mut decided: Vec<u32> = Vec::new();
    for (nr, _, alternatives) in &entries {
        if alternatives.is_empty() && !decided.contains(nr) {
            decided.push(*nr);
        }
    }
    let mut emitted: Vec<u32> = Vec::new();
    for (nr, action, alternatives) in entries {
        if alternatives.is_empty() {
            if emitted.contains(&nr) {
                continue;
            }
            emitted.push(nr);
            if run_action != action || run.len() == 255 {
                flush(&mut out, &mut run, run_action);
            }
            run_action = action;
            run.push(nr);
            continue;
        }
        if decided.contains(&nr) {
            continue;
        }
        flush(&mut out, &mut run, run_action);
        for conds in &alternatives {
            out.extend(conditional(abi, nr, conds, action)?);
        }
    }
    flush(&mut out, &mut run, run_action);
    Ok(out)
}

/// x86's socketcall(2) (102) and ipc(2) (117): the multiplexer and the
/// call number (linux/net.h, linux/ipc.h) of a socket or SysV IPC syscall.
fn multiplexed(abi: Abi, name: &str) -> Option<(u32, u32)> {
    if abi != Abi::X86 {
        return None;
    }
    const SOCKETCALL: &[&str] = &[
        "socket",
        "bind",
        "connect",
        "listen",
        "accept",
        "getsockname",
        "getpeername",
        "socketpair",
        "send",
        "recv",
        "sendto",
        "recvfrom",
        "shutdown",
        "setsockopt",
        "getsockopt",
        "sendmsg",
        "recvmsg",
        "accept4",
        "recvmmsg",
        "sendmmsg",
    ];
    const IPC: &[(&str, u32)] = &[
        ("semop", 1),
        ("semget", 2),
        ("semctl", 3),
        ("semtimedop", 4),
        ("msgsnd", 11),
        ("msgrcv", 12),
        ("msgget", 13),
        ("msgctl", 14),
        ("shmat", 21),
        ("shmdt", 22),
        ("shmget", 23),
        ("shmctl", 24),
    ];
    if let Some(i) = SOCKETCALL.iter().position(|n| *n == name) {
        return Some((102, i as u32 + 1));
    }
    IPC.iter().find(|(n, _)| *n == name).map(|(_, c)| (117, *c))
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
