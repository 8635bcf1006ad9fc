//! The root file system and mounts: odd orders, binds, options, masked and
//! read-only paths, propagation, devices, no mount namespace.

use crate::framework::*;
use crate::observe::{PROBE, PROBE_NO_MOUNTS};
use crate::scenarios;
use serde_json::json;

fn probe_run() -> Scenario {
    Scenario::probe().step(run(&[]).probe())
}

/// Replace the mount whose destination is `dest`.
fn replace_mount(c: &mut serde_json::Value, dest: &str, m: serde_json::Value) {
    for e in c["mounts"].as_array_mut().unwrap() {
        if e["destination"] == dest {
            *e = m.clone();
        }
    }
}

scenarios! {
    /// A read-only /dev tmpfs followed by /dev/pts, /dev/shm, /dev/mqueue.
    mount_readonly_dev_then_submounts: probe_run().edit(|c, _| replace_mount(c, "/dev", json!({
        "destination": "/dev", "type": "tmpfs", "source": "tmpfs",
        "options": ["nosuid", "strictatime", "mode=755", "size=65536k", "ro"]})));
    /// No mount namespace: the container shares the runtime's, and its
    /// root is entered by chroot.
    no_mount_namespace: Scenario::new(&["sh", "-c", PROBE_NO_MOUNTS])
        .without_ns("mount")
        .set("/mounts", json!([]))
        .set("/linux/maskedPaths", json!([]))
        .set("/linux/readonlyPaths", json!([]))
        .set("/root/readonly", json!(false))
        .step(run(&[]).probe());
    mount_bind_file_to_new_path: Scenario::new(&["cat", "/etc/bound"])
        .setup(|c| std::fs::write(c.work.join("file"), "bound file\n").unwrap())
        .add_mount(json!({"destination": "/etc/bound", "type": "bind", "source": "{work}/file",
                          "options": ["bind", "ro"]}))
        .step(run(&[]));
    mount_bind_dir_readonly: Scenario::new(&["sh", "-c", "ls /mnt; touch /mnt/new; echo $?"])
        .setup(|c| std::fs::write(c.out.join("present"), "x").unwrap())
        .add_mount(json!({"destination": "/mnt", "type": "bind", "source": "{out}", "options": ["rbind", "ro"]}))
        .step(run(&[]));
    mount_bind_missing_source: Scenario::new(&["true"])
        .add_mount(json!({"destination": "/mnt", "type": "bind", "source": "{work}/missing", "options": ["rbind"]}))
        .steps([run(&[]).into()]);
    mount_tmpfs_options: Scenario::new(&["sh", "-c", "grep ' /scratch ' /proc/self/mountinfo | cut -d' ' -f6-; stat -c %a /scratch"])
        .add_mount(json!({"destination": "/scratch", "type": "tmpfs", "source": "tmpfs",
                          "options": ["nosuid", "noexec", "mode=1777", "size=1m"]}))
        .step(run(&[]));
    mount_relative_destination: Scenario::new(&["sh", "-c", "grep relative /proc/self/mountinfo | cut -d' ' -f5"])
        .add_mount(json!({"destination": "relative/dir", "type": "tmpfs", "source": "tmpfs"}))
        .step(run(&[]));
    /// A destination through a symlink inside the rootfs stays inside it.
    mount_destination_symlink: Scenario::new(&["sh", "-c", "grep tmpfs /proc/self/mountinfo | cut -d' ' -f5"])
        .setup(|c| std::os::unix::fs::symlink("/var", c.rootfs().join("link")).unwrap())
        .add_mount(json!({"destination": "/link", "type": "tmpfs", "source": "tmpfs"}))
        .step(run(&[]));
    /// linux.mountLabel on a host without SELinux is ignored.
    mount_label_without_selinux: probe_run()
        .set("/linux/mountLabel", json!("system_u:object_r:container_file_t:s0:c1,c2"));
    masked_and_readonly_paths: Scenario::new(&["sh", "-c",
        "cat /etc/hosts; ls /var; ls /nonexistent; touch /tmp/x; echo touch=$?"])
        .set("/root/readonly", json!(false))
        .set("/linux/maskedPaths", json!(["/etc/hosts", "/var", "/nonexistent"]))
        .set("/linux/readonlyPaths", json!(["/tmp", "/nothere"]))
        .step(run(&[]));
    root_writable: Scenario::new(&["sh", "-c", "touch /x && echo wrote"])
        .set("/root/readonly", json!(false)).step(run(&[]));
    root_readonly: Scenario::new(&["sh", "-c", "touch /x; echo $?"]).step(run(&[]));
    rootfs_propagation_private: probe_run().set("/linux/rootfsPropagation", json!("private"));
    rootfs_propagation_slave: probe_run().set("/linux/rootfsPropagation", json!("slave"));
    rootfs_propagation_shared: probe_run().set("/linux/rootfsPropagation", json!("shared"));
    default_dev_entries: Scenario::new(&["sh", "-c", "ls -ln /dev | cut -c1-10,35- | sort"])
        .step(run(&[]));
    linux_devices_added: Scenario::new(&["sh", "-c", "ls -ln /dev/extra-null /dev/fuse 2>&1 | cut -c1-10,35-; echo x > /dev/extra-null; echo $?"])
        .set("/linux/devices", json!([
            {"path": "/dev/extra-null", "type": "c", "major": 1, "minor": 3, "fileMode": 438, "uid": 0, "gid": 0},
            {"path": "/dev/fuse", "type": "c", "major": 10, "minor": 229}]))
        .resources(json!({"devices": [{"allow": false, "access": "rwm"},
                                      {"allow": true, "type": "c", "major": 1, "minor": 3, "access": "rwm"}]}))
        .step(run(&[]));
    mount_sysfs_without_netns: Scenario::new(&["sh", "-c", PROBE])
        .without_ns("network").step(run(&[]).probe());
    mount_cgroup_rw: Scenario::new(&["sh", "-c", "grep cgroup /proc/self/mountinfo | cut -d' ' -f5,6 | sort"])
        .edit(|c, _| replace_mount(c, "/sys/fs/cgroup", json!({
            "destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
            "options": ["nosuid", "noexec", "nodev", "relatime", "rw"]})))
        .step(run(&[]));
}
