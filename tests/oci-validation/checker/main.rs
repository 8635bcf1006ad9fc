//! hull-oci-checker: runs as the process of an OCI container and verifies,
//! from inside, every requirement of the container's config.json that it
//! can observe. Output is TAP: one `ok N - <section>: <what>` or
//! `not ok N - <section>: <what> (expected X, found Y)` per check, then
//! `1..N`. Exit status 0 when every check passed, 1 otherwise.
//!
//! Inputs (bind-mounted read-only by the oci-validation runner):
//! * `/oci/config.json`: the exact config the container was created from;
//! * `/oci/host.json`: facts only the host knows: the runner's namespace
//!   inodes, the inodes of `linux.namespaces[].path`, device/inode of the
//!   sources of bind mounts, the rootfs marker and the cgroup version.
//!
//! The checker must link statically (it runs in a busybox rootfs) and uses
//! only std, libc and serde_json.

use serde_json::Value;
use std::collections::BTreeSet;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

const OCI_DIR: &str = "/oci";

struct Tap {
    n: usize,
    failed: usize,
}

impl Tap {
    fn check(&mut self, section: &str, what: &str, ok: bool, expected: &str, found: &str) {
        self.n += 1;
        if ok {
            println!("ok {} - {section}: {what}", self.n);
        } else {
            self.failed += 1;
            println!(
                "not ok {} - {section}: {what} (expected {expected}, found {found})",
                self.n
            );
        }
    }
    fn eq<T: PartialEq + std::fmt::Debug>(&mut self, section: &str, what: &str, exp: T, found: T) {
        let ok = exp == found;
        self.check(
            section,
            what,
            ok,
            &format!("{exp:?}"),
            &format!("{found:?}"),
        );
    }
    fn note(&self, msg: &str) {
        println!("# {msg}");
    }
}

// ---------------------------------------------------------------------------
// mountinfo
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
struct MountEntry {
    mount_point: String,
    mount_opts: Vec<String>,
    optional: Vec<String>,
    fstype: String,
    source: String,
    super_opts: Vec<String>,
}

fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 4 <= b.len() && b[i + 1..i + 4].iter().all(|c| c.is_ascii_digit()) {
            let v = u8::from_str_radix(&s[i + 1..i + 4], 8).unwrap_or(b'?');
            out.push(v);
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).to_string()
}

fn mountinfo() -> Vec<MountEntry> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut v = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split(' ').collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < dash + 4 || dash < 6 {
            continue;
        }
        v.push(MountEntry {
            mount_point: unescape(f[4]),
            mount_opts: f[5].split(',').map(String::from).collect(),
            optional: f[6..dash].iter().map(|s| s.to_string()).collect(),
            fstype: f[dash + 1].to_string(),
            source: unescape(f[dash + 2]),
            super_opts: f[dash + 3].split(',').map(String::from).collect(),
        });
    }
    v
}

/// The topmost mount at `path` (the last mountinfo line for it).
fn mount_at<'a>(mi: &'a [MountEntry], path: &str) -> Option<&'a MountEntry> {
    let p = if path.len() > 1 {
        path.trim_end_matches('/')
    } else {
        path
    };
    mi.iter().rev().find(|m| m.mount_point == p)
}

fn propagation_of(m: &MountEntry) -> &'static str {
    let shared = m.optional.iter().any(|o| o.starts_with("shared:"));
    let slave = m.optional.iter().any(|o| o.starts_with("master:"));
    let unbindable = m.optional.iter().any(|o| o == "unbindable");
    // A mount that is both shared and a slave ("shared:N master:M") is
    // shared: MS_SHARED on a slave mount keeps its master.
    match (shared, slave, unbindable) {
        (_, _, true) => "unbindable",
        (true, _, _) => "shared",
        (false, true, _) => "slave",
        _ => "private",
    }
}

/// "65536k" -> bytes.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mul) = match s.chars().last()? {
        'k' | 'K' => (&s[..s.len() - 1], 1u64 << 10),
        'm' | 'M' => (&s[..s.len() - 1], 1 << 20),
        'g' | 'G' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok().map(|n| n * mul)
}

/// The value the kernel leaves out of mountinfo when an option has its
/// default value.
fn default_data_opt(fstype: &str, key: &str) -> Option<&'static str> {
    match (fstype, key) {
        ("tmpfs", "mode") => Some("1777"),
        ("tmpfs", "uid" | "gid") | ("devpts", "uid" | "gid") => Some("0"),
        ("devpts", "mode") => Some("600"),
        ("devpts", "ptmxmode") => Some("0"),
        _ => None,
    }
}

/// Maps an id of the container's user namespace to the initial namespace
/// (mountinfo shows uid=/gid= options as seen from there).
fn id_to_host(map_file: &str, id: u64) -> u64 {
    let text = fs::read_to_string(map_file).unwrap_or_default();
    for l in text.lines() {
        let v: Vec<u64> = l
            .split_whitespace()
            .filter_map(|x| x.parse().ok())
            .collect();
        if v.len() == 3 && id >= v[0] && id < v[0] + v[2] {
            return v[1] + (id - v[0]);
        }
    }
    id
}

/// Normalises a `key=value` data option so that the config's spelling and
/// the kernel's can be compared.
fn norm_data_opt(key: &str, val: &str) -> String {
    match key {
        "mode" | "ptmxmode" => u32::from_str_radix(val, 8)
            .map(|m| format!("{m:o}"))
            .unwrap_or_else(|_| val.to_string()),
        "size" => parse_size(val)
            .map(|b| b.to_string())
            .unwrap_or_else(|| val.to_string()),
        _ => val.to_string(),
    }
}

fn statvfs_ro(path: &str) -> Result<bool, i32> {
    let c = CString::new(path).unwrap();
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(c.as_ptr(), &mut st) } != 0 {
        return Err(errno());
    }
    Ok(st.f_flag & libc::ST_RDONLY != 0)
}

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn errname(e: i32) -> String {
    match e {
        0 => "success".into(),
        libc::EPERM => "EPERM".into(),
        libc::EACCES => "EACCES".into(),
        libc::EROFS => "EROFS".into(),
        libc::ENOENT => "ENOENT".into(),
        libc::EEXIST => "EEXIST".into(),
        _ => format!("errno {e}"),
    }
}

// ---------------------------------------------------------------------------
// Checks
// ---------------------------------------------------------------------------

fn check_root(t: &mut Tap, cfg: &Value, host: &Value, mi: &[MountEntry]) {
    let s = "config.md#root";
    let marker = host["rootfs_marker"].as_str().unwrap_or("");
    let found = fs::read_to_string("/.oci-rootfs-marker").unwrap_or_default();
    t.eq(
        s,
        "root.path is the container's / (marker file)",
        marker.to_string(),
        found.trim().to_string(),
    );
    let ro = cfg["root"]["readonly"].as_bool().unwrap_or(false);
    let vfs = statvfs_ro("/");
    t.eq(
        s,
        &format!("root.readonly={ro}: / mounted read-only"),
        Ok(ro),
        vfs,
    );
    let probe = CString::new("/.oci-write-probe").unwrap();
    let fd = unsafe { libc::open(probe.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o600) };
    let e = if fd < 0 { errno() } else { 0 };
    if fd >= 0 {
        unsafe {
            libc::close(fd);
            libc::unlink(probe.as_ptr());
        }
    }
    if ro {
        t.check(
            s,
            "root.readonly=true: creating a file in / fails with EROFS",
            e == libc::EROFS,
            "EROFS",
            &errname(e),
        );
    } else if unsafe { libc::geteuid() } == 0 {
        t.check(
            s,
            "root.readonly=false: creating a file in / succeeds",
            e == 0,
            "success",
            &errname(e),
        );
    }
    if mount_at(mi, "/").is_none() {
        t.check(s, "/ is a mount point", false, "a mount at /", "none");
    }
}

fn check_mounts(t: &mut Tap, cfg: &Value, host: &Value, mi: &[MountEntry]) {
    let s = "config.md#mounts";
    let Some(mounts) = cfg["mounts"].as_array() else {
        return;
    };
    let cgroup_v = host["cgroup_version"].as_u64().unwrap_or(1);
    for m in mounts {
        let dest = m["destination"].as_str().unwrap_or("?");
        let ty = m["type"].as_str().unwrap_or("");
        let src = m["source"].as_str().unwrap_or("");
        let opts: Vec<&str> = m["options"]
            .as_array()
            .map(|a| a.iter().filter_map(|o| o.as_str()).collect())
            .unwrap_or_default();
        let is_bind = ty == "bind" || opts.iter().any(|o| *o == "bind" || *o == "rbind");
        let Some(e) = mount_at(mi, dest) else {
            t.check(
                s,
                &format!("{dest} is mounted"),
                false,
                &format!("a {ty} mount"),
                "no mount",
            );
            continue;
        };
        t.check(s, &format!("{dest} is mounted"), true, "", "");
        if is_bind {
            // Source: same device and inode as the host path.
            let exp = &host["binds"][dest];
            match fs::metadata(dest) {
                Ok(md) => t.eq(
                    s,
                    &format!("{dest}: bind source {src} (dev/inode)"),
                    (exp["dev"].as_u64(), exp["ino"].as_u64()),
                    (Some(md.dev()), Some(md.ino())),
                ),
                Err(err) => t.check(
                    s,
                    &format!("{dest}: bind source {src}"),
                    false,
                    "stat ok",
                    &err.to_string(),
                ),
            }
        } else if ty == "cgroup" {
            let ok = if cgroup_v == 2 {
                e.fstype == "cgroup2"
            } else {
                e.fstype == "tmpfs" || e.fstype == "cgroup"
            };
            t.check(
                s,
                &format!("{dest}: type cgroup (v{cgroup_v})"),
                ok,
                if cgroup_v == 2 {
                    "cgroup2"
                } else {
                    "tmpfs or cgroup"
                },
                &e.fstype,
            );
        } else {
            if !ty.is_empty() {
                t.eq(s, &format!("{dest}: type"), ty, e.fstype.as_str());
            }
            if !src.is_empty() {
                t.eq(s, &format!("{dest}: source"), src, e.source.as_str());
            }
        }
        let has = |o: &str| e.mount_opts.iter().any(|x| x == o);
        for o in &opts {
            let what = format!("{dest}: option {o}");
            match *o {
                "ro" => t.check(s, &what, has("ro"), "ro", &e.mount_opts.join(",")),
                "rw" => t.check(s, &what, has("rw"), "rw", &e.mount_opts.join(",")),
                "nosuid" | "nodev" | "noexec" | "noatime" | "nodiratime" | "relatime" => {
                    t.check(s, &what, has(o), o, &e.mount_opts.join(","))
                }
                "suid" | "dev" | "exec" => {
                    let neg = format!("no{o}");
                    t.check(
                        s,
                        &what,
                        !has(&neg),
                        &format!("no {neg}"),
                        &e.mount_opts.join(","),
                    )
                }
                "strictatime" => t.check(
                    s,
                    &what,
                    !has("relatime") && !has("noatime"),
                    "neither relatime nor noatime",
                    &e.mount_opts.join(","),
                ),
                "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
                | "unbindable" | "runbindable" => {
                    let want = o.trim_start_matches('r');
                    let want = if *o == "rprivate" || *o == "private" {
                        "private"
                    } else {
                        want
                    };
                    let want = if *o == "runbindable" {
                        "unbindable"
                    } else {
                        want
                    };
                    let got = propagation_of(e);
                    t.check(
                        s,
                        &format!("{what} (propagation)"),
                        got == want,
                        want,
                        &format!("{got} ({})", e.optional.join(" ")),
                    );
                }
                _ if o.contains('=') && !is_bind && ty != "cgroup" => {
                    let (k, v) = o.split_once('=').unwrap();
                    let v = match k {
                        "uid" => v
                            .parse()
                            .map(|i| id_to_host("/proc/self/uid_map", i).to_string())
                            .unwrap_or(v.to_string()),
                        "gid" => v
                            .parse()
                            .map(|i| id_to_host("/proc/self/gid_map", i).to_string())
                            .unwrap_or(v.to_string()),
                        _ => v.to_string(),
                    };
                    let want = norm_data_opt(k, &v);
                    let got = e
                        .super_opts
                        .iter()
                        .find_map(|x| {
                            x.split_once('=')
                                .filter(|(kk, _)| *kk == k)
                                .map(|(_, vv)| norm_data_opt(k, vv))
                        })
                        .or_else(|| default_data_opt(&e.fstype, k).map(|d| norm_data_opt(k, d)));
                    t.check(
                        s,
                        &what,
                        got.as_deref() == Some(want.as_str()),
                        &format!("{k}={want}"),
                        &format!("{k}={}", got.unwrap_or_else(|| "<absent>".into())),
                    );
                }
                _ => {} // bind, rbind, newinstance, tmpcopyup...: not observable here
            }
        }
    }
}

fn ns_inode(path: &str) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.ino())
}

fn check_namespaces(t: &mut Tap, cfg: &Value, host: &Value) {
    let s = "config-linux.md#namespaces";
    let list = cfg["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (ty, proc_name) in [
        ("pid", "pid"),
        ("network", "net"),
        ("mount", "mnt"),
        ("ipc", "ipc"),
        ("uts", "uts"),
        ("user", "user"),
        ("cgroup", "cgroup"),
        ("time", "time"),
    ] {
        let Some(host_ino) = host["ns"][ty].as_u64() else {
            t.note(&format!("{ty} namespace: the host has none, not checked"));
            continue;
        };
        let Some(mine) = ns_inode(&format!("/proc/self/ns/{proc_name}")) else {
            t.check(
                s,
                &format!("{ty}: /proc/self/ns/{proc_name} readable"),
                false,
                "an inode",
                "unreadable",
            );
            continue;
        };
        match list.iter().find(|n| n["type"] == ty) {
            None => t.check(
                s,
                &format!("{ty}: not listed, shared with the runtime"),
                mine == host_ino,
                &format!("inode {host_ino}"),
                &format!("inode {mine}"),
            ),
            Some(n) if n["path"].as_str().is_some_and(|p| !p.is_empty()) => {
                let want = host["ns_paths"][ty].as_u64().unwrap_or(0);
                t.check(
                    s,
                    &format!("{ty}: joins {}", n["path"].as_str().unwrap()),
                    mine == want,
                    &format!("inode {want}"),
                    &format!("inode {mine}"),
                );
            }
            Some(_) => t.check(
                s,
                &format!("{ty}: new namespace"),
                mine != host_ino,
                &format!("an inode other than the host's {host_ino}"),
                &format!("inode {mine}"),
            ),
        }
    }
    for (key, file) in [
        ("uidMappings", "/proc/self/uid_map"),
        ("gidMappings", "/proc/self/gid_map"),
    ] {
        let Some(maps) = cfg["linux"][key].as_array() else {
            continue;
        };
        let mut want: Vec<(u64, u64, u64)> = maps
            .iter()
            .map(|m| {
                (
                    m["containerID"].as_u64().unwrap_or(0),
                    m["hostID"].as_u64().unwrap_or(0),
                    m["size"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        want.sort();
        let mut got: Vec<(u64, u64, u64)> = fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let v: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                (v.len() == 3).then(|| (v[0], v[1], v[2]))
            })
            .collect();
        got.sort();
        t.eq(
            "config-linux.md#user-namespace-mappings",
            &format!("{key} in {file}"),
            want,
            got,
        );
    }
}

fn uname() -> libc::utsname {
    let mut u: libc::utsname = unsafe { std::mem::zeroed() };
    unsafe { libc::uname(&mut u) };
    u
}

fn cstr(b: &[libc::c_char]) -> String {
    let bytes: Vec<u8> = b
        .iter()
        .take_while(|c| **c != 0)
        .map(|c| *c as u8)
        .collect();
    String::from_utf8_lossy(&bytes).to_string()
}

fn check_uts(t: &mut Tap, cfg: &Value) {
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

fn status_field(name: &str) -> Option<String> {
    let st = fs::read_to_string("/proc/self/status").ok()?;
    st.lines().find_map(|l| {
        l.strip_prefix(&format!("{name}:"))
            .map(|v| v.trim().to_string())
    })
}

fn check_process(t: &mut Tap, cfg: &Value) {
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

fn rlimit_number(name: &str) -> Option<i32> {
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

const CAPS: [&str; 41] = [
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

fn cap_names(mask: u64) -> String {
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

fn cap_set(p: &Value, set: &str) -> u64 {
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
fn check_caps(t: &mut Tap, p: &Value) {
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

fn check_sysctl(t: &mut Tap, cfg: &Value) {
    let Some(m) = cfg["linux"]["sysctl"].as_object() else {
        return;
    };
    for (k, v) in m {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        let got = fs::read_to_string(&path)
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|e| format!("<{e}>"));
        let want = v
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        t.eq("config-linux.md#sysctl", k, want, got);
    }
}

fn dev_major(d: u64) -> u64 {
    libc::major(d) as u64
}
fn dev_minor(d: u64) -> u64 {
    libc::minor(d) as u64
}

fn check_devices(t: &mut Tap, cfg: &Value) {
    let s = "config-linux.md#default-devices";
    for (path, maj, min) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        let got = fs::metadata(path).map(|m| {
            (
                m.file_type().is_char_device(),
                dev_major(m.rdev()),
                dev_minor(m.rdev()),
            )
        });
        t.eq(
            s,
            &format!("{path} is char {maj}:{min}"),
            Ok((true, maj, min)),
            got.map_err(|e| e.to_string()),
        );
    }
    let ptmx = fs::symlink_metadata("/dev/ptmx").is_ok();
    t.check(s, "/dev/ptmx exists", ptmx, "present", "absent");
    for (l, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let got = fs::read_link(l)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_else(|e| format!("<{e}>"));
        t.eq(
            "config-linux.md#dev-symbolic-links",
            &format!("{l} -> {target}"),
            target.to_string(),
            got,
        );
    }
    let w = fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(b"x")
        });
    t.check(
        s,
        "/dev/null is writable",
        w.is_ok(),
        "write ok",
        &format!("{w:?}"),
    );
    let r = fs::File::open("/dev/zero").and_then(|mut f| {
        use std::io::Read;
        let mut b = [1u8; 4];
        f.read_exact(&mut b).map(|_| b)
    });
    t.check(
        s,
        "/dev/zero reads zeros",
        matches!(r, Ok([0, 0, 0, 0])),
        "[0, 0, 0, 0]",
        &format!("{r:?}"),
    );

    let Some(devs) = cfg["linux"]["devices"].as_array() else {
        return;
    };
    let s = "config-linux.md#devices";
    for d in devs {
        let path = d["path"].as_str().unwrap_or("?");
        let ty = d["type"].as_str().unwrap_or("?");
        let md = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                t.check(
                    s,
                    &format!("{path} exists"),
                    false,
                    "present",
                    &e.to_string(),
                );
                continue;
            }
        };
        let ft = md.file_type();
        let got_ty = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else if ft.is_fifo() {
            "p"
        } else {
            "other"
        };
        let want_ty = if ty == "u" { "c" } else { ty };
        t.eq(s, &format!("{path} type"), want_ty, got_ty);
        if ty != "p" {
            t.eq(
                s,
                &format!("{path} major:minor"),
                (
                    d["major"].as_u64().unwrap_or(0),
                    d["minor"].as_u64().unwrap_or(0),
                ),
                (dev_major(md.rdev()), dev_minor(md.rdev())),
            );
        }
        if let Some(mode) = d["fileMode"].as_u64() {
            t.check(
                s,
                &format!("{path} fileMode"),
                md.mode() & 0o7777 == mode as u32,
                &format!("{mode:o}"),
                &format!("{:o}", md.mode() & 0o7777),
            );
        }
        if let Some(u) = d["uid"].as_u64() {
            t.eq(s, &format!("{path} uid"), u as u32, md.uid());
        }
        if let Some(g) = d["gid"].as_u64() {
            t.eq(s, &format!("{path} gid"), g as u32, md.gid());
        }
    }
}

fn check_masked_readonly(t: &mut Tap, cfg: &Value) {
    if let Some(paths) = cfg["linux"]["maskedPaths"].as_array() {
        for p in paths.iter().filter_map(|p| p.as_str()) {
            let s = "config-linux.md#masked-paths";
            match fs::symlink_metadata(p) {
                Err(_) => t.note(&format!(
                    "masked path {p} does not exist in the container: nothing to mask"
                )),
                Ok(md) if md.is_dir() => {
                    let n = fs::read_dir(p).map(|r| r.count());
                    t.check(
                        s,
                        &format!("{p} (dir) is masked: empty or unreadable"),
                        !matches!(n, Ok(k) if k > 0),
                        "no entries",
                        &format!("{n:?} entries"),
                    );
                }
                Ok(_) => {
                    let r = fs::read(p);
                    let ok = match &r {
                        Ok(v) => v.is_empty(),
                        Err(_) => true,
                    };
                    t.check(
                        s,
                        &format!("{p} (file) is masked: empty or unreadable"),
                        ok,
                        "no data",
                        &format!("{} bytes", r.map(|v| v.len()).unwrap_or(0)),
                    );
                }
            }
        }
    }
    if let Some(paths) = cfg["linux"]["readonlyPaths"].as_array() {
        for p in paths.iter().filter_map(|p| p.as_str()) {
            let s = "config-linux.md#readonly-paths";
            if fs::symlink_metadata(p).is_err() {
                t.note(&format!(
                    "readonly path {p} does not exist in the container"
                ));
                continue;
            }
            let got = statvfs_ro(p);
            t.eq(
                s,
                &format!("{p} is read-only (statvfs ST_RDONLY)"),
                Ok(true),
                got,
            );
            if fs::metadata(p).map(|m| m.is_file()).unwrap_or(false) {
                let e = fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .err()
                    .and_then(|e| e.raw_os_error())
                    .unwrap_or(0);
                t.check(
                    s,
                    &format!("{p}: open for writing fails with EROFS"),
                    e == libc::EROFS,
                    "EROFS",
                    &errname(e),
                );
            }
        }
    }
}

fn check_rootfs_propagation(t: &mut Tap, cfg: &Value, mi: &[MountEntry]) {
    let Some(p) = cfg["linux"]["rootfsPropagation"].as_str() else {
        return;
    };
    let want = match p {
        "shared" | "rshared" => "shared",
        "slave" | "rslave" => "slave",
        "private" | "rprivate" => "private",
        "unbindable" | "runbindable" => "unbindable",
        _ => p,
    };
    let got = mount_at(mi, "/")
        .map(|m| format!("{} ({})", propagation_of(m), m.optional.join(" ")))
        .unwrap_or_else(|| "no mount at /".into());
    t.check(
        "config-linux.md#rootfs-mount-propagation",
        &format!("rootfsPropagation {p}: / is {want}"),
        got.starts_with(&format!("{want} ")),
        want,
        &got,
    );
}

/// Reads a cgroup interface file as seen from inside: v2 at
/// /sys/fs/cgroup/<file>, v1 in the controller's hierarchy, either at its
/// root (cgroup namespace or bind of the container's cgroup) or under the
/// path /proc/self/cgroup names.
fn cgroup_read(v: u64, ctrl: &str, file_v1: &str, file_v2: &str) -> Result<String, String> {
    let mut tried = Vec::new();
    let mut cands = Vec::new();
    if v == 2 {
        cands.push(format!("/sys/fs/cgroup/{file_v2}"));
        if let Ok(c) = fs::read_to_string("/proc/self/cgroup")
            && let Some(p) = c.lines().find_map(|l| l.strip_prefix("0::"))
        {
            cands.push(format!(
                "/sys/fs/cgroup{}/{file_v2}",
                p.trim_end_matches('/')
            ));
        }
    } else {
        cands.push(format!("/sys/fs/cgroup/{ctrl}/{file_v1}"));
        if let Ok(c) = fs::read_to_string("/proc/self/cgroup") {
            for l in c.lines() {
                let f: Vec<&str> = l.splitn(3, ':').collect();
                if f.len() == 3 && f[1].split(',').any(|x| x == ctrl) {
                    cands.push(format!(
                        "/sys/fs/cgroup/{ctrl}{}/{file_v1}",
                        f[2].trim_end_matches('/')
                    ));
                }
            }
        }
    }
    for c in cands {
        match fs::read_to_string(&c) {
            Ok(s) => return Ok(s.trim().to_string()),
            Err(e) => tried.push(format!("{c}: {e}")),
        }
    }
    Err(tried.join("; "))
}

fn check_cgroups(t: &mut Tap, cfg: &Value, host: &Value) {
    let r = &cfg["linux"]["resources"];
    let v = host["cgroup_version"].as_u64().unwrap_or(1);
    let s = "config-linux.md#control-groups";
    if let Some(limit) = r["memory"]["limit"].as_i64() {
        let want = if limit < 0 {
            if v == 2 {
                "max".to_string()
            } else {
                "9223372036854771712".into()
            }
        } else {
            limit.to_string()
        };
        let got = cgroup_read(v, "memory", "memory.limit_in_bytes", "memory.max");
        t.eq(
            s,
            &format!("memory.limit from inside (cgroup v{v})"),
            Ok(want),
            got,
        );
    }
    if let Some(limit) = r["pids"]["limit"].as_i64() {
        let want = if limit <= 0 {
            "max".to_string()
        } else {
            limit.to_string()
        };
        let got = cgroup_read(v, "pids", "pids.max", "pids.max");
        t.eq(
            s,
            &format!("pids.limit from inside (cgroup v{v})"),
            Ok(want),
            got,
        );
    }
    if v == 2
        && cfg["linux"]["namespaces"].as_array().is_some_and(|a| {
            a.iter()
                .any(|n| n["type"] == "cgroup" && n["path"].is_null())
        })
    {
        let c = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        t.eq(
            "config-linux.md#cgroup-namespace",
            "/proc/self/cgroup shows the namespace root",
            "0::/",
            c.trim(),
        );
    }
}

fn check_time_offsets(t: &mut Tap, cfg: &Value) {
    let Some(offs) = cfg["linux"]["timeOffsets"].as_object() else {
        return;
    };
    let s = "config-linux.md#offset-for-time-namespace";
    let text = fs::read_to_string("/proc/self/timens_offsets").unwrap_or_default();
    for (clock, o) in offs {
        let want = (
            o["secs"].as_i64().unwrap_or(0),
            o["nanosecs"].as_i64().unwrap_or(0),
        );
        let got = text.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = match f.first()? {
                &"1" => "monotonic",
                &"7" => "boottime",
                x => x,
            };
            (name == clock && f.len() == 3).then(|| {
                (
                    f[1].parse::<i64>().unwrap_or(0),
                    f[2].parse::<i64>().unwrap_or(0),
                )
            })
        });
        t.eq(
            s,
            &format!("timeOffsets.{clock} in /proc/self/timens_offsets"),
            Some(want),
            got,
        );
        let id = if clock == "boottime" {
            libc::CLOCK_BOOTTIME
        } else {
            libc::CLOCK_MONOTONIC
        };
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(id, &mut ts) };
        t.check(
            s,
            &format!("clock {clock} reads at least the offset"),
            ts.tv_sec >= want.0,
            &format!(">= {}", want.0),
            &ts.tv_sec.to_string(),
        );
    }
}

fn check_personality(t: &mut Tap, cfg: &Value) {
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

fn check_seccomp(t: &mut Tap, cfg: &Value) {
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

fn main() {
    let mut t = Tap { n: 0, failed: 0 };
    let cfg: Value = match fs::read(Path::new(OCI_DIR).join("config.json"))
        .map(|b| serde_json::from_slice(&b))
    {
        Ok(Ok(v)) => v,
        other => {
            t.check(
                "checker",
                "read /oci/config.json",
                false,
                "a JSON config",
                &format!("{other:?}"),
            );
            println!("1..{}", t.n);
            std::process::exit(1);
        }
    };
    let host: Value = fs::read(Path::new(OCI_DIR).join("host.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let only: Vec<String> = std::env::args().skip(1).collect();
    let want = |g: &str| only.is_empty() || only.iter().any(|o| o == g);
    let mi = mountinfo();
    if want("root") {
        check_root(&mut t, &cfg, &host, &mi);
    }
    if want("mounts") {
        check_mounts(&mut t, &cfg, &host, &mi);
    }
    if want("namespaces") {
        check_namespaces(&mut t, &cfg, &host);
    }
    if want("uts") {
        check_uts(&mut t, &cfg);
    }
    if want("process") {
        check_process(&mut t, &cfg);
    }
    if want("sysctl") {
        check_sysctl(&mut t, &cfg);
    }
    if want("devices") {
        check_devices(&mut t, &cfg);
    }
    if want("paths") {
        check_masked_readonly(&mut t, &cfg);
    }
    if want("propagation") {
        check_rootfs_propagation(&mut t, &cfg, &mi);
    }
    if want("cgroups") {
        check_cgroups(&mut t, &cfg, &host);
    }
    if want("time") {
        check_time_offsets(&mut t, &cfg);
    }
    if want("personality") {
        check_personality(&mut t, &cfg);
    }
    if want("seccomp") {
        check_seccomp(&mut t, &cfg);
    }
    println!("1..{}", t.n);
    std::process::exit(if t.failed == 0 { 0 } else { 1 });
}
