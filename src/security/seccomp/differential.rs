//! Differential test: hull's BPF against libseccomp's.
//!
//! Seeded random profiles (every action, operator, argument index and
//! width, several rules per syscall, x86_64 / x86 / x32) are compiled by
//! hull and, the way runc drives it, by libseccomp (Debian's libseccomp-dev,
//! through the `libseccomp` crate; dev-dependency only). libseccomp's filter
//! is exported with `seccomp_export_bpf`, runc's -ENOSYS stub is modelled on
//! top of it, and both programs are run by the interpreter below on the same
//! `seccomp_data` inputs. Every verdict must agree; no root is needed.
//!
//! Deliberate differences are listed in `docs/compat.md` ("Seccomp") and
//! are kept out of the generator with a comment saying which one.

use super::tests::run;
use super::*;
use libseccomp::ScmpSyscall;
use libseccomp::{ScmpAction, ScmpArch, ScmpArgCompare, ScmpCompareOp, ScmpFilterContext};
use serde_json::{Value, json};

/// splitmix64: a tiny seeded generator, so every run sees the same cases.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn pick<'a, T>(&mut self, v: &'a [T]) -> &'a T {
        &v[self.below(v.len())]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }
}

/// Syscalls the profiles name: present on all three ABIs, on some only,
/// low and high numbers (the -ENOSYS stub depends on the highest).
const NAMES: &[&str] = &[
    "read",
    "write",
    "close",
    "personality",
    "kcmp",
    "mkdir",
    "mkdirat",
    "ioctl",
    "getpid",
    "clone",
    "clone3",
    "process_vm_readv",
    "fcntl",
    "futex",
    "arch_prctl",
    "prctl",
    "mmap",
    "rt_sigreturn",
    "pidfd_open",
    "close_range",
    "openat2",
    "memfd_secret",
    "waitpid",
    "time",
    "uselib",
    "kexec_file_load",
    "mount_setattr",
    "socket",
    "connect",
    "shmget",
    "socketcall",
    "ipc",
];

/// Argument values around the points where 64-bit and 32-bit comparisons
/// differ.
const POINTS: &[u64] = &[
    0,
    1,
    2,
    7,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0x8000_0000_0000_0000,
    0xffff_ffff_0000_0000,
    0xffff_ffff_ffff_fffe,
    u64::MAX,
];

const OPS: &[&str] = &[
    "SCMP_CMP_EQ",
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_GT",
    "SCMP_CMP_GE",
    "SCMP_CMP_MASKED_EQ",
];

fn value(r: &mut Rng) -> u64 {
    match r.below(4) {
        0 => r.next(),
        1 => r.next() & 0xffff_ffff,
        _ => *r.pick(POINTS),
    }
}

/// An action with its errno, or None for the action alone.
fn action(r: &mut Rng, rule: bool) -> (&'static str, Option<u32>) {
    let actions: &[&str] = &[
        "SCMP_ACT_KILL",
        "SCMP_ACT_KILL_PROCESS",
        "SCMP_ACT_KILL_THREAD",
        "SCMP_ACT_TRAP",
        "SCMP_ACT_ERRNO",
        "SCMP_ACT_TRACE",
        "SCMP_ACT_LOG",
        "SCMP_ACT_ALLOW",
        "SCMP_ACT_NOTIFY",
    ];
    // NOTIFY cannot be the default action (hull and runc refuse it).
    let a = *r.pick(&actions[..actions.len() - usize::from(!rule)]);
    let errno = match a {
        "SCMP_ACT_ERRNO" | "SCMP_ACT_TRACE" if r.chance(70) => {
            Some(*r.pick(&[1u32, 13, 38, 55, 0, 4094]))
        }
        _ => None,
    };
    (a, errno)
}

fn profile(r: &mut Rng) -> Value {
    let (default, default_errno) = action(r, false);
    let mut p = json!({ "defaultAction": default });
    if let Some(e) = default_errno {
        p["defaultErrnoRet"] = e.into();
    }
    let archs: Vec<&str> = ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
        .into_iter()
        .filter(|_| r.chance(50))
        .collect();
    if !archs.is_empty() {
        p["architectures"] = json!(archs);
    }
    // A small pool per profile, so that rules often share a syscall.
    let pool: Vec<&str> = (0..2 + r.below(6)).map(|_| *r.pick(NAMES)).collect();
    // The one action of each syscall's rules (see below).
    let mut conditional: Vec<(&str, Value)> = Vec::new();
    let mut rules = Vec::new();
    for _ in 0..1 + r.below(6) {
        let names: Vec<&str> = (0..1 + r.below(3)).map(|_| *r.pick(&pool)).collect();
        let (mut a, errno) = action(r, true);
        // hull refuses NOTIFY on the syscalls it makes before the agent
        // holds the notify fd (docs/compat.md); runc refuses it on write.
        if a == "SCMP_ACT_NOTIFY" && names.iter().any(|n| ["write", "close"].contains(n)) {
            a = "SCMP_ACT_LOG";
        }
        let mut rule = json!({ "names": names, "action": a });
        if let Some(e) = errno {
            rule["errnoRet"] = e.into();
        }
        // Deliberate difference (docs/compat.md): with x86 or x32 in the
        // filter, libseccomp 2.5 may compare an x86_64 argument with a
        // value above 32 bits on its low word only; hull compares x86_64
        // arguments on 64 bits always. Values stay 32-bit in such profiles.
        let narrow = if archs.iter().any(|a| *a != "SCMP_ARCH_X86_64") {
            0xffff_ffff
        } else {
            u64::MAX
        };
        let nargs = [0, 0, 1, 1, 2, 3][r.below(6)];
        let mut args: Vec<Value> = (0..nargs)
            .map(|_| {
                let op = *r.pick(OPS);
                let v = value(r) & narrow;
                let mut c = json!({ "index": r.below(6), "value": v, "op": op });
                if op == "SCMP_CMP_MASKED_EQ" {
                    c["valueTwo"] = (value(r) & narrow).into();
                }
                c
            })
            .collect();
        // Deliberate difference (docs/compat.md): several conditions on one
        // argument are ORed (runc adds one rule each); libseccomp 2.5's
        // merged tree can miss an alternative when they are ordered
        // comparisons. Such conditions are EQ / MASKED_EQ here.
        let repeated = (0..6).any(|i| args.iter().filter(|c| c["index"] == i).count() > 1);
        if repeated {
            for c in &mut args {
                if !["SCMP_CMP_EQ", "SCMP_CMP_MASKED_EQ"].contains(&c["op"].as_str().unwrap()) {
                    c["op"] = json!("SCMP_CMP_EQ");
                }
            }
        }
        // Deliberate difference (docs/compat.md): where rules with
        // different actions for one syscall overlap, hull takes the first
        // rule without args, else the first matching rule in config order;
        // libseccomp what its merged tree finds first. So each syscall
        // gets one action here (the first rule naming it decides).
        let redundant = rule["action"] == p["defaultAction"]
            && (errno_of(&rule["errnoRet"]).unwrap_or(1)
                == errno_of(&p["defaultErrnoRet"]).unwrap_or(1)
                || !["SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"].contains(&a));
        if let Some((_, k)) = (!redundant)
            .then(|| conditional.iter().find(|(m, _)| names.contains(m)))
            .flatten()
        {
            rule["action"] = k[0].clone();
            rule["errnoRet"] = k[1].clone();
            if k[1].is_null() {
                rule.as_object_mut().unwrap().remove("errnoRet");
            }
        }
        let a = rule["action"].as_str().unwrap();
        if a == "SCMP_ACT_NOTIFY" && names.iter().any(|n| ["write", "close"].contains(n)) {
            continue;
        }
        let key = json!([rule["action"], rule["errnoRet"]]);
        let redundant = a == p["defaultAction"]
            && (errno_of(&rule["errnoRet"]).unwrap_or(1)
                == errno_of(&p["defaultErrnoRet"]).unwrap_or(1)
                || !["SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"].contains(&a));
        let clash = names
            .iter()
            .any(|n| conditional.iter().any(|(m, k)| m == n && *k != key));
        // Deliberate difference (docs/compat.md): with x32 in the filter,
        // libseccomp 2.5 drops some conditional rules on x86_64 and x32
        // alike (syscalls without an x32 number, numbered from 424, and
        // others); hull keeps every rule. Rules stay unconditional then.
        let x32 = p["architectures"]
            .as_array()
            .is_some_and(|a| a.contains(&json!("SCMP_ARCH_X32")));
        // Deliberate difference (docs/compat.md): on x86 a rule on a socket
        // or IPC call also covers socketcall / ipc with its call number;
        // libseccomp 2.5 leaves that out for a rule whose conditions it
        // split per argument. hull covers it for every rule.
        let x86_split_mux = repeated
            && archs.contains(&"SCMP_ARCH_X86")
            && names
                .iter()
                .any(|n| ["socket", "connect", "shmget"].contains(n));
        if !args.is_empty() && !clash && !x32 && !x86_split_mux {
            rule["args"] = json!(args);
        }
        if !redundant {
            conditional.extend(names.iter().map(|n| (*n, key.clone())));
        }
        rules.push(rule);
    }
    p["syscalls"] = json!(rules);
    if rules_use_notify(&p) {
        p["listenerPath"] = json!("/run/agent.sock");
    }
    p
}

fn rules_use_notify(p: &Value) -> bool {
    p["syscalls"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|r| r["action"] == "SCMP_ACT_NOTIFY")
}

fn scmp_action(a: &str, errno: Option<u32>) -> ScmpAction {
    match a {
        "SCMP_ACT_KILL" | "SCMP_ACT_KILL_THREAD" => ScmpAction::KillThread,
        "SCMP_ACT_KILL_PROCESS" => ScmpAction::KillProcess,
        "SCMP_ACT_TRAP" => ScmpAction::Trap,
        "SCMP_ACT_ERRNO" => ScmpAction::Errno(errno.unwrap_or(1) as i32),
        "SCMP_ACT_TRACE" => ScmpAction::Trace(errno.unwrap_or(1) as u16),
        "SCMP_ACT_LOG" => ScmpAction::Log,
        "SCMP_ACT_ALLOW" => ScmpAction::Allow,
        "SCMP_ACT_NOTIFY" => ScmpAction::Notify,
        other => panic!("action {other}"),
    }
}

fn scmp_arch(a: &str) -> ScmpArch {
    match a {
        "SCMP_ARCH_X86_64" => ScmpArch::X8664,
        "SCMP_ARCH_X86" => ScmpArch::X86,
        "SCMP_ARCH_X32" => ScmpArch::X32,
        other => panic!("arch {other}"),
    }
}

fn errno_of(v: &Value) -> Option<u32> {
    v.as_u64().map(|e| e as u32)
}

/// libseccomp's filter for the profile, built the way runc builds it:
/// rules whose action is the default action are skipped, names resolved
/// on the native arch, unknown names skipped, several conditions on one
/// argument index split into one rule each. Err when libseccomp refuses
/// a rule (runc would then fail the create).
fn libseccomp_program(p: &Value) -> std::result::Result<Vec<libc::sock_filter>, String> {
    let default = scmp_action(
        p["defaultAction"].as_str().unwrap(),
        errno_of(&p["defaultErrnoRet"]),
    );
    let mut ctx = ScmpFilterContext::new(default).map_err(|e| e.to_string())?;
    for a in p["architectures"].as_array().into_iter().flatten() {
        let arch = scmp_arch(a.as_str().unwrap());
        if !ctx.is_arch_present(arch).unwrap() {
            ctx.add_arch(arch).map_err(|e| e.to_string())?;
        }
    }
    for (i, rule) in p["syscalls"].as_array().unwrap().iter().enumerate() {
        let act = scmp_action(
            rule["action"].as_str().unwrap(),
            errno_of(&rule["errnoRet"]),
        );
        if act == default {
            continue;
        }
        let conds: Vec<(u32, ScmpArgCompare)> = rule["args"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| {
                let index = c["index"].as_u64().unwrap() as u32;
                let v = c["value"].as_u64().unwrap();
                let v2 = c["valueTwo"].as_u64().unwrap_or(0);
                let (op, datum) = match c["op"].as_str().unwrap() {
                    "SCMP_CMP_EQ" => (ScmpCompareOp::Equal, v),
                    "SCMP_CMP_NE" => (ScmpCompareOp::NotEqual, v),
                    "SCMP_CMP_LT" => (ScmpCompareOp::Less, v),
                    "SCMP_CMP_LE" => (ScmpCompareOp::LessOrEqual, v),
                    "SCMP_CMP_GT" => (ScmpCompareOp::Greater, v),
                    "SCMP_CMP_GE" => (ScmpCompareOp::GreaterEqual, v),
                    "SCMP_CMP_MASKED_EQ" => (ScmpCompareOp::MaskedEqual(v), v2),
                    other => panic!("op {other}"),
                };
                (index, ScmpArgCompare::new(index, op, datum))
            })
            .collect();
        let mut per_index = [0; 6];
        conds.iter().for_each(|(i, _)| per_index[*i as usize] += 1);
        let alternatives: Vec<Vec<ScmpArgCompare>> = if per_index.iter().any(|&n| n > 1) {
            conds.into_iter().map(|(_, c)| vec![c]).collect()
        } else {
            vec![conds.into_iter().map(|(_, c)| c).collect()]
        };
        for name in rule["names"].as_array().unwrap() {
            let Ok(sys) = ScmpSyscall::from_name(name.as_str().unwrap()) else {
                continue;
            };
            for conds in &alternatives {
                ctx.add_rule_conditional(act, sys, conds)
                    .map_err(|e| format!("syscalls[{i}] {name}: {e}"))?;
            }
        }
    }
    let mut f = tempfile()?;
    ctx.export_bpf(&f).map_err(|e| e.to_string())?;
    use std::io::{Read, Seek};
    f.rewind().unwrap();
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes).unwrap();
    Ok(bytes
        .chunks_exact(8)
        .map(|c| libc::sock_filter {
            code: u16::from_ne_bytes([c[0], c[1]]),
            jt: c[2],
            jf: c[3],
            k: u32::from_ne_bytes([c[4], c[5], c[6], c[7]]),
        })
        .collect())
}

fn tempfile() -> std::result::Result<std::fs::File, String> {
    // SAFETY: a NUL-terminated name and no flags; the fd is owned below.
    let fd = unsafe { libc::memfd_create(c"hull-seccomp-diff".as_ptr(), 0) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error().to_string());
    }
    // SAFETY: a new descriptor owned by nobody else.
    Ok(unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

/// runc's -ENOSYS stub on top of libseccomp's verdict: for a profile whose
/// default does not let syscalls through (and is not ENOSYS already), a
/// syscall above the highest one the profile names on its ABI gets ENOSYS.
fn runc_stub(p: &Value, arch: u32, nr: u32) -> Option<u32> {
    let default = p["defaultAction"].as_str().unwrap();
    if matches!(
        default,
        "SCMP_ACT_ALLOW" | "SCMP_ACT_LOG" | "SCMP_ACT_TRACE"
    ) || (default == "SCMP_ACT_ERRNO" && errno_of(&p["defaultErrnoRet"]) == Some(38))
    {
        return None;
    }
    let listed: Vec<&str> = p["architectures"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|a| a.as_str().unwrap())
        .collect();
    let abi = match arch {
        AUDIT_ARCH_X86_64 if nr & X32_SYSCALL_BIT != 0 => Abi::X32,
        AUDIT_ARCH_X86_64 => Abi::X86_64,
        AUDIT_ARCH_I386 => Abi::X86,
        _ => return None,
    };
    let present = match abi {
        Abi::X86_64 => true, // native
        Abi::X86 => listed.contains(&"SCMP_ARCH_X86"),
        Abi::X32 => listed.contains(&"SCMP_ARCH_X32"),
    };
    if !present {
        return None;
    }
    let newest = p["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["names"].as_array().unwrap())
        .filter_map(|n| abi.lookup(n.as_str().unwrap()))
        .max()?;
    (nr > newest).then_some(RET_ERRNO | 38)
}

/// The (arch, nr) inputs for a profile: every pool name on each ABI and
/// its neighbours, the edges of the x32 range, a foreign architecture.
fn inputs(r: &mut Rng) -> Vec<(u32, u32)> {
    let mut v = Vec::new();
    for name in NAMES {
        for (abi, arch) in [
            (Abi::X86_64, AUDIT_ARCH_X86_64),
            (Abi::X32, AUDIT_ARCH_X86_64),
            (Abi::X86, AUDIT_ARCH_I386),
        ] {
            if let Some(nr) = abi.lookup(name) {
                v.push((arch, nr));
            }
        }
    }
    for nr in [
        0,
        1,
        400,
        470,
        1000,
        X32_SYSCALL_BIT - 1,
        X32_SYSCALL_BIT,
        X32_SYSCALL_BIT | 1,
        X32_SYSCALL_BIT | 512,
        X32_SYSCALL_BIT | 1000,
        u32::MAX,
    ] {
        v.push((AUDIT_ARCH_X86_64, nr));
    }
    v.push((AUDIT_ARCH_I386, 470));
    v.push((0xc000_00b7, 63)); // aarch64: not in any filter
    let extra = r.below(3);
    for _ in 0..extra {
        v.push((AUDIT_ARCH_X86_64, r.next() as u32));
    }
    v
}

fn args_for(r: &mut Rng, p: &Value, arch: u32) -> [u64; 6] {
    let mut a = [0u64; 6];
    // Mostly the values the profile compares with (and their neighbours).
    let vals: Vec<u64> = p["syscalls"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| r["args"].as_array().cloned().unwrap_or_default())
        .flat_map(|c| {
            let v = c["value"].as_u64().unwrap();
            let v2 = c["valueTwo"].as_u64().unwrap_or(0);
            [v, v.wrapping_add(1), v.wrapping_sub(1), v2, v & v2]
        })
        .collect();
    for x in a.iter_mut() {
        *x = match r.below(3) {
            0 if !vals.is_empty() => *r.pick(&vals),
            1 => *r.pick(POINTS),
            _ => value(r),
        };
        // The kernel zero-extends the 32-bit arguments of x86 calls.
        if arch == AUDIT_ARCH_I386 {
            *x &= 0xffff_ffff;
        }
    }
    a
}

#[test]
fn hull_and_libseccomp_agree() {
    let mut r = Rng(0x5eed_c0de);
    let (mut cases, mut refused, mut profiles) = (0usize, 0usize, 0usize);
    let mut diffs = Vec::new();
    let mut buckets = Vec::new();
    while cases < 40_000 {
        let p = profile(&mut r);
        let Ok(hull) = compile(&serde_json::from_value(p.clone()).unwrap()) else {
            panic!("hull refused a generated profile: {p}");
        };
        let lib = match libseccomp_program(&p) {
            Ok(lib) => lib,
            Err(e) => {
                // runc would fail the create (docs/compat.md).
                refused += 1;
                eprintln!("REFUSED {e}: {p}");
                continue;
            }
        };
        profiles += 1;
        for (arch, nr) in inputs(&mut r) {
            for _ in 0..1 {
                let args = args_for(&mut r, &p, arch);
                let want = runc_stub(&p, arch, nr).unwrap_or_else(|| run(&lib, nr, arch, args));
                let got = run(&hull.program, nr, arch, args);
                cases += 1;
                if got != want {
                    let bucket = (got, want, arch, nr >= X32_SYSCALL_BIT);
                    if !buckets.contains(&bucket) {
                        buckets.push(bucket);
                        eprintln!(
                            "DIFF arch {arch:#x} nr {nr:#x} args {args:x?}: hull {got:#x}, libseccomp {want:#x}\n  profile {p}"
                        );
                    }
                    diffs.push(format!(
                        "arch {arch:#x} nr {nr:#x} args {args:x?}: hull {got:#x}, libseccomp {want:#x}\n  profile {p}"
                    ));
                }
            }
        }
    }
    eprintln!(
        "seccomp differential: {profiles} profiles, {cases} cases, {refused} profiles refused by libseccomp, {} differences",
        diffs.len()
    );
    assert!(
        diffs.is_empty(),
        "{} of {cases} verdicts differ; first ones:\n{}",
        diffs.len(),
        diffs
            .iter()
            .take(10)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
