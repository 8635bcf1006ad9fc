//! What the bundle asks of this host: the rootfs and the program in it,
//! filesystem types, bind sources, namespace files, capabilities, cgroup
//! controllers and hooks.

use super::elf::{self, Exe};
use super::semantic::is_bind;
use super::{Ctx, Mode, Report, Severity, suggest};
use serde_json::Value;
use std::collections::VecDeque;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

pub fn check(c: &Ctx, r: &mut Report) {
    root(c, r);
    if c.rootfs.is_some() {
        program(c, r);
    }
    mounts(c, r);
    namespaces(c, r);
    capabilities(c, r);
    lsm(c, r);
    hooks(c, r);
    if c.mode == Mode::Full {
        cgroups(c, r);
    }
}

fn root(c: &Ctx, r: &mut Report) {
    let Some(root) = c.get("/root") else {
        r.error(
            "/root",
            "missing: a root filesystem is required",
            Some("add \"root\": {\"path\": \"rootfs\"}".into()),
        );
        return;
    };
    let Some(p) = root.get("path").and_then(Value::as_str) else {
        return;
    };
    let full = c.bundle.join(p);
    match std::fs::metadata(&full) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => r.error(
            "/root/path",
            format!("{} is not a directory", full.display()),
            None,
        ),
        Err(e) => r.error(
            "/root/path",
            format!("rootfs {}: {}", full.display(), crate::error::io_words(&e)),
            Some(if p.starts_with('/') {
                "create the directory or fix the path".to_string()
            } else {
                format!(
                    "relative paths are taken from the bundle directory {}",
                    c.bundle.display()
                )
            }),
        ),
    }
}

// ---------------------------------------------------------------------------
// Resolving paths inside the rootfs
// ---------------------------------------------------------------------------

/// Where a path inside the container leads, as far as the host can tell
/// before any mount is made.
#[derive(Debug)]
enum Resolved {
    /// This host path (which may or may not exist).
    Host(PathBuf),
    /// A component is missing (the container path up to it).
    Missing(String),
    /// A component that should be a directory is not.
    NotDir(String),
    /// Under a mount that is not a bind mount (or unreadable): unknowable now.
    Unknown,
    /// Too many symlinks.
    Loop,
}

/// A symlink whose target climbs above the rootfs with "..".
struct Escape {
    link: String,
    target: String,
}

/// Mount destinations (normalized) and, for bind mounts, their host source.
fn mount_table(c: &Ctx) -> Vec<(String, Option<PathBuf>)> {
    c.items("/mounts")
        .filter_map(|(_, m)| {
            let d = m.get("destination")?.as_str()?;
            let src = is_bind(m)
                .then(|| m.get("source").and_then(Value::as_str))
                .flatten()
                .map(|s| c.bundle.join(s));
            Some((normalize(d), src))
        })
        .collect()
}

fn normalize(p: &str) -> String {
    let mut out = String::new();
    for part in p.split('/').filter(|s| !s.is_empty() && *s != ".") {
        out.push('/');
        out.push_str(part);
    }
    out
}

/// Resolves `path` (inside the container) component by component: symlinks
/// are followed as the kernel would after pivot_root, never out of the
/// rootfs ("/" and ".." stop at its top); a prefix that is a bind mount's
/// destination continues in the bind source.
fn resolve(
    rootfs: &Path,
    mounts: &[(String, Option<PathBuf>)],
    path: &str,
) -> (Resolved, Option<Escape>) {
    let mut todo: VecDeque<String> = path
        .split('/')
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    let mut cur: Vec<String> = Vec::new();
    let mut links = 0;
    let mut escape = None;
    let mut last_link: Option<(String, String)> = None;
    while let Some(comp) = todo.pop_front() {
        match comp.as_str() {
            "." => continue,
            ".." => {
                if cur.pop().is_none()
                    && let Some((link, target)) = &last_link
                {
                    escape.get_or_insert(Escape {
                        link: link.clone(),
                        target: target.clone(),
                    });
                }
                continue;
            }
            _ => {}
        }
        cur.push(comp);
        let cpath = format!("/{}", cur.join("/"));
        if let Some((_, src)) = mounts.iter().rev().find(|(d, _)| *d == cpath) {
            return match src {
                Some(src) => {
                    let rest: Vec<String> = todo.into_iter().collect();
                    (Resolved::Host(src.join(rest.join("/"))), escape)
                }
                None => (Resolved::Unknown, escape),
            };
        }
        let host = rootfs.join(&cpath[1..]);
        match std::fs::symlink_metadata(&host) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Resolved::Missing(cpath), escape);
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                return (Resolved::NotDir(cpath), escape);
            }
            Err(_) => return (Resolved::Unknown, escape),
            Ok(m) if m.file_type().is_symlink() => {
                links += 1;
                if links > 40 {
                    return (Resolved::Loop, escape);
                }
                let Ok(target) = std::fs::read_link(&host) else {
                    return (Resolved::Unknown, escape);
                };
                let target = target.to_string_lossy().into_owned();
                cur.pop();
                if target.starts_with('/') {
                    cur.clear();
                }
                for part in target.split('/').filter(|s| !s.is_empty()).rev() {
                    todo.push_front(part.to_string());
                }
                last_link = Some((cpath, target));
            }
            Ok(m) if !m.is_dir() && !todo.is_empty() => {
                return (Resolved::NotDir(cpath), escape);
            }
            Ok(_) => {}
        }
    }
    (Resolved::Host(rootfs.join(cur.join("/"))), escape)
}

// ---------------------------------------------------------------------------
// process.args[0]
// ---------------------------------------------------------------------------

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// Hooks that run before the process is looked up may create it.
fn early_hooks(c: &Ctx) -> bool {
    ["prestart", "createRuntime", "createContainer"]
        .iter()
        .any(|k| c.items(&format!("/hooks/{k}")).next().is_some())
}

fn program(c: &Ctx, r: &mut Report) {
    let Some(rootfs) = c.rootfs.as_deref() else {
        return;
    };
    let Some(arg0) = c.str("/process/args/0").filter(|a| !a.is_empty()) else {
        return;
    };
    let mounts = mount_table(c);
    let env_path = c
        .items("/process/env")
        .find_map(|(_, e)| e.as_str()?.strip_prefix("PATH=").map(String::from));
    let path_var = env_path.clone().unwrap_or_else(|| DEFAULT_PATH.into());
    let cwd = c.str("/process/cwd").unwrap_or("/");
    let candidates: Vec<String> = if arg0.contains('/') {
        vec![if arg0.starts_with('/') {
            arg0.to_string()
        } else {
            format!("{}/{arg0}", cwd.trim_end_matches('/'))
        }]
    } else {
        path_var
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{arg0}", d.trim_end_matches('/')))
            .collect()
    };
    // A missing program is only a warning when a hook may still create it.
    let sev = if early_hooks(c) {
        Severity::Warning
    } else {
        Severity::Error
    };
    let mut unknown = false;
    let mut refused: Option<(String, String)> = None;
    let mut found: Option<(String, PathBuf)> = None;
    let mut missing_at: Option<String> = None;
    for cand in &candidates {
        match resolve(rootfs, &mounts, cand).0 {
            Resolved::Host(p) => match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() => {
                    refused.get_or_insert((cand.clone(), "is a directory".into()));
                }
                Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                    refused.get_or_insert((
                        cand.clone(),
                        format!(
                            "is not executable (mode {:04o})",
                            m.permissions().mode() & 0o7777
                        ),
                    ));
                }
                Ok(_) => {
                    found = Some((cand.clone(), p));
                    break;
                }
                Err(_) => {}
            },
            Resolved::Unknown | Resolved::Loop => unknown = true,
            Resolved::Missing(p) | Resolved::NotDir(p) => {
                missing_at.get_or_insert(p);
            }
        }
    }
    let at = "/process/args/0";
    let Some((cand, host)) = found else {
        if unknown {
            return;
        }
        if let Some((cand, why)) = refused {
            let hint = if why.starts_with("is not executable") {
                format!("chmod +x rootfs{cand}")
            } else {
                "name the program, not its directory".into()
            };
            r.push(sev, at, format!("{arg0:?}: {cand} {why}"), Some(hint));
        } else if arg0.contains('/') {
            r.push(
                sev,
                at,
                match missing_at.filter(|m| m != &candidates[0]) {
                    Some(m) => format!("{arg0:?}: no such file in the rootfs ({m} is missing)"),
                    None => format!("{arg0:?}: no such file in the rootfs"),
                },
                Some("install the program in the rootfs, or fix the path".into()),
            );
        } else {
            r.push(
                sev,
                at,
                format!("{arg0:?}: not found in rootfs (PATH={path_var})"),
                Some(if env_path.is_none() {
                    "process.env has no PATH: the default one was searched; install the program or give its absolute path".into()
                } else {
                    "install the program in the rootfs, add its directory to PATH in process.env, or give an absolute path".into()
                }),
            );
        }
        return;
    };
    let exe = match std::fs::File::open(&host) {
        Ok(mut f) => elf::inspect(&mut f),
        Err(_) => return,
    };
    let interp = match exe {
        Ok(Exe::Elf { interp: Some(i) }) => (i, "ELF interpreter"),
        Ok(Exe::Script { interp }) if interp.is_empty() => {
            r.push(
                sev,
                at,
                format!("{arg0:?}: {cand} starts with \"#!\" but names no interpreter"),
                None,
            );
            return;
        }
        Ok(Exe::Script { interp }) => (interp, "script interpreter"),
        Ok(Exe::Elf { interp: None }) => return,
        Ok(Exe::Unknown) => {
            r.warning(
                at,
                format!("{arg0:?}: {cand} is neither an ELF program nor a #! script: exec(2) will fail with ENOEXEC unless binfmt_misc knows it"),
                None,
            );
            return;
        }
        Err(e) => {
            r.push(sev, at, format!("{arg0:?}: {cand}: {e}"), None);
            return;
        }
    };
    let (interp, what) = interp;
    let missing = match resolve(rootfs, &mounts, &interp).0 {
        Resolved::Host(p) => !p.exists(),
        Resolved::Missing(_) | Resolved::NotDir(_) => true,
        Resolved::Unknown | Resolved::Loop => false,
    };
    if missing {
        let hint = if what == "ELF interpreter" {
            "copy the dynamic loader and the libraries the program needs (see ldd) into the rootfs, or use a statically linked program"
        } else {
            "install the interpreter in the rootfs, or fix the #! line"
        };
        r.push(
            sev,
            at,
            format!("{arg0:?}: {cand} needs the {what} {interp}, which is missing from the rootfs (exec would fail with ENOENT)"),
            Some(hint.into()),
        );
    }
}

// ---------------------------------------------------------------------------
// Mounts
// ---------------------------------------------------------------------------

fn filesystems() -> Vec<String> {
    std::fs::read_to_string("/proc/filesystems")
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_whitespace().last().map(String::from))
        .collect()
}

/// True when the running kernel ships `fs` as a module it can load on demand.
fn fs_module(fs: &str) -> bool {
    let Ok(u) = nix::sys::utsname::uname() else {
        return false;
    };
    let dir = Path::new("/lib/modules").join(u.release());
    dir.join("kernel/fs").join(fs).is_dir()
        || std::fs::read_to_string(dir.join("modules.dep"))
            .is_ok_and(|t| t.contains(&format!("/fs/{fs}/")))
}

fn mounts(c: &Ctx, r: &mut Report) {
    let known = filesystems();
    let table = mount_table(c);
    for (i, m) in c.items("/mounts") {
        let path = format!("/mounts/{i}");
        let bind = is_bind(m);
        let typ = m.get("type").and_then(Value::as_str).unwrap_or("");
        if !bind && !typ.is_empty() && !known.iter().any(|k| k == typ) {
            if fs_module(typ) {
                r.warning(
                    &format!("{path}/type"),
                    format!("{typ:?} is not loaded yet (not in /proc/filesystems); the kernel loads its module on first mount"),
                    None,
                );
            } else {
                let close = (typ.len() >= 4)
                    .then(|| suggest(typ, known.iter().map(String::as_str)))
                    .flatten();
                let hint = match close {
                    Some(s) => format!("did you mean {s:?}?"),
                    None if typ == "none" => "for a bind mount add \"rbind\" to options".into(),
                    None => format!(
                        "load its kernel module (modprobe {typ}) or use a type the kernel has, e.g. \"tmpfs\""
                    ),
                };
                r.error(
                    &format!("{path}/type"),
                    format!("{typ:?}: unknown filesystem type (not in /proc/filesystems)"),
                    Some(hint),
                );
            }
        }
        let src = m.get("source").and_then(Value::as_str).unwrap_or("");
        let mut src_meta = None;
        if bind && !src.is_empty() {
            let full = c.bundle.join(src);
            match std::fs::metadata(&full) {
                Ok(meta) => src_meta = Some(meta),
                Err(e) => r.error(
                    &format!("{path}/source"),
                    format!(
                        "bind source {}: {}",
                        full.display(),
                        crate::error::io_words(&e)
                    ),
                    Some(if src.starts_with('/') {
                        "create it on the host or fix the path".to_string()
                    } else {
                        format!(
                            "relative sources are taken from the bundle directory {}",
                            c.bundle.display()
                        )
                    }),
                ),
            }
        }
        // The walks below read the rootfs: only for `hull check`.
        if c.mode != Mode::Full {
            continue;
        }
        let (Some(rootfs), Some(dest)) = (
            c.rootfs.as_deref(),
            m.get("destination").and_then(Value::as_str),
        ) else {
            continue;
        };
        if !dest.starts_with('/') {
            continue;
        }
        // Resolve against the mounts made before this one only.
        let before: Vec<_> = table[..i.min(table.len())].to_vec();
        let (res, escape) = resolve(rootfs, &before, dest);
        if let Some(e) = escape {
            r.warning(
                &format!("{path}/destination"),
                format!(
                    "{dest:?} goes through the symlink {} -> {}, which points above the rootfs; hull keeps the mount inside the rootfs (resolved as if the rootfs were /)",
                    e.link, e.target
                ),
                Some("check that the symlink is meant; a path without it is clearer".into()),
            );
        }
        match res {
            Resolved::NotDir(p) => r.error(
                &format!("{path}/destination"),
                format!("{dest:?}: {p} in the rootfs is not a directory, so the mount point cannot be made"),
                None,
            ),
            Resolved::Loop => r.error(
                &format!("{path}/destination"),
                format!("{dest:?}: too many levels of symbolic links in the rootfs"),
                None,
            ),
            Resolved::Host(p) if p.starts_with(rootfs) => {
                if let (Some(sm), Ok(dm)) = (&src_meta, std::fs::metadata(&p))
                    && sm.is_dir() != dm.is_dir()
                {
                    r.error(
                        &format!("{path}/destination"),
                        format!(
                            "{dest:?} is a {} in the rootfs but the bind source is a {}",
                            if dm.is_dir() { "directory" } else { "file" },
                            if sm.is_dir() { "directory" } else { "file" },
                        ),
                        Some("a file is bind-mounted on a file, a directory on a directory".into()),
                    );
                }
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// Namespaces
// ---------------------------------------------------------------------------

const NS_GET_USERNS: libc::c_ulong = 0xb701;
const NS_GET_PARENT: libc::c_ulong = 0xb702;
const NS_GET_NSTYPE: libc::c_ulong = 0xb703;

fn ns_name(flag: i32) -> &'static str {
    match flag {
        libc::CLONE_NEWNS => "mount",
        libc::CLONE_NEWPID => "pid",
        libc::CLONE_NEWNET => "network",
        libc::CLONE_NEWUTS => "uts",
        libc::CLONE_NEWIPC => "ipc",
        libc::CLONE_NEWUSER => "user",
        libc::CLONE_NEWCGROUP => "cgroup",
        libc::CLONE_NEWTIME => "time",
        _ => "unknown",
    }
}

fn ns_proc_name(t: &str) -> &str {
    match t {
        "mount" => "mnt",
        "network" => "net",
        t => t,
    }
}

fn namespaces(c: &Ctx, r: &mut Report) {
    use std::os::fd::AsRawFd;
    // (index, path, open file) of each namespace file of the right type.
    let mut joined: Vec<(usize, &str, std::fs::File, i32)> = Vec::new();
    for (i, n) in c.items("/linux/namespaces") {
        let (Some(t), Some(p)) = (
            n.get("type").and_then(Value::as_str),
            n.get("path").and_then(Value::as_str),
        ) else {
            continue;
        };
        let Ok(want) = oci_spec::runtime::LinuxNamespaceType::try_from(t) else {
            continue;
        };
        let at = format!("/linux/namespaces/{i}/path");
        let hint = Some(format!(
            "use a namespace file such as /proc/<pid>/ns/{}",
            ns_proc_name(t)
        ));
        if !p.starts_with('/') {
            continue; // the schema pass reported it
        }
        let f = match std::fs::File::open(p) {
            Ok(f) => f,
            Err(e) => {
                r.error(&at, format!("{p}: {}", crate::error::io_words(&e)), hint);
                continue;
            }
        };
        // SAFETY: NS_GET_NSTYPE takes no argument and only returns a value.
        let got = unsafe { libc::ioctl(f.as_raw_fd(), NS_GET_NSTYPE) };
        if got < 0 {
            r.error(&at, format!("{p} is not a namespace file"), hint);
        } else if got != want as i32 {
            r.error(
                &at,
                format!("{p} is a {} namespace, not a {t} namespace", ns_name(got)),
                hint,
            );
        } else {
            if got == libc::CLONE_NEWUSER {
                joined_user_mappings(c, r, p);
            }
            joined.push((i, p, f, got));
        }
    }
    // Stage 1 joins the user namespace first; from there it can only join
    // the namespaces that user namespace (or one inside it) owns.
    let Some((_, user_path, user, _)) = joined.iter().find(|j| j.3 == libc::CLONE_NEWUSER) else {
        return;
    };
    for (i, p, f, got) in joined.iter().filter(|j| j.3 != libc::CLONE_NEWUSER) {
        if owned_within(f, user) == Some(false) {
            r.error(
                &format!("/linux/namespaces/{i}/path"),
                format!(
                    "{p} belongs to another user namespace than the joined {user_path}: the {} namespace cannot be joined from there",
                    ns_name(*got)
                ),
                Some(
                    "join the namespaces of the container that owns the user namespace, or do not join its user namespace".into(),
                ),
            );
        }
    }
}

/// Whether the namespace `ns` is owned by the user namespace `user` or by
/// one of its descendants; None when the kernel does not say.
fn owned_within(ns: &std::fs::File, user: &std::fs::File) -> Option<bool> {
    use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
    let id = |fd: BorrowedFd| {
        nix::sys::stat::fstat(fd)
            .ok()
            .map(|st| (st.st_dev, st.st_ino))
    };
    let want = id(user.as_fd())?;
    // SAFETY: NS_GET_USERNS takes no argument and returns a new descriptor.
    let fd = unsafe { libc::ioctl(ns.as_raw_fd(), NS_GET_USERNS) };
    if fd < 0 {
        return None;
    }
    // SAFETY: the ioctl just returned this descriptor; nothing else owns it.
    let mut cur = unsafe { OwnedFd::from_raw_fd(fd) };
    // User namespaces nest at most 32 deep.
    for _ in 0..40 {
        if id(cur.as_fd())? == want {
            return Some(true);
        }
        // SAFETY: as above, for the parent user namespace.
        let parent = unsafe { libc::ioctl(cur.as_raw_fd(), NS_GET_PARENT) };
        if parent < 0 {
            // EPERM: no parent (the initial namespace) or outside ours.
            return (nix::errno::Errno::last() == nix::errno::Errno::EPERM).then_some(false);
        }
        // SAFETY: as above.
        cur = unsafe { OwnedFd::from_raw_fd(parent) };
    }
    None
}

/// A joined user namespace keeps the maps its creator wrote; hull never
/// writes /linux/uidMappings or gidMappings for it. Engines still pass them
/// (the namespace's own, or a dummy); when the path names a process
/// (/proc/PID/ns/user) and they differ from its maps, say they are ignored.
fn joined_user_mappings(c: &Ctx, r: &mut Report, path: &str) {
    let Some(pid) = path
        .strip_prefix("/proc/")
        .and_then(|rest| rest.strip_suffix("/ns/user"))
        .filter(|pid| !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()))
    else {
        return;
    };
    for (field, file) in [("uidMappings", "uid_map"), ("gidMappings", "gid_map")] {
        let ptr = format!("/linux/{field}");
        let given: Vec<[u64; 3]> = c
            .items(&ptr)
            .filter_map(|(_, m)| {
                Some([
                    m.get("containerID")?.as_u64()?,
                    m.get("hostID")?.as_u64()?,
                    m.get("size")?.as_u64()?,
                ])
            })
            .collect();
        if given.is_empty() {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/{file}")) else {
            continue;
        };
        let mut actual: Vec<[u64; 3]> = text
            .lines()
            .filter_map(|l| {
                let v: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|w| w.parse().ok())
                    .collect();
                (v.len() == 3).then(|| [v[0], v[1], v[2]])
            })
            .collect();
        let mut want = given.clone();
        actual.sort_unstable();
        want.sort_unstable();
        if actual != want {
            let shown: Vec<String> = actual
                .iter()
                .map(|m| format!("{} {} {}", m[0], m[1], m[2]))
                .collect();
            r.warning(
                &ptr,
                format!(
                    "ignored: the joined user namespace {path} keeps its own {file} ({})",
                    shown.join(", ")
                ),
                Some("remove the mappings, or give the joined namespace's".into()),
            );
        }
    }
}

// ---------------------------------------------------------------------------
// Capabilities
// ---------------------------------------------------------------------------

fn capabilities(c: &Ctx, r: &mut Report) {
    use std::str::FromStr;
    let last = crate::security::capabilities::last_cap();
    let names: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    for set in [
        "bounding",
        "permitted",
        "effective",
        "inheritable",
        "ambient",
    ] {
        for (i, v) in c.items(&format!("/process/capabilities/{set}")) {
            let Some(name) = v.as_str() else { continue };
            if !name.starts_with("CAP_") {
                continue; // the schema pass reported the pattern
            }
            let at = format!("/process/capabilities/{set}/{i}");
            match caps::Capability::from_str(name) {
                Ok(cap) if cap.index() > last => r.warning(
                    &at,
                    format!(
                        "{name} (number {}) is unknown to this kernel (cap_last_cap is {last}): it is skipped",
                        cap.index()
                    ),
                    None,
                ),
                Ok(_) => {}
                Err(_) => r.error(
                    &at,
                    format!("unknown capability {name:?}"),
                    suggest(name, names.iter().map(String::as_str))
                        .map(|s| format!("did you mean {s:?}?")),
                ),
            }
        }
    }
}

/// AppArmor and SELinux labels need their LSM on this host.
fn lsm(c: &Ctx, r: &mut Report) {
    use crate::security::lsm;
    let asked = |p: &str| {
        c.get(p)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    if asked("/process/apparmorProfile") && !lsm::apparmor_enabled() {
        r.error(
            "/process/apparmorProfile",
            lsm::APPARMOR_ABSENT,
            Some(lsm::APPARMOR_HINT.into()),
        );
    }
    if !lsm::selinux_enabled() {
        for p in ["/process/selinuxLabel", "/linux/mountLabel"] {
            if asked(p) {
                r.error(p, lsm::SELINUX_ABSENT, Some(lsm::SELINUX_HINT.into()));
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Hooks
// ---------------------------------------------------------------------------

fn hooks(c: &Ctx, r: &mut Report) {
    for kind in crate::hooks::Kind::ALL.map(crate::hooks::Kind::key) {
        // Failing poststart and poststop hooks only warn.
        let sev = if kind.starts_with("post") {
            Severity::Warning
        } else {
            Severity::Error
        };
        for (i, h) in c.items(&format!("/hooks/{kind}")) {
            let Some(p) = h.get("path").and_then(Value::as_str) else {
                continue;
            };
            if !p.starts_with('/') {
                continue;
            }
            let at = format!("/hooks/{kind}/{i}/path");
            // startContainer hooks run inside the container, after pivot_root:
            // their path is one in the rootfs. The others are host paths.
            let (host, hint) = if kind == "startContainer" {
                let Some(rootfs) = c.rootfs.as_deref() else {
                    continue;
                };
                match resolve(rootfs, &mount_table(c), p).0 {
                    Resolved::Host(h) => (
                        h,
                        "startContainer hooks run in the container: the path is inside the rootfs",
                    ),
                    Resolved::Missing(_) | Resolved::NotDir(_) => (
                        rootfs.join(p.trim_start_matches('/')),
                        "startContainer hooks run in the container: the path is inside the rootfs",
                    ),
                    Resolved::Unknown | Resolved::Loop => continue,
                }
            } else {
                (
                    PathBuf::from(p),
                    "hooks run on the host: the path is a host path",
                )
            };
            match std::fs::metadata(&host) {
                Err(e) => r.push(
                    sev,
                    &at,
                    format!("{p}: {}", crate::error::io_words(&e)),
                    Some(hint.into()),
                ),
                Ok(m) if m.is_dir() => r.push(sev, &at, format!("{p} is a directory"), None),
                Ok(m) if m.permissions().mode() & 0o111 == 0 => r.push(
                    sev,
                    &at,
                    format!(
                        "{p} is not executable (mode {:04o})",
                        m.permissions().mode() & 0o7777
                    ),
                    Some(format!("chmod +x {p}")),
                ),
                Ok(_) => {}
            }
        }
    }
}

// ---------------------------------------------------------------------------
// Cgroups
// ---------------------------------------------------------------------------

/// Which controller each part of linux.resources needs (v1 name, v2 name).
const CONTROLLERS: &[(&str, &str, &str)] = &[
    ("/memory", "memory", "memory"),
    ("/cpu/shares", "cpu", "cpu"),
    ("/cpu/quota", "cpu", "cpu"),
    ("/cpu/period", "cpu", "cpu"),
    ("/cpu/burst", "cpu", "cpu"),
    ("/cpu/idle", "cpu", "cpu"),
    ("/cpu/realtimePeriod", "cpu", "cpu"),
    ("/cpu/realtimeRuntime", "cpu", "cpu"),
    ("/cpu/cpus", "cpuset", "cpuset"),
    ("/cpu/mems", "cpuset", "cpuset"),
    ("/pids", "pids", "pids"),
    ("/blockIO", "blkio", "io"),
    ("/hugepageLimits", "hugetlb", "hugetlb"),
    ("/network/classID", "net_cls", ""),
    ("/network/priorities", "net_prio", ""),
    ("/rdma", "rdma", "rdma"),
];

fn set(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

fn cgroups(c: &Ctx, r: &mut Report) {
    let base = "/linux/resources";
    if !set(c.get(base)) {
        return;
    }
    let version = crate::cgroups::host_version();
    if version == crate::cgroups::Version::V1 {
        let hier = crate::cgroups::v1_hierarchies().unwrap_or_default();
        let dir_of = |ctrl: &str| {
            hier.iter()
                .find(|h| h.has(ctrl))
                .map(|h| h.mount_point.clone())
        };
        for (field, ctrl, _) in CONTROLLERS {
            let at = format!("{base}{field}");
            if set(c.get(&at)) && dir_of(ctrl).is_none() {
                r.error(
                    &at,
                    format!("the {ctrl} cgroup controller is not mounted on this host"),
                    Some(format!(
                        "mount it (e.g. on /sys/fs/cgroup/{ctrl}) or remove the setting"
                    )),
                );
            }
        }
        if set(c.get(&format!("{base}/unified"))) {
            r.error(
                &format!("{base}/unified"),
                "unified (cgroup v2) settings need a cgroup v2 host; this host uses cgroup v1",
                Some("express the limits with the v1 fields (memory, cpu, pids, ...)".into()),
            );
        }
        if let Some(dir) = dir_of("blkio") {
            let weight = ["blkio.weight", "blkio.bfq.weight"]
                .iter()
                .any(|f| dir.join(f).exists());
            for f in ["weight", "leafWeight", "weightDevice"] {
                let at = format!("{base}/blockIO/{f}");
                if set(c.get(&at)) && !weight {
                    r.error(
                        &at,
                        format!("this host's blkio controller has no weight file ({}/blkio.weight or blkio.bfq.weight): no proportional I/O scheduler (CFQ/BFQ) is in use", dir.display()),
                        Some("remove the weight, or switch the disk's I/O scheduler to bfq".into()),
                    );
                }
            }
        }
        if let Some(dir) = dir_of("memory") {
            let at = format!("{base}/memory/swap");
            if set(c.get(&at)) && !dir.join("memory.memsw.limit_in_bytes").exists() {
                r.error(
                    &at,
                    "this host has no swap accounting (memory.memsw.limit_in_bytes is missing)",
                    Some("boot with swapaccount=1, or remove memory.swap".into()),
                );
            }
        }
        if let Some(dir) = dir_of("cpu") {
            for (f, file) in [
                ("realtimeRuntime", "cpu.rt_runtime_us"),
                ("realtimePeriod", "cpu.rt_period_us"),
                ("burst", "cpu.cfs_burst_us"),
            ] {
                let at = format!("{base}/cpu/{f}");
                if set(c.get(&at)) && !dir.join(file).exists() {
                    r.error(
                        &at,
                        format!("this kernel's cpu controller has no {file}"),
                        None,
                    );
                }
            }
        }
        if let Some(dir) = dir_of("hugetlb") {
            hugepages(c, r, &dir, "limit_in_bytes");
        }
    } else {
        let have = std::fs::read_to_string(
            Path::new(crate::cgroups::CGROUP_ROOT).join("cgroup.controllers"),
        )
        .unwrap_or_default();
        let have: Vec<&str> = have.split_whitespace().collect();
        for (field, _, ctrl) in CONTROLLERS {
            let at = format!("{base}{field}");
            if !set(c.get(&at)) {
                continue;
            }
            if ctrl.is_empty() {
                r.error(
                    &at,
                    "net_cls and net_prio do not exist on cgroup v2",
                    Some("use network policy outside the runtime, or remove the setting".into()),
                );
            } else if !have.contains(ctrl) {
                r.error(
                    &at,
                    format!(
                        "the {ctrl} controller is not available in {}/cgroup.controllers",
                        crate::cgroups::CGROUP_ROOT
                    ),
                    None,
                );
            }
        }
        hugepages(c, r, Path::new(crate::cgroups::CGROUP_ROOT), "max");
    }
}

fn hugepages(c: &Ctx, r: &mut Report, dir: &Path, suffix: &str) {
    let probe = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("hugetlb.") && n.ends_with(suffix))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if probe.is_empty() {
        return; // cannot tell
    }
    for (i, h) in c.items("/linux/resources/hugepageLimits") {
        let Some(size) = h.get("pageSize").and_then(Value::as_str) else {
            continue;
        };
        let file = format!("hugetlb.{size}.{suffix}");
        if !probe.contains(&file) {
            let sizes: Vec<&str> = probe
                .iter()
                .filter_map(|p| p.strip_prefix("hugetlb.")?.split('.').next())
                .collect();
            r.error(
                &format!("/linux/resources/hugepageLimits/{i}/pageSize"),
                format!("this host has no {size} huge pages ({file} is missing)"),
                Some(format!("sizes here: {}", sizes.join(", "))),
            );
        }
    }
}
