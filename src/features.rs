//! `features`: what this build of hull implements, as features.md and
//! features-linux.md describe it, with host-dependent parts probed.

use serde_json::{Value, json};

fn capabilities() -> Vec<String> {
    let last = crate::security::capabilities::last_cap();
    caps::all()
        .into_iter()
        .filter(|c| c.index() <= last)
        .map(|c| c.to_string())
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect()
}

pub fn document() -> Value {
    use crate::security::lsm;
    json!({
        "ociVersionMin": "1.0.0",
        "ociVersionMax": crate::spec::OCI_VERSION,
        "hooks": crate::hooks::Kind::ALL.map(crate::hooks::Kind::key),
        "mountOptions": crate::mount_options::MOUNT_OPTIONS,
        "linux": {
            "namespaces": ["cgroup", "ipc", "mount", "network", "pid", "user", "uts", "time"],
            "capabilities": capabilities(),
            "cgroup": {
                "v1": true,
                "v2": true,
                "systemd": crate::cgroups::systemd::available(false),
                "systemdUser": crate::cgroups::systemd::available(true),
                "rdma": false
            },
            "seccomp": crate::security::seccomp_features(),
            "apparmor": {"enabled": lsm::apparmor_enabled()},
            "selinux": {"enabled": lsm::selinux_enabled()},
            "intelRdt": {"enabled": false},
            "mountExtensions": {"idmap": {"enabled": true}},
            "netDevices": {"enabled": true}
        },
        "annotations": {
            "org.opencontainers.runtime.hull.version": env!("CARGO_PKG_VERSION"),
            // checkpoint/restore need a CRIU that answers (runc says the same
            // under its own key).
            "org.opencontainers.runtime.hull.checkpoint.enabled":
                if crate::criu::check_version().is_ok() { "true" } else { "false" }
        },
        "potentiallyUnsafeConfigAnnotations": []
    })
}
