//! The differential suite: each scenario (a bundle plus a sequence of
//! runtime commands) runs against runc, the reference runtime, and against
//! hull, and what a caller can observe is compared: exit statuses, the
//! container process's stdout/stderr (not the runtimes' own error wording),
//! `state` JSON, the process's view from inside (ids, groups, cwd, caps,
//! cgroup, mount table, hostname, rlimits, no_new_privs, seccomp mode,
//! stdio), from outside (namespaces, id maps), files hooks wrote, cgroup
//! files, and what is left behind after `delete --force`.
//!
//! A divergence fails its scenario unless the table in docs/compat.md lists
//! it (see tests/differential/README.md). Needs root and runc
//! (scripts/install-deps.sh installs it); `$HULL_DIFF_REFERENCE` overrides
//! the reference binary, `$HULL_BIN` the hull binary.

// The integration tests' helpers (busybox bundles, temp dirs, mounts).
#[path = "../integration/common.rs"]
mod common;
mod compat;
mod framework;
mod observe;
mod scenarios;

/// Declares scenarios, one `#[test]` each: `name: expression;` where the
/// expression is a [`framework::Scenario`]. Also lists their names in
/// `NAMES` so the compat table can be checked against them.
#[macro_export]
macro_rules! scenarios {
    ($( $(#[$doc:meta])* $name:ident: $body:expr; )*) => {
        $(
            $(#[$doc])*
            #[test]
            fn $name() {
                $crate::framework::check(stringify!($name), $body)
            }
        )*
        #[allow(dead_code)]
        pub const NAMES: &[&str] = &[$(stringify!($name)),*];
    };
}

/// Every row of the compat table names a scenario that exists (a typo
/// would silently allow nothing, or a renamed scenario leave a stale row).
#[test]
fn compat_table_names_existing_scenarios() {
    let names = scenarios::all_names();
    for row in &compat::table().rows {
        assert!(
            names.iter().any(|n| compat::glob(&row.scenario, n)),
            "docs/compat.md names scenario `{}`, which does not exist",
            row.scenario
        );
    }
    println!("{} differential scenarios", names.len());
}
