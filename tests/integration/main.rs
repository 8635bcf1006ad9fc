//! Integration tests: real containers, real kernel.
//!
//! The runtime under test is `$HULL_RUNTIME`, else `$HULL_BIN`, else the
//! `hull` binary built by cargo. Checks marked HULL-ONLY run only when the
//! binary's name contains "hull" and print a SKIP line otherwise.
//! These tests need root, except the `check::` ones (`hull check` and the
//! pre-flight), which run as any user; `cargo test --lib` needs no root either.

mod common;

mod cgroup_compat;
mod cgroup_resources;
mod cgroup_update;
mod cgroups;
mod check;
mod checkpoint;
mod cli;
mod compat;
mod debug;
mod errors;
mod exec;
mod exeseal;
mod features_tried;
mod hooks;
mod idmap;
mod lifecycle;
mod lsm;
mod namespaces;
mod process;
mod recovery;
mod rootfs;
mod rootless;
mod seccomp;
mod security;
mod systemd_driver;
