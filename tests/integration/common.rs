//! Shared helpers for hull's integration tests: temp dirs, busybox bundles,
//! a wrapper that runs the runtime binary with a private `--root`, and
//! cgroup / mount inspection helpers.
//!
//! The binary under test is `$HULL_RUNTIME`, else `$HULL_BIN`, else the
//! `hull` binary cargo built for this package.

#![allow(dead_code)]

#[path = "../shared/runc_config.rs"]
mod runc_config;

use serde_json::{Value, json};
use std::cell::RefCell;
use std::collections::HashSet;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{PermissionsExt, symlink};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Default time a single runtime invocation may take before it is killed.
pub const CMD_TIMEOUT: Duration = Duration::from_secs(30);

// ---------------------------------------------------------------------------
// Runtime binary selection
// ---------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------
// Unique names and temp dirs
// ---------------------------------------------------------------------------

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique, short-ish id: prefix + pid + counter + nanos.
pub fn unique_id(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// A directory under /tmp removed (recursively) on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = PathBuf::from("/tmp").join(unique_id(&format!("hull-it-{prefix}")));
        fs::create_dir_all(&path).expect("create temp dir");
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir { path }
    }
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        // Never follow into something still mounted: unmount leftovers first
        // (only mounts below our own dir).
        for m in mounts_under(&self.path).into_iter().rev() {
            let c = std::ffi::CString::new(m).unwrap();
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Mount points (from /proc/self/mountinfo) at or below `dir`.
pub fn mounts_under(dir: &Path) -> Vec<String> {
    let d = dir.to_string_lossy().to_string();
    let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    info.lines()
        .filter_map(|l| l.split(' ').nth(4))
        .filter(|mp| *mp == d || mp.starts_with(&format!("{d}/")))
        .map(|s| s.to_string())
        .collect()
}

/// Lines of /proc/self/mountinfo that mention `needle` anywhere.
pub fn mountinfo_mentioning(needle: &str) -> Vec<String> {
    fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .map(|s| s.to_string())
        .collect()
}

// ---------------------------------------------------------------------------
// Busybox rootfs template
// ---------------------------------------------------------------------------

static TEMPLATE: OnceLock<PathBuf> = OnceLock::new();

fn pid_alive(pid: i32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Builds (once per test process) a busybox rootfs template.
pub fn rootfs_template() -> &'static Path {
    TEMPLATE.get_or_init(|| {
        // Remove templates left behind by earlier, finished test processes.
        if let Ok(rd) = fs::read_dir("/tmp") {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("hull-it-template-")
                    && let Ok(pid) = pid.parse::<i32>()
                    && !pid_alive(pid)
                {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = PathBuf::from(format!("/tmp/hull-it-template-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        for d in [
            "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
            "out", "var", "run", "home",
        ] {
            fs::create_dir_all(dir.join(d)).unwrap();
        }
        fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::copy("/bin/busybox", dir.join("bin/busybox")).expect("copy /bin/busybox");
        fs::set_permissions(dir.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
        let list = Command::new("/bin/busybox")
            .arg("--list")
            .output()
            .expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let applet = applet.trim();
            if applet.is_empty() || applet == "busybox" {
                continue;
            }
            let _ = symlink("busybox", dir.join("bin").join(applet));
        }
        fs::write(
            dir.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .unwrap();
        fs::write(
            dir.join("etc/group"),
            "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n",
        )
        .unwrap();
        fs::write(dir.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        dir
    })
}

/// Recursively copy `src` to `dst`; the busybox binary is hardlinked,
/// everything else is copied, symlinks are recreated.
fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    let meta = fs::symlink_metadata(src).unwrap();
    fs::set_permissions(dst, meta.permissions()).unwrap();
    for e in fs::read_dir(src).unwrap().flatten() {
        let s = e.path();
        let d = dst.join(e.file_name());
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&s, &d);
        } else if ft.is_symlink() {
            symlink(fs::read_link(&s).unwrap(), &d).unwrap();
        } else if e.file_name() == "busybox" {
            if fs::hard_link(&s, &d).is_err() {
                fs::copy(&s, &d).unwrap();
            }
        } else {
            fs::copy(&s, &d).unwrap();
        }
    }
}

// ---------------------------------------------------------------------------
// Bundle
// ---------------------------------------------------------------------------

/// An OCI bundle in its own temp dir: `rootfs/` (busybox) + `config.json`.
/// The config is kept as a serde_json Value; mutate it with `config_mut`
/// or the helpers, it is written by `save()` (the Runtime helpers save
/// before create/run).
pub struct Bundle {
    dir: TempDir,
    pub config: Value,
    /// Extra temp dirs whose lifetime is tied to the bundle (e.g. /out).
    extra: Vec<TempDir>,
}

impl Bundle {
    pub fn new(args: &[&str]) -> Bundle {
        let dir = TempDir::new("bundle");
        copy_tree(rootfs_template(), &dir.path().join("rootfs"));
        let b = Bundle {
            dir,
            config: default_config(args),
            extra: Vec::new(),
        };
        b.save();
        b
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
    pub fn config_mut(&mut self) -> &mut Value {
        &mut self.config
    }
    pub fn set_args(&mut self, args: &[&str]) -> &mut Self {
        self.config["process"]["args"] = json!(args);
        self
    }
    pub fn add_mount(&mut self, m: Value) -> &mut Self {
        self.config["mounts"].as_array_mut().unwrap().push(m);
        self
    }
    /// Bind-mount `host` at `dest` with extra options (e.g. "ro" or "rw").
    pub fn bind(&mut self, host: &Path, dest: &str, opts: &[&str]) -> &mut Self {
        let mut o = vec!["rbind"];
        o.extend_from_slice(opts);
        self.add_mount(json!({
            "destination": dest, "type": "bind",
            "source": host.to_string_lossy(), "options": o,
        }))
    }
    /// A fresh host temp dir bind-mounted read-write at /out; returns its
    /// host path. It lives as long as the bundle.
    pub fn out_dir(&mut self) -> PathBuf {
        let t = TempDir::new("out");
        fs::set_permissions(t.path(), fs::Permissions::from_mode(0o777)).unwrap();
        let p = t.path().to_path_buf();
        self.bind(&p, "/out", &["rw"]);
        self.extra.push(t);
        p
    }
    /// Remove a namespace type from linux.namespaces.
    pub fn remove_namespace(&mut self, ty: &str) -> &mut Self {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != ty);
        self
    }
    /// Add (or replace) a namespace entry.
    pub fn set_namespace(&mut self, ty: &str, path: Option<&str>) -> &mut Self {
        self.remove_namespace(ty);
        let mut ns = json!({ "type": ty });
        if let Some(p) = path {
            ns["path"] = json!(p);
        }
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(ns);
        self
    }
    pub fn save(&self) {
        fs::write(
            self.path().join("config.json"),
            serde_json::to_vec_pretty(&self.config).unwrap(),
        )
        .expect("write config.json");
    }
}

/// The config `runc spec` would write (terminal false), plus a cgroup
/// namespace and a /sys/fs/cgroup mount.
pub fn default_config(args: &[&str]) -> Value {
    runc_config::runc_spec_config(args, "hull-test")
}

// ---------------------------------------------------------------------------
// Running the runtime
// ---------------------------------------------------------------------------

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

/// Wait until `pid` no longer exists (or is a zombie).
pub fn wait_pid_gone(pid: i32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        match fs::read_to_string(format!("/proc/{pid}/stat")) {
            Err(_) => return true,
            Ok(s) => {
                // state field follows the ")" of comm.
                if let Some(rest) = s.rsplit_once(')')
                    && rest.1.trim_start().starts_with('Z')
                {
                    return true;
                }
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    false
}

/// Wait until `path` exists and is non-empty; returns its content.
pub fn wait_file(path: &Path, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(s) = fs::read_to_string(path)
            && !s.is_empty()
        {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// Wait until `path` contains `needle`; returns the content.
pub fn wait_file_contains(path: &Path, needle: &str, timeout: Duration) -> Option<String> {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if let Ok(s) = fs::read_to_string(path)
            && s.contains(needle)
        {
            return Some(s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

// ---------------------------------------------------------------------------
// cgroups
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CgroupVersion {
    V1,
    V2,
}

pub fn cgroup_version() -> CgroupVersion {
    let st = nix::sys::statfs::statfs("/sys/fs/cgroup").expect("statfs /sys/fs/cgroup");
    if st.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC {
        CgroupVersion::V2
    } else {
        CgroupVersion::V1
    }
}

/// Host directory of `path` (absolute cgroup path) in controller `ctrl`
/// (ignored on v2).
pub fn cgroup_dir(ctrl: &str, path: &str) -> PathBuf {
    let rel = path.trim_start_matches('/');
    match cgroup_version() {
        CgroupVersion::V2 => PathBuf::from("/sys/fs/cgroup").join(rel),
        CgroupVersion::V1 => PathBuf::from("/sys/fs/cgroup").join(ctrl).join(rel),
    }
}

/// Every host dir where a cgroup `path` could exist (all v1 hierarchies,
/// or the single v2 dir).
pub fn cgroup_dirs_all(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    match cgroup_version() {
        CgroupVersion::V2 => vec![PathBuf::from("/sys/fs/cgroup").join(rel)],
        CgroupVersion::V1 => fs::read_dir("/sys/fs/cgroup")
            .map(|rd| {
                rd.flatten()
                    .filter(|e| e.file_type().map(|t| t.is_dir()).unwrap_or(false))
                    .map(|e| e.path().join(rel))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// Existing dirs for cgroup `path`, in any hierarchy.
pub fn cgroup_leftovers(path: &str) -> Vec<PathBuf> {
    cgroup_dirs_all(path)
        .into_iter()
        .filter(|p| p.exists())
        .collect()
}

/// A cgroup parent `/hull-test-<unique>`; on drop removes
/// `<parent>/*` and `<parent>` from every hierarchy (rmdir only).
///
/// Declare it before the `Runtime` so that it drops after the runtime has
/// deleted its containers: a child cgroup still there at that point was
/// leaked by the runtime, and the drop fails the test (after removing it),
/// unless the test is already failing.
pub struct CgroupParent {
    pub name: String,
}

impl CgroupParent {
    pub fn new() -> CgroupParent {
        CgroupParent {
            name: format!("/{}", unique_id("hull-test")),
        }
    }
    pub fn child(&self, id: &str) -> String {
        format!("{}/{id}", self.name)
    }
}

fn rmdir_tree(p: &Path) {
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                rmdir_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(p);
}

/// Directories below `p` (not `p` itself), deepest last.
fn subdirs(p: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.push(e.path());
                out.extend(subdirs(&e.path()));
            }
        }
    }
    out
}

impl Drop for CgroupParent {
    fn drop(&mut self) {
        let mut leaked = Vec::new();
        for d in cgroup_dirs_all(&self.name) {
            if d.exists() {
                leaked.extend(subdirs(&d));
                rmdir_tree(&d);
            }
        }
        let left = cgroup_leftovers(&self.name);
        if !std::thread::panicking() {
            assert!(
                leaked.is_empty(),
                "cgroups left behind after the runtime deleted its containers: {leaked:?}"
            );
            assert!(left.is_empty(), "cannot remove test cgroups: {left:?}");
        }
    }
}

/// Asserts that nothing was created or mounted in the host directory `dir`
/// (the target of an escape attempt); `what` says which attempt.
pub fn assert_host_dir_untouched(dir: &Path, what: &str) {
    let entries: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        entries.is_empty(),
        "{what}: escaped into the host dir {}: {entries:?}",
        dir.display()
    );
    assert!(
        mounts_under(dir).is_empty(),
        "{what}: the host dir {} got a mount",
        dir.display()
    );
}

/// Read a file and trim it.
pub fn read_trim(p: &Path) -> String {
    fs::read_to_string(p)
        .unwrap_or_else(|e| panic!("read {}: {e}", p.display()))
        .trim()
        .to_string()
}

/// readlink /proc/self/ns/<ns> of the test process.
pub fn host_ns(ns: &str) -> String {
    fs::read_link(format!("/proc/self/ns/{ns}"))
        .unwrap()
        .to_string_lossy()
        .to_string()
}

/// Run a host command, asserting success; returns stdout.
pub fn host(cmd: &str, args: &[&str]) -> String {
    let o = Command::new(cmd).args(args).output().expect(cmd);
    assert!(
        o.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8_lossy(&o.stdout).to_string()
}
