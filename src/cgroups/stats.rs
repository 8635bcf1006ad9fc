//! Resource usage in the JSON shape of runc's `events --stats` (the `data`
//! object): cpu, memory, pids, blkio and hugetlb, read from v1 or v2 files.

use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::path::Path;

pub(crate) fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// A number file; "max" reads as 0 (unlimited), like runc.
pub(crate) fn num(dir: &Path, file: &str) -> u64 {
    read(dir, file)
        .and_then(|s| {
            let s = s.trim();
            if s == "max" { Some(0) } else { s.parse().ok() }
        })
        .unwrap_or(0)
}

/// "key value" lines (memory.stat, cpu.stat, memory.events, ...).
pub(crate) fn keyed(dir: &Path, file: &str) -> BTreeMap<String, u64> {
    read(dir, file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            Some((it.next()?.to_string(), it.next()?.parse().ok()?))
        })
        .collect()
}

/// Pressure stall information (`some`/`full` lines of a *.pressure file:
/// avg10 avg60 avg300 as percentages, total in microseconds) as runc's
/// `psi` object; nothing where the kernel has no PSI.
fn psi(dir: &Path, file: &str) -> Option<Value> {
    let text = read(dir, file)?;
    let mut out = Map::new();
    for line in text.lines() {
        let mut it = line.split_whitespace();
        let Some(kind @ ("some" | "full")) = it.next() else {
            continue;
        };
        let mut data = Map::new();
        for kv in it {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let v = if k == "total" {
                v.parse::<u64>().ok().map(Value::from)
            } else {
                v.parse::<f64>().ok().map(Value::from)
            };
            if let Some(v) = v {
                data.insert(k.to_string(), v);
            }
        }
        out.insert(kind.to_string(), Value::Object(data));
    }
    (!out.is_empty()).then_some(Value::Object(out))
}

fn add_psi(section: &mut Value, dir: &Path, file: &str) {
    if let (Some(p), Some(obj)) = (psi(dir, file), section.as_object_mut()) {
        obj.insert("psi".into(), p);
    }
}

fn clock_ticks() -> u64 {
    // SAFETY: sysconf has no preconditions.
    let t = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    if t > 0 { t as u64 } else { 100 }
}

fn entry(usage: u64, max: u64, failcnt: u64, limit: u64) -> Value {
    json!({ "usage": usage, "max": max, "failcnt": failcnt, "limit": limit })
}

fn pids(dir: Option<&Path>) -> Value {
    match dir {
        Some(d) => json!({ "current": num(d, "pids.current"), "limit": num(d, "pids.max") }),
        None => json!({}),
    }
}

/// The hugetlb sizes present as `hugetlb.<size>.<suffix>` files in `dir`.
fn hugetlb_sizes(dir: &Path, suffix: &str) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            let size = n.strip_prefix("hugetlb.")?.strip_suffix(suffix)?;
            (!size.contains('.')).then(|| size.to_string())
        })
        .collect();
    out.sort();
    out
}

fn hugetlb_v2(dir: &Path) -> Value {
    let mut m = Map::new();
    for size in hugetlb_sizes(dir, ".current") {
        let events = keyed(dir, &format!("hugetlb.{size}.events"));
        m.insert(
            size.clone(),
            json!({
                "usage": num(dir, &format!("hugetlb.{size}.current")),
                "failcnt": events.get("max").copied().unwrap_or(0),
            }),
        );
    }
    Value::Object(m)
}

/// Stats of a v1 (or hybrid) cgroup; `dir(ctrl)` locates each controller's
/// directory, `unified` is the hybrid cgroup2 directory if any.
pub fn v1(dir: &dyn Fn(&str) -> Option<std::path::PathBuf>, unified: Option<&Path>) -> Value {
    let mut data = Map::new();
    // cpu
    let mut cpu = json!({});
    if let Some(d) = dir("cpuacct") {
        let percpu: Vec<u64> = read(&d, "cpuacct.usage_percpu")
            .unwrap_or_default()
            .split_whitespace()
            .filter_map(|v| v.parse().ok())
            .collect();
        let per = |file: &str| -> Vec<u64> {
            read(&d, file)
                .unwrap_or_default()
                .split_whitespace()
                .filter_map(|v| v.parse().ok())
                .collect()
        };
        let st = keyed(&d, "cpuacct.stat");
        let ns = 1_000_000_000 / clock_ticks();
        cpu["usage"] = json!({
            "total": num(&d, "cpuacct.usage"),
            "percpu": percpu,
            "percpu_kernel": per("cpuacct.usage_percpu_sys"),
            "percpu_user": per("cpuacct.usage_percpu_user"),
            "kernel": st.get("system").copied().unwrap_or(0) * ns,
            "user": st.get("user").copied().unwrap_or(0) * ns,
        });
    }
    if let Some(d) = dir("cpu") {
        let st = keyed(&d, "cpu.stat");
        cpu["throttling"] = json!({
            "periods": st.get("nr_periods").copied().unwrap_or(0),
            "throttledPeriods": st.get("nr_throttled").copied().unwrap_or(0),
            "throttledTime": st.get("throttled_time").copied().unwrap_or(0),
        });
    }
    data.insert("cpu".into(), cpu);
    // memory
    if let Some(d) = dir("memory") {
        let raw = keyed(&d, "memory.stat");
        let e = |p: &str| {
            entry(
                num(&d, &format!("{p}.usage_in_bytes")),
                num(&d, &format!("{p}.max_usage_in_bytes")),
                num(&d, &format!("{p}.failcnt")),
                num(&d, &format!("{p}.limit_in_bytes")),
            )
        };
        data.insert(
            "memory".into(),
            json!({
                "cache": raw.get("cache").copied().unwrap_or(0),
                "usage": e("memory"),
                "swap": e("memory.memsw"),
                "kernel": e("memory.kmem"),
                "kernelTCP": e("memory.kmem.tcp"),
                "raw": raw,
            }),
        );
    }
    data.insert("pids".into(), pids(dir("pids").as_deref()));
    // blkio
    let mut blkio = Map::new();
    if let Some(d) = dir("blkio") {
        for (key, file) in [
            (
                "ioServiceBytesRecursive",
                "blkio.throttle.io_service_bytes_recursive",
            ),
            (
                "ioServicedRecursive",
                "blkio.throttle.io_serviced_recursive",
            ),
        ] {
            let list: Vec<Value> = read(&d, file)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let f: Vec<&str> = l.split_whitespace().collect();
                    let (maj, min) = f.first()?.split_once(':')?;
                    Some(json!({
                        "major": maj.parse::<u64>().ok()?,
                        "minor": min.parse::<u64>().ok()?,
                        "op": f.get(1)?,
                        "value": f.get(2)?.parse::<u64>().ok()?,
                    }))
                })
                .collect();
            blkio.insert(key.into(), Value::Array(list));
        }
    }
    data.insert("blkio".into(), Value::Object(blkio));
    // hugetlb: a v1 hierarchy, else the hybrid cgroup2 mount.
    let hugetlb = if let Some(d) = dir("hugetlb") {
        let mut m = Map::new();
        for size in hugetlb_sizes(&d, ".limit_in_bytes") {
            m.insert(
                size.clone(),
                json!({
                    "usage": num(&d, &format!("hugetlb.{size}.usage_in_bytes")),
                    "max": num(&d, &format!("hugetlb.{size}.max_usage_in_bytes")),
                    "failcnt": num(&d, &format!("hugetlb.{size}.failcnt")),
                }),
            );
        }
        Value::Object(m)
    } else if let Some(u) = unified {
        hugetlb_v2(u)
    } else {
        json!({})
    };
    data.insert("hugetlb".into(), hugetlb);
    // A hybrid host's cgroup2 part has the pressure files.
    if let Some(u) = unified {
        for (key, file) in [
            ("cpu", "cpu.pressure"),
            ("memory", "memory.pressure"),
            ("blkio", "io.pressure"),
        ] {
            if let Some(section) = data.get_mut(key) {
                add_psi(section, u, file);
            }
        }
    }
    Value::Object(data)
}

/// Stats of a v2 cgroup.
pub fn v2(d: &Path) -> Value {
    let st = keyed(d, "cpu.stat");
    let g = |k: &str| st.get(k).copied().unwrap_or(0);
    let cpu = json!({
        "usage": {
            "total": g("usage_usec") * 1000,
            "percpu": [],
            "kernel": g("system_usec") * 1000,
            "user": g("user_usec") * 1000,
        },
        "throttling": {
            "periods": g("nr_periods"),
            "throttledPeriods": g("nr_throttled"),
            "throttledTime": g("throttled_usec") * 1000,
        },
    });
    let raw = keyed(d, "memory.stat");
    let events = keyed(d, "memory.events");
    let usage = num(d, "memory.current");
    let swap_usage = num(d, "memory.swap.current");
    let limit = num(d, "memory.max");
    let swap_limit = num(d, "memory.swap.max");
    let mut memory = json!({
        "cache": raw.get("file").copied().unwrap_or(0),
        // max: the peaks (memory.peak, memory.swap.peak; Linux 5.19+).
        "usage": entry(usage, num(d, "memory.peak"), events.get("max").copied().unwrap_or(0), limit),
        // v1 compatible: swap is memory+swap.
        "swap": entry(usage + swap_usage, num(d, "memory.swap.peak"), 0, if swap_limit == 0 || limit == 0 { 0 } else { swap_limit + limit }),
        "raw": raw,
    });

    let mut bytes = Vec::new();
    let mut ios = Vec::new();
    for l in read(d, "io.stat").unwrap_or_default().lines() {
        let mut f = l.split_whitespace();
        let Some((maj, min)) = f.next().and_then(|d| d.split_once(':')) else {
            continue;
        };
        let (Ok(maj), Ok(min)) = (maj.parse::<u64>(), min.parse::<u64>()) else {
            continue;
        };
        for kv in f {
            let Some((k, v)) = kv.split_once('=') else {
                continue;
            };
            let v: u64 = v.parse().unwrap_or(0);
            let (list, op) = match k {
                "rbytes" => (&mut bytes, "Read"),
                "wbytes" => (&mut bytes, "Write"),
                "rios" => (&mut ios, "Read"),
                "wios" => (&mut ios, "Write"),
                _ => continue,
            };
            list.push(json!({"major": maj, "minor": min, "op": op, "value": v}));
        }
    }
    let mut cpu = cpu;
    add_psi(&mut cpu, d, "cpu.pressure");
    add_psi(&mut memory, d, "memory.pressure");
    let mut blkio = json!({ "ioServiceBytesRecursive": bytes, "ioServicedRecursive": ios });
    add_psi(&mut blkio, d, "io.pressure");
    json!({
        "cpu": cpu,
        "memory": memory,
        "pids": pids(Some(d)),
        "blkio": blkio,
        "hugetlb": hugetlb_v2(d),
    })
}
