//! The scenarios, by area. Adding one is a line or a few in one of these
//! files (see tests/differential/README.md).

pub mod errors;
pub mod exec;
pub mod hooks;
pub mod lifecycle;
pub mod mounts;
pub mod process;
pub mod resources;
pub mod seccomp;
pub mod userns;

pub fn all_names() -> Vec<&'static str> {
    [
        errors::NAMES,
        exec::NAMES,
        hooks::NAMES,
        lifecycle::NAMES,
        mounts::NAMES,
        process::NAMES,
        resources::NAMES,
        seccomp::NAMES,
        userns::NAMES,
    ]
    .concat()
}
