//! `linux.seccomp`: actions, architectures, syscall names and flags.

use super::{Ctx, Report, suggest};
use serde_json::Value;

pub(super) fn seccomp(c: &Ctx, r: &mut Report) {
    let Some(s) = c.get("/linux/seccomp").filter(|v| v.is_object()) else {
        return;
    };
    if crate::security::seccomp_features()["enabled"] != Value::Bool(true) {
        r.warning(
            "/linux/seccomp",
            "this build of hull does not apply seccomp filters yet: the container will run unfiltered",
            None,
        );
    }
    let known = syscall_names();
    let errno_actions = ["SCMP_ACT_ERRNO", "SCMP_ACT_TRACE"];
    if s.get("defaultErrnoRet").is_some()
        && !s
            .get("defaultAction")
            .and_then(Value::as_str)
            .is_some_and(|a| errno_actions.contains(&a))
    {
        r.warning(
            "/linux/seccomp/defaultErrnoRet",
            "ignored: defaultAction is neither SCMP_ACT_ERRNO nor SCMP_ACT_TRACE",
            None,
        );
    }
    let notify = |a: Option<&str>| a == Some("SCMP_ACT_NOTIFY");
    let mut uses_notify = notify(s.get("defaultAction").and_then(Value::as_str));
    for (i, sc) in c.items("/linux/seccomp/syscalls") {
        let path = format!("/linux/seccomp/syscalls/{i}");
        let action = sc.get("action").and_then(Value::as_str);
        uses_notify |= notify(action);
        if let Some(names) = sc.get("names").and_then(Value::as_array) {
            if names.is_empty() {
                r.error(
                    &format!("{path}/names"),
                    "must hold at least one system call name",
                    None,
                );
            }
            for (j, n) in names.iter().enumerate() {
                let Some(n) = n.as_str() else { continue };
                if let Some(known) = &known
                    && !known.contains(&n)
                {
                    let hint = suggest(n, known.iter().copied())
                        .map(|s| format!("did you mean {s:?}?"))
                        .unwrap_or_else(|| {
                            "unknown names are skipped, as other runtimes do".into()
                        });
                    r.warning(
                        &format!("{path}/names/{j}"),
                        format!("{n:?} is not a system call of this architecture"),
                        Some(hint),
                    );
                }
            }
        }
        if sc.get("errnoRet").is_some() && !action.is_some_and(|a| errno_actions.contains(&a)) {
            r.warning(
                &format!("{path}/errnoRet"),
                "ignored: the action is neither SCMP_ACT_ERRNO nor SCMP_ACT_TRACE",
                None,
            );
        }
        for (j, a) in sc
            .get("args")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            if let Some(idx) = a.get("index").and_then(Value::as_u64)
                && idx > 5
            {
                r.error(
                    &format!("{path}/args/{j}/index"),
                    format!("{idx}: system calls have arguments 0 to 5"),
                    None,
                );
            }
            if a.get("op").and_then(Value::as_str) == Some("SCMP_CMP_MASKED_EQ")
                && a.get("valueTwo").is_none()
            {
                r.warning(
                    &format!("{path}/args/{j}/valueTwo"),
                    "SCMP_CMP_MASKED_EQ compares (arg & value) with valueTwo, which is missing (0)",
                    None,
                );
            }
        }
    }
    if uses_notify && s.get("listenerPath").and_then(Value::as_str).is_none() {
        r.error(
            "/linux/seccomp/listenerPath",
            "SCMP_ACT_NOTIFY needs listenerPath (a unix socket for the seccomp agent)",
            None,
        );
    }
}

/// System call names of the host architecture: the table seccomp
/// compiles against, so `check` and `create` agree on what is known.
fn syscall_names() -> Option<Vec<&'static str>> {
    cfg!(target_arch = "x86_64").then(crate::security::seccomp::native_syscall_names)
}

#[cfg(test)]
mod tests {
    use super::super::errors_of;
    use super::*;
    use serde_json::json;

    #[test]
    fn notify_needs_a_listener() {
        let s = |s: Value| errors_of(json!({ "linux": { "seccomp": s } }), seccomp);
        assert_eq!(
            s(json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                { "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }
            ] })),
            ["/linux/seccomp/listenerPath"]
        );
        assert_eq!(
            s(
                json!({ "defaultAction": "SCMP_ACT_ALLOW", "listenerPath": "/run/agent.sock",
                "syscalls": [{ "names": ["mkdir"], "action": "SCMP_ACT_NOTIFY" }] })
            ),
            Vec::<String>::new()
        );
        assert_eq!(
            s(json!({ "defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
                { "names": [], "action": "SCMP_ACT_ERRNO" }
            ] })),
            ["/linux/seccomp/syscalls/0/names"]
        );
    }
}
