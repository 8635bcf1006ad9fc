//! Replays the checked-in seed corpora of the fuzz targets (fuzz/corpus/<target>/)
//! through the same calls the cargo-fuzz targets make (fuzz/src/lib.rs), so the
//! seeds, and any crash input added to them, run on stable in every `cargo test`.
//! A panic in hull fails the test.

#[path = "../fuzz/src/lib.rs"]
mod targets;

use std::path::Path;

#[test]
fn seed_corpora_do_not_panic() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for (name, run) in targets::TARGETS {
        let dir = root.join(name);
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            .map(|e| e.unwrap().path())
            .collect();
        entries.sort();
        assert!(!entries.is_empty(), "{}: no seed inputs", dir.display());
        for input in entries {
            let data = std::fs::read(&input).unwrap();
            eprintln!("replay {name}: {}", input.display());
            run(&data);
        }
    }
}

#[test]
fn every_corpus_dir_has_a_target() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    for e in std::fs::read_dir(&root).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        assert!(
            targets::TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/corpus/{name} has no target in fuzz/src/lib.rs"
        );
    }
}
