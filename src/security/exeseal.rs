//! CVE-2019-5736: the host's hull binary must not be writable through
//! `/proc/<pid>/exe` of a hull process that a container can reach.
//!
//! hull's processes that enter a container (the init until `start`, the
//! exec stage until it execs) are non-dumpable, which keeps out every
//! container process without CAP_SYS_PTRACE in hull's user namespace. A
//! container *with* it (no user namespace of its own and CAP_SYS_PTRACE in
//! its capability sets, or another container sharing a pid namespace joined
//! by path) can still open `/proc/<pid>/exe`, keep the `O_PATH`/read handle
//! and reopen it for writing once hull has exited. For those containers hull
//! re-executes itself, before it changes anything, from a copy of its binary
//! in a memfd sealed against writing, shrinking and growing: `/proc/<pid>/exe`
//! of every hull process that follows is that memfd, which nobody can change.
//!
//! `HULL_EXE_PROTECTION=auto` (the default) does this only when a container
//! could reach hull; `always` for every create/run/exec; `off` never.

use crate::error::{Error, Result};
use oci_spec::runtime::{Capability, LinuxCapabilities, LinuxIdMapping, LinuxNamespaceType, Spec};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};

/// The switch: `off`, `auto` (default) or `always`.
pub const ENV: &str = "HULL_EXE_PROTECTION";
/// Set in the environment of the re-executed hull, removed at its start.
const MARKER: &str = "_HULL_EXE_SEALED";
/// The seals that make the copy immutable (F_SEAL_SEAL keeps them so).
const SEALS: libc::c_int =
    libc::F_SEAL_SEAL | libc::F_SEAL_SHRINK | libc::F_SEAL_GROW | libc::F_SEAL_WRITE;
/// memfd_create: executable (needed where vm.memfd_noexec is 1; 6.3+).
const MFD_EXEC: libc::c_uint = 0x10;

static REEXECUTED: AtomicBool = AtomicBool::new(false);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Off,
    Auto,
    Always,
}

pub fn mode() -> Result<Mode> {
    match std::env::var(ENV).as_deref() {
        Err(_) | Ok("") | Ok("auto") => Ok(Mode::Auto),
        Ok("off") => Ok(Mode::Off),
        Ok("always") => Ok(Mode::Always),
        Ok(other) => Err(Error::msg(format!(
            "{ENV}={other:?}: expected off, auto or always"
        ))),
    }
}

/// First thing in `main`, while hull is single-threaded: takes the marker
/// out of the environment (so hooks and the container never see it) and
/// names the process "hull" again (exec through a descriptor names it "3").
pub fn on_startup() {
    if std::env::var_os(MARKER).is_none() {
        return;
    }
    // SAFETY: called at the very start of main, before any thread exists.
    unsafe { std::env::remove_var(MARKER) };
    REEXECUTED.store(true, Ordering::Relaxed);
    // SAFETY: prctl with a NUL-terminated name that outlives the call.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"hull".as_ptr(), 0, 0, 0) };
}

/// True when hull re-executed itself from a sealed copy (inherited by the
/// processes it forks).
pub fn reexecuted() -> bool {
    REEXECUTED.load(Ordering::Relaxed)
}

/// True when this process runs from a memfd carrying the seals above.
pub fn running_sealed() -> bool {
    let Ok(exe) = std::fs::File::open("/proc/self/exe") else {
        return false;
    };
    // SAFETY: fcntl on a descriptor we own; fails with EINVAL on files
    // that do not support seals.
    let seals = unsafe { libc::fcntl(exe.as_raw_fd(), libc::F_GET_SEALS) };
    seals >= 0 && seals & SEALS == SEALS
}

/// Capability sets of a process that hold CAP_SYS_PTRACE.
fn has_ptrace(c: Option<&LinuxCapabilities>) -> bool {
    let Some(c) = c else { return false };
    [
        c.bounding(),
        c.effective(),
        c.permitted(),
        c.inheritable(),
        c.ambient(),
    ]
    .iter()
    .any(|s| {
        s.as_ref()
            .is_some_and(|s| s.contains(&Capability::SysPtrace))
    })
}

/// The uid owning hull's binary (writable by its owner: mode 0755).
fn exe_owner() -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata("/proc/self/exe").ok().map(|m| m.uid())
}

fn maps_uid(map: &[LinuxIdMapping], uid: u32) -> bool {
    map.iter()
        .any(|m| uid >= m.host_id() && (uid as u64) < m.host_id() as u64 + m.size() as u64)
}

/// Why a container made from `spec` could reach hull's binary, or None.
/// A user namespace keeps it out unless it maps the binary's owner (then
/// the container's root may write the file like its owner).
pub fn spec_exposure(spec: &Spec) -> Option<String> {
    let linux = spec.linux().as_ref();
    let namespaces = linux.and_then(|l| l.namespaces().as_deref()).unwrap_or(&[]);
    let ns = |t: LinuxNamespaceType| namespaces.iter().find(|n| n.typ() == t);
    if let Some(user) = ns(LinuxNamespaceType::User) {
        if user.path().is_some() {
            return Some("the user namespace is joined by path (its id map is not checked)".into());
        }
        let map = linux
            .and_then(|l| l.uid_mappings().as_deref())
            .unwrap_or(&[]);
        return match exe_owner() {
            Some(uid) if maps_uid(map, uid) => Some(format!(
                "linux.uidMappings maps uid {uid}, the owner of hull's binary"
            )),
            _ => None,
        };
    }
    if let Some(r) = spec.process().as_ref().and_then(label_exposure) {
        return Some(r);
    }
    let caps = spec
        .process()
        .as_ref()
        .and_then(|p| p.capabilities().as_ref());
    if has_ptrace(caps) {
        return Some("process.capabilities hold CAP_SYS_PTRACE without a user namespace".into());
    }
    if ns(LinuxNamespaceType::Pid).is_some_and(|n| n.path().is_some()) {
        return Some("the pid namespace is joined by path without a user namespace".into());
    }
    None
}

/// An AppArmor profile or SELinux label takes effect at the next execve,
/// which must then be the program's own, not the exec trampoline's (see
/// security::trampoline): such a process is protected by the sealed copy.
pub fn label_exposure(p: &oci_spec::runtime::Process) -> Option<String> {
    let set = |s: &Option<String>| s.as_deref().is_some_and(|s| !s.is_empty());
    if set(p.apparmor_profile()) {
        return Some("process.apparmorProfile applies at the program's execve".into());
    }
    set(p.selinux_label()).then(|| "process.selinuxLabel applies at the program's execve".into())
}

/// /proc/<pid>/status "CapBnd" or "CapPrm" includes CAP_SYS_PTRACE.
fn process_may_ptrace(pid: i32) -> bool {
    let Some(status) = crate::procinfo::status(pid) else {
        return false;
    };
    let bit = 1u64 << caps::Capability::CAP_SYS_PTRACE.index();
    ["CapBnd", "CapPrm"]
        .iter()
        .any(|k| crate::procinfo::status_mask(&status, k).is_some_and(|m| m & bit != 0))
}

/// Why an `exec` into the container of `init_pid` could expose hull's
/// binary, or None. `process_caps` is None when the new process's caps are
/// not known yet (then they are assumed to hold CAP_SYS_PTRACE); `pids`
/// are the container's processes, whose live capability sets are checked
/// too (an earlier exec may have added CAP_SYS_PTRACE).
pub fn exec_exposure(
    init_pid: i32,
    spec: &Spec,
    process_caps: Option<Option<&LinuxCapabilities>>,
    pids: &[i32],
) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let ns = |p: &str| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    let theirs = ns(&format!("/proc/{init_pid}/ns/user"));
    if theirs.is_some() && theirs != ns("/proc/self/ns/user") {
        let map = std::fs::read_to_string(format!("/proc/{init_pid}/uid_map")).unwrap_or_default();
        let Some(owner) = exe_owner() else {
            return Some("the owner of hull's binary is unknown".into());
        };
        let mapped = map.lines().any(|l| {
            let f: Vec<u64> = l
                .split_whitespace()
                .filter_map(|x| x.parse().ok())
                .collect();
            f.len() == 3 && (owner as u64) >= f[1] && (owner as u64) < f[1] + f[2]
        });
        return mapped.then(|| {
            format!("the container's user namespace maps uid {owner}, the owner of hull's binary")
        });
    }
    match process_caps {
        None => return Some("the new process's capabilities are not known yet".into()),
        Some(c) if has_ptrace(c) => {
            return Some("the new process holds CAP_SYS_PTRACE without a user namespace".into());
        }
        Some(_) => {}
    }
    if let Some(r) = spec_exposure(spec) {
        return Some(r);
    }
    pids.iter()
        .find(|p| process_may_ptrace(**p))
        .map(|p| format!("container process {p} holds CAP_SYS_PTRACE without a user namespace"))
}

/// Re-executes hull from a sealed copy when the mode and `exposure` ask for
/// it. Returns Ok when nothing is to be done (or it is already done); on
/// success of the re-exec it does not return at all. Call it before any
/// state changes: the new image starts the command over.
pub fn protect(exposure: Option<String>) -> Result<()> {
    // The exec trampoline (security::trampoline, which builds on this
    // module) exists for x86_64 only; elsewhere the sealed copy protects.
    let exposure = exposure.or_else(|| {
        (!cfg!(target_arch = "x86_64"))
            .then(|| "no exec trampoline for this architecture".to_string())
    });
    let why = match (mode()?, exposure) {
        (Mode::Off, _) | (Mode::Auto, None) => return Ok(()),
        (Mode::Auto, Some(why)) => why,
        (Mode::Always, why) => why.unwrap_or_else(|| format!("{ENV}=always")),
    };
    if running_sealed() {
        return Ok(());
    }
    if REEXECUTED.load(Ordering::Relaxed) {
        return Err(Error::msg(
            "re-executed from a sealed copy of hull, but /proc/self/exe is not sealed",
        ));
    }
    crate::logging::debug(format!(
        "re-executing from a sealed memfd copy of the binary: {why}"
    ));
    reexec_sealed()
}

fn sys_err(what: &str) -> Error {
    Error::msg(format!(
        "protect hull's binary (CVE-2019-5736; {ENV}=off turns this off): {what}: {}",
        std::io::Error::last_os_error()
    ))
}

/// Copies /proc/self/exe into a sealed memfd and execs it with the same
/// arguments. Descriptors without close-on-exec (stdio, --preserve-fds,
/// LISTEN_FDS) stay; hull's own are all close-on-exec.
fn reexec_sealed() -> Result<()> {
    let exe = std::fs::File::open("/proc/self/exe")
        .map_err(|e| Error::msg(format!("protect hull's binary: open /proc/self/exe: {e}")))?;
    let len = exe
        .metadata()
        .map_err(|e| Error::msg(format!("protect hull's binary: stat /proc/self/exe: {e}")))?
        .len();
    let flags = libc::MFD_CLOEXEC | libc::MFD_ALLOW_SEALING;
    // SAFETY: memfd_create with a NUL-terminated name; the result is checked.
    let mut raw = unsafe { libc::memfd_create(c"hull".as_ptr(), flags | MFD_EXEC) };
    if raw < 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::EINVAL) {
        // Kernels before 6.3 do not know MFD_EXEC (their memfds are executable).
        // SAFETY: as above.
        raw = unsafe { libc::memfd_create(c"hull".as_ptr(), flags) };
    }
    if raw < 0 {
        return Err(sys_err("memfd_create"));
    }
    // SAFETY: memfd_create returned this new descriptor.
    let memfd = unsafe { OwnedFd::from_raw_fd(raw) };
    let mut copied = 0u64;
    while copied < len {
        let chunk = (len - copied).min(1 << 30) as usize;
        // SAFETY: sendfile between two descriptors we own, from the current offsets.
        let n = unsafe {
            libc::sendfile(
                memfd.as_raw_fd(),
                exe.as_raw_fd(),
                std::ptr::null_mut(),
                chunk,
            )
        };
        match n {
            n if n > 0 => copied += n as u64,
            0 => break,
            _ if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) => {}
            _ => return Err(sys_err("copy /proc/self/exe into a memfd")),
        }
    }
    if copied != len {
        return Err(Error::msg(format!(
            "protect hull's binary: copied {copied} of {len} bytes of /proc/self/exe"
        )));
    }
    // SAFETY: fcntl on the memfd we own.
    if unsafe { libc::fcntl(memfd.as_raw_fd(), libc::F_ADD_SEALS, SEALS) } < 0 {
        return Err(sys_err("seal the memfd"));
    }
    let cstr = |s: &std::ffi::OsStr| {
        std::ffi::CString::new(std::os::unix::ffi::OsStrExt::as_bytes(s))
            .map_err(|_| Error::msg("protect hull's binary: an argument holds a NUL byte"))
    };
    let argv = std::env::args_os()
        .map(|a| cstr(&a))
        .collect::<Result<Vec<_>>>()?;
    let mut envp = Vec::new();
    for (k, v) in std::env::vars_os() {
        let mut kv = k;
        kv.push("=");
        kv.push(v);
        envp.push(cstr(&kv)?);
    }
    envp.push(std::ffi::CString::new(format!("{MARKER}=1")).expect("no NUL"));
    let mut argv_p: Vec<*mut libc::c_char> = argv.iter().map(|a| a.as_ptr().cast_mut()).collect();
    argv_p.push(std::ptr::null_mut());
    let mut envp_p: Vec<*mut libc::c_char> = envp.iter().map(|e| e.as_ptr().cast_mut()).collect();
    envp_p.push(std::ptr::null_mut());
    // SAFETY: NULL-terminated arrays of pointers to CStrings that outlive
    // the call (execveat does not write through them); on success this
    // process image is replaced.
    unsafe {
        libc::execveat(
            memfd.as_raw_fd(),
            c"".as_ptr(),
            argv_p.as_ptr(),
            envp_p.as_ptr(),
            libc::AT_EMPTY_PATH,
        )
    };
    Err(sys_err("execveat the sealed copy"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uid_in_a_mapping_range() {
        let m: LinuxIdMapping = serde_json::from_value(serde_json::json!(
            {"containerID": 0, "hostID": 100000, "size": 65536}
        ))
        .unwrap();
        assert!(maps_uid(std::slice::from_ref(&m), 100000));
        assert!(maps_uid(std::slice::from_ref(&m), 165535));
        assert!(!maps_uid(std::slice::from_ref(&m), 165536));
        assert!(!maps_uid(std::slice::from_ref(&m), 0));
    }

    #[test]
    fn default_spec_is_not_exposed_and_ptrace_is() {
        let mut v = crate::spec::default_config(false);
        let spec: Spec = serde_json::from_value(v.clone()).unwrap();
        assert_eq!(spec_exposure(&spec), None);
        v["process"]["capabilities"]["bounding"]
            .as_array_mut()
            .unwrap()
            .push("CAP_SYS_PTRACE".into());
        let spec: Spec = serde_json::from_value(v).unwrap();
        assert!(spec_exposure(&spec).unwrap().contains("CAP_SYS_PTRACE"));
    }
}
