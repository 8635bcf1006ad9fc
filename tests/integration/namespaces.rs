//! Namespaces: new ones differ from the host's, joining by path, user,
//! time and uts namespaces, network devices.

use crate::common::*;
use serde_json::json;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

#[test]
fn namespaces_differ_from_host() {
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "for n in pid net ipc uts mnt cgroup; do echo $n $(readlink /proc/self/ns/$n); done",
        ],
    );
    let mut seen = 0;
    for line in out.lines() {
        let (ns, link) = line.split_once(' ').unwrap();
        assert!(link.starts_with(&format!("{ns}:[")), "bad ns link {line:?}");
        assert_ne!(link, host_ns(ns), "{ns} namespace is the host's");
        seen += 1;
    }
    assert_eq!(seen, 6, "output: {out}");
}

#[test]
fn namespace_not_requested_is_shared_with_host() {
    let mut b = Bundle::new(&[]);
    b.remove_namespace("ipc");
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["readlink", "/proc/self/ns/ipc"]);
    assert_eq!(out.trim(), host_ns("ipc"));
}

#[test]
fn init_is_pid_1() {
    let mut b = Bundle::new(&[]);
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["sh", "-c", "echo $$"]);
    assert_eq!(out.trim(), "1");
}

/// A `sleep` in a new network namespace, killed on drop.
struct NetnsHolder(Child);

impl NetnsHolder {
    fn new() -> NetnsHolder {
        let c = Command::new("unshare")
            .args(["--net", "sleep", "300"])
            .stdin(Stdio::null())
            .spawn()
            .expect("unshare");
        let h = NetnsHolder(c);
        // Wait until the exec'd sleep is in its own netns.
        let me = host_ns("net");
        for _ in 0..200 {
            let l = fs::read_link(h.ns_path())
                .ok()
                .map(|p| p.to_string_lossy().to_string());
            if l.is_some() && l.as_deref() != Some(me.as_str()) {
                return h;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!("unshare --net never entered a new netns");
    }
    fn ns_path(&self) -> String {
        format!("/proc/{}/ns/net", self.0.id())
    }
}

impl Drop for NetnsHolder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn join_existing_netns_by_path() {
    let holder = NetnsHolder::new();
    let ino = fs::metadata(holder.ns_path()).unwrap().ino();
    let mut b = Bundle::new(&[]);
    b.set_namespace("network", Some(&holder.ns_path()));
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["readlink", "/proc/self/ns/net"]);
    assert_eq!(out.trim(), format!("net:[{ino}]"));
}

#[test]
fn user_namespace_mappings() {
    let mut b = Bundle::new(&[]);
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] =
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.config["linux"]["gidMappings"] =
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &[
            "sh",
            "-c",
            "cat /proc/self/uid_map; cat /proc/self/gid_map; id -u; readlink /proc/self/ns/user",
        ],
    );
    let lines: Vec<Vec<&str>> = out
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert!(lines.len() >= 4, "output: {out}");
    assert_eq!(lines[0], ["0", "100000", "65536"], "uid_map: {out}");
    assert_eq!(lines[1], ["0", "100000", "65536"], "gid_map: {out}");
    assert_eq!(lines[2], ["0"], "id -u: {out}");
    assert_ne!(lines[3][0], host_ns("user"), "user ns is the host's");
}

#[test]
fn user_namespace_process_runs_as_mapped_host_uid() {
    let mut b = Bundle::new(&["sleep", "30"]);
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] =
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    b.config["linux"]["gidMappings"] =
        json!([{ "containerID": 0, "hostID": 100000, "size": 65536 }]);
    let rt = Runtime::new();
    let id = unique_id("userns");
    rt.run_with(&b, &id, &["-d"]).ok();
    let pid = rt.pid(&id);
    let st = fs::metadata(format!("/proc/{pid}")).unwrap();
    assert_eq!(st.uid(), 100000, "host uid of the container init");
    assert_eq!(st.gid(), 100000, "host gid of the container init");
}

const YEAR: u64 = 86400 * 365;

#[test]
fn time_namespace_offsets() {
    if !std::path::Path::new("/proc/self/ns/time").exists() {
        println!("SKIP: kernel has no time namespaces (/proc/self/ns/time missing)");
        return;
    }
    let mut b = Bundle::new(&[]);
    b.set_namespace("time", None);
    b.config["linux"]["timeOffsets"] = json!({
        "monotonic": { "secs": YEAR, "nanosecs": 0 },
        "boottime": { "secs": YEAR, "nanosecs": 0 }
    });
    let rt = Runtime::new();
    let id = unique_id("timens");
    b.set_args(&[
        "sh",
        "-c",
        "cat /proc/uptime; cat /proc/self/timens_offsets",
    ]);
    let o = rt.run_with(&b, &id, &[]);
    if !o.success() && !runtime_is_hull() {
        println!(
            "SKIP (HULL-ONLY): time namespaces -- {} rejected them (runc 1.1 lacks support): {}",
            runtime_bin().display(),
            o.stderr.trim()
        );
        return;
    }
    let o = o.ok();
    let host_up: f64 = fs::read_to_string("/proc/uptime")
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let inside_up: f64 = o.stdout.split_whitespace().next().unwrap().parse().unwrap();
    let diff = inside_up - host_up;
    assert!(
        (diff - YEAR as f64).abs() < 60.0,
        "uptime inside {inside_up} vs host {host_up}: diff {diff}, want ~{YEAR}"
    );
    assert!(
        o.stdout
            .lines()
            .any(|l| l.split_whitespace().collect::<Vec<_>>()
                == ["monotonic", &YEAR.to_string(), "0"]),
        "timens_offsets: {}",
        o.stdout
    );
}

#[test]
fn uts_hostname() {
    let mut b = Bundle::new(&[]);
    b.config["hostname"] = json!("box-one");
    let rt = Runtime::new();
    let out = rt.run_ok(
        &mut b,
        &["sh", "-c", "hostname; cat /proc/sys/kernel/hostname"],
    );
    assert_eq!(out, "box-one\nbox-one\n");
    assert_ne!(
        fs::read_to_string("/proc/sys/kernel/hostname")
            .unwrap()
            .trim(),
        "box-one"
    );
}

#[test]
fn uts_domainname() {
    let mut b = Bundle::new(&[]);
    b.config["hostname"] = json!("box-one");
    b.config["domainname"] = json!("example.test");
    let rt = Runtime::new();
    let out = rt.run_ok(&mut b, &["cat", "/proc/sys/kernel/domainname"]);
    if out.trim() != "example.test" && !runtime_is_hull() {
        println!(
            "SKIP (HULL-ONLY): domainname -- runc 1.1 ignores it (got {:?})",
            out.trim()
        );
        return;
    }
    assert_eq!(out.trim(), "example.test");
    assert_ne!(
        fs::read_to_string("/proc/sys/kernel/domainname")
            .unwrap()
            .trim(),
        "example.test"
    );
}

/// A host network device made for a test; deleted on drop if it is still
/// (or again) on the host.
struct HostLink {
    names: Vec<String>,
}

impl Drop for HostLink {
    fn drop(&mut self) {
        for n in &self.names {
            let _ = Command::new("ip")
                .args(["link", "del", n])
                .stderr(Stdio::null())
                .status();
        }
    }
}

fn link_exists(name: &str) -> bool {
    Command::new("ip")
        .args(["link", "show", name])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[test]
fn net_devices_moved_into_container() {
    if !hull_only("linux.netDevices (runc 1.1 does not support it)") {
        return;
    }
    let n = unique_id("x");
    let suffix: String = n.chars().rev().take(6).collect();
    let dev = format!("hull-d{suffix}");
    let mut link = HostLink {
        names: vec![dev.clone()],
    };
    // Prefer a dummy device; fall back to one end of a veth pair when the
    // kernel has no dummy driver.
    let dummy = Command::new("ip")
        .args(["link", "add", &dev, "type", "dummy"])
        .stderr(Stdio::null())
        .status()
        .unwrap();
    if !dummy.success() {
        let peer = format!("hull-p{suffix}");
        host(
            "ip",
            &["link", "add", &dev, "type", "veth", "peer", "name", &peer],
        );
        link.names.push(peer);
    }
    assert!(link_exists(&dev));
    let eth9_before = link_exists("eth9");

    let mut b = Bundle::new(&[]);
    b.config["linux"]["netDevices"] = json!({ dev.clone(): { "name": "eth9" } });
    let rt = Runtime::new();
    let id = unique_id("netdev");
    b.set_args(&["ip", "link", "show"]);
    let o = rt.run_with(&b, &id, &[]).ok();
    assert!(o.stdout.contains("eth9"), "eth9 not inside: {}", o.stdout);
    assert!(
        !o.stdout.contains(&dev),
        "device kept its host name inside: {}",
        o.stdout
    );
    if !eth9_before && link_exists("eth9") {
        // Returned to the host under the container name: remove it.
        let _ = Command::new("ip").args(["link", "del", "eth9"]).status();
    }
}

#[test]
fn loopback_is_up_in_a_new_network_namespace() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["cat", "/sys/class/net/lo/flags"]);
    let out = rt.run_ok(&mut b, &["cat", "/sys/class/net/lo/flags"]);
    let flags = u32::from_str_radix(out.trim().trim_start_matches("0x"), 16).unwrap();
    assert_eq!(flags & 1, 1, "lo is down (flags {out})");
}
