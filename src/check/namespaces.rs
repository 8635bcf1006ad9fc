//! `linux.namespaces`, the id mappings, `linux.timeOffsets`,
//! `linux.netDevices` and the namespaced `linux.sysctl`: what each needs of
//! the others, and the namespace files a config joins by path.

use super::schema::seg;
use super::{Ctx, Report};
use oci_spec::runtime::LinuxNamespaceType;
use serde_json::Value;

/// Namespace types listed, and whether each is new (no path).
pub(super) fn namespace_list(c: &Ctx) -> Vec<(String, bool)> {
    c.items("/linux/namespaces")
        .filter_map(|(_, n)| {
            let t = n.get("type")?.as_str()?.to_string();
            Some((t, n.get("path").is_none_or(Value::is_null)))
        })
        .collect()
}

pub(super) fn has_ns(c: &Ctx, t: &str) -> bool {
    namespace_list(c).iter().any(|(n, _)| n == t)
}

pub(super) fn has_new_ns(c: &Ctx, t: &str) -> bool {
    namespace_list(c).iter().any(|(n, new)| n == t && *new)
}

pub(super) fn namespaces(c: &Ctx, r: &mut Report) {
    let mut seen: Vec<&str> = Vec::new();
    for (i, n) in c.items("/linux/namespaces") {
        let Some(t) = n.get("type").and_then(Value::as_str) else {
            continue;
        };
        if seen.contains(&t) {
            r.error(
                &format!("/linux/namespaces/{i}/type"),
                format!("namespace {t:?} listed twice"),
                Some("keep one entry per namespace type".into()),
            );
        }
        seen.push(t);
    }
    // Without a mount namespace the container shares the runtime's and is
    // only chrooted into its rootfs: nothing is mounted or remounted there.
    if !has_ns(c, "mount") {
        for (field, what) in [
            ("/linux/maskedPaths", "masking paths"),
            ("/linux/readonlyPaths", "read-only paths"),
            (
                "/linux/sysctl",
                "sysctls (written through the container's /proc)",
            ),
        ] {
            if c.get(field).is_some_and(nonempty) {
                r.error(
                    field,
                    format!("{what} need a mount namespace of the container's own"),
                    Some(
                        "add {\"type\": \"mount\"} to /linux/namespaces, or drop the field".into(),
                    ),
                );
            }
        }
        if c.get("/root/readonly").and_then(Value::as_bool) == Some(true) {
            r.error(
                "/root/readonly",
                "a read-only root needs a mount namespace of the container's own",
                Some("add {\"type\": \"mount\"} to /linux/namespaces, or set it to false".into()),
            );
        }
        if c.get("/mounts").is_some_and(nonempty) {
            r.warning(
                "/mounts",
                "not made: without a mount namespace the container shares the runtime's, and hull mounts nothing into it",
                Some("add {\"type\": \"mount\"} to /linux/namespaces to have them".into()),
            );
        }
    }
    for field in ["hostname", "domainname"] {
        if c.str(&format!("/{field}")).is_some_and(|h| !h.is_empty()) && !has_ns(c, "uts") {
            r.error(
                &format!("/{field}"),
                format!("setting the {field} needs a uts namespace"),
                Some("add {\"type\": \"uts\"} to /linux/namespaces".into()),
            );
        }
    }
    if let Some(h) = c.str("/hostname")
        && h.len() > 64
    {
        r.error(
            "/hostname",
            format!("{h:?} is longer than 64 bytes: sethostname(2) refuses it (EINVAL)"),
            None,
        );
    }
    if c.get("/linux/timeOffsets")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
        && !has_new_ns(c, "time")
    {
        r.error(
            "/linux/timeOffsets",
            "time offsets need a new time namespace",
            Some("add {\"type\": \"time\"} to /linux/namespaces".into()),
        );
    }
    if let Some(m) = c.get("/linux/timeOffsets").and_then(Value::as_object) {
        for k in m.keys() {
            if k != "monotonic" && k != "boottime" {
                r.error(
                    &format!("/linux/timeOffsets/{}", seg(k)),
                    "unknown clock: expected \"monotonic\" or \"boottime\"",
                    None,
                );
            }
        }
    }
    if c.get("/linux/netDevices")
        .and_then(Value::as_object)
        .is_some_and(|m| !m.is_empty())
        && !has_new_ns(c, "network")
    {
        r.error(
            "/linux/netDevices",
            "moving network devices needs a new network namespace",
            Some("add {\"type\": \"network\"} to /linux/namespaces".into()),
        );
    }
}

/// Ranges [start, start+size) of one id-mapping list: sizes > 0, no overlaps.
pub(super) fn id_mappings(c: &Ctx, r: &mut Report) {
    let new_user = has_new_ns(c, "user");
    for (field, id_field) in [("uidMappings", "uid"), ("gidMappings", "gid")] {
        let ptr = format!("/linux/{field}");
        let maps = mapping_list(c, &ptr);
        let listed = c
            .get(&ptr)
            .and_then(Value::as_array)
            .is_some_and(|a| !a.is_empty());
        if new_user && !listed {
            r.error(
                &ptr,
                format!("a new user namespace needs {field}"),
                Some(format!(
                    "e.g. \"{field}\": [{{\"containerID\": 0, \"hostID\": 100000, \"size\": 65536}}]"
                )),
            );
            continue;
        }
        if !new_user && listed && !has_ns(c, "user") {
            r.error(
                &ptr,
                "id mappings are only valid with a new user namespace or one joined by path",
                Some(
                    "add {\"type\": \"user\"} to /linux/namespaces, or remove the mappings".into(),
                ),
            );
            continue;
        }
        check_ranges(&ptr, &maps, r);
        // The process's own id must be mapped, or setresuid/setresgid fails in the init.
        if new_user && !maps.is_empty() {
            let id = c
                .get(&format!("/process/user/{id_field}"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            if !maps
                .iter()
                .any(|&(_, cid, _, size)| id >= cid && id < cid + size)
            {
                r.error(
                    &format!("/process/user/{id_field}"),
                    format!("{id_field} {id} is not mapped by /linux/{field}: the process could not switch to it"),
                    Some(format!("add a mapping whose containerID range covers {id}")),
                );
            }
        }
    }
}

/// The (index, containerID, hostID, size) entries of the id mapping list at `ptr`.
pub(super) fn mapping_list(c: &Ctx, ptr: &str) -> Vec<(usize, u64, u64, u64)> {
    c.items(ptr)
        .filter_map(|(i, m)| {
            Some((
                i,
                m.get("containerID")?.as_u64()?,
                m.get("hostID")?.as_u64()?,
                m.get("size")?.as_u64()?,
            ))
        })
        .collect()
}

/// One id-mapping list: sizes > 0, no overlapping ranges on either side,
/// at most 340 entries (the kernel's limit).
pub(super) fn check_ranges(ptr: &str, maps: &[(usize, u64, u64, u64)], r: &mut Report) {
    for (n, &(i, cid, hid, size)) in maps.iter().enumerate() {
        if size == 0 {
            r.error(&format!("{ptr}/{i}/size"), "must be greater than 0", None);
            continue;
        }
        for &(j, cid2, hid2, size2) in &maps[..n] {
            if size2 == 0 {
                continue;
            }
            if cid < cid2 + size2 && cid2 < cid + size {
                r.error(
                    &format!("{ptr}/{i}/containerID"),
                    format!("container ids {cid}..{} overlap {ptr}/{j}", cid + size - 1),
                    None,
                );
            }
            if hid < hid2 + size2 && hid2 < hid + size {
                r.error(
                    &format!("{ptr}/{i}/hostID"),
                    format!("host ids {hid}..{} overlap {ptr}/{j}", hid + size - 1),
                    None,
                );
            }
        }
    }
    if maps.len() > 340 {
        r.error(ptr, "the kernel accepts at most 340 mappings", None);
    }
}

pub(super) fn sysctls(c: &Ctx, r: &mut Report) {
    let Some(m) = c.get("/linux/sysctl").and_then(Value::as_object) else {
        return;
    };
    let has = |t: oci_spec::runtime::LinuxNamespaceType| {
        serde_json::to_value(t)
            .ok()
            .and_then(|v| v.as_str().map(|n| has_ns(c, n)))
            .unwrap_or(false)
    };
    for k in m.keys() {
        let path = format!("/linux/sysctl/{}", seg(k));
        if k.is_empty() || k.contains("..") || k.starts_with(['.', '/']) {
            r.error(&path, format!("{k:?} is not a sysctl name"), None);
            continue;
        }
        if let Some(problem) = sysctl_problem(k, &has) {
            let hint = if k.starts_with("net.") {
                "add {\"type\": \"network\"} to /linux/namespaces"
            } else if k.starts_with("user.") {
                "add {\"type\": \"user\"} (with uidMappings and gidMappings) to /linux/namespaces"
            } else if k.starts_with("kernel.") || k.starts_with("fs.mqueue.") {
                "only the ipc and uts namespaced kernel.* sysctls can be set"
            } else {
                "only namespaced sysctls (net.*, the ipc kernel.* ones, fs.mqueue.*, user.* with a user namespace) can be set"
            };
            r.error(&path, problem, Some(hint.into()));
        }
    }
}

/// Is this sysctl safe to set with the namespaces chosen? (Namespaced
/// sysctls only; the rest would change the host.)
fn sysctl_problem(key: &str, has_new: &dyn Fn(LinuxNamespaceType) -> bool) -> Option<String> {
    let ipc = [
        "kernel.msgmax",
        "kernel.msgmnb",
        "kernel.msgmni",
        "kernel.sem",
        "kernel.shmall",
        "kernel.shmmax",
        "kernel.shmmni",
        "kernel.shm_rmid_forced",
    ];
    if ipc.contains(&key) || key.starts_with("fs.mqueue.") {
        return (!has_new(LinuxNamespaceType::Ipc))
            .then(|| "needs a new ipc namespace".to_string());
    }
    if key.starts_with("net.") {
        return (!has_new(LinuxNamespaceType::Network))
            .then(|| "needs a new network namespace".to_string());
    }
    // user.max_* count per user namespace: the container's own ones.
    if key.starts_with("user.") {
        return (!has_new(LinuxNamespaceType::User))
            .then(|| "needs a new user namespace".to_string());
    }
    if key == "kernel.hostname" || key == "kernel.domainname" {
        return (!has_new(LinuxNamespaceType::Uts))
            .then(|| "needs a new uts namespace".to_string());
    }
    Some("not a namespaced sysctl: setting it would change the host".to_string())
}

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

pub(super) fn host_namespaces(c: &Ctx, r: &mut Report) {
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

/// An array or object with something in it.
fn nonempty(v: &Value) -> bool {
    match v {
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::super::errors_of;
    use super::*;
    use serde_json::json;

    fn ns(types: &[&str]) -> Value {
        json!(
            types
                .iter()
                .map(|t| json!({ "type": t }))
                .collect::<Vec<_>>()
        )
    }

    #[test]
    fn without_a_mount_namespace_nothing_is_masked_or_made_read_only() {
        // The container then shares the runtime's mount namespace (chroot).
        assert_eq!(errors_of(json!({}), namespaces), Vec::<String>::new());
        let cfg =
            json!({ "root": { "readonly": true }, "linux": { "maskedPaths": ["/proc/kcore"] } });
        assert_eq!(
            errors_of(cfg, namespaces),
            ["/linux/maskedPaths", "/root/readonly"]
        );
        let cfg = json!({ "linux": { "namespaces": ns(&["pid", "mount", "pid"]) } });
        assert_eq!(errors_of(cfg, namespaces), ["/linux/namespaces/2/type"]);
    }

    #[test]
    fn fields_that_need_a_namespace() {
        let cfg = json!({
            "hostname": "h",
            "linux": {
                "namespaces": ns(&["mount"]),
                "timeOffsets": { "monotonic": { "secs": 1 }, "realtime": { "secs": 1 } },
                "netDevices": { "eth1": {} }
            }
        });
        assert_eq!(
            errors_of(cfg, namespaces),
            [
                "/hostname",
                "/linux/timeOffsets",
                "/linux/timeOffsets/realtime",
                "/linux/netDevices"
            ]
        );
        let cfg = json!({
            "hostname": "h",
            "linux": {
                "namespaces": ns(&["mount", "uts", "time", "network"]),
                "timeOffsets": { "boottime": { "secs": 1 } },
                "netDevices": { "eth1": {} }
            }
        });
        assert_eq!(errors_of(cfg, namespaces), Vec::<String>::new());
    }

    #[test]
    fn id_mappings_go_with_a_user_namespace() {
        let map = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        let cfg = json!({ "linux": { "namespaces": ns(&["mount", "user"]) } });
        assert_eq!(
            errors_of(cfg, id_mappings),
            ["/linux/uidMappings", "/linux/gidMappings"]
        );
        let cfg = json!({ "linux": { "namespaces": ns(&["mount"]), "uidMappings": map } });
        assert_eq!(errors_of(cfg, id_mappings), ["/linux/uidMappings"]);
        let cfg = json!({ "linux": {
            "namespaces": ns(&["mount", "user"]),
            "uidMappings": map, "gidMappings": map,
        } });
        assert_eq!(errors_of(cfg, id_mappings), Vec::<String>::new());
        let overlapping = json!([
            { "containerID": 0, "hostID": 1000, "size": 10 },
            { "containerID": 5, "hostID": 2000, "size": 10 }
        ]);
        let cfg = json!({ "linux": {
            "namespaces": ns(&["mount", "user"]),
            "uidMappings": overlapping, "gidMappings": map,
        } });
        assert!(!errors_of(cfg, id_mappings).is_empty());
    }

    #[test]
    fn only_namespaced_sysctls() {
        let new = |t: LinuxNamespaceType| t == LinuxNamespaceType::Network;
        assert_eq!(sysctl_problem("net.ipv4.ip_forward", &new), None);
        assert!(sysctl_problem("kernel.shmmax", &new).is_some());
        assert!(sysctl_problem("vm.swappiness", &new).is_some());
        let cfg = json!({ "linux": {
            "namespaces": ns(&["mount", "ipc"]),
            "sysctl": { "kernel.shmmax": "1", "net.core.somaxconn": "1", "../x": "1" }
        } });
        // kernel.shmmax is fine with an ipc namespace; keys in map order.
        assert_eq!(
            errors_of(cfg, sysctls),
            ["/linux/sysctl/..~1x", "/linux/sysctl/net.core.somaxconn"]
        );
    }
}
