//! `update`, `events` and `pause`/`resume` of a running container's
//! cgroup, on v1 (this host) and v2 (the VM). Every test name contains
//! "cgroup" so `make test-v2` runs them.

use super::cgroup_resources::{bundle, is_v1, running, v1, v2};
use crate::common::*;
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

#[test]
fn cgroup_update_changes_live_limits() {
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgupd"));
    let (p, _b) = running(
        &rt,
        &parent,
        &id,
        json!({ "memory": { "limit": 67108864 }, "pids": { "limit": 50 }, "cpu": { "quota": 50000, "period": 100000 } }),
    );
    rt.cmd(&[
        "update",
        "--memory",
        "128m",
        "--pids-limit",
        "20",
        "--cpu-quota",
        "20000",
        &id,
    ])
    .ok();
    if is_v1() {
        assert_eq!(v1("memory", &p, "memory.limit_in_bytes"), "134217728");
        assert_eq!(v1("pids", &p, "pids.max"), "20");
        assert_eq!(v1("cpu", &p, "cpu.cfs_quota_us"), "20000");
    } else {
        assert_eq!(v2(&p, "memory.max"), "134217728");
        assert_eq!(v2(&p, "pids.max"), "20");
        assert_eq!(v2(&p, "cpu.max"), "20000 100000");
    }
    // -r -: a LinuxResources document on stdin.
    let mut cmd = rt.command(&["update", "-r", "-", &id]);
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(br#"{"pids": {"limit": 30}, "cpu": {"period": 200000}}"#)
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    if is_v1() {
        assert_eq!(v1("pids", &p, "pids.max"), "30");
        assert_eq!(v1("cpu", &p, "cpu.cfs_period_us"), "200000");
        assert_eq!(v1("cpu", &p, "cpu.cfs_quota_us"), "20000");
    } else {
        assert_eq!(v2(&p, "pids.max"), "30");
        assert_eq!(v2(&p, "cpu.max"), "20000 200000");
    }
    // The recorded limits are what stats report.
    let s = stats(&rt, &id);
    assert_eq!(s["data"]["pids"]["limit"], 30, "{s}");
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    // Invalid updates are refused with the same validation as create.
    let o = rt
        .cmd(&["update", "--memory", "64m", "--memory-swap", "32m", &id])
        .fail();
    assert!(o.stderr.contains("linux.resources.memory.swap"), "{o}");
    let o = rt.cmd(&["update", "--memory", "lots", &id]).fail();
    assert!(o.stderr.contains("--memory"), "{o}");
    let o = rt.cmd(&["update", "--kernel-memory", "64m", &id]).ok();
    assert!(o.stderr.contains("linux.resources.memory.kernel"), "{o}");
    // A section that is not an object, with a flag to lay over it (found
    // by the update_resources fuzz target: this used to panic).
    let dir = TempDir::new("cgupd-r");
    let file = dir.path().join("resources.json");
    std::fs::write(&file, r#"{"memory": 5, "pids": {"limit": 10}}"#).unwrap();
    let o = rt
        .cmd(&[
            "update",
            "-r",
            file.to_str().unwrap(),
            "--memory",
            "64m",
            &id,
        ])
        .fail();
    assert!(o.stderr.contains("memory must be an object"), "{o}");
    // CPU lists are checked before anything is written.
    let o = rt
        .cmd(&["update", "--pids-limit", "10", "--cpuset-cpus", "3-1", &id])
        .fail();
    assert!(o.stderr.contains("--cpuset-cpus"), "{o}");
    std::fs::write(&file, r#"{"pids": {"limit": 10}, "cpu": {"mems": "0-x"}}"#).unwrap();
    let o = rt
        .cmd(&["update", "-r", file.to_str().unwrap(), &id])
        .fail();
    assert!(o.stderr.contains("linux.resources.cpu.mems"), "{o}");
    if is_v1() {
        assert_eq!(v1("pids", &p, "pids.max"), "30");
    } else {
        assert_eq!(v2(&p, "pids.max"), "30");
    }
    // The failed updates changed nothing that was recorded.
    assert_eq!(stats(&rt, &id)["data"]["pids"]["limit"], 30);
}

#[test]
fn cgroup_memory_check_before_update_refuses_a_limit_below_usage() {
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgcbu"));
    let (p, _b) = running(
        &rt,
        &parent,
        &id,
        json!({ "memory": { "limit": 268435456, "checkBeforeUpdate": true } }),
    );
    let (limit_file, usage_file) = if is_v1() {
        (
            cgroup_dir("memory", &p).join("memory.limit_in_bytes"),
            cgroup_dir("memory", &p).join("memory.usage_in_bytes"),
        )
    } else {
        (
            cgroup_dir("", &p).join("memory.max"),
            cgroup_dir("", &p).join("memory.current"),
        )
    };
    // 24 MiB of tmpfs pages, charged to the container and kept there.
    rt.cmd(&[
        "exec",
        &id,
        "sh",
        "-c",
        "head -c 25165824 /dev/zero > /dev/shm/fill",
    ])
    .ok();
    let usage: u64 = read_trim(&usage_file).parse().unwrap();
    assert!(usage >= 24 << 20, "usage {usage} after filling /dev/shm");
    let o = rt.cmd(&["update", "--memory", "16m", &id]).fail();
    for want in [
        "linux.resources.memory.limit",
        "16777216 is below the current usage",
        "checkBeforeUpdate",
    ] {
        assert!(o.stderr.contains(want), "want {want:?}: {o}");
    }
    assert_eq!(
        read_trim(&limit_file),
        "268435456",
        "the refused limit was written"
    );
    assert_eq!(
        stats(&rt, &id)["data"]["memory"]["usage"]["limit"],
        268435456u64,
        "the refused limit was recorded"
    );
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
    // The same through -r, and a limit above the usage is taken.
    let r = TempDir::new("cbu");
    let doc = r.path().join("r.json");
    std::fs::write(&doc, r#"{"memory": {"limit": 8388608}}"#).unwrap();
    let o = rt.cmd(&["update", "-r", doc.to_str().unwrap(), &id]).fail();
    assert!(o.stderr.contains("checkBeforeUpdate"), "{o}");
    rt.cmd(&["update", "--memory", "64m", &id]).ok();
    assert_eq!(read_trim(&limit_file), "67108864");
    // checkBeforeUpdate false: the runtime does not look at the usage (v1:
    // the kernel refuses itself, as it cannot reclaim tmpfs pages without
    // swap; v2 would invoke the OOM killer, so it is not tried there).
    if is_v1() && read_trim(&PathBuf::from("/proc/swaps")).lines().count() <= 1 {
        std::fs::write(
            &doc,
            r#"{"memory": {"limit": 8388608, "checkBeforeUpdate": false}}"#,
        )
        .unwrap();
        let o = rt.cmd(&["update", "-r", doc.to_str().unwrap(), &id]).fail();
        assert!(!o.stderr.contains("checkBeforeUpdate"), "{o}");
        assert!(o.stderr.contains("linux.resources.memory.limit"), "{o}");
    }
}

fn stats(rt: &Runtime, id: &str) -> Value {
    let o = rt.cmd(&["events", "--stats", id]).ok();
    serde_json::from_str(o.stdout.trim()).unwrap_or_else(|e| panic!("not JSON ({e}): {o}"))
}

#[test]
fn cgroup_events_stats_shape() {
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgstat"));
    running(
        &rt,
        &parent,
        &id,
        json!({ "memory": { "limit": 67108864 }, "pids": { "limit": 40 } }),
    );
    let s = stats(&rt, &id);
    assert_eq!(s["type"], "stats");
    assert_eq!(s["id"], id.as_str());
    let d = &s["data"];
    assert!(d["cpu"]["usage"]["total"].as_u64().unwrap() > 0, "{s}");
    assert!(d["cpu"]["usage"]["user"].is_u64(), "{s}");
    assert!(d["cpu"]["usage"]["kernel"].is_u64(), "{s}");
    assert!(d["cpu"]["usage"]["percpu"].is_array(), "{s}");
    assert!(d["cpu"]["throttling"]["periods"].is_u64(), "{s}");
    assert!(d["memory"]["usage"]["usage"].as_u64().unwrap() > 0, "{s}");
    assert_eq!(d["memory"]["usage"]["limit"], 67108864, "{s}");
    assert!(d["memory"]["raw"].is_object(), "{s}");
    assert!(d["memory"]["swap"].is_object(), "{s}");
    assert!(d["pids"]["current"].as_u64().unwrap() >= 1, "{s}");
    assert_eq!(d["pids"]["limit"], 40, "{s}");
    assert!(d["blkio"].is_object() && d["hugetlb"].is_object(), "{s}");
    // A stopped container has no stats.
    rt.kill(&id, "KILL").ok();
    rt.wait_for_status(&id, "stopped", Duration::from_secs(10));
    rt.cmd(&["events", "--stats", &id]).fail();
}

/// `hull events` running in the background, its lines on a channel.
struct Events {
    child: Child,
    lines: mpsc::Receiver<String>,
}

impl Events {
    fn spawn(rt: &Runtime, args: &[&str]) -> Events {
        let mut cmd = rt.command(args);
        cmd.stdout(Stdio::piped())
            .stderr(Stdio::null())
            .stdin(Stdio::null());
        let mut child = cmd.spawn().unwrap();
        let out = child.stdout.take().unwrap();
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(l).is_err() {
                    break;
                }
            }
        });
        Events { child, lines }
    }

    /// The next line matching `pred` within `timeout`.
    fn wait_for(&self, timeout: Duration, pred: impl Fn(&Value) -> bool) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            let l = self.lines.recv_timeout(left).ok()?;
            let v: Value = serde_json::from_str(&l).unwrap_or_else(|e| panic!("{e}: {l}"));
            if pred(&v) {
                return Some(v);
            }
        }
        None
    }

    fn exited_within(&mut self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if self.child.try_wait().unwrap().is_some() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }
}

impl Drop for Events {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn cgroup_memory_limit_oom_kills_and_reports_an_event() {
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgoom"));
    let (p, _b) = running(
        &rt,
        &parent,
        &id,
        json!({ "memory": { "limit": 33554432 } }),
    );
    let ev = Events::spawn(&rt, &["events", "--interval", "1h", &id]);
    // The first stats line shows events is watching.
    ev.wait_for(Duration::from_secs(20), |v| v["type"] == "stats")
        .expect("no stats event");
    let o = rt.cmd(&["exec", &id, "tail", "/dev/zero"]);
    assert_eq!(o.code, Some(137), "tail was not OOM-killed: {o}");
    let oom = ev
        .wait_for(Duration::from_secs(20), |v| v["type"] == "oom")
        .expect("no oom event");
    assert_eq!(oom["id"], id.as_str());
    let kills = if is_v1() {
        v1("memory", &p, "memory.oom_control")
    } else {
        v2(&p, "memory.events")
    };
    assert!(kills.contains("oom_kill 1"), "{kills}");
}

#[test]
fn cgroup_events_interval_stops_with_the_container() {
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgevi"));
    let _b = running(&rt, &parent, &id, json!({ "pids": { "limit": 20 } }));
    let mut ev = Events::spawn(&rt, &["events", "--interval", "200ms", &id]);
    for _ in 0..2 {
        let s = ev
            .wait_for(Duration::from_secs(20), |v| v["type"] == "stats")
            .expect("no stats event");
        assert_eq!(s["data"]["pids"]["limit"], 20, "{s}");
    }
    rt.kill(&id, "KILL").ok();
    assert!(
        ev.exited_within(Duration::from_secs(15)),
        "events kept running after the container stopped"
    );
}

#[test]
fn cgroup_pause_freezes_a_busy_loop_and_resume_thaws_it() {
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgpause"));
    let b = bundle(
        &parent,
        &id,
        &["sh", "-c", "while :; do :; done"],
        json!({ "pids": { "limit": 20 } }),
    );
    rt.create_start(&b, &id);
    let usage = |rt: &Runtime| {
        stats(rt, &id)["data"]["cpu"]["usage"]["total"]
            .as_u64()
            .unwrap()
    };
    rt.cmd(&["pause", &id]).ok();
    assert_eq!(rt.status(&id).as_deref(), Some("paused"));
    let frozen = usage(&rt);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(usage(&rt), frozen, "the loop ran while paused");
    rt.cmd(&["resume", &id]).ok();
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        usage(&rt) > frozen,
        "the loop did not run again after resume"
    );
    // delete --force of a paused container removes everything.
    rt.cmd(&["pause", &id]).ok();
    rt.delete_force(&id).ok();
    let left = cgroup_leftovers(&parent.child(&id));
    assert!(left.is_empty(), "left after delete --force: {left:?}");
}
