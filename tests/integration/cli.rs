//! Command-line surface: spec, --version, unknown commands.

use crate::common::*;
use serde_json::{Value, json};
use std::fs;
use std::path::Path;

fn read_json(p: &std::path::Path) -> Value {
    let s = fs::read_to_string(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()));
    serde_json::from_str(&s).unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{s}", p.display()))
}

#[test]
fn spec_writes_config_json() {
    let dir = TempDir::new("spec");
    let rt = Runtime::new();
    rt.cmd(&["spec", "-b", dir.path().to_str().unwrap()]).ok();
    let v = read_json(&dir.path().join("config.json"));
    assert!(
        v["ociVersion"]
            .as_str()
            .map(|s| !s.is_empty())
            .unwrap_or(false),
        "{v}"
    );
    assert!(v["process"]["args"].is_array(), "{v}");
    assert_eq!(v["root"]["path"], "rootfs", "{v}");
    let ns: Vec<&str> = v["linux"]["namespaces"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|n| n["type"].as_str())
        .collect();
    for want in ["pid", "network", "ipc", "uts", "mount"] {
        assert!(ns.contains(&want), "namespace {want} missing: {ns:?}");
    }
}

#[test]
fn spec_in_current_dir() {
    let dir = TempDir::new("speccwd");
    let rt = Runtime::new();
    let mut c = rt.command(&["spec"]);
    c.current_dir(dir.path());
    run_cmd(c, dir.path(), CmdOpts::default()).ok();
    read_json(&dir.path().join("config.json"));
}

#[test]
fn spec_refuses_to_overwrite() {
    let dir = TempDir::new("spec2");
    let p = dir.path().join("config.json");
    let rt = Runtime::new();
    rt.cmd(&["spec", "-b", dir.path().to_str().unwrap()]).ok();
    // Replace with recognisable content; a second spec must not touch it.
    fs::write(&p, "{\"mine\": true}\n").unwrap();
    rt.cmd(&["spec", "-b", dir.path().to_str().unwrap()]).fail();
    assert_eq!(fs::read_to_string(&p).unwrap(), "{\"mine\": true}\n");
}

#[test]
fn spec_rootless_has_user_namespace() {
    let dir = TempDir::new("specrl");
    let rt = Runtime::new();
    rt.cmd(&["spec", "--rootless", "-b", dir.path().to_str().unwrap()])
        .ok();
    let v = read_json(&dir.path().join("config.json"));
    let ns = v["linux"]["namespaces"].as_array().expect("namespaces");
    assert!(
        ns.iter().any(|n| n["type"] == "user"),
        "no user namespace: {v}"
    );
    let um = v["linux"]["uidMappings"].as_array().expect("uidMappings");
    assert!(!um.is_empty(), "empty uidMappings: {v}");
    assert!(um[0]["size"].as_u64().unwrap_or(0) >= 1, "{v}");
    let gm = v["linux"]["gidMappings"].as_array().expect("gidMappings");
    assert!(!gm.is_empty(), "empty gidMappings: {v}");
}

#[test]
fn spec_output_runs_a_container() {
    // The generated spec (with terminal off and our args) must be runnable.
    let mut b = Bundle::new(&[]);
    fs::remove_file(b.path().join("config.json")).unwrap();
    let rt = Runtime::new();
    rt.cmd(&["spec", "-b", b.path().to_str().unwrap()]).ok();
    let mut v = read_json(&b.path().join("config.json"));
    v["process"]["terminal"] = json!(false);
    b.config = v;
    let out = rt.run_ok(&mut b, &["echo", "from-spec"]);
    assert_eq!(out.trim(), "from-spec");
}

#[test]
fn version_flag() {
    let rt = Runtime::new();
    let o = rt.cmd(&["--version"]).ok();
    assert!(o.stdout.to_lowercase().contains("version"), "{o}");
}

#[test]
fn help_flag() {
    let rt = Runtime::new();
    let o = rt.cmd(&["--help"]).ok();
    assert!(
        o.stdout.contains("create") && o.stdout.contains("delete"),
        "{o}"
    );
}

#[test]
fn unknown_command_fails() {
    let rt = Runtime::new();
    rt.cmd(&["frobnicate-the-container"]).fail();
}

#[test]
fn missing_id_argument_fails() {
    let rt = Runtime::new();
    rt.cmd(&["state"]).fail();
    rt.cmd(&["start"]).fail();
}

/// `features` must validate against the spec's features schema (checked
/// with Debian's python3-jsonschema, which resolves the schema's file refs).
#[test]
fn features_document_matches_the_schema() {
    if !hull_only("features (runc 1.1 output predates parts of the 1.3 schema)") {
        return;
    }
    let rt = Runtime::new();
    let o = rt.cmd(&["features"]).ok();
    let doc: serde_json::Value =
        serde_json::from_str(&o.stdout).unwrap_or_else(|e| panic!("{e}: {o}"));
    assert_eq!(doc["ociVersionMax"], serde_json::json!("1.3.0"));
    assert!(
        doc["linux"]["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "time")
    );
    let caps = doc["linux"]["capabilities"].as_array().unwrap();
    assert!(caps.iter().any(|c| c == "CAP_SYS_ADMIN"), "{caps:?}");
    let schema_dir =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/oci-runtime-spec/schema");
    if !schema_dir.join("features-schema.json").exists() {
        println!(
            "SKIP: schema validation: {} is missing (shared/ sits beside the repository)",
            schema_dir.display()
        );
        return;
    }
    let tmp = TempDir::new("features");
    let doc_path = tmp.path().join("features.json");
    std::fs::write(&doc_path, &o.stdout).unwrap();
    let script = r#"
import json, sys, pathlib, jsonschema
d = pathlib.Path(sys.argv[1]).resolve()
schema = json.load(open(d / "features-schema.json"))
resolver = jsonschema.RefResolver(base_uri=d.as_uri() + "/", referrer=schema)
jsonschema.Draft4Validator(schema, resolver=resolver).validate(json.load(open(sys.argv[2])))
print("valid")
"#;
    let out = std::process::Command::new("/usr/bin/python3")
        .args([
            "-c",
            script,
            schema_dir.to_str().unwrap(),
            doc_path.to_str().unwrap(),
        ])
        .output()
        .expect("run /usr/bin/python3 (python3-jsonschema is installed by make deps)");
    assert!(
        out.status.success() && String::from_utf8_lossy(&out.stdout).contains("valid"),
        "features does not match the schema: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
