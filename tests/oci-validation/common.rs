//! Helpers of the oci-validation runner: the runtime under test, the
//! statically linked checker, busybox bundles with the checker mounted at
//! /oci, running the runtime with a private --root, and TAP parsing.

#![allow(dead_code)]

#[path = "../support/mod.rs"]
mod support;

pub use support::*;

use serde_json::{Map, Value, json};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

/// Time a single runtime invocation may take before it is killed.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);
/// This suite's name in /tmp paths.
pub const SUITE: &str = "ociv";

// ---------------------------------------------------------------------------
// The checker binary
// ---------------------------------------------------------------------------

/// True if the ELF file at `p` has no PT_INTERP program header (static).
pub fn elf_is_static(p: &Path) -> Result<bool, String> {
    let b = fs::read(p).map_err(|e| format!("read {}: {e}", p.display()))?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return Err(format!("{} is not a 64-bit ELF file", p.display()));
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 4 > b.len() {
            return Err("truncated program headers".into());
        }
        if u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The statically linked checker. `$HULL_OCI_CHECKER` if set (the Makefile
/// sets it for the VM run); otherwise built once per test process with
/// `cargo rustc -p hull-oci-checker --bin hull-oci-checker -- -C target-feature=+crt-static`
/// into target/oci-checker (a separate target dir, so the outer `cargo
/// test` keeps its own artifacts and lock).
pub fn checker() -> &'static Path {
    static CHECKER: OnceLock<PathBuf> = OnceLock::new();
    CHECKER.get_or_init(|| {
        let p = match std::env::var("HULL_OCI_CHECKER") {
            Ok(p) if !p.is_empty() => PathBuf::from(p),
            _ => build_checker(),
        };
        match elf_is_static(&p) {
            Ok(true) => p,
            Ok(false) => panic!(
                "{} is dynamically linked; the checker must be static to run in the busybox rootfs",
                p.display()
            ),
            Err(e) => panic!("checker {}: {e}", p.display()),
        }
    })
}

fn build_checker() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = manifest.join("target").join("oci-checker");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(&manifest)
        .args([
            "rustc",
            "--quiet",
            "-p",
            "hull-oci-checker",
            "--bin",
            "hull-oci-checker",
            "--target-dir",
        ])
        .arg(&target)
        .args(["--", "-C", "target-feature=+crt-static"])
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap_or_else(|e| {
            panic!("run {cargo} to build the checker: {e} (or set HULL_OCI_CHECKER)")
        });
    assert!(
        out.status.success(),
        "building hull-oci-checker failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("debug").join("hull-oci-checker")
}

// ---------------------------------------------------------------------------
// Rootfs and bundles
// ---------------------------------------------------------------------------

/// The rootfs template (`rootfs/`, with the secrets the masked-path checks
/// look for) and the checker beside it, built once per test process.
fn template() -> &'static Path {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| {
        let dir = support::files::template_dir();
        let root = dir.join("rootfs");
        support::files::busybox_rootfs(
            &root,
            &["oci"],
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            "root:x:0:\ntty:x:5:\nusers:x:100:\nuser:x:1000:\nnogroup:x:65534:\n",
        );
        fs::create_dir_all(root.join("etc/secretdir")).unwrap();
        fs::write(root.join("etc/secretdir/key"), "secret\n").unwrap();
        fs::write(root.join("etc/secret"), "secret\n").unwrap();
        let ck = dir.join("hull-oci-checker");
        fs::copy(checker(), &ck).expect("copy the checker");
        fs::set_permissions(&ck, fs::Permissions::from_mode(0o755)).unwrap();
        dir
    })
}

/// The config `runc spec` writes (terminal false), plus a cgroup namespace
/// and a /sys/fs/cgroup mount; the process is the checker.
pub fn default_config() -> Value {
    runc_spec_config(&["/oci/hull-oci-checker"], "oci-validation")
}

impl Bundle {
    /// A bundle: busybox rootfs with a marker file, config.json running the
    /// checker, and a /oci dir (checker, config copy, host.json) that is
    /// bind-mounted read-only; `save` writes all three.
    pub fn new() -> Bundle {
        let mut config = default_config();
        let mut b = Bundle::from_template(&template().join("rootfs"), Value::Null);
        let marker = unique_id("marker");
        fs::write(b.path().join("rootfs/.oci-rootfs-marker"), &marker).unwrap();
        let oci = b.path().join("oci");
        fs::create_dir_all(&oci).unwrap();
        link_or_copy(
            &template().join("hull-oci-checker"),
            &oci.join("hull-oci-checker"),
        );
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/oci", "type": "bind",
            "source": oci.to_string_lossy(), "options": ["rbind", "ro"]
        }));
        b.config = config;
        b.on_save(move |b| {
            let bytes = serde_json::to_vec_pretty(&b.config).unwrap();
            fs::write(b.path().join("oci/config.json"), &bytes).unwrap();
            fs::write(
                b.path().join("oci/host.json"),
                serde_json::to_vec_pretty(&host_facts(&b.config, &marker)).unwrap(),
            )
            .unwrap();
        });
        b
    }
}

/// What the checker compares against from the host's side.
fn host_facts(config: &Value, marker: &str) -> Value {
    let mut ns = Map::new();
    for (ty, f) in [
        ("pid", "pid"),
        ("network", "net"),
        ("mount", "mnt"),
        ("ipc", "ipc"),
        ("uts", "uts"),
        ("user", "user"),
        ("cgroup", "cgroup"),
        ("time", "time"),
    ] {
        if let Ok(m) = fs::metadata(format!("/proc/self/ns/{f}")) {
            ns.insert(ty.into(), json!(m.ino()));
        }
    }
    let mut ns_paths = Map::new();
    for n in config["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default()
    {
        if let (Some(ty), Some(p)) = (n["type"].as_str(), n["path"].as_str())
            && let Ok(m) = fs::metadata(p)
        {
            ns_paths.insert(ty.into(), json!(m.ino()));
        }
    }
    let mut binds = Map::new();
    for m in config["mounts"].as_array().cloned().unwrap_or_default() {
        let opts = m["options"].as_array().cloned().unwrap_or_default();
        let bind = m["type"] == "bind" || opts.iter().any(|o| o == "bind" || o == "rbind");
        if let (true, Some(d), Some(s)) = (bind, m["destination"].as_str(), m["source"].as_str())
            && let Ok(md) = fs::metadata(s)
        {
            binds.insert(d.into(), json!({ "dev": md.dev(), "ino": md.ino() }));
        }
    }
    json!({
        "rootfs_marker": marker,
        "cgroup_version": cgroup_version() as u64,
        "ns": ns,
        "ns_paths": ns_paths,
        "binds": binds,
    })
}

// ---------------------------------------------------------------------------
// Running the checker
// ---------------------------------------------------------------------------

/// Result of one checker run.
pub struct Report {
    pub out: Out,
    pub not_ok: Vec<String>,
    pub planned: Option<usize>,
    pub seen: usize,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.out.success()
            && self.not_ok.is_empty()
            && self.planned == Some(self.seen)
            && self.seen > 0
    }
    pub fn explain(&self) -> String {
        let mut s = String::new();
        if !self.out.success() {
            s += &format!(
                "runtime `run` did not exit 0 (code {:?}, signal {:?}, timed out {})\n",
                self.out.code, self.out.signal, self.out.timed_out
            );
        }
        if self.planned != Some(self.seen) || self.seen == 0 {
            s += &format!(
                "TAP plan {:?} but {} test lines (the checker did not run to the end?)\n",
                self.planned, self.seen
            );
        }
        for l in &self.not_ok {
            s += &format!("FAILED: {l}\n");
        }
        s + &format!("{}", self.out)
    }
}

pub fn parse_tap(out: Out) -> Report {
    let mut not_ok = Vec::new();
    let mut planned = None;
    let mut seen = 0;
    for l in out.stdout.lines() {
        if l.starts_with("not ok ") {
            not_ok.push(l.to_string());
            seen += 1;
        } else if l.starts_with("ok ") {
            seen += 1;
        } else if let Some(n) = l.strip_prefix("1..") {
            planned = n.trim().parse().ok();
        }
    }
    Report {
        out,
        not_ok,
        planned,
        seen,
    }
}

/// Runs the checker in a container made from `b` via `RUNTIME run`.
pub fn run_checker(b: &Bundle) -> Report {
    let rt = Runtime::new();
    let id = unique_id("ociv");
    let out = rt.run_with(b, &id, &[]);
    println!("{}", out.stdout);
    parse_tap(out)
}

/// Runs the checker and fails (printing the TAP output) on any `not ok`.
pub fn check(b: &Bundle) {
    let r = run_checker(b);
    assert!(
        r.passed(),
        "runtime {}:\n{}",
        runtime_bin().display(),
        r.explain()
    );
}
