//! `hull kill`: send a signal to the container's init (or all its processes).

use crate::container::lifecycle;
use crate::error::Result;
use crate::process::signals;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct KillArgs {
    /// Signal every process in the container's cgroup.
    #[arg(short = 'a', long)]
    pub all: bool,
    pub id: String,
    #[arg(default_value = "SIGTERM")]
    pub signal: String,
}

impl KillArgs {
    pub fn check(&self) -> Result<()> {
        signals::parse(&self.signal).map(drop)
    }
}

pub fn run(root: &Path, a: KillArgs) -> Result<i32> {
    let sig = signals::parse(&a.signal)?;
    lifecycle::kill(root, &a.id, sig, a.all).map(|_| 0)
}
