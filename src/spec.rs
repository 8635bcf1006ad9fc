//! The bundle: loading and validating config.json, and the default config
//! that `hull spec` writes.

use crate::error::{Error, Result};
use oci_spec::runtime::Spec;
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
        Ok(mut spec) => {
            if let Some(r) = spec
                .linux_mut()
                .as_mut()
                .and_then(|l| l.resources_mut().as_mut())
            {
                clear_unset_resources(r);
            }
            Ok(spec)
        }
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

/// linux.resources fields (relative JSON pointers) in which engines write 0
/// to mean "not set": Docker puts `blockIO.weight: 0` into every config.
/// runc skips each of them when it is 0, and so does hull: they are
/// cleared when a config is read (`hull check` clears them too).
/// `memory.swappiness` 0 is a real value and is not listed.
pub const UNSET_WHEN_ZERO: &[&str] = &[
    "/blockIO/weight",
    "/blockIO/leafWeight",
    "/cpu/shares",
    "/cpu/quota",
    "/cpu/period",
    "/cpu/realtimeRuntime",
    "/cpu/realtimePeriod",
    "/memory/limit",
    "/memory/reservation",
    "/memory/swap",
    "/pids/limit",
];

/// The warning for `memory.kernel`: kmem limits were deprecated, then
/// removed from Linux; like runc 1.2, hull ignores the field.
pub const KERNEL_MEMORY_IGNORED: &str = "linux.resources.memory.kernel: kernel memory limits are deprecated (removed from Linux 6.x); ignored";

/// Whether config.json text sets linux.resources.memory.kernel.
pub fn sets_kernel_memory(text: &[u8]) -> bool {
    // Cheap test first: nearly no config has the word.
    text.windows(8).any(|w| w == b"\"kernel\"")
        && serde_json::from_slice::<serde_json::Value>(text).is_ok_and(|v| {
            v.pointer("/linux/resources/memory/kernel")
                .is_some_and(|k| !k.is_null())
        })
}

/// Clears the fields of [`UNSET_WHEN_ZERO`] that are 0, and memory.kernel.
pub fn clear_unset_resources(r: &mut oci_spec::runtime::LinuxResources) {
    if let Some(b) = r.block_io_mut() {
        if b.weight() == Some(0) {
            b.set_weight(None);
        }
        if b.leaf_weight() == Some(0) {
            b.set_leaf_weight(None);
        }
    }
    if let Some(c) = r.cpu_mut() {
        if c.shares() == Some(0) {
            c.set_shares(None);
        }
        if c.quota() == Some(0) {
            c.set_quota(None);
        }
        if c.period() == Some(0) {
            c.set_period(None);
        }
        if c.realtime_runtime() == Some(0) {
            c.set_realtime_runtime(None);
        }
        if c.realtime_period() == Some(0) {
            c.set_realtime_period(None);
        }
    }
    if let Some(m) = r.memory_mut() {
        if m.limit() == Some(0) {
            m.set_limit(None);
        }
        if m.reservation() == Some(0) {
            m.set_reservation(None);
        }
        if m.swap() == Some(0) {
            m.set_swap(None);
        }
        m.set_kernel(None);
    }
    if r.pids().as_ref().is_some_and(|p| p.limit() == 0) {
        r.set_pids(None);
    }
}

/// [`clear_unset_resources`] on config.json as JSON (for `hull check`).
pub fn clear_unset_resources_json(cfg: &mut serde_json::Value) {
    let Some(r) = cfg.pointer_mut("/linux/resources") else {
        return;
    };
    for p in UNSET_WHEN_ZERO {
        let (section, key) = p[1..].split_once('/').expect("two levels");
        if let Some(obj) = r.get_mut(section).and_then(|s| s.as_object_mut())
            && obj.get(key).and_then(serde_json::Value::as_f64) == Some(0.0)
        {
            obj.remove(key);
            // `pids` without its limit is nothing (the typed reader drops it).
            if section == "pids"
                && let Some(o) = r.as_object_mut()
            {
                o.remove(section);
            }
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
    let mut v: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| Error::config(file, "", format!("not JSON: {e}")))?;
    // runc runs a process without `user` as uid 0, gid 0 (Go's zero
    // values); callers rely on it, so a missing `user` means that here too.
    if let Some(obj) = v.as_object_mut() {
        obj.entry("user")
            .or_insert_with(|| serde_json::json!({"uid": 0, "gid": 0}));
    }
    let p: oci_spec::runtime::Process = serde_path_to_error::deserialize(v).map_err(|e| {
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
