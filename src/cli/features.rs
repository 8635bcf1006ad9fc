//! `hull features`: what this build implements (features.md), as JSON.

use crate::error::{Error, Result};

pub fn run() -> Result<i32> {
    let text = serde_json::to_string_pretty(&crate::features::document())
        .map_err(|e| Error::msg(e.to_string()))?;
    super::write_stdout("features", &(text + "\n"))
}
