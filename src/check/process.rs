//! `process`: the rules between its fields, and what it asks of the host
//! and rootfs: the program (`args[0]` found on the PATH inside the rootfs,
//! its ELF or script interpreter), capabilities this kernel knows, and the
//! LSM labels.

use super::elf::{self, Exe};
use super::hooks::early_hooks;
use super::mounts::{Resolved, mount_table, resolve};
use super::{Ctx, Report, Severity, suggest};
use serde_json::Value;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

pub(super) fn process(c: &Ctx, r: &mut Report) {
    let Some(p) = c.get("/process") else {
        r.error(
            "/process",
            "missing: `create` needs a process to run",
            Some("add \"process\": {\"args\": [\"sh\"], \"cwd\": \"/\"}".into()),
        );
        return;
    };
    if !p.is_object() {
        return;
    }
    let args = p.get("args").and_then(Value::as_array);
    if args.is_some_and(|a| a.first().and_then(Value::as_str) == Some("")) {
        r.error("/process/args/0", "the program name is empty", None);
    }
    if args.is_none_or(|a| a.is_empty()) && p.get("args").is_none_or(Value::is_array) {
        r.error(
            "/process/args",
            "must hold at least one entry (the program to run)",
            Some("e.g. \"args\": [\"sh\"]".into()),
        );
    }
    if let Some(cwd) = c.str("/process/cwd")
        && !cwd.starts_with('/')
    {
        r.error(
            "/process/cwd",
            format!("{cwd:?} is not an absolute path"),
            Some(format!(
                "use {:?}",
                format!("/{}", cwd.trim_start_matches("./"))
            )),
        );
    }
    for (i, e) in c.items("/process/env") {
        if let Some(s) = e.as_str()
            && !s.contains('=')
        {
            r.warning(
                &format!("/process/env/{i}"),
                format!("{s:?} is not KEY=VALUE"),
                Some(format!("use \"{s}=\" for an empty value")),
            );
        }
    }
    let terminal = c.get("/process/terminal").and_then(Value::as_bool) == Some(true);
    if terminal {
        r.warning(
            "/process/terminal",
            "a terminal is requested: `hull create` will need --console-socket (`hull run` provides its own terminal)",
            Some("set \"terminal\": false to use the caller's stdio".into()),
        );
    } else if c.get("/process/consoleSize").is_some_and(|v| !v.is_null()) {
        r.warning(
            "/process/consoleSize",
            "ignored: process.terminal is not true",
            None,
        );
    }
    // rlimits: known names, soft <= hard, no duplicates.
    let mut seen: Vec<&str> = Vec::new();
    for (i, rl) in c.items("/process/rlimits") {
        let Some(t) = rl.get("type").and_then(Value::as_str) else {
            continue;
        };
        let path = format!("/process/rlimits/{i}");
        if t.starts_with("RLIMIT_") && !RLIMITS.contains(&t) {
            let hint = suggest(t, RLIMITS.iter().copied())
                .map(|s| format!("did you mean {s:?}?"))
                .or_else(|| Some(format!("one of: {}", RLIMITS.join(", "))));
            r.error(
                &format!("{path}/type"),
                format!("unknown rlimit {t:?}"),
                hint,
            );
        }
        if seen.contains(&t) {
            r.error(
                &format!("{path}/type"),
                format!("{t} is listed twice"),
                Some("keep one entry per rlimit type".into()),
            );
        }
        seen.push(t);
        let soft = rl.get("soft").and_then(Value::as_u64);
        let hard = rl.get("hard").and_then(Value::as_u64);
        if let (Some(s), Some(h)) = (soft, hard)
            && s > h
        {
            r.error(
                &format!("{path}/soft"),
                format!(
                    "{t}: soft limit {s} is above the hard limit {h}: setrlimit(2) refuses it (EINVAL)"
                ),
                Some(format!("lower soft to at most {h} or raise hard")),
            );
        }
    }
    // Capabilities: ambient ones must also be permitted and inheritable.
    let set = |name: &str| -> Vec<&str> {
        c.items(&format!("/process/capabilities/{name}"))
            .filter_map(|(_, v)| v.as_str())
            .collect()
    };
    let (permitted, inheritable) = (set("permitted"), set("inheritable"));
    // Without any inheritable capability, ambient is plainly unused (runc's
    // default config lists it that way): only a partial set-up is worth a word.
    let ambient_meant = !inheritable.is_empty();
    for (i, cap) in c.items("/process/capabilities/ambient") {
        let Some(cap) = cap.as_str() else { continue };
        if ambient_meant && (!permitted.contains(&cap) || !inheritable.contains(&cap)) {
            r.warning(
                &format!("/process/capabilities/ambient/{i}"),
                format!("{cap} is not in both the permitted and inheritable sets: the kernel will not raise it"),
                Some("add it to permitted and inheritable, or drop it from ambient".into()),
            );
        }
    }
    if let Some(adj) = c.get("/process/oomScoreAdj").and_then(Value::as_i64)
        && !(-1000..=1000).contains(&adj)
    {
        r.error(
            "/process/oomScoreAdj",
            format!("{adj} is outside -1000..1000"),
            None,
        );
    }
    if let Some(umask) = c.get("/process/user/umask").and_then(Value::as_u64)
        && umask > 0o777
    {
        r.error(
            "/process/user/umask",
            format!("{umask} (octal {umask:o}) is not a umask (0..=0o777, i.e. 0..=511 in JSON)"),
            Some("JSON has no octal: 0o022 is written 18".into()),
        );
    }
}

pub const RLIMITS: &[&str] = &[
    "RLIMIT_AS",
    "RLIMIT_CORE",
    "RLIMIT_CPU",
    "RLIMIT_DATA",
    "RLIMIT_FSIZE",
    "RLIMIT_LOCKS",
    "RLIMIT_MEMLOCK",
    "RLIMIT_MSGQUEUE",
    "RLIMIT_NICE",
    "RLIMIT_NOFILE",
    "RLIMIT_NPROC",
    "RLIMIT_RSS",
    "RLIMIT_RTPRIO",
    "RLIMIT_RTTIME",
    "RLIMIT_SIGPENDING",
    "RLIMIT_STACK",
];

const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

pub(super) fn program(c: &Ctx, r: &mut Report) {
    let Some(rootfs) = c.rootfs.as_deref() else {
        return;
    };
    let Some(arg0) = c.str("/process/args/0").filter(|a| !a.is_empty()) else {
        return;
    };
    let mounts = mount_table(c);
    let env_path = c
        .items("/process/env")
        .find_map(|(_, e)| e.as_str()?.strip_prefix("PATH=").map(String::from));
    let path_var = env_path.clone().unwrap_or_else(|| DEFAULT_PATH.into());
    let cwd = c.str("/process/cwd").unwrap_or("/");
    let candidates: Vec<String> = if arg0.contains('/') {
        vec![if arg0.starts_with('/') {
            arg0.to_string()
        } else {
            format!("{}/{arg0}", cwd.trim_end_matches('/'))
        }]
    } else {
        path_var
            .split(':')
            .filter(|d| !d.is_empty())
            .map(|d| format!("{}/{arg0}", d.trim_end_matches('/')))
            .collect()
    };
    // A missing program is only a warning when a hook may still create it.
    let sev = if early_hooks(c) {
        Severity::Warning
    } else {
        Severity::Error
    };
    let mut unknown = false;
    let mut refused: Option<(String, String)> = None;
    let mut found: Option<(String, PathBuf)> = None;
    let mut missing_at: Option<String> = None;
    for cand in &candidates {
        match resolve(rootfs, &mounts, cand).0 {
            Resolved::Host(p) => match std::fs::metadata(&p) {
                Ok(m) if m.is_dir() => {
                    refused.get_or_insert((cand.clone(), "is a directory".into()));
                }
                Ok(m) if m.permissions().mode() & 0o111 == 0 => {
                    refused.get_or_insert((
                        cand.clone(),
                        format!(
                            "is not executable (mode {:04o})",
                            m.permissions().mode() & 0o7777
                        ),
                    ));
                }
                Ok(_) => {
                    found = Some((cand.clone(), p));
                    break;
                }
                Err(_) => {}
            },
            Resolved::Unknown | Resolved::Loop => unknown = true,
            Resolved::Missing(p) | Resolved::NotDir(p) => {
                missing_at.get_or_insert(p);
            }
        }
    }
    let at = "/process/args/0";
    let Some((cand, host)) = found else {
        if unknown {
            return;
        }
        if let Some((cand, why)) = refused {
            let hint = if why.starts_with("is not executable") {
                format!("chmod +x rootfs{cand}")
            } else {
                "name the program, not its directory".into()
            };
            r.push(sev, at, format!("{arg0:?}: {cand} {why}"), Some(hint));
        } else if arg0.contains('/') {
            r.push(
                sev,
                at,
                match missing_at.filter(|m| m != &candidates[0]) {
                    Some(m) => format!("{arg0:?}: no such file in the rootfs ({m} is missing)"),
                    None => format!("{arg0:?}: no such file in the rootfs"),
                },
                Some("install the program in the rootfs, or fix the path".into()),
            );
        } else {
            r.push(
                sev,
                at,
                format!("{arg0:?}: not found in rootfs (PATH={path_var})"),
                Some(if env_path.is_none() {
                    "process.env has no PATH: the default one was searched; install the program or give its absolute path".into()
                } else {
                    "install the program in the rootfs, add its directory to PATH in process.env, or give an absolute path".into()
                }),
            );
        }
        return;
    };
    let exe = match std::fs::File::open(&host) {
        Ok(mut f) => elf::inspect(&mut f),
        Err(_) => return,
    };
    let interp = match exe {
        Ok(Exe::Elf { interp: Some(i) }) => (i, "ELF interpreter"),
        Ok(Exe::Script { interp }) if interp.is_empty() => {
            r.push(
                sev,
                at,
                format!("{arg0:?}: {cand} starts with \"#!\" but names no interpreter"),
                None,
            );
            return;
        }
        Ok(Exe::Script { interp }) => (interp, "script interpreter"),
        Ok(Exe::Elf { interp: None }) => return,
        Ok(Exe::Unknown) => {
            r.warning(
                at,
                format!("{arg0:?}: {cand} is neither an ELF program nor a #! script: exec(2) will fail with ENOEXEC unless binfmt_misc knows it"),
                None,
            );
            return;
        }
        Err(e) => {
            r.push(sev, at, format!("{arg0:?}: {cand}: {e}"), None);
            return;
        }
    };
    let (interp, what) = interp;
    let missing = match resolve(rootfs, &mounts, &interp).0 {
        Resolved::Host(p) => !p.exists(),
        Resolved::Missing(_) | Resolved::NotDir(_) => true,
        Resolved::Unknown | Resolved::Loop => false,
    };
    if missing {
        let hint = if what == "ELF interpreter" {
            "copy the dynamic loader and the libraries the program needs (see ldd) into the rootfs, or use a statically linked program"
        } else {
            "install the interpreter in the rootfs, or fix the #! line"
        };
        r.push(
            sev,
            at,
            format!("{arg0:?}: {cand} needs the {what} {interp}, which is missing from the rootfs (exec would fail with ENOENT)"),
            Some(hint.into()),
        );
    }
}

pub(super) fn capabilities(c: &Ctx, r: &mut Report) {
    use std::str::FromStr;
    let last = crate::security::capabilities::last_cap();
    let names: Vec<String> = caps::all().iter().map(|c| c.to_string()).collect();
    for set in [
        "bounding",
        "permitted",
        "effective",
        "inheritable",
        "ambient",
    ] {
        for (i, v) in c.items(&format!("/process/capabilities/{set}")) {
            let Some(name) = v.as_str() else { continue };
            if !name.starts_with("CAP_") {
                continue; // the schema pass reported the pattern
            }
            let at = format!("/process/capabilities/{set}/{i}");
            match caps::Capability::from_str(name) {
                Ok(cap) if cap.index() > last => r.warning(
                    &at,
                    format!(
                        "{name} (number {}) is unknown to this kernel (cap_last_cap is {last}): it is skipped",
                        cap.index()
                    ),
                    None,
                ),
                Ok(_) => {}
                Err(_) => r.error(
                    &at,
                    format!("unknown capability {name:?}"),
                    suggest(name, names.iter().map(String::as_str))
                        .map(|s| format!("did you mean {s:?}?")),
                ),
            }
        }
    }
}

/// AppArmor and SELinux labels need their LSM on this host.
pub(super) fn lsm(c: &Ctx, r: &mut Report) {
    use crate::security::lsm;
    let asked = |p: &str| {
        c.get(p)
            .and_then(Value::as_str)
            .is_some_and(|s| !s.is_empty())
    };
    if asked("/process/apparmorProfile") && !lsm::apparmor_enabled() {
        r.error(
            "/process/apparmorProfile",
            lsm::APPARMOR_ABSENT,
            Some(lsm::APPARMOR_HINT.into()),
        );
    }
    if !lsm::selinux_enabled() {
        if asked("/process/selinuxLabel") {
            r.error(
                "/process/selinuxLabel",
                lsm::SELINUX_ABSENT,
                Some(lsm::SELINUX_HINT.into()),
            );
        }
        if asked("/linux/mountLabel") {
            r.warning("/linux/mountLabel", lsm::MOUNT_LABEL_IGNORED, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::errors_of;
    use super::*;
    use serde_json::json;

    #[test]
    fn a_process_needs_a_program_and_an_absolute_cwd() {
        assert_eq!(errors_of(json!({}), process), ["/process"]);
        let p = |p: Value| errors_of(json!({ "process": p }), process);
        assert_eq!(
            p(json!({ "args": ["sh"], "cwd": "/" })),
            Vec::<String>::new()
        );
        assert_eq!(p(json!({ "args": [], "cwd": "/" })), ["/process/args"]);
        assert_eq!(p(json!({ "args": [""], "cwd": "/" })), ["/process/args/0"]);
        assert_eq!(p(json!({ "args": ["sh"], "cwd": "tmp" })), ["/process/cwd"]);
    }
}
