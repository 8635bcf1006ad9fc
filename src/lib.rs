//! hull: an OCI-compliant low-level container runtime.

pub mod error;
pub mod features;

pub mod cgroups;
pub mod check;
pub mod cli;
pub mod console;
pub mod container;
pub mod criu;
pub mod hooks;
#[cfg(hull_hot_trace)]
mod hot_trace;
pub mod logging;
pub mod mount_options;
pub mod namespaces;
pub mod openat2;
pub mod process;
pub mod procfs;
pub mod procinfo;
pub mod rootfs;
pub mod security;
pub mod spec;
