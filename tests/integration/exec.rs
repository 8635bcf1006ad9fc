//! `exec`: a process joins every namespace and the cgroup of a running
//! container, with the container's or the given user, env, cwd and caps.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::time::Duration;

fn running(rt: &Runtime) -> (Bundle, String) {
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("exec");
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    (b, id)
}

#[test]
fn exec_joins_every_namespace_of_the_container() {
    let rt = Runtime::new();
    let (_b, id) = running(&rt);
    let pid = rt.pid(&id);
    let out = rt
        .cmd(&[
            "exec",
            &id,
            "sh",
            "-c",
            "for n in pid net ipc uts mnt cgroup; do readlink /proc/self/ns/$n; done",
        ])
        .ok()
        .stdout;
    let inside: Vec<&str> = out.lines().collect();
    for (i, n) in ["pid", "net", "ipc", "uts", "mnt", "cgroup"]
        .iter()
        .enumerate()
    {
        let init = fs::read_link(format!("/proc/{pid}/ns/{n}")).unwrap();
        assert_eq!(
            inside[i],
            init.to_string_lossy(),
            "{n} namespace differs from the init's"
        );
    }
}

#[test]
fn exec_exit_code_propagates() {
    let rt = Runtime::new();
    let (_b, id) = running(&rt);
    let o = rt.cmd(&["exec", &id, "sh", "-c", "exit 7"]);
    assert_eq!(o.code, Some(7), "{o}");
}

#[test]
fn exec_runs_in_the_container_cgroup() {
    let rt = Runtime::new();
    let (_b, id) = running(&rt);
    let init_pid = rt.pid(&id);
    let pid = exec_detached_sleep(&rt, &id);
    let mine = fs::read_to_string(format!("/proc/{pid}/cgroup")).unwrap();
    let init = fs::read_to_string(format!("/proc/{init_pid}/cgroup")).unwrap();
    assert_eq!(
        mine, init,
        "exec'd process is not in the container's cgroup"
    );
}

#[test]
fn exec_flags_set_user_env_cwd() {
    let rt = Runtime::new();
    let (_b, id) = running(&rt);
    let out = rt
        .cmd(&[
            "exec",
            "-u",
            "1000:1001",
            "-g",
            "5",
            "-e",
            "FOO=bar",
            "--cwd",
            "/tmp",
            &id,
            "sh",
            "-c",
            "id -u; id -g; id -G; echo $FOO; pwd",
        ])
        .ok()
        .stdout;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "1000");
    assert_eq!(lines[1], "1001");
    assert!(
        lines[2].split(' ').any(|g| g == "5"),
        "additional gid missing: {out}"
    );
    assert_eq!(lines[3], "bar");
    assert_eq!(lines[4], "/tmp");
}

#[test]
fn exec_with_process_json() {
    let rt = Runtime::new();
    let (_b, id) = running(&rt);
    let tmp = TempDir::new("proc");
    let p = tmp.path().join("process.json");
    fs::write(
        &p,
        json!({
            "terminal": false, "user": {"uid": 2, "gid": 3}, "args": ["sh", "-c", "echo $X; id -u; grep NoNewPrivs /proc/self/status"],
            "env": ["PATH=/bin", "X=from-json"], "cwd": "/", "noNewPrivileges": true
        })
        .to_string(),
    )
    .unwrap();
    let out = rt
        .cmd(&["exec", "--process", p.to_str().unwrap(), &id])
        .ok()
        .stdout;
    assert!(out.contains("from-json"), "{out}");
    assert!(out.contains("\n2\n"), "{out}");
    assert!(out.contains("NoNewPrivs:\t1"), "{out}");
}

#[test]
fn exec_cap_flag_adds_a_capability() {
    let rt = Runtime::new();
    let (_b, id) = running(&rt);
    let out = rt
        .cmd(&[
            "exec",
            "--cap",
            "CAP_SYS_ADMIN",
            &id,
            "grep",
            "CapEff",
            "/proc/self/status",
        ])
        .ok()
        .stdout;
    let mask = u64::from_str_radix(out.split_whitespace().last().unwrap(), 16).unwrap();
    assert!(mask & (1 << 21) != 0, "CAP_SYS_ADMIN not effective: {out}");
    let out = rt
        .cmd(&["exec", &id, "grep", "CapEff", "/proc/self/status"])
        .ok()
        .stdout;
    let mask = u64::from_str_radix(out.split_whitespace().last().unwrap(), 16).unwrap();
    assert!(
        mask & (1 << 21) == 0,
        "CAP_SYS_ADMIN effective without --cap: {out}"
    );
}

#[test]
fn exec_into_stopped_or_unknown_container_fails() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    b.set_args(&["true"]);
    let id = unique_id("execstop");
    rt.run_with(&b, &id, &["--keep"]).ok();
    let o = rt.cmd(&["exec", &id, "true"]).fail();
    assert!(o.stderr.contains("stopped"), "{o}");
    rt.cmd(&["exec", "no-such-container", "true"]).fail();
}

#[test]
fn exec_missing_binary_fails_with_its_name() {
    let rt = Runtime::new();
    let (_b, id) = running(&rt);
    let o = rt.cmd(&["exec", &id, "/no/such/binary"]).fail();
    assert!(o.stderr.contains("/no/such/binary"), "{o}");
}

#[test]
fn exec_leaks_no_descriptor() {
    let rt = Runtime::new();
    let (_b, id) = running(&rt);
    let out = rt.cmd(&["exec", &id, "ls", "/proc/self/fd"]).ok().stdout;
    let fds: Vec<&str> = out.split_whitespace().collect();
    // 0,1,2 and the fd ls itself opens on the directory.
    assert!(
        fds.len() <= 4,
        "unexpected descriptors in the exec'd process: {fds:?}"
    );
}

#[test]
fn exec_into_a_container_with_its_own_user_namespace() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["sleep", "60"]);
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] =
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.config["linux"]["gidMappings"] =
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let id = unique_id("execuserns");
    rt.create_start(&b, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    let pid = rt.pid(&id);
    let out = rt
        .cmd(&[
            "exec",
            &id,
            "sh",
            "-c",
            "id -u; id -g; cat /proc/self/uid_map; readlink /proc/self/ns/user; \
             echo x > /dev/shm/f && stat -c %u:%g /dev/shm/f",
        ])
        .ok()
        .stdout;
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert!(lines.len() >= 5, "{out}");
    assert_eq!(lines[0], "0", "id -u: {out}");
    assert_eq!(lines[1], "0", "id -g: {out}");
    assert_eq!(
        lines[2].split_whitespace().collect::<Vec<_>>(),
        ["0", "100000", "65536"],
        "uid_map: {out}"
    );
    let init_ns = fs::read_link(format!("/proc/{pid}/ns/user")).unwrap();
    assert_eq!(lines[3], init_ns.to_string_lossy(), "user namespace: {out}");
    assert_eq!(
        lines[4], "0:0",
        "owner of a file made by the exec'd process: {out}"
    );
    // Seen from the host, an exec'd process runs as the mapped id.
    let exec_pid = exec_detached_sleep(&rt, &id);
    let st = fs::metadata(format!("/proc/{exec_pid}")).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        (st.uid(), st.gid()),
        (100000, 100000),
        "host ids of the exec'd process"
    );
}

/// `exec -d --pid-file F ID sleep 20`; returns the host pid from F.
fn exec_detached_sleep(rt: &Runtime, id: &str) -> i32 {
    let tmp = TempDir::new("pidfile");
    let pf = tmp.path().join("exec.pid");
    let o = rt
        .cmd(&[
            "exec",
            "-d",
            "--pid-file",
            pf.to_str().unwrap(),
            id,
            "sleep",
            "20",
        ])
        .ok();
    let text = fs::read_to_string(&pf).unwrap_or_default();
    text.trim()
        .parse()
        .unwrap_or_else(|_| panic!("pid file not written ({text:?}): {o}"))
}
