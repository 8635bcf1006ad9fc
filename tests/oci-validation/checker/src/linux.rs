//! Namespaces, sysctls, cgroup limits and time offsets.

use crate::tap::Tap;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::MetadataExt;

pub(crate) fn ns_inode(path: &str) -> Option<u64> {
    fs::metadata(path).ok().map(|m| m.ino())
}

pub(crate) fn check_namespaces(t: &mut Tap, cfg: &Value, host: &Value) {
    let s = "config-linux.md#namespaces";
    let list = cfg["linux"]["namespaces"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for (ty, proc_name) in [
        ("pid", "pid"),
        ("network", "net"),
        ("mount", "mnt"),
        ("ipc", "ipc"),
        ("uts", "uts"),
        ("user", "user"),
        ("cgroup", "cgroup"),
        ("time", "time"),
    ] {
        let Some(host_ino) = host["ns"][ty].as_u64() else {
            t.note(&format!("{ty} namespace: the host has none, not checked"));
            continue;
        };
        let Some(mine) = ns_inode(&format!("/proc/self/ns/{proc_name}")) else {
            t.check(
                s,
                &format!("{ty}: /proc/self/ns/{proc_name} readable"),
                false,
                "an inode",
                "unreadable",
            );
            continue;
        };
        match list.iter().find(|n| n["type"] == ty) {
            None => t.check(
                s,
                &format!("{ty}: not listed, shared with the runtime"),
                mine == host_ino,
                &format!("inode {host_ino}"),
                &format!("inode {mine}"),
            ),
            Some(n) if n["path"].as_str().is_some_and(|p| !p.is_empty()) => {
                let want = host["ns_paths"][ty].as_u64().unwrap_or(0);
                t.check(
                    s,
                    &format!("{ty}: joins {}", n["path"].as_str().unwrap()),
                    mine == want,
                    &format!("inode {want}"),
                    &format!("inode {mine}"),
                );
            }
            Some(_) => t.check(
                s,
                &format!("{ty}: new namespace"),
                mine != host_ino,
                &format!("an inode other than the host's {host_ino}"),
                &format!("inode {mine}"),
            ),
        }
    }
    for (key, file) in [
        ("uidMappings", "/proc/self/uid_map"),
        ("gidMappings", "/proc/self/gid_map"),
    ] {
        let Some(maps) = cfg["linux"][key].as_array() else {
            continue;
        };
        let mut want: Vec<(u64, u64, u64)> = maps
            .iter()
            .map(|m| {
                (
                    m["containerID"].as_u64().unwrap_or(0),
                    m["hostID"].as_u64().unwrap_or(0),
                    m["size"].as_u64().unwrap_or(0),
                )
            })
            .collect();
        want.sort();
        let mut got: Vec<(u64, u64, u64)> = fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| {
                let v: Vec<u64> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                (v.len() == 3).then(|| (v[0], v[1], v[2]))
            })
            .collect();
        got.sort();
        t.eq(
            "config-linux.md#user-namespace-mappings",
            &format!("{key} in {file}"),
            want,
            got,
        );
    }
}

pub(crate) fn check_sysctl(t: &mut Tap, cfg: &Value) {
    let Some(m) = cfg["linux"]["sysctl"].as_object() else {
        return;
    };
    for (k, v) in m {
        let path = format!("/proc/sys/{}", k.replace('.', "/"));
        let got = fs::read_to_string(&path)
            .map(|s| s.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_else(|e| format!("<{e}>"));
        let want = v
            .as_str()
            .unwrap_or("")
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ");
        t.eq("config-linux.md#sysctl", k, want, got);
    }
}

/// Reads a cgroup interface file as seen from inside: v2 at
/// /sys/fs/cgroup/<file>, v1 in the controller's hierarchy, either at its
/// root (cgroup namespace or bind of the container's cgroup) or under the
/// path /proc/self/cgroup names.
pub(crate) fn cgroup_read(
    v: u64,
    ctrl: &str,
    file_v1: &str,
    file_v2: &str,
) -> Result<String, String> {
    let mut tried = Vec::new();
    let mut cands = Vec::new();
    if v == 2 {
        cands.push(format!("/sys/fs/cgroup/{file_v2}"));
        if let Ok(c) = fs::read_to_string("/proc/self/cgroup")
            && let Some(p) = c.lines().find_map(|l| l.strip_prefix("0::"))
        {
            cands.push(format!(
                "/sys/fs/cgroup{}/{file_v2}",
                p.trim_end_matches('/')
            ));
        }
    } else {
        cands.push(format!("/sys/fs/cgroup/{ctrl}/{file_v1}"));
        if let Ok(c) = fs::read_to_string("/proc/self/cgroup") {
            for l in c.lines() {
                let f: Vec<&str> = l.splitn(3, ':').collect();
                if f.len() == 3 && f[1].split(',').any(|x| x == ctrl) {
                    cands.push(format!(
                        "/sys/fs/cgroup/{ctrl}{}/{file_v1}",
                        f[2].trim_end_matches('/')
                    ));
                }
            }
        }
    }
    for c in cands {
        match fs::read_to_string(&c) {
            Ok(s) => return Ok(s.trim().to_string()),
            Err(e) => tried.push(format!("{c}: {e}")),
        }
    }
    Err(tried.join("; "))
}

pub(crate) fn check_cgroups(t: &mut Tap, cfg: &Value, host: &Value) {
    let r = &cfg["linux"]["resources"];
    let v = host["cgroup_version"].as_u64().unwrap_or(1);
    let s = "config-linux.md#control-groups";
    if let Some(limit) = r["memory"]["limit"].as_i64() {
        let want = if limit < 0 {
            if v == 2 {
                "max".to_string()
            } else {
                "9223372036854771712".into()
            }
        } else {
            limit.to_string()
        };
        let got = cgroup_read(v, "memory", "memory.limit_in_bytes", "memory.max");
        t.eq(
            s,
            &format!("memory.limit from inside (cgroup v{v})"),
            Ok(want),
            got,
        );
    }
    if let Some(limit) = r["pids"]["limit"].as_i64() {
        let want = if limit <= 0 {
            "max".to_string()
        } else {
            limit.to_string()
        };
        let got = cgroup_read(v, "pids", "pids.max", "pids.max");
        t.eq(
            s,
            &format!("pids.limit from inside (cgroup v{v})"),
            Ok(want),
            got,
        );
    }
    if v == 2
        && cfg["linux"]["namespaces"].as_array().is_some_and(|a| {
            a.iter()
                .any(|n| n["type"] == "cgroup" && n["path"].is_null())
        })
    {
        let c = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
        t.eq(
            "config-linux.md#cgroup-namespace",
            "/proc/self/cgroup shows the namespace root",
            "0::/",
            c.trim(),
        );
    }
}

pub(crate) fn check_time_offsets(t: &mut Tap, cfg: &Value) {
    let Some(offs) = cfg["linux"]["timeOffsets"].as_object() else {
        return;
    };
    let s = "config-linux.md#offset-for-time-namespace";
    let text = fs::read_to_string("/proc/self/timens_offsets").unwrap_or_default();
    for (clock, o) in offs {
        let want = (
            o["secs"].as_i64().unwrap_or(0),
            o["nanosecs"].as_i64().unwrap_or(0),
        );
        let got = text.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let name = match f.first()? {
                &"1" => "monotonic",
                &"7" => "boottime",
                x => x,
            };
            (name == clock && f.len() == 3).then(|| {
                (
                    f[1].parse::<i64>().unwrap_or(0),
                    f[2].parse::<i64>().unwrap_or(0),
                )
            })
        });
        t.eq(
            s,
            &format!("timeOffsets.{clock} in /proc/self/timens_offsets"),
            Some(want),
            got,
        );
        let id = if clock == "boottime" {
            libc::CLOCK_BOOTTIME
        } else {
            libc::CLOCK_MONOTONIC
        };
        let mut ts: libc::timespec = unsafe { std::mem::zeroed() };
        unsafe { libc::clock_gettime(id, &mut ts) };
        t.check(
            s,
            &format!("clock {clock} reads at least the offset"),
            ts.tv_sec >= want.0,
            &format!(">= {}", want.0),
            &ts.tv_sec.to_string(),
        );
    }
}
