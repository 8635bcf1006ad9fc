//! `hull state`: the container's OCI state as JSON.

use crate::container::Container;
use crate::error::{Error, Result};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct StateArgs {
    pub id: String,
}

pub fn run(root: &Path, a: StateArgs) -> Result<i32> {
    let c = Container::load(root, &a.id)?;
    let text =
        serde_json::to_string_pretty(&c.public_state()).map_err(|e| Error::msg(e.to_string()))?;
    super::write_stdout("state", &(text + "\n"))
}
