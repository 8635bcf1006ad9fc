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

// ---------------------------------------------------------------------------
// Joining another container's user namespace (pods: a second container
// joins the first one's namespaces by /proc/PID/ns/... paths)
// ---------------------------------------------------------------------------

const POD_MAP: &str = "0 100000 65536";

fn id_maps(first: u64, size: u64) -> serde_json::Value {
    json!([{ "containerID": 0, "hostID": first, "size": size }])
}

/// readlink /proc/PID/ns/KIND from the host.
fn ns_of(pid: i32, kind: &str) -> String {
    fs::read_link(format!("/proc/{pid}/ns/{kind}"))
        .unwrap_or_else(|e| panic!("readlink /proc/{pid}/ns/{kind}: {e}"))
        .to_string_lossy()
        .to_string()
}

/// A map file's lines with the whitespace normalised ("0 100000 65536").
fn map_lines(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Container A of a pod: a new user namespace (0 -> 100000, 65536 ids)
/// and new pid/net/ipc/uts/mount/cgroup namespaces, running `sleep`, in
/// the cgroup `parent/<id>`. Returns its bundle, id and host pid.
fn pod_holder(rt: &Runtime, parent: &CgroupParent) -> (Bundle, String, i32) {
    let mut a = Bundle::new(&["sleep", "120"]);
    let id = unique_id("pod-a");
    a.set_namespace("user", None);
    a.config["linux"]["uidMappings"] = id_maps(100000, 65536);
    a.config["linux"]["gidMappings"] = id_maps(100000, 65536);
    a.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    a.config["hostname"] = json!("pod-a");
    rt.create_start(&a, &id);
    rt.wait_for_status(&id, "running", Duration::from_secs(10));
    let pid = rt.pid(&id);
    assert_eq!(
        map_lines(&fs::read_to_string(format!("/proc/{pid}/uid_map")).unwrap()),
        [POD_MAP],
        "container A's uid_map"
    );
    (a, id, pid)
}

/// Container B of the pod: joins A's namespaces of `kinds` by path (the
/// OCI type names), the rest new; its cgroup is `parent/<id>`.
fn pod_member(parent: &CgroupParent, a_pid: i32, kinds: &[&str], script: &str) -> (Bundle, String) {
    let mut b = Bundle::new(&["sh", "-c", script]);
    let id = unique_id("pod-b");
    for kind in kinds {
        let proc_name = match *kind {
            "network" => "net",
            "mount" => "mnt",
            k => k,
        };
        b.set_namespace(kind, Some(&format!("/proc/{a_pid}/ns/{proc_name}")));
    }
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    (b, id)
}

/// Stops and deletes A, then checks that neither container left anything:
/// state dirs, cgroups, mounts of the bundles, processes.
fn pod_teardown(rt: &Runtime, parent: &CgroupParent, a: (&Bundle, &str, i32), b: (&Bundle, &str)) {
    let (a_bundle, a_id, a_pid) = a;
    rt.kill(a_id, "KILL").ok();
    rt.wait_for_status(a_id, "stopped", Duration::from_secs(10));
    rt.delete(a_id).ok();
    assert!(
        wait_pid_gone(a_pid, Duration::from_secs(5)),
        "A's init {a_pid} is still there"
    );
    let (b_bundle, b_id) = b;
    for (id, bundle) in [(a_id, a_bundle), (b_id, b_bundle)] {
        assert!(!rt.root().join(id).exists(), "state dir of {id} left");
        let left = cgroup_leftovers(&parent.child(id));
        assert!(left.is_empty(), "cgroup of {id} left: {left:?}");
        let m = mountinfo_mentioning(&bundle.path().to_string_lossy());
        assert!(m.is_empty(), "mounts of {id} left: {m:#?}");
    }
    let ents: Vec<_> = fs::read_dir(rt.root())
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(ents.is_empty(), "--root holds {ents:?}");
}

/// What B prints about itself: maps, ids, namespaces, and the owner of
/// files its rootfs set-up and its process made (/dev/pts, /dev/shm).
const POD_SCRIPT: &str = "cat /proc/self/uid_map; echo --; cat /proc/self/gid_map; echo --; \
    id -u; id -g; for n in user net ipc uts pid; do readlink /proc/self/ns/$n; done; \
    stat -c %u:%g /dev/pts/ptmx; stat -c %t:%T /dev/null; grep -c ' /dev/pts devpts ' /proc/self/mounts; \
    echo x > /dev/shm/f && stat -c %u:%g /dev/shm/f; hostname; cat /proc/1/cmdline | tr '\\0' ' '; echo";

struct PodOut {
    uid_map: Vec<String>,
    gid_map: Vec<String>,
    rest: Vec<String>,
}

fn parse_pod_out(out: &str) -> PodOut {
    let mut parts = out.splitn(3, "--\n");
    let uid_map = map_lines(parts.next().unwrap_or(""));
    let gid_map = map_lines(parts.next().unwrap_or(""));
    let rest: Vec<String> = parts
        .next()
        .unwrap_or("")
        .lines()
        .map(|l| l.trim().to_string())
        .collect();
    assert!(rest.len() >= 13, "short output from B: {out}");
    PodOut {
        uid_map,
        gid_map,
        rest,
    }
}

#[test]
fn join_user_namespace_of_another_container() {
    let mut rt = Runtime::new();
    if runtime_is_hull() {
        rt.global = vec!["--debug".into()];
    }
    let parent = CgroupParent::new();
    let (a, a_id, a_pid) = pod_holder(&rt, &parent);
    let (mut b, b_id) = pod_member(&parent, a_pid, &["user"], POD_SCRIPT);
    // Engines (CRI-O, containerd, podman) pass the joined namespace's
    // mappings along with its path: accepted, never written.
    b.config["linux"]["uidMappings"] = id_maps(100000, 65536);
    b.config["linux"]["gidMappings"] = id_maps(100000, 65536);
    let o = rt.run_with(&b, &b_id, &[]).ok();
    let p = parse_pod_out(&o.stdout);
    assert_eq!(p.uid_map, [POD_MAP], "B's uid_map: {o}");
    assert_eq!(p.gid_map, [POD_MAP], "B's gid_map: {o}");
    let r = &p.rest;
    assert_eq!(r[0], "0", "id -u in B: {o}");
    assert_eq!(r[1], "0", "id -g in B: {o}");
    assert_eq!(
        r[2],
        ns_of(a_pid, "user"),
        "B's user namespace is not A's: {o}"
    );
    // Only the user namespace is shared: the others are B's own.
    for (i, n) in ["net", "ipc", "uts", "pid"].iter().enumerate() {
        assert_ne!(r[3 + i], ns_of(a_pid, n), "B shares A's {n} namespace: {o}");
        assert_ne!(r[3 + i], host_ns(n), "B has the host's {n} namespace: {o}");
    }
    // Rootfs set-up made /dev/pts and the /dev nodes as root of the
    // joined namespace (an unmapped owner would read 65534, or fail).
    assert_eq!(r[7], "0:0", "owner of /dev/pts/ptmx in B: {o}");
    assert_eq!(r[8], "1:3", "/dev/null in B (major:minor, hex): {o}");
    assert_eq!(r[9], "1", "devpts mounts on /dev/pts in B: {o}");
    assert_eq!(r[10], "0:0", "owner of a file B made in /dev/shm: {o}");
    assert_eq!(r[11], "hull-test", "B's own hostname: {o}");
    if runtime_is_hull() {
        assert!(
            o.stderr
                .contains("become root in the joined user namespace"),
            "no trace of the uid change: {o}"
        );
        assert!(
            !o.stderr.contains("wrote uid_map"),
            "hull wrote id maps for a joined user namespace: {o}"
        );
    }
    pod_teardown(&rt, &parent, (&a, &a_id, a_pid), (&b, &b_id));
}

#[test]
fn join_user_and_other_namespaces_of_another_container() {
    let rt = Runtime::new();
    let parent = CgroupParent::new();
    let (a, a_id, a_pid) = pod_holder(&rt, &parent);
    // The other namespaces belong to A's user namespace: joining them
    // needs CAP_SYS_ADMIN there, so the user namespace is joined first
    // whatever the order in the config (it is listed last here).
    let (mut b, b_id) = pod_member(
        &parent,
        a_pid,
        &["network", "ipc", "uts", "pid", "user"],
        POD_SCRIPT,
    );
    // A joined uts namespace keeps A's hostname: B sets none.
    b.config.as_object_mut().unwrap().remove("hostname");
    let o = rt.run_with(&b, &b_id, &[]).ok();
    let p = parse_pod_out(&o.stdout);
    assert_eq!(p.uid_map, [POD_MAP], "B's uid_map: {o}");
    assert_eq!(p.gid_map, [POD_MAP], "B's gid_map: {o}");
    let r = &p.rest;
    assert_eq!(r[0], "0", "id -u in B: {o}");
    for (i, n) in ["user", "net", "ipc", "uts", "pid"].iter().enumerate() {
        assert_eq!(
            r[2 + i],
            ns_of(a_pid, n),
            "B's {n} namespace is not A's: {o}"
        );
    }
    assert_eq!(r[7], "0:0", "owner of /dev/pts/ptmx in B: {o}");
    assert_eq!(r[9], "1", "devpts mounts on /dev/pts in B: {o}");
    assert_eq!(r[10], "0:0", "owner of a file B made in /dev/shm: {o}");
    assert_eq!(r[11], "pod-a", "hostname in A's uts namespace: {o}");
    // In A's pid namespace, pid 1 is A's sleep.
    assert_eq!(r[12], "sleep 120", "pid 1 as B sees it: {o}");
    // A is untouched.
    assert_eq!(rt.status(&a_id).as_deref(), Some("running"));
    pod_teardown(&rt, &parent, (&a, &a_id, a_pid), (&b, &b_id));
}

#[test]
fn joined_user_namespace_keeps_its_own_maps() {
    if !hull_only("mappings that differ from a joined user namespace's are ignored") {
        return;
    }
    let rt = Runtime::new();
    let parent = CgroupParent::new();
    let (a, a_id, a_pid) = pod_holder(&rt, &parent);
    let (mut b, b_id) = pod_member(&parent, a_pid, &["user"], POD_SCRIPT);
    // Mappings that differ from the joined namespace's (podman passes a
    // dummy "0 0 1"): ignored, with a warning from `hull check`.
    b.config["linux"]["uidMappings"] = id_maps(0, 1);
    b.config["linux"]["gidMappings"] = id_maps(200000, 65536);
    b.save();
    let bp = b.path().to_string_lossy().to_string();
    let c = rt.cmd(&["check", "--bundle", &bp]);
    assert_eq!(c.code, Some(0), "warnings only: {c}");
    for (ptr, file) in [
        ("/linux/uidMappings", "uid_map"),
        ("/linux/gidMappings", "gid_map"),
    ] {
        assert!(
            c.stdout
                .lines()
                .any(|l| l.starts_with(&format!("warning: {ptr}: "))
                    && l.contains(&format!("keeps its own {file} ({POD_MAP})"))),
            "no warning about {ptr}: {c}"
        );
    }
    let o = rt.run_with(&b, &b_id, &[]).ok();
    let p = parse_pod_out(&o.stdout);
    assert_eq!(p.uid_map, [POD_MAP], "B's uid_map: {o}");
    assert_eq!(p.gid_map, [POD_MAP], "B's gid_map: {o}");
    assert_eq!(p.rest[0], "0", "id -u in B: {o}");
    assert_eq!(p.rest[7], "0:0", "owner of /dev/pts/ptmx in B: {o}");
    pod_teardown(&rt, &parent, (&a, &a_id, a_pid), (&b, &b_id));
}

#[test]
fn joined_user_namespace_cannot_join_a_namespace_it_does_not_own() {
    let rt = Runtime::new();
    let parent = CgroupParent::new();
    let (a, a_id, a_pid) = pod_holder(&rt, &parent);
    // A network namespace of the host's user namespace: after joining A's
    // user namespace, setns into it lacks CAP_SYS_ADMIN over its owner.
    let holder = NetnsHolder::new();
    let (mut b, b_id) = pod_member(&parent, a_pid, &["user"], "true");
    b.set_namespace("network", Some(&holder.ns_path()));
    assert_eq!(b.config["linux"]["namespaces"][6]["type"], "network");
    let o = rt.run_with(&b, &b_id, &[]).fail();
    if runtime_is_hull() {
        let line = o
            .stderr
            .lines()
            .find(|l| l.contains("/linux/namespaces/6/path"));
        assert!(
            line.is_some_and(|l| l.contains(&holder.ns_path())
                && l.contains("belongs to another user namespace")),
            "error does not name the field and the cause: {o}"
        );
        assert!(!o.stderr.contains("panicked"), "{o}");
    }
    assert_eq!(rt.status(&a_id).as_deref(), Some("running"), "A is hurt");
    pod_teardown(&rt, &parent, (&a, &a_id, a_pid), (&b, &b_id));
}

/// `user.*` sysctls are per user namespace: accepted with a new one
/// (HULL-ONLY: runc 1.1.5 refuses them), refused without.
#[test]
fn user_sysctls_need_and_work_in_a_user_namespace() {
    let rt = Runtime::new();
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["sysctl"] = json!({"user.max_user_namespaces": "7"});
    let id = unique_id("usysno");
    let o = rt.run_with(&b, &id, &[]).fail();
    assert!(o.stderr.contains("user.max_user_namespaces"), "{o}");
    if !hull_only("user.* sysctls with a user namespace (runc 1.1.5 refuses them)") {
        return;
    }
    b.set_namespace("user", None);
    b.config["linux"]["uidMappings"] = id_maps(100000, 65536);
    b.config["linux"]["gidMappings"] = id_maps(100000, 65536);
    let out = rt.run_ok(&mut b, &["cat", "/proc/sys/user/max_user_namespaces"]);
    assert_eq!(out.trim(), "7");
}
