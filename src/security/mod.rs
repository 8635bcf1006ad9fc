//! Privileges of the container process: capabilities and no_new_privs.

pub mod capabilities;
pub mod seccomp;

/// The seccomp section of `features`. Seccomp filters are not applied by
/// this build yet, so it says so rather than promise what is not enforced.
pub fn seccomp_features() -> serde_json::Value {
    serde_json::json!({"enabled": false})
}

use crate::error::{Context, Result};

pub fn set_no_new_privs() -> Result<()> {
    // SAFETY: prctl with integer arguments only.
    let r = unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) };
    if r != 0 {
        return Err(std::io::Error::last_os_error())
            .ctx(|| "process.noNewPrivileges: prctl(PR_SET_NO_NEW_PRIVS)".into());
    }
    Ok(())
}
