//! `hooks`: timeouts, and the hook programs on the host.

use super::mounts::{Resolved, mount_table, resolve};
use super::{Ctx, Report, Severity};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub(super) fn hooks(c: &Ctx, r: &mut Report) {
    for kind in crate::hooks::Kind::ALL.map(crate::hooks::Kind::key) {
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

/// Hooks that run before the process is looked up may create it.
pub(super) fn early_hooks(c: &Ctx) -> bool {
    ["prestart", "createRuntime", "createContainer"]
        .iter()
        .any(|k| c.items(&format!("/hooks/{k}")).next().is_some())
}

pub(super) fn host_hooks(c: &Ctx, r: &mut Report) {
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

#[cfg(test)]
mod tests {
    use super::super::errors_of;
    use super::*;
    use serde_json::json;

    #[test]
    fn hook_timeouts_are_at_least_a_second() {
        let cfg = json!({ "hooks": {
            "prestart": [{ "path": "/bin/true", "timeout": 0 }],
            "poststop": [{ "path": "/bin/true", "timeout": 5 }, { "path": "/bin/true", "timeout": -1 }]
        } });
        assert_eq!(
            errors_of(cfg, hooks),
            ["/hooks/prestart/0/timeout", "/hooks/poststop/1/timeout"]
        );
    }
}
