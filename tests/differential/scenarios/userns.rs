//! User namespaces: the mapped view, and bundles, rootfs and bind sources
//! the mapped root cannot traverse.

use crate::framework::*;
use crate::observe::PROBE;
use crate::scenarios;
use serde_json::json;

scenarios! {
    userns_probe: Scenario::new(&["sh", "-c", PROBE]).userns().step(run(&[]).probe());
    userns_outside_view: Scenario::new(&["sleep", "1000"]).userns().steps([create(&[]).into(), outside()]);
    userns_exec: Scenario::new(&["sleep", "1000"]).userns().steps([
        create(&[]).into(), start().into(), exec(&["sh", "-c", "id; cat /proc/self/uid_map"]).into(),
    ]);
    /// A bundle in a 0700 directory of the host's root.
    userns_private_bundle: Scenario::new(&["echo", "ran"]).userns()
        .steps([sh("chmod 700 {bundle}"), run(&[]).into()]);
    /// A bind source below a 0700 directory of the host's root.
    userns_private_bind_source: Scenario::new(&["cat", "/mnt/file"]).userns()
        .setup(|c| {
            let d = c.work.join("private/dir");
            std::fs::create_dir_all(&d).unwrap();
            std::fs::write(d.join("file"), "bound\n").unwrap();
            std::fs::set_permissions(c.work.join("private"),
                std::os::unix::fs::PermissionsExt::from_mode(0o700)).unwrap();
        })
        .add_mount(json!({"destination": "/mnt", "type": "bind", "source": "{work}/private/dir", "options": ["rbind", "ro"]}))
        .step(run(&[]));
    userns_without_mappings: Scenario::new(&["true"]).with_ns("user").step(run(&[]));
    userns_hooks_state: Scenario::new(&["true"]).userns()
        .hook("prestart", "cat > {out}/prestart.json")
        .hook("createRuntime", "cat > {out}/createRuntime.json")
        .step(run(&[]));
}
