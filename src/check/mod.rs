//! `hull check`: reads a bundle without running anything and reports every
//! problem it can find, each located by its JSON pointer in config.json.
//!
//! Three passes over the raw JSON value (not the typed spec, so that one
//! bad field does not hide the others):
//! - [`schema`]: the shape rules of the OCI JSON schema;
//! - `rules`: rules between fields, which touch nothing of the host;
//! - `host`: what the bundle asks of this host and its rootfs.
//!
//! The rules of the last two live by config section, one file each:
//! `root.rs` (ociVersion, root), `process.rs`, `mounts.rs`,
//! `namespaces.rs` (with id mappings, time offsets, net devices, sysctls),
//! `resources.rs` (devices, linux.resources, cgroups), `seccomp.rs` and
//! `hooks.rs`. Every rule about config.json is here once: `create` runs
//! these checks as its pre-flight and the typed parser (`spec::parse`)
//! adds only what serde refuses.
//!
//! `create` runs the cheap subset ([`Mode::Preflight`]) before it forks, so
//! a bundle that would fail deep inside the container init fails early with
//! the same words `hull check` prints.

pub mod elf;
mod hooks;
mod mounts;
mod namespaces;
mod process;
mod resources;
mod root;
pub mod schema;
mod seccomp;

use crate::error::{Error, Result};
use serde::Serialize;
use serde_json::Value;
use std::path::{Path, PathBuf};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

#[derive(Clone, Debug, Serialize)]
pub struct Problem {
    /// JSON pointer into config.json ("/" for the file as a whole).
    pub path: String,
    pub severity: Severity,
    pub message: String,
    pub hint: Option<String>,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{sev}: {}: {}", self.path, self.message)?;
        if let Some(h) = &self.hint {
            write!(f, " (hint: {h})")?;
        }
        Ok(())
    }
}

#[derive(Default, Debug)]
pub struct Report {
    pub problems: Vec<Problem>,
}

impl Report {
    /// The closing line of `hull check`'s text output.
    pub fn summary(&self, file: &str) -> String {
        let (e, w) = (self.errors(), self.warnings());
        if e + w == 0 {
            format!("{file}: no problems found\n")
        } else {
            format!("{file}: {e} error(s), {w} warning(s)\n")
        }
    }

    pub fn push(
        &mut self,
        severity: Severity,
        path: &str,
        message: impl Into<String>,
        hint: Option<String>,
    ) {
        let path = if path.is_empty() { "/" } else { path };
        self.problems.push(Problem {
            path: path.to_string(),
            severity,
            message: message.into(),
            hint,
        });
    }

    pub fn error(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Error, path, message, hint)
    }

    pub fn warning(&mut self, path: &str, message: impl Into<String>, hint: Option<String>) {
        self.push(Severity::Warning, path, message, hint)
    }

    pub fn errors(&self) -> usize {
        self.problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count()
    }

    pub fn warnings(&self) -> usize {
        self.problems.len() - self.errors()
    }

    /// True when an error is already reported at `path`, inside it or around it.
    fn has_error_near(&self, path: &str) -> bool {
        self.problems.iter().any(|p| {
            p.severity == Severity::Error
                && (p.path == path
                    || p.path.starts_with(&format!("{path}/"))
                    || path.starts_with(&format!("{}/", p.path)))
        })
    }

    pub fn to_json(&self) -> Value {
        serde_json::json!({
            "problems": self.problems,
            "errors": self.errors(),
            "warnings": self.warnings(),
        })
    }

    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for p in &self.problems {
            s.push_str(&p.to_string());
            s.push('\n');
        }
        s
    }
}

/// How much to check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// Everything (`hull check`).
    Full,
    /// What `create` runs before forking: no walks of the rootfs beyond
    /// resolving process.args[0], no cgroup probing.
    Preflight,
}

/// What the passes share.
pub struct Ctx<'a> {
    pub cfg: &'a Value,
    /// The bundle directory (absolute).
    pub bundle: &'a Path,
    /// The rootfs when root.path names an existing directory.
    pub rootfs: Option<PathBuf>,
    pub mode: Mode,
}

impl Ctx<'_> {
    pub fn get(&self, ptr: &str) -> Option<&Value> {
        self.cfg.pointer(ptr)
    }

    pub fn str(&self, ptr: &str) -> Option<&str> {
        self.get(ptr).and_then(Value::as_str)
    }

    /// The entries of an array at `ptr` (none when absent or not an array).
    pub fn items(&self, ptr: &str) -> impl Iterator<Item = (usize, &Value)> {
        self.get(ptr)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
    }
}

/// Checks the bundle in `dir`; returns config.json's path (for messages) and the report.
pub fn check_bundle(dir: &Path, mode: Mode) -> (String, Report) {
    let mut report = Report::default();
    let shown = dir.join(crate::spec::CONFIG).display().to_string();
    let dir = match std::path::absolute(dir).and_then(std::fs::canonicalize) {
        Ok(d) => d,
        Err(e) => {
            report.error(
                "/",
                format!("bundle {}: {}", dir.display(), crate::error::io_words(&e)),
                Some("--bundle must name the directory holding config.json".into()),
            );
            return (shown, report);
        }
    };
    let file = dir.join(crate::spec::CONFIG);
    let file_name = file.display().to_string();
    let text = match std::fs::read(&file) {
        Ok(t) => t,
        Err(e) => {
            report.error(
                "/",
                format!("{file_name}: {}", crate::error::io_words(&e)),
                Some("write one with `hull spec` and edit it".into()),
            );
            return (file_name, report);
        }
    };
    check_text(&dir, &text, mode, &mut report);
    (file_name, report)
}

/// Checks config.json text belonging to the bundle `dir`.
pub fn check_text(dir: &Path, text: &[u8], mode: Mode, report: &mut Report) {
    let mut cfg: Value = match serde_json::from_slice(text) {
        Ok(v) => v,
        Err(e) => {
            let hint = match e.classify() {
                serde_json::error::Category::Eof => {
                    "the file ends early: a closing brace, bracket or quote is missing".to_string()
                }
                _ => format!(
                    "look for a missing comma, quote or brace near line {}",
                    e.line()
                ),
            };
            report.error("/", format!("invalid JSON: {e}"), Some(hint));
            return;
        }
    };
    if !cfg.is_object() {
        report.error(
            "/",
            "expected a JSON object at the top level",
            Some("config.json holds one object: {\"ociVersion\": ..., ...}".into()),
        );
        return;
    }
    // 0 in these fields means "not set" (engines write it): nothing to check.
    crate::spec::clear_unset_resources_json(&mut cfg);
    schema::check(&cfg, report);
    let rootfs = cfg
        .pointer("/root/path")
        .and_then(Value::as_str)
        .map(|p| dir.join(p))
        .filter(|p| p.is_dir())
        .map(|p| std::fs::canonicalize(&p).unwrap_or(p));
    let ctx = Ctx {
        cfg: &cfg,
        bundle: dir,
        rootfs,
        mode,
    };
    rules(&ctx, report);
    host(&ctx, report);
    // Anything the typed parser refuses that hull's own checks missed
    // (`create` runs that parser right after its pre-flight anyway).
    if mode == Mode::Full
        && let Err(Error::Config { pointer, msg, .. }) = crate::spec::parse("config.json", text)
        && !report.has_error_near(&pointer)
    {
        report.error(&pointer, msg, None);
    }
    // Group the problems by field: pointers in order, array indexes as numbers.
    report.problems.sort_by_key(|p| pointer_key(&p.path));
}

/// The rules between fields of config.json that the schema cannot
/// express. Nothing here touches the host.
fn rules(c: &Ctx, r: &mut Report) {
    root::version(c, r);
    process::process(c, r);
    mounts::mounts(c, r);
    namespaces::namespaces(c, r);
    namespaces::id_mappings(c, r);
    namespaces::sysctls(c, r);
    seccomp::seccomp(c, r);
    resources::devices(c, r);
    mounts::root_propagation(c, r);
    resources::resources(c, r);
    hooks::hooks(c, r);
}

/// What the bundle asks of this host: the rootfs and the program in it,
/// filesystem types, bind sources, namespace files, capabilities, LSMs,
/// hooks and (in full checks) cgroup controllers.
fn host(c: &Ctx, r: &mut Report) {
    root::root(c, r);
    if c.rootfs.is_some() {
        process::program(c, r);
    }
    mounts::host_mounts(c, r);
    namespaces::host_namespaces(c, r);
    process::capabilities(c, r);
    process::lsm(c, r);
    hooks::host_hooks(c, r);
    if c.mode == Mode::Full {
        resources::cgroups(c, r);
    }
}

fn pointer_key(p: &str) -> Vec<(u64, String)> {
    p.split('/')
        .map(|s| match s.parse::<u64>() {
            Ok(n) => (n, String::new()),
            Err(_) => (u64::MAX, s.to_string()),
        })
        .collect()
}

/// `create`'s pre-flight: the cheap checks, before anything is made. The
/// first error is returned in the words `hull check` uses for it; warnings
/// go to the debug log.
pub fn preflight(dir: &Path) -> Result<()> {
    let started = std::time::Instant::now();
    let (file, report) = check_bundle(dir, Mode::Preflight);
    for p in &report.problems {
        if p.severity == Severity::Warning {
            crate::logging::debug(format!("check: {p}"));
        }
    }
    crate::logging::debug(format!(
        "check: pre-flight of {} found {} error(s), {} warning(s) in {:?}",
        file,
        report.errors(),
        report.warnings(),
        started.elapsed()
    ));
    match report
        .problems
        .into_iter()
        .find(|p| p.severity == Severity::Error)
    {
        None => Ok(()),
        Some(p) => {
            let mut msg = p.message;
            if let Some(h) = p.hint {
                msg.push_str(&format!(" (hint: {h})"));
            }
            Err(Error::config(&file, &p.path, msg))
        }
    }
}

/// The closest candidate to `s` (by edit distance, case-insensitive), if close enough.
pub fn suggest<'a>(s: &str, candidates: impl Iterator<Item = &'a str>) -> Option<&'a str> {
    let low = s.to_ascii_lowercase();
    candidates
        .map(|c| (distance(&low, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= (c.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

/// Edit distance counting a swap of two neighbours as one edit ("pdi" -> "pid").
fn distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    d[0] = (0..=b.len()).collect();
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = v;
        }
    }
    d[a.len()][b.len()]
}

/// Runs one rule function on a config, for the rules' unit tests: the
/// problems as (pointer, severity) pairs.
#[cfg(test)]
pub(crate) fn run_rule(cfg: Value, rule: fn(&Ctx, &mut Report)) -> Vec<(String, Severity)> {
    let ctx = Ctx {
        cfg: &cfg,
        bundle: Path::new("/nonexistent-bundle"),
        rootfs: None,
        mode: Mode::Preflight,
    };
    let mut r = Report::default();
    rule(&ctx, &mut r);
    r.problems
        .into_iter()
        .map(|p| (p.path, p.severity))
        .collect()
}

/// The pointers of the errors a rule reports.
#[cfg(test)]
pub(crate) fn errors_of(cfg: Value, rule: fn(&Ctx, &mut Report)) -> Vec<String> {
    run_rule(cfg, rule)
        .into_iter()
        .filter(|(_, s)| *s == Severity::Error)
        .map(|(p, _)| p)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The default configs of `hull spec` pass the typed parser and every
    /// rule between fields.
    #[test]
    fn default_config_parses_and_validates() {
        for rootless in [false, true] {
            let v = crate::spec::default_config(rootless);
            let text = serde_json::to_vec(&v).unwrap();
            crate::spec::parse("config.json", &text).unwrap();
            let ctx = Ctx {
                cfg: &v,
                bundle: Path::new("/"),
                rootfs: None,
                mode: Mode::Full,
            };
            let mut r = Report::default();
            rules(&ctx, &mut r);
            assert_eq!(r.errors(), 0, "{}", r.to_text());
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(
            suggest("mount", ["mounts", "root"].into_iter()),
            Some("mounts")
        );
        assert_eq!(suggest("pdi", ["pid", "ipc"].into_iter()), Some("pid"));
        assert_eq!(suggest("zzzzzz", ["pid", "ipc"].into_iter()), None);
    }

    #[test]
    fn syntax_error_has_line_and_column() {
        let mut r = Report::default();
        check_text(
            Path::new("/nonexistent"),
            b"{\n \"a\": 1,\n oops\n}",
            Mode::Full,
            &mut r,
        );
        assert_eq!(r.errors(), 1);
        assert!(r.problems[0].message.contains("line 3 column 2"), "{r:?}");
    }

    #[test]
    fn text_line_shape() {
        let p = Problem {
            path: "/mounts/3/destination".into(),
            severity: Severity::Error,
            message: "\"proc\" is not an absolute path".into(),
            hint: Some("use \"/proc\"".into()),
        };
        assert_eq!(
            p.to_string(),
            "error: /mounts/3/destination: \"proc\" is not an absolute path (hint: use \"/proc\")"
        );
    }
}
