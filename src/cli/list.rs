//! `hull list`: the containers under the state root.

use crate::container::{self, PublicState};
use crate::error::{Error, Result};
use clap::Args;
use std::path::Path;

#[derive(Args, Debug)]
pub struct ListArgs {
    #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
    pub format: String,
    /// Print only ids.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

/// Output is written in one piece.
pub fn run(root: &Path, a: ListArgs) -> Result<i32> {
    let containers = container::peek_all(root)?;
    let out = if a.quiet {
        let mut out = String::new();
        for c in &containers {
            out.push_str(&c.state.id);
            out.push('\n');
        }
        out
    } else {
        let states: Vec<_> = containers.iter().map(|c| c.public_state()).collect();
        if a.format == "json" {
            let mut text = serde_json::to_string(&states).map_err(|e| Error::msg(e.to_string()))?;
            text.push('\n');
            text
        } else {
            list_table(&states)
        }
    };
    super::write_stdout("list", &out)
}

fn list_table(states: &[PublicState<'_>]) -> String {
    let mut rows = vec![
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
            .map(String::from)
            .to_vec(),
    ];
    for s in states {
        rows.push(vec![
            s.id.to_string(),
            s.pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.to_string(),
            s.owner.clone(),
        ]);
    }
    table(&rows)
}

/// Left-aligned columns, at least 12 wide with 3 spaces of padding.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, |r| r.len());
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_are_padded() {
        let rows = vec![
            vec!["ID".to_string(), "PID".to_string()],
            vec!["a".to_string(), "1".to_string()],
        ];
        assert_eq!(table(&rows), format!("{:<12}PID\n{:<12}1\n", "ID", "a"));
    }
}
