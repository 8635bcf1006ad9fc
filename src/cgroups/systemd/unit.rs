//! `linux.cgroupsPath` in the systemd driver's form, `slice:prefix:name`:
//! the container lives in the transient scope `prefix-name.scope` inside
//! `slice`, whose cgroup is the slice's expanded path plus the unit name.

use crate::error::{Error, Result};

/// Where a container goes under the systemd driver.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnitPath {
    /// The parent slice unit, e.g. "kubepods-burstable-pod1.slice".
    pub slice: String,
    /// The scope unit, e.g. "cri-containerd-ID.scope".
    pub unit: String,
    /// The cgroup relative to the manager's root:
    /// "/kubepods.slice/kubepods-burstable.slice/.../cri-containerd-ID.scope".
    pub cgroup: String,
}

/// The slice when `cgroupsPath` is absent or names none (as runc).
pub fn default_slice(rootless: bool) -> &'static str {
    if rootless {
        "user.slice"
    } else {
        "system.slice"
    }
}

/// Parses `slice:prefix:name` (an empty slice is the default one, an empty
/// name the container id). An absent or empty path is
/// `<default slice>:hull:<id>`.
pub fn parse(path: Option<&str>, id: &str, rootless: bool) -> Result<UnitPath> {
    let field = |p: &str, why: &str| {
        Error::msg(format!(
            "linux.cgroupsPath {p:?}: {why} (--systemd-cgroup wants \"slice:prefix:name\", e.g. \"system.slice:hull:{id}\")"
        ))
    };
    let p = path.unwrap_or("");
    let (slice, prefix, name) = if p.is_empty() {
        ("", "hull", id)
    } else {
        let parts: Vec<&str> = p.split(':').collect();
        if parts.len() != 3 {
            return Err(field(p, "not of the form slice:prefix:name"));
        }
        (parts[0], parts[1], parts[2])
    };
    let slice = if slice.is_empty() {
        default_slice(rootless)
    } else {
        slice
    };
    let name = if name.is_empty() { id } else { name };
    if name.ends_with(".slice") {
        return Err(field(
            p,
            "a slice as the container's own unit is not supported; name a scope",
        ));
    }
    let unit = if prefix.is_empty() {
        format!("{name}.scope")
    } else {
        format!("{prefix}-{name}.scope")
    };
    if !valid_unit_name(&unit) {
        return Err(field(
            p,
            &format!(
                "{unit:?} is not a valid systemd unit name (letters, digits and \":-_.\\\" only, at most 255 bytes)"
            ),
        ));
    }
    let dir = expand_slice(slice).map_err(|why| field(p, &why))?;
    Ok(UnitPath {
        slice: slice.to_string(),
        cgroup: format!("{}/{unit}", dir.trim_end_matches('/')),
        unit,
    })
}

/// A slice's cgroup path as systemd lays it out: each dash opens a level,
/// so "a-b-c.slice" is "/a.slice/a-b.slice/a-b-c.slice"; "-.slice" is the
/// root.
pub fn expand_slice(slice: &str) -> std::result::Result<String, String> {
    let Some(base) = slice.strip_suffix(".slice") else {
        return Err(format!("slice {slice:?} does not end in \".slice\""));
    };
    if !valid_unit_name(slice) || slice.contains('@') {
        return Err(format!("slice {slice:?} is not a valid slice name"));
    }
    if base == "-" {
        return Ok("/".into());
    }
    if base.is_empty() || base.starts_with('-') || base.ends_with('-') || base.contains("--") {
        return Err(format!(
            "slice {slice:?} is malformed (an empty part between dashes)"
        ));
    }
    let mut path = String::new();
    let mut prefix = String::new();
    for part in base.split('-') {
        if !prefix.is_empty() {
            prefix.push('-');
        }
        prefix.push_str(part);
        path.push('/');
        path.push_str(&prefix);
        path.push_str(".slice");
    }
    Ok(path)
}

/// systemd's unit name rules: [A-Za-z0-9:_.\-] (and '@' for templates),
/// non-empty, at most 255 bytes.
fn valid_unit_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b":_.\\-@".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slices_expand_level_by_level() {
        assert_eq!(expand_slice("system.slice").unwrap(), "/system.slice");
        assert_eq!(expand_slice("-.slice").unwrap(), "/");
        assert_eq!(
            expand_slice("kubepods-burstable-pod123.slice").unwrap(),
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice"
        );
        for bad in [
            "system",
            "a--b.slice",
            "-a.slice",
            "a-.slice",
            ".slice",
            "a/b.slice",
            "a b.slice",
        ] {
            assert!(expand_slice(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn paths_name_a_scope_in_a_slice() {
        let u = parse(
            Some("kubepods-burstable-pod123.slice:cri-containerd:abc"),
            "abc",
            false,
        )
        .unwrap();
        assert_eq!(u.unit, "cri-containerd-abc.scope");
        assert_eq!(u.slice, "kubepods-burstable-pod123.slice");
        assert_eq!(
            u.cgroup,
            "/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod123.slice/cri-containerd-abc.scope"
        );
        let d = parse(None, "x", false).unwrap();
        assert_eq!(
            (d.slice.as_str(), d.unit.as_str(), d.cgroup.as_str()),
            ("system.slice", "hull-x.scope", "/system.slice/hull-x.scope")
        );
        assert_eq!(parse(Some("::y"), "x", true).unwrap().unit, "y.scope");
        assert_eq!(parse(Some("::"), "x", true).unwrap().slice, "user.slice");
        assert_eq!(
            parse(Some("-.slice:p:n"), "x", false).unwrap().cgroup,
            "/p-n.scope"
        );
        let e = parse(Some("/abs/path"), "x", false)
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("linux.cgroupsPath") && e.contains("slice:prefix:name"),
            "{e}"
        );
        let e = parse(Some("a--b.slice:p:n"), "x", false)
            .unwrap_err()
            .to_string();
        assert!(e.contains("malformed"), "{e}");
        assert!(parse(Some("system.slice:p:n/m"), "x", false).is_err());
        assert!(parse(Some("system.slice:p:n.slice"), "x", false).is_err());
    }
}
