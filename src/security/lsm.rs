//! AppArmor and SELinux: detecting them, refusing a requested label when
//! the LSM is absent, and applying `process.apparmorProfile`,
//! `process.selinuxLabel` and `linux.mountLabel` when it is present.
//!
//! Labels are set the way the kernel interfaces want them:
//! - AppArmor: "exec PROFILE" written to the thread's
//!   `attr/apparmor/exec` (Linux 5.8+; `attr/exec` before), so the next
//!   execve enters the profile;
//! - SELinux: the label written to `attr/exec` (the next execve's
//!   context) and to `attr/keycreate` before the init joins its session
//!   keyring; `linux.mountLabel` as a `context="..."` data option of the
//!   mounts that take one, and as the file label of an mqueue mount.
//!
//! Every write goes through a verified procfs handle (procfs.rs).

use crate::error::{Context, Error, Result};
use crate::procfs::Procfs;
use oci_spec::runtime::{Process, Spec};
use std::os::fd::{AsRawFd, BorrowedFd};
use std::path::Path;

const APPARMOR_ENABLED: &str = "/sys/module/apparmor/parameters/enabled";
const APPARMOR_FS: &str = "/sys/kernel/security/apparmor";
const SECURITYFS: &str = "/sys/kernel/security";
const SELINUXFS: &str = "/sys/fs/selinux";

/// AppArmor is enabled: the module says "Y" and securityfs, mounted,
/// has its apparmor directory.
pub fn apparmor_enabled() -> bool {
    let module = std::fs::read_to_string(APPARMOR_ENABLED).is_ok_and(|s| s.starts_with('Y'));
    let securityfs = nix::sys::statfs::statfs(SECURITYFS)
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::SECURITYFS_MAGIC);
    module && securityfs && Path::new(APPARMOR_FS).is_dir()
}

/// SELinux is enabled: selinuxfs is mounted at /sys/fs/selinux.
pub fn selinux_enabled() -> bool {
    nix::sys::statfs::statfs(SELINUXFS)
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::SELINUX_MAGIC)
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().filter(|s| !s.is_empty())
}

/// A label value the kernel can take: no NUL byte, no newline.
fn check_value(field: &str, v: &str) -> Result<()> {
    if v.contains('\0') || v.contains('\n') {
        return Err(Error::msg(format!(
            "{field}: {v:?} holds a NUL byte or a newline"
        )));
    }
    Ok(())
}

/// Why a requested AppArmor profile cannot be applied here.
pub const APPARMOR_ABSENT: &str = "AppArmor is not enabled on this host (/sys/module/apparmor/parameters/enabled is not \"Y\" or securityfs has no apparmor directory)";
pub const APPARMOR_HINT: &str = "remove the profile to run unconfined";
/// Why a requested SELinux label cannot be applied here.
pub const SELINUX_ABSENT: &str =
    "SELinux is not enabled on this host (no selinuxfs mounted at /sys/fs/selinux)";
pub const SELINUX_HINT: &str = "remove the label to run unlabelled";

/// Refuses an AppArmor profile asked for by `field` on a host without AppArmor.
pub fn require_apparmor(field: &str) -> Result<()> {
    if apparmor_enabled() {
        return Ok(());
    }
    Err(Error::msg(format!(
        "{field}: {APPARMOR_ABSENT}; {APPARMOR_HINT}"
    )))
}

/// Refuses an SELinux label asked for by `field` on a host without SELinux.
pub fn require_selinux(field: &str) -> Result<()> {
    if selinux_enabled() {
        return Ok(());
    }
    Err(Error::msg(format!(
        "{field}: {SELINUX_ABSENT}; {SELINUX_HINT}"
    )))
}

/// The labels of one process, refused when their LSM is absent.
pub fn check_process(process: &Process) -> Result<()> {
    if let Some(p) = nonempty(process.apparmor_profile()) {
        check_value("process.apparmorProfile", p)?;
        require_apparmor("process.apparmorProfile")?;
    }
    if let Some(l) = nonempty(process.selinux_label()) {
        check_value("process.selinuxLabel", l)?;
        require_selinux("process.selinuxLabel")?;
    }
    Ok(())
}

/// Every label of a container config, refused when its LSM is absent.
pub fn check(spec: &Spec, process: &Process) -> Result<()> {
    check_process(process)?;
    if let Some(l) = mount_label_unchecked(spec) {
        check_value("linux.mountLabel", l)?;
        if !selinux_enabled() {
            crate::logging::debug(MOUNT_LABEL_IGNORED);
        }
    }
    Ok(())
}

/// linux.mountLabel without SELinux: mounts are made unlabelled, as runc
/// and crun do (engines set the label whatever the host).
pub const MOUNT_LABEL_IGNORED: &str =
    "linux.mountLabel: SELinux is not enabled on this host; the label is ignored";

fn mount_label_unchecked(spec: &Spec) -> Option<&str> {
    spec.linux()
        .as_ref()
        .and_then(|l| nonempty(l.mount_label()))
}

/// linux.mountLabel, if one is set and SELinux is enabled (see
/// [`MOUNT_LABEL_IGNORED`]).
pub fn mount_label(spec: &Spec) -> Result<Option<&str>> {
    Ok(mount_label_unchecked(spec).filter(|_| selinux_enabled()))
}

/// Whether a mount of filesystem type `typ` takes the mount label as a
/// `context=` option: not proc, sysfs, cgroup (their labels come from
/// policy), not mqueue (labelled as a file instead), not bind mounts.
pub fn takes_context(typ: &str) -> bool {
    !matches!(
        typ,
        "" | "bind" | "proc" | "sysfs" | "cgroup" | "cgroup2" | "mqueue"
    )
}

/// Mount data with the label added as `context="LABEL"`.
pub fn label_mount_data(data: Option<String>, label: Option<&str>) -> Option<String> {
    let Some(label) = label else { return data };
    let ctx = format!("context=\"{label}\"");
    Some(match data {
        Some(d) if !d.is_empty() => format!("{d},{ctx}"),
        _ => ctx,
    })
}

/// Sets the SELinux label of an open file (the root of an mqueue mount,
/// which takes no `context=` option); `path` names it in messages.
pub fn label_file(fd: BorrowedFd, path: &Path, label: &str) -> Result<()> {
    // SAFETY: the name is NUL-terminated, the value is read for `len`
    // bytes; both outlive the call.
    let r = unsafe {
        libc::fsetxattr(
            fd.as_raw_fd(),
            c"security.selinux".as_ptr(),
            label.as_ptr() as *const libc::c_void,
            label.len(),
            0,
        )
    };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| format!("linux.mountLabel: set the label of {}", path.display()));
    }
    Ok(())
}

/// Labels the next execve gives this process: the AppArmor profile and
/// the SELinux exec context. /proc is opened (and verified) once, only
/// when there is something to write. Runs before the user and capability
/// changes and before seccomp, as the writes need the process unconfined.
pub fn set_exec_labels(process: &Process) -> Result<()> {
    let aa = nonempty(process.apparmor_profile());
    let se = nonempty(process.selinux_label());
    if aa.is_none() && se.is_none() {
        return Ok(());
    }
    check_process(process)?;
    let proc = Procfs::open().map_err(|e| e.wrap("process labels"))?;
    if let Some(profile) = aa {
        let value = format!("exec {profile}");
        let r = match proc.write_self("attr/apparmor/exec", value.as_bytes()) {
            Err(Error::Sys {
                errno: nix::errno::Errno::ENOENT,
                ..
            }) => proc.write_self("attr/exec", value.as_bytes()),
            r => r,
        };
        r.map_err(|e| e.wrap(format!("process.apparmorProfile {profile:?}")))?;
        crate::logging::debug(format!("AppArmor profile {profile:?} set for exec"));
    }
    if let Some(label) = se {
        proc.write_self("attr/exec", label.as_bytes())
            .map_err(|e| e.wrap(format!("process.selinuxLabel {label:?}")))?;
        crate::logging::debug(format!("SELinux exec label {label:?} set"));
    }
    Ok(())
}

/// The SELinux label of keys this process creates (its session keyring),
/// set before the init joins a new one.
pub fn set_keycreate_label(process: &Process) -> Result<()> {
    let Some(label) = nonempty(process.selinux_label()) else {
        return Ok(());
    };
    require_selinux("process.selinuxLabel")?;
    let proc = Procfs::open().map_err(|e| e.wrap("process.selinuxLabel: keyring label"))?;
    proc.write_self("attr/keycreate", label.as_bytes())
        .map_err(|e| e.wrap(format!("process.selinuxLabel {label:?}: keyring label")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn process(json: serde_json::Value) -> Process {
        let mut base =
            serde_json::json!({"cwd": "/", "user": {"uid": 0, "gid": 0}, "args": ["true"]});
        for (k, v) in json.as_object().unwrap() {
            base[k] = v.clone();
        }
        serde_json::from_value(base).unwrap()
    }

    #[test]
    fn mount_data_gets_the_context_option() {
        assert_eq!(
            label_mount_data(Some("mode=755".into()), Some("system_u:object_r:x:s0")),
            Some("mode=755,context=\"system_u:object_r:x:s0\"".into())
        );
        assert_eq!(
            label_mount_data(None, Some("l")),
            Some("context=\"l\"".into())
        );
        assert_eq!(
            label_mount_data(Some("size=1k".into()), None),
            Some("size=1k".into())
        );
        for t in ["tmpfs", "devpts", "overlay"] {
            assert!(takes_context(t), "{t}");
        }
        for t in ["proc", "sysfs", "mqueue", "cgroup", "cgroup2", "bind", ""] {
            assert!(!takes_context(t), "{t}");
        }
    }

    #[test]
    fn absent_lsms_are_clear_errors_naming_the_field() {
        if apparmor_enabled() {
            eprintln!(
                "SKIPPED: AppArmor is enabled on this host; the absent-AppArmor error cannot be seen"
            );
        } else {
            let p = process(serde_json::json!({"apparmorProfile": "docker-default"}));
            let e = check_process(&p).unwrap_err().to_string();
            assert!(
                e.starts_with("process.apparmorProfile: AppArmor is not enabled"),
                "{e}"
            );
            // The apply path refuses the same way, before touching /proc.
            let e = set_exec_labels(&p).unwrap_err().to_string();
            assert!(e.starts_with("process.apparmorProfile:"), "{e}");
        }
        if selinux_enabled() {
            eprintln!(
                "SKIPPED: SELinux is enabled on this host; the absent-SELinux error cannot be seen"
            );
        } else {
            let p =
                process(serde_json::json!({"selinuxLabel": "system_u:system_r:container_t:s0"}));
            let e = check_process(&p).unwrap_err().to_string();
            assert!(
                e.starts_with("process.selinuxLabel: SELinux is not enabled"),
                "{e}"
            );
            let e = set_exec_labels(&p).unwrap_err().to_string();
            assert!(e.starts_with("process.selinuxLabel:"), "{e}");
            let e = set_keycreate_label(&p).unwrap_err().to_string();
            assert!(e.starts_with("process.selinuxLabel:"), "{e}");
            let e = require_selinux("linux.mountLabel").unwrap_err().to_string();
            assert!(
                e.starts_with("linux.mountLabel: SELinux is not enabled"),
                "{e}"
            );
        }
    }

    #[test]
    fn no_label_means_no_work() {
        let p = process(serde_json::json!({"apparmorProfile": "", "selinuxLabel": ""}));
        check_process(&p).unwrap();
        set_exec_labels(&p).unwrap();
        set_keycreate_label(&p).unwrap();
    }

    #[test]
    fn labels_with_a_newline_are_refused() {
        let p = process(serde_json::json!({"apparmorProfile": "a\nchangeprofile b"}));
        let e = check_process(&p).unwrap_err().to_string();
        assert!(e.contains("newline"), "{e}");
    }

    #[test]
    fn detection_matches_the_host() {
        // This host has neither LSM; where one is present the checks say so.
        let aa = std::fs::read_to_string(APPARMOR_ENABLED).is_ok_and(|s| s.starts_with('Y'));
        if !aa {
            assert!(!apparmor_enabled());
        }
        if !Path::new(SELINUXFS).join("enforce").exists() {
            assert!(!selinux_enabled());
        }
    }
}
