//! Helpers shared by the v1 and v2 managers: control-file writes that name
//! the config field on failure, value conversions between the v1 and v2
//! interfaces, `unified` key validation, and merging of `update` requests.

use crate::error::{Error, Result};
use oci_spec::runtime::LinuxResources;
use std::path::{Path, PathBuf};

/// One cgroup directory, with writes that name the config field they serve.
pub(crate) struct Dir<'a> {
    pub path: &'a Path,
}

impl Dir<'_> {
    /// The control file, or an error naming `field` when the host lacks it.
    pub fn file(&self, file: &str, field: &str, why: &str) -> Result<PathBuf> {
        let p = self.path.join(file);
        if p.exists() {
            Ok(p)
        } else {
            Err(Error::msg(format!(
                "{field}: {file} is missing on this host ({why})"
            )))
        }
    }

    /// Writes `value` to `file`, which must exist; errors name `field`.
    pub fn set(&self, field: &str, file: &str, value: &str, why: &str) -> Result<()> {
        let p = self.file(file, field, why)?;
        write_field(field, &p, value)
    }

    pub fn has(&self, file: &str) -> bool {
        self.path.join(file).exists()
    }

    pub fn read(&self, file: &str) -> Option<String> {
        std::fs::read_to_string(self.path.join(file))
            .ok()
            .map(|s| s.trim().to_string())
    }
}

/// Writes a control file; the error names the field, the file and the value.
pub(crate) fn write_field(field: &str, path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|e| {
        Error::msg(format!(
            "{field}: write {value:?} to {}: {e}",
            path.display()
        ))
    })
}

/// A memory value for v1 files: -1 (or any negative) is unlimited.
pub(crate) fn v1_bytes(v: i64) -> String {
    if v < 0 { "-1".into() } else { v.to_string() }
}

/// A memory value for v2 files: negative is "max".
pub(crate) fn v2_bytes(v: i64) -> String {
    if v < 0 { "max".into() } else { v.to_string() }
}

/// v1 `memory.swap` (memory+swap) to v2 `memory.swap.max` (swap alone),
/// following runc: -1 is unlimited, 0 is unset; a swap limit needs a
/// memory limit and must not be below it.
pub fn swap_to_v2(swap: i64, limit: Option<i64>) -> Result<Option<String>> {
    let limit = limit.unwrap_or(0);
    if limit == -1 && swap == 0 {
        return Ok(Some("max".into()));
    }
    if swap == 0 {
        return Ok(None);
    }
    if swap < 0 {
        return Ok(Some("max".into()));
    }
    if limit <= 0 {
        return Err(Error::msg(
            "linux.resources.memory.swap: a swap limit needs linux.resources.memory.limit",
        ));
    }
    if swap < limit {
        return Err(Error::msg(format!(
            "linux.resources.memory.swap ({swap}) must be >= linux.resources.memory.limit ({limit}): it counts memory+swap"
        )));
    }
    Ok(Some((swap - limit).to_string()))
}

/// v1 blkio weight [10, 1000] onto v2 io.weight [1, 10000] (as runc does).
pub fn blkio_weight_to_io(w: u16) -> u64 {
    let w = u64::from(w).clamp(10, 1000);
    1 + (w - 10) * 9999 / 990
}

/// Why a per-device weight (`weightDevice`) write failed: the kernel only
/// takes per-device weights for a device whose I/O scheduler is bfq (or, on
/// cgroup v2, one with io.cost enabled in the root cgroup's io.cost.qos).
pub(crate) fn weight_device_cause(major: i64, minor: i64) -> String {
    let dev = format!("/sys/dev/block/{major}:{minor}");
    // A partition has no queue/ of its own: its disk's is one level up.
    let sched = std::fs::read_to_string(format!("{dev}/queue/scheduler"))
        .or_else(|_| std::fs::read_to_string(format!("{dev}/../queue/scheduler")));
    match sched {
        Err(_) if !Path::new(&dev).exists() => {
            format!("there is no block device {major}:{minor} on this host")
        }
        Err(_) => format!(
            "per-device weights need the bfq I/O scheduler on device {major}:{minor}, whose scheduler is unknown"
        ),
        Ok(s) => {
            let cur = s
                .split_whitespace()
                .find(|w| w.starts_with('['))
                .map_or("none", |w| w.trim_matches(['[', ']']));
            if cur == "bfq" {
                format!("device {major}:{minor} uses bfq, yet the kernel refused the weight")
            } else {
                format!(
                    "per-device weights need the bfq I/O scheduler, and device {major}:{minor} uses {cur:?}"
                )
            }
        }
    }
}

/// Checks a `hugepageLimits[].pageSize` ("2MB", "64KB", "1GB").
/// hugepageLimits onto hugetlb.<size>.<suffix> (v1 `limit_in_bytes`, v2
/// `max`), and the .rsvd. file of the same suffix when the kernel has
/// reservation accounting.
pub(crate) fn write_hugetlb(
    dir: &Path,
    limits: &[oci_spec::runtime::LinuxHugepageLimit],
    suffix: &str,
) -> Result<()> {
    let d = Dir { path: dir };
    for (i, h) in limits.iter().enumerate() {
        let field = format!("linux.resources.hugepageLimits[{i}]");
        let size = h.page_size();
        check_page_size(&format!("{field}.pageSize"), size)?;
        let why = format!(
            "hugetlb not enabled, or no {size} pages; page sizes here: {}",
            host_page_sizes().join(", ")
        );
        let limit = h.limit().to_string();
        d.set(
            &format!("{field}.limit"),
            &format!("hugetlb.{size}.{suffix}"),
            &limit,
            &why,
        )?;
        let rsvd = format!("hugetlb.{size}.rsvd.{suffix}");
        if d.has(&rsvd) {
            d.set(&format!("{field}.limit"), &rsvd, &limit, "")?;
        }
    }
    Ok(())
}

pub(crate) fn check_page_size(field: &str, size: &str) -> Result<()> {
    let num = size
        .strip_suffix("KB")
        .or_else(|| size.strip_suffix("MB"))
        .or_else(|| size.strip_suffix("GB"));
    match num {
        Some(n) if !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()) => Ok(()),
        _ => Err(Error::msg(format!(
            "{field}: {size:?} is not a page size like 2MB, 64KB or 1GB"
        ))),
    }
}

/// Checks a CPU or memory-node list (`cpu.cpus`, `cpu.mems`) as the
/// kernel's list parser reads it: comma- or space-separated numbers and ranges
/// `A-B`, optionally strided `A-B:USED/GROUP`, `N` for the last one.
pub fn check_cpu_list(field: &str, list: &str) -> Result<()> {
    let bad = |why: &str| {
        Err(Error::msg(format!(
            "{field}: {list:?} is not a list like 0-3,7 ({why})"
        )))
    };
    let num = |s: &str| -> Option<u64> {
        if s == "N" {
            return Some(u64::MAX);
        }
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse::<u32>().ok().map(u64::from)
    };
    // Commas and white space both separate regions; empty ones are skipped.
    let regions = list.split(|c: char| c == ',' || c.is_ascii_whitespace());
    for region in regions.filter(|r| !r.is_empty()) {
        let (range, stride) = match region.split_once(':') {
            Some((r, st)) => (r, Some(st)),
            None => (region, None),
        };
        let (a, b) = match range.split_once('-') {
            Some((a, b)) => (a, b),
            None if stride.is_some() => return bad(&format!("{region:?}: a stride needs a range")),
            None => (range, range),
        };
        let (Some(a), Some(b)) = (num(a), num(b)) else {
            return bad(&format!("{region:?}: not a number or range of numbers"));
        };
        if a > b {
            return bad(&format!("{region:?}: the range runs backwards"));
        }
        if let Some(st) = stride {
            let parsed = st.split_once('/').map(|(u, g)| (num(u), num(g)));
            match parsed {
                Some((Some(used), Some(group)))
                    if group != 0 && group != u64::MAX && used <= group => {}
                _ => {
                    return bad(&format!(
                        "{region:?}: a stride is USED/GROUP with USED <= GROUP"
                    ));
                }
            }
        }
    }
    Ok(())
}

/// The checks `update` makes on its changes before any cgroup file is
/// written, so a bad request changes nothing.
pub fn check_update(r: &LinuxResources) -> Result<()> {
    if let Some(c) = r.cpu() {
        if let Some(l) = c.cpus() {
            check_cpu_list("linux.resources.cpu.cpus", l)?;
        }
        if let Some(l) = c.mems() {
            check_cpu_list("linux.resources.cpu.mems", l)?;
        }
    }
    for (i, h) in r.hugepage_limits().iter().flatten().enumerate() {
        check_page_size(
            &format!("linux.resources.hugepageLimits[{i}].pageSize"),
            h.page_size(),
        )?;
    }
    Ok(())
}

/// The hugepage sizes the kernel offers, as cgroup files name them.
pub(crate) fn host_page_sizes() -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir("/sys/kernel/mm/hugepages") {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(kb) = name
                .strip_prefix("hugepages-")
                .and_then(|s| s.strip_suffix("kB"))
                .and_then(|s| s.parse::<u64>().ok())
            {
                out.push(if kb >= 1 << 20 && kb % (1 << 20) == 0 {
                    format!("{}GB", kb >> 20)
                } else if kb >= 1 << 10 && kb % (1 << 10) == 0 {
                    format!("{}MB", kb >> 10)
                } else {
                    format!("{kb}KB")
                });
            }
        }
    }
    out.sort();
    out
}

/// A `unified` key must name one plain file of the cgroup directory: no
/// path separators, no dot names, and it must already exist there.
pub(crate) fn check_unified_key(dir: &Path, key: &str) -> Result<PathBuf> {
    let field = format!("linux.resources.unified[{key:?}]");
    if key.is_empty() || key.contains('/') || key.contains('\0') || key.starts_with('.') {
        return Err(Error::msg(format!(
            "{field}: a key must be a plain cgroup file name (no \"/\", no \"..\")"
        )));
    }
    if !key.contains('.') {
        return Err(Error::msg(format!(
            "{field}: {key:?} is not a cgroup control file name (controller.file)"
        )));
    }
    if key.starts_with("cgroup.")
        && matches!(
            key,
            "cgroup.procs"
                | "cgroup.threads"
                | "cgroup.subtree_control"
                | "cgroup.kill"
                | "cgroup.freeze"
                | "cgroup.type"
        )
    {
        return Err(Error::msg(format!(
            "{field}: {key} is managed by the runtime and cannot be set through unified"
        )));
    }
    let p = dir.join(key);
    // symlink_metadata: a cgroup file is never a link; refuse anything odd.
    match std::fs::symlink_metadata(&p) {
        Ok(m) if m.is_file() => Ok(p),
        _ => {
            let ctrl = key.split('.').next().unwrap_or(key);
            Err(Error::msg(format!(
                "{field}: {} does not exist (is the {ctrl} controller available and enabled for this cgroup?)",
                p.display()
            )))
        }
    }
}

/// True when the resources ask for nothing hull would write (device rules
/// aside, which only matter with a device cgroup).
pub fn is_empty_ignoring_devices(r: &LinuxResources) -> bool {
    r.memory().is_none()
        && r.cpu().is_none()
        && r.pids().is_none()
        && r.block_io().is_none()
        && r.hugepage_limits().as_ref().is_none_or(|h| h.is_empty())
        && r.network().is_none()
        && r.rdma().as_ref().is_none_or(|m| m.is_empty())
        && r.unified().as_ref().is_none_or(|m| m.is_empty())
}

/// Merges an `update` request onto the recorded resources: objects merge
/// key by key, everything else (numbers, strings, arrays) is replaced.
pub fn merge(base: &LinuxResources, update: &LinuxResources) -> Result<LinuxResources> {
    let enc = |r: &LinuxResources| {
        serde_json::to_value(r).map_err(|e| Error::msg(format!("encode resources: {e}")))
    };
    let mut b = enc(base)?;
    merge_value(&mut b, enc(update)?);
    serde_json::from_value(b).map_err(|e| Error::msg(format!("merge resources: {e}")))
}

fn merge_value(base: &mut serde_json::Value, update: serde_json::Value) {
    match (base, update) {
        (serde_json::Value::Object(b), serde_json::Value::Object(u)) => {
            for (k, v) in u {
                if v.is_null() {
                    continue;
                }
                merge_value(b.entry(k).or_insert(serde_json::Value::Null), v);
            }
        }
        (b, u) => *b = u,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn swap_semantics_follow_runc() {
        assert_eq!(swap_to_v2(0, Some(100)).unwrap(), None);
        assert_eq!(swap_to_v2(0, Some(-1)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_to_v2(-1, Some(100)).unwrap().as_deref(), Some("max"));
        assert_eq!(swap_to_v2(300, Some(100)).unwrap().as_deref(), Some("200"));
        assert_eq!(swap_to_v2(100, Some(100)).unwrap().as_deref(), Some("0"));
        assert!(swap_to_v2(50, Some(100)).is_err());
        assert!(swap_to_v2(50, None).is_err());
    }

    #[test]
    fn blkio_weights_map_onto_io_weights() {
        assert_eq!(blkio_weight_to_io(10), 1);
        assert_eq!(blkio_weight_to_io(1000), 10000);
        assert_eq!(blkio_weight_to_io(500), 4950);
    }

    #[test]
    fn page_sizes_are_checked() {
        check_page_size("f", "2MB").unwrap();
        check_page_size("f", "64KB").unwrap();
        assert!(check_page_size("f", "2M").is_err());
        assert!(check_page_size("f", "../MB").is_err());
    }

    #[test]
    fn cpu_lists_follow_the_kernel_syntax() {
        for ok in [
            "",
            "0",
            "0-3,7",
            " 1,2\n",
            "0-N",
            "0-1023:2/256",
            "5-5",
            "1 2",
            "1,,2",
        ] {
            check_cpu_list("f", ok).unwrap_or_else(|e| panic!("{ok:?}: {e}"));
        }
        for bad in [
            "x",
            "3-1",
            "0-",
            "-1",
            "0:1/2",
            "0-7:3/2",
            "0-7:1/0",
            "99999999999",
            "1-2-3",
        ] {
            assert!(check_cpu_list("f", bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn unified_keys_cannot_escape() {
        let dir = std::env::temp_dir().join(format!("hull-unified-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("memory.high"), "max").unwrap();
        assert!(check_unified_key(&dir, "memory.high").is_ok());
        for bad in [
            "../memory.high",
            "/etc/passwd",
            "a/b.c",
            "..",
            ".x",
            "memory.nope",
            "nodot",
            "cgroup.procs",
        ] {
            assert!(check_unified_key(&dir, bad).is_err(), "{bad} accepted");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn updates_merge_onto_recorded_resources() {
        let base: LinuxResources = serde_json::from_value(serde_json::json!({
            "memory": {"limit": 100, "swap": 200}, "pids": {"limit": 5},
            "devices": [{"allow": false, "access": "rwm"}]
        }))
        .unwrap();
        let up: LinuxResources =
            serde_json::from_value(serde_json::json!({"memory": {"limit": 150}})).unwrap();
        let m = merge(&base, &up).unwrap();
        assert_eq!(m.memory().unwrap().limit(), Some(150));
        assert_eq!(m.memory().unwrap().swap(), Some(200));
        assert_eq!(m.pids().as_ref().unwrap().limit(), 5);
        assert_eq!(m.devices().as_ref().unwrap().len(), 1);
    }
}
