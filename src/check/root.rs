//! The bundle as a whole: `ociVersion` and `root` (the rootfs on disk).

use super::{Ctx, Report};
use serde_json::Value;

pub(super) fn version(c: &Ctx, r: &mut Report) {
    let Some(v) = c.str("/ociVersion") else {
        return;
    };
    let mut parts = v.split(['.', '-', '+']);
    let major = parts.next().and_then(|m| m.parse::<u64>().ok());
    let minor = parts.next().and_then(|m| m.parse::<u64>().ok());
    match major {
        Some(1) => {
            let ours: u64 = crate::spec::OCI_VERSION
                .split('.')
                .nth(1)
                .and_then(|m| m.parse().ok())
                .unwrap_or(0);
            if minor.is_some_and(|m| m > ours) {
                r.warning(
                    "/ociVersion",
                    format!(
                        "{v:?} is newer than the runtime spec hull implements ({})",
                        crate::spec::OCI_VERSION
                    ),
                    Some("fields added after that version are ignored".into()),
                );
            }
        }
        Some(_) => r.error(
            "/ociVersion",
            format!("unsupported version {v:?}: hull implements runtime spec 1.x"),
            Some(format!(
                "set \"ociVersion\": {:?}",
                crate::spec::OCI_VERSION
            )),
        ),
        None => {} // the schema pass reported the pattern
    }
}

pub(super) fn root(c: &Ctx, r: &mut Report) {
    let Some(root) = c.get("/root") else {
        r.error(
            "/root",
            "missing: a root filesystem is required",
            Some("add \"root\": {\"path\": \"rootfs\"}".into()),
        );
        return;
    };
    let Some(p) = root.get("path").and_then(Value::as_str) else {
        return;
    };
    let full = c.bundle.join(p);
    match std::fs::metadata(&full) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => r.error(
            "/root/path",
            format!("{} is not a directory", full.display()),
            None,
        ),
        Err(e) => r.error(
            "/root/path",
            format!("rootfs {}: {}", full.display(), crate::error::io_words(&e)),
            Some(if p.starts_with('/') {
                "create the directory or fix the path".to_string()
            } else {
                format!(
                    "relative paths are taken from the bundle directory {}",
                    c.bundle.display()
                )
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Severity, run_rule};
    use super::*;
    use serde_json::json;

    #[test]
    fn only_runtime_spec_1_is_accepted() {
        let v = |s: &str| run_rule(json!({ "ociVersion": s }), version);
        assert_eq!(v("1.0.2"), []);
        assert_eq!(v("1.2.0-rc.1"), []);
        assert_eq!(v("2.0.0"), [("/ociVersion".to_string(), Severity::Error)]);
        assert_eq!(
            v("1.99.0"),
            [("/ociVersion".to_string(), Severity::Warning)]
        );
        // Not a version at all: the schema pass reports it.
        assert_eq!(v("x"), []);
    }
}
