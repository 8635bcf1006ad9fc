//! `hull check`: report every problem of a bundle without running anything.

use crate::error::{Error, Result};
use clap::Args;
use std::io::Write;
use std::path::PathBuf;

#[derive(Args, Debug)]
pub struct CheckArgs {
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    pub bundle: PathBuf,
    /// Output format: text (one line per problem) or json.
    #[arg(short = 'f', long, default_value = "text", value_parser = ["text", "json"])]
    pub format: String,
}

/// Every problem, one per line (or as JSON); exit 1 when any is an error.
pub fn run(a: CheckArgs) -> Result<i32> {
    let (file, report) = crate::check::check_bundle(&a.bundle, crate::check::Mode::Full);
    let text = if a.format == "json" {
        let mut t = serde_json::to_string_pretty(&report.to_json())
            .map_err(|e| Error::msg(e.to_string()))?;
        t.push('\n');
        t
    } else {
        report.to_text() + &report.summary(&file)
    };
    // A closed pipe (e.g. `| head`) is not worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(if report.errors() > 0 { 1 } else { 0 })
}
