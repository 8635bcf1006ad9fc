//! In-container probe of a default-ERRNO seccomp profile (see seccomp.rs,
//! `errno_default_long_allowlist_from_raw_syscalls`): makes raw x86_64
//! syscalls (no libc wrapper in between) and checks each result against
//! what the profile says. Built statically by the test and copied into the
//! rootfs; prints one line per check and exits 1 on any mismatch.

use std::arch::asm;

/// A raw syscall: the return value, -errno on failure.
fn sys(nr: u64, a: [u64; 6]) -> i64 {
    let ret: i64;
    // SAFETY: the syscalls made here take no pointers, or point at live
    // buffers of the right size (uname).
    unsafe {
        asm!(
            "syscall",
            inlateout("rax") nr as i64 => ret,
            in("rdi") a[0], in("rsi") a[1], in("rdx") a[2],
            in("r10") a[3], in("r8") a[4], in("r9") a[5],
            lateout("rcx") _, lateout("r11") _,
            options(nostack),
        );
    }
    ret
}

#[derive(Debug)]
enum Want {
    /// Not refused by the filter: success, or the kernel's own error.
    Through,
    /// Exactly this value (>= 0) or -errno.
    Is(i64),
}

const EPERM: i64 = 1;
const ESRCH: i64 = 3;
const ENOSYS: i64 = 38;
const ENOANO: i64 = 55;
const EPROTONOSUPPORT: i64 = 93;
const AF_UNIX: u64 = 1;
const SOCK_STREAM: u64 = 1;

fn main() {
    let mut uts = [0u8; 6 * 65];
    let uts_ptr = uts.as_mut_ptr() as u64;
    let socket = |proto: u64| sys(41, [AF_UNIX, SOCK_STREAM, proto, 0, 0, 0]);
    let checks: Vec<(&str, i64, Want)> = vec![
        // Allowed calls: their normal result.
        ("getpid", sys(39, [0; 6]), Want::Is(1)),
        ("uname", sys(63, [uts_ptr, 0, 0, 0, 0, 0]), Want::Is(0)),
        ("getuid", sys(102, [0; 6]), Want::Is(0)),
        // Not in the allow list: the default errno.
        ("getpgrp (not listed)", sys(111, [0; 6]), Want::Is(-EPERM)),
        // Per-rule errnoRet.
        ("getppid (errnoRet)", sys(110, [0; 6]), Want::Is(-ENOANO)),
        // socket: SCMP_CMP_MASKED_EQ on the protocol, several rules ORed.
        ("socket proto 0", socket(0), Want::Through),
        (
            "socket proto 0x100",
            socket(0x100),
            Want::Is(-EPROTONOSUPPORT),
        ),
        ("socket proto 0x200", socket(0x200), Want::Is(-EPERM)),
        (
            "socket proto 0x5_0000_0200",
            socket(0x5_0000_0200),
            Want::Is(-EPROTONOSUPPORT),
        ),
        (
            "socket proto 0x6_0000_0200",
            socket(0x6_0000_0200),
            Want::Is(-EPERM),
        ),
        // process_vm_readv: two rules on args[0], ORed.
        (
            "process_vm_readv 100",
            sys(310, [100, 0, 0, 0, 0, 0]),
            Want::Through,
        ),
        (
            "process_vm_readv 9001",
            sys(310, [9001, 0, 0, 0, 0, 0]),
            Want::Through,
        ),
        (
            "process_vm_readv 101",
            sys(310, [101, 0, 0, 0, 0, 0]),
            Want::Is(-EPERM),
        ),
        // kcmp: args[0] == 0 and args[1] == 1337 in one rule, ANDed.
        (
            "kcmp 0 1337",
            sys(312, [0, 1337, 0, 0, 0, 0]),
            Want::Is(-ESRCH),
        ),
        (
            "kcmp 0 1336",
            sys(312, [0, 1336, 0, 0, 0, 0]),
            Want::Is(-EPERM),
        ),
        (
            "kcmp 1 1337",
            sys(312, [1, 1337, 0, 0, 0, 0]),
            Want::Is(-EPERM),
        ),
        // Newer than every syscall the profile names: ENOSYS.
        ("clone3", sys(435, [0; 6]), Want::Is(-ENOSYS)),
        ("syscall 1000", sys(1000, [0; 6]), Want::Is(-ENOSYS)),
    ];
    let mut bad = 0;
    for (name, got, want) in &checks {
        let ok = match want {
            Want::Through => *got != -EPERM && *got != -ENOANO,
            Want::Is(v) => got == v,
        };
        if !ok {
            bad += 1;
        }
        println!(
            "{} {name}: got {got}, want {want:?}",
            if ok { "ok" } else { "MISMATCH" }
        );
    }
    // glibc tries clone3 for a thread and falls back to clone on ENOSYS.
    match std::thread::spawn(|| 42).join() {
        Ok(42) => println!("ok thread (clone3 -> clone fallback)"),
        other => {
            bad += 1;
            println!("MISMATCH thread: {other:?}");
        }
    }
    println!("{} checks, {bad} mismatches", checks.len() + 1);
    std::process::exit(if bad == 0 { 0 } else { 1 });
}
