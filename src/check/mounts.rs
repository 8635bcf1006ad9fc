//! `mounts` and `linux.rootfsPropagation`: destinations, options, bind
//! sources, filesystem types, idmapped mounts; and resolving paths inside
//! the rootfs through the mounts that will cover them (which the process
//! and hooks checks use too).

use super::namespaces::{check_ranges, has_ns, mapping_list};
use super::{Ctx, Mode, Report, suggest};
use serde_json::Value;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};

/// Mount options hull turns into flags or handles itself (rootfs/options.rs).
pub const MOUNT_FLAGS: &[&str] = &[
    "defaults",
    "ro",
    "rw",
    "suid",
    "nosuid",
    "dev",
    "nodev",
    "exec",
    "noexec",
    "sync",
    "async",
    "dirsync",
    "remount",
    "mand",
    "nomand",
    "atime",
    "noatime",
    "diratime",
    "nodiratime",
    "relatime",
    "norelatime",
    "strictatime",
    "nostrictatime",
    "lazytime",
    "nolazytime",
    "iversion",
    "noiversion",
    "silent",
    "loud",
    "nosymfollow",
    "symfollow",
    "bind",
    "rbind",
    "private",
    "rprivate",
    "shared",
    "rshared",
    "slave",
    "rslave",
    "unbindable",
    "runbindable",
    "rro",
    "rrw",
    "rnosuid",
    "rsuid",
    "rnodev",
    "rdev",
    "rnoexec",
    "rexec",
    "rnodiratime",
    "rdiratime",
    "rrelatime",
    "rnorelatime",
    "ratime",
    "rnoatime",
    "rstrictatime",
    "rnosymfollow",
    "rsymfollow",
    "idmap",
    "ridmap",
    "tmpcopyup",
];

/// Filesystem options without "=" that filesystems commonly take.
const FS_WORDS: &[&str] = &[
    "newinstance",
    "nouser_xattr",
    "user_xattr",
    "acl",
    "noacl",
    "hidepid",
    "nsdelegate",
    "memory_recursiveprot",
    "noprefix",
    "xattr",
    "none",
];

pub(super) fn is_bind(m: &Value) -> bool {
    m.get("type").and_then(Value::as_str) == Some("bind")
        || m.get("options").and_then(Value::as_array).is_some_and(|o| {
            o.iter()
                .any(|x| matches!(x.as_str(), Some("bind" | "rbind")))
        })
}

pub(super) fn mounts(c: &Ctx, r: &mut Report) {
    let mut dests: Vec<(usize, String)> = Vec::new();
    for (i, m) in c.items("/mounts") {
        let path = format!("/mounts/{i}");
        if let Some(d) = m.get("destination").and_then(Value::as_str) {
            if d.is_empty() {
                r.error(&format!("{path}/destination"), "must not be empty", None);
            } else if !d.starts_with('/') {
                r.error(
                    &format!("{path}/destination"),
                    format!("{d:?} is not an absolute path"),
                    Some(format!(
                        "use {:?}",
                        format!("/{}", d.trim_start_matches("./"))
                    )),
                );
            }
            if d.split('/').any(|p| p == "..") {
                r.error(
                    &format!("{path}/destination"),
                    format!("{d:?} must not contain \"..\""),
                    Some("write the path inside the container without \"..\"".into()),
                );
            }
            let norm: String = d
                .split('/')
                .filter(|p| !p.is_empty() && *p != ".")
                .fold(String::new(), |a, p| a + "/" + p);
            if let Some((j, _)) = dests.iter().find(|(_, n)| *n == norm)
                && !norm.is_empty()
            {
                r.warning(
                    &format!("{path}/destination"),
                    format!("{d:?} is also the destination of /mounts/{j}: this mount hides it"),
                    None,
                );
            }
            dests.push((i, norm));
        }
        let bind = is_bind(m);
        let typ = m.get("type").and_then(Value::as_str).unwrap_or("");
        if !bind && typ.is_empty() && m.is_object() {
            r.error(
                &format!("{path}/type"),
                "missing: a mount that is not a bind mount needs a filesystem type",
                Some(
                    "set \"type\" (e.g. \"tmpfs\"), or add \"rbind\" to options for a bind mount"
                        .into(),
                ),
            );
        }
        if bind
            && m.get("source")
                .and_then(Value::as_str)
                .is_none_or(str::is_empty)
        {
            r.error(
                &format!("{path}/source"),
                "missing: a bind mount needs a source",
                None,
            );
        }
        for (j, o) in m
            .get("options")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let Some(o) = o.as_str() else { continue };
            if MOUNT_FLAGS.contains(&o) || o.contains('=') || FS_WORDS.contains(&o) {
                continue;
            }
            let hint = suggest(o, MOUNT_FLAGS.iter().copied())
                .map(|s| format!("did you mean {s:?}?"))
                .unwrap_or_else(|| "it is passed to the filesystem, which may refuse it".into());
            r.warning(
                &format!("{path}/options/{j}"),
                format!("{o:?} is not a mount flag hull knows"),
                Some(hint),
            );
        }
        idmapped_mount(c, r, i, m, bind);
        if bind
            && let Some(o) = m.get("options").and_then(Value::as_array)
            && o.iter()
                .filter_map(Value::as_str)
                .any(|x| x.contains('=') && !x.starts_with("context="))
        {
            r.warning(
                &format!("{path}/options"),
                "filesystem data (key=value) is ignored on a bind mount",
                None,
            );
        }
    }
}

/// The idmapped-mount rules of one mount (config.md: `uidMappings`,
/// `gidMappings`, the "idmap" and "ridmap" options).
fn idmapped_mount(c: &Ctx, r: &mut Report, i: usize, m: &Value, bind: bool) {
    let path = format!("/mounts/{i}");
    let listed = |f: &str| {
        m.get(f)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty())
    };
    let (uid, gid) = (listed("uidMappings"), listed("gidMappings"));
    let opt = m
        .get("options")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .position(|o| matches!(o.as_str(), Some("idmap" | "ridmap")));
    if !uid && !gid && opt.is_none() {
        return;
    }
    if !bind {
        let at = if uid {
            format!("{path}/uidMappings")
        } else if gid {
            format!("{path}/gidMappings")
        } else {
            format!("{path}/options/{}", opt.unwrap_or(0))
        };
        r.error(
            &at,
            "idmapped mounts are only supported for bind mounts",
            Some("add \"bind\" or \"rbind\" to options, or remove the idmapping".into()),
        );
        return;
    }
    if uid != gid {
        let (missing, other) = if uid {
            ("gidMappings", "uidMappings")
        } else {
            ("uidMappings", "gidMappings")
        };
        r.error(
            &format!("{path}/{missing}"),
            format!("missing or empty: an idmapped mount needs both uidMappings and gidMappings, and {other} is given"),
            None,
        );
    }
    if !uid && !gid && !has_ns(c, "user") {
        r.error(
            &format!("{path}/options/{}", opt.unwrap_or(0)),
            "\"idmap\"/\"ridmap\" without uidMappings and gidMappings needs a container user namespace, whose mapping it would use",
            Some("give the mount its own uidMappings and gidMappings".into()),
        );
    }
    if (uid || gid) && opt.is_none() {
        r.warning(
            &format!("{path}/options"),
            "the mount has id mappings but neither \"idmap\" nor \"ridmap\": hull applies them (not recursively), older runtimes would ignore them",
            Some("add \"idmap\" (or \"ridmap\" to map the submounts of an rbind too)".into()),
        );
    }
    for f in ["uidMappings", "gidMappings"] {
        let ptr = format!("{path}/{f}");
        check_ranges(&ptr, &mapping_list(c, &ptr), r);
    }
}

/// Where a path inside the container leads, as far as the host can tell
/// before any mount is made.
#[derive(Debug)]
pub(super) enum Resolved {
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
pub(super) struct Escape {
    link: String,
    target: String,
}

/// Mount destinations (normalized) and, for bind mounts, their host source.
pub(super) fn mount_table(c: &Ctx) -> Vec<(String, Option<PathBuf>)> {
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
pub(super) fn resolve(
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

pub(super) fn host_mounts(c: &Ctx, r: &mut Report) {
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

/// `linux.rootfsPropagation` names a propagation.
pub(super) fn root_propagation(c: &Ctx, r: &mut Report) {
    if let Some(p) = c.str("/linux/rootfsPropagation")
        && !p.is_empty()
        && crate::mount_options::propagation_flags(p).is_none()
    {
        r.error(
            "/linux/rootfsPropagation",
            format!("unknown propagation {p:?}"),
            Some("one of: private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable".into()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::errors_of;
    use super::*;
    use serde_json::json;

    fn dest(d: &str) -> Vec<String> {
        errors_of(
            json!({ "mounts": [{ "destination": d, "type": "tmpfs", "source": "tmpfs" }] }),
            mounts,
        )
    }

    #[test]
    fn destinations_are_absolute_and_stay_inside() {
        assert_eq!(dest("/tmp"), Vec::<String>::new());
        assert_eq!(dest(""), ["/mounts/0/destination"]);
        assert_eq!(dest("tmp"), ["/mounts/0/destination"]);
        assert_eq!(dest("/a/../../etc"), ["/mounts/0/destination"]);
    }

    #[test]
    fn bind_is_a_type_or_an_option() {
        assert!(is_bind(&json!({ "type": "bind" })));
        assert!(is_bind(
            &json!({ "type": "none", "options": ["rbind", "ro"] })
        ));
        assert!(!is_bind(&json!({ "type": "tmpfs", "options": ["ro"] })));
    }

    #[test]
    fn root_propagation_is_a_known_name() {
        let p = |s: &str| {
            errors_of(
                json!({ "linux": { "rootfsPropagation": s } }),
                root_propagation,
            )
        };
        assert_eq!(p("rslave"), Vec::<String>::new());
        assert_eq!(p(""), Vec::<String>::new());
        assert_eq!(p("slavish"), ["/linux/rootfsPropagation"]);
    }
}
