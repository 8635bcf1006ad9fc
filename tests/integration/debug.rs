//! `--debug` traces the steps of create (stage by stage, the init's lines
//! forwarded), and with `--log` they go to the file, not to stderr.

use crate::common::*;
use std::fs;

#[test]
fn debug_trace_of_run() {
    if !hull_only("--debug traces the steps of create") {
        return;
    }
    let b = Bundle::new(&["sh", "-c", "echo out; echo err >&2"]);
    b.save();
    let mut rt = Runtime::new();
    rt.global = vec!["--debug".into()];
    let id = unique_id("dbg");
    let o = rt.run_with(&b, &id, &[]).ok();
    for want in [
        "namespaces: create [",
        "cgroup ",
        "init (+",
        "mount /mounts/0: proc on /proc type proc",
        "entered the rootfs (pivot_root)",
        "capabilities bounding=",
        "container init ready",
    ] {
        assert!(o.stderr.contains(want), "no {want:?} in the trace: {o}");
    }
    // The container's own output is untouched and unprefixed.
    assert_eq!(o.stdout, "out\n", "{o}");
    assert!(o.stderr.lines().any(|l| l == "err"), "{o}");
    // With --log, the trace goes to the file (the init's lines too), not to stderr.
    let logdir = TempDir::new("log");
    let log = logdir.path().join("hull.log");
    let mut rt = Runtime::new();
    rt.global = vec![
        "--debug".into(),
        "--log".into(),
        log.to_string_lossy().into(),
    ];
    let id = unique_id("dbglog");
    let o = rt.run_with(&b, &id, &[]).ok();
    assert!(
        !o.stderr.contains("debug"),
        "debug lines on stderr despite --log: {o}"
    );
    assert_eq!(o.stderr.trim(), "err", "{o}");
    let text = fs::read_to_string(&log).unwrap();
    assert!(text.contains("mount /mounts/0: proc on /proc"), "{text}");
    assert!(text.contains("capabilities bounding="), "{text}");
}
