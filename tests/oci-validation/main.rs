//! OCI runtime-spec conformance suite.
//!
//! Each `config_*` test writes a config exercising one slice of config.md /
//! config-linux.md, runs the statically linked `hull-oci-checker` as the
//! container process through `RUNTIME run`, and fails on any `not ok` TAP
//! line. The `lifecycle_*` tests check runtime.md from outside. The runtime
//! is `$HULL_RUNTIME`, default the hull binary cargo built. Needs root.
//! See tests/oci-validation/README.md.

mod common;
mod configs;
mod lifecycle;
