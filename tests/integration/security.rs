//! Known runtime escapes, each attempted for real and expected to fail.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::time::Duration;

/// CVE-2019-5736: while the init still runs hull's image (between create
/// and start), another container in its pid namespace must not be able to
/// open /proc/<pid>/exe, the host's hull binary.
#[test]
fn init_image_is_not_reachable_through_proc_exe() {
    let rt = Runtime::new();
    let a = Bundle::new(&["true"]);
    let ida = unique_id("victim");
    rt.create(&a, &ida).ok();
    let pid = rt.pid(&ida);
    let mut b = Bundle::new(&[]);
    b.set_namespace("pid", Some(&format!("/proc/{pid}/ns/pid")));
    let out = rt.run_ok(
        &mut b,
        &["sh", "-c", "readlink /proc/1/exe; echo readlink=$?; cat /proc/1/exe >/dev/null; echo open=$?; readlink /proc/1/fd/0 >/dev/null; echo fd=$?"],
    );
    assert!(
        out.contains("readlink=1"),
        "the init's exe link was readable: {out}"
    );
    assert!(
        out.contains("open=1"),
        "the init's exe could be opened: {out}"
    );
    assert!(
        out.contains("fd=1"),
        "the init's fds could be followed: {out}"
    );
}

/// CVE-2024-21626: no descriptor of hull's reaches the container process.
#[test]
fn no_hull_descriptor_leaks_into_the_container() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    let out = rt.run_ok(&mut b, &["ls", "/proc/self/fd"]);
    let fds: Vec<&str> = out.split_whitespace().collect();
    // stdio plus the directory ls itself has open.
    assert!(fds.len() <= 4, "descriptors in the container: {fds:?}");
}

/// CVE-2024-21626: a cwd through /proc/self/fd cannot reach outside the root.
#[test]
fn cwd_through_proc_self_fd_is_refused() {
    let rt = Runtime::new();
    for fd in 3..8 {
        let mut b = Bundle::new(&["pwd"]);
        b.config["process"]["cwd"] = json!(format!("/proc/self/fd/{fd}"));
        let id = unique_id("cwdfd");
        let o = rt.run_with(&b, &id, &[]);
        assert!(!o.success(), "cwd /proc/self/fd/{fd} was accepted: {o}");
        assert!(!rt.root().join(&id).exists());
    }
}

/// CVE-2025-31133: a /dev/null that is not the null device (here a plain
/// file in a /dev bound from the bundle) is never bound over masked paths.
#[test]
fn masked_paths_refuse_a_fake_dev_null() {
    if !hull_only("the verified /dev/null for masked paths") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    let dev = TempDir::new("fakedev");
    fs::write(dev.path().join("null"), "not a device").unwrap();
    // /dev comes from the bundle: hull adds no device of its own then.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| !m["destination"].as_str().unwrap().starts_with("/dev"));
    b.bind(dev.path(), "/dev", &["rw"]);
    b.config["linux"]["maskedPaths"] = json!(["/proc/kcore", "/proc/timer_list"]);
    let id = unique_id("fakenull");
    let o = rt.run_with(&b, &id, &[]);
    assert!(!o.success(), "container ran with a fake /dev/null: {o}");
    assert!(o.stderr.contains("null device"), "{o}");
    assert!(!rt.root().join(&id).exists());
}

/// CVE-2025-52565: /dev/console planted as a symlink to a proc file must
/// not get the pty bound over its target.
#[test]
fn console_symlink_is_refused() {
    if !hull_only("the /dev/console symlink check") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    let dev = TempDir::new("condev");
    symlink("/proc/sys/kernel/core_pattern", dev.path().join("console")).unwrap();
    fs::create_dir(dev.path().join("pts")).unwrap();
    symlink("pts/ptmx", dev.path().join("ptmx")).unwrap();
    b.config["mounts"].as_array_mut().unwrap().retain(|m| {
        m["destination"] != "/dev"
            && m["destination"] != "/dev/shm"
            && m["destination"] != "/dev/mqueue"
    });
    // Keep devpts (mounted over the bound /dev) so a pty can be opened.
    let devpts = b.config["mounts"]
        .as_array()
        .unwrap()
        .iter()
        .position(|m| m["destination"] == "/dev/pts")
        .unwrap();
    let m = b.config["mounts"].as_array_mut().unwrap().remove(devpts);
    b.bind(dev.path(), "/dev", &["rw"]);
    b.add_mount(m);
    b.config["process"]["terminal"] = json!(true);
    let before = fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap();
    let tmp = TempDir::new("consock");
    let sock = tmp.path().join("c.sock");
    let _l = std::os::unix::net::UnixListener::bind(&sock).unwrap();
    let id = unique_id("consym");
    let o = rt.create_with(&b, &id, &["--console-socket", sock.to_str().unwrap()]);
    assert!(
        !o.success(),
        "create went ahead with /dev/console a symlink: {o}"
    );
    assert!(o.stderr.contains("/dev/console"), "{o}");
    assert_eq!(
        fs::read_to_string("/proc/sys/kernel/core_pattern").unwrap(),
        before
    );
    assert!(!rt.root().join(&id).exists());
}

/// Masked and read-only paths that are symlinks are refused, not followed.
#[test]
fn masked_path_symlink_is_refused() {
    if !hull_only("masked path symlink check") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    symlink("/proc/sys/kernel/core_pattern", b.rootfs().join("evil")).unwrap();
    b.config["linux"]["maskedPaths"] = json!(["/evil"]);
    let id = unique_id("masksym");
    let o = rt.run_with(&b, &id, &[]);
    assert!(!o.success(), "{o}");
    assert!(o.stderr.contains("symlink"), "{o}");
}

/// CVE-2019-16884 class: only procfs may be mounted at or under /proc.
#[test]
fn bind_over_proc_is_refused() {
    if !hull_only("the /proc destination check") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    let fake = TempDir::new("fakeproc");
    b.bind(fake.path(), "/proc/sys", &["rw"]);
    let id = unique_id("procbind");
    let o = rt.run_with(&b, &id, &[]);
    assert!(!o.success(), "{o}");
    assert!(o.stderr.contains("/proc"), "{o}");
    // An lxcfs-style file is still allowed.
    let mut b = Bundle::new(&["cat", "/proc/uptime"]);
    let f = TempDir::new("uptime");
    fs::write(f.path().join("uptime"), "1.00 2.00\n").unwrap();
    b.add_mount(json!({"destination": "/proc/uptime", "type": "bind", "source": f.path().join("uptime"), "options": ["bind", "ro"]}));
    let out = rt.run_ok(&mut b, &["cat", "/proc/uptime"]);
    assert_eq!(out.trim(), "1.00 2.00");
}

// ---------------------------------------------------------------------------
// AppArmor / SELinux. This host has neither: every requested label must be
// a clear error naming where it came from, and leave nothing behind.
// ---------------------------------------------------------------------------

fn apparmor_enabled() -> bool {
    fs::read_to_string("/sys/module/apparmor/parameters/enabled").is_ok_and(|s| s.starts_with('Y'))
        && Path::new("/sys/kernel/security/apparmor").is_dir()
}

fn selinux_enabled() -> bool {
    nix::sys::statfs::statfs("/sys/fs/selinux")
        .is_ok_and(|st| st.filesystem_type() == nix::sys::statfs::SELINUX_MAGIC)
}

/// Whether the LSM a check needs to be absent is absent; prints why not.
fn lsm_absent(lsm: &str) -> bool {
    let present = match lsm {
        "AppArmor" => apparmor_enabled(),
        _ => selinux_enabled(),
    };
    if present {
        eprintln!("SKIPPED: {lsm} is enabled on this host, so its absent-LSM error cannot be seen");
    }
    !present
}

/// Host processes whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut out = Vec::new();
    for e in fs::read_dir("/proc").unwrap().flatten() {
        let name = e.file_name().to_string_lossy().to_string();
        if !name.bytes().all(|b| b.is_ascii_digit()) || name == std::process::id().to_string() {
            continue;
        }
        if let Ok(c) = fs::read(e.path().join("cmdline")) {
            let c = String::from_utf8_lossy(&c).replace('\0', " ");
            if c.contains(needle) {
                out.push(format!("{name}: {c}"));
            }
        }
    }
    out
}

const LABEL: &str = "system_u:system_r:container_t:s0:c1,c2";

/// create refuses each label whose LSM is absent, naming the field, and
/// leaves no state dir, cgroup, mount or process.
#[test]
fn create_refuses_each_label_of_an_absent_lsm() {
    if !hull_only("LSM errors") {
        return;
    }
    // linux.mountLabel is ignored without SELinux (compat::mount_label_*).
    let cases: [(&str, &str, &str, serde_json::Value); 2] = [
        (
            "AppArmor",
            "process",
            "apparmorProfile",
            json!("docker-default"),
        ),
        ("SELinux", "process", "selinuxLabel", json!(LABEL)),
    ];
    let mut checked = 0;
    for (lsm, section, field, value) in cases {
        if !lsm_absent(lsm) {
            continue;
        }
        let parent = CgroupParent::new();
        let rt = Runtime::new();
        let id = unique_id("lsm");
        let mut b = Bundle::new(&["sleep", "30"]);
        b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
        b.config[section][field] = value;
        // `hull check` reports it where the pre-flight of create finds it.
        let bp = b.path().to_string_lossy().to_string();
        b.save();
        let want = format!("/{section}/{field}: {lsm} is not enabled on this host");
        let o = rt.cmd(&["check", "--bundle", &bp]).fail();
        assert!(
            o.stdout.contains(&want) || o.stderr.contains(&want),
            "check: expected {want:?}: {o}"
        );
        let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
        assert!(o.stderr.contains(&want), "expected {want:?}: {o}");
        assert!(!o.stderr.contains("panicked"), "{o}");
        let left = processes_mentioning(&id);
        assert!(left.is_empty(), "processes left: {left:?}");
        // `run` takes the same path.
        let id2 = unique_id("lsmrun");
        b.config["linux"]["cgroupsPath"] = json!(parent.child(&id2));
        let o = crate::errors::assert_failed_cleanly(
            &rt,
            &b,
            &parent,
            &id2,
            rt.run_with(&b, &id2, &[]),
        );
        assert!(o.stderr.contains(&want), "run: expected {want:?}: {o}");
        checked += 1;
    }
    eprintln!("{checked} of 3 absent-LSM create cases checked");
}

/// A running container in its own cgroup, for the exec cases.
/// Returns the bundle, the id and the host side of its /out.
fn running_in(parent: &CgroupParent, rt: &Runtime) -> (Bundle, String, std::path::PathBuf) {
    let id = unique_id("lsmexec");
    let mut b = Bundle::new(&["sleep", "60"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    let out = b.out_dir();
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    (b, id, out)
}

fn container_pids(rt: &Runtime, id: &str) -> Vec<i64> {
    let o = rt.cmd(&["ps", "--format", "json", id]).ok();
    let mut v: Vec<i64> = serde_json::from_str(o.stdout.trim()).unwrap();
    v.sort();
    v
}

/// exec refuses --apparmor, --process-label and a process.json with
/// apparmorProfile or selinuxLabel when the LSM is absent: the error names
/// the flag or field, nothing runs in the container, no process stays.
#[test]
fn exec_refuses_each_label_of_an_absent_lsm() {
    if !hull_only("LSM errors") {
        return;
    }
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let (_b, id, out) = running_in(&parent, &rt);
    let before = container_pids(&rt, &id);
    let marker = out.join("lsm-marker");
    let cmd = ["sh", "-c", "touch /out/lsm-marker"];
    let dir = TempDir::new("lsmproc");
    let process_json = |field: &str, value: &str| {
        let p = dir.path().join(format!("{field}.json"));
        let v = json!({
            "args": cmd,
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            field: value,
        });
        fs::write(&p, v.to_string()).unwrap();
        p.to_string_lossy().to_string()
    };
    let cases: Vec<(&str, Vec<String>, String)> = vec![
        (
            "AppArmor",
            vec!["--apparmor".into(), "docker-default".into()],
            "--apparmor: AppArmor is not enabled".into(),
        ),
        (
            "SELinux",
            vec!["--process-label".into(), LABEL.into()],
            "--process-label: SELinux is not enabled".into(),
        ),
        (
            "AppArmor",
            vec![
                "--process".into(),
                process_json("apparmorProfile", "docker-default"),
            ],
            "process.apparmorProfile: AppArmor is not enabled".into(),
        ),
        (
            "SELinux",
            vec!["--process".into(), process_json("selinuxLabel", LABEL)],
            "process.selinuxLabel: SELinux is not enabled".into(),
        ),
    ];
    let mut checked = 0;
    for (lsm, flags, want) in cases {
        if !lsm_absent(lsm) {
            continue;
        }
        let mut args: Vec<&str> = vec!["exec"];
        args.extend(flags.iter().map(String::as_str));
        args.push(&id);
        if !flags.iter().any(|f| f == "--process") {
            args.extend(cmd);
        }
        let o = rt.cmd(&args).fail();
        assert!(o.stderr.contains(&want), "expected {want:?}: {o}");
        assert!(!o.stderr.contains("panicked"), "{o}");
        assert!(!marker.exists(), "the command ran despite the error: {o}");
        assert_eq!(container_pids(&rt, &id), before, "{o}");
        assert_eq!(rt.status(&id).as_deref(), Some("running"));
        checked += 1;
    }
    // The same exec without a label runs: the cases above failed for the label.
    let mut ok = vec!["exec", id.as_str()];
    ok.extend(cmd);
    rt.cmd(&ok).ok();
    assert!(marker.exists());
    eprintln!("{checked} of 4 absent-LSM exec cases checked");
}

/// features reports the LSMs as the runtime detects them.
#[test]
fn features_report_lsms_as_detected() {
    if !hull_only("features LSM detection") {
        return;
    }
    let rt = Runtime::new();
    let o = rt.cmd(&["features"]).ok();
    let v: serde_json::Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(
        v["linux"]["apparmor"]["enabled"],
        json!(apparmor_enabled()),
        "{o}"
    );
    assert_eq!(
        v["linux"]["selinux"]["enabled"],
        json!(selinux_enabled()),
        "{o}"
    );
}

/// The verified procfs handle that LSM labels are written through (here
/// exercised by oomScoreAdj, which takes the same path, as no LSM is
/// present) works where the labels are written: in the init after
/// pivot_root, with and without a user namespace, and in an exec'd process.
#[test]
fn process_attributes_go_through_the_verified_procfs_handle() {
    if !hull_only("the verified procfs handle") {
        return;
    }
    for userns in [false, true] {
        let rt = Runtime::new();
        let mut b = Bundle::new(&["sleep", "60"]);
        b.config["process"]["oomScoreAdj"] = json!(321);
        if userns {
            b.set_namespace("user", None);
            b.config["linux"]["uidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
            b.config["linux"]["gidMappings"] =
                json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
        }
        let id = unique_id("procfsh");
        rt.create_start(&b, &id);
        rt.wait_for_status(&id, "running", Duration::from_secs(10));
        let pid = rt.pid(&id);
        assert_eq!(
            read_trim(Path::new(&format!("/proc/{pid}/oom_score_adj"))),
            "321",
            "init (user namespace: {userns})"
        );
        let dir = TempDir::new("procfsh");
        let p = dir.path().join("process.json");
        let v = json!({
            "args": ["cat", "/proc/self/oom_score_adj"],
            "cwd": "/",
            "user": {"uid": 0, "gid": 0},
            "env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin"],
            "oomScoreAdj": 654,
        });
        fs::write(&p, v.to_string()).unwrap();
        let o = rt
            .cmd(&["exec", "--process", p.to_str().unwrap(), &id])
            .ok();
        assert_eq!(
            o.stdout.trim(),
            "654",
            "exec (user namespace: {userns}): {o}"
        );
    }
}

/// Without a procfs at /proc (the config mounts none), the write is
/// refused by the handle's check rather than landing in a plain directory.
#[test]
fn process_attributes_need_a_real_procfs() {
    if !hull_only("the verified procfs handle") {
        return;
    }
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("noproc");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    b.config["process"]["oomScoreAdj"] = json!(100);
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["destination"] != "/proc");
    // maskedPaths and readonlyPaths live under /proc.
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    fs::create_dir_all(b.rootfs().join("proc")).unwrap();
    let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    assert!(
        o.stderr
            .contains("process.oomScoreAdj 100: /proc is not procfs"),
        "{o}"
    );
    assert!(processes_mentioning(&id).is_empty());
}

// ---------------------------------------------------------------------------
// CVE-2019-5736 for real: a container that holds CAP_SYS_PTRACE without a
// user namespace opens /proc/<pid>/exe of a hull process in its pid
// namespace and, once hull has exited, reopens the handle for writing. The
// runtime attacked is a copy of hull in a temp dir, so a failure of the
// protection cannot damage the build.
// ---------------------------------------------------------------------------

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

/// CVE-2021-30465: a container swaps a path of a shared volume between a
/// directory and a symlink to a host directory while another container is
/// created with a mount whose destination runs through that path. Every
/// destination must resolve inside the new container's rootfs at the
/// moment of the mount (openat2 RESOLVE_IN_ROOT, mount on the fd): nothing
/// may be created or mounted in the host directory, whichever state the
/// race catches.
#[test]
fn mount_destination_symlink_swap_race_stays_in_rootfs() {
    let volume = TempDir::new("race-vol");
    let host_target = TempDir::new("race-target");
    let rt = Runtime::new();
    // The attacker: swaps /vol/d between a directory and a symlink to the
    // host directory as fast as it can.
    let mut attacker = Bundle::new(&[]);
    attacker.bind(volume.path(), "/vol", &[]);
    attacker.set_args(&[
        "sh",
        "-c",
        &format!(
            "while :; do rm -rf /vol/d; mkdir /vol/d; rm -rf /vol/d; ln -s {} /vol/d; done",
            host_target.path().display()
        ),
    ]);
    let attacker_id = unique_id("race-attacker");
    rt.create_start(&attacker, &attacker_id);
    // The victim: its tmpfs destination runs through the swapped path.
    let mut victim = Bundle::new(&[
        "sh",
        "-c",
        "grep -c ' /vol/d/x \\| /x ' /proc/self/mountinfo || true",
    ]);
    victim.bind(volume.path(), "/vol", &[]);
    victim.add_mount(
        json!({"destination": "/vol/d/x", "type": "tmpfs", "source": "tmpfs",
        "options": ["size=64k"]}),
    );
    let (mut contained, mut refused) = (0, 0);
    for round in 0..40 {
        let id = unique_id("race-victim");
        let o = rt.run_with(&victim, &id, &[]);
        if o.success() {
            contained += 1;
        } else {
            assert!(
                o.stderr.starts_with("hull: ") || !runtime_is_hull(),
                "round {round}: {o}"
            );
            if refused == 0 {
                println!("first refusal: {}", o.stderr.trim());
            }
            refused += 1;
        }
        assert_host_dir_untouched(
            host_target.path(),
            &format!("round {round}: mount destination ({o})"),
        );
    }
    println!("symlink-swap race: {contained} runs contained the mount, {refused} refused");
    assert!(
        contained > 0,
        "no run succeeded: the race test exercised nothing"
    );
    rt.kill(&attacker_id, "KILL").ok();
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

// ---------------------------------------------------------------------------
// CVE-2019-16884 / CVE-2023-28642: /proc in the rootfs is a symlink.
// ---------------------------------------------------------------------------

/// `/proc -> /fakeproc`, and a host volume bound at /fakeproc holding the
/// files hull would write (a sysctl and oom_score_adj): following the link
/// would mount procfs under the volume and send hull's writes into it. The
/// destination is refused, and the volume is unchanged.
#[test]
fn proc_symlink_to_a_volume_is_refused() {
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("fakeproc");
    let volume = TempDir::new("fakeproc-vol");
    for (f, text) in [
        ("sys/kernel/domainname", "host-value\n"),
        ("self/oom_score_adj", "0\n"),
    ] {
        let p = volume.path().join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
    }
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    b.config["linux"]["sysctl"] = json!({"kernel.domainname": "evil"});
    b.config["process"]["oomScoreAdj"] = json!(999);
    b.bind(volume.path(), "/fakeproc", &["rw"]);
    fs::remove_dir(b.rootfs().join("proc")).unwrap();
    fs::create_dir(b.rootfs().join("fakeproc")).unwrap();
    symlink("/fakeproc", b.rootfs().join("proc")).unwrap();
    let o = rt.create(&b, &id);
    assert_eq!(
        read_trim(&volume.path().join("sys/kernel/domainname")),
        "host-value",
        "a sysctl write reached the volume: {o}"
    );
    assert_eq!(
        read_trim(&volume.path().join("self/oom_score_adj")),
        "0",
        "the oom_score_adj write reached the volume: {o}"
    );
    let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, o);
    if runtime_is_hull() {
        assert!(
            o.stderr.contains("/proc is a symlink")
                && o.stderr
                    .contains("must be mounted on an ordinary directory"),
            "{o}"
        );
    }
}

/// A dangling `/proc -> /symlink`: the same clear refusal, not an ENOENT.
#[test]
fn dangling_proc_symlink_is_refused_clearly() {
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("danglingproc");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    fs::remove_dir(b.rootfs().join("proc")).unwrap();
    symlink("/symlink", b.rootfs().join("proc")).unwrap();
    let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    if runtime_is_hull() {
        assert!(
            o.stderr
                .contains("/proc is a symlink (to \"/symlink\"): proc must be mounted on an ordinary directory"),
            "{o}"
        );
    }
    assert!(
        !b.rootfs().join("symlink").exists(),
        "the link was followed"
    );
}

/// The same for /sys (sysfs).
#[test]
fn sys_symlink_is_refused() {
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("sysln");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    fs::remove_dir(b.rootfs().join("sys")).unwrap();
    symlink("/tmp", b.rootfs().join("sys")).unwrap();
    let o = crate::errors::assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    if runtime_is_hull() {
        assert!(
            o.stderr
                .contains("sysfs must be mounted on an ordinary directory"),
            "{o}"
        );
    }
}

/// `--no-pivot`: the host's mount tree stays under the moved rootfs, and a
/// fully visible procfs anywhere in the mount namespace lets a new user
/// namespace mount a fresh one (then /proc/sysrq-trigger is writable). Every
/// host procfs and sysfs is detached first: the mount is refused, as runc
/// refuses it.
#[test]
fn no_pivot_leaves_no_host_procfs_to_mount_again() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[]);
    for set in ["bounding", "permitted"] {
        b.config["process"]["capabilities"][set]
            .as_array_mut()
            .unwrap()
            .push(json!("CAP_SETFCAP"));
    }
    b.set_args(&[
        "sh",
        "-c",
        "unshare -mrpf sh -c 'mount -t proc none /proc && echo MOUNTED && echo h > /proc/sysrq-trigger' 2>&1; echo rc=$?",
    ]);
    let id = unique_id("nopivot-proc");
    let o = rt.run_with(&b, &id, &["--no-pivot"]).ok();
    assert!(!o.stdout.contains("MOUNTED"), "procfs was mounted: {o}");
    assert!(
        o.stdout.contains("mount: permission denied"),
        "not refused as expected: {o}"
    );
    // The container's own /proc is still there.
    let mut b = Bundle::new(&["cat", "/proc/self/stat"]);
    b.config["process"]["args"] = json!(["sh", "-c", "test -e /proc/self/stat && echo procok"]);
    let o = rt
        .run_with(&b, &unique_id("nopivot-own"), &["--no-pivot"])
        .ok();
    assert!(o.stdout.contains("procok"), "{o}");
}
