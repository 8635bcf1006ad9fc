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

/// linux.memoryPolicy modes and flags that process::attrs::set_memory_policy
/// maps onto set_mempolicy(2).
pub const MEMORY_POLICY_MODES: &[&str] = &[
    "MPOL_DEFAULT",
    "MPOL_PREFERRED",
    "MPOL_BIND",
    "MPOL_INTERLEAVE",
    "MPOL_LOCAL",
    "MPOL_PREFERRED_MANY",
    "MPOL_WEIGHTED_INTERLEAVE",
];
pub const MEMORY_POLICY_FLAGS: &[&str] = &[
    "MPOL_F_NUMA_BALANCING",
    "MPOL_F_RELATIVE_NODES",
    "MPOL_F_STATIC_NODES",
];

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
                // rdma.max is written on v2 and by the v1 rdma hierarchy.
                "rdma": true
            },
            "seccomp": crate::security::seccomp_features(),
            "apparmor": {"enabled": lsm::apparmor_enabled()},
            "selinux": {"enabled": lsm::selinux_enabled()},
            // Through resctrl (cgroups/resctrl.rs); an error where it is
            // not mounted.
            "intelRdt": {"enabled": true, "schemata": true, "monitoring": true},
            "memoryPolicy": {
                "modes": MEMORY_POLICY_MODES,
                "flags": MEMORY_POLICY_FLAGS
            },
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
