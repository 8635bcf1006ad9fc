//! Every `linux.resources` section, `update`, `events` and the device
//! cgroup, on v1 (this host) and v2 (the VM). Every test name contains
//! "cgroup" so `make test-v2` runs them; fields a host cannot honour must
//! fail with an error naming the field.

use crate::common::*;
use serde_json::{Value, json};
use std::io::BufRead;
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

fn bundle(parent: &CgroupParent, id: &str, args: &[&str], resources: Value) -> Bundle {
    let mut b = Bundle::new(args);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(id));
    b.config["linux"]["resources"] = resources;
    b
}

/// A running `sleep 300` container with `resources`; returns its cgroup
/// path and the bundle (which must outlive the container).
fn running(rt: &Runtime, parent: &CgroupParent, id: &str, resources: Value) -> (String, Bundle) {
    let b = bundle(parent, id, &["sleep", "300"], resources);
    rt.create_start(&b, id);
    (parent.child(id), b)
}

/// `create` must fail, and its error must mention every `needle`.
fn create_fails(resources: Value, needles: &[&str]) -> String {
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("cgbad");
    let b = bundle(&parent, &id, &["true"], resources);
    let o = rt.create(&b, &id).fail();
    for n in needles {
        assert!(o.stderr.contains(n), "want {n:?} in the error: {o}");
    }
    assert!(
        cgroup_leftovers(&parent.child(&id)).is_empty(),
        "a failed create left its cgroup behind"
    );
    o.stderr
}

fn v1(ctrl: &str, path: &str, file: &str) -> String {
    read_trim(&cgroup_dir(ctrl, path).join(file))
}

fn v2(path: &str, file: &str) -> String {
    read_trim(&cgroup_dir("", path).join(file))
}

fn is_v1() -> bool {
    cgroup_version() == CgroupVersion::V1
}

#[test]
fn cgroup_memory_limit_swap_and_reservation() {
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgmem"));
    let (p, _b) = running(
        &rt,
        &parent,
        &id,
        json!({ "memory": { "limit": 67108864, "swap": 134217728, "reservation": 33554432 } }),
    );
    if is_v1() {
        assert_eq!(v1("memory", &p, "memory.limit_in_bytes"), "67108864");
        // v1: memsw is memory+swap.
        assert_eq!(v1("memory", &p, "memory.memsw.limit_in_bytes"), "134217728");
        assert_eq!(v1("memory", &p, "memory.soft_limit_in_bytes"), "33554432");
    } else {
        assert_eq!(v2(&p, "memory.max"), "67108864");
        // v2: swap.max is the swap alone.
        assert_eq!(v2(&p, "memory.swap.max"), "67108864");
        assert_eq!(v2(&p, "memory.low"), "33554432");
    }
}

#[test]
fn cgroup_memory_v1_only_fields() {
    let res = json!({ "memory": {
        "limit": 67108864, "swappiness": 10, "disableOOMKiller": true,
        "kernelTCP": 16777216, "useHierarchy": true
    }});
    if !is_v1() {
        create_fails(
            json!({ "memory": { "swappiness": 10 } }),
            &["linux.resources.memory.swappiness"],
        );
        create_fails(
            json!({ "memory": { "disableOOMKiller": true } }),
            &["linux.resources.memory.disableOOMKiller"],
        );
        create_fails(
            json!({ "memory": { "kernelTCP": 16777216 } }),
            &["linux.resources.memory.kernelTCP"],
        );
        return;
    }
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgmem1"));
    let (p, _b) = running(&rt, &parent, &id, res);
    assert_eq!(v1("memory", &p, "memory.swappiness"), "10");
    assert!(v1("memory", &p, "memory.oom_control").contains("oom_kill_disable 1"));
    assert_eq!(
        v1("memory", &p, "memory.kmem.tcp.limit_in_bytes"),
        "16777216"
    );
    assert_eq!(v1("memory", &p, "memory.use_hierarchy"), "1");
    create_fails(
        json!({ "memory": { "swappiness": 101 } }),
        &["linux.resources.memory.swappiness", "0-100"],
    );
}

#[test]
fn cgroup_memory_kernel_limit_is_refused_where_ignored() {
    // Linux 6.x ignores kernel memory limits (v1) and v2 never had them.
    create_fails(
        json!({ "memory": { "kernel": 67108864 } }),
        &["linux.resources.memory.kernel"],
    );
}

#[test]
fn cgroup_cpu_fields_and_quota_visible_inside() {
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgcpu"));
    let res = json!({ "cpu": {
        "shares": 512, "quota": 50000, "period": 100000, "burst": 10000,
        "idle": 0, "cpus": "0", "mems": "0"
    }});
    let mut b = bundle(&parent, &id, &[], res);
    let inside = if is_v1() {
        "/sys/fs/cgroup/cpu/cpu.cfs_quota_us"
    } else {
        "/sys/fs/cgroup/cpu.max"
    };
    b.set_args(&[
        "sh",
        "-c",
        &format!("cat {inside}; grep Cpus_allowed_list /proc/self/status"),
    ]);
    let out = rt.run_with(&b, &id, &[]).ok().stdout;
    let want = if is_v1() { "50000" } else { "50000 100000" };
    assert!(
        out.lines().any(|l| l == want),
        "quota not visible inside:\n{out}"
    );
    assert!(out.contains("Cpus_allowed_list:\t0"), "{out}");
    // And from the host, on a running container.
    let id = unique_id("cgcpu2");
    let res = json!({ "cpu": {
        "shares": 512, "quota": 50000, "period": 100000, "burst": 10000, "idle": 0, "cpus": "0", "mems": "0"
    }});
    let (p, _b) = running(&rt, &parent, &id, res);
    if is_v1() {
        assert_eq!(v1("cpu", &p, "cpu.shares"), "512");
        assert_eq!(v1("cpu", &p, "cpu.cfs_quota_us"), "50000");
        assert_eq!(v1("cpu", &p, "cpu.cfs_period_us"), "100000");
        assert_eq!(v1("cpu", &p, "cpu.cfs_burst_us"), "10000");
        assert_eq!(v1("cpu", &p, "cpu.idle"), "0");
        assert_eq!(v1("cpuset", &p, "cpuset.cpus"), "0");
        assert_eq!(v1("cpuset", &p, "cpuset.mems"), "0");
    } else {
        // shares 512 -> weight 1 + (510 * 9999) / 262142
        assert_eq!(v2(&p, "cpu.weight"), "20");
        assert_eq!(v2(&p, "cpu.max"), "50000 100000");
        assert_eq!(v2(&p, "cpu.max.burst"), "10000");
        assert_eq!(v2(&p, "cpu.idle"), "0");
        assert_eq!(v2(&p, "cpuset.cpus"), "0");
        assert_eq!(v2(&p, "cpuset.mems"), "0");
    }
}

#[test]
fn cgroup_cpu_realtime() {
    let res = json!({ "cpu": { "realtimePeriod": 500000, "realtimeRuntime": 0 } });
    if !is_v1() {
        create_fails(res, &["linux.resources.cpu.realtimePeriod", "cgroup v2"]);
        return;
    }
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgrt"));
    let (p, _b) = running(&rt, &parent, &id, res);
    assert_eq!(v1("cpu", &p, "cpu.rt_period_us"), "500000");
    assert_eq!(v1("cpu", &p, "cpu.rt_runtime_us"), "0");
}

#[test]
fn cgroup_pids_limit_stops_a_fork_loop() {
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgpids"));
    let script = "n=0; while [ $n -lt 40 ]; do sleep 30 & n=$((n+1)); done; echo started $n";
    let b = bundle(
        &parent,
        &id,
        &["sh", "-c", script],
        json!({ "pids": { "limit": 8 } }),
    );
    let o = rt.run_with(&b, &id, &[]);
    assert!(
        o.stderr.contains("can't fork") || o.stderr.contains("Resource temporarily unavailable"),
        "the fork loop was not stopped: {o}"
    );
}

#[test]
fn cgroup_blockio_weight() {
    let res = json!({ "blockIO": { "weight": 500 } });
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("cgbw");
    let b = bundle(&parent, &id, &["sleep", "300"], res.clone());
    let o = rt.create(&b, &id);
    let p = parent.child(&id);
    if is_v1() {
        let d = cgroup_dir("blkio", &p);
        if !d.join("blkio.weight").exists() && !d.join("blkio.bfq.weight").exists() {
            // This host's scheduler has no weights: a clear error.
            let o = o.fail();
            assert!(
                o.stderr.contains(
                    "linux.resources.blockIO.weight: blkio.weight is missing on this host (the I/O scheduler has no weights)"
                ),
                "{o}"
            );
            return;
        }
        o.ok();
        let file = if d.join("blkio.weight").exists() {
            "blkio.weight"
        } else {
            "blkio.bfq.weight"
        };
        assert_eq!(v1("blkio", &p, file), "500");
        return;
    }
    let o = o.ok();
    drop(o);
    let d = cgroup_dir("", &p);
    if d.join("io.bfq.weight").exists() {
        assert!(v2(&p, "io.bfq.weight").contains("500"));
    } else {
        // v1 weight 500 -> io.weight 1 + (490 * 9999) / 990
        assert_eq!(v2(&p, "io.weight"), "default 4950");
    }
}

/// "maj:min" of a real block device, if the machine has one.
fn block_device() -> Option<String> {
    let mut names: Vec<_> = std::fs::read_dir("/sys/block").ok()?.flatten().collect();
    names.sort_by_key(|e| e.file_name());
    names
        .iter()
        .filter(|e| {
            let n = e.file_name().to_string_lossy().to_string();
            !n.starts_with("loop") && !n.starts_with("ram")
        })
        .find_map(|e| std::fs::read_to_string(e.path().join("dev")).ok())
        .map(|s| s.trim().to_string())
}

#[test]
fn cgroup_blockio_throttle_and_leaf_weight() {
    let Some(dev) = block_device() else {
        eprintln!("SKIP cgroup_blockio_throttle: no block device on this machine");
        return;
    };
    let (maj, min) = dev.split_once(':').unwrap();
    let (maj, min): (i64, i64) = (maj.parse().unwrap(), min.parse().unwrap());
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgbt"));
    let (p, _b) = running(
        &rt,
        &parent,
        &id,
        json!({ "blockIO": {
            "throttleReadBpsDevice": [{ "major": maj, "minor": min, "rate": 1048576 }],
            "throttleWriteIOPSDevice": [{ "major": maj, "minor": min, "rate": 100 }]
        }}),
    );
    if is_v1() {
        assert_eq!(
            v1("blkio", &p, "blkio.throttle.read_bps_device"),
            format!("{dev} 1048576")
        );
        assert_eq!(
            v1("blkio", &p, "blkio.throttle.write_iops_device"),
            format!("{dev} 100")
        );
    } else {
        let io = v2(&p, "io.max");
        assert!(io.contains(&format!("{dev} rbps=1048576")), "{io}");
        assert!(io.contains("wiops=100"), "{io}");
    }
    create_fails(
        json!({ "blockIO": { "leafWeight": 300 } }),
        &["linux.resources.blockIO.leafWeight"],
    );
}

#[test]
fn cgroup_hugepage_limits() {
    let res = json!({ "hugepageLimits": [{ "pageSize": "2MB", "limit": 4194304 }] });
    if !std::path::Path::new("/sys/kernel/mm/hugepages/hugepages-2048kB").exists() {
        eprintln!("SKIP cgroup_hugepage_limits: no 2MB huge pages");
        return;
    }
    create_fails(
        json!({ "hugepageLimits": [{ "pageSize": "3XB", "limit": 1 }] }),
        &["/linux/resources/hugepageLimits/0/pageSize"],
    );
    if is_v1() {
        let hybrid_without_delegation = !std::path::Path::new("/sys/fs/cgroup/hugetlb").exists()
            && !std::fs::read_to_string("/sys/fs/cgroup/unified/cgroup.subtree_control")
                .unwrap_or_default()
                .contains("hugetlb");
        if hybrid_without_delegation {
            // hugetlb lives in the cgroup2 mount, which does not delegate it.
            create_fails(
                res,
                &["linux.resources.hugepageLimits", "cgroup.subtree_control"],
            );
            return;
        }
    }
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cghuge"));
    let (p, _b) = running(&rt, &parent, &id, res);
    if is_v1() && std::path::Path::new("/sys/fs/cgroup/hugetlb").exists() {
        assert_eq!(v1("hugetlb", &p, "hugetlb.2MB.limit_in_bytes"), "4194304");
    } else {
        let d = if is_v1() {
            PathBuf::from("/sys/fs/cgroup/unified").join(p.trim_start_matches('/'))
        } else {
            cgroup_dir("", &p)
        };
        assert_eq!(read_trim(&d.join("hugetlb.2MB.max")), "4194304");
        if d.join("hugetlb.2MB.rsvd.max").exists() {
            assert_eq!(read_trim(&d.join("hugetlb.2MB.rsvd.max")), "4194304");
        }
    }
}

#[test]
fn cgroup_network_and_rdma() {
    let res = json!({ "network": { "classID": 1048577, "priorities": [{ "name": "lo", "priority": 5 }] } });
    let net_cls = std::path::Path::new("/sys/fs/cgroup/net_cls").exists();
    if is_v1() && net_cls {
        let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgnet"));
        let (p, _b) = running(&rt, &parent, &id, res);
        assert_eq!(v1("net_cls", &p, "net_cls.classid"), "1048577");
    } else {
        create_fails(res, &["linux.resources.network"]);
    }
    // No RDMA hardware here or in the VM: the write is refused, naming the field.
    create_fails(
        json!({ "rdma": { "hull_no_such_hca": { "hcaHandles": 2 } } }),
        &["linux.resources.rdma"],
    );
}

#[test]
fn cgroup_unified_keys() {
    create_fails(
        json!({ "unified": { "../../memory.max": "1" } }),
        &["linux.resources.unified", "plain cgroup file name"],
    );
    create_fails(
        json!({ "unified": { "memory.nosuchfile": "1" } }),
        &["linux.resources.unified", "does not exist"],
    );
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cguni"));
    if is_v1() {
        // Hybrid: files of the cgroup2 mount can be set; v2 controllers cannot.
        create_fails(
            json!({ "unified": { "memory.high": "50000000" } }),
            &["linux.resources.unified", "cgroup v1"],
        );
        if !std::path::Path::new("/sys/fs/cgroup/unified").exists() {
            return;
        }
        let (p, _b) = running(
            &rt,
            &parent,
            &id,
            json!({ "unified": { "cgroup.max.descendants": "7" } }),
        );
        let d = PathBuf::from("/sys/fs/cgroup/unified").join(p.trim_start_matches('/'));
        assert_eq!(read_trim(&d.join("cgroup.max.descendants")), "7");
    } else {
        let (p, _b) = running(
            &rt,
            &parent,
            &id,
            json!({ "unified": { "memory.high": "50003968", "pids.max": "33" } }),
        );
        assert_eq!(v2(&p, "memory.high"), "50003968");
        assert_eq!(v2(&p, "pids.max"), "33");
    }
}

/// A container with /dev/mydev (char 1:11, /dev/kmsg) that writes to it.
fn device_write(allow: bool) -> Out {
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("cgdev");
    let mut rules = vec![json!({ "allow": false, "access": "rwm" })];
    if allow {
        rules.push(json!({ "allow": true, "type": "c", "major": 1, "minor": 11, "access": "w" }));
    }
    let mut b = bundle(
        &parent,
        &id,
        &[
            "sh",
            "-c",
            "echo hull-device-cgroup-test > /dev/mydev && echo written",
        ],
        json!({ "devices": rules }),
    );
    b.config["linux"]["devices"] = json!([{
        "path": "/dev/mydev", "type": "c", "major": 1, "minor": 11, "fileMode": 0o666
    }]);
    let o = rt.run_with(&b, &id, &[]);
    drop(rt);
    o
}

#[test]
fn cgroup_device_rules_block_and_allow() {
    let denied = device_write(false);
    assert!(!denied.stdout.contains("written"), "{denied}");
    assert!(
        denied.stderr.contains("Operation not permitted"),
        "{denied}"
    );
    let allowed = device_write(true);
    assert!(allowed.stdout.contains("written"), "{allowed}");
    // The defaults still hold: /dev/null, /dev/zero and friends work.
    let parent = CgroupParent::new();
    let rt = Runtime::new();
    let id = unique_id("cgdevd");
    let b = bundle(
        &parent,
        &id,
        &[
            "sh",
            "-c",
            "head -c 4 /dev/urandom > /dev/null && head -c 1 /dev/zero | wc -c",
        ],
        json!({ "devices": [{ "allow": false, "access": "rwm" }] }),
    );
    let out = rt.run_with(&b, &id, &[]).ok().stdout;
    assert_eq!(out.trim(), "1");
}

#[test]
fn cgroup_device_rules_written_to_v1_files() {
    if !is_v1() {
        return;
    }
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgdevl"));
    let (p, _b) = running(
        &rt,
        &parent,
        &id,
        json!({ "devices": [
            { "allow": false, "access": "rwm" },
            { "allow": true, "type": "c", "major": 10, "minor": 229, "access": "rw" }
        ]}),
    );
    let list = v1("devices", &p, "devices.list");
    for want in [
        "c 10:229 rw",
        "c 1:3 rwm",
        "c *:* m",
        "b *:* m",
        "c 136:* rwm",
    ] {
        assert!(
            list.lines().any(|l| l == want),
            "want {want:?} in devices.list:\n{list}"
        );
    }
    assert!(!list.contains("a *:* rwm"), "{list}");
}

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
    let o = rt.cmd(&["update", "--kernel-memory", "64m", &id]).fail();
    assert!(o.stderr.contains("linux.resources.memory.kernel"), "{o}");
    // The failed updates changed nothing that was recorded.
    assert_eq!(stats(&rt, &id)["data"]["pids"]["limit"], 30);
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
