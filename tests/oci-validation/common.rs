//! Helpers of the oci-validation runner: the runtime under test, the
//! statically linked checker, busybox bundles with the checker mounted at
//! /oci, running the runtime with a private --root, and TAP parsing.

#![allow(dead_code)]

#[path = "../shared/runc_config.rs"]
mod runc_config;

use serde_json::{Map, Value, json};
use std::cell::RefCell;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

pub const CMD_TIMEOUT: Duration = Duration::from_secs(60);

/// `$HULL_RUNTIME`, else the hull binary cargo built.
pub fn runtime_bin() -> PathBuf {
    match std::env::var("HULL_RUNTIME") {
        Ok(p) if !p.is_empty() => PathBuf::from(p),
        _ => PathBuf::from(env!("CARGO_BIN_EXE_hull")),
    }
}

pub fn runtime_is_hull() -> bool {
    runtime_bin()
        .file_name()
        .is_some_and(|n| n.to_string_lossy().contains("hull"))
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

pub fn unique_id(prefix: &str) -> String {
    let n = COUNTER.fetch_add(1, Ordering::SeqCst);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!("{prefix}-{}-{n}-{nanos}", std::process::id())
}

/// A directory under /tmp, removed on drop (mounts below it are detached
/// first).
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = PathBuf::from("/tmp").join(unique_id(&format!("hull-ociv-{prefix}")));
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
        let d = self.path.to_string_lossy().to_string();
        let info = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
        let mut mps: Vec<String> = info
            .lines()
            .filter_map(|l| l.split(' ').nth(4))
            .filter(|mp| *mp == d || mp.starts_with(&format!("{d}/")))
            .map(String::from)
            .collect();
        mps.reverse();
        for m in mps {
            let c = std::ffi::CString::new(m).unwrap();
            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
        }
        let _ = fs::remove_dir_all(&self.path);
    }
}

// ---------------------------------------------------------------------------
// The checker binary
// ---------------------------------------------------------------------------

/// True if the ELF file at `p` has no PT_INTERP program header (static).
pub fn elf_is_static(p: &Path) -> Result<bool, String> {
    let b = fs::read(p).map_err(|e| format!("read {}: {e}", p.display()))?;
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return Err(format!("{} is not a 64-bit ELF file", p.display()));
    }
    let u16_at = |o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as usize;
    let phoff = u64::from_le_bytes(b[0x20..0x28].try_into().unwrap()) as usize;
    let (phentsize, phnum) = (u16_at(0x36), u16_at(0x38));
    for i in 0..phnum {
        let o = phoff + i * phentsize;
        if o + 4 > b.len() {
            return Err("truncated program headers".into());
        }
        if u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) == 3 {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The statically linked checker. `$HULL_OCI_CHECKER` if set (the Makefile
/// sets it for the VM run); otherwise built once per test process with
/// `cargo rustc --bin hull-oci-checker -- -C target-feature=+crt-static`
/// into target/oci-checker (a separate target dir, so the outer `cargo
/// test` keeps its own artifacts and lock).
pub fn checker() -> &'static Path {
    static CHECKER: OnceLock<PathBuf> = OnceLock::new();
    CHECKER.get_or_init(|| {
        let p = match std::env::var("HULL_OCI_CHECKER") {
            Ok(p) if !p.is_empty() => PathBuf::from(p),
            _ => build_checker(),
        };
        match elf_is_static(&p) {
            Ok(true) => p,
            Ok(false) => panic!(
                "{} is dynamically linked; the checker must be static to run in the busybox rootfs",
                p.display()
            ),
            Err(e) => panic!("checker {}: {e}", p.display()),
        }
    })
}

fn build_checker() -> PathBuf {
    let manifest = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let target = manifest.join("target").join("oci-checker");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(&cargo)
        .current_dir(&manifest)
        .args([
            "rustc",
            "--quiet",
            "--bin",
            "hull-oci-checker",
            "--target-dir",
        ])
        .arg(&target)
        .args(["--", "-C", "target-feature=+crt-static"])
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap_or_else(|e| {
            panic!("run {cargo} to build the checker: {e} (or set HULL_OCI_CHECKER)")
        });
    assert!(
        out.status.success(),
        "building hull-oci-checker failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    target.join("debug").join("hull-oci-checker")
}

// ---------------------------------------------------------------------------
// Rootfs and bundles
// ---------------------------------------------------------------------------

fn template() -> &'static Path {
    static T: OnceLock<PathBuf> = OnceLock::new();
    T.get_or_init(|| {
        // Templates of finished test processes.
        if let Ok(rd) = fs::read_dir("/tmp") {
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if let Some(pid) = name.strip_prefix("hull-ociv-template-")
                    && pid.parse::<i32>().is_ok_and(|p| !Path::new(&format!("/proc/{p}")).exists())
                {
                    let _ = fs::remove_dir_all(e.path());
                }
            }
        }
        let dir = PathBuf::from(format!("/tmp/hull-ociv-template-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        let root = dir.join("rootfs");
        for d in [
            "bin", "sbin", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev", "tmp", "root",
            "var", "run", "home", "oci",
        ] {
            fs::create_dir_all(root.join(d)).unwrap();
        }
        fs::set_permissions(root.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
        fs::copy("/bin/busybox", root.join("bin/busybox")).expect("copy /bin/busybox");
        fs::set_permissions(root.join("bin/busybox"), fs::Permissions::from_mode(0o755)).unwrap();
        let list = Command::new("/bin/busybox").arg("--list").output().expect("busybox --list");
        for applet in String::from_utf8_lossy(&list.stdout).lines() {
            let applet = applet.trim();
            if !applet.is_empty() && applet != "busybox" {
                let _ = symlink("busybox", root.join("bin").join(applet));
            }
        }
        fs::write(
            root.join("etc/passwd"),
            "root:x:0:0:root:/root:/bin/sh\nuser:x:1000:1000::/home:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
        )
        .unwrap();
        fs::write(root.join("etc/group"), "root:x:0:\ntty:x:5:\nusers:x:100:\nuser:x:1000:\nnogroup:x:65534:\n").unwrap();
        fs::create_dir_all(root.join("etc/secretdir")).unwrap();
        fs::write(root.join("etc/secretdir/key"), "secret\n").unwrap();
        fs::write(root.join("etc/secret"), "secret\n").unwrap();
        let ck = dir.join("hull-oci-checker");
        fs::copy(checker(), &ck).expect("copy the checker");
        fs::set_permissions(&ck, fs::Permissions::from_mode(0o755)).unwrap();
        dir
    })
}

fn link_or_copy(s: &Path, d: &Path) {
    if fs::hard_link(s, d).is_err() {
        fs::copy(s, d).unwrap();
    }
}

fn copy_tree(src: &Path, dst: &Path) {
    fs::create_dir_all(dst).unwrap();
    fs::set_permissions(dst, fs::symlink_metadata(src).unwrap().permissions()).unwrap();
    for e in fs::read_dir(src).unwrap().flatten() {
        let (s, d) = (e.path(), dst.join(e.file_name()));
        let ft = e.file_type().unwrap();
        if ft.is_dir() {
            copy_tree(&s, &d);
        } else if ft.is_symlink() {
            symlink(fs::read_link(&s).unwrap(), &d).unwrap();
        } else if e.file_name() == "busybox" {
            link_or_copy(&s, &d);
        } else {
            fs::copy(&s, &d).unwrap();
        }
    }
}

/// The config `runc spec` writes (terminal false), plus a cgroup namespace
/// and a /sys/fs/cgroup mount; the process is the checker.
pub fn default_config() -> Value {
    runc_config::runc_spec_config(&["/oci/hull-oci-checker"], "oci-validation")
}

pub fn cgroup_version() -> u64 {
    let c = std::ffi::CString::new("/sys/fs/cgroup").unwrap();
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statfs(c.as_ptr(), &mut st) } == 0 && st.f_type == 0x6367_7270 {
        2
    } else {
        1
    }
}

/// A bundle: busybox rootfs with a marker file, config.json, and a /oci
/// dir (checker, config copy, host.json) that is bind-mounted read-only.
pub struct Bundle {
    dir: TempDir,
    pub config: Value,
    pub marker: String,
    extra: RefCell<Vec<TempDir>>,
}

impl Bundle {
    pub fn new() -> Bundle {
        let dir = TempDir::new("bundle");
        copy_tree(&template().join("rootfs"), &dir.path().join("rootfs"));
        let marker = unique_id("marker");
        fs::write(dir.path().join("rootfs/.oci-rootfs-marker"), &marker).unwrap();
        let oci = dir.path().join("oci");
        fs::create_dir_all(&oci).unwrap();
        link_or_copy(
            &template().join("hull-oci-checker"),
            &oci.join("hull-oci-checker"),
        );
        let mut config = default_config();
        config["mounts"].as_array_mut().unwrap().push(json!({
            "destination": "/oci", "type": "bind",
            "source": oci.to_string_lossy(), "options": ["rbind", "ro"]
        }));
        Bundle {
            dir,
            config,
            marker,
            extra: RefCell::new(Vec::new()),
        }
    }
    pub fn path(&self) -> &Path {
        self.dir.path()
    }
    pub fn rootfs(&self) -> PathBuf {
        self.dir.path().join("rootfs")
    }
    /// A temp dir that lives as long as the bundle.
    pub fn temp(&self, prefix: &str) -> PathBuf {
        let t = TempDir::new(prefix);
        let p = t.path().to_path_buf();
        self.extra.borrow_mut().push(t);
        p
    }
    pub fn add_mount(&mut self, m: Value) {
        self.config["mounts"].as_array_mut().unwrap().push(m);
    }
    pub fn remove_namespace(&mut self, ty: &str) {
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .retain(|n| n["type"] != ty);
    }
    pub fn set_namespace(&mut self, ty: &str, path: Option<&str>) {
        self.remove_namespace(ty);
        let mut ns = json!({ "type": ty });
        if let Some(p) = path {
            ns["path"] = json!(p);
        }
        self.config["linux"]["namespaces"]
            .as_array_mut()
            .unwrap()
            .push(ns);
    }

    /// Writes config.json, /oci/config.json (same bytes) and /oci/host.json.
    pub fn save(&self) {
        let bytes = serde_json::to_vec_pretty(&self.config).unwrap();
        fs::write(self.path().join("config.json"), &bytes).expect("write config.json");
        fs::write(self.path().join("oci/config.json"), &bytes).unwrap();
        fs::write(
            self.path().join("oci/host.json"),
            serde_json::to_vec_pretty(&self.host_facts()).unwrap(),
        )
        .unwrap();
    }

    fn host_facts(&self) -> Value {
        let mut ns = Map::new();
        for (ty, f) in [
            ("pid", "pid"),
            ("network", "net"),
            ("mount", "mnt"),
            ("ipc", "ipc"),
            ("uts", "uts"),
            ("user", "user"),
            ("cgroup", "cgroup"),
            ("time", "time"),
        ] {
            if let Ok(m) = fs::metadata(format!("/proc/self/ns/{f}")) {
                ns.insert(ty.into(), json!(m.ino()));
            }
        }
        let mut ns_paths = Map::new();
        for n in self.config["linux"]["namespaces"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            if let (Some(ty), Some(p)) = (n["type"].as_str(), n["path"].as_str())
                && let Ok(m) = fs::metadata(p)
            {
                ns_paths.insert(ty.into(), json!(m.ino()));
            }
        }
        let mut binds = Map::new();
        for m in self.config["mounts"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let opts = m["options"].as_array().cloned().unwrap_or_default();
            let bind = m["type"] == "bind" || opts.iter().any(|o| o == "bind" || o == "rbind");
            if let (true, Some(d), Some(s)) =
                (bind, m["destination"].as_str(), m["source"].as_str())
                && let Ok(md) = fs::metadata(s)
            {
                binds.insert(d.into(), json!({ "dev": md.dev(), "ino": md.ino() }));
            }
        }
        json!({
            "rootfs_marker": self.marker,
            "cgroup_version": cgroup_version(),
            "ns": ns,
            "ns_paths": ns_paths,
            "binds": binds,
        })
    }
}

// ---------------------------------------------------------------------------
// Running the runtime
// ---------------------------------------------------------------------------

#[derive(Debug, Clone)]
pub struct Out {
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
    pub fn ok(self) -> Out {
        assert!(self.success(), "command failed: {self}");
        self
    }
    /// Asserts a clean failure: non-zero exit, no timeout, and an error
    /// message on stderr.
    pub fn fail(self, why: &str) -> Out {
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

/// The runtime with a private --root; ids it was told about are
/// force-deleted on drop.
pub struct Runtime {
    root: TempDir,
    scratch: TempDir,
    ids: RefCell<Vec<String>>,
}

impl Runtime {
    pub fn new() -> Runtime {
        Runtime {
            root: TempDir::new("root"),
            scratch: TempDir::new("scratch"),
            ids: RefCell::new(Vec::new()),
        }
    }

    /// Runs the runtime with stdout/stderr in files (a detached container
    /// inherits them; pipes would never reach EOF).
    pub fn cmd(&self, args: &[&str]) -> Out {
        let mut cmd = Command::new(runtime_bin());
        cmd.arg("--root").arg(self.root.path()).args(args);
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let out_p = self.scratch.path().join(format!(".out-{n}"));
        let err_p = self.scratch.path().join(format!(".err-{n}"));
        let cmdline = format!("{cmd:?}");
        cmd.stdin(Stdio::null())
            .stdout(fs::File::create(&out_p).unwrap())
            .stderr(fs::File::create(&err_p).unwrap())
            .process_group(0);
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmdline}: {e}"));
        let deadline = Instant::now() + CMD_TIMEOUT;
        let mut timed_out = false;
        let status = loop {
            match child.try_wait().unwrap() {
                Some(s) => break s,
                None if Instant::now() >= deadline => {
                    timed_out = true;
                    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
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

    pub fn track(&self, id: &str) {
        self.ids.borrow_mut().push(id.to_string());
    }

    pub fn create(&self, b: &Bundle, id: &str, extra: &[&str]) -> Out {
        b.save();
        self.track(id);
        let bp = b.path().to_string_lossy().to_string();
        let mut a = vec!["create", "-b", &bp];
        a.extend_from_slice(extra);
        a.push(id);
        self.cmd(&a)
    }

    pub fn run(&self, b: &Bundle, id: &str) -> Out {
        b.save();
        self.track(id);
        let bp = b.path().to_string_lossy().to_string();
        self.cmd(&["run", "-b", &bp, id])
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
            .and_then(|v| v["status"].as_str().map(String::from))
    }

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
        panic!(
            "runtime.md#state: container {id} did not reach {want:?} within {timeout:?}; last status {last:?}"
        );
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        for id in self.ids.borrow().iter() {
            let _ = self.cmd(&["delete", "-f", id]);
        }
    }
}

// ---------------------------------------------------------------------------
// Running the checker
// ---------------------------------------------------------------------------

/// Result of one checker run.
pub struct Report {
    pub out: Out,
    pub not_ok: Vec<String>,
    pub planned: Option<usize>,
    pub seen: usize,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.out.success()
            && self.not_ok.is_empty()
            && self.planned == Some(self.seen)
            && self.seen > 0
    }
    pub fn explain(&self) -> String {
        let mut s = String::new();
        if !self.out.success() {
            s += &format!(
                "runtime `run` did not exit 0 (code {:?}, signal {:?}, timed out {})\n",
                self.out.code, self.out.signal, self.out.timed_out
            );
        }
        if self.planned != Some(self.seen) || self.seen == 0 {
            s += &format!(
                "TAP plan {:?} but {} test lines (the checker did not run to the end?)\n",
                self.planned, self.seen
            );
        }
        for l in &self.not_ok {
            s += &format!("FAILED: {l}\n");
        }
        s + &format!("{}", self.out)
    }
}

pub fn parse_tap(out: Out) -> Report {
    let mut not_ok = Vec::new();
    let mut planned = None;
    let mut seen = 0;
    for l in out.stdout.lines() {
        if l.starts_with("not ok ") {
            not_ok.push(l.to_string());
            seen += 1;
        } else if l.starts_with("ok ") {
            seen += 1;
        } else if let Some(n) = l.strip_prefix("1..") {
            planned = n.trim().parse().ok();
        }
    }
    Report {
        out,
        not_ok,
        planned,
        seen,
    }
}

/// Runs the checker in a container made from `b` via `RUNTIME run`.
pub fn run_checker(b: &Bundle) -> Report {
    let rt = Runtime::new();
    let id = unique_id("ociv");
    let out = rt.run(b, &id);
    println!("{}", out.stdout);
    parse_tap(out)
}

/// Runs the checker and fails (printing the TAP output) on any `not ok`.
pub fn check(b: &Bundle) {
    let r = run_checker(b);
    assert!(
        r.passed(),
        "runtime {}:\n{}",
        runtime_bin().display(),
        r.explain()
    );
}
