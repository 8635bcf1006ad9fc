//! root, mounts, devices, masked and read-only paths, rootfs propagation.

use crate::sys::*;
use crate::tap::Tap;
use serde_json::Value;
use std::ffi::CString;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

pub(crate) fn check_root(t: &mut Tap, cfg: &Value, host: &Value, mi: &[MountEntry]) {
    let s = "config.md#root";
    let marker = host["rootfs_marker"].as_str().unwrap_or("");
    let found = fs::read_to_string("/.oci-rootfs-marker").unwrap_or_default();
    t.eq(
        s,
        "root.path is the container's / (marker file)",
        marker.to_string(),
        found.trim().to_string(),
    );
    let ro = cfg["root"]["readonly"].as_bool().unwrap_or(false);
    let vfs = statvfs_ro("/");
    t.eq(
        s,
        &format!("root.readonly={ro}: / mounted read-only"),
        Ok(ro),
        vfs,
    );
    let probe = CString::new("/.oci-write-probe").unwrap();
    let fd = unsafe { libc::open(probe.as_ptr(), libc::O_CREAT | libc::O_WRONLY, 0o600) };
    let e = if fd < 0 { errno() } else { 0 };
    if fd >= 0 {
        unsafe {
            libc::close(fd);
            libc::unlink(probe.as_ptr());
        }
    }
    if ro {
        t.check(
            s,
            "root.readonly=true: creating a file in / fails with EROFS",
            e == libc::EROFS,
            "EROFS",
            &errname(e),
        );
    } else if unsafe { libc::geteuid() } == 0 {
        t.check(
            s,
            "root.readonly=false: creating a file in / succeeds",
            e == 0,
            "success",
            &errname(e),
        );
    }
    if mount_at(mi, "/").is_none() {
        t.check(s, "/ is a mount point", false, "a mount at /", "none");
    }
}

pub(crate) fn check_mounts(t: &mut Tap, cfg: &Value, host: &Value, mi: &[MountEntry]) {
    let s = "config.md#mounts";
    let Some(mounts) = cfg["mounts"].as_array() else {
        return;
    };
    let cgroup_v = host["cgroup_version"].as_u64().unwrap_or(1);
    for m in mounts {
        let dest = m["destination"].as_str().unwrap_or("?");
        let ty = m["type"].as_str().unwrap_or("");
        let src = m["source"].as_str().unwrap_or("");
        let opts: Vec<&str> = m["options"]
            .as_array()
            .map(|a| a.iter().filter_map(|o| o.as_str()).collect())
            .unwrap_or_default();
        let is_bind = ty == "bind" || opts.iter().any(|o| *o == "bind" || *o == "rbind");
        let Some(e) = mount_at(mi, dest) else {
            t.check(
                s,
                &format!("{dest} is mounted"),
                false,
                &format!("a {ty} mount"),
                "no mount",
            );
            continue;
        };
        t.check(s, &format!("{dest} is mounted"), true, "", "");
        if is_bind {
            // Source: same device and inode as the host path.
            let exp = &host["binds"][dest];
            match fs::metadata(dest) {
                Ok(md) => t.eq(
                    s,
                    &format!("{dest}: bind source {src} (dev/inode)"),
                    (exp["dev"].as_u64(), exp["ino"].as_u64()),
                    (Some(md.dev()), Some(md.ino())),
                ),
                Err(err) => t.check(
                    s,
                    &format!("{dest}: bind source {src}"),
                    false,
                    "stat ok",
                    &err.to_string(),
                ),
            }
        } else if ty == "cgroup" {
            let ok = if cgroup_v == 2 {
                e.fstype == "cgroup2"
            } else {
                e.fstype == "tmpfs" || e.fstype == "cgroup"
            };
            t.check(
                s,
                &format!("{dest}: type cgroup (v{cgroup_v})"),
                ok,
                if cgroup_v == 2 {
                    "cgroup2"
                } else {
                    "tmpfs or cgroup"
                },
                &e.fstype,
            );
        } else {
            if !ty.is_empty() {
                t.eq(s, &format!("{dest}: type"), ty, e.fstype.as_str());
            }
            if !src.is_empty() {
                t.eq(s, &format!("{dest}: source"), src, e.source.as_str());
            }
        }
        let has = |o: &str| e.mount_opts.iter().any(|x| x == o);
        for o in &opts {
            let what = format!("{dest}: option {o}");
            match *o {
                "ro" => t.check(s, &what, has("ro"), "ro", &e.mount_opts.join(",")),
                "rw" => t.check(s, &what, has("rw"), "rw", &e.mount_opts.join(",")),
                "nosuid" | "nodev" | "noexec" | "noatime" | "nodiratime" | "relatime" => {
                    t.check(s, &what, has(o), o, &e.mount_opts.join(","))
                }
                "suid" | "dev" | "exec" => {
                    let neg = format!("no{o}");
                    t.check(
                        s,
                        &what,
                        !has(&neg),
                        &format!("no {neg}"),
                        &e.mount_opts.join(","),
                    )
                }
                "strictatime" => t.check(
                    s,
                    &what,
                    !has("relatime") && !has("noatime"),
                    "neither relatime nor noatime",
                    &e.mount_opts.join(","),
                ),
                "shared" | "rshared" | "slave" | "rslave" | "private" | "rprivate"
                | "unbindable" | "runbindable" => {
                    let want = o.trim_start_matches('r');
                    let want = if *o == "rprivate" || *o == "private" {
                        "private"
                    } else {
                        want
                    };
                    let want = if *o == "runbindable" {
                        "unbindable"
                    } else {
                        want
                    };
                    let got = propagation_of(e);
                    t.check(
                        s,
                        &format!("{what} (propagation)"),
                        got == want,
                        want,
                        &format!("{got} ({})", e.optional.join(" ")),
                    );
                }
                _ if o.contains('=') && !is_bind && ty != "cgroup" => {
                    let (k, v) = o.split_once('=').unwrap();
                    let v = match k {
                        "uid" => v
                            .parse()
                            .map(|i| id_to_host("/proc/self/uid_map", i).to_string())
                            .unwrap_or(v.to_string()),
                        "gid" => v
                            .parse()
                            .map(|i| id_to_host("/proc/self/gid_map", i).to_string())
                            .unwrap_or(v.to_string()),
                        _ => v.to_string(),
                    };
                    let want = norm_data_opt(k, &v);
                    let got = e
                        .super_opts
                        .iter()
                        .find_map(|x| {
                            x.split_once('=')
                                .filter(|(kk, _)| *kk == k)
                                .map(|(_, vv)| norm_data_opt(k, vv))
                        })
                        .or_else(|| default_data_opt(&e.fstype, k).map(|d| norm_data_opt(k, d)));
                    t.check(
                        s,
                        &what,
                        got.as_deref() == Some(want.as_str()),
                        &format!("{k}={want}"),
                        &format!("{k}={}", got.unwrap_or_else(|| "<absent>".into())),
                    );
                }
                _ => {} // bind, rbind, newinstance, tmpcopyup...: not observable here
            }
        }
    }
}

pub(crate) fn check_devices(t: &mut Tap, cfg: &Value) {
    let s = "config-linux.md#default-devices";
    for (path, maj, min) in [
        ("/dev/null", 1, 3),
        ("/dev/zero", 1, 5),
        ("/dev/full", 1, 7),
        ("/dev/random", 1, 8),
        ("/dev/urandom", 1, 9),
        ("/dev/tty", 5, 0),
    ] {
        let got = fs::metadata(path).map(|m| {
            (
                m.file_type().is_char_device(),
                dev_major(m.rdev()),
                dev_minor(m.rdev()),
            )
        });
        t.eq(
            s,
            &format!("{path} is char {maj}:{min}"),
            Ok((true, maj, min)),
            got.map_err(|e| e.to_string()),
        );
    }
    let ptmx = fs::symlink_metadata("/dev/ptmx").is_ok();
    t.check(s, "/dev/ptmx exists", ptmx, "present", "absent");
    for (l, target) in [
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
    ] {
        let got = fs::read_link(l)
            .map(|p| p.to_string_lossy().to_string())
            .unwrap_or_else(|e| format!("<{e}>"));
        t.eq(
            "config-linux.md#dev-symbolic-links",
            &format!("{l} -> {target}"),
            target.to_string(),
            got,
        );
    }
    let w = fs::OpenOptions::new()
        .write(true)
        .open("/dev/null")
        .and_then(|mut f| {
            use std::io::Write;
            f.write_all(b"x")
        });
    t.check(
        s,
        "/dev/null is writable",
        w.is_ok(),
        "write ok",
        &format!("{w:?}"),
    );
    let r = fs::File::open("/dev/zero").and_then(|mut f| {
        use std::io::Read;
        let mut b = [1u8; 4];
        f.read_exact(&mut b).map(|_| b)
    });
    t.check(
        s,
        "/dev/zero reads zeros",
        matches!(r, Ok([0, 0, 0, 0])),
        "[0, 0, 0, 0]",
        &format!("{r:?}"),
    );

    let Some(devs) = cfg["linux"]["devices"].as_array() else {
        return;
    };
    let s = "config-linux.md#devices";
    for d in devs {
        let path = d["path"].as_str().unwrap_or("?");
        let ty = d["type"].as_str().unwrap_or("?");
        let md = match fs::metadata(path) {
            Ok(m) => m,
            Err(e) => {
                t.check(
                    s,
                    &format!("{path} exists"),
                    false,
                    "present",
                    &e.to_string(),
                );
                continue;
            }
        };
        let ft = md.file_type();
        let got_ty = if ft.is_char_device() {
            "c"
        } else if ft.is_block_device() {
            "b"
        } else if ft.is_fifo() {
            "p"
        } else {
            "other"
        };
        let want_ty = if ty == "u" { "c" } else { ty };
        t.eq(s, &format!("{path} type"), want_ty, got_ty);
        if ty != "p" {
            t.eq(
                s,
                &format!("{path} major:minor"),
                (
                    d["major"].as_u64().unwrap_or(0),
                    d["minor"].as_u64().unwrap_or(0),
                ),
                (dev_major(md.rdev()), dev_minor(md.rdev())),
            );
        }
        if let Some(mode) = d["fileMode"].as_u64() {
            t.check(
                s,
                &format!("{path} fileMode"),
                md.mode() & 0o7777 == mode as u32,
                &format!("{mode:o}"),
                &format!("{:o}", md.mode() & 0o7777),
            );
        }
        if let Some(u) = d["uid"].as_u64() {
            t.eq(s, &format!("{path} uid"), u as u32, md.uid());
        }
        if let Some(g) = d["gid"].as_u64() {
            t.eq(s, &format!("{path} gid"), g as u32, md.gid());
        }
    }
}

pub(crate) fn check_masked_readonly(t: &mut Tap, cfg: &Value) {
    if let Some(paths) = cfg["linux"]["maskedPaths"].as_array() {
        for p in paths.iter().filter_map(|p| p.as_str()) {
            let s = "config-linux.md#masked-paths";
            match fs::symlink_metadata(p) {
                Err(_) => t.note(&format!(
                    "masked path {p} does not exist in the container: nothing to mask"
                )),
                Ok(md) if md.is_dir() => {
                    let n = fs::read_dir(p).map(|r| r.count());
                    t.check(
                        s,
                        &format!("{p} (dir) is masked: empty or unreadable"),
                        !matches!(n, Ok(k) if k > 0),
                        "no entries",
                        &format!("{n:?} entries"),
                    );
                }
                Ok(_) => {
                    let r = fs::read(p);
                    let ok = match &r {
                        Ok(v) => v.is_empty(),
                        Err(_) => true,
                    };
                    t.check(
                        s,
                        &format!("{p} (file) is masked: empty or unreadable"),
                        ok,
                        "no data",
                        &format!("{} bytes", r.map(|v| v.len()).unwrap_or(0)),
                    );
                }
            }
        }
    }
    if let Some(paths) = cfg["linux"]["readonlyPaths"].as_array() {
        for p in paths.iter().filter_map(|p| p.as_str()) {
            let s = "config-linux.md#readonly-paths";
            if fs::symlink_metadata(p).is_err() {
                t.note(&format!(
                    "readonly path {p} does not exist in the container"
                ));
                continue;
            }
            let got = statvfs_ro(p);
            t.eq(
                s,
                &format!("{p} is read-only (statvfs ST_RDONLY)"),
                Ok(true),
                got,
            );
            if fs::metadata(p).map(|m| m.is_file()).unwrap_or(false) {
                let e = fs::OpenOptions::new()
                    .write(true)
                    .open(p)
                    .err()
                    .and_then(|e| e.raw_os_error())
                    .unwrap_or(0);
                t.check(
                    s,
                    &format!("{p}: open for writing fails with EROFS"),
                    e == libc::EROFS,
                    "EROFS",
                    &errname(e),
                );
            }
        }
    }
}

pub(crate) fn check_rootfs_propagation(t: &mut Tap, cfg: &Value, mi: &[MountEntry]) {
    let Some(p) = cfg["linux"]["rootfsPropagation"].as_str() else {
        return;
    };
    let want = match p {
        "shared" | "rshared" => "shared",
        "slave" | "rslave" => "slave",
        "private" | "rprivate" => "private",
        "unbindable" | "runbindable" => "unbindable",
        _ => p,
    };
    let got = mount_at(mi, "/")
        .map(|m| format!("{} ({})", propagation_of(m), m.optional.join(" ")))
        .unwrap_or_else(|| "no mount at /".into());
    t.check(
        "config-linux.md#rootfs-mount-propagation",
        &format!("rootfsPropagation {p}: / is {want}"),
        got.starts_with(&format!("{want} ")),
        want,
        &got,
    );
}
