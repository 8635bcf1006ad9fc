//! Every `linux.resources` section, `update`, `events` and the device
//! cgroup, on v1 (this host) and v2 (the VM). Every test name contains
//! "cgroup" so `make test-v2` runs them; fields a host cannot honour must
//! fail with an error naming the field.

use crate::common::*;
use serde_json::{Value, json};
use std::path::PathBuf;

pub(crate) fn bundle(parent: &CgroupParent, id: &str, args: &[&str], resources: Value) -> Bundle {
    let mut b = Bundle::new(args);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(id));
    b.config["linux"]["resources"] = resources;
    b
}

/// A running `sleep 300` container with `resources`; returns its cgroup
/// path and the bundle (which must outlive the container).
pub(crate) fn running(
    rt: &Runtime,
    parent: &CgroupParent,
    id: &str,
    resources: Value,
) -> (String, Bundle) {
    let b = bundle(parent, id, &["sleep", "300"], resources);
    rt.create_start(&b, id);
    (parent.child(id), b)
}

/// `create` must fail, and its error must mention every `needle`.
pub(crate) fn create_fails(resources: Value, needles: &[&str]) -> String {
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

pub(crate) fn v1(ctrl: &str, path: &str, file: &str) -> String {
    read_trim(&cgroup_dir(ctrl, path).join(file))
}

pub(crate) fn v2(path: &str, file: &str) -> String {
    read_trim(&cgroup_dir("", path).join(file))
}

pub(crate) fn is_v1() -> bool {
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
    // Accounting is hierarchical on v2, and on v1 since Linux 5.11.
    create_fails(
        json!({ "memory": { "useHierarchy": false } }),
        &["linux.resources.memory.useHierarchy"],
    );
    if !is_v1() {
        // true is what v2 always does: accepted.
        let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cguh"));
        let _b = running(
            &rt,
            &parent,
            &id,
            json!({ "memory": { "useHierarchy": true } }),
        );
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
fn cgroup_memory_kernel_limit_is_ignored_with_a_warning() {
    // Linux 6.x ignores kernel memory limits (v1) and v2 never had them:
    // hull ignores the field as runc 1.2 does, and says so.
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgkmem"));
    let b = bundle(
        &parent,
        &id,
        &["true"],
        json!({ "memory": { "kernel": 67108864 } }),
    );
    let o = rt.run_with(&b, &id, &[]).ok();
    assert!(o.stderr.contains("linux.resources.memory.kernel"), "{o}");
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
        // shares 512 -> weight 59 (docs/ARCHITECTURE.md, cgroups)
        assert_eq!(v2(&p, "cpu.weight"), "59");
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

/// A loop device over a 16 MiB file, for block I/O limits on a device the
/// test owns (the VM has no other block device). It is detached lazily:
/// `losetup -d` while this holds it open makes the kernel free it when the
/// handle closes, even if the test dies first.
struct LoopDevice {
    _handle: std::fs::File,
    _dir: TempDir,
    name: String,
    /// "maj:min"
    dev: String,
    major: i64,
    minor: i64,
}

impl LoopDevice {
    /// A new loop device, with its I/O scheduler set to `scheduler` if given.
    fn new(scheduler: Option<&str>) -> Result<LoopDevice, String> {
        if !std::path::Path::new("/dev/loop-control").exists() {
            // The VM's kernel has loop as a module, not loaded at boot.
            let st = std::process::Command::new("modprobe").arg("loop").status();
            if !std::path::Path::new("/dev/loop-control").exists() {
                return Err(format!(
                    "no /dev/loop-control, and modprobe loop did not provide it ({st:?})"
                ));
            }
        }
        let dir = TempDir::new("loop");
        let img = dir.path().join("disk.img");
        std::fs::File::create(&img)
            .and_then(|f| f.set_len(16 << 20))
            .map_err(|e| format!("create {}: {e}", img.display()))?;
        let o = std::process::Command::new("losetup")
            .args(["-f", "--show"])
            .arg(&img)
            .output()
            .map_err(|e| format!("run losetup: {e}"))?;
        if !o.status.success() {
            return Err(format!(
                "losetup -f --show cannot attach a loop device: {}",
                String::from_utf8_lossy(&o.stderr).trim()
            ));
        }
        let node = String::from_utf8_lossy(&o.stdout).trim().to_string();
        let handle = std::fs::File::open(&node).map_err(|e| format!("open {node}: {e}"));
        // Detach now: with our handle open this only marks it autoclear.
        let _ = std::process::Command::new("losetup")
            .args(["-d", &node])
            .status();
        let handle = handle?;
        let name = node.trim_start_matches("/dev/").to_string();
        let dev = read_trim(&PathBuf::from(format!("/sys/block/{name}/dev")));
        let (major, minor) = dev.split_once(':').unwrap();
        let (major, minor) = (major.parse().unwrap(), minor.parse().unwrap());
        let d = LoopDevice {
            _handle: handle,
            _dir: dir,
            name,
            dev,
            major,
            minor,
        };
        if let Some(s) = scheduler {
            let f = format!("/sys/block/{}/queue/scheduler", d.name);
            std::fs::write(&f, s).map_err(|e| {
                format!(
                    "write {s:?} to {f}: {e} (schedulers here: {})",
                    std::fs::read_to_string(&f).unwrap_or_default().trim()
                )
            })?;
            let now = read_trim(&PathBuf::from(&f));
            if !now.contains(&format!("[{s}]")) {
                return Err(format!("{f} is {now:?} after writing {s:?}"));
            }
        }
        Ok(d)
    }
}

#[test]
fn cgroup_blockio_weight_device_and_leaf_weight_device() {
    // leafWeight (per device too) was CFQ's; no kernel has it any more.
    let leaf =
        json!({ "blockIO": { "weightDevice": [{ "major": 7, "minor": 0, "leafWeight": 300 }] } });
    let e = create_fails(
        leaf,
        &["linux.resources.blockIO.weightDevice[0].leafWeight"],
    );
    assert!(
        e.contains("leaf weights") || e.contains("leaf_weight_device is missing"),
        "{e}"
    );
    // Per-device weights need a device whose scheduler has weights (bfq).
    let plain = match LoopDevice::new(Some("none")) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "SKIPPED: cgroup_blockio_weight_device_and_leaf_weight_device (weightDevice part): no loop device: {e}"
            );
            return;
        }
    };
    create_fails(
        json!({ "blockIO": { "weightDevice": [{ "major": plain.major, "minor": plain.minor, "weight": 300 }] } }),
        &[
            "linux.resources.blockIO.weightDevice[0].weight",
            &format!("bfq I/O scheduler, and device {} uses \"none\"", plain.dev),
        ],
    );
    let bfq = match LoopDevice::new(Some("bfq")) {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "SKIPPED: cgroup_blockio_weight_device_and_leaf_weight_device (a weight that takes): the kernel has no bfq scheduler: {e}"
            );
            return;
        }
    };
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgbwd"));
    let (p, _b) = running(
        &rt,
        &parent,
        &id,
        json!({ "blockIO": { "weight": 200, "weightDevice": [{ "major": bfq.major, "minor": bfq.minor, "weight": 300 }] } }),
    );
    let (file, default) = if is_v1() {
        let d = cgroup_dir("blkio", &p);
        (
            d.join("blkio.bfq.weight_device"),
            d.join("blkio.bfq.weight"),
        )
    } else {
        // With bfq loaded hull uses io.bfq.weight: default and device lines.
        let f = cgroup_dir("", &p).join("io.bfq.weight");
        (f.clone(), f)
    };
    let text = read_trim(&file);
    let want = format!("{} 300", bfq.dev);
    assert!(
        text.lines().any(|l| l == want),
        "want {want:?} in {}:\n{text}",
        file.display()
    );
    let d = read_trim(&default);
    assert!(
        d.lines().any(|l| l == "200" || l == "default 200"),
        "{}: {d}",
        default.display()
    );
}

/// Whole seconds of /proc/uptime pairs printed by the throttle script.
fn elapsed(out: &str) -> f64 {
    let v: Vec<f64> = out
        .split_whitespace()
        .map(|x| {
            x.parse()
                .unwrap_or_else(|e| panic!("{x:?}: {e} in {out:?}"))
        })
        .collect();
    assert_eq!(v.len(), 2, "{out:?}");
    v[1] - v[0]
}

#[test]
fn cgroup_blockio_throttle_and_leaf_weight() {
    let loopdev = LoopDevice::new(None);
    let dev = match &loopdev {
        Ok(d) => d,
        Err(e) => {
            eprintln!(
                "SKIPPED: cgroup_blockio_throttle_and_leaf_weight: no block device to throttle: {e}"
            );
            return;
        }
    };
    let (maj, min) = (dev.major, dev.minor);
    let (parent, rt, id) = (CgroupParent::new(), Runtime::new(), unique_id("cgbt"));
    let mut b = bundle(
        &parent,
        &id,
        &["sleep", "300"],
        json!({
            "blockIO": {
                "throttleReadBpsDevice": [{ "major": maj, "minor": min, "rate": 1048576 }],
                "throttleWriteBpsDevice": [{ "major": maj, "minor": min, "rate": 2097152 }],
                "throttleReadIOPSDevice": [{ "major": maj, "minor": min, "rate": 200 }],
                "throttleWriteIOPSDevice": [{ "major": maj, "minor": min, "rate": 100 }]
            },
            "devices": [{ "allow": true, "type": "b", "major": maj, "minor": min, "access": "r" }]
        }),
    );
    b.config["linux"]["devices"] = json!([{
        "path": "/dev/hullblk", "type": "b", "major": maj, "minor": min, "fileMode": 0o444
    }]);
    rt.create_start(&b, &id);
    let p = parent.child(&id);
    let d = &dev.dev;
    if is_v1() {
        for (file, rate) in [
            ("read_bps_device", 1048576),
            ("write_bps_device", 2097152),
            ("read_iops_device", 200),
            ("write_iops_device", 100),
        ] {
            assert_eq!(
                v1("blkio", &p, &format!("blkio.throttle.{file}")),
                format!("{d} {rate}")
            );
        }
    } else {
        let io = v2(&p, "io.max");
        assert_eq!(
            io,
            format!("{d} rbps=1048576 wbps=2097152 riops=200 wiops=100")
        );
    }
    // The effect: 4 MiB of direct reads at 1 MiB/s take about 3 s or
    // more (unthrottled, far below one second, even in the VM).
    let script = "read a x < /proc/uptime; \
        dd if=/dev/hullblk of=/dev/null bs=256k count=16 iflag=direct 2>/dev/null || exit 9; \
        read b x < /proc/uptime; echo $a $b";
    let o = rt.cmd(&["exec", &id, "sh", "-c", script]).ok();
    let secs = elapsed(&o.stdout);
    assert!(
        secs >= 2.0,
        "4 MiB read in {secs:.2} s despite a 1 MiB/s throttle"
    );
    eprintln!("cgroup_blockio_throttle: 4 MiB read at 1 MiB/s took {secs:.2} s");
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
