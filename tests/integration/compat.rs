//! Behaviours engines and conformance suites rely on, where hull must act
//! as runc does (or as runtime-spec v1.3 says where they differ; see
//! docs/compat.md). Each test runs against `$HULL_RUNTIME` too, so the
//! same checks can be pointed at runc.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(10);

fn sleeper() -> Bundle {
    Bundle::new(&["sleep", "60"])
}

// ---------------------------------------------------------------------------
// delete, kill, exec exit codes, --version
// ---------------------------------------------------------------------------

/// runtime.md "delete": deleting a container that is not stopped MUST
/// error, and MUST have no effect on it (runc 1.1 kills a created one:
/// hull follows the spec, docs/compat.md).
#[test]
fn delete_without_force_refuses_created_and_running() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("delnf");
    rt.create(&b, &id).ok();
    let pid = rt.pid(&id);
    if runtime_is_hull() {
        let o = rt.delete(&id).fail();
        assert!(o.stderr.contains("not stopped"), "{o}");
        assert_eq!(rt.status(&id).as_deref(), Some("created"));
        assert!(!wait_pid_gone(pid, Duration::from_millis(200)));
    }
    rt.start(&id).ok();
    let o = rt.delete(&id).fail();
    assert!(o.stderr.contains("not stopped"), "{o}");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.delete_force(&id).ok();
    assert!(rt.state(&id).is_err());
    assert!(wait_pid_gone(pid, WAIT));
}

/// `kill ID 0` (and `kill --all ID 0`) checks that the container is alive.
#[test]
fn kill_signal_zero_is_a_liveness_check() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("kill0");
    rt.create_start(&b, &id);
    rt.kill(&id, "0").ok();
    rt.cmd(&["kill", "--all", &id, "0"]).ok();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    rt.kill(&id, "KILL").ok();
    rt.wait_for_status(&id, "stopped", WAIT);
    rt.kill(&id, "0").fail();
}

/// exec: failures of the runtime itself exit 255, so a caller can tell them
/// from the process's own status.
#[test]
fn exec_failures_of_the_runtime_exit_255() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("exec255");
    rt.create_start(&b, &id);
    let scratch = TempDir::new("exec255");
    let missing = scratch.path().join("no/such/dir/pid");
    let o = rt.cmd(&[
        "exec",
        "--pid-file",
        &missing.to_string_lossy(),
        &id,
        "true",
    ]);
    assert_eq!(o.code, Some(255), "--pid-file in a missing dir: {o}");
    let bad = scratch.path().join("process.json");
    fs::write(&bad, "{not json").unwrap();
    let o = rt.cmd(&["exec", "-p", &bad.to_string_lossy(), &id]);
    assert_eq!(o.code, Some(255), "bad --process: {o}");
    let o = rt.cmd(&["exec", &unique_id("nosuch"), "true"]);
    assert_eq!(o.code, Some(255), "unknown container: {o}");
    // The process's own status passes through.
    let o = rt.cmd(&["exec", &id, "sh", "-c", "exit 1"]);
    assert_eq!(o.code, Some(1), "{o}");
    rt.cmd(&["pause", &id]).ok();
    let o = rt.cmd(&["exec", &id, "true"]);
    assert_eq!(o.code, Some(255), "paused without --ignore-paused: {o}");
    rt.cmd(&["resume", &id]).ok();
}

/// exec -p with fields left out (no user, no env, no capabilities): runc's
/// defaults (uid 0, gid 0). `cwd` stays required (config.md: REQUIRED; runc
/// refuses an empty one too).
#[test]
fn exec_process_file_with_fields_left_out() {
    let rt = Runtime::new();
    let b = sleeper();
    let id = unique_id("execp");
    rt.create_start(&b, &id);
    let scratch = TempDir::new("execp");
    let p = scratch.path().join("process.json");
    fs::write(
        &p,
        json!({"args": ["/bin/sh", "-c", "echo $(id -u):$(id -g):$(pwd)"], "cwd": "/"}).to_string(),
    )
    .unwrap();
    let o = rt.cmd(&["exec", "-p", &p.to_string_lossy(), &id]).ok();
    assert_eq!(o.stdout.trim(), "0:0:/", "{o}");
}

/// `--version` / `-v`: version, commit, spec version and the seccomp
/// backend, one per line as runc prints them.
#[test]
fn version_flag_prints_versions() {
    let rt = Runtime::new();
    for flag in ["--version", "-v"] {
        let o = run_cmd(
            {
                let mut c = std::process::Command::new(&rt.bin);
                c.arg(flag);
                c
            },
            rt.root(),
            CmdOpts::default(),
        )
        .ok();
        let lines: Vec<&str> = o.stdout.lines().collect();
        assert!(lines[0].contains(" version "), "{o}");
        assert!(lines.iter().any(|l| l.starts_with("commit: ")), "{o}");
        assert!(lines.iter().any(|l| l.starts_with("spec: 1.")), "{o}");
        if runtime_is_hull() {
            assert!(lines.iter().any(|l| l.starts_with("seccomp: ")), "{o}");
            assert!(lines.iter().any(|l| l.starts_with("cgroup: ")), "{o}");
        }
    }
}

// ---------------------------------------------------------------------------
// Values engines send to mean "unset"
// ---------------------------------------------------------------------------

/// Docker writes `blockIO.weight: 0` into every config, and engines write 0
/// for CPU shares/quota/period, the pids limit and the realtime fields they
/// leave alone: runc treats each 0 as "not set" and so does hull.
#[test]
fn engine_zero_values_mean_unset() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["resources"] = json!({
        "blockIO": {"weight": 0},
        "cpu": {"shares": 0, "quota": 0, "period": 0, "realtimeRuntime": 0, "realtimePeriod": 0},
        "pids": {"limit": 0},
    });
    let id = unique_id("zero");
    rt.run_with(&b, &id, &[]).ok();
    let o = rt.cmd(&["check", "--bundle", &b.path().to_string_lossy()]);
    if runtime_is_hull() {
        assert!(o.success(), "hull check refuses what run accepts: {o}");
    }
}

/// memory.swappiness 0 is a value (no swapping) where the host has the
/// knob (cgroup v1); it must not stop the container.
#[test]
fn memory_swappiness_zero_runs() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["resources"] = json!({"memory": {"swappiness": 0}});
    let id = unique_id("swp0");
    rt.run_with(&b, &id, &[]).ok();
}

/// linux.resources.memory.kernel (kmem) is ignored with a warning, as runc
/// 1.2+ does (the kernel dropped kmem limits in 5.16 and deprecated them
/// before).
#[test]
fn memory_kernel_is_ignored_with_a_warning() {
    if !hull_only("runc 1.1 still writes kmem limits") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["resources"] = json!({"memory": {"kernel": 104857600, "kernelTCP": -1}});
    let id = unique_id("kmem");
    let o = rt.run_with(&b, &id, &[]).ok();
    assert!(o.stderr.contains("memory.kernel"), "no warning: {o}");
    assert_eq!(o.stderr.matches("memory.kernel").count(), 1, "{o}");
}

// ---------------------------------------------------------------------------
// Hooks (runtime.md v1.3 lifecycle)
// ---------------------------------------------------------------------------

/// An executable shell script at `dir/name`.
fn script(dir: &std::path::Path, name: &str, body: &str) -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(name);
    fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn hook_json(p: &std::path::Path) -> serde_json::Value {
    json!({"path": p.to_string_lossy()})
}

/// runtime.md step 9: a failing poststart hook is an error; the container
/// is stopped and the lifecycle continues at delete (poststop hooks run).
#[test]
fn failing_poststart_hook_fails_start_and_stops_the_container() {
    let tmp = TempDir::new("poststart");
    let log = tmp.path().join("log");
    let fail = script(tmp.path(), "fail.sh", "exit 3");
    let stop = script(
        tmp.path(),
        "stop.sh",
        &format!("echo poststop >> {}", log.display()),
    );
    let mut b = sleeper();
    b.config["hooks"] = json!({"poststart": [hook_json(&fail)], "poststop": [hook_json(&stop)]});
    let rt = Runtime::new();
    let id = unique_id("pstart");
    rt.create(&b, &id).ok();
    let pid = rt.pid(&id);
    rt.start(&id).fail();
    assert!(wait_pid_gone(pid, WAIT), "container process survived");
    rt.wait_for_status(&id, "stopped", WAIT);
    rt.delete(&id).ok();
    assert_eq!(fs::read_to_string(&log).unwrap_or_default(), "poststop\n");
}

/// runtime.md step 13: a failing poststop hook is a warning (printed once)
/// and the remaining poststop hooks still run.
#[test]
fn failing_poststop_hook_warns_once_and_the_rest_run() {
    let tmp = TempDir::new("poststop");
    let log = tmp.path().join("log");
    let fail = script(tmp.path(), "fail.sh", "exit 3");
    let next = script(
        tmp.path(),
        "next.sh",
        &format!("echo next >> {}", log.display()),
    );
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] = json!({"poststop": [hook_json(&fail), hook_json(&next)]});
    let rt = Runtime::new();
    let id = unique_id("pstop");
    let o = rt.run_with(&b, &id, &[]).ok();
    assert_eq!(
        fs::read_to_string(&log).unwrap_or_default(),
        "next\n",
        "the hook after the failing one did not run: {o}"
    );
    if runtime_is_hull() {
        assert_eq!(o.stderr.matches("fail.sh").count(), 1, "{o}");
    }
}

/// The state on stdin of prestart, createRuntime and createContainer hooks
/// says "created" (what crun and the OCI validation suite expect: the
/// create operation's environment exists when they run).
#[test]
fn create_hooks_read_status_created() {
    if !hull_only("runc 1.1 passes \"creating\"") {
        return;
    }
    let tmp = TempDir::new("hookstate");
    let log = tmp.path().join("log");
    let h = script(
        tmp.path(),
        "state.sh",
        &format!("{{ cat; echo; }} >> {}", log.display()),
    );
    let mut b = Bundle::new(&["true"]);
    b.config["hooks"] = json!({
        "prestart": [hook_json(&h)],
        "createRuntime": [hook_json(&h)],
        "createContainer": [hook_json(&h)],
    });
    let rt = Runtime::new();
    rt.run_with(&b, &unique_id("hst"), &[]).ok();
    let text = fs::read_to_string(&log).unwrap();
    let states: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(states.len(), 3, "{text}");
    for s in states {
        assert_eq!(s["status"], "created", "{s}");
        assert!(s["pid"].as_i64().unwrap_or(0) > 0, "{s}");
    }
}

/// createContainer hooks run with the container's root as their working
/// directory: a hook that mounts onto ./some/path reaches the rootfs.
#[test]
fn create_container_hook_runs_in_the_container_root() {
    let tmp = TempDir::new("cchook");
    let src = tmp.path().join("hostfile");
    fs::write(&src, "from-hook\n").unwrap();
    let h = script(
        tmp.path(),
        "cc.sh",
        &format!(
            "touch ./etc/hookfile && mount --bind {} ./etc/hookfile",
            src.display()
        ),
    );
    let mut b = Bundle::new(&["cat", "/etc/hookfile"]);
    b.config["hooks"] = json!({"createContainer": [hook_json(&h)]});
    let rt = Runtime::new();
    let o = rt.run_with(&b, &unique_id("cch"), &[]).ok();
    assert_eq!(o.stdout, "from-hook\n", "{o}");
}

/// A createRuntime hook that enters the container's mount namespace with
/// nsenter and bind-mounts a file into the rootfs: the container sees it.
#[test]
fn create_runtime_hook_nsenter_bind_mount() {
    let tmp = TempDir::new("crhook");
    let src = tmp.path().join("hostfile");
    fs::write(&src, "via-nsenter\n").unwrap();
    let mut b = Bundle::new(&["cat", "/etc/hookfile"]);
    let h = script(
        tmp.path(),
        "cr.sh",
        &format!(
            "pid=$(sed 's/.*\"pid\":\\([0-9]*\\).*/\\1/')\n\
             touch {root}/etc/hookfile\n\
             exec nsenter -m -t $pid mount --bind {} {root}/etc/hookfile",
            src.display(),
            root = b.rootfs().display()
        ),
    );
    b.config["hooks"] = json!({"createRuntime": [hook_json(&h)]});
    let rt = Runtime::new();
    let o = rt.run_with(&b, &unique_id("crh"), &[]).ok();
    assert_eq!(o.stdout, "via-nsenter\n", "{o}");
}

// ---------------------------------------------------------------------------
// Process set-up: terminal owner, cwd, seccomp
// ---------------------------------------------------------------------------

/// The pty slave belongs to the process's uid; its group stays the one
/// devpts gives it (`gid=5` in the config's mount options), as runc does.
#[test]
fn pty_slave_belongs_to_the_process_user() {
    let rt = Runtime::new();
    let mut b = sleeper();
    b.config["process"]["terminal"] = json!(true);
    b.config["process"]["user"] = json!({"uid": 1000, "gid": 1000});
    b.set_args(&["sh", "-c", "stat -c %u:%g $(tty)"]);
    let id = unique_id("ptyrun");
    let o = rt.run_with(&b, &id, &[]).ok();
    assert_eq!(o.stdout.trim(), "1000:5", "run: {o}");
    // exec -t, in a running container.
    b.set_args(&["sleep", "60"]);
    b.config["process"]["terminal"] = json!(false);
    let id = unique_id("ptyexec");
    rt.create_start(&b, &id);
    let o = rt
        .cmd(&[
            "exec",
            "-t",
            "--user",
            "1000:1000",
            &id,
            "sh",
            "-c",
            "stat -c %u:%g $(tty)",
        ])
        .ok();
    assert_eq!(o.stdout.trim(), "1000:5", "exec -t: {o}");
}

/// A cwd only the runtime can enter (0700, another owner; the process is
/// uid 0 without CAP_DAC_OVERRIDE): chdir while still privileged.
#[test]
fn cwd_only_the_runtime_can_enter() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["pwd"]);
    let secret = b.rootfs().join("secret");
    fs::create_dir(&secret).unwrap();
    std::os::unix::fs::chown(&secret, Some(1000), Some(1000)).unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&secret, fs::Permissions::from_mode(0o700)).unwrap();
    b.config["process"]["cwd"] = json!("/secret");
    let o = rt.run_with(&b, &unique_id("cwd"), &[]).ok();
    assert_eq!(o.stdout.trim(), "/secret", "{o}");
    // exec --cwd into the same directory.
    b.set_args(&["sleep", "60"]);
    b.config["process"]["cwd"] = json!("/");
    let id = unique_id("cwdexec");
    rt.create_start(&b, &id);
    let o = rt.cmd(&["exec", "--cwd", "/secret", &id, "pwd"]).ok();
    assert_eq!(o.stdout.trim(), "/secret", "{o}");
}

/// A seccomp profile that blocks calls the runtime itself might make after
/// loading the filter (getcwd, ...) does not break start.
#[test]
fn seccomp_blocking_getcwd_does_not_break_start() {
    let rt = Runtime::new();
    for nnp in [false, true] {
        let mut b = Bundle::new(&["echo", "ok"]);
        b.config["process"]["noNewPrivileges"] = json!(nnp);
        b.config["process"]["cwd"] = json!("/tmp");
        b.config["linux"]["seccomp"] = json!({
            "defaultAction": "SCMP_ACT_ALLOW",
            "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
            "syscalls": [{"names": ["getcwd"], "action": "SCMP_ACT_ERRNO"}],
        });
        let o = rt.run_with(&b, &unique_id("scgetcwd"), &[]).ok();
        assert_eq!(o.stdout.trim(), "ok", "noNewPrivileges {nnp}: {o}");
    }
}

// ---------------------------------------------------------------------------
// Errors on broken bundles
// ---------------------------------------------------------------------------

/// An rlimit whose soft value is above the hard one: the message names the
/// rlimit's type.
#[test]
fn rlimit_soft_above_hard_names_the_type() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["rlimits"] = json!([{"type": "RLIMIT_NOFILE", "soft": 2048, "hard": 1024}]);
    let id = unique_id("rlim");
    let o = rt.create(&b, &id).fail();
    assert!(o.stderr.contains("RLIMIT_NOFILE"), "{o}");
    assert!(rt.state(&id).is_err(), "a container was left: {o}");
}

/// A memory limit too small for the container to start: the error says
/// the OOM killer stopped the init and names linux.resources.memory.limit.
#[test]
fn memory_limit_too_small_names_the_field() {
    if !hull_only("runc reports a bare EOF / signal: killed") {
        return;
    }
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    let id = unique_id("oom");
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    b.config["linux"]["resources"] = json!({"memory": {"limit": 4096}});
    let o = rt.create(&b, &id).fail();
    assert!(o.stderr.contains("linux.resources.memory.limit"), "{o}");
    assert!(o.stderr.contains("OOM"), "{o}");
    assert!(rt.state(&id).is_err(), "a container was left: {o}");
}

// ---------------------------------------------------------------------------
// Namespaces, rootfs and mounts
// ---------------------------------------------------------------------------

/// linux.mountLabel on a host without SELinux is ignored (said at --debug).
#[test]
fn mount_label_without_selinux_is_ignored() {
    if std::path::Path::new("/sys/fs/selinux/enforce").exists() {
        println!("SKIP: this host has SELinux; the label would be applied");
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["mountLabel"] = json!("system_u:object_r:container_file_t:s0:c1,c2");
    let id = unique_id("mlabel");
    let bp = b.path().to_string_lossy().to_string();
    b.save();
    rt.track(&id);
    let o = rt.cmd(&["--debug", "run", "--bundle", &bp, &id]).ok();
    if runtime_is_hull() {
        assert!(o.stderr.contains("mountLabel"), "{o}");
    }
}
/// A read-only /dev tmpfs followed by /dev/pts, /dev/shm, /dev/mqueue:
/// every mount point is made first, read-only applied last.
#[test]
fn read_only_dev_tmpfs_with_mounts_below() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&[
        "sh",
        "-c",
        "touch /dev/x 2>/dev/null && echo rw || echo ro; test -c /dev/null && test -d /dev/pts/ && echo ok",
    ]);
    for m in b.config["mounts"].as_array_mut().unwrap() {
        if m["destination"] == "/dev" {
            m["options"].as_array_mut().unwrap().push(json!("ro"));
        }
    }
    let o = rt.run_with(&b, &unique_id("rodev"), &[]).ok();
    assert_eq!(o.stdout, "ro\nok\n", "{o}");
}

/// No mount namespace in the config: the container shares the runtime's
/// mount namespace (a namespace not listed is inherited) and its root is
/// the rootfs, entered by chroot. Nothing is mounted into the shared
/// namespace (runc makes no mounts there either).
#[test]
fn no_mount_namespace_shares_the_runtimes() {
    if !hull_only("runc 1.1 does not chroot without a mount namespace") {
        return;
    }
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sh", "-c", "cat /marker; sleep 60"]);
    b.remove_namespace("mount");
    fs::write(b.rootfs().join("marker"), "in-rootfs\n").unwrap();
    // runc refuses masked and read-only paths without a mount namespace,
    // and hull a read-only root and sysctls too (they need one).
    b.config["linux"]["maskedPaths"] = json!([]);
    b.config["linux"]["readonlyPaths"] = json!([]);
    b.config["root"]["readonly"] = json!(false);
    b.config["linux"]["sysctl"] = json!({});
    let before = mounts_under(b.path());
    let id = unique_id("nomntns");
    rt.create_start(&b, &id);
    let pid = rt.pid(&id);
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/ns/mnt"))
            .unwrap()
            .to_string_lossy(),
        host_ns("mnt")
    );
    assert_eq!(
        fs::read_link(format!("/proc/{pid}/root")).unwrap(),
        fs::canonicalize(b.rootfs()).unwrap()
    );
    assert_eq!(
        mounts_under(b.path()),
        before,
        "mounts made in the host namespace"
    );
    // exec enters the same root.
    let o = rt.cmd(&["exec", &id, "cat", "/marker"]).ok();
    assert_eq!(o.stdout, "in-rootfs\n", "{o}");
    rt.delete_force(&id).ok();
}

/// User namespaces: a bundle (and a bind source) in a 0700 directory of the
/// host's root, which the container's mapped root cannot traverse, still
/// works: hull reaches them while it is still root on the host.
#[test]
fn user_namespace_with_bundle_the_mapped_root_cannot_traverse() {
    let private = TempDir::new("private");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(private.path(), fs::Permissions::from_mode(0o700)).unwrap();
    let src = private.path().join("data");
    fs::create_dir(&src).unwrap();
    fs::write(src.join("file"), "bound\n").unwrap();
    fs::set_permissions(&src, fs::Permissions::from_mode(0o755)).unwrap();
    let template = Bundle::new(&["sh", "-c", "cat /marker /data/file"]);
    // The bundle itself moves under the private directory.
    let dir = private.path().join("bundle");
    let o = std::process::Command::new("cp")
        .args([
            "-a",
            &template.path().to_string_lossy(),
            &dir.to_string_lossy(),
        ])
        .status()
        .unwrap();
    assert!(o.success());
    fs::write(dir.join("rootfs/marker"), "in-rootfs\n").unwrap();
    // The rootfs belongs to the host's root: the mount point is made here.
    fs::create_dir(dir.join("rootfs/data")).unwrap();
    let mut config = template.config.clone();
    config["linux"]["namespaces"]
        .as_array_mut()
        .unwrap()
        .push(json!({"type": "user"}));
    config["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    config["linux"]["gidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
    config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup" && m["type"] != "sysfs");
    config["mounts"].as_array_mut().unwrap().push(json!({
        "destination": "/data", "type": "bind",
        "source": src.to_string_lossy(), "options": ["rbind", "ro"],
    }));
    fs::write(
        dir.join("config.json"),
        serde_json::to_vec_pretty(&config).unwrap(),
    )
    .unwrap();
    let rt = Runtime::new();
    let id = unique_id("usernsprivate");
    rt.track(&id);
    let o = rt
        .cmd(&["run", "--bundle", &dir.to_string_lossy(), &id])
        .ok();
    assert_eq!(o.stdout, "in-rootfs\nbound\n", "{o}");
}
