//! `hull exec`: run a process inside a container.

use crate::container::exec::{self, ExecProcess};
use crate::error::{Error, Result};
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct ExecArgs {
    /// Unix socket that receives the pty master with --tty.
    #[arg(long = "console-socket")]
    pub console_socket: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    pub cwd: Option<PathBuf>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short = 'e', long = "env")]
    pub env: Vec<String>,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    pub tty: bool,
    /// UID[:GID] to run as.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Additional group id (repeatable).
    #[arg(short = 'g', long = "additional-gids")]
    pub additional_gids: Vec<u32>,
    /// process.json describing the whole process (other process flags are ignored).
    #[arg(short = 'p', long)]
    pub process: Option<PathBuf>,
    /// Do not wait for the process.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// File to write the process's pid to.
    #[arg(long = "pid-file")]
    pub pid_file: Option<PathBuf>,
    /// SELinux label for the process.
    #[arg(long = "process-label")]
    pub process_label: Option<String>,
    /// AppArmor profile for the process.
    #[arg(long)]
    pub apparmor: Option<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    pub no_new_privs: bool,
    /// Add a capability (repeatable).
    #[arg(short = 'c', long = "cap")]
    pub cap: Vec<String>,
    /// Pass this many extra descriptors (from fd 3).
    #[arg(long = "preserve-fds", default_value_t = 0)]
    pub preserve_fds: u32,
    /// Run in this sub-cgroup of the container's cgroup: SUB, or
    /// CTRL[,CTRL]:SUB for some v1 hierarchies (repeatable).
    #[arg(long)]
    pub cgroup: Vec<String>,
    /// Unix socket that receives a pidfd of the new process.
    #[arg(long = "pidfd-socket")]
    pub pidfd_socket: Option<PathBuf>,
    /// Allow exec into a paused container.
    #[arg(long = "ignore-paused")]
    pub ignore_paused: bool,
    /// Container id.
    pub id: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// `--cgroup`: sub-cgroups of the container's, `SUB` or `CTRL[,CTRL]:SUB`.
fn check_exec_cgroup(cgroup: &[String]) -> Result<()> {
    crate::cgroups::ExecSubCgroups::parse(cgroup).map(drop)
}

impl ExecArgs {
    /// The flag values exec interprets itself, checked without looking
    /// anything up (the process flags against an empty process).
    pub fn check(&self) -> Result<()> {
        check_exec_cgroup(&self.cgroup)?;
        if self.process.is_none() {
            let mut p = oci_spec::runtime::Process::default();
            crate::spec::override_process(&mut p, &self.overrides()?)?;
        }
        Ok(())
    }

    /// exec's process flags, to lay over the container's process.
    fn overrides(&self) -> Result<crate::spec::ProcessOverrides> {
        if self.command.is_empty() {
            return Err(Error::msg(
                "exec: no command given (hull exec ID COMMAND [ARG...])",
            ));
        }
        Ok(crate::spec::ProcessOverrides {
            args: self.command.clone(),
            env: self.env.clone(),
            cwd: self.cwd.clone(),
            user: self.user.clone(),
            additional_gids: self.additional_gids.clone(),
            caps: self.cap.clone(),
            no_new_privs: self.no_new_privs,
            tty: self.tty,
            apparmor: self.apparmor.clone(),
            process_label: self.process_label.clone(),
        })
    }
}

pub fn run(root: PathBuf, a: ExecArgs) -> Result<i32> {
    use crate::security::lsm;
    if a.apparmor.as_deref().is_some_and(|p| !p.is_empty()) {
        lsm::require_apparmor("--apparmor")?;
    }
    if a.process_label.as_deref().is_some_and(|l| !l.is_empty()) {
        lsm::require_selinux("--process-label")?;
    }
    check_exec_cgroup(&a.cgroup)?;
    let source = match &a.process {
        Some(path) => ExecProcess::File(path),
        None => ExecProcess::Overrides(a.overrides()?),
    };
    let process = exec::exec_process(&root, &a.id, source)?;
    exec::exec(exec::ExecOptions {
        root,
        id: a.id,
        process,
        console_socket: a.console_socket,
        detach: a.detach,
        pid_file: a.pid_file,
        preserve_fds: a.preserve_fds as i32,
        sub_cgroups: crate::cgroups::ExecSubCgroups::parse(&a.cgroup)?,
        ignore_paused: a.ignore_paused,
        pidfd_socket: a.pidfd_socket,
    })
}
