//! Rules between fields of config.json that the schema cannot express.
//! Nothing here touches the host.

use super::schema::seg;
use super::{Ctx, Report, suggest};
use serde_json::Value;

pub fn check(c: &Ctx, r: &mut Report) {
    version(c, r);
    process(c, r);
    mounts(c, r);
    namespaces(c, r);
    id_mappings(c, r);
    sysctls(c, r);
    seccomp(c, r);
    devices(c, r);
    linux_misc(c, r);
    hooks(c, r);
}

fn version(c: &Ctx, r: &mut Report) {
    let Some(v) = c.str("/ociVersion") else {
        return;
    };
    let mut parts = v.split(['.', '-', '+']);
    let major = parts.next().and_then(|m| m.parse::<u64>().ok());
    let minor = parts.next().and_then(|m| m.parse::<u64>().ok());
    match major {
        Some(1) => {
            let ours: u64 = crate::spec::OCI_VERSION
                .split('.')
                .nth(1)
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if minor.is_some_and(|m| m > ours) {
                r.warning(
                    "/ociVersion",
                    format!(
                        "{v:?} is newer than the runtime spec hull implements ({})",
                        crate::spec::OCI_VERSION
                    ),
                    Some("fields added after that version are ignored".into()),
                );
            }
        }
        Some(_) => r.error(
            "/ociVersion",
            format!("unsupported version {v:?}: hull implements runtime spec 1.x"),
            Some(format!(
                "set \"ociVersion\": {:?}",
                crate::spec::OCI_VERSION
            )),
        ),
        None => {} // the schema pass reported the pattern
    }
}

/// Namespace types listed, and whether each is new (no path).
fn namespace_list(c: &Ctx) -> Vec<(String, bool)> {
    c.items("/linux/namespaces")
        .filter_map(|(_, n)| {
            let t = n.get("type")?.as_str()?.to_string();
            Some((t, n.get("path").is_none_or(Value::is_null)))
        })
        .collect()
}

fn has_ns(c: &Ctx, t: &str) -> bool {
    namespace_list(c).iter().any(|(n, _)| n == t)
}

fn has_new_ns(c: &Ctx, t: &str) -> bool {
    namespace_list(c).iter().any(|(n, new)| n == t && *new)
}

fn process(c: &Ctx, r: &mut Report) {
    let Some(p) = c.get("/process") else {
        r.error(
            "/process",
            "missing: `create` needs a process to run",
            Some("add \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"}".into()),
        );
        return;
    };
    if !p.is_object() {
        return;
    }
    let args = p.get("args").and_then(Value::as_array);
    if args.is_some_and(|a| a.first().and_then(Value::as_str) == Some("")) {
        r.error("/process/args/0", "the program name is empty", None);
    }
    if args.is_none_or(|a| a.is_empty()) && p.get("args").is_none_or(Value::is_array) {
        r.error(
            "/process/args",
            "must hold at least one entry (the program to run)",
            Some("e.g. \"args\": [\"sh\"]".into()),
        );
    }
    if let Some(cwd) = c.str("/process/cwd")
        && !cwd.starts_with('/')
    {
        r.error(
            "/process/cwd",
            format!("{cwd:?} is not an absolute path"),
            Some(format!(
                "use {:?}",
                format!("/{}", cwd.trim_start_matches("./"))
            )),
        );
    }
    for (i, e) in c.items("/process/env") {
        if let Some(s) = e.as_str()
            && !s.contains('=')
        {
            r.warning(
                &format!("/process/env/{i}"),
                format!("{s:?} is not KEY=VALUE"),
                Some(format!("use \"{s}=\" for an empty value")),
            );
        }
    }
    let terminal = c.get("/process/terminal").and_then(Value::as_bool) == Some(true);
    if terminal {
        r.warning(
            "/process/terminal",
            "a terminal is requested: `hull create` will need --console-socket (`hull run` provides its own terminal)",
            Some("set \"terminal\": false to use the caller's stdio".into()),
        );
    } else if c.get("/process/consoleSize").is_some_and(|v| !v.is_null()) {
        r.warning(
            "/process/consoleSize",
            "ignored: process.terminal is not true",
            None,
        );
    }
    // rlimits: known names, soft <= hard, no duplicates.
    let mut seen: Vec<&str> = Vec::new();
    for (i, rl) in c.items("/process/rlimits") {
        let Some(t) = rl.get("type").and_then(Value::as_str) else {
            continue;
        };
        let path = format!("/process/rlimits/{i}");
        if t.starts_with("RLIMIT_") && !RLIMITS.contains(&t) {
            let hint = suggest(t, RLIMITS.iter().copied())
                .map(|s| format!("did you mean {s:?}?"))
                .or_else(|| Some(format!("one of: {}", RLIMITS.join(", "))));
            r.error(
                &format!("{path}/type"),
                format!("unknown rlimit {t:?}"),
                hint,
            );
        }
        if seen.contains(&t) {
            r.error(
                &format!("{path}/type"),
                format!("{t} is listed twice"),
                Some("keep one entry per rlimit type".into()),
            );
        }
        seen.push(t);
        let soft = rl.get("soft").and_then(Value::as_u64);
        let hard = rl.get("hard").and_then(Value::as_u64);
        if let (Some(s), Some(h)) = (soft, hard)
            && s > h
        {
            r.error(
                &format!("{path}/soft"),
                format!(
                    "soft limit {s} is above the hard limit {h}: setrlimit(2) refuses it (EINVAL)"
                ),
                Some(format!("lower soft to at most {h} or raise hard")),
            );
        }
    }
    // Capabilities: ambient ones must also be permitted and inheritable.
    let set = |name: &str| -> Vec<&str> {
        c.items(&format!("/process/capabilities/{name}"))
            .filter_map(|(_, v)| v.as_str())
            .collect()
    };
    let (permitted, inheritable) = (set("permitted"), set("inheritable"));
    // Without any inheritable capability, ambient is plainly unused (runc's
    // default config lists it that way): only a partial set-up is worth a word.
    let ambient_meant = !inheritable.is_empty();
    for (i, cap) in c.items("/process/capabilities/ambient") {
        let Some(cap) = cap.as_str() else { continue };
        if ambient_meant && (!permitted.contains(&cap) || !inheritable.contains(&cap)) {
            r.warning(
                &format!("/process/capabilities/ambient/{i}"),
                format!("{cap} is not in both the permitted and inheritable sets: the kernel will not raise it"),
                Some("add it to permitted and inheritable, or drop it from ambient".into()),
            );
        }
    }
    if let Some(adj) = c.get("/process/oomScoreAdj").and_then(Value::as_i64)
        && !(-1000..=1000).contains(&adj)
    {
        r.error(
            "/process/oomScoreAdj",
            format!("{adj} is outside -1000..1000"),
            None,
        );
    }
    if let Some(umask) = c.get("/process/user/umask").and_then(Value::as_u64)
        && umask > 0o777
    {
        r.error(
            "/process/user/umask",
            format!("{umask} (octal {umask:o}) is not a umask (0..=0o777, i.e. 0..=511 in JSON)"),
            Some("JSON has no octal: 0o022 is written 18".into()),
        );
    }
}

pub const RLIMITS: &[&str] = &[
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
];

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

pub fn is_bind(m: &Value) -> bool {
    m.get("type").and_then(Value::as_str) == Some("bind")
        || m.get("options").and_then(Value::as_array).is_some_and(|o| {
            o.iter()
                .any(|x| matches!(x.as_str(), Some("bind" | "rbind")))
        })
}

fn mounts(c: &Ctx, r: &mut Report) {
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

fn namespaces(c: &Ctx, r: &mut Report) {
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
    if c.get("/linux").is_some() && !has_ns(c, "mount") {
        r.error(
            "/linux/namespaces",
            "a mount namespace is required to set up the root filesystem",
            Some("add {\"type\": \"mount\"}".into()),
        );
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
fn id_mappings(c: &Ctx, r: &mut Report) {
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
fn mapping_list(c: &Ctx, ptr: &str) -> Vec<(usize, u64, u64, u64)> {
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
fn check_ranges(ptr: &str, maps: &[(usize, u64, u64, u64)], r: &mut Report) {
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

fn sysctls(c: &Ctx, r: &mut Report) {
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
        if let Some(problem) = crate::spec::sysctl_problem(k, &has) {
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

fn seccomp(c: &Ctx, r: &mut Report) {
    let Some(s) = c.get("/linux/seccomp").filter(|v| v.is_object()) else {
        return;
    };
    if crate::security::seccomp_features()["enabled"] != Value::Bool(true) {
        r.warning(
            "/linux/seccomp",
            "this build of hull does not apply seccomp filters yet: the container will run unfiltered",
            None,
        );
    }
    let known = syscall_names();
    let errno_actions = ["SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"];
    if s.get("defaultErrnoRet").is_some()
        && !s
            .get("defaultAction")
            .and_then(Value::as_str)
            .is_some_and(|a| errno_actions.contains(&a))
    {
        r.warning(
            "/linux/seccomp/defaultErrnoRet",
            "ignored: defaultAction is neither SCMP_ACT_ERRNO nor SCMP_ACT_TRACE",
            None,
        );
    }
    let notify = |a: Option<&str>| a == Some("SCMP_ACT_NOTIFY");
    let mut uses_notify = notify(s.get("defaultAction").and_then(Value::as_str));
    for (i, sc) in c.items("/linux/seccomp/syscalls") {
        let path = format!("/linux/seccomp/syscalls/{i}");
        let action = sc.get("action").and_then(Value::as_str);
        uses_notify |= notify(action);
        if let Some(names) = sc.get("names").and_then(Value::as_array) {
            if names.is_empty() {
                r.error(
                    &format!("{path}/names"),
                    "must hold at least one system call name",
                    None,
                );
            }
            for (j, n) in names.iter().enumerate() {
                let Some(n) = n.as_str() else { continue };
                if let Some(known) = &known
                    && !known.contains(&n)
                {
                    let hint = suggest(n, known.iter().copied())
                        .map(|s| format!("did you mean {s:?}?"))
                        .unwrap_or_else(|| {
                            "unknown names are skipped, as other runtimes do".into()
                        });
                    r.warning(
                        &format!("{path}/names/{j}"),
                        format!("{n:?} is not a system call of this architecture"),
                        Some(hint),
                    );
                }
            }
        }
        if sc.get("errnoRet").is_some() && !action.is_some_and(|a| errno_actions.contains(&a)) {
            r.warning(
                &format!("{path}/errnoRet"),
                "ignored: the action is neither SCMP_ACT_ERRNO nor SCMP_ACT_TRACE",
                None,
            );
        }
        for (j, a) in sc
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(idx) = a.get("index").and_then(Value::as_u64)
                && idx > 5
            {
                r.error(
                    &format!("{path}/args/{j}/index"),
                    format!("{idx}: system calls have arguments 0 to 5"),
                    None,
                );
            }
            if a.get("op").and_then(Value::as_str) == Some("SCMP_CMP_MASKED_EQ")
                && a.get("valueTwo").is_none()
            {
                r.warning(
                    &format!("{path}/args/{j}/valueTwo"),
                    "SCMP_CMP_MASKED_EQ compares (arg & value) with valueTwo, which is missing (0)",
                    None,
                );
            }
        }
    }
    if uses_notify && s.get("listenerPath").and_then(Value::as_str).is_none() {
        r.error(
            "/linux/seccomp/listenerPath",
            "SCMP_ACT_NOTIFY needs listenerPath (a unix socket for the seccomp agent)",
            None,
        );
    }
}

/// System call names of the host architecture: the table seccomp
/// compiles against, so `check` and `create` agree on what is known.
fn syscall_names() -> Option<Vec<&'static str>> {
    cfg!(target_arch = "x86_64").then(crate::security::seccomp::native_syscall_names)
}

fn devices(c: &Ctx, r: &mut Report) {
    let mut paths: Vec<&str> = Vec::new();
    for (i, d) in c.items("/linux/devices") {
        let path = format!("/linux/devices/{i}");
        let t = d.get("type").and_then(Value::as_str).unwrap_or("");
        if let Some(p) = d.get("path").and_then(Value::as_str) {
            if p.starts_with('/') && !p.starts_with("/dev/") {
                r.error(
                    &format!("{path}/path"),
                    format!("{p:?} is not under /dev"),
                    Some(format!(
                        "use e.g. \"/dev/{}\"",
                        p.rsplit('/').next().unwrap_or(p)
                    )),
                );
            }
            if p.split('/').any(|s| s == "..") {
                r.error(
                    &format!("{path}/path"),
                    format!("{p:?} must not contain \"..\""),
                    None,
                );
            }
            if paths.contains(&p) {
                r.error(
                    &format!("{path}/path"),
                    format!("{p:?} is listed twice"),
                    None,
                );
            }
            paths.push(p);
        }
        if matches!(t, "c" | "b" | "u") {
            for f in ["major", "minor"] {
                match d.get(f).and_then(Value::as_i64) {
                    None if d.get(f).is_none() => r.error(
                        &format!("{path}/{f}"),
                        format!("missing: a {} device needs its {f} number", dev_kind(t)),
                        None,
                    ),
                    Some(n) if n < 0 => {
                        r.error(&format!("{path}/{f}"), format!("{n} is negative"), None)
                    }
                    _ => {}
                }
            }
        }
        if let Some(m) = d.get("fileMode").and_then(Value::as_u64)
            && m > 0o7777
        {
            r.warning(
                &format!("{path}/fileMode"),
                format!("{m} (octal {m:o}) holds more than permission bits; only 0o7777 is used"),
                Some("JSON has no octal: 0o666 is written 438".into()),
            );
        }
    }
    for (i, d) in c.items("/linux/resources/devices") {
        if d.get("allow").and_then(Value::as_bool) == Some(true)
            && d.get("type").is_none()
            && d.get("access").is_none()
        {
            r.warning(
                &format!("/linux/resources/devices/{i}"),
                "allows every device (no type, no access given)",
                None,
            );
        }
    }
}

fn dev_kind(t: &str) -> &'static str {
    match t {
        "b" => "block",
        _ => "character",
    }
}

fn linux_misc(c: &Ctx, r: &mut Report) {
    if let Some(p) = c.str("/linux/rootfsPropagation")
        && !p.is_empty()
        && crate::rootfs::propagation_flags(p).is_none()
    {
        r.error(
            "/linux/rootfsPropagation",
            format!("unknown propagation {p:?}"),
            Some("one of: private, rprivate, slave, rslave, shared, rshared, unbindable, runbindable".into()),
        );
    }
    if let Some(p) = c.str("/linux/cgroupsPath") {
        if p.contains(':') && !p.starts_with('/') {
            r.error(
                "/linux/cgroupsPath",
                format!("{p:?}: the slice:prefix:name form needs --systemd-cgroup, which hull does not support yet"),
                Some("use a cgroupfs path such as \"/mygroup/ctr\"".into()),
            );
        }
        if p.split('/').any(|s| s == "..") {
            r.error(
                "/linux/cgroupsPath",
                format!("{p:?}: \"..\" is not allowed"),
                None,
            );
        }
    }
    if let Some(w) = c
        .get("/linux/resources/blockIO/weight")
        .and_then(Value::as_u64)
        && !(10..=1000).contains(&w)
    {
        r.error(
            "/linux/resources/blockIO/weight",
            format!("{w} is outside 10..1000"),
            None,
        );
    }
    let limit = c
        .get("/linux/resources/memory/limit")
        .and_then(Value::as_i64);
    let swap = c
        .get("/linux/resources/memory/swap")
        .and_then(Value::as_i64);
    if let (Some(l), Some(s)) = (limit, swap)
        && l > 0
        && s > 0
        && s < l
    {
        r.error(
            "/linux/resources/memory/swap",
            format!("{s} is below memory.limit {l}: swap is memory plus swap, so it must be at least the limit"),
            Some(format!("set swap to {l} for no swap, or -1 for unlimited")),
        );
    }
    if c.get("/linux/resources/memory/kernel").is_some() {
        r.warning(
            "/linux/resources/memory/kernel",
            "deprecated: kernel memory limits are ignored by current kernels",
            None,
        );
    }
    if let Some(q) = c.get("/linux/resources/cpu/quota").and_then(Value::as_i64)
        && q > 0
        && q < 1000
    {
        r.error(
            "/linux/resources/cpu/quota",
            format!("{q} is below the kernel's minimum of 1000 microseconds"),
            None,
        );
    }
    if let Some(p) = c.get("/linux/resources/cpu/period").and_then(Value::as_u64)
        && p != 0
        && !(1000..=1_000_000).contains(&p)
    {
        r.error(
            "/linux/resources/cpu/period",
            format!("{p} is outside 1000..1000000 microseconds"),
            None,
        );
    }
}

fn hooks(c: &Ctx, r: &mut Report) {
    for &kind in crate::features::HOOKS {
        for (i, h) in c.items(&format!("/hooks/{kind}")) {
            if let Some(t) = h.get("timeout").and_then(Value::as_i64)
                && t < 1
            {
                r.error(
                    &format!("/hooks/{kind}/{i}/timeout"),
                    format!("{t}: a timeout must be at least 1 second"),
                    Some("remove it for no timeout".into()),
                );
            }
        }
    }
}
