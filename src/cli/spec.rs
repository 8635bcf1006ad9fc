//! `hull spec`: write a default config.json into a bundle.

use crate::error::Result;
use clap::Args;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct SpecArgs {
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// A config for unprivileged users (user namespace, no network namespace).
    #[arg(id = "spec_rootless", long = "rootless")]
    pub rootless: bool,
}

pub fn run(a: SpecArgs) -> Result<i32> {
    crate::spec::write_default_config(&a.bundle, a.rootless).map(|_| 0)
}
