//! `hull pause`: freeze every process of a container.

use crate::container::control;
use crate::error::Result;
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct PauseArgs {
    pub id: String,
}

pub fn run(root: &Path, a: PauseArgs) -> Result<i32> {
    control::set_paused(root, &a.id, true).map(|_| 0)
}
