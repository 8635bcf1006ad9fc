//! Unit tests of the profile checks and the generated BPF, run through a
//! small classic-BPF interpreter.

use super::bpf::*;
use super::profile::*;
use super::*;
use oci_spec::runtime::LinuxSeccomp;

fn parse(json: serde_json::Value) -> LinuxSeccomp {
    serde_json::from_value(json).expect("valid LinuxSeccomp")
}

fn compile_json(json: serde_json::Value) -> Result<Filter> {
    compile(&parse(json))
}

/// A classic-BPF interpreter over `struct seccomp_data` (nr, arch,
/// instruction pointer 0, args), for hull's programs and libseccomp's: it
/// checks what the kernel's verifier would (forward jumps inside the
/// program, aligned loads inside the data, an instruction count bound).
pub(super) fn run(prog: &[libc::sock_filter], nr: u32, arch: u32, args: [u64; 6]) -> u32 {
    let mut data = [0u8; 64];
    data[0..4].copy_from_slice(&nr.to_le_bytes());
    data[4..8].copy_from_slice(&arch.to_le_bytes());
    for (i, a) in args.iter().enumerate() {
        data[16 + 8 * i..24 + 8 * i].copy_from_slice(&a.to_le_bytes());
    }
    assert!(prog.len() <= MAX_INSNS, "{} instructions", prog.len());
    let (mut a, mut x): (u32, u32) = (0, 0);
    let mut mem = [0u32; 16];
    let mut pc = 0usize;
    loop {
        let ins = prog
            .get(pc)
            .unwrap_or_else(|| panic!("pc {pc} ran off the program"));
        pc += 1;
        let k = ins.k;
        let src = if ins.code & 0x08 != 0 { x } else { k }; // BPF_X or BPF_K
        match ins.code & 0x07 {
            // BPF_LD / BPF_LDX
            0x00 | 0x01 => {
                let v = match ins.code & 0xe0 {
                    0x20 => {
                        // BPF_ABS, word loads only (seccomp allows no other size).
                        assert_eq!(ins.code & 0x18, 0, "non-word load {:#x}", ins.code);
                        let k = k as usize;
                        assert!(k.is_multiple_of(4) && k + 4 <= 64, "bad load offset {k}");
                        u32::from_le_bytes(data[k..k + 4].try_into().unwrap())
                    }
                    0x00 => k,               // BPF_IMM
                    0x60 => mem[k as usize], // BPF_MEM
                    0x80 => 64,              // BPF_LEN
                    m => panic!("load mode {m:#x}"),
                };
                if ins.code & 0x07 == 0x00 {
                    a = v;
                } else {
                    x = v;
                }
            }
            0x02 => mem[k as usize] = a, // BPF_ST
            0x03 => mem[k as usize] = x, // BPF_STX
            // BPF_ALU
            0x04 => {
                a = match ins.code & 0xf0 {
                    0x00 => a.wrapping_add(src),
                    0x10 => a.wrapping_sub(src),
                    0x20 => a.wrapping_mul(src),
                    0x30 => a / src,
                    0x40 => a | src,
                    0x50 => a & src,
                    0x60 => a.wrapping_shl(src),
                    0x70 => a.wrapping_shr(src),
                    0x80 => a.wrapping_neg(),
                    0x90 => a % src,
                    0xa0 => a ^ src,
                    op => panic!("alu op {op:#x}"),
                }
            }
            // BPF_JMP
            0x05 => {
                let t = match ins.code & 0xf0 {
                    0x00 => {
                        pc += k as usize;
                        continue;
                    }
                    0x10 => a == src,
                    0x20 => a > src,
                    0x30 => a >= src,
                    0x40 => a & src != 0,
                    op => panic!("jump op {op:#x}"),
                };
                pc += if t { ins.jt } else { ins.jf } as usize;
            }
            // BPF_RET
            0x06 => {
                return match ins.code & 0x18 {
                    0x00 => k,
                    0x10 => a,
                    r => panic!("ret source {r:#x}"),
                };
            }
            // BPF_MISC: TAX, TXA
            _ => {
                if ins.code & 0xf8 == 0x00 {
                    x = a;
                } else {
                    a = x;
                }
            }
        }
    }
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
    // ld arch; jeq x86_64; ja; ret kill; ld nr; jset x32; ja;
    // [x86_64] jge x32-bit; ret kill; jeq; jeq; ret errno; ret allow;
    // [x32, not listed] jeq -1; ret allow; ret kill
    assert_eq!(p.len(), 16, "{p:?}");
    assert_eq!((p[0].code, p[0].k), (BPF_LD_W_ABS, OFF_ARCH));
    assert_eq!((p[1].code, p[1].k), (BPF_JEQ_K, AUDIT_ARCH_X86_64));
    assert_eq!((p[3].code, p[3].k), (BPF_RET_K, RET_BAD_ARCH));
    assert_eq!((p[4].code, p[4].k), (BPF_LD_W_ABS, OFF_NR));
    assert_eq!((p[5].code, p[5].k), (BPF_JSET_K, X32_SYSCALL_BIT));
    assert_eq!((p[7].code, p[7].k), (BPF_JGE_K, X32_SYSCALL_BIT));
    assert_eq!((p[9].code, p[9].k, p[9].jt, p[9].jf), (BPF_JEQ_K, 83, 1, 0));
    assert_eq!(
        (p[10].code, p[10].k, p[10].jt, p[10].jf),
        (BPF_JEQ_K, 84, 0, 1)
    );
    assert_eq!((p[11].code, p[11].k), (BPF_RET_K, RET_ERRNO | 1));
    assert_eq!((p[12].code, p[12].k), (BPF_RET_K, RET_ALLOW));
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
    let e = err(serde_json::json!({ "defaultAction": "SCMP_ACT_NOTIFY", "listenerPath": "/x" }));
    assert!(e.contains("/linux/seccomp/defaultAction"), "{e}");
    let e = err(serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "listenerMetadata": "m" }));
    assert!(e.contains("/linux/seccomp/listenerMetadata"), "{e}");
    for name in ["write", "sendmsg", "close"] {
        let e = err(
            serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [
                { "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" },
                { "names": ["getpid", name], "action": "SCMP_ACT_NOTIFY" }
            ]}),
        );
        assert!(e.contains("/linux/seccomp/syscalls/1/action"), "{e}");
        assert!(
            e.contains(&format!(
                "SCMP_ACT_NOTIFY cannot be used for the {name} syscall"
            )),
            "{e}"
        );
    }
    // Other actions on them are fine.
    compile_json(
        serde_json::json!({ "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/x", "syscalls": [
            { "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" },
            { "names": ["write", "close", "sendmsg"], "action": "SCMP_ACT_LOG" }
        ]}),
    )
    .unwrap();
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
            // Overlapping conditional rules: the first in config order wins.
            { "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13,
              "args": [{ "index": 0, "value": 2, "op": "SCMP_CMP_EQ" }] },
            { "names": ["getpid"], "action": "SCMP_ACT_KILL" },
            // A rule without args decides its syscall, wherever it stands
            // (as libseccomp merges them); the first such rule wins.
            { "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 5,
              "args": [{ "index": 0, "value": 2, "op": "SCMP_CMP_EQ" }] },
            { "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 6 },
            { "names": ["mkdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 7 },
            // The default action again: skipped, as runc skips it.
            { "names": ["rmdir"], "action": "SCMP_ACT_ALLOW" },
            { "names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 8 }
        ]
    }))
    .unwrap();
    assert_eq!(x86_64(&f, "socket", [2, 1, 0, 0, 0, 0]), RET_ERRNO | 97);
    assert_eq!(x86_64(&f, "socket", [2, 2, 0, 0, 0, 0]), RET_ERRNO | 13);
    assert_eq!(x86_64(&f, "socket", [1, 1, 0, 0, 0, 0]), RET_ALLOW);
    assert_eq!(x86_64(&f, "mkdir", [2, 0, 0, 0, 0, 0]), RET_ERRNO | 6);
    assert_eq!(x86_64(&f, "mkdir", [0; 6]), RET_ERRNO | 6);
    assert_eq!(x86_64(&f, "rmdir", [0; 6]), RET_ERRNO | 8);
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
    // Newer than every name: the -ENOSYS stub.
    assert_eq!(
        run(&f.program, 9999, AUDIT_ARCH_X86_64, [0; 6]),
        RET_ERRNO | libc::ENOSYS as u32
    );
    // A gap in the table, below the newest name: the default.
    assert_eq!(
        run(&f.program, 400, AUDIT_ARCH_X86_64, [0; 6]),
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
    let e =
        compile_json(serde_json::json!({ "defaultAction": "SCMP_ACT_ERRNO", "syscalls": rules }))
            .unwrap_err()
            .to_string();
    assert!(e.contains("limit of 4096"), "{e}");
}

/// runc's -ENOSYS stub: above the newest syscall a profile names, ENOSYS,
/// per ABI; not when the default lets calls through or is ENOSYS already.
#[test]
fn syscalls_newer_than_the_profile_get_enosys() {
    let profile = |default: &str, errno: Option<u32>| {
        let mut j = serde_json::json!({
            "defaultAction": default,
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{ "names": ["read", "kcmp"], "action": "SCMP_ACT_ERRNO", "errnoRet": 9 },
                         { "names": ["getpid"], "action": "SCMP_ACT_ALLOW" }]
        });
        if let Some(e) = errno {
            j["defaultErrnoRet"] = e.into();
        }
        compile_json(j).unwrap()
    };
    let enosys = RET_ERRNO | libc::ENOSYS as u32;
    let kcmp64 = Abi::X86_64.lookup("kcmp").unwrap();
    let kcmp32 = Abi::X86.lookup("kcmp").unwrap();
    let kcmpx32 = Abi::X32.lookup("kcmp").unwrap();
    let clone3 = Abi::X86_64.lookup("clone3").unwrap();
    let f = profile("SCMP_ACT_ERRNO", None);
    for (arch, nr, want) in [
        (AUDIT_ARCH_X86_64, kcmp64, RET_ERRNO | 9),
        (AUDIT_ARCH_X86_64, kcmp64 + 1, enosys),
        (AUDIT_ARCH_X86_64, clone3, enosys),
        (AUDIT_ARCH_X86_64, kcmp64 - 1, RET_ERRNO | 1),
        (AUDIT_ARCH_I386, kcmp32, RET_ERRNO | 9),
        (AUDIT_ARCH_I386, kcmp32 + 1, enosys),
        (AUDIT_ARCH_I386, kcmp32 - 1, RET_ERRNO | 1),
        (AUDIT_ARCH_X86_64, kcmpx32, RET_ERRNO | 9),
        (AUDIT_ARCH_X86_64, kcmpx32 + 1, enosys),
        (AUDIT_ARCH_X86_64, kcmpx32 - 1, RET_ERRNO | 1),
    ] {
        assert_eq!(run(&f.program, nr, arch, [0; 6]), want, "{arch:#x} {nr}");
    }
    for f in [
        profile("SCMP_ACT_KILL", None),
        profile("SCMP_ACT_KILL_PROCESS", None),
        profile("SCMP_ACT_TRAP", None),
        profile("SCMP_ACT_ERRNO", Some(13)),
    ] {
        assert_eq!(run(&f.program, clone3, AUDIT_ARCH_X86_64, [0; 6]), enosys);
    }
    for (f, want) in [
        (profile("SCMP_ACT_ALLOW", None), RET_ALLOW),
        (profile("SCMP_ACT_LOG", None), RET_LOG),
        (profile("SCMP_ACT_ERRNO", Some(38)), enosys),
    ] {
        assert_eq!(run(&f.program, clone3, AUDIT_ARCH_X86_64, [0; 6]), want);
        assert_eq!(run(&f.program, 3000, AUDIT_ARCH_X86_64, [0; 6]), want);
    }
    let f = profile("SCMP_ACT_TRACE", None);
    assert_eq!(
        run(&f.program, clone3, AUDIT_ARCH_X86_64, [0; 6]),
        RET_TRACE | 1
    );
}

/// On x86, socket and SysV IPC calls also go through socketcall(2) and
/// ipc(2): a rule on them covers that form too (on the call number alone),
/// so an i386 program cannot slip past a rule on `socket`.
#[test]
fn x86_socketcall_and_ipc_are_covered() {
    let f = compile_json(serde_json::json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86"],
        "syscalls": [
            { "names": ["socket"], "action": "SCMP_ACT_ERRNO", "errnoRet": 97,
              "args": [{ "index": 0, "value": 40, "op": "SCMP_CMP_EQ" }] },
            { "names": ["shmget", "recv"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38 }
        ]
    }))
    .unwrap();
    let x86 = |nr: u32, a0: u64| run(&f.program, nr, AUDIT_ARCH_I386, [a0, 0, 0, 0, 0, 0]);
    let socket = Abi::X86.lookup("socket").unwrap();
    let shmget = Abi::X86.lookup("shmget").unwrap();
    assert_eq!(x86(socket, 40), RET_ERRNO | 97);
    assert_eq!(x86(socket, 2), RET_ALLOW);
    // socketcall(SYS_SOCKET, ...): the conditions are behind a pointer.
    assert_eq!(x86(102, 1), RET_ERRNO | 97);
    assert_eq!(x86(102, 10), RET_ERRNO | 38); // SYS_RECV
    assert_eq!(x86(102, 3), RET_ALLOW); // SYS_CONNECT
    assert_eq!(x86(shmget, 0), RET_ERRNO | 38);
    assert_eq!(x86(117, 23), RET_ERRNO | 38); // ipc(SHMGET)
    assert_eq!(x86(117, 21), RET_ALLOW); // ipc(SHMAT)
    // x86_64 has no multiplexers.
    assert_eq!(x86_64(&f, "socket", [40, 0, 0, 0, 0, 0]), RET_ERRNO | 97);
}
