//! Lifecycle hooks of config.md: each runs with the container state JSON on
//! stdin, its own args and env, and an optional timeout.

use crate::error::{Context, Error, Result};
use oci_spec::runtime::{Hook, Hooks, Spec};
use std::io::Write;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Prestart,
    CreateRuntime,
    CreateContainer,
    StartContainer,
    Poststart,
    Poststop,
}

impl Kind {
    /// Every kind, in the order of config.md (`features` lists them so).
    pub const ALL: [Kind; 6] = [
        Kind::Prestart,
        Kind::CreateRuntime,
        Kind::CreateContainer,
        Kind::StartContainer,
        Kind::Poststart,
        Kind::Poststop,
    ];

    /// The kind's key under `hooks` in config.json.
    pub fn key(self) -> &'static str {
        match self {
            Kind::Prestart => "prestart",
            Kind::CreateRuntime => "createRuntime",
            Kind::CreateContainer => "createContainer",
            Kind::StartContainer => "startContainer",
            Kind::Poststart => "poststart",
            Kind::Poststop => "poststop",
        }
    }

    pub fn field(self) -> &'static str {
        match self {
            Kind::Prestart => "hooks.prestart",
            Kind::CreateRuntime => "hooks.createRuntime",
            Kind::CreateContainer => "hooks.createContainer",
            Kind::StartContainer => "hooks.startContainer",
            Kind::Poststart => "hooks.poststart",
            Kind::Poststop => "hooks.poststop",
        }
    }

    #[allow(deprecated)]
    pub fn of(self, hooks: &Hooks) -> &[Hook] {
        let v = match self {
            Kind::Prestart => hooks.prestart(),
            Kind::CreateRuntime => hooks.create_runtime(),
            Kind::CreateContainer => hooks.create_container(),
            Kind::StartContainer => hooks.start_container(),
            Kind::Poststart => hooks.poststart(),
            Kind::Poststop => hooks.poststop(),
        };
        v.as_deref().unwrap_or(&[])
    }
}

/// The hooks of one kind in a spec.
pub fn list(spec: &Spec, kind: Kind) -> &[Hook] {
    spec.hooks().as_ref().map(|h| kind.of(h)).unwrap_or(&[])
}

/// The state a hook reads on stdin.
pub fn state_json(
    id: &str,
    status: &str,
    pid: i32,
    bundle: &std::path::Path,
    spec: &Spec,
) -> String {
    let mut v = serde_json::json!({
        "ociVersion": crate::spec::OCI_VERSION,
        "id": id,
        "status": status,
        "bundle": bundle,
        "annotations": spec.annotations().clone().unwrap_or_default(),
    });
    if pid > 0 {
        v["pid"] = serde_json::json!(pid);
    }
    v.to_string()
}

/// Runs every hook of `kind` in order; the first failure stops the rest.
pub fn run(spec: &Spec, kind: Kind, state: &str) -> Result<()> {
    run_in(spec, kind, state, None)
}

/// Like `run`, with `cwd` as the hooks' working directory (createContainer
/// hooks run in the container's root, so `./lib/...` reaches the rootfs).
pub fn run_in(spec: &Spec, kind: Kind, state: &str, cwd: Option<&Path>) -> Result<()> {
    let hooks = list(spec, kind);
    if hooks.is_empty() {
        return Ok(());
    }
    let bundle = runtime_cwd(kind, state, cwd);
    let cwd = cwd.or(bundle.as_deref());
    for (i, hook) in hooks.iter().enumerate() {
        run_indexed(kind, i, hook, state, cwd)?;
    }
    Ok(())
}

/// Hooks run in the runtime's namespaces during create and start
/// (createRuntime, prestart, poststart) start in the bundle directory, as
/// runc's do (it works from the bundle there); poststop hooks run by
/// `delete` start where the caller is, as runc's. The bundle is the one the
/// state names.
fn runtime_cwd(kind: Kind, state: &str, cwd: Option<&Path>) -> Option<std::path::PathBuf> {
    if cwd.is_some()
        || matches!(
            kind,
            Kind::CreateContainer | Kind::StartContainer | Kind::Poststop
        )
    {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(state).ok()?;
    let dir = std::path::PathBuf::from(v.get("bundle")?.as_str()?);
    dir.is_dir().then_some(dir)
}

fn run_indexed(kind: Kind, i: usize, hook: &Hook, state: &str, cwd: Option<&Path>) -> Result<()> {
    crate::logging::debug(format!(
        "{}[{i}]: run {}",
        kind.field(),
        hook.path().display()
    ));
    run_one(hook, state, cwd)
        .map_err(|e| e.wrap(format!("{}[{i}] ({})", kind.field(), hook.path().display())))
}

/// Runs every hook of `kind`; a failure is a warning (logged once) and
/// the remaining hooks still run (runtime.md: poststop).
pub fn run_warn(spec: &Spec, kind: Kind, state: &str) {
    run_warn_in(spec, kind, state, None)
}

/// Like `run_warn`, with `cwd` as the hooks' working directory.
pub fn run_warn_in(spec: &Spec, kind: Kind, state: &str, cwd: Option<&Path>) {
    let hooks = list(spec, kind);
    if hooks.is_empty() {
        return;
    }
    let bundle = runtime_cwd(kind, state, cwd);
    let cwd = cwd.or(bundle.as_deref());
    for (i, hook) in hooks.iter().enumerate() {
        if let Err(e) = run_indexed(kind, i, hook, state, cwd) {
            crate::logging::warn(e.to_string());
        }
    }
}

fn run_one(hook: &Hook, state: &str, cwd: Option<&Path>) -> Result<()> {
    let started = Instant::now();
    let mut cmd = Command::new(hook.path());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    if let Some(args) = hook.args().as_ref().filter(|a| !a.is_empty()) {
        cmd.arg0(&args[0]).args(&args[1..]);
    }
    cmd.env_clear();
    for kv in hook.env().iter().flatten() {
        if let Some((k, v)) = kv.split_once('=') {
            cmd.env(k, v);
        }
    }
    cmd.stdin(Stdio::piped());
    let mut child = cmd.spawn().ctx(|| "start hook".into())?;
    if let Some(mut stdin) = child.stdin.take() {
        // A hook that ignores its stdin is fine: EPIPE is not an error.
        let _ = stdin.write_all(state.as_bytes());
    }
    let deadline = hook
        .timeout()
        .filter(|t| *t > 0)
        .map(|t| started + Duration::from_secs(t as u64));
    let mut delay = Duration::from_micros(200);
    let status = loop {
        if let Some(st) = child.try_wait().ctx(|| "wait for hook".into())? {
            break st;
        }
        if deadline.is_some_and(|d| Instant::now() >= d) {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::msg(format!(
                "timed out after {}s",
                hook.timeout().unwrap_or(0)
            )));
        }
        std::thread::sleep(delay);
        delay = (delay * 2).min(Duration::from_millis(20));
    };
    crate::logging::debug(format!(
        "hook {} exited with {status} after {:?}",
        hook.path().display(),
        started.elapsed()
    ));
    if status.success() {
        return Ok(());
    }
    use std::os::unix::process::ExitStatusExt;
    match status.signal() {
        // Say what the signal means: SIGSYS, for one, is a seccomp kill.
        Some(sig) => Err(Error::msg(format!(
            "hook failed: killed by signal {sig} ({}{})",
            nix::sys::signal::Signal::try_from(sig)
                .map(|s| s.as_str())
                .unwrap_or("unknown"),
            signal_meaning(sig),
        ))),
        None => Err(Error::msg(format!("hook failed: {status}"))),
    }
}

/// ": bad system call" and the like, from the C library's signal names.
fn signal_meaning(sig: i32) -> String {
    // SAFETY: strsignal returns a pointer to a NUL-terminated string that
    // stays valid until the next call; it is copied at once.
    let p = unsafe { libc::strsignal(sig) };
    if p.is_null() {
        return String::new();
    }
    // SAFETY: non-null, NUL-terminated (see above).
    let s = unsafe { std::ffi::CStr::from_ptr(p) }.to_string_lossy();
    format!(": {}", s.to_lowercase())
}
