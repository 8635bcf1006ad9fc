//! Running a scenario against both runtimes and comparing what they show.

use super::*;
use crate::common::{Bundle, TempDir, mounts_under, runtime_bin, unique_id, wait_pid_gone};
use crate::compat;
use crate::observe;
use nix::sys::socket::{ControlMessageOwned, MsgFlags, recvmsg};
use serde_json::Value;
use std::collections::BTreeMap;
use std::fs;
use std::io::{IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

// ---------------------------------------------------------------------------
// Running one scenario against one runtime
// ---------------------------------------------------------------------------

/// Observations of one run: key -> normalised value.
pub type Obs = BTreeMap<String, String>;

struct Pending {
    label: String,
    output: Output,
    out_file: PathBuf,
    err_file: PathBuf,
    exit: String,
    /// Terminal output read by a thread (pty or console socket).
    term: Option<TermReader>,
}

struct TermReader {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<Vec<u8>>,
}

impl TermReader {
    fn finish(self) -> Vec<u8> {
        // Give the reader a moment to see EIO after the last writer left.
        let deadline = Instant::now() + Duration::from_secs(5);
        while !self.handle.is_finished() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        self.stop.store(true, Ordering::SeqCst);
        self.handle.join().unwrap_or_default()
    }
}

/// Read a pty master until EIO/EOF or `stop`.
fn spawn_reader(master: OwnedFd, stop: Arc<AtomicBool>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        let mut out = Vec::new();
        let mut f = fs::File::from(master);
        let deadline = Instant::now() + Duration::from_secs(60);
        while !stop.load(Ordering::SeqCst) && Instant::now() < deadline {
            let mut p = libc::pollfd {
                fd: f.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            };
            // SAFETY: one valid pollfd for the duration of the call.
            let r = unsafe { libc::poll(&mut p, 1, 100) };
            if r <= 0 {
                continue;
            }
            let mut buf = [0u8; 4096];
            match f.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => out.extend_from_slice(&buf[..n]),
                Err(_) => break, // EIO: every slave descriptor is closed
            }
        }
        out
    })
}

/// Accept one connection on the console socket, take the pty master sent
/// with SCM_RIGHTS and read it.
fn spawn_console(listener: UnixListener, stop: Arc<AtomicBool>) -> JoinHandle<Vec<u8>> {
    std::thread::spawn(move || {
        listener.set_nonblocking(true).unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        let conn = loop {
            match listener.accept() {
                Ok((c, _)) => break c,
                Err(_) if Instant::now() < deadline && !stop.load(Ordering::SeqCst) => {
                    std::thread::sleep(Duration::from_millis(10))
                }
                Err(_) => return b"<no console received>".to_vec(),
            }
        };
        conn.set_nonblocking(false).unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(20)))
            .unwrap();
        let mut buf = [0u8; 4096];
        let mut iov = [IoSliceMut::new(&mut buf)];
        let mut cmsg = nix::cmsg_space!([RawFd; 4]);
        let Ok(msg) = recvmsg::<()>(
            conn.as_raw_fd(),
            &mut iov,
            Some(&mut cmsg),
            MsgFlags::empty(),
        ) else {
            return b"<console recvmsg failed>".to_vec();
        };
        let mut master = None;
        for c in msg.cmsgs().into_iter().flatten() {
            if let ControlMessageOwned::ScmRights(fds) = c {
                for fd in fds {
                    // SAFETY: the descriptor was just received and is ours.
                    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
                    if master.is_none() {
                        master = Some(owned);
                    }
                }
            }
        }
        match master {
            Some(m) => spawn_reader(m, stop).join().unwrap_or_default(),
            None => b"<no pty master in the console message>".to_vec(),
        }
    })
}

/// One runtime's run of a scenario.
struct Run<'a> {
    bin: &'a Path,
    ctx: Ctx,
    _bundle: Bundle,
    _work: TempDir,
    _root: TempDir,
    obs: Obs,
    pending: Vec<Pending>,
    labels: BTreeMap<String, usize>,
    seq: usize,
    /// The container's last pid seen in `state` (for the leak check).
    pids: Vec<i32>,
}

impl<'a> Run<'a> {
    fn new(bin: &'a Path, tag: &str, s: &Scenario) -> Run<'a> {
        let bundle = Bundle::new(&["true"]);
        let work = TempDir::new(&format!("diff-{tag}"));
        let root = TempDir::new(&format!("diff-root-{tag}"));
        let out = work.path().join("out");
        fs::create_dir(&out).unwrap();
        fs::set_permissions(&out, fs::Permissions::from_mode(0o777)).unwrap();
        let cgparent = format!("/{}", unique_id(&format!("hull-diff-{tag}")));
        let ctx = Ctx {
            id: unique_id(&format!("d{tag}")),
            bundle: bundle.path().to_path_buf(),
            out,
            work: work.path().to_path_buf(),
            root: root.path().to_path_buf(),
            cgroup: format!("{cgparent}/ctr"),
            cgparent,
        };
        let mut config = bundle.config.clone();
        for e in &s.edits {
            e(&mut config, &ctx);
        }
        let text = ctx.expand(&serde_json::to_string_pretty(&config).unwrap());
        // Steps may break it afterwards (`sh("rm {bundle}/config.json")`).
        fs::write(ctx.bundle.join("config.json"), text).unwrap();
        Run {
            bin,
            ctx,
            _bundle: bundle,
            _work: work,
            _root: root,
            obs: Obs::new(),
            pending: Vec::new(),
            labels: BTreeMap::new(),
            seq: 0,
            pids: Vec::new(),
        }
    }

    fn label(&mut self, base: &str) -> String {
        let n = self.labels.entry(base.to_string()).or_insert(0);
        *n += 1;
        if *n == 1 {
            base.to_string()
        } else {
            format!("{base}#{n}")
        }
    }

    fn command(&self, args: &[String]) -> Command {
        let mut c = Command::new(self.bin);
        c.arg("--root").arg(&self.ctx.root);
        c.args(args.iter().map(|a| self.ctx.expand(a)));
        c
    }

    /// Run a runtime command quietly (for polling), returning (code, stdout).
    fn query(&self, args: &[&str]) -> (Option<i32>, String) {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        let mut c = self.command(&args);
        c.stdin(Stdio::null()).stderr(Stdio::null());
        match c.output() {
            Ok(o) => (
                o.status.code(),
                String::from_utf8_lossy(&o.stdout).to_string(),
            ),
            Err(_) => (None, String::new()),
        }
    }

    fn current_state(&self) -> Option<Value> {
        let (code, out) = self.query(&["state", "{id}"]);
        if code != Some(0) {
            return None;
        }
        serde_json::from_str(&out).ok()
    }

    fn remember_pid(&mut self) {
        if let Some(st) = self.current_state()
            && let Some(p) = st["pid"].as_i64()
            && p > 0
            && !self.pids.contains(&(p as i32))
        {
            self.pids.push(p as i32);
        }
    }

    fn run_cmd(&mut self, c: &Cmd) {
        let base = c.args[0].clone();
        let label = self.label(&base);
        self.seq += 1;
        let out_file = self.ctx.work.join(format!("io-{}.out", self.seq));
        let err_file = self.ctx.work.join(format!("io-{}.err", self.seq));
        let mut command = self.command(&c.args);
        let stop = Arc::new(AtomicBool::new(false));
        let mut term = None;
        let mut slave_keep = None;
        match c.io {
            Io::Files | Io::Console => {
                command.stdout(fs::File::create(&out_file).unwrap());
                command.stderr(fs::File::create(&err_file).unwrap());
                match &c.stdin {
                    Some(_) => command.stdin(Stdio::piped()),
                    None => command.stdin(Stdio::null()),
                };
                command.process_group(0);
                if c.io == Io::Console {
                    let sock = self.ctx.work.join("console.sock");
                    let _ = fs::remove_file(&sock);
                    let l = UnixListener::bind(&sock).unwrap();
                    term = Some(TermReader {
                        stop: stop.clone(),
                        handle: spawn_console(l, stop.clone()),
                    });
                }
            }
            Io::Pty => {
                let pty = nix::pty::openpty(None, None).expect("openpty");
                let slave = pty.slave;
                let raw = slave.as_raw_fd();
                command.stdin(Stdio::from(slave.try_clone().unwrap()));
                command.stdout(Stdio::from(slave.try_clone().unwrap()));
                command.stderr(Stdio::from(slave.try_clone().unwrap()));
                let _ = raw;
                // SAFETY: setsid and ioctl are async-signal-safe; fd 0 is
                // the pty slave in the child.
                unsafe {
                    command.pre_exec(|| {
                        if libc::setsid() < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        if libc::ioctl(0, libc::TIOCSCTTY, 0) < 0 {
                            return Err(std::io::Error::last_os_error());
                        }
                        Ok(())
                    });
                }
                slave_keep = Some(slave);
                term = Some(TermReader {
                    stop: stop.clone(),
                    handle: spawn_reader(pty.master, stop.clone()),
                });
            }
        }
        let mut child = command
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {:?}: {e}", c.args));
        drop(command);
        drop(slave_keep);
        if let Some(input) = &c.stdin
            && let Some(mut si) = child.stdin.take()
        {
            let _ = si.write_all(self.ctx.expand(input).as_bytes());
        }
        let deadline = Instant::now() + CMD_TIMEOUT;
        let exit = loop {
            match child.try_wait().unwrap() {
                Some(s) => {
                    break match (s.code(), s.signal()) {
                        (Some(c), _) => format!("{c}"),
                        (None, Some(sig)) => format!("signal {sig}"),
                        _ => "?".into(),
                    };
                }
                None if Instant::now() >= deadline => {
                    // SAFETY: kill(2) on the child's own process group.
                    unsafe { libc::kill(-(child.id() as i32), libc::SIGKILL) };
                    let _ = child.kill();
                    let _ = child.wait();
                    break "timeout".into();
                }
                None => std::thread::sleep(Duration::from_millis(5)),
            }
        };
        // Only these make a container process (for the leak check).
        if matches!(c.args[0].as_str(), "create" | "run") {
            self.remember_pid();
        }
        // A foreground command's terminal output is complete when it has
        // exited; read it now so a later step cannot hold the pty open.
        let term = match (c.io, term) {
            (Io::Pty, Some(t)) => {
                let bytes = t.finish();
                fs::write(&out_file, bytes).unwrap();
                None
            }
            (_, t) => t,
        };
        self.pending.push(Pending {
            label,
            output: c.output,
            out_file,
            err_file,
            exit,
            term,
        });
    }

    fn step(&mut self, s: &Step) {
        match s {
            Step::Cmd(c) => self.run_cmd(c),
            Step::WaitStopped => {
                let label = self.label("wait");
                let deadline = Instant::now() + Duration::from_secs(15);
                let mut last = "gone".to_string();
                while Instant::now() < deadline {
                    match self.current_state() {
                        Some(st) => {
                            last = st["status"].as_str().unwrap_or("?").to_string();
                            if last == "stopped" {
                                break;
                            }
                        }
                        None => {
                            last = "gone".into();
                            break;
                        }
                    }
                    std::thread::sleep(Duration::from_millis(20));
                }
                self.obs.insert(format!("{label}.status"), last);
            }
            Step::WaitFile(p) => {
                let p = PathBuf::from(self.ctx.expand(p));
                let deadline = Instant::now() + Duration::from_secs(10);
                while Instant::now() < deadline && !p.exists() {
                    std::thread::sleep(Duration::from_millis(10));
                }
            }
            Step::Cgroup(files) => {
                let label = self.label("cgroup");
                for f in files {
                    let v = observe::read_cgroup_file(&self.ctx.cgroup, f);
                    self.obs.insert(format!("{label}.{f}"), v);
                }
            }
            Step::Outside => {
                let label = self.label("outside");
                let pid = self
                    .current_state()
                    .and_then(|s| s["pid"].as_i64())
                    .unwrap_or(0) as i32;
                for (k, v) in observe::outside(pid) {
                    let v = self.ctx.normalise(&v);
                    self.obs.insert(format!("{label}.{k}"), v);
                }
            }
            Step::Sh(c) => {
                let c = self.ctx.expand(c);
                let o = Command::new("sh").arg("-c").arg(&c).output().unwrap();
                assert!(
                    o.status.success(),
                    "set-up command `{c}` failed: {}",
                    String::from_utf8_lossy(&o.stderr)
                );
            }
            Step::Write(p, content) => {
                fs::write(self.ctx.expand(p), self.ctx.expand(content)).unwrap();
            }
            Step::Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }

    /// Force-delete, then record what was left behind and remove it.
    fn cleanup(&mut self) {
        self.remember_pid();
        let _ = self.query(&["delete", "--force", "{id}"]);
        // The pty/console readers see EIO once the container is gone.
        let mut term_out = Vec::new();
        for p in &mut self.pending {
            if let Some(t) = p.term.take() {
                term_out.push((p.label.clone(), t.finish()));
            }
        }
        let mut alive = Vec::new();
        for &pid in &self.pids {
            if !wait_pid_gone(pid, Duration::from_secs(5)) {
                alive.push(pid);
                // SAFETY: kill(2); the pid belonged to this scenario's container.
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
        }
        self.obs.insert(
            "cleanup.processes".into(),
            if alive.is_empty() {
                "none left".into()
            } else {
                "container process still alive after delete --force".into()
            },
        );
        let state_left: Vec<String> = fs::read_dir(&self.ctx.root)
            .map(|rd| {
                rd.flatten()
                    .map(|e| self.ctx.normalise(&e.file_name().to_string_lossy()))
                    .collect()
            })
            .unwrap_or_default();
        self.obs
            .insert("cleanup.state_dir".into(), format!("{state_left:?}"));
        let cg_left = observe::remove_cgroups(&self.ctx.cgparent);
        self.obs.insert(
            "cleanup.cgroups".into(),
            format!(
                "{:?}",
                cg_left
                    .iter()
                    .map(|s| self.ctx.normalise(s))
                    .collect::<Vec<_>>()
            ),
        );
        let mut mounts = mounts_under(&self.ctx.bundle);
        mounts.extend(mounts_under(&self.ctx.work));
        self.obs.insert(
            "cleanup.mounts".into(),
            format!(
                "{:?}",
                mounts
                    .iter()
                    .map(|s| self.ctx.normalise(s))
                    .collect::<Vec<_>>()
            ),
        );
        for (label, bytes) in term_out {
            if let Some(p) = self.pending.iter().find(|p| p.label == label) {
                fs::write(&p.out_file, bytes).unwrap();
            }
        }
    }

    fn collect(&mut self) {
        let pending = std::mem::take(&mut self.pending);
        for p in pending {
            let out = fs::read(&p.out_file).unwrap_or_default();
            let err = fs::read(&p.err_file).unwrap_or_default();
            let out = self.ctx.normalise(&String::from_utf8_lossy(&out));
            let err = String::from_utf8_lossy(&err).to_string();
            let l = &p.label;
            self.obs.insert(format!("{l}.exit"), p.exit.clone());
            if p.output == Output::ExitOnly {
                continue;
            }
            let (diag, rest) = observe::split_diagnostics(&err);
            self.obs.insert(format!("{l}.diagnostics"), diag);
            self.obs
                .insert(format!("{l}.stderr"), self.ctx.normalise(&rest));
            let recorded = match p.output {
                Output::Text => vec![("stdout".to_string(), out)],
                Output::Probe => observe::parse_probe(&out),
                Output::State => observe::parse_state(&out),
                Output::List => observe::parse_list(&out),
                Output::ExitOnly => Vec::new(),
                Output::PsJson => vec![("pids".to_string(), observe::parse_ps(&out))],
                Output::Events => vec![("events".to_string(), observe::parse_events(&out))],
                Output::Version => vec![("version".to_string(), observe::parse_version(&out))],
            };
            for (k, v) in recorded {
                self.obs.insert(format!("{l}.{k}"), v);
            }
        }
        // Files hooks and processes wrote into {out}.
        let mut names: Vec<_> = fs::read_dir(&self.ctx.out)
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        names.sort();
        for p in names {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let text = match fs::read(&p) {
                Ok(b) => self.ctx.normalise(&String::from_utf8_lossy(&b)),
                Err(_) => "<not a readable file>".into(),
            };
            for (suffix, v) in observe::normalise_file(&text) {
                self.obs.insert(format!("file.{name}{suffix}"), v);
            }
        }
    }
}

fn run_once(bin: &Path, tag: &str, s: &Scenario) -> Obs {
    let mut r = Run::new(bin, tag, s);
    for step in &s.steps {
        step_checked(&mut r, step);
    }
    r.cleanup();
    r.collect();
    r.obs.clone()
}

fn step_checked(r: &mut Run, step: &Step) {
    r.step(step)
}

/// The reference runtime: `$HULL_DIFF_REFERENCE`, else `runc` on PATH.
pub fn reference_bin() -> PathBuf {
    if let Ok(p) = std::env::var("HULL_DIFF_REFERENCE")
        && !p.is_empty()
    {
        return PathBuf::from(p);
    }
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        let p = Path::new(dir).join("runc");
        if p.exists() {
            return p;
        }
    }
    for p in ["/usr/sbin/runc", "/usr/bin/runc"] {
        if Path::new(p).exists() {
            return PathBuf::from(p);
        }
    }
    panic!(
        "the differential suite needs runc (the reference runtime): install it with \
         scripts/install-deps.sh (apt-get install runc), or point HULL_DIFF_REFERENCE at it"
    );
}

/// Remove what an earlier, killed run of this suite left behind: cgroup
/// parents and temp dirs whose name carries the pid of a process that is
/// gone (`...-<tag>-<pid>-<counter>-<nanos>`).
fn sweep_stale() {
    static DONE: std::sync::Once = std::sync::Once::new();
    DONE.call_once(|| {
        let dead = |name: &str, prefix: &str| {
            name.strip_prefix(prefix)
                .and_then(|r| r.split('-').nth(1))
                .and_then(|p| p.parse::<i32>().ok())
                .is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists())
        };
        for tag in ["runc", "hull"] {
            let cg = format!("hull-diff-{tag}-");
            if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
                for h in rd.flatten() {
                    for e in fs::read_dir(h.path()).into_iter().flatten().flatten() {
                        let n = e.file_name().to_string_lossy().to_string();
                        if n.starts_with(&cg) && dead(&n, "hull-diff-") {
                            observe::remove_cgroups(&format!("/{n}"));
                        }
                    }
                }
            }
            for e in fs::read_dir("/tmp").into_iter().flatten().flatten() {
                let n = e.file_name().to_string_lossy().to_string();
                for prefix in ["hull-it-diff-", "hull-it-diff-root-"] {
                    if n.starts_with(&format!("{prefix}{tag}-")) && dead(&n, prefix) {
                        for m in mounts_under(&e.path()).into_iter().rev() {
                            let c = std::ffi::CString::new(m).unwrap();
                            // SAFETY: umount2 with a valid C string.
                            unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) };
                        }
                        let _ = fs::remove_dir_all(e.path());
                    }
                }
            }
        }
    });
}

/// Run `s` against runc and hull and fail on any divergence that
/// docs/compat.md does not list.
pub fn check(name: &str, s: Scenario) {
    sweep_stale();
    assert_eq!(
        nix::unistd::geteuid().as_raw(),
        0,
        "the differential suite creates real containers and needs root"
    );
    let reference = reference_bin();
    let hull = runtime_bin();
    // The two runs share nothing (own bundle, root, id, cgroup, dirs), so
    // they run side by side.
    let started = Instant::now();
    let (want, got) = std::thread::scope(|scope| {
        let r = scope.spawn(|| run_once(&reference, "runc", &s));
        let got = run_once(&hull, "hull", &s);
        let want = r.join().unwrap_or_else(|e| std::panic::resume_unwind(e));
        (want, got)
    });
    println!("{name}: both runs took {:?}", started.elapsed());
    let (mut want, got) = collapse_failed_probes(want, got);
    // Leaving nothing behind is hull's own rule, whatever runc does (runc
    // 1.1 sometimes leaves cgroups on a loaded machine, and leaves the
    // rootfs mounted without a mount namespace): compare hull's leftovers
    // with nothing.
    for (k, v) in want.iter_mut().filter(|(k, _)| k.starts_with("cleanup.")) {
        let clean = if k == "cleanup.processes" {
            "none left"
        } else {
            "[]"
        };
        if v != clean {
            println!("{name}: runc left something behind: {k} = {v}");
            *v = clean.to_string();
        }
    }
    let mut divergences = Vec::new();
    let keys: std::collections::BTreeSet<&String> = want.keys().chain(got.keys()).collect();
    for k in keys {
        let a = want.get(k).map(String::as_str).unwrap_or("<not observed>");
        let b = got.get(k).map(String::as_str).unwrap_or("<not observed>");
        if a != b {
            divergences.push((k.clone(), a.to_string(), b.to_string()));
        }
    }
    let table = compat::table();
    let mut failures = Vec::new();
    let mut report = String::new();
    for (k, a, b) in &divergences {
        match table.lookup(name, k) {
            Some(row) => {
                report.push_str(&format!("  listed ({}) {k}: {}\n", row.kind, row.reason));
            }
            None => failures.push(describe(k, a, b)),
        }
    }
    let seen: Vec<&str> = divergences.iter().map(|(k, _, _)| k.as_str()).collect();
    let mut stale = Vec::new();
    for row in table.exact_rows(name) {
        if !seen.iter().any(|k| compat::glob(&row.observation, k)) {
            if row.kind == compat::Kind::Deliberate {
                stale.push(format!(
                    "  {} is listed in docs/compat.md as a deliberate divergence, \
                     but hull now behaves like runc: remove the row\n",
                    row.observation
                ));
            } else {
                println!(
                    "NOTE: {name}: {} is listed in docs/compat.md as an open bug but no \
                     longer diverges: remove the row",
                    row.observation
                );
            }
        }
    }
    if !report.is_empty() {
        println!("{name}: divergences listed in docs/compat.md:\n{report}");
    }
    if !failures.is_empty() || !stale.is_empty() {
        panic!(
            "scenario {name}: hull diverges from runc ({} unlisted):\n{}{}\n\
             A deliberate divergence (spec text, a security fix runc lacks) goes into the \
             table in docs/compat.md as `| {name} | KEY | deliberate | reason |`.",
            failures.len(),
            failures.join(""),
            stale.join("")
        );
    }
}

/// Where the probe of a step completed on one side only, keep just the
/// step's status, diagnostics, stderr and `probe` keys: the missing aspects
/// say nothing more.
fn collapse_failed_probes(mut a: Obs, mut b: Obs) -> (Obs, Obs) {
    let labels: Vec<String> = a
        .iter()
        .chain(b.iter())
        .filter(|(k, _)| k.ends_with(".probe"))
        .map(|(k, _)| k.trim_end_matches(".probe").to_string())
        .collect();
    for l in labels {
        let key = format!("{l}.probe");
        if a.get(&key) == b.get(&key) {
            continue;
        }
        let keep = |k: &String| {
            !k.starts_with(&format!("{l}."))
                || ["exit", "diagnostics", "stderr", "probe", "preamble"]
                    .iter()
                    .any(|s| *k == format!("{l}.{s}"))
        };
        a.retain(|k, _| keep(k));
        b.retain(|k, _| keep(k));
    }
    (a, b)
}

/// One divergence: both values, or for multi-line values the lines only
/// runc had (-) and only hull had (+).
fn describe(k: &str, a: &str, b: &str) -> String {
    if !a.contains('\n') && !b.contains('\n') {
        return format!("  {k}:\n    runc: {a}\n    hull: {b}\n");
    }
    let al: Vec<&str> = a.lines().collect();
    let bl: Vec<&str> = b.lines().collect();
    let mut s = format!("  {k} (- runc only, + hull only):\n");
    for l in &al {
        if !bl.contains(l) {
            s.push_str(&format!("    - {l}\n"));
        }
    }
    for l in &bl {
        if !al.contains(l) {
            s.push_str(&format!("    + {l}\n"));
        }
    }
    if al.iter().all(|l| bl.contains(l)) && bl.iter().all(|l| al.contains(l)) {
        s.push_str(&format!(
            "    same lines, other order:\n    runc: {}\n    hull: {}\n",
            indent(a),
            indent(b)
        ));
    }
    s
}

fn indent(s: &str) -> String {
    if s.contains('\n') {
        format!("\n      {}", s.replace('\n', "\n      "))
    } else {
        s.to_string()
    }
}
