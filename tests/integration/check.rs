//! `hull check` and the pre-flight of `create`/`run`: a corpus of broken
//! bundles, each a minimal edit of the default config with the JSON pointer
//! and message fragment expected. Every case must be reported by `hull
//! check` (exit 1, one `error: <pointer>: ...` line with the fragment) and
//! make `hull run` fail with the same cause, leaving nothing behind.
//! HULL-ONLY: other runtimes have no `check` and other words.

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::os::unix::fs::PermissionsExt;

struct Case {
    name: &'static str,
    /// Edits the config (and may add files to the bundle).
    edit: fn(&mut Bundle),
    /// JSON pointer the error must name.
    pointer: &'static str,
    /// Fragment of the message.
    says: &'static str,
}

fn cfg(b: &mut Bundle) -> &mut Value {
    b.config_mut()
}

fn user_ns(b: &mut Bundle) {
    b.set_namespace("user", None);
    // A user namespace cannot mount sysfs or a v1 cgroup of the host as root does.
    b.config["mounts"]
        .as_array_mut()
        .unwrap()
        .retain(|m| m["type"] != "cgroup" && m["type"] != "sysfs");
}

/// Puts `m` first in the mounts, so the case's pointer is /mounts/0.
fn idmap_mount(b: &mut Bundle, m: Value) {
    b.config["mounts"].as_array_mut().unwrap().insert(0, m);
}

fn write_exec(b: &Bundle, rel: &str, body: &[u8], mode: u32) {
    let p = b.rootfs().join(rel);
    fs::write(&p, body).unwrap();
    fs::set_permissions(&p, fs::Permissions::from_mode(mode)).unwrap();
}

const CASES: &[Case] = &[
    Case {
        name: "ociVersion not semver",
        edit: |b| cfg(b)["ociVersion"] = json!("1.0"),
        pointer: "/ociVersion",
        says: "not a semantic version",
    },
    Case {
        name: "ociVersion 2.x",
        edit: |b| cfg(b)["ociVersion"] = json!("2.0.0"),
        pointer: "/ociVersion",
        says: "unsupported version",
    },
    Case {
        name: "ociVersion a number",
        edit: |b| cfg(b)["ociVersion"] = json!(1),
        pointer: "/ociVersion",
        says: "expected a string",
    },
    Case {
        name: "root missing",
        edit: |b| {
            cfg(b).as_object_mut().unwrap().remove("root");
        },
        pointer: "/root",
        says: "a root filesystem is required",
    },
    Case {
        name: "root.path missing dir",
        edit: |b| cfg(b)["root"]["path"] = json!("no-such-rootfs"),
        pointer: "/root/path",
        says: "no-such-rootfs: ENOENT",
    },
    Case {
        name: "root.path a file",
        edit: |b| cfg(b)["root"]["path"] = json!("config.json"),
        pointer: "/root/path",
        says: "is not a directory",
    },
    Case {
        name: "process missing",
        edit: |b| {
            cfg(b).as_object_mut().unwrap().remove("process");
        },
        pointer: "/process",
        says: "needs a process",
    },
    Case {
        name: "args empty",
        edit: |b| cfg(b)["process"]["args"] = json!([]),
        pointer: "/process/args",
        says: "at least one entry",
    },
    Case {
        name: "args[0] not in PATH",
        edit: |b| {
            b.set_args(&["no-such-prog"]);
        },
        pointer: "/process/args/0",
        says: "\"no-such-prog\": not found in rootfs (PATH=",
    },
    Case {
        name: "args[0] absolute missing",
        edit: |b| {
            b.set_args(&["/usr/local/bin/nope"]);
        },
        pointer: "/process/args/0",
        says: "no such file in the rootfs (/usr/local is missing)",
    },
    Case {
        name: "args[0] not executable",
        edit: |b| {
            b.set_args(&["/etc/passwd"]);
        },
        pointer: "/process/args/0",
        says: "is not executable (mode 0644)",
    },
    Case {
        name: "args[0] a directory",
        edit: |b| {
            b.set_args(&["/etc"]);
        },
        pointer: "/process/args/0",
        says: "is a directory",
    },
    Case {
        name: "args[0] ELF interpreter missing",
        edit: |b| {
            let body = fs::read("/bin/true").unwrap();
            write_exec(b, "bin/dyn-true", &body, 0o755);
            b.set_args(&["/bin/dyn-true"]);
        },
        pointer: "/process/args/0",
        says: "needs the ELF interpreter /lib",
    },
    Case {
        name: "args[0] script interpreter missing",
        edit: |b| {
            write_exec(b, "bin/script", b"#!/bin/bash\necho hi\n", 0o755);
            b.set_args(&["script"]);
        },
        pointer: "/process/args/0",
        says: "needs the script interpreter /bin/bash",
    },
    Case {
        name: "cwd relative",
        edit: |b| cfg(b)["process"]["cwd"] = json!("tmp"),
        pointer: "/process/cwd",
        says: "\"tmp\" is not an absolute path (hint: use \"/tmp\")",
    },
    Case {
        name: "cwd missing",
        edit: |b| {
            cfg(b)["process"].as_object_mut().unwrap().remove("cwd");
        },
        pointer: "/process/cwd",
        says: "missing: this field is required",
    },
    Case {
        name: "uid a string",
        edit: |b| cfg(b)["process"]["user"]["uid"] = json!("x"),
        pointer: "/process/user/uid",
        says: "expected uint32",
    },
    Case {
        name: "uid negative",
        edit: |b| cfg(b)["process"]["user"]["uid"] = json!(-1),
        pointer: "/process/user/uid",
        says: "out of range for uint32",
    },
    Case {
        name: "terminal a string",
        edit: |b| cfg(b)["process"]["terminal"] = json!("yes"),
        pointer: "/process/terminal",
        says: "expected true or false",
    },
    Case {
        name: "umask too big",
        edit: |b| cfg(b)["process"]["user"]["umask"] = json!(1000),
        pointer: "/process/user/umask",
        says: "is not a umask",
    },
    Case {
        name: "oomScoreAdj out of range",
        edit: |b| cfg(b)["process"]["oomScoreAdj"] = json!(5000),
        pointer: "/process/oomScoreAdj",
        says: "outside -1000..1000",
    },
    Case {
        name: "rlimit unknown",
        edit: |b| cfg(b)["process"]["rlimits"][0]["type"] = json!("RLIMIT_NOFLIE"),
        pointer: "/process/rlimits/0/type",
        says: "unknown rlimit \"RLIMIT_NOFLIE\" (hint: did you mean \"RLIMIT_NOFILE\"?)",
    },
    Case {
        name: "rlimit pattern",
        edit: |b| cfg(b)["process"]["rlimits"][0]["type"] = json!("nofile"),
        pointer: "/process/rlimits/0/type",
        says: "is not an rlimit type",
    },
    Case {
        name: "rlimit soft above hard",
        edit: |b| cfg(b)["process"]["rlimits"][0]["soft"] = json!(4096),
        pointer: "/process/rlimits/0/soft",
        says: "above the hard limit",
    },
    Case {
        name: "rlimit twice",
        edit: |b| {
            cfg(b)["process"]["rlimits"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "RLIMIT_NOFILE", "soft": 10, "hard": 10}));
        },
        pointer: "/process/rlimits/1/type",
        says: "listed twice",
    },
    Case {
        name: "capability unknown",
        edit: |b| cfg(b)["process"]["capabilities"]["bounding"][0] = json!("CAP_SYS_ADMN"),
        pointer: "/process/capabilities/bounding/0",
        says: "unknown capability \"CAP_SYS_ADMN\"",
    },
    Case {
        name: "capability pattern",
        edit: |b| cfg(b)["process"]["capabilities"]["effective"][0] = json!("sys_admin"),
        pointer: "/process/capabilities/effective/0",
        says: "is not a capability name",
    },
    Case {
        name: "mount destination relative",
        edit: |b| cfg(b)["mounts"][0]["destination"] = json!("proc"),
        pointer: "/mounts/0/destination",
        says: "\"proc\" is not an absolute path (hint: use \"/proc\")",
    },
    Case {
        name: "mount destination with ..",
        edit: |b| cfg(b)["mounts"][3]["destination"] = json!("/dev/../shm"),
        pointer: "/mounts/3/destination",
        says: "must not contain \"..\"",
    },
    Case {
        name: "mount destination missing",
        edit: |b| {
            cfg(b)["mounts"][3]
                .as_object_mut()
                .unwrap()
                .remove("destination");
        },
        pointer: "/mounts/3/destination",
        says: "missing: this field is required",
    },
    Case {
        name: "mount type unknown",
        edit: |b| {
            b.add_mount(json!({"destination": "/mnt", "type": "nfs", "source": "srv:/x"}));
        },
        pointer: "/mounts/7/type",
        says: "\"nfs\": unknown filesystem type (not in /proc/filesystems)",
    },
    Case {
        name: "mount type missing",
        edit: |b| {
            b.add_mount(json!({"destination": "/mnt", "source": "tmpfs"}));
        },
        pointer: "/mounts/7/type",
        says: "needs a filesystem type",
    },
    Case {
        name: "bind source missing",
        edit: |b| {
            b.add_mount(json!({"destination": "/data", "type": "bind", "source": "/no/such/dir", "options": ["rbind"]}));
        },
        pointer: "/mounts/7/source",
        says: "bind source /no/such/dir: ENOENT",
    },
    Case {
        name: "namespace twice",
        edit: |b| {
            cfg(b)["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "pid"}));
        },
        pointer: "/linux/namespaces/6/type",
        says: "namespace \"pid\" listed twice",
    },
    Case {
        name: "namespace type unknown",
        edit: |b| {
            cfg(b)["linux"]["namespaces"]
                .as_array_mut()
                .unwrap()
                .push(json!({"type": "users"}));
        },
        pointer: "/linux/namespaces/6/type",
        says: "\"users\" is not a namespace type (hint: did you mean \"user\"?)",
    },
    Case {
        name: "namespace path missing",
        edit: |b| {
            b.set_namespace("network", Some("/proc/self/ns/nett"));
        },
        pointer: "/linux/namespaces/5/path",
        says: "/proc/self/ns/nett: ENOENT",
    },
    Case {
        name: "namespace path wrong type",
        edit: |b| {
            b.set_namespace("network", Some("/proc/self/ns/uts"));
        },
        pointer: "/linux/namespaces/5/path",
        says: "is a uts namespace, not a network namespace",
    },
    Case {
        name: "user namespace path is a network namespace",
        edit: |b| {
            b.set_namespace("user", Some("/proc/self/ns/net"));
        },
        pointer: "/linux/namespaces/6/path",
        says: "/proc/self/ns/net is a network namespace, not a user namespace",
    },
    Case {
        name: "namespace path not nsfs",
        edit: |b| {
            b.set_namespace("ipc", Some("/etc/hostname"));
        },
        pointer: "/linux/namespaces/5/path",
        says: "is not a namespace file",
    },
    Case {
        name: "namespace path relative",
        edit: |b| {
            b.set_namespace("ipc", Some("proc/1/ns/ipc"));
        },
        pointer: "/linux/namespaces/5/path",
        says: "is not an absolute path",
    },
    Case {
        name: "masked paths without a mount namespace",
        edit: |b| {
            b.remove_namespace("mount");
        },
        pointer: "/linux/maskedPaths",
        says: "need a mount namespace of the container's own",
    },
    Case {
        name: "hostname without uts",
        edit: |b| {
            b.remove_namespace("uts");
        },
        pointer: "/hostname",
        says: "needs a uts namespace",
    },
    Case {
        name: "user ns without mappings",
        edit: user_ns,
        pointer: "/linux/gidMappings",
        says: "a new user namespace needs gidMappings",
    },
    Case {
        name: "mappings without user ns",
        edit: |b| {
            cfg(b)["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}])
        },
        pointer: "/linux/uidMappings",
        says: "only valid with a new user namespace",
    },
    Case {
        name: "idmap mappings on a tmpfs",
        edit: |b| {
            idmap_mount(
                b,
                json!({
                    "destination": "/m", "type": "tmpfs", "source": "tmpfs",
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                    "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                }),
            )
        },
        pointer: "/mounts/0/uidMappings",
        says: "idmapped mounts are only supported for bind mounts",
    },
    Case {
        name: "idmap uidMappings without gidMappings",
        edit: |b| {
            idmap_mount(
                b,
                json!({
                    "destination": "/m", "type": "bind", "source": "/tmp",
                    "options": ["rbind", "idmap"],
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                    "gidMappings": [],
                }),
            )
        },
        pointer: "/mounts/0/gidMappings",
        says: "missing or empty: an idmapped mount needs both",
    },
    Case {
        name: "idmap overlapping mappings",
        edit: |b| {
            idmap_mount(
                b,
                json!({
                    "destination": "/m", "type": "bind", "source": "/tmp",
                    "options": ["rbind", "idmap"],
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 10},
                                    {"containerID": 5, "hostID": 5000, "size": 10}],
                    "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 10}],
                }),
            )
        },
        pointer: "/mounts/0/uidMappings/1/containerID",
        says: "container ids 5..14 overlap /mounts/0/uidMappings/0",
    },
    Case {
        name: "idmap mapping size 0",
        edit: |b| {
            idmap_mount(
                b,
                json!({
                    "destination": "/m", "type": "bind", "source": "/tmp",
                    "options": ["rbind", "ridmap"],
                    "uidMappings": [{"containerID": 0, "hostID": 1000, "size": 1}],
                    "gidMappings": [{"containerID": 0, "hostID": 1000, "size": 0}],
                }),
            )
        },
        pointer: "/mounts/0/gidMappings/0/size",
        says: "must be greater than 0",
    },
    Case {
        name: "idmap option without mappings or user namespace",
        edit: |b| {
            idmap_mount(
                b,
                json!({
                    "destination": "/m", "type": "bind", "source": "/tmp",
                    "options": ["rbind", "idmap"],
                }),
            )
        },
        pointer: "/mounts/0/options/1",
        says: "needs a container user namespace",
    },
    Case {
        name: "mapping size 0",
        edit: |b| {
            user_ns(b);
            cfg(b)["linux"]["uidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 0}]);
            cfg(b)["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        },
        pointer: "/linux/uidMappings/0/size",
        says: "must be greater than 0",
    },
    Case {
        name: "mappings overlap",
        edit: |b| {
            user_ns(b);
            cfg(b)["linux"]["uidMappings"] = json!([{"containerID": 0, "hostID": 100000, "size": 1000}, {"containerID": 500, "hostID": 200000, "size": 10}]);
            cfg(b)["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        },
        pointer: "/linux/uidMappings/1/containerID",
        says: "overlap /linux/uidMappings/0",
    },
    Case {
        name: "process uid not mapped",
        edit: |b| {
            user_ns(b);
            cfg(b)["linux"]["uidMappings"] =
                json!([{"containerID": 1000, "hostID": 100000, "size": 1000}]);
            cfg(b)["linux"]["gidMappings"] =
                json!([{"containerID": 0, "hostID": 100000, "size": 65536}]);
        },
        pointer: "/process/user/uid",
        says: "uid 0 is not mapped by /linux/uidMappings",
    },
    Case {
        name: "sysctl not namespaced",
        edit: |b| cfg(b)["linux"]["sysctl"] = json!({"kernel.panic": "1"}),
        pointer: "/linux/sysctl/kernel.panic",
        says: "not a namespaced sysctl",
    },
    Case {
        name: "net sysctl without netns",
        edit: |b| {
            b.remove_namespace("network");
            cfg(b)["linux"]["sysctl"] = json!({"net.ipv4.ip_forward": "1"});
        },
        pointer: "/linux/sysctl/net.ipv4.ip_forward",
        says: "needs a new network namespace",
    },
    Case {
        name: "seccomp default action",
        edit: |b| cfg(b)["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALOW"}),
        pointer: "/linux/seccomp/defaultAction",
        says: "did you mean \"SCMP_ACT_ALLOW\"?",
    },
    Case {
        name: "seccomp operator",
        edit: |b| cfg(b)["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_EQUAL"}]}]}),
        pointer: "/linux/seccomp/syscalls/0/args/0/op",
        says: "is not a seccomp operator",
    },
    Case {
        name: "seccomp arg index",
        edit: |b| cfg(b)["linux"]["seccomp"] = json!({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 7, "value": 1, "op": "SCMP_CMP_EQ"}]}]}),
        pointer: "/linux/seccomp/syscalls/0/args/0/index",
        says: "arguments 0 to 5",
    },
    Case {
        name: "device type",
        edit: |b| {
            cfg(b)["linux"]["devices"] =
                json!([{"type": "x", "path": "/dev/x", "major": 1, "minor": 3}])
        },
        pointer: "/linux/devices/0/type",
        says: "\"x\" is not a device type",
    },
    Case {
        name: "device outside /dev",
        edit: |b| {
            cfg(b)["linux"]["devices"] =
                json!([{"type": "c", "path": "/tmp/null", "major": 1, "minor": 3}])
        },
        pointer: "/linux/devices/0/path",
        says: "is not under /dev",
    },
    Case {
        name: "device without major",
        edit: |b| {
            cfg(b)["linux"]["devices"] = json!([{"type": "c", "path": "/dev/foo", "minor": 3}])
        },
        pointer: "/linux/devices/0/major",
        says: "needs its major number",
    },
    Case {
        name: "device cgroup access",
        edit: |b| cfg(b)["linux"]["resources"]["devices"][0]["access"] = json!("rwx"),
        pointer: "/linux/resources/devices/0/access",
        says: "is not a device access string",
    },
    Case {
        name: "hook path missing",
        edit: |b| cfg(b)["hooks"] = json!({"prestart": [{"path": "/no/such/hook"}]}),
        pointer: "/hooks/prestart/0/path",
        says: "/no/such/hook: ENOENT",
    },
    Case {
        name: "hook not executable",
        edit: |b| {
            let hook = b.path().join("hook.sh");
            fs::write(&hook, "#!/bin/sh\n").unwrap();
            fs::set_permissions(&hook, fs::Permissions::from_mode(0o644)).unwrap();
            cfg(b)["hooks"] = json!({"createRuntime": [{"path": hook}]});
        },
        pointer: "/hooks/createRuntime/0/path",
        says: "is not executable (mode 0644)",
    },
    Case {
        name: "hook timeout 0",
        edit: |b| cfg(b)["hooks"] = json!({"prestart": [{"path": "/bin/true", "timeout": 0}]}),
        pointer: "/hooks/prestart/0/timeout",
        says: "at least 1 second",
    },
    Case {
        name: "maskedPaths relative",
        edit: |b| cfg(b)["linux"]["maskedPaths"][0] = json!("proc/kcore"),
        pointer: "/linux/maskedPaths/0",
        says: "is not an absolute path",
    },
    Case {
        name: "rootfsPropagation",
        edit: |b| cfg(b)["linux"]["rootfsPropagation"] = json!("bogus"),
        pointer: "/linux/rootfsPropagation",
        says: "unknown propagation",
    },
    Case {
        name: "timeOffsets without time ns",
        edit: |b| cfg(b)["linux"]["timeOffsets"] = json!({"monotonic": {"secs": 10}}),
        pointer: "/linux/timeOffsets",
        says: "need a new time namespace",
    },
    Case {
        name: "cgroupsPath systemd form",
        edit: |b| cfg(b)["linux"]["cgroupsPath"] = json!("system.slice:hull:x"),
        pointer: "/linux/cgroupsPath",
        says: "needs --systemd-cgroup",
    },
    Case {
        name: "swap below limit",
        edit: |b| {
            cfg(b)["linux"]["resources"]["memory"] = json!({"limit": 67108864, "swap": 33554432})
        },
        pointer: "/linux/resources/memory/swap",
        says: "is below memory.limit",
    },
    Case {
        name: "blockIO weight range",
        edit: |b| cfg(b)["linux"]["resources"]["blockIO"] = json!({"weight": 5}),
        pointer: "/linux/resources/blockIO/weight",
        says: "outside 10..1000",
    },
    Case {
        name: "hugepage size pattern",
        edit: |b| {
            cfg(b)["linux"]["resources"]["hugepageLimits"] =
                json!([{"pageSize": "2mb", "limit": 0}])
        },
        pointer: "/linux/resources/hugepageLimits/0/pageSize",
        says: "is not a page size",
    },
];

/// Broken JSON is written over config.json after the edit (not a config edit).
const SYNTAX: &str = "{\n  \"ociVersion\": \"1.0.2\",\n  oops\n}\n";

pub(crate) fn assert_nothing_left(
    rt: &Runtime,
    b: &Bundle,
    parent: &CgroupParent,
    id: &str,
    what: &str,
) {
    assert!(!rt.root().join(id).exists(), "{what}: state dir left");
    let ents: Vec<_> = fs::read_dir(rt.root())
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(ents.is_empty(), "{what}: --root holds {ents:?}");
    let left = cgroup_leftovers(&parent.child(id));
    assert!(left.is_empty(), "{what}: cgroup left: {left:?}");
    let m = mountinfo_mentioning(&b.path().to_string_lossy());
    assert!(m.is_empty(), "{what}: mounts left: {m:#?}");
}

/// Runs one case through `check` and `run`; returns a description of the failure, if any.
fn run_case(name: &str, edit: &dyn Fn(&mut Bundle), pointer: &str, says: &str) -> Option<String> {
    let parent = CgroupParent::new();
    let id = unique_id("chk");
    let mut b = Bundle::new(&["true"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(&id));
    edit(&mut b);
    b.save();
    if name == "syntax error" {
        fs::write(b.path().join("config.json"), SYNTAX).unwrap();
    }
    let rt = Runtime::new();
    let bp = b.path().to_string_lossy().to_string();
    let want = format!("error: {pointer}: ");
    let c = rt.cmd(&["check", "--bundle", &bp]);
    let line = c
        .stdout
        .lines()
        .find(|l| l.starts_with(&want) && l.contains(says));
    if c.code != Some(1) || line.is_none() {
        return Some(format!(
            "{name}: `hull check` exit {:?}, no line `{want}...{says}...`:\n{}",
            c.code, c.stdout
        ));
    }
    // JSON output agrees.
    let j = rt.cmd(&["check", "--bundle", &bp, "--format", "json"]);
    let v: Value = serde_json::from_str(&j.stdout).unwrap_or_default();
    let in_json = v["problems"].as_array().into_iter().flatten().any(|p| {
        p["path"] == pointer
            && p["severity"] == "error"
            && p["message"]
                .as_str()
                .is_some_and(|m| says.contains(m) || m.contains(says) || line.unwrap().contains(m))
    });
    if !in_json || v["errors"].as_u64().unwrap_or(0) == 0 {
        return Some(format!(
            "{name}: JSON output lacks the problem:\n{}",
            j.stdout
        ));
    }
    rt.track(&id);
    let r = rt.cmd(&["run", "--bundle", &bp, &id]);
    // `run` reports the same cause: the pointer and the message.
    let first = r.stderr.lines().find(|l| l.contains(pointer)).unwrap_or("");
    let cause = line.unwrap()[want.len()..]
        .split(" (hint:")
        .next()
        .unwrap_or("");
    if r.success() || r.timed_out || !first.contains(says) || !first.contains(cause) {
        return Some(format!(
            "{name}: `hull run` did not report `{pointer}: {cause}`: {r}"
        ));
    }
    if r.stderr.contains("panicked") || r.stderr.contains("Some(") || r.stderr.contains("backtrace")
    {
        return Some(format!(
            "{name}: `hull run` error is not one clean line: {r}"
        ));
    }
    assert_nothing_left(&rt, &b, &parent, &id, name);
    None
}

#[test]
fn broken_bundle_corpus() {
    if !hull_only("hull check and the create pre-flight report each broken bundle") {
        return;
    }
    let mut failures = Vec::new();
    let mut n = 0;
    for c in CASES {
        n += 1;
        if let Some(f) = run_case(c.name, &c.edit, c.pointer, c.says) {
            failures.push(f);
        }
    }
    n += 1;
    if let Some(f) = run_case(
        "syntax error",
        &|_| {},
        "/",
        "invalid JSON: key must be a string at line 3 column 3",
    ) {
        failures.push(f);
    }
    assert!(n >= 40, "corpus too small: {n}");
    assert!(
        failures.is_empty(),
        "{} of {n} cases failed:\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn clean_bundle_checks_clean() {
    if !hull_only("hull check on the default bundle") {
        return;
    }
    let b = Bundle::new(&["true"]);
    let rt = Runtime::new();
    let bp = b.path().to_string_lossy().to_string();
    let o = rt.cmd(&["check", "--bundle", &bp]).ok();
    assert!(!o.stdout.contains("error:"), "{o}");
    let j = rt.cmd(&["check", "--bundle", &bp, "--format", "json"]).ok();
    let v: Value = serde_json::from_str(&j.stdout).unwrap();
    assert_eq!(v["errors"], json!(0), "{j}");
}

#[test]
fn check_reports_every_problem_and_warnings_do_not_fail() {
    if !hull_only("hull check lists all problems") {
        return;
    }
    let mut b = Bundle::new(&["true"]);
    b.config["process"]["cwd"] = json!("tmp");
    b.config["mounts"][0]["destination"] = json!("proc");
    b.config["linux"]["namespaces"][0]["type"] = json!("pdi");
    b.save();
    let rt = Runtime::new();
    let bp = b.path().to_string_lossy().to_string();
    let o = rt.cmd(&["check", "--bundle", &bp]).fail();
    for p in [
        "/process/cwd",
        "/mounts/0/destination",
        "/linux/namespaces/0/type",
    ] {
        assert!(
            o.stdout.contains(&format!("error: {p}: ")),
            "{p} missing: {o}"
        );
    }
    // Only warnings: exit 0.
    let mut b = Bundle::new(&["true"]);
    b.config["mount"] = json!([]);
    b.config["process"]["terminal"] = json!(true);
    b.save();
    let bp = b.path().to_string_lossy().to_string();
    let o = rt.cmd(&["check", "--bundle", &bp]).ok();
    assert!(o.stdout.contains("warning: /mount: unknown field"), "{o}");
    assert!(
        o.stdout.contains("did you mean \\\"mounts\\\"")
            || o.stdout.contains("did you mean \"mounts\""),
        "{o}"
    );
    assert!(o.stdout.contains("--console-socket"), "{o}");
}
