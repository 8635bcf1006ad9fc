//! The systemd cgroup driver (`--systemd-cgroup`): the container's cgroup
//! is a transient scope unit that systemd creates (StartTransientUnit with
//! the init's pid, Delegate=yes and the resource properties systemd has),
//! after which hull writes every limit to the scope's cgroup files itself,
//! as with the cgroupfs driver. Everything else (pause, ps, kill --all,
//! events, exec) works on the scope's cgroup directly; `update` also sets
//! the unit's properties, and `delete` stops the unit and waits for it.

pub mod bus;
pub mod properties;
pub mod unit;

use super::devices::Rule;
use super::{Manager, Version, host_version};
use crate::error::{Error, Result};
use bus::{Bus, prop};
use oci_spec::runtime::LinuxResources;
use std::cell::{OnceCell, RefCell};
use std::sync::atomic::{AtomicBool, Ordering};
pub use unit::UnitPath;

static REQUESTED: AtomicBool = AtomicBool::new(false);

/// Records `--systemd-cgroup` for this invocation (the config checks read it).
pub fn set_requested(on: bool) {
    REQUESTED.store(on, Ordering::Relaxed);
}

pub fn requested() -> bool {
    REQUESTED.load(Ordering::Relaxed)
}

/// What `features` reports: systemd manages this host and its manager
/// (for root) or a user's instance (for this user) can be reached.
pub fn available(user: bool) -> bool {
    bus::systemd_running() && bus::reachable(user)
}

/// The systemd-managed cgroup of one container. Before the init exists the
/// unit cannot be started (a scope needs a pid), so the resources and
/// device rules given first are kept and applied once `add_process` has
/// started the unit.
pub struct SystemdManager {
    unit: UnitPath,
    user: bool,
    bus: OnceCell<Bus>,
    /// The scope's cgroup path once known (read from /proc/PID/cgroup of
    /// a process inside, so it is right whatever the manager's root).
    path: RefCell<String>,
    started: std::cell::Cell<bool>,
    pending_resources: RefCell<Option<LinuxResources>>,
    pending_devices: RefCell<Option<Vec<Rule>>>,
}

impl SystemdManager {
    /// A container being created: the unit does not exist yet.
    pub fn new(unit: UnitPath) -> SystemdManager {
        SystemdManager {
            path: RefCell::new(unit.cgroup.clone()),
            unit,
            user: bus::use_user_instance(),
            bus: OnceCell::new(),
            started: std::cell::Cell::new(false),
            pending_resources: RefCell::new(None),
            pending_devices: RefCell::new(None),
        }
    }

    /// An existing container's unit, with the cgroup path recorded in its state.
    pub fn existing(unit: &str, cgroup_path: &str) -> SystemdManager {
        let m = SystemdManager::new(UnitPath {
            slice: String::new(),
            unit: unit.to_string(),
            cgroup: cgroup_path.to_string(),
        });
        m.started.set(true);
        m
    }

    pub fn unit_name(&self) -> &str {
        &self.unit.unit
    }

    fn bus(&self) -> Result<&Bus> {
        if let Some(b) = self.bus.get() {
            return Ok(b);
        }
        let b = Bus::connect(self.user)?;
        Ok(self.bus.get_or_init(|| b))
    }

    /// The cgroupfs manager of the scope's cgroup.
    fn fs(&self) -> Box<dyn Manager> {
        super::manager(&self.path.borrow())
    }

    fn start(&self, pid: i32) -> Result<()> {
        let version = host_version();
        let mut props = vec![
            prop(
                "Description",
                format!(
                    "hull container {}",
                    self.unit.unit.trim_end_matches(".scope")
                ),
            ),
            prop("Slice", self.unit.slice.clone()),
            prop("Delegate", true),
            prop("PIDs", vec![pid as u32]),
            prop("DefaultDependencies", false),
            prop("MemoryAccounting", true),
            prop("CPUAccounting", true),
            prop("TasksAccounting", true),
        ];
        if version == Version::V2 {
            props.push(prop("IOAccounting", true));
        } else {
            props.push(prop("BlockIOAccounting", true));
        }
        if let Some(r) = self.pending_resources.borrow().as_ref() {
            props.extend(properties::resources(r, version)?);
        }
        if let Some(rules) = self.pending_devices.borrow().as_ref() {
            props.extend(properties::devices(rules));
        }
        let t = std::time::Instant::now();
        self.bus()?.start_transient(&self.unit.unit, props)?;
        self.started.set(true);
        if let Some(p) = cgroup_of_pid(pid, version) {
            *self.path.borrow_mut() = p;
        }
        crate::logging::debug(format!(
            "systemd: started {} in {} with pid {pid}: cgroup {} ({:.1?})",
            self.unit.unit,
            self.unit.slice,
            self.path.borrow(),
            t.elapsed()
        ));
        // What systemd has no property for (and the exact values of what
        // it rounds) go to the files; on v1 this also makes the cgroup in
        // the hierarchies systemd does not manage (cpuset, freezer, ...).
        let fs = self.fs();
        fs.create()?;
        if version == Version::V1 {
            fs.add_process(pid)?;
        }
        if let Some(r) = self.pending_resources.borrow_mut().take() {
            fs.apply(&r)?;
        }
        if let Some(rules) = self.pending_devices.borrow_mut().take() {
            fs.apply_devices(&rules)?;
        }
        Ok(())
    }
}

/// The process's cgroup as this process sees the hierarchy: v2's "0::"
/// line, on v1 the name=systemd hierarchy's.
fn cgroup_of_pid(pid: i32, version: Version) -> Option<String> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/cgroup")).ok()?;
    text.lines().find_map(|l| {
        let mut f = l.splitn(3, ':');
        let (_, ctrls, path) = (f.next()?, f.next()?, f.next()?);
        let wanted = match version {
            Version::V2 => ctrls.is_empty(),
            Version::V1 => ctrls == "name=systemd",
        };
        wanted.then(|| path.to_string())
    })
}

impl Manager for SystemdManager {
    /// The unit is started by `add_process`; here hull only makes sure
    /// systemd can be reached and that no unit of that name exists.
    fn create(&self) -> Result<()> {
        if self.started.get() {
            return Ok(());
        }
        let bus = self.bus()?;
        if let Some(o) = bus.unit_object(&self.unit.unit)? {
            let state = bus.unit_property(&o, "ActiveState").unwrap_or_default();
            if state != "inactive" {
                return Err(Error::msg(format!(
                    "linux.cgroupsPath: systemd unit {} already exists (it is {state})",
                    self.unit.unit
                )));
            }
        }
        Ok(())
    }

    fn apply(&self, r: &LinuxResources) -> Result<()> {
        if !self.started.get() {
            *self.pending_resources.borrow_mut() = Some(r.clone());
            return Ok(());
        }
        let props = properties::resources(r, host_version())?;
        if !props.is_empty() {
            self.bus()?.set_properties(&self.unit.unit, props)?;
        }
        self.fs().apply(r)
    }

    fn apply_devices(&self, rules: &[Rule]) -> Result<()> {
        if !self.started.get() {
            *self.pending_devices.borrow_mut() = Some(rules.to_vec());
            return Ok(());
        }
        self.fs().apply_devices(rules)
    }

    fn add_process(&self, pid: i32) -> Result<()> {
        if !self.started.get() {
            return self.start(pid);
        }
        self.fs().add_process(pid)
    }

    fn placed_path(&self) -> Option<String> {
        Some(self.path.borrow().clone())
    }

    fn pids(&self) -> Result<Vec<i32>> {
        self.fs().pids()
    }

    /// Kills what is left, then stops the unit and waits until systemd
    /// has let it go (and removed its cgroup).
    fn destroy(&self) -> Result<()> {
        let fs = self.fs();
        if !self.started.get() && self.bus().is_err() {
            // A create that could not reach systemd started no unit.
            return fs.destroy();
        }
        let killed = fs.destroy();
        self.bus()?.stop_and_wait(&self.unit.unit)?;
        killed?;
        // Whatever systemd left (sub-cgroups made inside the delegated scope).
        fs.destroy()
    }

    fn exists(&self) -> bool {
        if self.started.get() {
            return self.fs().exists();
        }
        self.bus()
            .ok()
            .and_then(|b| b.unit_object(&self.unit.unit).ok().flatten())
            .is_some()
    }

    fn set_frozen(&self, frozen: bool) -> Result<()> {
        self.fs().set_frozen(frozen)
    }

    fn stats(&self) -> Result<serde_json::Value> {
        self.fs().stats()
    }

    fn oom_kills(&self) -> u64 {
        self.fs().oom_kills()
    }
}
