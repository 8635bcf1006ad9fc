//! The process: hostname and domainname, user, cwd, env, rlimits,
//! capabilities, no_new_privs, oom_score_adj, personality, seccomp.

use crate::sys::*;
use crate::tap::Tap;
use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;

pub(crate) fn uname() -> libc::utsname {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut u) };
    u
}

pub(crate) fn cstr(b: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = b
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).to_string()
}

pub(crate) fn check_uts(t: &mut Tap, cfg: &Value) {
    let u = uname();
    if let Some(h) = cfg["hostname"].as_str() {
        t.eq(
            "config.md#hostname",
            "hostname",
            h.to_string(),
            cstr(&u.nodename),
        );
    }
    if let Some(d) = cfg["domainname"].as_str() {
        t.eq(
            "config.md#domainname",
            "domainname",
            d.to_string(),
            cstr(&u.domainname),
        );
    }
}

pub(crate) fn status_field(name: &str) -> Option<String> {
    let st = fs::read_to_string("/proc/self/status").ok()?;
    st.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

pub(crate) fn check_process(t: &mut Tap, cfg: &Value) {
    let p = &cfg["process"];
    let s = "config.md#process";
    // args
    let cmdline = fs::read("/proc/self/cmdline").unwrap_or_default();
    let got: Vec<String> = cmdline
        .split(|b| *b == 0)
        .filter(|x| !x.is_empty())
        .map(|x| String::from_utf8_lossy(x).to_string())
        .collect();
    let want: Vec<String> = p["args"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    t.eq(s, "args (/proc/self/cmdline)", want, got);
    // user
    let su = "config.md#user";
    let uid = p["user"]["uid"].as_u64().unwrap_or(0) as u32;
    let gid = p["user"]["gid"].as_u64().unwrap_or(0) as u32;
    unsafe {
        t.eq(
            su,
            "uid (real, effective)",
            (uid, uid),
            (libc::getuid(), libc::geteuid()),
        );
        t.eq(
            su,
            "gid (real, effective)",
            (gid, gid),
            (libc::getgid(), libc::getegid()),
        );
    }
    let n = unsafe { libc::getgroups(0, std::ptr::null_mut()) };
    let mut groups = vec![0 as libc::gid_t; n.max(0) as usize];
    let n = unsafe { libc::getgroups(groups.len() as i32, groups.as_mut_ptr()) };
    groups.truncate(n.max(0) as usize);
    let got: BTreeSet<u32> = groups.into_iter().collect();
    if let Some(extra) = p["user"]["additionalGids"].as_array() {
        let want: BTreeSet<u32> = extra
            .iter()
            .filter_map(|g| g.as_u64())
            .map(|g| g as u32)
            .collect();
        // The primary gid may or may not also be listed by the kernel.
        let mut with_gid = want.clone();
        with_gid.insert(gid);
        t.check(
            su,
            "additionalGids (getgroups)",
            got == want || got == with_gid,
            &format!("{want:?}"),
            &format!("{got:?}"),
        );
    }
    if let Some(umask) = p["user"]["umask"].as_u64() {
        let got = status_field("Umask").and_then(|v| u32::from_str_radix(&v, 8).ok());
        t.eq(su, "umask", Some(umask as u32), got);
    }
    // cwd
    if let Some(cwd) = p["cwd"].as_str() {
        let got = std::env::current_dir()
            .map(|d| d.to_string_lossy().to_string())
            .unwrap_or_default();
        t.eq(s, "cwd", cwd.to_string(), got);
    }
    // env
    if let Some(env) = p["env"].as_array() {
        let vars: Vec<(String, String)> = std::env::vars_os()
            .map(|(k, v)| {
                (
                    k.to_string_lossy().to_string(),
                    v.to_string_lossy().to_string(),
                )
            })
            .collect();
        for e in env.iter().filter_map(|e| e.as_str()) {
            let (k, v) = e.split_once('=').unwrap_or((e, ""));
            let got = vars
                .iter()
                .rev()
                .find(|(kk, _)| kk == k)
                .map(|(_, vv)| vv.clone());
            t.eq(s, &format!("env {k}"), Some(v.to_string()), got);
        }
    }
    // rlimits
    if let Some(rl) = p["rlimits"].as_array() {
        for r in rl {
            let name = r["type"].as_str().unwrap_or("?");
            let Some(res) = rlimit_number(name) else {
                t.check(
                    "config.md#posix-process",
                    &format!("rlimit {name}"),
                    false,
                    "a known rlimit",
                    "unknown name",
                );
                continue;
            };
            let mut cur: libc::rlimit = unsafe { std::mem::zeroed() };
            unsafe { libc::getrlimit(res as _, &mut cur) };
            let want = (
                r["soft"].as_u64().unwrap_or(0),
                r["hard"].as_u64().unwrap_or(0),
            );
            t.eq(
                "config.md#posix-process",
                &format!("rlimit {name} (soft, hard)"),
                want,
                (cur.rlim_cur, cur.rlim_max),
            );
        }
    }
    // capabilities
    check_caps(t, p);
    // noNewPrivileges
    let nnp = p["noNewPrivileges"].as_bool().unwrap_or(false);
    t.eq(
        "config.md#linux-process",
        "noNewPrivileges",
        Some(if nnp { "1" } else { "0" }.to_string()),
        status_field("NoNewPrivs"),
    );
    if let Some(adj) = p["oomScoreAdj"].as_i64() {
        let got = fs::read_to_string("/proc/self/oom_score_adj")
            .ok()
            .and_then(|v| v.trim().parse::<i64>().ok());
        t.eq("config.md#linux-process", "oomScoreAdj", Some(adj), got);
    }
}

pub(crate) fn rlimit_number(name: &str) -> Option<i32> {
    Some(match name {
        "RLIMIT_AS" => libc::RLIMIT_AS,
        "RLIMIT_CORE" => libc::RLIMIT_CORE,
        "RLIMIT_CPU" => libc::RLIMIT_CPU,
        "RLIMIT_DATA" => libc::RLIMIT_DATA,
        "RLIMIT_FSIZE" => libc::RLIMIT_FSIZE,
        "RLIMIT_LOCKS" => libc::RLIMIT_LOCKS,
        "RLIMIT_MEMLOCK" => libc::RLIMIT_MEMLOCK,
        "RLIMIT_MSGQUEUE" => libc::RLIMIT_MSGQUEUE,
        "RLIMIT_NICE" => libc::RLIMIT_NICE,
        "RLIMIT_NOFILE" => libc::RLIMIT_NOFILE,
        "RLIMIT_NPROC" => libc::RLIMIT_NPROC,
        "RLIMIT_RSS" => libc::RLIMIT_RSS,
        "RLIMIT_RTPRIO" => libc::RLIMIT_RTPRIO,
        "RLIMIT_RTTIME" => libc::RLIMIT_RTTIME,
        "RLIMIT_SIGPENDING" => libc::RLIMIT_SIGPENDING,
        "RLIMIT_STACK" => libc::RLIMIT_STACK,
        _ => return None,
    } as i32)
}

pub(crate) const CAPS: [&str; 41] = [
    "CHOWN",
    "DAC_OVERRIDE",
    "DAC_READ_SEARCH",
    "FOWNER",
    "FSETID",
    "KILL",
    "SETGID",
    "SETUID",
    "SETPCAP",
    "LINUX_IMMUTABLE",
    "NET_BIND_SERVICE",
    "NET_BROADCAST",
    "NET_ADMIN",
    "NET_RAW",
    "IPC_LOCK",
    "IPC_OWNER",
    "SYS_MODULE",
    "SYS_RAWIO",
    "SYS_CHROOT",
    "SYS_PTRACE",
    "SYS_PACCT",
    "SYS_ADMIN",
    "SYS_BOOT",
    "SYS_NICE",
    "SYS_RESOURCE",
    "SYS_TIME",
    "SYS_TTY_CONFIG",
    "MKNOD",
    "LEASE",
    "AUDIT_WRITE",
    "AUDIT_CONTROL",
    "SETFCAP",
    "MAC_OVERRIDE",
    "MAC_ADMIN",
    "SYSLOG",
    "WAKE_ALARM",
    "BLOCK_SUSPEND",
    "AUDIT_READ",
    "PERFMON",
    "BPF",
    "CHECKPOINT_RESTORE",
];

pub(crate) fn cap_names(mask: u64) -> String {
    let v: Vec<String> = (0..64)
        .filter(|b| mask & (1u64 << b) != 0)
        .map(|b| {
            CAPS.get(b)
                .map(|n| format!("CAP_{n}"))
                .unwrap_or_else(|| format!("cap{b}"))
        })
        .collect();
    format!("[{}]", v.join(" "))
}

pub(crate) fn cap_set(p: &Value, set: &str) -> u64 {
    let mut m = 0u64;
    if let Some(a) = p["capabilities"][set].as_array() {
        for c in a.iter().filter_map(|c| c.as_str()) {
            if let Some(i) = CAPS.iter().position(|n| c.strip_prefix("CAP_") == Some(n)) {
                m |= 1 << i;
            }
        }
    }
    m
}

/// Compares the five sets with what the kernel makes of the config at
/// execve(2) (capabilities(7)): ambient caps exist only if also permitted
/// and inheritable; a non-root process ends with permitted = effective =
/// ambient; uid 0 ends with permitted = effective = bounding | inheritable.
pub(crate) fn check_caps(t: &mut Tap, p: &Value) {
    let last: u32 = fs::read_to_string("/proc/sys/kernel/cap_last_cap")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(40);
    let known: u64 = if last >= 63 {
        u64::MAX
    } else {
        (1u64 << (last + 1)) - 1
    };
    let (bnd, inh, prm, amb) = (
        cap_set(p, "bounding"),
        cap_set(p, "inheritable"),
        cap_set(p, "permitted"),
        cap_set(p, "ambient"),
    );
    let amb_x = amb & prm & inh;
    let root = unsafe { libc::geteuid() } == 0;
    let prm_x = if root { bnd | inh } else { amb_x };
    for (set, field, want, rule) in [
        ("bounding", "CapBnd", bnd, "as configured"),
        ("inheritable", "CapInh", inh, "as configured"),
        (
            "ambient",
            "CapAmb",
            amb_x,
            "ambient & permitted & inheritable",
        ),
        (
            "permitted",
            "CapPrm",
            prm_x,
            if root {
                "uid 0 after exec: bounding | inheritable"
            } else {
                "non-root after exec: the ambient set"
            },
        ),
        (
            "effective",
            "CapEff",
            prm_x,
            if root {
                "uid 0 after exec: bounding | inheritable"
            } else {
                "non-root after exec: the ambient set"
            },
        ),
    ] {
        let want = want & known;
        let got = status_field(field)
            .and_then(|v| u64::from_str_radix(&v, 16).ok())
            .unwrap_or(u64::MAX)
            & known;
        let cfg = cap_set(p, set) & known;
        let note = if cfg != want {
            format!("; config lists {}", cap_names(cfg))
        } else {
            String::new()
        };
        t.check(
            "config.md#linux-process",
            &format!("capabilities.{set} ({field}, {rule}{note})"),
            want == got,
            &cap_names(want),
            &cap_names(got),
        );
    }
}

pub(crate) fn check_personality(t: &mut Tap, cfg: &Value) {
    let Some(d) = cfg["linux"]["personality"]["domain"].as_str() else {
        return;
    };
    let want = match d {
        "LINUX" => 0,
        "LINUX32" => 8,
        _ => -1,
    };
    let got = unsafe { libc::personality(0xffff_ffff) };
    t.eq(
        "config-linux.md#personality",
        &format!("personality domain {d}"),
        want,
        got & 0xff,
    );
    if d == "LINUX32" {
        t.eq(
            "config-linux.md#personality",
            "uname machine under LINUX32",
            "i686".to_string(),
            cstr(&uname().machine),
        );
    }
}

pub(crate) fn check_seccomp(t: &mut Tap, cfg: &Value) {
    let sc = &cfg["linux"]["seccomp"];
    if sc.is_null() {
        return;
    }
    let s = "config-linux.md#seccomp";
    t.eq(
        s,
        "Seccomp mode in /proc/self/status",
        Some("2".to_string()),
        status_field("Seccomp"),
    );
    for rule in sc["syscalls"].as_array().cloned().unwrap_or_default() {
        if rule["action"] != "SCMP_ACT_ERRNO" {
            continue;
        }
        let errno_ret = rule["errnoRet"].as_i64().unwrap_or(libc::EPERM as i64) as i32;
        for name in rule["names"].as_array().cloned().unwrap_or_default() {
            let name = name.as_str().unwrap_or("");
            let r = match name {
                "mkdirat" => {
                    let p = CString::new("/tmp/.oci-seccomp-probe").unwrap();
                    let r = unsafe {
                        libc::syscall(libc::SYS_mkdirat, libc::AT_FDCWD, p.as_ptr(), 0o700)
                    };
                    if r == 0 {
                        unsafe { libc::rmdir(p.as_ptr()) };
                    }
                    r
                }
                "getpriority" => unsafe {
                    libc::syscall(libc::SYS_getpriority, libc::PRIO_PROCESS, 0)
                },
                _ => continue,
            };
            let e = if r < 0 { errno() } else { 0 };
            t.check(
                s,
                &format!("{name} denied with errnoRet {errno_ret}"),
                e == errno_ret,
                &format!("errno {errno_ret}"),
                &if r < 0 {
                    format!("errno {e}")
                } else {
                    "success".into()
                },
            );
        }
    }
}
