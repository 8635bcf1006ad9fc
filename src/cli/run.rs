//! `hull run`: create, start and wait for a container (then delete it).

use super::create::CreateArgs;
use crate::container::lifecycle;
use crate::error::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct RunArgs {
    #[command(flatten)]
    pub create: CreateArgs,
    /// Do not wait for the container.
    #[arg(short = 'd', long)]
    pub detach: bool,
    /// Keep the stopped container (do not delete it).
    #[arg(long)]
    pub keep: bool,
}

pub fn run(root: PathBuf, a: RunArgs) -> Result<i32> {
    lifecycle::run(a.create.options(root), a.detach, a.keep)
}
