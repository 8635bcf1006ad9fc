//! The state dir `root/<id>`: its layout, `state.json`, the lock that makes
//! concurrent commands on one id safe, and status derivation.

use crate::error::{Context, Error, Result};
use crate::process::start::START_SOCKET;
use nix::fcntl::{Flock, FlockArg};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, MetadataExt};
use std::path::{Path, PathBuf};

pub const STATE_FILE: &str = "state.json";
/// State dirs being made are named `~<id>.<pid>` (`~` is not allowed in
/// ids) until their state.json is written.
pub const CREATING_PREFIX: &str = "~";

/// rename(2) that fails with EEXIST instead of replacing `to`
/// (renameat2 RENAME_NOREPLACE; where the filesystem lacks it, a plain
/// rename, which refuses to replace a non-empty dir).
fn rename_noreplace(from: &Path, to: &Path) -> Result<()> {
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| std::ffi::CString::new(p.as_os_str().as_bytes()).ok();
    let (Some(f), Some(t)) = (c(from), c(to)) else {
        return Err(Error::msg(format!("{}: NUL in path", to.display())));
    };
    // SAFETY: two valid NUL-terminated paths; the result is checked.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            f.as_ptr(),
            libc::AT_FDCWD,
            t.as_ptr(),
            libc::RENAME_NOREPLACE,
        )
    };
    let res = if r == 0 {
        Ok(())
    } else {
        let e = std::io::Error::last_os_error();
        if e.raw_os_error() == Some(libc::EINVAL) {
            std::fs::rename(from, to)
        } else {
            Err(e)
        }
    };
    res.ctx(|| format!("rename {} to {}", from.display(), to.display()))
}

/// Removes `~<id>.<pid>` dirs of creates of `id` that died before their
/// state dir was renamed into place (their pid is gone).
pub fn remove_dead_creating_dirs(root: &Path, id: &str) {
    let prefix = format!("{CREATING_PREFIX}{id}.");
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        if let Some(pid) = name.strip_prefix(&prefix)
            && let Ok(pid) = pid.parse::<i32>()
            && !std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Creating,
    Created,
    Running,
    Paused,
    Stopped,
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Status::Creating => "creating",
            Status::Created => "created",
            Status::Running => "running",
            Status::Paused => "paused",
            Status::Stopped => "stopped",
        })
    }
}

/// What hull records about a container between invocations.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct State {
    pub oci_version: String,
    pub id: String,
    /// The status when last written; the live status is derived by `status()`.
    pub status: Status,
    pub pid: i32,
    /// Start time of the init (field 22 of /proc/pid/stat), to detect pid reuse.
    pub pid_start_time: u64,
    pub bundle: PathBuf,
    pub rootfs: PathBuf,
    pub created: String,
    #[serde(default)]
    pub annotations: HashMap<String, String>,
    /// The cgroup path (relative to each hierarchy root) the container lives in.
    pub cgroup_path: String,
    /// True when the container has its own pid namespace (then killing init kills all).
    pub own_pid_ns: bool,
    /// The resources in force after an `update` (absent: the config's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<oci_spec::runtime::LinuxResources>,
    /// The scope unit of a container created with `--systemd-cgroup`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub systemd_unit: Option<String>,
}

impl State {
    /// The first state of a container made from `bundle` (create, restore):
    /// "creating", no pid yet, naming the cgroup so `delete --force` can
    /// remove everything if the command dies from here on.
    pub fn creating(id: &str, bundle: &crate::spec::Bundle, cgroup_path: &str) -> State {
        let own_pid_ns = bundle
            .spec
            .linux()
            .as_ref()
            .and_then(|l| l.namespaces().as_ref())
            .is_some_and(|ns| {
                ns.iter().any(|n| {
                    n.typ() == oci_spec::runtime::LinuxNamespaceType::Pid && n.path().is_none()
                })
            });
        State {
            oci_version: crate::spec::OCI_VERSION.to_string(),
            id: id.to_string(),
            status: Status::Creating,
            pid: 0,
            pid_start_time: 0,
            bundle: bundle.dir.clone(),
            rootfs: bundle.rootfs.clone(),
            created: crate::logging::rfc3339_now(true),
            annotations: bundle.spec.annotations().clone().unwrap_or_default(),
            cgroup_path: cgroup_path.to_string(),
            own_pid_ns,
            resources: None,
            systemd_unit: None,
        }
    }
}

/// The OCI state plus runc's extra fields, as `state` and `list` print it.
#[derive(Serialize, Debug)]
#[serde(rename_all = "camelCase")]
pub struct PublicState<'a> {
    pub oci_version: &'a str,
    pub id: &'a str,
    pub pid: i32,
    pub status: Status,
    pub bundle: &'a Path,
    pub rootfs: &'a Path,
    pub created: &'a str,
    pub owner: String,
    #[serde(skip_serializing_if = "HashMap::is_empty")]
    pub annotations: &'a HashMap<String, String>,
}

/// Rejects ids that could escape the state root or confuse tools.
pub fn validate_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id != "."
        && id != ".."
        && id.len() <= 1024
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | '+'));
    if ok {
        Ok(())
    } else {
        Err(Error::msg(format!(
            "invalid container id {id:?}: use letters, digits, '_', '-', '.', '+' (not \".\" or \"..\")"
        )))
    }
}

/// A container's state dir, held locked for the life of this value (except
/// for a read-only `peek`).
pub struct Container {
    pub dir: PathBuf,
    pub state: State,
    _lock: Option<Flock<File>>,
    /// `peek` found a `create` still holding the lock.
    in_creation: bool,
}

fn lock_dir(dir: &Path) -> Result<Flock<File>> {
    let f = File::open(dir).ctx(|| format!("open state dir {}", dir.display()))?;
    Flock::lock(f, FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .ctx(|| format!("lock state dir {}", dir.display()))
}

/// Makes the state root (mode 0700) if needed.
pub fn ensure_root(root: &Path) -> Result<()> {
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(root)
        .ctx(|| format!("create state root {}", root.display()))
}

impl Container {
    /// The container's cgroup with the driver it was created with: `update`
    /// and `delete` go through systemd for a scope unit; everything else
    /// works on the cgroup files either way.
    pub fn cgroup(&self) -> Box<dyn crate::cgroups::Manager> {
        match &self.state.systemd_unit {
            Some(unit) => Box::new(crate::cgroups::systemd::SystemdManager::existing(
                unit,
                &self.state.cgroup_path,
            )),
            None => crate::cgroups::manager(&self.state.cgroup_path),
        }
    }

    /// Creates and locks a fresh state dir holding `state`; fails if the id
    /// is taken. The dir is made, locked and given its state.json under a
    /// temporary name (not a valid id), then renamed into place without
    /// replacing anything: no other command can ever see `root/<id>`
    /// without its lock held or its state.json written (a `delete --force`
    /// took such a bare dir for the leftover of a dead create and removed
    /// it under a live one).
    pub fn create(root: &Path, id: &str, state: &State) -> Result<(PathBuf, Flock<File>)> {
        validate_id(id)?;
        ensure_root(root)?;
        let dir = root.join(id);
        let taken = || Error::msg(format!("container \"{id}\" already exists"));
        if std::fs::symlink_metadata(&dir).is_ok() {
            return Err(taken());
        }
        let tmp = root.join(format!("{CREATING_PREFIX}{id}.{}", std::process::id()));
        std::fs::DirBuilder::new()
            .mode(0o711)
            .create(&tmp)
            .ctx(|| format!("create state dir {}", tmp.display()))?;
        let placed = (|| {
            let lock = lock_dir(&tmp)?;
            write_state(&tmp, state)?;
            rename_noreplace(&tmp, &dir).map_err(|e| match e {
                Error::Sys {
                    errno: nix::errno::Errno::EEXIST | nix::errno::Errno::ENOTEMPTY,
                    ..
                } => taken(),
                e => e,
            })?;
            Ok(lock)
        })();
        match placed {
            Ok(lock) => Ok((dir, lock)),
            Err(e) => {
                let _ = std::fs::remove_dir_all(&tmp);
                Err(e)
            }
        }
    }

    /// Opens and locks an existing container.
    pub fn load(root: &Path, id: &str) -> Result<Container> {
        validate_id(id)?;
        let dir = root.join(id);
        let lock = match lock_dir(&dir) {
            Ok(l) => l,
            Err(Error::Sys {
                errno: nix::errno::Errno::ENOENT,
                ..
            }) => return Err(Error::NotFound(id.to_string())),
            Err(e) => return Err(e),
        };
        let state = read_state(&dir, id)?;
        Ok(Container {
            dir,
            state,
            _lock: Some(lock),
            in_creation: false,
        })
    }

    /// Reads a container's state without taking its lock, for `list`: one
    /// command that holds a lock (a `create` in progress) must not stall the
    /// listing of all the others. state.json is only ever replaced by a
    /// rename, so the read sees one whole version of it.
    pub fn peek(root: &Path, id: &str) -> Result<Container> {
        validate_id(id)?;
        let dir = root.join(id);
        let state = read_state(&dir, id)?;
        if state.status != Status::Creating {
            return Ok(Container {
                dir,
                state,
                _lock: None,
                in_creation: false,
            });
        }
        // "creating": a create still at work (it holds the lock) or one that
        // died. Only in the second case is the lock free; the state is then
        // read again under it, in case the create finished meanwhile.
        let f = File::open(&dir).ctx(|| format!("open state dir {}", dir.display()))?;
        match Flock::lock(f, FlockArg::LockExclusiveNonblock) {
            Ok(lock) => Ok(Container {
                state: read_state(&dir, id)?,
                dir,
                _lock: Some(lock),
                in_creation: false,
            }),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(Container {
                dir,
                state,
                _lock: None,
                in_creation: true,
            }),
            Err((_, e)) => Err(e).ctx(|| format!("lock state dir {}", dir.display())),
        }
    }

    pub fn from_parts(dir: PathBuf, state: State, lock: Flock<File>) -> Container {
        Container {
            dir,
            state,
            _lock: Some(lock),
            in_creation: false,
        }
    }

    /// Writes state.json atomically (see `write_state`).
    pub fn save(&self) -> Result<()> {
        write_state(&self.dir, &self.state)
    }

    /// The live status: the init must still be the same process.
    pub fn status(&self) -> Status {
        if self.in_creation {
            return Status::Creating;
        }
        if self.state.pid <= 0 || !process_matches(self.state.pid, self.state.pid_start_time) {
            return Status::Stopped;
        }
        if self.state.status == Status::Created && !self.dir.join(START_SOCKET).exists() {
            return Status::Running;
        }
        match self.state.status {
            Status::Creating | Status::Created => Status::Created,
            s => s,
        }
    }

    /// Is the init still alive (not yet reaped and not a zombie)?
    pub fn init_alive(&self) -> bool {
        self.status() != Status::Stopped
    }

    pub fn public_state(&self) -> PublicState<'_> {
        let status = self.status();
        PublicState {
            oci_version: &self.state.oci_version,
            id: &self.state.id,
            pid: if status == Status::Stopped {
                0
            } else {
                self.state.pid
            },
            status,
            bundle: &self.state.bundle,
            rootfs: &self.state.rootfs,
            created: &self.state.created,
            owner: owner_of(&self.dir),
            annotations: &self.state.annotations,
        }
    }

    /// The config.json the container was created from (saved at create).
    pub fn saved_spec(&self) -> Result<oci_spec::runtime::Spec> {
        let path = self.dir.join(crate::spec::CONFIG);
        let text = std::fs::read(&path).ctx(|| format!("read {}", path.display()))?;
        crate::spec::parse(&path.display().to_string(), &text)
    }

    /// The saved config and the state JSON for hooks of `kind`, or None
    /// when the config has none (most do not: the parse is skipped).
    fn hook_input(&self, status: &str) -> Option<Result<(oci_spec::runtime::Spec, String)>> {
        let path = self.dir.join(crate::spec::CONFIG);
        match std::fs::read(&path) {
            Ok(text) if text.windows(7).any(|w| w == b"\"hooks\"") => {}
            _ => return None,
        }
        Some(self.saved_spec().map(|spec| {
            let state = crate::hooks::state_json(
                &self.state.id,
                status,
                self.state.pid,
                &self.state.bundle,
                &spec,
            );
            (spec, state)
        }))
    }

    /// Runs hooks of one kind from the saved config; the first failure is
    /// the error.
    pub fn run_hooks(&self, kind: crate::hooks::Kind, status: &str) -> Result<()> {
        match self.hook_input(status) {
            None => Ok(()),
            Some(Ok((spec, state))) => crate::hooks::run(&spec, kind, &state),
            Some(Err(e)) => Err(e.wrap(kind.field().to_string())),
        }
    }

    /// Runs hooks of one kind from the saved config, warning on each failure.
    pub fn run_hooks_warn(&self, kind: crate::hooks::Kind, status: &str) {
        match self.hook_input(status) {
            None => {}
            Some(Ok((spec, state))) => crate::hooks::run_warn(&spec, kind, &state),
            Some(Err(e)) => crate::logging::warn(format!("{}: {e}", kind.field())),
        }
    }

    /// Removes the state dir and everything in it.
    pub fn remove_dir(&self) -> Result<()> {
        match std::fs::remove_dir_all(&self.dir) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e).ctx(|| format!("remove {}", self.dir.display())),
        }
    }
}

/// Parses `dir/state.json`; a missing file (a create that died before
/// writing it) is NotFound.
fn read_state(dir: &Path, id: &str) -> Result<State> {
    let path = dir.join(STATE_FILE);
    let text = match std::fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(Error::NotFound(id.to_string()));
        }
        Err(e) => return Err(e).ctx(|| format!("read {}", path.display())),
    };
    serde_json::from_slice(&text)
        .map_err(|e| Error::msg(format!("{}: corrupt state: {e}", path.display())))
}

/// Writes state.json so that a reader (or a crash of hull) sees either the
/// old file or the new one, never a part: the text goes to a temp file that
/// is renamed over state.json. Nothing is fsynced: state.json describes live
/// processes, which do not survive a power loss or reboot, so after one every
/// container is stopped whatever the file says, and a torn file is reported
/// by `list` with the `delete --force` hint. On failure the temp file is
/// removed.
pub fn write_state(dir: &Path, state: &State) -> Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = dir.join(".state.json.tmp");
    let text = serde_json::to_vec(state).map_err(|e| Error::msg(format!("encode state: {e}")))?;
    let written = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .and_then(|mut f| f.write_all(&text))
        .ctx(|| format!("write {}", tmp.display()));
    if let Err(e) = written {
        let _ = std::fs::remove_file(&tmp);
        return Err(e);
    }
    if let Err(e) = std::fs::rename(&tmp, dir.join(STATE_FILE)) {
        let _ = std::fs::remove_file(&tmp);
        return Err(e).ctx(|| format!("rename {}", tmp.display()));
    }
    Ok(())
}

pub fn process_matches(pid: i32, start_time: u64) -> bool {
    crate::procinfo::start_time(pid) == Some(start_time)
}

/// The user name owning a path, as `list` shows it. Names are looked up
/// once per uid: `list` of many containers would otherwise scan the user
/// database once per container.
fn owner_of(dir: &Path) -> String {
    thread_local! {
        static NAMES: std::cell::RefCell<HashMap<u32, String>> = Default::default();
    }
    let uid = match std::fs::metadata(dir) {
        Ok(m) => m.uid(),
        Err(_) => return String::new(),
    };
    NAMES.with(|names| {
        names
            .borrow_mut()
            .entry(uid)
            .or_insert_with(|| {
                std::fs::read_to_string("/etc/passwd")
                    .ok()
                    .and_then(|passwd| passwd_name(&passwd, uid))
                    .unwrap_or_else(|| format!("#{uid}"))
            })
            .clone()
    })
}

/// The name of `uid` in an /etc/passwd text. The file is read directly (as
/// runc's Go lookup does) rather than through NSS: the release binary is
/// statically linked, and NSS would have to load shared modules for it.
fn passwd_name(passwd: &str, uid: u32) -> Option<String> {
    passwd.lines().find_map(|line| {
        let mut fields = line.split(':');
        let name = fields.next()?;
        let entry_uid = fields.nth(1)?.parse::<u32>().ok()?;
        (entry_uid == uid && !name.is_empty()).then(|| name.to_string())
    })
}

/// Ids of all containers under the root, sorted.
pub fn list_ids(root: &Path) -> Result<Vec<String>> {
    let mut ids = Vec::new();
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(ids),
        Err(e) => return Err(e).ctx(|| format!("read {}", root.display())),
    };
    for entry in entries.flatten() {
        if entry.file_type().map(|t| t.is_dir()).unwrap_or(false)
            && let Some(name) = entry.file_name().to_str()
            && validate_id(name).is_ok()
        {
            ids.push(name.to_string());
        }
    }
    ids.sort();
    Ok(ids)
}

/// Every container under the root, read without taking its lock (see
/// [`Container::peek`]): per container that is state.json, /proc/PID/stat,
/// and a stat of the state dir and of the start socket. One that cannot be
/// read is reported on stderr and left out.
pub fn peek_all(root: &Path) -> Result<Vec<Container>> {
    let ids = list_ids(root)?;
    let mut containers: Vec<Container> = Vec::with_capacity(ids.len());
    for id in &ids {
        match Container::peek(root, id) {
            Ok(c) => containers.push(c),
            // Deleted (or a create that died first) since the scan.
            Err(Error::NotFound(_)) => {}
            // Listed on stderr so it is not lost: stdout stays parseable.
            Err(e) => crate::logging::warn(format!(
                "list: container \"{id}\" cannot be read ({e}); `hull delete --force {id}` removes it"
            )),
        }
    }
    Ok(containers)
}

/// Whether hull runs rootless: `--rootless true|false`, or (auto, the
/// default) when it is not root in the host's user namespace.
fn is_rootless(flag: Option<&str>) -> bool {
    match flag {
        Some("true") => true,
        Some("false") => false,
        _ => !nix::unistd::geteuid().is_root() || crate::namespaces::in_child_user_namespace(),
    }
}

/// The state root: `--root`, else /run/hull for root, else
/// $XDG_RUNTIME_DIR/hull (an unprivileged user cannot write /run).
pub fn state_root(root: Option<PathBuf>, rootless_flag: Option<&str>) -> Result<PathBuf> {
    if let Some(root) = root {
        return Ok(root);
    }
    let rootless = is_rootless(rootless_flag);
    crate::logging::debug(format!("no --root given; rootless: {rootless}"));
    if !rootless {
        return Ok(PathBuf::from("/run/hull"));
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir).join("hull")),
        None if nix::unistd::geteuid().is_root() => Ok(PathBuf::from("/run/hull")),
        None => Err(Error::msg(
            "--root: not given and XDG_RUNTIME_DIR is not set: rootless hull keeps its state in \
             $XDG_RUNTIME_DIR/hull (set XDG_RUNTIME_DIR or pass --root DIR owned by this user)",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwd_names_are_found_by_uid() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\n# comment\nbad line\nalice:x:1000:1000::/home/alice:/bin/sh\n";
        assert_eq!(passwd_name(passwd, 0).as_deref(), Some("root"));
        assert_eq!(passwd_name(passwd, 1000).as_deref(), Some("alice"));
        assert_eq!(passwd_name(passwd, 7), None);
    }

    #[test]
    fn ids_that_escape_are_rejected() {
        for bad in ["", ".", "..", "a/b", "../x", "a b", "x\n"] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
        for good in ["a", "abc-123", "x.y", "A_b+c"] {
            validate_id(good).unwrap();
        }
    }
}

pub mod checkpoint;
pub mod control;
pub mod exec;
pub mod lifecycle;
