//! Failure paths: a failing create must exit non-zero and leave nothing
//! behind (state dir, cgroup, mounts). Error wording is checked only for
//! hull (HULL-ONLY).

use crate::common::*;
use serde_json::json;
use std::fs;
use std::path::Path;

/// A sleep bundle with cgroupsPath `<parent>/<id>` so leftovers can be
/// checked.
fn err_bundle(parent: &CgroupParent, id: &str) -> Bundle {
    let mut b = Bundle::new(&["sleep", "30"]);
    b.config["linux"]["cgroupsPath"] = json!(parent.child(id));
    b
}

/// `create` without rewriting config.json (for hand-written configs).
fn create_raw(rt: &Runtime, bundle: &Path, id: &str) -> Out {
    rt.track(id);
    rt.cmd(&["create", "--bundle", bundle.to_str().unwrap(), id])
}

/// Asserts `o` failed and nothing was left: no state dir in --root, no
/// cgroup at the configured path, no mount mentioning the bundle.
pub fn assert_failed_cleanly(
    rt: &Runtime,
    b: &Bundle,
    parent: &CgroupParent,
    id: &str,
    o: Out,
) -> Out {
    let o = o.fail();
    assert!(
        !rt.root().join(id).exists(),
        "state dir left for failed create: {o}"
    );
    let ents: Vec<_> = fs::read_dir(rt.root())
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        ents.iter().all(|e| !e.to_string_lossy().contains(id)),
        "--root has {ents:?} after failed create"
    );
    let left = cgroup_leftovers(&parent.child(id));
    assert!(
        left.is_empty(),
        "cgroup left after failed create: {left:?}\n{o}"
    );
    let m = mountinfo_mentioning(&b.path().to_string_lossy());
    assert!(m.is_empty(), "mounts left after failed create: {m:#?}");
    assert!(
        rt.state(id).is_err(),
        "state succeeds for a container whose create failed"
    );
    o
}

#[test]
fn malformed_config_json() {
    let parent = CgroupParent::new();
    let id = unique_id("badjson");
    let b = err_bundle(&parent, &id);
    // Syntax error on line 3.
    fs::write(
        b.path().join("config.json"),
        "{\n  \"ociVersion\": \"1.0.2\",\n  oops\n}\n",
    )
    .unwrap();
    let rt = Runtime::new();
    let o = assert_failed_cleanly(&rt, &b, &parent, &id, create_raw(&rt, b.path(), &id));
    if hull_only("config.json syntax error message names the file and line") {
        assert!(o.stderr.contains("config.json"), "{o}");
        assert!(o.stderr.contains("line 3"), "{o}");
    }
}

#[test]
fn config_json_missing() {
    let parent = CgroupParent::new();
    let id = unique_id("nojson");
    let b = err_bundle(&parent, &id);
    fs::remove_file(b.path().join("config.json")).unwrap();
    let rt = Runtime::new();
    let o = assert_failed_cleanly(&rt, &b, &parent, &id, create_raw(&rt, b.path(), &id));
    assert!(o.stderr.contains("config.json"), "{o}");
}

#[test]
fn wrong_type_in_config() {
    let parent = CgroupParent::new();
    let id = unique_id("badtype");
    let mut b = err_bundle(&parent, &id);
    b.config["process"]["user"]["uid"] = json!("x");
    let rt = Runtime::new();
    let o = assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    if hull_only("type error names the JSON path /process/user/uid") {
        assert!(o.stderr.contains("/process/user/uid"), "{o}");
    }
}

#[test]
fn missing_rootfs() {
    let parent = CgroupParent::new();
    let id = unique_id("noroot");
    let mut b = err_bundle(&parent, &id);
    b.config["root"]["path"] = json!("no-such-rootfs");
    let rt = Runtime::new();
    let o = assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    assert!(
        o.stderr.contains("no-such-rootfs"),
        "error does not name the rootfs: {o}"
    );
    if hull_only("missing rootfs error names root.path") {
        assert!(
            o.stderr.contains("root.path") || o.stderr.contains("/root/path"),
            "{o}"
        );
    }
}

#[test]
fn unknown_namespace_type() {
    let parent = CgroupParent::new();
    let id = unique_id("badns");
    let mut b = err_bundle(&parent, &id);
    b.set_namespace("foo", None);
    let rt = Runtime::new();
    let o = assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    assert!(
        o.stderr.contains("foo"),
        "error does not name the namespace type: {o}"
    );
}

#[test]
fn bad_namespace_path() {
    let parent = CgroupParent::new();
    let id = unique_id("badnspath");
    let mut b = err_bundle(&parent, &id);
    b.set_namespace("network", Some("/proc/self/no-such-ns"));
    let rt = Runtime::new();
    assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
}

#[test]
fn oci_version_too_old_rejected() {
    if !hull_only("ociVersion 0.1.0 is rejected (runc does not check it)") {
        return;
    }
    let parent = CgroupParent::new();
    let id = unique_id("oldver");
    let mut b = err_bundle(&parent, &id);
    b.config["ociVersion"] = json!("0.1.0");
    let rt = Runtime::new();
    let o = assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    assert!(o.stderr.contains("0.1.0"), "{o}");
}

#[test]
fn kill_bad_signal_name() {
    let b = Bundle::new(&["sleep", "30"]);
    let rt = Runtime::new();
    let id = unique_id("badsig");
    rt.run_with(&b, &id, &["-d"]).ok();
    let o = rt.kill(&id, "SIGWHATEVER").fail();
    assert_eq!(rt.status(&id).as_deref(), Some("running"), "{o}");
    if hull_only("bad signal error names the signal") {
        assert!(
            o.stderr.contains("SIGWHATEVER") || o.stderr.contains("WHATEVER"),
            "{o}"
        );
    }
    rt.kill(&id, "999").fail();
    assert_eq!(rt.status(&id).as_deref(), Some("running"));
}

#[test]
fn invalid_ids_rejected() {
    let b = Bundle::new(&["sleep", "30"]);
    let rt = Runtime::new();
    let escape = unique_id("hull-it-escape");
    let outside = rt.root().parent().unwrap().join(&escape);
    let dotdot = format!("../{escape}");
    for id in ["a/b", "..", ".", dotdot.as_str(), "/abs", ""] {
        let o = rt.create(&b, id);
        assert!(!o.success(), "id {id:?} accepted: {o}");
        assert!(!o.timed_out, "{o}");
    }
    assert!(
        !outside.exists(),
        "an id escaped --root: {}",
        outside.display()
    );
    assert!(!rt.root().join("a").exists(), "id a/b created a dir");
    let ents: Vec<_> = fs::read_dir(rt.root())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert!(
        ents.is_empty(),
        "--root not empty after rejected ids: {ents:?}"
    );
}

#[test]
fn exec_of_missing_binary_fails() {
    let parent = CgroupParent::new();
    let id = unique_id("noexec");
    let mut b = err_bundle(&parent, &id);
    b.set_args(&["/nonexistent"]);
    let rt = Runtime::new();
    // The runtime may fail at create or at start; `run` covers both.
    let o = rt.run_with(&b, &id, &[]).fail();
    assert!(
        o.stderr.contains("/nonexistent"),
        "error does not name the binary: {o}"
    );
    assert!(!rt.root().join(&id).exists(), "state dir left: {o}");
    let left = cgroup_leftovers(&parent.child(&id));
    assert!(left.is_empty(), "cgroup left after failed run: {left:?}");
    let m = mountinfo_mentioning(&b.path().to_string_lossy());
    assert!(m.is_empty(), "mounts left: {m:#?}");
}

#[test]
fn exec_of_missing_binary_via_create_start() {
    let b = Bundle::new(&["no-such-command-anywhere"]);
    let rt = Runtime::new();
    let id = unique_id("noexec2");
    let c = rt.create(&b, &id);
    let failed = if c.success() {
        !rt.start(&id).success()
    } else {
        true
    };
    assert!(failed, "a missing binary neither failed create nor start");
}

#[test]
fn json_log_on_failing_create() {
    let parent = CgroupParent::new();
    let id = unique_id("logjson");
    let mut b = err_bundle(&parent, &id);
    b.config["root"]["path"] = json!("no-such-rootfs");
    let logdir = TempDir::new("log");
    let log = logdir.path().join("hull.log");
    fs::write(&log, "").unwrap();
    let mut rt = Runtime::new();
    rt.global = vec![
        "--log".into(),
        log.to_string_lossy().into(),
        "--log-format".into(),
        "json".into(),
    ];
    assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    let text = fs::read_to_string(&log).unwrap();
    let errors: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("log line not JSON ({e}): {l}")))
        .filter(|v: &serde_json::Value| v["level"] == "error")
        .collect();
    assert!(!errors.is_empty(), "no level=error line in log:\n{text}");
    for e in &errors {
        assert!(e["msg"].is_string(), "no msg: {e}");
        assert!(e["time"].is_string(), "no time: {e}");
    }
}

#[test]
fn text_log_on_failing_create() {
    let parent = CgroupParent::new();
    let id = unique_id("logtext");
    let mut b = err_bundle(&parent, &id);
    b.config["root"]["path"] = json!("no-such-rootfs");
    let logdir = TempDir::new("log");
    let log = logdir.path().join("hull.log");
    let mut rt = Runtime::new();
    rt.global = vec!["--log".into(), log.to_string_lossy().into()];
    assert_failed_cleanly(&rt, &b, &parent, &id, rt.create(&b, &id));
    let text = fs::read_to_string(&log).unwrap_or_default();
    assert!(
        text.contains("no-such-rootfs"),
        "log does not mention the error:\n{text}"
    );
}
