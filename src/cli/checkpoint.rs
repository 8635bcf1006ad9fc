//! `hull checkpoint`: dump a running container with CRIU (flags as runc's).

use crate::container::checkpoint::{self, CheckpointOptions, CriuFlags};
use crate::error::Result;
use clap::Args;
use std::path::PathBuf;

/// Flags `checkpoint` and `restore` share.
#[derive(Args, Debug, Clone)]
pub struct CriuArgs {
    /// Directory for the images [default: ./checkpoint].
    #[arg(long = "image-path")]
    pub image_path: Option<PathBuf>,
    /// Directory for CRIU's logs and work files [default: the image directory].
    #[arg(long = "work-path")]
    pub work_path: Option<PathBuf>,
    /// Allow open TCP connections.
    #[arg(long = "tcp-established")]
    pub tcp_established: bool,
    /// Allow external unix sockets.
    #[arg(long = "ext-unix-sk")]
    pub ext_unix_sk: bool,
    /// Allow a shell job (a terminal shared with the caller).
    #[arg(long = "shell-job")]
    pub shell_job: bool,
    /// Handle file locks.
    #[arg(long = "file-locks")]
    pub file_locks: bool,
    /// Lazy migration of memory pages (needs CRIU's lazy-pages daemon).
    #[arg(long = "lazy-pages")]
    pub lazy_pages: bool,
    /// How CRIU treats cgroups: soft, full, strict or ignore.
    #[arg(long = "manage-cgroups-mode")]
    pub manage_cgroups_mode: Option<String>,
    /// Namespace to create empty instead of restoring (network).
    #[arg(long = "empty-ns")]
    pub empty_ns: Vec<String>,
}

impl CriuArgs {
    pub fn flags(self) -> CriuFlags {
        CriuFlags {
            image_path: self.image_path,
            work_path: self.work_path,
            tcp_established: self.tcp_established,
            ext_unix_sk: self.ext_unix_sk,
            shell_job: self.shell_job,
            file_locks: self.file_locks,
            lazy_pages: self.lazy_pages,
            manage_cgroups_mode: self.manage_cgroups_mode,
            empty_ns: self.empty_ns,
        }
    }
}

#[derive(Args, Debug)]
pub struct CheckpointArgs {
    #[command(flatten)]
    pub criu: CriuArgs,
    /// Images of an earlier (pre-)dump, relative to the image directory.
    #[arg(long = "parent-path")]
    pub parent_path: Option<PathBuf>,
    /// Leave the container running after the dump.
    #[arg(long = "leave-running")]
    pub leave_running: bool,
    /// Dump memory only, leaving the container running (for iterative migration).
    #[arg(long = "pre-dump")]
    pub pre_dump: bool,
    /// Deduplicate pages against the parent images.
    #[arg(long = "auto-dedup")]
    pub auto_dedup: bool,
    /// Descriptor CRIU writes a byte to when the dump is ready for the page server.
    #[arg(long = "status-fd")]
    pub status_fd: Option<i32>,
    /// ADDRESS:PORT of a CRIU page server to send pages to.
    #[arg(long = "page-server")]
    pub page_server: Option<String>,
    /// Container id.
    pub id: String,
}

pub fn run(root: PathBuf, a: CheckpointArgs) -> Result<i32> {
    checkpoint::checkpoint(CheckpointOptions {
        root,
        id: a.id,
        criu: a.criu.flags(),
        parent_path: a.parent_path,
        leave_running: a.leave_running,
        pre_dump: a.pre_dump,
        auto_dedup: a.auto_dedup,
        status_fd: a.status_fd,
        page_server: a.page_server,
    })?;
    Ok(0)
}
