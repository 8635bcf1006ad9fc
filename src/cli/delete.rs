//! `hull delete`: remove a stopped (or, with --force, any) container.

use crate::container::lifecycle;
use crate::error::Result;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct DeleteArgs {
    /// Kill the container first if it is running.
    #[arg(short = 'f', long)]
    pub force: bool,
    pub id: String,
}

pub fn run(root: &Path, a: DeleteArgs) -> Result<i32> {
    lifecycle::delete(root, &a.id, a.force).map(|_| 0)
}
