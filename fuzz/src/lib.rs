//! What each fuzz target feeds to hull, shared by the cargo-fuzz targets in
//! fuzz_targets/ and by the seed-corpus replay test (tests/fuzz_replay.rs in
//! the main package), so both exercise exactly the same calls.
//!
//! Every function takes raw bytes and must never panic; errors are fine.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// One target's entry point.
pub type Target = fn(&[u8]);

/// The fuzz targets, by name (the directory names under fuzz/corpus/).
pub const TARGETS: &[(&str, Target)] = &[
    ("spec_parse", spec_parse),
    ("process_parse", process_parse),
    ("mount_options", mount_options),
    ("signal_parse", signal_parse),
    ("container_id", container_id),
    ("seccomp_compile", seccomp_compile),
    ("check_text", check_text),
    ("state_decode", state_decode),
];

/// config.json: `hull::spec::parse`.
pub fn spec_parse(data: &[u8]) {
    let _ = hull::spec::parse("config.json", data);
}

/// `exec --process` file: `hull::spec::parse_process`.
pub fn process_parse(data: &[u8]) {
    let _ = hull::spec::parse_process("process.json", data);
}

/// The option list of one mount: the input split on ',' and newlines.
pub fn mount_options(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let opts: Vec<String> = text.split([',', '\n']).map(str::to_string).collect();
    let o = hull::rootfs::options::parse(&opts);
    let _ = o.is_bind();
    let _ = o.data();
}

/// `kill` / `--stop-signal`-style signal names and numbers.
pub fn signal_parse(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = hull::process::signals::parse(s);
    }
}

/// Container ids from the command line.
pub fn container_id(data: &[u8]) {
    if let Ok(s) = std::str::from_utf8(data) {
        let _ = hull::container::validate_id(s);
    }
}

/// `linux.seccomp` compiled to BPF (the input is the seccomp object as JSON).
pub fn seccomp_compile(data: &[u8]) {
    let Ok(s) = serde_json::from_slice::<oci_spec::runtime::LinuxSeccomp>(data) else {
        return;
    };
    if let Ok(f) = hull::security::seccomp::compile(&s) {
        let _ = (f.len(), f.program().len(), f.flags(), f.notify());
    }
}

/// `hull check`'s passes over config.json text, for an empty bundle dir.
pub fn check_text(data: &[u8]) {
    let mut report = hull::check::Report::default();
    hull::check::check_text(bundle_dir(), data, hull::check::Mode::Full, &mut report);
    let _ = report.to_text();
    let _ = report.to_json();
}

/// state.json as hull reads it back.
pub fn state_decode(data: &[u8]) {
    if let Ok(s) = serde_json::from_slice::<hull::container::State>(data) {
        let _ = serde_json::to_vec(&s);
    }
}

/// An empty directory standing in for the bundle of `check_text`.
fn bundle_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let d = std::env::temp_dir().join(format!("hull-fuzz-bundle-{}", std::process::id()));
        std::fs::create_dir_all(&d).expect("create the empty bundle dir");
        d
    })
}
