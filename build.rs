//! Links the `hull` binary with packed relative relocations (DT_RELR) when
//! the toolchain and C library support them.
//!
//! hull is a position-independent executable, so every pointer in its
//! read-only data is relocated when it starts: about 10,000 R_X86_64_RELATIVE
//! entries, 240 KiB of `.rela.dyn` that the dynamic loader reads (and keeps
//! resident) in every invocation. DT_RELR stores the same relocations in a
//! few KiB. It needs GNU ld >= 2.38 (or lld) and glibc >= 2.36 at run time,
//! so a small C program is linked and run with the flag first; without
//! support the binary is linked as before.

use std::env;
use std::path::PathBuf;
use std::process::Command;

const FLAG: &str = "-Wl,-z,pack-relative-relocs";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    // The release link's function order (Makefile RELEASE_FLAGS).
    println!("cargo:rerun-if-changed=build/hot-functions.txt");
    commit_id();
    println!("cargo:rerun-if-env-changed=CC");
    println!("cargo:rerun-if-env-changed=HULL_NO_RELR");
    let target = env::var("TARGET").unwrap_or_default();
    let host = env::var("HOST").unwrap_or_default();
    // Only where the probe binary can be run (it is the loader that must
    // understand DT_RELR) and only for glibc.
    if target != host || !target.ends_with("-linux-gnu") || env::var_os("HULL_NO_RELR").is_some() {
        return;
    }
    let Some(out) = env::var_os("OUT_DIR").map(PathBuf::from) else {
        return;
    };
    let src = out.join("relr-probe.c");
    let exe = out.join("relr-probe");
    // A pointer in initialised data gives the probe a relative relocation.
    let probe = "static const char *s = \"relr\"; int main(void) { return s[0] != 'r'; }\n";
    if std::fs::write(&src, probe).is_err() {
        return;
    }
    let cc = env::var("CC").unwrap_or_else(|_| "cc".to_string());
    let linked = Command::new(&cc)
        .arg("-pie")
        .arg("-fPIE")
        .arg(FLAG)
        .arg(&src)
        .arg("-o")
        .arg(&exe)
        .output()
        .is_ok_and(|o| o.status.success());
    let runs = linked && Command::new(&exe).status().is_ok_and(|s| s.success());
    if runs {
        println!("cargo:rustc-link-arg-bin=hull={FLAG}");
    } else {
        println!(
            "cargo:warning=linking hull without DT_RELR: {cc} {FLAG} does not link and run here"
        );
    }
}

/// HULL_COMMIT for `hull --version`: the checkout's commit id, or
/// "unknown" outside a git checkout. Rebuilt when HEAD or its branch moves.
fn commit_id() {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    let id = git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=HULL_COMMIT={id}");
    if let Some(head) = git(&["rev-parse", "--git-path", "HEAD"]) {
        println!("cargo:rerun-if-changed={head}");
    }
    if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"])
        && let Some(path) = git(&["rev-parse", "--git-path", &branch])
    {
        println!("cargo:rerun-if-changed={path}");
    }
}
