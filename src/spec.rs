//! The bundle: loading and validating config.json, and the default config
//! that `hull spec` writes.

use crate::error::{Error, Result};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use std::path::{Path, PathBuf};

pub const CONFIG: &str = "config.json";

/// The runtime spec version hull implements (state and features report it).
pub const OCI_VERSION: &str = "1.3.0";

/// A loaded bundle: its absolute directory, the parsed spec and the
/// absolute rootfs path.
pub struct Bundle {
    pub dir: PathBuf,
    pub spec: Spec,
    pub rootfs: PathBuf,
    /// config.json as read, kept in the state dir for later commands.
    pub raw: Vec<u8>,
}

impl Bundle {
    /// Reads and validates `dir/config.json`. Errors name the field by its JSON pointer.
    pub fn load(dir: &Path) -> Result<Bundle> {
        let dir = std::path::absolute(dir)
            .map_err(|e| Error::msg(format!("bundle {}: {e}", dir.display())))?;
        let dir = std::fs::canonicalize(&dir)
            .map_err(|e| Error::msg(format!("bundle {}: {e}", dir.display())))?;
        let file = dir.join(CONFIG);
        let file_name = file.display().to_string();
        let text = std::fs::read(&file).map_err(|e| Error::msg(format!("{file_name}: {e}")))?;
        let spec = parse(&file_name, &text)?;
        let root = spec.root().as_ref().ok_or_else(|| {
            Error::config(
                &file_name,
                "/root",
                "missing: a root filesystem is required",
            )
        })?;
        let rootfs = dir.join(root.path());
        match std::fs::metadata(&rootfs) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(Error::config(
                    &file_name,
                    "/root/path",
                    format!("{} is not a directory", rootfs.display()),
                ));
            }
            Err(e) => {
                return Err(Error::config(
                    &file_name,
                    "/root/path",
                    format!("rootfs {}: {e}", rootfs.display()),
                ));
            }
        }
        let rootfs = std::fs::canonicalize(&rootfs).unwrap_or(rootfs);
        validate(&file_name, &spec)?;
        Ok(Bundle {
            dir,
            spec,
            rootfs,
            raw: text,
        })
    }
}

/// Parses config.json text, turning serde errors into JSON pointers with line/column.
pub fn parse(file: &str, text: &[u8]) -> Result<Spec> {
    let mut de = serde_json::Deserializer::from_slice(text);
    match serde_path_to_error::deserialize::<_, Spec>(&mut de) {
        Ok(spec) => Ok(spec),
        Err(e) => {
            let pointer = json_pointer(e.path());
            let inner = e.into_inner();
            let msg = if inner.is_syntax() || inner.is_eof() {
                format!("invalid JSON: {inner}")
            } else {
                inner.to_string()
            };
            Err(Error::config(file, &pointer, msg))
        }
    }
}

fn json_pointer(path: &serde_path_to_error::Path) -> String {
    use serde_path_to_error::Segment;
    let mut s = String::new();
    for seg in path.iter() {
        s.push('/');
        match seg {
            Segment::Seq { index } => s.push_str(&index.to_string()),
            Segment::Map { key } => s.push_str(&key.replace('~', "~0").replace('/', "~1")),
            Segment::Enum { variant } => s.push_str(variant),
            Segment::Unknown => s.push('?'),
        }
    }
    if s.is_empty() { "/".into() } else { s }
}

/// Parses a process.json (for `exec --process`), errors naming the field.
pub fn parse_process(file: &str, text: &[u8]) -> Result<oci_spec::runtime::Process> {
    let mut de = serde_json::Deserializer::from_slice(text);
    let p: oci_spec::runtime::Process = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let pointer = json_pointer(e.path());
        Error::config(file, &pointer, e.into_inner())
    })?;
    if p.args().as_ref().is_none_or(|a| a.is_empty()) {
        return Err(Error::config(file, "/args", "must hold at least one entry"));
    }
    if !p.cwd().is_absolute() {
        return Err(Error::config(
            file,
            "/cwd",
            format!("{:?} is not an absolute path", p.cwd()),
        ));
    }
    Ok(p)
}

/// What `exec` flags change in the container's process.
pub struct ProcessOverrides {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: Option<PathBuf>,
    pub user: Option<String>,
    pub additional_gids: Vec<u32>,
    pub caps: Vec<String>,
    pub no_new_privs: bool,
    pub tty: bool,
    /// --apparmor: the process's AppArmor profile.
    pub apparmor: Option<String>,
    /// --process-label: the process's SELinux label.
    pub process_label: Option<String>,
}

pub fn override_process(p: &mut oci_spec::runtime::Process, o: &ProcessOverrides) -> Result<()> {
    use oci_spec::runtime::Capability;
    p.set_args(Some(o.args.clone()));
    p.set_terminal(Some(o.tty));
    p.set_console_size(None);
    let mut env = p.env().clone().unwrap_or_default();
    for kv in &o.env {
        let key = kv.split('=').next().unwrap_or(kv);
        env.retain(|e| e.split('=').next() != Some(key));
        env.push(kv.clone());
    }
    p.set_env(Some(env));
    if let Some(cwd) = &o.cwd {
        if !cwd.is_absolute() {
            return Err(Error::msg(format!(
                "--cwd {}: must be an absolute path",
                cwd.display()
            )));
        }
        p.set_cwd(cwd.clone());
    }
    if let Some(u) = &o.user {
        let bad = || Error::msg(format!("--user {u:?}: expected UID[:GID] as numbers"));
        let (uid, gid) = match u.split_once(':') {
            Some((a, b)) => (
                a.parse::<u32>().map_err(|_| bad())?,
                Some(b.parse::<u32>().map_err(|_| bad())?),
            ),
            None => (u.parse::<u32>().map_err(|_| bad())?, None),
        };
        let mut user = p.user().clone();
        user.set_uid(uid);
        if let Some(g) = gid {
            user.set_gid(g);
        }
        p.set_user(user);
    }
    if !o.additional_gids.is_empty() {
        let mut user = p.user().clone();
        user.set_additional_gids(Some(o.additional_gids.clone()));
        p.set_user(user);
    }
    if o.no_new_privs {
        p.set_no_new_privileges(Some(true));
    }
    if let Some(profile) = &o.apparmor {
        p.set_apparmor_profile(Some(profile.clone()));
    }
    if let Some(label) = &o.process_label {
        p.set_selinux_label(Some(label.clone()));
    }
    if !o.caps.is_empty() {
        let mut added = Vec::new();
        for c in &o.caps {
            let name = if c.starts_with("CAP_") {
                c.clone()
            } else {
                format!("CAP_{c}")
            };
            let cap: Capability = serde_json::from_value(serde_json::json!(name))
                .map_err(|_| Error::msg(format!("--cap {c:?}: unknown capability")))?;
            added.push(cap);
        }
        let mut caps = p.capabilities().clone().unwrap_or_default();
        let add = |set: Option<oci_spec::runtime::Capabilities>| {
            let mut s = set.unwrap_or_default();
            s.extend(added.iter().copied());
            Some(s)
        };
        caps.set_bounding(add(caps.bounding().clone()));
        caps.set_effective(add(caps.effective().clone()));
        caps.set_permitted(add(caps.permitted().clone()));
        if caps.inheritable().as_ref().is_some_and(|i| !i.is_empty()) {
            caps.set_ambient(add(caps.ambient().clone()));
        }
        p.set_capabilities(Some(caps));
    }
    Ok(())
}

/// Semantic checks the type system cannot express, each naming its field.
fn validate(file: &str, spec: &Spec) -> Result<()> {
    let version = spec.version();
    let supported = version
        .split('.')
        .next()
        .map(|major| major == "1")
        .unwrap_or(false);
    if !supported {
        return Err(Error::config(
            file,
            "/ociVersion",
            format!("unsupported version {version:?}: hull implements runtime spec 1.x"),
        ));
    }
    let process = spec
        .process()
        .as_ref()
        .ok_or_else(|| Error::config(file, "/process", "missing: `start` needs a process"))?;
    match process.args() {
        Some(a) if !a.is_empty() => {}
        _ => {
            return Err(Error::config(
                file,
                "/process/args",
                "must hold at least one entry",
            ));
        }
    }
    if !process.cwd().is_absolute() {
        return Err(Error::config(
            file,
            "/process/cwd",
            format!("{:?} is not an absolute path", process.cwd()),
        ));
    }
    let linux = spec.linux().as_ref();
    let namespaces = linux.and_then(|l| l.namespaces().as_ref());
    let mut seen = Vec::new();
    for (i, ns) in namespaces.into_iter().flatten().enumerate() {
        if seen.contains(&ns.typ()) {
            return Err(Error::config(
                file,
                &format!("/linux/namespaces/{i}/type"),
                format!("namespace {:?} listed twice", ns.typ().to_string()),
            ));
        }
        seen.push(ns.typ());
        if let Some(p) = ns.path() {
            if !p.is_absolute() {
                return Err(Error::config(
                    file,
                    &format!("/linux/namespaces/{i}/path"),
                    format!("{} is not an absolute path", p.display()),
                ));
            }
            if let Err(e) = std::fs::metadata(p) {
                return Err(Error::config(
                    file,
                    &format!("/linux/namespaces/{i}/path"),
                    format!("{}: {e}", p.display()),
                ));
            }
        }
    }
    let has_new = |t: LinuxNamespaceType| {
        namespaces
            .into_iter()
            .flatten()
            .any(|n| n.typ() == t && n.path().is_none())
    };
    let has = |t: LinuxNamespaceType| namespaces.into_iter().flatten().any(|n| n.typ() == t);
    if !has(LinuxNamespaceType::Mount) {
        return Err(Error::config(
            file,
            "/linux/namespaces",
            "a mount namespace is required to set up the root filesystem",
        ));
    }
    if spec.hostname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts) {
        return Err(Error::config(
            file,
            "/hostname",
            "setting the hostname needs a uts namespace in /linux/namespaces",
        ));
    }
    if spec.domainname().as_deref().is_some_and(|h| !h.is_empty()) && !has(LinuxNamespaceType::Uts)
    {
        return Err(Error::config(
            file,
            "/domainname",
            "setting the domainname needs a uts namespace in /linux/namespaces",
        ));
    }
    if let Some(linux) = linux {
        let maps = linux.uid_mappings().as_ref().is_some_and(|m| !m.is_empty())
            || linux.gid_mappings().as_ref().is_some_and(|m| !m.is_empty());
        if has_new(LinuxNamespaceType::User) {
            if linux.uid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
                return Err(Error::config(
                    file,
                    "/linux/uidMappings",
                    "a new user namespace needs uidMappings",
                ));
            }
            if linux.gid_mappings().as_ref().is_none_or(|m| m.is_empty()) {
                return Err(Error::config(
                    file,
                    "/linux/gidMappings",
                    "a new user namespace needs gidMappings",
                ));
            }
        } else if maps && !has(LinuxNamespaceType::User) {
            // With a user namespace joined by path the mappings are only
            // information (engines pass the joined namespace's, or a dummy
            // one): hull never writes them.
            return Err(Error::config(
                file,
                "/linux/uidMappings",
                "id mappings are only valid with a new user namespace or one joined by path",
            ));
        }
        if linux.time_offsets().as_ref().is_some_and(|m| !m.is_empty())
            && !has_new(LinuxNamespaceType::Time)
        {
            return Err(Error::config(
                file,
                "/linux/timeOffsets",
                "time offsets need a new time namespace",
            ));
        }
        if let Some(offsets) = linux.time_offsets() {
            for clock in offsets.keys() {
                if clock != "monotonic" && clock != "boottime" {
                    return Err(Error::config(
                        file,
                        &format!("/linux/timeOffsets/{clock}"),
                        "unknown clock: expected \"monotonic\" or \"boottime\"",
                    ));
                }
            }
        }
        if linux.net_devices().as_ref().is_some_and(|d| !d.is_empty())
            && !has_new(LinuxNamespaceType::Network)
        {
            return Err(Error::config(
                file,
                "/linux/netDevices",
                "moving network devices needs a new network namespace",
            ));
        }
        if let Some(sysctl) = linux.sysctl() {
            for key in sysctl.keys() {
                if let Some(err) = sysctl_problem(key, &has) {
                    return Err(Error::config(file, &format!("/linux/sysctl/{key}"), err));
                }
            }
        }
        if let Some(p) = linux.rootfs_propagation()
            && !p.is_empty()
            && crate::rootfs::propagation_flags(p).is_none()
        {
            return Err(Error::config(
                file,
                "/linux/rootfsPropagation",
                format!("unknown propagation {p:?}"),
            ));
        }
    }
    for (i, m) in spec.mounts().iter().flatten().enumerate() {
        if m.destination().as_os_str().is_empty() {
            return Err(Error::config(
                file,
                &format!("/mounts/{i}/destination"),
                "must not be empty",
            ));
        }
        if m.destination()
            .components()
            .any(|c| c == std::path::Component::ParentDir)
        {
            return Err(Error::config(
                file,
                &format!("/mounts/{i}/destination"),
                format!("{} must not contain \"..\"", m.destination().display()),
            ));
        }
    }
    Ok(())
}

/// Is this sysctl safe to set with the namespaces chosen? (Namespaced
/// sysctls only; the rest would change the host.)
pub(crate) fn sysctl_problem(
    key: &str,
    has_new: &dyn Fn(LinuxNamespaceType) -> bool,
) -> Option<String> {
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

/// The default config.json written by `hull spec`.
pub fn default_config(rootless: bool) -> serde_json::Value {
    use serde_json::json;
    let caps = json!(["CAP_AUDIT_WRITE", "CAP_KILL", "CAP_NET_BIND_SERVICE"]);
    let mut spec = json!({
        "ociVersion": "1.2.0",
        "process": {
            "terminal": true,
            "user": {"uid": 0, "gid": 0},
            "args": ["sh"],
            "env": [
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "TERM=xterm"
            ],
            "cwd": "/",
            "capabilities": {
                "bounding": caps, "effective": caps, "permitted": caps, "ambient": caps
            },
            "rlimits": [{"type": "RLIMIT_NOFILE", "hard": 1024, "soft": 1024}],
            "noNewPrivileges": true
        },
        "root": {"path": "rootfs", "readonly": true},
        "hostname": "hull",
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
             "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
             "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
             "options": ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"]},
            {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
             "options": ["nosuid", "noexec", "nodev"]},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs",
             "options": ["nosuid", "noexec", "nodev", "ro"]},
            {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
             "options": ["nosuid", "noexec", "nodev", "relatime", "ro"]}
        ],
        "linux": {
            "resources": {"devices": [{"allow": false, "access": "rwm"}]},
            "namespaces": [
                {"type": "pid"}, {"type": "network"}, {"type": "ipc"},
                {"type": "uts"}, {"type": "mount"}, {"type": "cgroup"}
            ],
            "maskedPaths": [
                "/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
                "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
                "/proc/sched_debug", "/sys/firmware", "/proc/scsi"
            ],
            "readonlyPaths": [
                "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"
            ]
        }
    });
    if rootless {
        let uid = nix::unistd::getuid().as_raw();
        let gid = nix::unistd::getgid().as_raw();
        let linux = &mut spec["linux"];
        linux["resources"] = json!({});
        linux["namespaces"] = json!([
            {"type": "pid"}, {"type": "ipc"}, {"type": "uts"},
            {"type": "mount"}, {"type": "cgroup"}, {"type": "user"}
        ]);
        linux["uidMappings"] = json!([{"containerID": 0, "hostID": uid, "size": 1}]);
        linux["gidMappings"] = json!([{"containerID": 0, "hostID": gid, "size": 1}]);
        let mounts = spec["mounts"].as_array_mut().expect("mounts is an array");
        mounts.retain(|m| m["type"] != "cgroup");
        for m in mounts.iter_mut() {
            if m["type"] == "devpts" {
                m["options"] = json!([
                    "nosuid",
                    "noexec",
                    "newinstance",
                    "ptmxmode=0666",
                    "mode=0620"
                ]);
            }
            if m["type"] == "sysfs" {
                *m = json!({"destination": "/sys", "type": "none", "source": "/sys",
                            "options": ["rbind", "nosuid", "noexec", "nodev", "ro"]});
            }
        }
    }
    spec
}

/// `hull spec`: writes the default config.json into `bundle`; an existing
/// one is left alone (an error).
pub fn write_default_config(bundle: &std::path::Path, rootless: bool) -> Result<()> {
    use std::io::Write;
    let path = bundle.join(CONFIG);
    let text = serde_json::to_string_pretty(&default_config(rootless))
        .map_err(|e| Error::msg(e.to_string()))?;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::msg(format!(
                    "{}: file already exists; remove it first",
                    path.display()
                ))
            } else {
                Error::msg(format!("{}: {e}", path.display()))
            }
        })?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .map_err(|e| Error::msg(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_config_parses_and_validates() {
        let text = serde_json::to_vec(&default_config(false)).unwrap();
        let spec = parse("config.json", &text).unwrap();
        validate("config.json", &spec).unwrap();
        let text = serde_json::to_vec(&default_config(true)).unwrap();
        let spec = parse("config.json", &text).unwrap();
        validate("config.json", &spec).unwrap();
    }

    #[test]
    fn type_errors_name_the_field() {
        let mut v = default_config(false);
        v["process"]["user"]["uid"] = serde_json::json!("x");
        let err = parse("config.json", &serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.to_string().contains("/process/user/uid"), "{err}");
    }

    #[test]
    fn syntax_errors_give_line_and_column() {
        let err = parse("config.json", b"{\n  \"ociVersion\": \n}").unwrap_err();
        let s = err.to_string();
        assert!(s.contains("line 3"), "{s}");
    }
}
