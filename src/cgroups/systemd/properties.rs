//! `linux.resources` as systemd unit properties: the limits systemd has a
//! property for are told to systemd (so a `daemon-reload` keeps them);
//! hull still writes every limit to the cgroup files itself afterwards,
//! including those systemd has no property for.

use super::bus::{Property, prop};
use crate::cgroups::Version;
use crate::cgroups::devices::Rule;
use crate::error::Result;
use oci_spec::runtime::LinuxResources;

/// systemd's "infinity" for byte and task limits.
const INFINITY: u64 = u64::MAX;

/// The properties for `r` on a host of `version`.
pub fn resources(r: &LinuxResources, version: Version) -> Result<Vec<Property>> {
    let mut out = Vec::new();
    let v2 = version == Version::V2;
    if let Some(m) = r.memory() {
        if let Some(l) = m.limit() {
            let v = if l < 0 { INFINITY } else { l as u64 };
            out.push(prop(if v2 { "MemoryMax" } else { "MemoryLimit" }, v));
        }
        if v2 {
            if let Some(low) = m.reservation() {
                out.push(prop(
                    "MemoryLow",
                    if low < 0 { INFINITY } else { low as u64 },
                ));
            }
            if let Some(swap) = m.swap()
                && let Some(v) = crate::cgroups::resources::swap_to_v2(swap, m.limit())?
            {
                let v = if v == "max" {
                    INFINITY
                } else {
                    v.parse().unwrap_or(INFINITY)
                };
                out.push(prop("MemorySwapMax", v));
            }
        }
    }
    if let Some(c) = r.cpu() {
        if let Some(shares) = c.shares().filter(|s| *s != 0) {
            if v2 {
                out.push(prop(
                    "CPUWeight",
                    crate::cgroups::v2::shares_to_weight(shares),
                ));
            } else {
                out.push(prop("CPUShares", shares));
            }
        }
        let period = c.period().filter(|p| *p > 0);
        if let Some(p) = period
            && v2
        {
            out.push(prop("CPUQuotaPeriodUSec", p));
        }
        match c.quota() {
            Some(q) if q > 0 => {
                // systemd keeps quota per second, in whole percents
                // (10 ms); rounded up so systemd never grants less.
                let per_sec = (q as u64 * 1_000_000).div_ceil(period.unwrap_or(100_000));
                out.push(prop(
                    "CPUQuotaPerSecUSec",
                    per_sec.div_ceil(10_000) * 10_000,
                ));
            }
            Some(_) => out.push(prop("CPUQuotaPerSecUSec", INFINITY)),
            None => {}
        }
        if v2 {
            if let Some(cpus) = c.cpus().as_deref().filter(|s| !s.is_empty()) {
                out.push(prop(
                    "AllowedCPUs",
                    bitmask("linux.resources.cpu.cpus", cpus)?,
                ));
            }
            if let Some(mems) = c.mems().as_deref().filter(|s| !s.is_empty()) {
                out.push(prop(
                    "AllowedMemoryNodes",
                    bitmask("linux.resources.cpu.mems", mems)?,
                ));
            }
        }
    }
    if let Some(p) = r.pids() {
        // 0 is a real limit to hull (it writes pids.max itself); systemd
        // has no way to say it, so it is left to the file.
        if p.limit() != 0 {
            out.push(prop(
                "TasksMax",
                if p.limit() < 0 {
                    INFINITY
                } else {
                    p.limit() as u64
                },
            ));
        }
    }
    if let Some(w) = r.block_io().as_ref().and_then(|b| b.weight()) {
        if v2 {
            out.push(prop(
                "IOWeight",
                crate::cgroups::resources::blkio_weight_to_io(w),
            ));
        } else {
            out.push(prop("BlockIOWeight", w as u64));
        }
    }
    Ok(out)
}

/// A cpuset list ("0-2,4") as systemd's byte mask (bit n of byte n/8).
pub fn bitmask(field: &str, list: &str) -> Result<Vec<u8>> {
    crate::cgroups::resources::check_cpu_list(field, list)?;
    let mut mask: Vec<u8> = Vec::new();
    for part in list.trim().split(',').filter(|p| !p.is_empty()) {
        let (a, b) = match part.split_once('-') {
            Some((a, b)) => (a.trim(), b.trim()),
            None => (part.trim(), part.trim()),
        };
        let (a, b): (usize, usize) = match (a.parse(), b.parse()) {
            (Ok(a), Ok(b)) => (a, b),
            _ => continue,
        };
        for n in a..=b {
            if mask.len() <= n / 8 {
                mask.resize(n / 8 + 1, 0);
            }
            mask[n / 8] |= 1 << (n % 8);
        }
    }
    Ok(mask)
}

/// The device rules as DevicePolicy=strict plus DeviceAllow, when that
/// says exactly the same: rules are read in order, the last match wins
/// and anything unmatched is denied, so while no deny follows an allow the
/// result is the union of the allows. Anything else (a deny after an
/// allow, an allow-all) gives no device properties: a narrower systemd
/// policy would deny what hull's rules allow (both BPF programs must
/// agree), so hull's own program alone enforces them then.
pub fn devices(rules: &[Rule]) -> Vec<Property> {
    let first_allow = rules.iter().position(|r| r.allow).unwrap_or(rules.len());
    let rest = &rules[first_allow..];
    let allow_all =
        |r: &Rule| r.typ == 'a' && r.major.is_none() && r.minor.is_none() && r.access == "rwm";
    if rest.is_empty() || rest.iter().any(|r| !r.allow || allow_all(r)) {
        return Vec::new();
    }
    let mut allow: Vec<(String, String)> = Vec::new();
    for r in rest {
        let access = r.access.clone();
        let types: &[char] = if r.typ == 'a' { &['c', 'b'] } else { &[r.typ] };
        for &t in types {
            let kind = if t == 'c' { "char" } else { "block" };
            let spec = match (r.major, r.minor) {
                (None, _) => format!("{kind}-*"),
                (Some(maj), Some(min)) => format!("/dev/{kind}/{maj}:{min}"),
                (Some(maj), None) => match driver_name(t, maj) {
                    Some(name) => format!("{kind}-{name}"),
                    None => return Vec::new(),
                },
            };
            allow.push((spec, access.clone()));
        }
    }
    vec![
        prop("DevicePolicy", "strict".to_string()),
        prop("DeviceAllow", allow),
    ]
}

/// The driver that owns a major number (/proc/devices), which systemd
/// uses to name "all devices of this major" ("char-pts").
fn driver_name(typ: char, major: u32) -> Option<String> {
    let text = std::fs::read_to_string("/proc/devices").ok()?;
    let section = if typ == 'c' {
        "Character devices:"
    } else {
        "Block devices:"
    };
    let mut inside = false;
    for line in text.lines() {
        if line.ends_with("devices:") {
            inside = line == section;
            continue;
        }
        let mut f = line.split_whitespace();
        if inside && f.next().and_then(|m| m.parse::<u32>().ok()) == Some(major) {
            return f.next().map(str::to_string);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_become_byte_masks() {
        assert_eq!(bitmask("f", "0").unwrap(), vec![1]);
        assert_eq!(bitmask("f", "0-2,9").unwrap(), vec![0b111, 0b10]);
        assert!(bitmask("f", "x").is_err());
    }

    #[test]
    fn resources_map_onto_properties() {
        let r: LinuxResources = serde_json::from_str(
            r#"{"memory":{"limit":67108864,"swap":134217728},"cpu":{"shares":1024,"quota":50000,"period":100000,"cpus":"0"},"pids":{"limit":20},"blockIO":{"weight":500}}"#,
        )
        .unwrap();
        let props = resources(&r, Version::V2).unwrap();
        let names: Vec<&str> = props.iter().map(|p| p.0).collect();
        assert_eq!(
            names,
            [
                "MemoryMax",
                "MemorySwapMax",
                "CPUWeight",
                "CPUQuotaPeriodUSec",
                "CPUQuotaPerSecUSec",
                "AllowedCPUs",
                "TasksMax",
                "IOWeight"
            ]
        );
        let get = |n: &str| {
            props
                .iter()
                .find(|p| p.0 == n)
                .and_then(|p| p.1.0.as_u64())
                .unwrap()
        };
        assert_eq!(get("MemoryMax"), 67108864);
        assert_eq!(get("MemorySwapMax"), 67108864);
        assert_eq!(get("CPUQuotaPerSecUSec"), 500_000);
        assert_eq!(get("TasksMax"), 20);
    }

    #[test]
    fn device_rules_translate_only_when_exact() {
        let rules = crate::cgroups::devices::effective_rules(&[]).unwrap();
        let props = devices(&rules);
        assert_eq!(props.len(), 2);
        // An allow-all config gives no systemd device policy at all.
        let all: Vec<oci_spec::runtime::LinuxDeviceCgroup> =
            serde_json::from_str(r#"[{"allow":true,"access":"rwm"}]"#).unwrap();
        let rules = crate::cgroups::devices::effective_rules(&all).unwrap();
        assert!(devices(&rules).is_empty());
    }
}
