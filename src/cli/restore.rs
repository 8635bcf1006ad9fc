//! `hull restore`: a container from a checkpoint's images (flags as runc's).

use super::checkpoint::CriuArgs;
use crate::container::checkpoint::{self, RestoreOptions};
use crate::error::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RestoreArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Return once the container is restored instead of waiting for it.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the restored init's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is set.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Do not become the subreaper of the restored process.
    #[arg(long = "no-subreaper")]
    pub no_subreaper: bool,
    /// Accepted for runc compatibility (CRIU restores the mount namespace itself).
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// LSM profile for the restored process (CRIU's --lsm-profile).
    #[arg(long = "lsm-profile")]
    pub lsm_profile: Option<String>,
    /// LSM mount context for the restored mounts (CRIU's --lsm-mount-context).
    #[arg(long = "lsm-mount-context")]
    pub lsm_mount_context: Option<String>,
    /// Container id.
    pub id: String,
}

pub fn run(root: PathBuf, a: RestoreArgs) -> Result<i32> {
    checkpoint::restore(RestoreOptions {
        root,
        id: a.id,
        bundle: a.bundle,
        criu: a.criu.flags(),
        detach: a.detach,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        no_subreaper: a.no_subreaper,
        no_pivot: a.no_pivot,
        lsm_profile: a.lsm_profile,
        lsm_mount_context: a.lsm_mount_context,
    })
}
