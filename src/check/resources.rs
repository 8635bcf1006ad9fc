//! `linux.devices` and `linux.resources`: device nodes and device rules,
//! `cgroupsPath`, the limits the kernel refuses, and (in full checks only)
//! the cgroup controllers and files of this host.

use super::{Ctx, Report};
use serde_json::Value;
use std::path::Path;

pub(super) fn devices(c: &Ctx, r: &mut Report) {
    let mut paths: Vec<&str> = Vec::new();
    for (i, d) in c.items("/linux/devices") {
        let path = format!("/linux/devices/{i}");
        let t = d.get("type").and_then(Value::as_str).unwrap_or("");
        if let Some(p) = d.get("path").and_then(Value::as_str) {
            if p.starts_with('/') && !p.starts_with("/dev/") {
                r.error(
                    &format!("{path}/path"),
                    format!("{p:?} is not under /dev"),
                    Some(format!(
                        "use e.g. \"/dev/{}\"",
                        p.rsplit('/').next().unwrap_or(p)
                    )),
                );
            }
            if p.split('/').any(|s| s == "..") {
                r.error(
                    &format!("{path}/path"),
                    format!("{p:?} must not contain \"..\""),
                    None,
                );
            }
            if paths.contains(&p) {
                r.error(
                    &format!("{path}/path"),
                    format!("{p:?} is listed twice"),
                    None,
                );
            }
            paths.push(p);
        }
        if matches!(t, "c" | "b" | "u") {
            for f in ["major", "minor"] {
                match d.get(f).and_then(Value::as_i64) {
                    None if d.get(f).is_none() => r.error(
                        &format!("{path}/{f}"),
                        format!("missing: a {} device needs its {f} number", dev_kind(t)),
                        None,
                    ),
                    Some(n) if n < 0 => {
                        r.error(&format!("{path}/{f}"), format!("{n} is negative"), None)
                    }
                    _ => {}
                }
            }
        }
        if let Some(m) = d.get("fileMode").and_then(Value::as_u64)
            && m > 0o7777
        {
            r.warning(
                &format!("{path}/fileMode"),
                format!("{m} (octal {m:o}) holds more than permission bits; only 0o7777 is used"),
                Some("JSON has no octal: 0o666 is written 438".into()),
            );
        }
    }
    for (i, d) in c.items("/linux/resources/devices") {
        if d.get("allow").and_then(Value::as_bool) == Some(true)
            && d.get("type").is_none()
            && d.get("access").is_none()
        {
            r.warning(
                &format!("/linux/resources/devices/{i}"),
                "allows every device (no type, no access given)",
                None,
            );
        }
    }
}

fn dev_kind(t: &str) -> &'static str {
    match t {
        "b" => "block",
        _ => "character",
    }
}

/// `cgroupsPath` and the limits the kernel refuses.
pub(super) fn resources(c: &Ctx, r: &mut Report) {
    if let Some(p) = c.str("/linux/cgroupsPath") {
        if crate::cgroups::systemd::requested() {
            if let Err(e) = crate::cgroups::systemd::unit::parse(Some(p), "ID", false) {
                let msg = e.to_string();
                let msg = msg.strip_prefix("linux.cgroupsPath ").unwrap_or(&msg);
                r.error("/linux/cgroupsPath", msg.to_string(), None);
            }
        } else if p.contains(':') && !p.starts_with('/') {
            r.error(
                "/linux/cgroupsPath",
                format!("{p:?}: the slice:prefix:name form is the systemd driver's: it needs --systemd-cgroup"),
                Some("pass --systemd-cgroup, or use a cgroupfs path such as \"/mygroup/ctr\"".into()),
            );
        }
        if p.split('/').any(|s| s == "..") {
            r.error(
                "/linux/cgroupsPath",
                format!("{p:?}: \"..\" is not allowed"),
                None,
            );
        }
    }
    if let Some(w) = c
        .get("/linux/resources/blockIO/weight")
        .and_then(Value::as_u64)
        && !(10..=1000).contains(&w)
    {
        r.error(
            "/linux/resources/blockIO/weight",
            format!("{w} is outside 10..1000"),
            None,
        );
    }
    let limit = c
        .get("/linux/resources/memory/limit")
        .and_then(Value::as_i64);
    let swap = c
        .get("/linux/resources/memory/swap")
        .and_then(Value::as_i64);
    if let (Some(l), Some(s)) = (limit, swap)
        && l > 0
        && s > 0
        && s < l
    {
        r.error(
            "/linux/resources/memory/swap",
            format!("{s} is below memory.limit {l}: swap is memory plus swap, so it must be at least the limit"),
            Some(format!("set swap to {l} for no swap, or -1 for unlimited")),
        );
    }
    if c.get("/linux/resources/memory/kernel").is_some() {
        r.warning(
            "/linux/resources/memory/kernel",
            "deprecated: kernel memory limits are ignored by current kernels",
            None,
        );
    }
    if let Some(q) = c.get("/linux/resources/cpu/quota").and_then(Value::as_i64)
        && q > 0
        && q < 1000
    {
        r.error(
            "/linux/resources/cpu/quota",
            format!("{q} is below the kernel's minimum of 1000 microseconds"),
            None,
        );
    }
    if let Some(p) = c.get("/linux/resources/cpu/period").and_then(Value::as_u64)
        && p != 0
        && !(1000..=1_000_000).contains(&p)
    {
        r.error(
            "/linux/resources/cpu/period",
            format!("{p} is outside 1000..1000000 microseconds"),
            None,
        );
    }
}

/// Which controller each part of linux.resources needs (v1 name, v2 name).
const CONTROLLERS: &[(&str, &str, &str)] = &[
    ("/memory", "memory", "memory"),
    ("/cpu/shares", "cpu", "cpu"),
    ("/cpu/quota", "cpu", "cpu"),
    ("/cpu/period", "cpu", "cpu"),
    ("/cpu/burst", "cpu", "cpu"),
    ("/cpu/idle", "cpu", "cpu"),
    ("/cpu/realtimePeriod", "cpu", "cpu"),
    ("/cpu/realtimeRuntime", "cpu", "cpu"),
    ("/cpu/cpus", "cpuset", "cpuset"),
    ("/cpu/mems", "cpuset", "cpuset"),
    ("/pids", "pids", "pids"),
    ("/blockIO", "blkio", "io"),
    ("/hugepageLimits", "hugetlb", "hugetlb"),
    ("/network/classID", "net_cls", ""),
    ("/network/priorities", "net_prio", ""),
    ("/rdma", "rdma", "rdma"),
];

fn set(v: Option<&Value>) -> bool {
    match v {
        None | Some(Value::Null) => false,
        Some(Value::Object(m)) => !m.is_empty(),
        Some(Value::Array(a)) => !a.is_empty(),
        Some(_) => true,
    }
}

pub(super) fn cgroups(c: &Ctx, r: &mut Report) {
    let base = "/linux/resources";
    if !set(c.get(base)) {
        return;
    }
    let version = crate::cgroups::host_version();
    if version == crate::cgroups::Version::V1 {
        let hier = crate::cgroups::v1_hierarchies().unwrap_or_default();
        let dir_of = |ctrl: &str| {
            hier.iter()
                .find(|h| h.has(ctrl))
                .map(|h| h.mount_point.clone())
        };
        for (field, ctrl, _) in CONTROLLERS {
            let at = format!("{base}{field}");
            if set(c.get(&at)) && dir_of(ctrl).is_none() {
                r.error(
                    &at,
                    format!("the {ctrl} cgroup controller is not mounted on this host"),
                    Some(format!(
                        "mount it (e.g. on /sys/fs/cgroup/{ctrl}) or remove the setting"
                    )),
                );
            }
        }
        if set(c.get(&format!("{base}/unified"))) {
            r.error(
                &format!("{base}/unified"),
                "unified (cgroup v2) settings need a cgroup v2 host; this host uses cgroup v1",
                Some("express the limits with the v1 fields (memory, cpu, pids, ...)".into()),
            );
        }
        if let Some(dir) = dir_of("blkio") {
            let weight = ["blkio.weight", "blkio.bfq.weight"]
                .iter()
                .any(|f| dir.join(f).exists());
            for f in ["weight", "leafWeight", "weightDevice"] {
                let at = format!("{base}/blockIO/{f}");
                if set(c.get(&at)) && !weight {
                    r.error(
                        &at,
                        format!("this host's blkio controller has no weight file ({}/blkio.weight or blkio.bfq.weight): no proportional I/O scheduler (CFQ/BFQ) is in use", dir.display()),
                        Some("remove the weight, or switch the disk's I/O scheduler to bfq".into()),
                    );
                }
            }
        }
        if let Some(dir) = dir_of("memory") {
            let at = format!("{base}/memory/swap");
            if set(c.get(&at)) && !dir.join("memory.memsw.limit_in_bytes").exists() {
                r.error(
                    &at,
                    "this host has no swap accounting (memory.memsw.limit_in_bytes is missing)",
                    Some("boot with swapaccount=1, or remove memory.swap".into()),
                );
            }
        }
        if let Some(dir) = dir_of("cpu") {
            for (f, file) in [
                ("realtimeRuntime", "cpu.rt_runtime_us"),
                ("realtimePeriod", "cpu.rt_period_us"),
                ("burst", "cpu.cfs_burst_us"),
            ] {
                let at = format!("{base}/cpu/{f}");
                if set(c.get(&at)) && !dir.join(file).exists() {
                    r.error(
                        &at,
                        format!("this kernel's cpu controller has no {file}"),
                        None,
                    );
                }
            }
        }
        if let Some(dir) = dir_of("hugetlb") {
            hugepages(c, r, &dir, "limit_in_bytes");
        }
    } else {
        let have = std::fs::read_to_string(
            Path::new(crate::cgroups::CGROUP_ROOT).join("cgroup.controllers"),
        )
        .unwrap_or_default();
        let have: Vec<&str> = have.split_whitespace().collect();
        for (field, _, ctrl) in CONTROLLERS {
            let at = format!("{base}{field}");
            if !set(c.get(&at)) {
                continue;
            }
            if ctrl.is_empty() {
                r.error(
                    &at,
                    "net_cls and net_prio do not exist on cgroup v2",
                    Some("use network policy outside the runtime, or remove the setting".into()),
                );
            } else if !have.contains(ctrl) {
                r.error(
                    &at,
                    format!(
                        "the {ctrl} controller is not available in {}/cgroup.controllers",
                        crate::cgroups::CGROUP_ROOT
                    ),
                    None,
                );
            }
        }
        hugepages(c, r, Path::new(crate::cgroups::CGROUP_ROOT), "max");
    }
}

fn hugepages(c: &Ctx, r: &mut Report, dir: &Path, suffix: &str) {
    let probe = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with("hugetlb.") && n.ends_with(suffix))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default();
    if probe.is_empty() {
        return; // cannot tell
    }
    for (i, h) in c.items("/linux/resources/hugepageLimits") {
        let Some(size) = h.get("pageSize").and_then(Value::as_str) else {
            continue;
        };
        let file = format!("hugetlb.{size}.{suffix}");
        if !probe.contains(&file) {
            let sizes: Vec<&str> = probe
                .iter()
                .filter_map(|p| p.strip_prefix("hugetlb.")?.split('.').next())
                .collect();
            r.error(
                &format!("/linux/resources/hugepageLimits/{i}/pageSize"),
                format!("this host has no {size} huge pages ({file} is missing)"),
                Some(format!("sizes here: {}", sizes.join(", "))),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Severity, errors_of, run_rule};
    use super::*;
    use serde_json::json;

    #[test]
    fn limits_the_kernel_refuses() {
        let r = |res: Value| errors_of(json!({ "linux": { "resources": res } }), resources);
        assert_eq!(
            r(json!({ "cpu": { "quota": 500 } })),
            ["/linux/resources/cpu/quota"]
        );
        assert_eq!(
            r(json!({ "cpu": { "quota": 50000, "period": 100000 } })),
            Vec::<String>::new()
        );
        assert_eq!(
            r(json!({ "cpu": { "period": 100 } })),
            ["/linux/resources/cpu/period"]
        );
        assert_eq!(
            r(json!({ "blockIO": { "weight": 5 } })),
            ["/linux/resources/blockIO/weight"]
        );
        assert_eq!(
            r(json!({ "memory": { "limit": 2048, "swap": 1024 } })),
            ["/linux/resources/memory/swap"]
        );
        assert_eq!(
            r(json!({ "memory": { "limit": 2048, "swap": -1 } })),
            Vec::<String>::new()
        );
        let kernel = run_rule(
            json!({ "linux": { "resources": { "memory": { "kernel": 1 } } } }),
            resources,
        );
        assert_eq!(
            kernel,
            [(
                "/linux/resources/memory/kernel".to_string(),
                Severity::Warning
            )]
        );
    }

    #[test]
    fn cgroups_path_forms() {
        let p = |s: &str| errors_of(json!({ "linux": { "cgroupsPath": s } }), resources);
        assert_eq!(p("/a/b"), Vec::<String>::new());
        assert_eq!(p("/a/../b"), ["/linux/cgroupsPath"]);
        assert_eq!(p("system.slice:hull:c1"), ["/linux/cgroupsPath"]);
    }
}
