//! `hull create`: set up a container whose process waits for `start`.

use crate::container::lifecycle::{self, CreateOptions};
use crate::error::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug, Clone)]
pub struct CreateArgs {
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// File to write the container init's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is set.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    pub no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    pub no_new_keyring: bool,
    /// Pass this many extra descriptors (from fd 3) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Unix socket that receives a pidfd of the container init.
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Container id.
    pub id: String,
}

impl CreateArgs {
    /// The library's options for this container under `root`.
    pub fn options(self, root: PathBuf) -> CreateOptions {
        CreateOptions {
            root,
            id: self.id,
            bundle: self.bundle,
            pid_file: self.pid_file,
            console_socket: self.console_socket,
            console_fd: None,
            no_pivot: self.no_pivot,
            no_new_keyring: self.no_new_keyring,
            preserve_fds: self.preserve_fds as i32,
            foreground: false,
            pidfd_socket: self.pidfd_socket,
        }
    }
}

pub fn run(root: PathBuf, a: CreateArgs) -> Result<i32> {
    crate::logging::debug(format!(
        "create {} from bundle {}",
        a.id,
        a.bundle.display()
    ));
    lifecycle::create(a.options(root))?;
    Ok(0)
}
