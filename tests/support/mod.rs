//! Test support shared by the integration suite (tests/integration) and the
//! OCI conformance suite (tests/oci-validation): the runtime under test,
//! unique ids, temp dirs, busybox rootfs templates, bundles, running the
//! runtime with a private `--root`, the runc-spec config fixture and the
//! host's cgroup version.
//!
//! Each suite includes this directory as a module of its `common.rs`
//! (`#[path = "../support/mod.rs"] mod support;`), so `env!` sees the
//! suite's own package (`CARGO_BIN_EXE_hull`). The including module
//! defines `CMD_TIMEOUT` (the time one runtime invocation may take) and
//! `SUITE` (the suite's short name, used in /tmp names).

#![allow(dead_code, unused_imports)]

pub mod bundle;
pub mod files;
pub mod runc_config;
pub mod runtime;

pub use bundle::Bundle;
pub use files::{TempDir, copy_tree, link_or_copy, mounts_under, unique_id};
pub use runc_config::runc_spec_config;
pub use runtime::{CmdOpts, Out, Runtime, hull_only, run_cmd, runtime_bin, runtime_is_hull};

/// The host's cgroup version (what /sys/fs/cgroup is).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1 = 1,
    V2 = 2,
}

pub fn cgroup_version() -> CgroupVersion {
    let st = nix::sys::statfs::statfs("/sys/fs/cgroup").expect("statfs /sys/fs/cgroup");
    if st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        CgroupVersion::V2
    } else {
        CgroupVersion::V1
    }
}
