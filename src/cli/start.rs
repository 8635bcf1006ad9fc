//! `hull start`: release a created container's process.

use crate::container::lifecycle;
use crate::error::Result;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct StartArgs {
    pub id: String,
}

pub fn run(root: &Path, a: StartArgs) -> Result<i32> {
    lifecycle::start(root, &a.id).map(|_| 0)
}
