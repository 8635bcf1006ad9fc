//! What each fuzz target feeds to hull, shared by the cargo-fuzz targets in
//! fuzz_targets/ and by the seed-corpus replay test (tests/fuzz_replay.rs in
//! the main package), so both exercise exactly the same calls.
//!
//! Every function takes raw bytes and must never panic; errors are fine.

use std::ffi::OsString;
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
    ("update_resources", update_resources),
    ("sync_decode", sync_decode),
    ("cli_args", cli_args),
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
    let o = hull::mount_options::parse(&opts);
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

/// `hull update`: the `-r` resources JSON (the input up to the first NUL),
/// with update's flags (the rest, NUL-separated) laid over it, decoded and
/// checked as `update` does, then merged onto the recorded resources; and
/// the pure conversions the cgroup managers make of the result.
pub fn update_resources(data: &[u8]) {
    let mut parts = data.split(|b| *b == 0);
    let json = parts.next().unwrap_or_default();
    let flags = parts.map(os_arg).chain([OsString::from("fuzz")]);
    let args = hull::cli::UpdateArgs::parse_from(flags).unwrap_or_default();
    let changes = match args.changes(Some(json)) {
        Ok(c) => c,
        Err(e) => return drop(e.to_string()),
    };
    let Ok(merged) = hull::cgroups::resources::merge(&recorded(), &changes) else {
        return;
    };
    let _ = hull::cgroups::resources::is_empty_ignoring_devices(&merged);
    if let Some(m) = merged.memory()
        && let Some(swap) = m.swap()
    {
        let _ = hull::cgroups::resources::swap_to_v2(swap, m.limit());
    }
    if let Some(w) = merged.block_io().as_ref().and_then(|b| b.weight()) {
        let _ = hull::cgroups::resources::blkio_weight_to_io(w);
    }
}

/// One datagram of the init stages' sync protocol as the receiver decodes
/// it; what decodes must encode back to the same message.
pub fn sync_decode(data: &[u8]) {
    use hull::process::sync::{Msg, decode};
    let m = match decode(data) {
        Ok(m) => m,
        Err(e) => return drop(e.to_string()),
    };
    let again: Msg = decode(&serde_json::to_vec(&m).unwrap()).unwrap();
    assert_eq!(m, again, "a sync message does not survive encode + decode");
}

/// A command line: the input split on NUL into arguments after "hull",
/// parsed by hull's clap definition and checked the way the command reads
/// its flag values, without running it.
pub fn cli_args(data: &[u8]) {
    let argv = std::iter::once(OsString::from("hull")).chain(data.split(|b| *b == 0).map(os_arg));
    match hull::cli::parse_args(argv) {
        Ok(cli) => {
            let _ = cli.check().map_err(|e| e.to_string());
        }
        Err(e) => drop(e.to_string()),
    }
}

/// One argument, byte for byte (a command line need not be UTF-8).
fn os_arg(b: &[u8]) -> OsString {
    use std::os::unix::ffi::OsStrExt;
    std::ffi::OsStr::from_bytes(b).to_os_string()
}

/// Resources as a container records them, for `update_resources` to merge onto.
fn recorded() -> oci_spec::runtime::LinuxResources {
    serde_json::from_str(
        r#"{"devices":[{"allow":false,"access":"rwm"}],"memory":{"limit":67108864,"swap":134217728},
            "cpu":{"shares":1024,"cpus":"0"},"pids":{"limit":64}}"#,
    )
    .expect("the recorded resources parse")
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
