//! Talking to systemd's manager over D-Bus (libdbus through the `dbus`
//! crate: synchronous, and it starts no thread, which hull must not do
//! before it forks its init stages). Root talks to systemd's private
//! socket (no bus daemon needed), else the system bus; an unprivileged
//! user talks to its own systemd instance (its private socket, else the
//! session bus).

use crate::error::{Error, Result};
use dbus::arg::{RefArg, Variant};
use dbus::blocking::{Connection, Proxy};
use dbus::channel::Channel;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEST: &str = "org.freedesktop.systemd1";
const PATH: &str = "/org/freedesktop/systemd1";
const MANAGER: &str = "org.freedesktop.systemd1.Manager";
const UNIT: &str = "org.freedesktop.systemd1.Unit";
const PROPS: &str = "org.freedesktop.DBus.Properties";
/// Every call waits this long at most (systemd under load, slow machines).
const CALL_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a unit may take to start or to go away.
const UNIT_TIMEOUT: Duration = Duration::from_secs(30);

/// One unit property as StartTransientUnit and SetUnitProperties take it.
pub type Property = (&'static str, Variant<Box<dyn RefArg>>);

pub fn prop<T: RefArg + 'static>(name: &'static str, value: T) -> Property {
    (name, Variant(Box::new(value)))
}

pub struct Bus {
    conn: Connection,
}

/// True when this process talks to a user's systemd instance.
pub fn use_user_instance() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// True when systemd manages this machine (what sd_booted() checks).
pub fn systemd_running() -> bool {
    Path::new("/run/systemd/system").is_dir()
}

fn user_runtime_dir() -> Option<PathBuf> {
    std::env::var_os("XDG_RUNTIME_DIR")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
}

/// The sockets to try, in order, with how to reach them.
fn candidates(user: bool) -> Vec<(String, bool)> {
    // (address, register with a bus daemon)
    let mut out = Vec::new();
    if user {
        if let Some(dir) = user_runtime_dir() {
            out.push((
                format!("unix:path={}", dir.join("systemd/private").display()),
                false,
            ));
        }
        match std::env::var("DBUS_SESSION_BUS_ADDRESS") {
            Ok(a) if !a.is_empty() => out.push((a, true)),
            _ => {
                if let Some(dir) = user_runtime_dir() {
                    out.push((format!("unix:path={}", dir.join("bus").display()), true));
                }
            }
        }
    } else {
        out.push(("unix:path=/run/systemd/private".into(), false));
        let system = std::env::var("DBUS_SYSTEM_BUS_ADDRESS")
            .ok()
            .filter(|a| !a.is_empty())
            .unwrap_or_else(|| "unix:path=/run/dbus/system_bus_socket".into());
        out.push((system, true));
    }
    out
}

/// True when one of the sockets `connect` would try is there.
pub fn reachable(user: bool) -> bool {
    candidates(user).iter().any(|(a, _)| {
        a.strip_prefix("unix:path=")
            .is_none_or(|p| Path::new(p.split(',').next().unwrap_or(p)).exists())
    })
}

impl Bus {
    /// Connects to the manager hull should use (see the module comment).
    pub fn connect(user: bool) -> Result<Bus> {
        let mut tried = Vec::new();
        for (address, register) in candidates(user) {
            let path = address.strip_prefix("unix:path=");
            if let Some(p) = path
                && !Path::new(p).exists()
            {
                tried.push(format!("{p}: not there"));
                continue;
            }
            let opened = Channel::open_private(&address).and_then(|mut c| {
                if register {
                    c.register()?;
                }
                Ok(c)
            });
            match opened {
                Ok(c) => {
                    let bus = Bus {
                        conn: Connection::from(c),
                    };
                    // Authentication happens on the first call: make one.
                    match bus.manager_property("Version") {
                        Ok(v) => {
                            crate::logging::debug(format!(
                                "systemd: connected to {address} (systemd {v})"
                            ));
                            return Ok(bus);
                        }
                        Err(e) => tried.push(format!("{address}: {}", describe(&e))),
                    }
                }
                Err(e) => tried.push(format!("{address}: {}", describe(&e))),
            }
        }
        let whose = if user {
            "this user's systemd instance"
        } else {
            "systemd"
        };
        let hint = if systemd_running() {
            String::new()
        } else {
            " (systemd is not running on this host: no /run/systemd/system; use the cgroupfs driver, without --systemd-cgroup)"
                .to_string()
        };
        Err(Error::msg(format!(
            "--systemd-cgroup: cannot reach {whose} over D-Bus ({}){hint}",
            tried.join("; ")
        )))
    }

    fn manager(&self) -> Proxy<'_, &Connection> {
        self.conn.with_proxy(DEST, PATH, CALL_TIMEOUT)
    }

    fn manager_property(&self, name: &str) -> std::result::Result<String, dbus::Error> {
        let (v,): (Variant<String>,) = self.manager().method_call(PROPS, "Get", (MANAGER, name))?;
        Ok(v.0)
    }

    /// The unit's object path, None when systemd has no such unit loaded.
    pub fn unit_object(&self, unit: &str) -> Result<Option<dbus::Path<'static>>> {
        match self
            .manager()
            .method_call::<(dbus::Path<'static>,), _, _, _>(MANAGER, "GetUnit", (unit,))
        {
            Ok((p,)) => Ok(Some(p)),
            Err(e) if e.name() == Some("org.freedesktop.systemd1.NoSuchUnit") => Ok(None),
            Err(e) => Err(call_error("GetUnit", unit, &e)),
        }
    }

    /// A string property of a unit ("ActiveState", "ControlGroup").
    pub fn unit_property(&self, object: &dbus::Path<'static>, name: &str) -> Option<String> {
        let p = self.conn.with_proxy(DEST, object.clone(), CALL_TIMEOUT);
        let r: std::result::Result<(Variant<String>,), _> =
            p.method_call(PROPS, "Get", (UNIT, name));
        r.ok().map(|(v,)| v.0)
    }

    /// Starts a transient unit and waits until it is active.
    pub fn start_transient(&self, unit: &str, props: Vec<Property>) -> Result<()> {
        let aux: Vec<(&str, Vec<Property>)> = Vec::new();
        let r: std::result::Result<(dbus::Path<'static>,), _> = self.manager().method_call(
            MANAGER,
            "StartTransientUnit",
            (unit, "replace", props, aux),
        );
        if let Err(e) = r {
            return Err(call_error("StartTransientUnit", unit, &e));
        }
        let deadline = Instant::now() + UNIT_TIMEOUT;
        let mut delay = Duration::from_micros(200);
        loop {
            let state = match self.unit_object(unit)? {
                Some(o) => self.unit_property(&o, "ActiveState").unwrap_or_default(),
                None => String::new(),
            };
            match state.as_str() {
                "active" => return Ok(()),
                "failed" | "inactive" if !state.is_empty() => {
                    let _ = self.reset_failed(unit);
                    return Err(Error::msg(format!(
                        "systemd: unit {unit} did not start (it is {state}; see `journalctl -u {unit}`)"
                    )));
                }
                _ => {}
            }
            if Instant::now() > deadline {
                return Err(Error::msg(format!(
                    "systemd: unit {unit} did not become active within {UNIT_TIMEOUT:?} (it is {state:?})"
                )));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    /// Changes properties of a running unit (not persisted across reboots).
    pub fn set_properties(&self, unit: &str, props: Vec<Property>) -> Result<()> {
        let r: std::result::Result<(), _> =
            self.manager()
                .method_call(MANAGER, "SetUnitProperties", (unit, true, props));
        r.map_err(|e| call_error("SetUnitProperties", unit, &e))
    }

    /// Stops a unit and waits until systemd has unloaded it; a unit that
    /// is not loaded is already gone.
    pub fn stop_and_wait(&self, unit: &str) -> Result<()> {
        let r: std::result::Result<(dbus::Path<'static>,), _> =
            self.manager()
                .method_call(MANAGER, "StopUnit", (unit, "replace"));
        match r {
            Ok(_) => {}
            Err(e) if e.name() == Some("org.freedesktop.systemd1.NoSuchUnit") => return Ok(()),
            Err(e) => return Err(call_error("StopUnit", unit, &e)),
        }
        let deadline = Instant::now() + UNIT_TIMEOUT;
        let mut delay = Duration::from_micros(200);
        loop {
            let Some(o) = self.unit_object(unit)? else {
                return Ok(());
            };
            match self.unit_property(&o, "ActiveState").as_deref() {
                // A stopped transient unit is unloaded soon after; a
                // failed one stays until reset.
                Some("failed") => {
                    let _ = self.reset_failed(unit);
                }
                Some("inactive") | None => return Ok(()),
                _ => {}
            }
            if Instant::now() > deadline {
                return Err(Error::msg(format!(
                    "systemd: unit {unit} did not stop within {UNIT_TIMEOUT:?}"
                )));
            }
            std::thread::sleep(delay);
            delay = (delay * 2).min(Duration::from_millis(50));
        }
    }

    fn reset_failed(&self, unit: &str) -> std::result::Result<(), dbus::Error> {
        self.manager()
            .method_call(MANAGER, "ResetFailedUnit", (unit,))
    }
}

fn describe(e: &dbus::Error) -> String {
    match (e.name(), e.message()) {
        (_, Some(m)) if !m.is_empty() => m.to_string(),
        (Some(n), _) => n.to_string(),
        _ => "D-Bus error".to_string(),
    }
}

fn call_error(method: &str, unit: &str, e: &dbus::Error) -> Error {
    if e.name() == Some("org.freedesktop.systemd1.UnitExists") {
        return Error::msg(format!(
            "linux.cgroupsPath: systemd unit {unit} already exists (another container uses this slice:prefix:name, or a unit of that name was not cleaned up)"
        ));
    }
    Error::msg(format!("systemd: {method} {unit}: {}", describe(e)))
}
