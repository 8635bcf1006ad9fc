//! `hull ps`: the processes of a container.

use crate::container::control;
use crate::error::{Error, Result};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct PsArgs {
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    pub id: String,
    /// Options passed to ps(1) for the table format (default -ef).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

/// JSON is the pid list; the table is ps(1)'s output for those pids.
pub fn run(root: &Path, a: PsArgs) -> Result<i32> {
    let pids = control::pids(root, &a.id)?;
    if a.format == "json" {
        let json = serde_json::to_string(&pids).map_err(|e| Error::msg(e.to_string()))?;
        return super::write_stdout("ps", &(json + "\n"));
    }
    let args: Vec<String> = if a.ps_args.is_empty() {
        vec!["-ef".into()]
    } else {
        a.ps_args
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::msg(format!("ps: run ps(1): {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::msg("ps: ps(1) output has no PID column"))?;
    let mut out = format!("{header}\n");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            out.push_str(line);
            out.push('\n');
        }
    }
    super::write_stdout("ps", &out)
}
