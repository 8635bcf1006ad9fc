//! `linux.intelRdt` through the resctrl filesystem: the container's CLOS
//! group (`closID`, else one named after the container), its schemata,
//! an optional monitoring group, and the container's processes in the
//! group's `tasks`. Without a mounted resctrl the field is an error, as
//! the spec requires.

use crate::error::{Context, Error, Result};
use oci_spec::runtime::LinuxIntelRdt;
use std::path::{Path, PathBuf};

/// Where resctrl is mounted in hull's mount namespace, if anywhere.
pub fn mount_point() -> Option<PathBuf> {
    let text = std::fs::read_to_string("/proc/self/mountinfo").ok()?;
    text.lines().find_map(|l| {
        let (pre, post) = l.split_once(" - ")?;
        let dir = pre.split(' ').nth(4)?;
        (post.split(' ').next() == Some("resctrl"))
            .then(|| PathBuf::from(crate::procinfo::unescape(dir)))
    })
}

fn root() -> Result<PathBuf> {
    mount_point().ok_or_else(|| {
        Error::msg(
            "linux.intelRdt: no resctrl filesystem is mounted (mount -t resctrl resctrl /sys/fs/resctrl on a host with Intel RDT or AMD PQoS), so the container cannot get its cache or memory bandwidth allocation",
        )
    })
}

/// The schemata lines in the order the spec sets: l3CacheSchema,
/// memBwSchema, then `schemata`.
pub fn lines(rdt: &LinuxIntelRdt) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let fields = [
        ("l3CacheSchema", rdt.l3_cache_schema().clone()),
        ("memBwSchema", rdt.mem_bw_schema().clone()),
    ];
    for (name, v) in fields {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            out.push(check_line(&format!("linux.intelRdt.{name}"), &v)?);
        }
    }
    if let Some(mb) = rdt.mem_bw_schema().as_deref().filter(|v| !v.is_empty())
        && !mb.trim_start().starts_with("MB:")
    {
        return Err(Error::msg(format!(
            "linux.intelRdt.memBwSchema: {mb:?} must start with \"MB:\""
        )));
    }
    for (i, l) in rdt.schemata().iter().flatten().enumerate() {
        out.push(check_line(&format!("linux.intelRdt.schemata[{i}]"), l)?);
    }
    Ok(out)
}

fn check_line(field: &str, v: &str) -> Result<String> {
    if v.contains('\n') {
        return Err(Error::msg(format!(
            "{field}: {v:?} must be one line (no newline)"
        )));
    }
    Ok(v.trim().to_string())
}

/// The CTRL_MON group's directory, and whether hull owns it (made for
/// this container, so removed with it).
fn group_dir(root: &Path, id: &str, rdt: &LinuxIntelRdt) -> Result<(PathBuf, bool)> {
    match rdt.clos_id().as_deref() {
        Some("/") => Ok((root.to_path_buf(), false)),
        Some(c) if c.is_empty() || c.contains('/') || c == "." || c == ".." => Err(Error::msg(
            format!("linux.intelRdt.closID: {c:?} is not a resctrl group name"),
        )),
        Some(c) => Ok((root.join(c), false)),
        None => Ok((root.join(id), true)),
    }
}

/// Checks what can be checked before anything is made: resctrl mounted,
/// the schemata well formed.
pub fn check(rdt: &LinuxIntelRdt) -> Result<()> {
    root()?;
    lines(rdt).map(drop)
}

/// Makes (or finds) the container's group, writes its schemata and
/// returns the `tasks` file its processes go to.
pub fn setup(id: &str, rdt: &LinuxIntelRdt) -> Result<PathBuf> {
    let root = root()?;
    let (dir, owned) = group_dir(&root, id, rdt)?;
    let lines = lines(rdt)?;
    if !dir.is_dir() {
        if !owned && lines.is_empty() {
            return Err(Error::msg(format!(
                "linux.intelRdt.closID: {} does not exist (a closID without schemata names a group made beforehand)",
                dir.display()
            )));
        }
        std::fs::create_dir(&dir)
            .ctx(|| format!("linux.intelRdt: create resctrl group {}", dir.display()))?;
    } else if !owned && !lines.is_empty() && dir != root {
        // A shared group is not rewritten: its schemata must already say
        // what the config asks.
        let current = std::fs::read_to_string(dir.join("schemata")).unwrap_or_default();
        for l in &lines {
            if !schema_matches(&current, l) {
                return Err(Error::msg(format!(
                    "linux.intelRdt: the existing group {} has schemata that differ from {l:?}:\n{current}",
                    dir.display()
                )));
            }
        }
    }
    if owned || dir == root || !dir.join("schemata").exists() {
        write_lines(&dir, &lines)?;
    }
    if *rdt.enable_monitoring() == Some(true) {
        let mon = dir.join("mon_groups").join(id);
        std::fs::create_dir(&mon).ctx(|| {
            format!(
                "linux.intelRdt.enableMonitoring: create monitoring group {}",
                mon.display()
            )
        })?;
        return Ok(mon.join("tasks"));
    }
    Ok(dir.join("tasks"))
}

fn write_lines(dir: &Path, lines: &[String]) -> Result<()> {
    let file = dir.join("schemata");
    for l in lines {
        std::fs::write(&file, format!("{l}\n"))
            .ctx(|| format!("linux.intelRdt: write {l:?} to {}", file.display()))?;
    }
    Ok(())
}

/// True when each `id=value` of `line` ("L3:0=ff;1=f0") is in the
/// same-named line of `current`, values compared as the kernel prints
/// them (hex masks without leading zeros, any case).
fn schema_matches(current: &str, line: &str) -> bool {
    let parse = |l: &str| -> Option<(String, Vec<(String, String)>)> {
        let (name, rest) = l.split_once(':')?;
        let items = rest
            .split(';')
            .filter_map(|kv| {
                let (k, v) = kv.split_once('=')?;
                let v = v.trim().trim_start_matches('0').to_ascii_lowercase();
                Some((k.trim().to_string(), v))
            })
            .collect();
        Some((name.trim().to_string(), items))
    };
    let Some((name, want)) = parse(line) else {
        return false;
    };
    current
        .lines()
        .filter_map(parse)
        .find(|(n, _)| *n == name)
        .is_some_and(|(_, have)| want.iter().all(|w| have.contains(w)))
}

/// Puts a process in the group.
pub fn add(tasks: &Path, pid: i32) -> Result<()> {
    std::fs::write(tasks, pid.to_string())
        .ctx(|| format!("linux.intelRdt: add pid {pid} to {}", tasks.display()))
}

/// The `tasks` file of an existing container's group.
pub fn tasks_of(id: &str, rdt: &LinuxIntelRdt) -> Result<PathBuf> {
    let (dir, _) = group_dir(&root()?, id, rdt)?;
    Ok(if *rdt.enable_monitoring() == Some(true) {
        dir.join("mon_groups").join(id).join("tasks")
    } else {
        dir.join("tasks")
    })
}

/// Removes what hull made for the container: its monitoring group, and
/// its CTRL_MON group unless that was named by closID.
pub fn remove(id: &str, rdt: &LinuxIntelRdt) {
    let Some(root) = mount_point() else { return };
    let Ok((dir, owned)) = group_dir(&root, id, rdt) else {
        return;
    };
    if *rdt.enable_monitoring() == Some(true) {
        let _ = std::fs::remove_dir(dir.join("mon_groups").join(id));
    }
    if owned {
        let _ = std::fs::remove_dir(&dir);
    }
}

/// `update --l3-cache-schema/--mem-bw-schema`: new lines for the group.
pub fn update(id: &str, rdt: &LinuxIntelRdt, l3: Option<&str>, mb: Option<&str>) -> Result<()> {
    let mut changed = rdt.clone();
    if let Some(v) = l3 {
        changed.set_l3_cache_schema(Some(v.to_string()));
    }
    if let Some(v) = mb {
        changed.set_mem_bw_schema(Some(v.to_string()));
    }
    changed.set_schemata(None);
    let (dir, _) = group_dir(&root()?, id, rdt)?;
    write_lines(&dir, &lines(&changed)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rdt(v: serde_json::Value) -> LinuxIntelRdt {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn schemata_lines_follow_the_spec_order() {
        let r = rdt(serde_json::json!({
            "l3CacheSchema": "L3:0=ff", "memBwSchema": "MB:0=70", "schemata": ["L2:0=f"]
        }));
        assert_eq!(lines(&r).unwrap(), ["L3:0=ff", "MB:0=70", "L2:0=f"]);
        assert!(lines(&rdt(serde_json::json!({"memBwSchema": "L3:0=1"}))).is_err());
        assert!(lines(&rdt(serde_json::json!({"schemata": ["a\nb"]}))).is_err());
    }

    #[test]
    fn existing_schemata_are_compared_as_the_kernel_prints_them() {
        let cur = "    L3:0=000ff;1=fff\n    MB:0=100;1=100\n";
        assert!(schema_matches(cur, "L3:0=FF"));
        assert!(schema_matches(cur, "MB:1=100"));
        assert!(!schema_matches(cur, "L3:0=f0"));
        assert!(!schema_matches(cur, "L2:0=f"));
    }

    #[test]
    fn group_names_stay_in_resctrl() {
        let root = Path::new("/sys/fs/resctrl");
        let g = |c: &str| group_dir(root, "ctr", &rdt(serde_json::json!({"closID": c})));
        assert_eq!(g("/").unwrap(), (root.to_path_buf(), false));
        assert_eq!(g("gold").unwrap(), (root.join("gold"), false));
        assert!(g("../x").is_err() && g("..").is_err());
        let own = group_dir(root, "ctr", &rdt(serde_json::json!({}))).unwrap();
        assert_eq!(own, (root.join("ctr"), true));
    }
}
