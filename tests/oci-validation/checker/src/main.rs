//! hull-oci-checker: runs as the process of an OCI container and verifies,
//! from inside, every requirement of the container's config.json that it
//! can observe. Output is TAP: one `ok N - <section>: <what>` or
//! `not ok N - <section>: <what> (expected X, found Y)` per check, then
//! `1..N`. Exit status 0 when every check passed, 1 otherwise.
//!
//! Inputs (bind-mounted read-only by the oci-validation runner):
//! * `/oci/config.json`: the exact config the container was created from;
//! * `/oci/host.json`: facts only the host knows: the runner's namespace
//!   inodes, the inodes of `linux.namespaces[].path`, device/inode of the
//!   sources of bind mounts, the rootfs marker and the cgroup version.
//!
//! The checker must link statically (it runs in a busybox rootfs) and uses
//! only std, libc and serde_json.

mod filesystem;
mod linux;
mod process;
mod sys;
mod tap;

use filesystem::*;
use linux::*;
use process::*;
use serde_json::Value;
use std::fs;
use std::path::Path;
use sys::mountinfo;
use tap::Tap;

const OCI_DIR: &str = "/oci";

fn main() {
    let mut t = Tap { n: 0, failed: 0 };
    let cfg: Value = match fs::read(Path::new(OCI_DIR).join("config.json"))
        .map(|b| serde_json::from_slice(&b))
    {
        Ok(Ok(v)) => v,
        other => {
            t.check(
                "checker",
                "read /oci/config.json",
                false,
                "a JSON config",
                &format!("{other:?}"),
            );
            println!("1..{}", t.n);
            std::process::exit(1);
        }
    };
    let host: Value = fs::read(Path::new(OCI_DIR).join("host.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let only: Vec<String> = std::env::args().skip(1).collect();
    let want = |g: &str| only.is_empty() || only.iter().any(|o| o == g);
    let mi = mountinfo();
    if want("root") {
        check_root(&mut t, &cfg, &host, &mi);
    }
    if want("mounts") {
        check_mounts(&mut t, &cfg, &host, &mi);
    }
    if want("namespaces") {
        check_namespaces(&mut t, &cfg, &host);
    }
    if want("uts") {
        check_uts(&mut t, &cfg);
    }
    if want("process") {
        check_process(&mut t, &cfg);
    }
    if want("sysctl") {
        check_sysctl(&mut t, &cfg);
    }
    if want("devices") {
        check_devices(&mut t, &cfg);
    }
    if want("paths") {
        check_masked_readonly(&mut t, &cfg);
    }
    if want("propagation") {
        check_rootfs_propagation(&mut t, &cfg, &mi);
    }
    if want("cgroups") {
        check_cgroups(&mut t, &cfg, &host);
    }
    if want("time") {
        check_time_offsets(&mut t, &cfg);
    }
    if want("personality") {
        check_personality(&mut t, &cfg);
    }
    if want("seccomp") {
        check_seccomp(&mut t, &cfg);
    }
    println!("1..{}", t.n);
    std::process::exit(if t.failed == 0 { 0 } else { 1 });
}
