//! `features` is what hull does: every advertised item is tried in a real
//! container (HULL-ONLY: runc 1.1.5 advertises a smaller, older set).

use crate::common::*;
use serde_json::{Value, json};

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

fn run_ok(rt: &Runtime, b: &Bundle, what: &str) {
    let id = unique_id("feat");
    let o = rt.run_with(b, &id, &[]);
    assert!(o.success(), "advertised {what} does not work: {o}");
}

#[test]
fn features_every_advertised_item_works() {
    if !hull_only("features lists what hull implements") {
        return;
    }
    let rt = Runtime::new();
    let o = rt.cmd(&["features"]).ok();
    let f: Value = serde_json::from_str(&o.stdout).unwrap();
    let linux = &f["linux"];

    // Every namespace at once (a user namespace needs maps).
    let mut b = Bundle::new(&["true"]);
    for ns in strings(&linux["namespaces"]) {
        b.set_namespace(&ns, None);
    }
    let maps = json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.config["linux"]["uidMappings"] = maps.clone();
    b.config["linux"]["gidMappings"] = maps.clone();
    run_ok(&rt, &b, "namespaces");

    // Every capability, in every set (in a user namespace: the host may
    // lack some, e.g. CAP_SYS_RESOURCE here).
    let caps = strings(&linux["capabilities"]);
    let mut b = Bundle::new(&["sh", "-c", "grep CapEff /proc/self/status"]);
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] = maps.clone();
    b.config["linux"]["gidMappings"] = maps.clone();
    for set in [
        "bounding",
        "effective",
        "permitted",
        "inheritable",
        "ambient",
    ] {
        b.config["process"]["capabilities"][set] = json!(caps);
    }
    let out = rt.run_ok(&mut b, &["sh", "-c", "grep CapEff /proc/self/status"]);
    let eff = u64::from_str_radix(out.split_whitespace().last().unwrap(), 16).unwrap();
    assert_eq!(eff.count_ones() as usize, caps.len(), "{out}");

    // Every hook kind.
    let mut b = Bundle::new(&["true"]);
    for h in strings(&f["hooks"]) {
        b.config["hooks"][h.as_str()] = json!([{ "path": "/bin/true" }]);
    }
    run_ok(&rt, &b, "hooks");

    // Every mount option, each on its own mount.
    let src = TempDir::new("featsrc");
    let mut b = Bundle::new(&["true"]);
    for (i, opt) in strings(&f["mountOptions"]).iter().enumerate() {
        let dest = format!("/mnt/o{i}");
        let m = match opt.as_str() {
            "bind" | "rbind" => json!({"destination": dest, "type": "bind",
                "source": src.path(), "options": [opt]}),
            "idmap" | "ridmap" => json!({"destination": dest, "type": "bind",
                "source": src.path(), "options": ["rbind", opt],
                "uidMappings": maps, "gidMappings": maps}),
            // remount changes an existing mount: a bind made read-only.
            "remount" => json!({"destination": dest, "type": "bind",
                "source": src.path(), "options": ["bind", "remount", "ro"]}),
            _ => json!({"destination": dest, "type": "tmpfs", "source": "tmpfs",
                "options": [opt]}),
        };
        b.add_mount(m);
    }
    run_ok(&rt, &b, "mountOptions");

    // Every memory policy mode and flag.
    let mp = &linux["memoryPolicy"];
    for mode in strings(&mp["modes"]) {
        let mut b = Bundle::new(&["true"]);
        let nodes = !matches!(mode.as_str(), "MPOL_DEFAULT" | "MPOL_LOCAL");
        b.config["linux"]["memoryPolicy"] = if nodes {
            json!({"mode": mode, "nodes": "0"})
        } else {
            json!({"mode": mode})
        };
        run_ok(&rt, &b, &format!("memoryPolicy mode {mode}"));
    }
    for flag in strings(&mp["flags"]) {
        let mut b = Bundle::new(&["true"]);
        b.config["linux"]["memoryPolicy"] =
            json!({"mode": "MPOL_BIND", "nodes": "0", "flags": [flag]});
        run_ok(&rt, &b, &format!("memoryPolicy flag {flag}"));
    }

    // Seccomp: every action (but notify, which needs a listener) and
    // operator, on system calls `true` never makes.
    let sc = &linux["seccomp"];
    let mut syscalls = vec![];
    let unused = [
        "acct",
        "add_key",
        "bpf",
        "kexec_load",
        "quotactl",
        "swapon",
        "swapoff",
        "syslog",
    ];
    let actions: Vec<String> = strings(&sc["actions"])
        .into_iter()
        .filter(|a| a != "SCMP_ACT_NOTIFY")
        .collect();
    for (i, a) in actions.iter().enumerate() {
        syscalls.push(json!({"names": [unused[i % unused.len()]], "action": a}));
    }
    for (i, op) in strings(&sc["operators"]).iter().enumerate() {
        syscalls.push(json!({"names": ["personality"], "action": "SCMP_ACT_ERRNO",
            "args": [{"index": 0, "value": 0x1000 + i, "valueTwo": 0xffff, "op": op}]}));
    }
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["seccomp"] = json!({
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": strings(&sc["archs"]),
        "syscalls": syscalls,
    });
    run_ok(&rt, &b, "seccomp actions, operators and architectures");
    println!("SKIPPED: SCMP_ACT_NOTIFY (needs a listener; tests/integration/seccomp.rs covers it)");

    // rdma limits where the host has the controller.
    assert_eq!(linux["cgroup"]["rdma"], true, "{f}");
    let rdma_here = std::fs::read_to_string("/sys/fs/cgroup/cgroup.controllers")
        .is_ok_and(|c| c.split_whitespace().any(|c| c == "rdma"))
        || std::path::Path::new("/sys/fs/cgroup/rdma").exists();
    if rdma_here {
        let parent = CgroupParent::new();
        let id = unique_id("featrdma");
        let mut b = Bundle::new(&["true"]);
        b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
        b.config["linux"]["resources"] = json!({"rdma": {"mlx5_0": {"hcaHandles": 3}}});
        let o = rt.run_with(&b, &id, &[]);
        // Without such a device the kernel refuses the write: the error
        // must name the field.
        assert!(
            o.success() || o.stderr.contains("linux.resources.rdma"),
            "{o}"
        );
    } else {
        println!("SKIPPED: rdma limits: no rdma cgroup controller on this host");
    }

    // Intel RDT: used where resctrl is mounted, else refused (spec MUST).
    assert_eq!(linux["intelRdt"]["enabled"], true, "{f}");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["intelRdt"] = json!({"enableMonitoring": true});
    let id = unique_id("featrdt");
    let o = rt.run_with(&b, &id, &[]);
    let mounted = std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .contains(" - resctrl ");
    if mounted {
        assert!(o.success(), "intelRdt with resctrl mounted: {o}");
    } else {
        assert!(!o.success() && o.stderr.contains("linux.intelRdt"), "{o}");
        assert!(o.stderr.contains("resctrl"), "{o}");
        assert!(rt.state(&id).is_err(), "a refused create left its state");
    }
    // update's RDT flags need a container created with linux.intelRdt.
    let b = Bundle::new(&["sleep", "60"]);
    let id = unique_id("featupd");
    rt.create_start(&b, &id);
    let o = rt
        .cmd(&["update", "--l3-cache-schema", "L3:0=f", &id])
        .fail();
    assert!(o.stderr.contains("linux.intelRdt"), "{o}");
    let o = rt
        .cmd(&["update", "--mem-bw-schema", "MB:0=50", &id])
        .fail();
    assert!(o.stderr.contains("linux.intelRdt"), "{o}");
}
