//! `hull events`: OOM notifications and resource usage as JSON lines.

use crate::container::control;
use crate::error::{Error, Result};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct EventsArgs {
    /// Print one stats object and exit.
    #[arg(long)]
    pub stats: bool,
    /// Time between stats objects (e.g. 5s, 500ms).
    #[arg(long, default_value = "5s")]
    pub interval: String,
    pub id: String,
}

impl EventsArgs {
    pub fn check(&self) -> Result<()> {
        if self.stats {
            return Ok(());
        }
        parse_duration(&self.interval).map(drop)
    }
}

pub fn run(root: &Path, a: EventsArgs) -> Result<i32> {
    if a.stats {
        let data = control::stats(root, &a.id)?;
        let line = control::event_line("stats", &a.id, Some(&data));
        return super::write_stdout("events", &(line + "\n"));
    }
    let iv = parse_duration(&a.interval)?;
    control::events(root, &a.id, Some(iv), &mut std::io::stdout().lock()).map(|_| 0)
}

/// "5s", "500ms", "1m", or plain seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let bad = || Error::msg(format!("--interval {s:?}: use a duration like 5s or 500ms"));
    let (num, mult_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000.0)
    } else {
        (s, 1000.0)
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    if v.is_nan() || v <= 0.0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_millis((v * mult_ms) as u64))
}
