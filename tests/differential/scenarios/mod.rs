//! The scenarios, by area. Adding one is a few lines in one of these files
//! (see tests/differential/README.md).

pub mod lifecycle;

pub fn all_names() -> Vec<&'static str> {
    [lifecycle::NAMES].concat()
}
