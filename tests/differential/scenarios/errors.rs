//! Broken bundles and bad arguments: an error happened (or not), with which
//! status, and nothing is left behind.

use crate::framework::*;
use crate::scenarios;
use serde_json::json;

scenarios! {
    config_missing: Scenario::new(&["true"]).steps([sh("rm {bundle}/config.json"), run(&[]).into(), state().into()]);
    config_not_json: Scenario::new(&["true"]).steps([write("{bundle}/config.json", "{ nope"), run(&[]).into()]);
    rootfs_missing: Scenario::new(&["true"]).steps([sh("rm -rf {rootfs}"), run(&[]).into(), state().into()]);
    args_empty: Scenario::new(&[]).steps([run(&[]).into(), state().into()]);
    process_missing_on_create: Scenario::new(&["true"]).unset("/process").step(create(&[]));
    id_with_slash: Scenario::new(&["true"]).step(raw(&["run", "--bundle", "{bundle}", "a/b"]));
    namespace_unknown_type: Scenario::new(&["true"])
        .edit(|c, _| c["linux"]["namespaces"].as_array_mut().unwrap().push(json!({"type": "bogus"})))
        .step(run(&[]));
    namespace_path_missing: Scenario::new(&["true"])
        .edit(|c, _| {
            for n in c["linux"]["namespaces"].as_array_mut().unwrap() {
                if n["type"] == "network" { n["path"] = json!("/proc/999999999/ns/net"); }
            }
        })
        .steps([run(&[]).into(), state().into()]);
    namespace_duplicate: Scenario::new(&["true"]).with_ns("ipc").step(run(&[]));
    uid_not_a_number: Scenario::new(&["true"]).set("/process/user/uid", json!("root")).step(run(&[]));
    oci_version_missing: Scenario::new(&["echo", "ran"]).unset("/ociVersion").step(run(&[]));
    /// A relative cgroupsPath (one level, unique per run: the leaf each
    /// runtime removes on delete).
    cgroups_path_relative: Scenario::new(&["sleep", "1000"]).set("/linux/cgroupsPath", json!("rel-{id}"))
        .steps([create(&[]).into(), state().into()]);
    mount_destination_missing: Scenario::new(&["true"])
        .add_mount(json!({"type": "tmpfs", "source": "tmpfs"})).step(run(&[]));
    unknown_command: Scenario::new(&["true"]).step(raw(&["frobnicate"]).output(Output::ExitOnly));
    unknown_flag: Scenario::new(&["true"]).step(raw(&["run", "--no-such-flag", "{id}"]).output(Output::ExitOnly));
    missing_id_argument: Scenario::new(&["true"]).step(raw(&["state"]).output(Output::ExitOnly));
}
