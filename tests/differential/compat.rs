//! The table of known divergences in docs/compat.md (between the markers
//! `<!-- differential:begin -->` and `<!-- differential:end -->`):
//! `| scenario | observation | kind | reason |`, `*` matching any text.

use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// hull differs on purpose (spec text, a security fix runc lacks).
    Deliberate,
    /// A known hull bug not fixed yet: the suite passes, the row is a
    /// to-do, and a NOTE asks for its removal once fixed.
    Bug,
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Kind::Deliberate => "deliberate",
            Kind::Bug => "bug",
        })
    }
}

#[derive(Debug, Clone)]
pub struct Row {
    pub scenario: String,
    pub observation: String,
    pub kind: Kind,
    pub reason: String,
}

#[derive(Debug)]
pub struct Table {
    pub rows: Vec<Row>,
}

pub const BEGIN: &str = "<!-- differential:begin -->";
pub const END: &str = "<!-- differential:end -->";

/// Parse the table out of docs/compat.md text; errors name the line.
pub fn parse(text: &str) -> Result<Table, String> {
    let start = text
        .find(BEGIN)
        .ok_or_else(|| format!("docs/compat.md: marker {BEGIN} missing"))?;
    let end = text
        .find(END)
        .ok_or_else(|| format!("docs/compat.md: marker {END} missing"))?;
    let before = text[..start].lines().count();
    let mut rows = Vec::new();
    for (i, line) in text[start + BEGIN.len()..end].lines().enumerate() {
        let line = line.trim();
        if !line.starts_with('|') {
            continue;
        }
        let cells: Vec<String> = line
            .trim_matches('|')
            .split('|')
            .map(|c| c.trim().trim_matches('`').to_string())
            .collect();
        if cells.len() != 4 {
            return Err(format!(
                "docs/compat.md line {}: a row needs 4 cells (scenario, observation, kind, reason): {line}",
                before + i
            ));
        }
        if cells[0] == "scenario" || cells[0].starts_with("--") {
            continue;
        }
        let kind = match cells[2].as_str() {
            "deliberate" => Kind::Deliberate,
            "bug" => Kind::Bug,
            k => {
                return Err(format!(
                    "docs/compat.md line {}: kind must be `deliberate` or `bug`, not `{k}`",
                    before + i
                ));
            }
        };
        if cells[3].is_empty() {
            return Err(format!(
                "docs/compat.md line {}: a divergence needs its reason",
                before + i
            ));
        }
        rows.push(Row {
            scenario: cells[0].clone(),
            observation: cells[1].clone(),
            kind,
            reason: cells[3].clone(),
        });
    }
    Ok(Table { rows })
}

pub fn table() -> &'static Table {
    static T: OnceLock<Table> = OnceLock::new();
    T.get_or_init(|| {
        let p = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/compat.md");
        let text = std::fs::read_to_string(p).unwrap_or_else(|e| panic!("read {p}: {e}"));
        parse(&text).unwrap_or_else(|e| panic!("{e}"))
    })
}

impl Table {
    pub fn lookup(&self, scenario: &str, key: &str) -> Option<&Row> {
        self.rows
            .iter()
            .find(|r| glob(&r.scenario, scenario) && glob(&r.observation, key))
    }
    /// Rows naming exactly this scenario: the suite checks each still
    /// matches a divergence.
    pub fn exact_rows(&self, scenario: &str) -> impl Iterator<Item = &Row> {
        self.rows.iter().filter(move |r| r.scenario == scenario)
    }
}

/// `*` matches any run of characters; everything else literally.
pub fn glob(pattern: &str, s: &str) -> bool {
    let parts: Vec<&str> = pattern.split('*').collect();
    if parts.len() == 1 {
        return pattern == s;
    }
    let mut rest = s;
    for (i, p) in parts.iter().enumerate() {
        if i == 0 {
            match rest.strip_prefix(p) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(p);
        } else {
            match rest.find(p) {
                Some(at) => rest = &rest[at + p.len()..],
                None => return false,
            }
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_matches() {
        assert!(glob("*", "x"));
        assert!(glob("run.*", "run.caps"));
        assert!(!glob("run.*", "exec.caps"));
        assert!(glob("*.state.ociVersion", "state#2.state.ociVersion"));
        assert!(glob("a*c*e", "abcde"));
        assert!(!glob("a*c*e", "abcdf"));
        assert!(glob("exact", "exact"));
    }

    #[test]
    fn table_rows_parse_and_errors_name_the_line() {
        let t = format!(
            "x\n{BEGIN}\n| scenario | observation | kind | reason |\n|---|---|---|---|\n\
             | `a` | `b.*` | deliberate | why |\n{END}\n"
        );
        let tb = parse(&t).unwrap();
        assert_eq!(tb.rows.len(), 1);
        assert!(tb.lookup("a", "b.c").is_some());
        let bad = format!("{BEGIN}\n| a | b | maybe | why |\n{END}");
        assert!(parse(&bad).unwrap_err().contains("kind must be"));
        let noreason = format!("{BEGIN}\n| a | b | bug |  |\n{END}");
        assert!(parse(&noreason).unwrap_err().contains("reason"));
    }
}
