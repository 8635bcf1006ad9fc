//! Commands on a container's processes and cgroup once it exists: pause
//! and resume, ps, update, stats and events.

use super::{Container, Status};
use crate::cgroups;
use crate::error::{Context, Error, Result};
use std::path::Path;

/// `pause` (freeze every process) and `resume` (thaw them).
pub fn set_paused(root: &Path, id: &str, paused: bool) -> Result<()> {
    let mut c = Container::load(root, id)?;
    let (want, next) = if paused {
        (Status::Running, Status::Paused)
    } else {
        (Status::Paused, Status::Running)
    };
    let status = c.status();
    if status != want {
        return Err(Error::msg(format!(
            "container \"{id}\" is {status}, not {want}"
        )));
    }
    cgroups::manager(&c.state.cgroup_path).set_frozen(paused)?;
    c.state.status = next;
    c.save()
}

/// `ps`: the pids of every process in the container's cgroup.
pub fn pids(root: &Path, id: &str) -> Result<Vec<i32>> {
    let c = Container::load(root, id)?;
    container_pids(&c)
}

/// The container's processes: those of its cgroup; for a container that
/// runs without one (rootless, nothing delegated), those of its own pid
/// namespace (exec'd processes included, which are not the init's
/// descendants), else just the init.
pub(super) fn container_pids(c: &Container) -> Result<Vec<i32>> {
    if !c.state.cgroup_path.is_empty() {
        return cgroups::manager(&c.state.cgroup_path).pids();
    }
    let init = c.state.pid;
    if init <= 0 || !super::process_matches(init, c.state.pid_start_time) {
        return Ok(Vec::new());
    }
    let ns_of = |pid: i32| std::fs::read_link(format!("/proc/{pid}/ns/pid")).ok();
    let Some(ns) = ns_of(init).filter(|_| c.state.own_pid_ns) else {
        return Ok(vec![init]);
    };
    let mut pids: Vec<i32> = std::fs::read_dir("/proc")
        .ctx(|| "read /proc".into())?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<i32>().ok())
        .filter(|&pid| ns_of(pid).as_ref() == Some(&ns))
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// The resources in force: the last `update`'s, else the config's.
fn current_resources(c: &Container) -> Result<oci_spec::runtime::LinuxResources> {
    if let Some(r) = &c.state.resources {
        return Ok(r.clone());
    }
    Ok(c.saved_spec()?
        .linux()
        .as_ref()
        .and_then(|l| l.resources().clone())
        .unwrap_or_default())
}

/// `update`: merges `changes` onto the resources in force, applies the
/// result to the live cgroup (device rules are left as they are) and
/// records it in the state.
/// `update --l3-cache-schema/--mem-bw-schema`: rewrites the schemata of
/// the container's resctrl group (only a container created with
/// linux.intelRdt has one).
pub fn update_intel_rdt(root: &Path, id: &str, l3: Option<&str>, mb: Option<&str>) -> Result<()> {
    let c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::msg(format!(
            "cannot update container \"{id}\": it is stopped"
        )));
    }
    let spec = c.saved_spec()?;
    let Some(rdt) = spec.linux().as_ref().and_then(|l| l.intel_rdt().as_ref()) else {
        return Err(Error::msg(format!(
            "--l3-cache-schema/--mem-bw-schema: container \"{id}\" was created without linux.intelRdt, so it has no resctrl group"
        )));
    };
    crate::cgroups::resctrl::update(id, rdt, l3, mb)
}

pub fn update(root: &Path, id: &str, changes: &oci_spec::runtime::LinuxResources) -> Result<()> {
    let mut c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::msg(format!(
            "cannot update container \"{id}\": it is stopped"
        )));
    }
    let mut changes = changes.clone();
    if changes
        .memory()
        .as_ref()
        .is_some_and(|m| m.kernel().is_some())
    {
        crate::logging::warn(crate::spec::KERNEL_MEMORY_IGNORED);
    }
    // 0 where engines mean "not set" changes nothing, as in config.json.
    crate::spec::clear_unset_resources(&mut changes);
    let merged = cgroups::resources::merge(&current_resources(&c)?, &changes)?;
    let m = c.cgroup();
    if !m.exists() {
        return Err(Error::msg(format!(
            "cannot update container \"{id}\": it has no cgroup"
        )));
    }
    let mut merged = merged;
    // `--memory -1` alone lifts the memory+swap limit too (as runc does):
    // an old memsw limit would otherwise stay below unlimited memory.
    if let Some(mem) = merged.memory_mut()
        && changes
            .memory()
            .as_ref()
            .is_some_and(|m| m.limit() == Some(-1) && m.swap().is_none())
    {
        mem.set_swap(Some(-1));
    }
    let mut live = merged.clone();
    live.set_devices(None);
    // Only the memory fields asked for are checked against usage.
    if let Some(mem) = live.memory_mut()
        && changes
            .memory()
            .as_ref()
            .is_none_or(|m| m.limit().is_none())
    {
        mem.set_check_before_update(None);
    }
    m.apply(&live)?;
    c.state.resources = Some(merged);
    c.save()
}

/// Stats of a container's cgroup (runc's `events --stats` data).
pub fn stats(root: &Path, id: &str) -> Result<serde_json::Value> {
    let c = Container::load(root, id)?;
    if c.status() == Status::Stopped {
        return Err(Error::msg(format!("container \"{id}\" is stopped")));
    }
    cgroups::manager(&c.state.cgroup_path).stats()
}

/// One `events` line: `{"type":..,"id":..,"data":..}` with the keys in
/// that order, as runc prints them (a JSON map would sort them).
pub fn event_line(kind: &str, id: &str, data: Option<&serde_json::Value>) -> String {
    #[derive(serde::Serialize)]
    struct Event<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        id: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        data: Option<&'a serde_json::Value>,
    }
    serde_json::to_string(&Event { kind, id, data }).unwrap_or_default()
}

/// `events`: prints one JSON object per line: a stats event every
/// `interval` (none when `interval` is None) and an `oom` event whenever
/// the OOM killer strikes in the cgroup. Returns when the container stops.
pub fn events(
    root: &Path,
    id: &str,
    interval: Option<std::time::Duration>,
    out: &mut dyn std::io::Write,
) -> Result<()> {
    let (path, pid, start_time) = {
        let c = Container::load(root, id)?;
        if c.status() == Status::Stopped {
            return Err(Error::msg(format!("container \"{id}\" is stopped")));
        }
        (
            c.state.cgroup_path.clone(),
            c.state.pid,
            c.state.pid_start_time,
        )
    };
    let m = cgroups::manager(&path);
    let mut ooms = m.oom_kills();
    let tick = std::time::Duration::from_millis(100);
    let mut next_stats = std::time::Instant::now();
    let emit = |out: &mut dyn std::io::Write, v: String| -> Result<()> {
        writeln!(out, "{v}")
            .and_then(|_| out.flush())
            .map_err(|e| Error::msg(format!("events: write: {e}")))
    };
    loop {
        let alive = super::process_matches(pid, start_time);
        let now = m.oom_kills();
        if now > ooms {
            ooms = now;
            emit(out, event_line("oom", id, None))?;
        }
        if !alive {
            return Ok(());
        }
        if let Some(iv) = interval
            && std::time::Instant::now() >= next_stats
        {
            let data = m.stats()?;
            emit(out, event_line("stats", id, Some(&data)))?;
            next_stats = std::time::Instant::now() + iv;
        }
        std::thread::sleep(tick);
    }
}
