//! Running the runtime under test: which binary, one invocation with a
//! timeout, and a private `--root` whose containers are deleted on drop.

use super::super::CMD_TIMEOUT;
use super::bundle::Bundle;
use super::files::{COUNTER, TempDir, unique_id};
use serde_json::Value;
use std::cell::RefCell;
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// `$HULL_RUNTIME`, else `$HULL_BIN`, else the `hull` binary cargo built.
pub fn runtime_bin() -> PathBuf {
    if let Ok(p) = std::env::var("HULL_RUNTIME")
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    if let Ok(p) = std::env::var("HULL_BIN")
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    PathBuf::from(env!("CARGO_BIN_EXE_hull"))
}

/// True when the binary under test is hull itself (basename contains "hull").
pub fn runtime_is_hull() -> bool {
    runtime_bin()
        .file_name()
        .map(|n| n.to_string_lossy().contains("hull"))
        .unwrap_or(false)
}

/// Returns true when a HULL-ONLY check should run; otherwise prints why it
/// is skipped (never skip silently) and returns false.
pub fn hull_only(what: &str) -> bool {
    if runtime_is_hull() {
        true
    } else {
        println!(
            "SKIP (HULL-ONLY): {what} -- runtime under test is {} (not hull)",
            runtime_bin().display()
        );
        false
    }
}

/// Result of one runtime invocation.
#[derive(Debug, Clone)]
pub struct Out {
    /// Exit code, or None if killed by a signal.
    pub code: Option<i32>,
    pub signal: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
    pub cmdline: String,
}

impl Out {
    pub fn success(&self) -> bool {
        self.code == Some(0) && !self.timed_out
    }
    /// Panics with the full output unless the command succeeded.
    pub fn ok(self) -> Out {
        assert!(self.success(), "command failed: {self}");
        self
    }
    /// Panics unless the command failed (non-zero exit, no timeout).
    pub fn fail(self) -> Out {
        assert!(!self.timed_out, "command timed out: {self}");
        assert!(
            self.code.is_some() && self.code != Some(0),
            "command unexpectedly succeeded: {self}"
        );
        self
    }
    /// Asserts a clean failure: non-zero exit, no timeout, and an error
    /// message on stderr; `why` names the rule.
    pub fn fail_with(self, why: &str) -> Out {
        assert!(!self.timed_out, "{why}: command timed out: {self}");
        assert!(
            self.code.is_some() && self.code != Some(0),
            "{why}: command unexpectedly succeeded: {self}"
        );
        assert!(
            !self.stderr.trim().is_empty(),
            "{why}: failed without an error message: {self}"
        );
        self
    }
}

impl std::fmt::Display for Out {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "`{}` -> code {:?} signal {:?} timed_out {}\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.cmdline, self.code, self.signal, self.timed_out, self.stdout, self.stderr
        )
    }
}

/// Extra things to do with the runtime child process.
#[derive(Default)]
pub struct CmdOpts {
    pub timeout: Option<Duration>,
    /// (fd to place, target fd number) for --preserve-fds tests.
    pub extra_fd: Option<(i32, i32)>,
}

/// Run `cmd` with stdout/stderr redirected to files in `scratch` (not
/// pipes: a detached container inherits them, and we must not wait for its
/// EOF), killing it after the timeout.
pub fn run_cmd(mut cmd: Command, scratch: &Path, opts: CmdOpts) -> Out {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let out_p = scratch.join(format!(".out-{n}"));
    let err_p = scratch.join(format!(".err-{n}"));
    let out_f = fs::File::create(&out_p).unwrap();
    let err_f = fs::File::create(&err_p).unwrap();
    let cmdline = format!("{:?}", cmd);
    cmd.stdin(Stdio::null()).stdout(out_f).stderr(err_f);
    // Own process group so a timeout kill gets everything it started.
    cmd.process_group(0);
    if let Some((fd, target)) = opts.extra_fd {
        unsafe {
            cmd.pre_exec(move || {
                if libc::dup2(fd, target) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                // dup2 clears CLOEXEC on the new fd; if fd == target it
                // does not, so clear it explicitly.
                let fl = libc::fcntl(target, libc::F_GETFD);
                libc::fcntl(target, libc::F_SETFD, fl & !libc::FD_CLOEXEC);
                Ok(())
            });
        }
    }
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
    let deadline = Instant::now() + opts.timeout.unwrap_or(CMD_TIMEOUT);
    let mut timed_out = false;
    let status = loop {
        match child.try_wait().unwrap() {
            Some(s) => break s,
            None if Instant::now() >= deadline => {
                timed_out = true;
                unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                let _ = child.kill();
                break child.wait().unwrap();
            }
            None => std::thread::sleep(Duration::from_millis(10)),
        }
    };
    let read = |p: &Path| {
        let mut s = Vec::new();
        if let Ok(mut f) = fs::File::open(p) {
            let _ = f.read_to_end(&mut s);
        }
        let _ = fs::remove_file(p);
        String::from_utf8_lossy(&s).to_string()
    };
    Out {
        code: status.code(),
        signal: status.signal(),
        stdout: read(&out_p),
        stderr: read(&err_p),
        timed_out,
        cmdline,
    }
}

/// The runtime with a private `--root` dir. Every id it creates (or was
/// told about) is force-deleted on drop.
pub struct Runtime {
    root: TempDir,
    scratch: TempDir,
    ids: RefCell<HashSet<String>>,
    pub global: Vec<String>,
    /// The binary run (runtime_bin() unless a test points it at a copy).
    pub bin: PathBuf,
    /// Extra environment for every invocation.
    pub env: Vec<(String, String)>,
}

impl Runtime {
    pub fn new() -> Runtime {
        let root = TempDir::new("root");
        Runtime {
            root,
            scratch: TempDir::new("scratch"),
            ids: RefCell::new(HashSet::new()),
            global: Vec::new(),
            bin: runtime_bin(),
            env: Vec::new(),
        }
    }

    pub fn root(&self) -> &Path {
        self.root.path()
    }

    /// Remember an id for cleanup.
    pub fn track(&self, id: &str) {
        self.ids.borrow_mut().insert(id.to_string());
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut c = Command::new(&self.bin);
        c.envs(self.env.iter().map(|(k, v)| (k, v)));
        c.arg("--root").arg(self.root.path());
        c.args(&self.global);
        c.args(args);
        c
    }

    pub fn cmd(&self, args: &[&str]) -> Out {
        self.cmd_opts(args, CmdOpts::default())
    }

    pub fn cmd_opts(&self, args: &[&str], opts: CmdOpts) -> Out {
        run_cmd(self.command(args), self.scratch.path(), opts)
    }

    /// `create --bundle B [extra...] ID` (saves the config first).
    pub fn create_with(&self, b: &Bundle, id: &str, extra: &[&str]) -> Out {
        b.save();
        self.track(id);
        let bp = b.path().to_string_lossy().to_string();
        let mut a = vec!["create", "--bundle", &bp];
        a.extend_from_slice(extra);
        a.push(id);
        self.cmd(&a)
    }
    pub fn create(&self, b: &Bundle, id: &str) -> Out {
        self.create_with(b, id, &[])
    }
    pub fn start(&self, id: &str) -> Out {
        self.cmd(&["start", id])
    }
    /// `run --bundle B [extra...] ID`.
    pub fn run_with(&self, b: &Bundle, id: &str, extra: &[&str]) -> Out {
        b.save();
        self.track(id);
        let bp = b.path().to_string_lossy().to_string();
        let mut a = vec!["run", "--bundle", &bp];
        a.extend_from_slice(extra);
        a.push(id);
        self.cmd(&a)
    }
    /// Run a container in the foreground with `args`; returns (exit code,
    /// stdout, stderr). Exit code is -1 if the runtime itself was killed.
    pub fn run_container(&self, b: &mut Bundle, args: &[&str]) -> (i32, String, String) {
        b.set_args(args);
        let id = unique_id("run");
        let o = self.run_with(b, &id, &[]);
        assert!(!o.timed_out, "run timed out: {o}");
        (o.code.unwrap_or(-1), o.stdout, o.stderr)
    }
    /// Like run_container but asserts exit 0 and returns stdout.
    pub fn run_ok(&self, b: &mut Bundle, args: &[&str]) -> String {
        b.set_args(args);
        let id = unique_id("run");
        self.run_with(b, &id, &[]).ok().stdout
    }
    pub fn state(&self, id: &str) -> Result<Value, Out> {
        let o = self.cmd(&["state", id]);
        if !o.success() {
            return Err(o);
        }
        serde_json::from_str(&o.stdout).map_err(|e| panic!("state output is not JSON ({e}): {o}"))
    }
    pub fn status(&self, id: &str) -> Option<String> {
        self.state(id)
            .ok()
            .and_then(|v| v["status"].as_str().map(|s| s.to_string()))
    }
    pub fn pid(&self, id: &str) -> i32 {
        let v = self
            .state(id)
            .unwrap_or_else(|o| panic!("state failed: {o}"));
        v["pid"].as_i64().unwrap_or(0) as i32
    }
    pub fn kill(&self, id: &str, sig: &str) -> Out {
        self.cmd(&["kill", id, sig])
    }
    pub fn delete(&self, id: &str) -> Out {
        self.cmd(&["delete", id])
    }
    pub fn delete_force(&self, id: &str) -> Out {
        self.cmd(&["delete", "--force", id])
    }
    /// Poll `state` until status == `want`; panics with the last state on
    /// timeout.
    pub fn wait_for_status(&self, id: &str, want: &str, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        while Instant::now() < deadline {
            last = self.status(id);
            if last.as_deref() == Some(want) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("container {id} did not reach {want:?} within {timeout:?}; last status {last:?}");
    }
    /// create + start, asserting success; container is left running.
    pub fn create_start(&self, b: &Bundle, id: &str) {
        self.create(b, id).ok();
        self.start(id).ok();
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let ids: Vec<String> = self.ids.borrow().iter().cloned().collect();
        for id in ids {
            let _ = self.cmd_opts(
                &["delete", "--force", &id],
                CmdOpts {
                    timeout: Some(Duration::from_secs(15)),
                    ..Default::default()
                },
            );
        }
    }
}
