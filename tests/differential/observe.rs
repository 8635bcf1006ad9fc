//! What is observed, and how it is normalised so that two runtimes' runs
//! compare: the in-container probe, `state`/`list`/`ps`/`events` output,
//! the runtime's own diagnostics, files, cgroup files, and the view of the
//! container's init from the host.

use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

/// The probe: the container's process (or an exec'd one) prints its own
/// view, section by section. `$$` is the probed process itself (the shell),
/// not a child, so caps and ids are the runtime's doing.
pub const PROBE: &str = r#"p=$$
echo @@status; cat /proc/$p/status
echo @@cwd; pwd
echo @@hostname; hostname
echo @@env; env | sort
echo @@cgroup; cat /proc/$p/cgroup
echo @@mounts; cat /proc/$p/mountinfo
echo @@limits; cat /proc/$p/limits
echo @@fds; ls -l /proc/$p/fd
echo @@stdio; for f in 0 1 2; do [ -t $f ] && stat -L -c "$f %u:%g %a" /proc/$p/fd/$f; done
echo @@oom; cat /proc/$p/oom_score_adj
echo @@end"#;

/// The probe without the mount table (for containers that share the
/// host's mount namespace, whose table other tests change meanwhile).
pub const PROBE_NO_MOUNTS: &str = r#"p=$$
echo @@status; cat /proc/$p/status
echo @@cwd; pwd
echo @@hostname; hostname
echo @@env; env | sort
echo @@cgroup; cat /proc/$p/cgroup
echo @@limits; cat /proc/$p/limits
echo @@stdio; for f in 0 1 2; do [ -t $f ] && stat -L -c "$f %u:%g %a" /proc/$p/fd/$f; done
echo @@oom; cat /proc/$p/oom_score_adj
echo @@end"#;

/// Probe output -> (aspect, value).
pub fn parse_probe(out: &str) -> Vec<(String, String)> {
    let mut sections: Vec<(String, Vec<String>)> = vec![("preamble".into(), Vec::new())];
    for line in out.lines() {
        if let Some(name) = line.strip_prefix("@@") {
            sections.push((name.trim().to_string(), Vec::new()));
        } else {
            sections.last_mut().unwrap().1.push(line.to_string());
        }
    }
    let mut v = Vec::new();
    let complete = sections.iter().any(|(n, _)| n == "end");
    v.push((
        "probe".into(),
        if complete {
            "complete"
        } else {
            "<did not complete>"
        }
        .into(),
    ));
    for (name, lines) in sections {
        match name.as_str() {
            "preamble" | "end" => {
                let t = lines.join("\n").trim().to_string();
                if !t.is_empty() {
                    v.push((name, t));
                }
            }
            "status" => {
                let field = |k: &str| {
                    lines
                        .iter()
                        .filter(|l| l.split(':').next() == Some(k))
                        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                v.push(("uid".into(), field("Uid")));
                v.push(("gid".into(), field("Gid")));
                v.push(("groups".into(), field("Groups")));
                v.push(("umask".into(), field("Umask")));
                for k in ["CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"] {
                    v.push((format!("caps.{k}"), field(k)));
                }
                v.push(("no_new_privs".into(), field("NoNewPrivs")));
                v.push((
                    "seccomp".into(),
                    format!(
                        "mode={} filters={}",
                        field("Seccomp"),
                        field("Seccomp_filters")
                    ),
                ));
            }
            "mounts" => {
                // One key per mount point (so a listed difference in one
                // mount does not hide others) plus their order.
                let table = normalise_mountinfo(&lines);
                let mut order = Vec::new();
                for l in table.lines() {
                    let (mp, rest) = l.split_once(' ').unwrap_or((l, ""));
                    let n = order.iter().filter(|m: &&String| m.as_str() == mp).count();
                    let key = if n == 0 {
                        format!("mount:{mp}")
                    } else {
                        format!("mount:{mp}#{}", n + 1)
                    };
                    order.push(mp.to_string());
                    v.push((key, rest.to_string()));
                }
                v.push(("mounts".into(), mount_order(&order)));
            }
            "env" => {
                let mut names = Vec::new();
                for l in &lines {
                    let (k, val) = l.split_once('=').unwrap_or((l, ""));
                    names.push(k.to_string());
                    v.push((format!("env.{k}"), val.to_string()));
                }
                v.push(("env".into(), names.join(" ")));
            }
            "limits" => {
                for l in lines.iter().skip(1) {
                    let name = l.get(..26).unwrap_or(l).trim();
                    let vals = l
                        .get(26..)
                        .unwrap_or("")
                        .split_whitespace()
                        .collect::<Vec<_>>();
                    v.push((format!("limit.{name}"), vals.join(" ")));
                }
            }
            "fds" => {
                let mut fds = Vec::new();
                for (a, b) in lines.iter().filter_map(|l| l.split_once(" -> ")) {
                    let fd = a.split_whitespace().last().unwrap_or("?");
                    fds.push(fd.to_string());
                    v.push((format!("fd.{fd}"), mask_brackets(b)));
                }
                v.push(("fds".into(), fds.join(" ")));
            }
            _ => v.push((name, lines.join("\n").trim_end().to_string())),
        }
    }
    v
}

/// The order of mount points, with each run of siblings (same parent
/// directory, e.g. the device binds in /dev) sorted: only the order of
/// nested mounts changes what the container sees.
fn mount_order(points: &[String]) -> String {
    let parent = |p: &str| {
        p.rsplit_once('/')
            .map(|(a, _)| a.to_string())
            .unwrap_or_default()
    };
    let mut out: Vec<String> = Vec::new();
    let mut run: Vec<String> = Vec::new();
    for p in points {
        if let Some(last) = run.last()
            && parent(last) != parent(p)
        {
            run.sort();
            out.append(&mut run);
        }
        run.push(p.clone());
    }
    run.sort();
    out.append(&mut run);
    out.join(" ")
}

/// `pipe:[1234]` -> `pipe:[N]`.
fn mask_brackets(s: &str) -> String {
    match (s.find('['), s.rfind(']')) {
        (Some(a), Some(b)) if a < b => format!("{}[N]{}", &s[..a], &s[b + 1..]),
        _ => s.to_string(),
    }
}

/// mountinfo without ids, device numbers and peer-group numbers:
/// `mountpoint root fstype source mount-options super-options propagation`.
pub fn normalise_mountinfo(lines: &[String]) -> String {
    let mut out = Vec::new();
    for l in lines {
        let f: Vec<&str> = l.split(' ').collect();
        let Some(dash) = f.iter().position(|x| *x == "-") else {
            continue;
        };
        if f.len() < dash + 4 || dash < 6 {
            continue;
        }
        let prop: Vec<&str> = f[6..dash]
            .iter()
            .map(|t| t.split(':').next().unwrap_or(""))
            .collect();
        out.push(format!(
            "{} root={} {} {} {} {} [{}]",
            f[4],
            f[3],
            f[dash + 1],
            f[dash + 2],
            f[5],
            f[dash + 3],
            prop.join(",")
        ));
    }
    out.join("\n")
}

fn normalise_json_field(k: &str, v: &Value) -> String {
    match (k, v) {
        ("pid", Value::Number(n)) if n.as_i64().unwrap_or(0) > 0 => "<pid>".into(),
        ("created", Value::String(_)) => "<time>".into(),
        (_, Value::String(s)) => s.clone(),
        _ => v.to_string(),
    }
}

/// `state` JSON -> one key per field.
pub fn parse_state(out: &str) -> Vec<(String, String)> {
    if out.trim().is_empty() {
        return vec![("state".into(), String::new())];
    }
    match serde_json::from_str::<Value>(out) {
        Ok(Value::Object(m)) => m
            .iter()
            .map(|(k, v)| (format!("state.{k}"), normalise_json_field(k, v)))
            .collect(),
        _ => vec![("state".into(), format!("<not a JSON object> {out}"))],
    }
}

/// `list --format json`: one key per entry and field.
pub fn parse_list(out: &str) -> Vec<(String, String)> {
    match serde_json::from_str::<Value>(out) {
        Ok(Value::Array(a)) => {
            let mut v = vec![("list".to_string(), format!("{} entries", a.len()))];
            for (i, e) in a.iter().enumerate() {
                if let Value::Object(m) = e {
                    for (k, val) in m {
                        v.push((format!("list.{i}.{k}"), normalise_json_field(k, val)));
                    }
                }
            }
            v
        }
        Ok(Value::Null) => vec![("list".into(), "null".into())],
        _ => vec![("list".into(), format!("<not a JSON array> {}", out.trim()))],
    }
}

pub fn parse_ps(out: &str) -> String {
    match serde_json::from_str::<Value>(out) {
        Ok(Value::Array(a)) => format!("{} processes", a.len()),
        _ => format!("<not a JSON array> {}", out.trim()),
    }
}

/// `events --stats`: the type and the shape of its data (keys two levels
/// deep), not the values.
pub fn parse_events(out: &str) -> String {
    let Some(first) = out.lines().find(|l| !l.trim().is_empty()) else {
        return String::new();
    };
    let Ok(v) = serde_json::from_str::<Value>(first) else {
        return format!("<not JSON> {first}");
    };
    let mut s = format!("type={}", v["type"]);
    if let Value::Object(d) = &v["data"] {
        for (k, sub) in d {
            let subkeys: Vec<&String> = match sub {
                Value::Object(m) => m.keys().collect(),
                _ => Vec::new(),
            };
            s.push_str(&format!("\n{k}: {subkeys:?}"));
        }
    }
    s
}

/// `--version`: what each line is about, not the values.
pub fn parse_version(out: &str) -> String {
    out.lines()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                let w: Vec<&str> = l.split_whitespace().collect();
                format!("<name> {}", w.get(1).unwrap_or(&""))
            } else {
                l.split(':').next().unwrap_or("").trim().to_string()
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Split a runtime's stderr into the levels of its own diagnostic lines
/// (their wording differs between runtimes and is not compared) and the
/// rest (what the container process wrote).
pub fn split_diagnostics(err: &str) -> (String, String) {
    let mut levels = Vec::new();
    let mut rest = Vec::new();
    for l in err.lines() {
        let l2 = l.trim_start_matches('\0');
        let level = if l2.starts_with("time=\"") {
            l2.split(" level=")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .map(|s| s.to_string())
        } else if let Some(r) = l2.strip_prefix("hull: ") {
            Some(if r.starts_with("warning") {
                "warning".into()
            } else {
                "error".into()
            })
        } else if l2.starts_with("{\"level\"") {
            serde_json::from_str::<Value>(l2)
                .ok()
                .and_then(|v| v["level"].as_str().map(|s| s.to_string()))
        } else {
            None
        };
        match level {
            Some(lv) => levels.push(match lv.as_str() {
                "warn" => "warning".to_string(),
                _ => lv,
            }),
            None => rest.push(l),
        }
    }
    // Whether the runtime reported an error, not how often or what else:
    // warnings are each runtime's own (runc adds deprecation warnings, and
    // some only on a loaded machine).
    let summary = if levels.iter().any(|l| l == "error" || l == "fatal") {
        "error"
    } else {
        ""
    };
    (summary.to_string(), rest.join("\n"))
}

/// A file's content as (key suffix, value): a bare number (a pid file) is
/// masked; a JSON object (the state a hook got) gives one key per field,
/// pid and created masked.
pub fn normalise_file(s: &str) -> Vec<(String, String)> {
    let t = s.trim();
    if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) {
        return vec![(String::new(), "<number>".into())];
    }
    if t.starts_with('{')
        && let Ok(Value::Object(m)) = serde_json::from_str::<Value>(t)
    {
        let mut v = vec![(String::new(), "<JSON object>".to_string())];
        for (k, val) in &m {
            v.push((format!(".{k}"), normalise_json_field(k, val)));
        }
        return v;
    }
    vec![(String::new(), s.to_string())]
}

fn cgroup_root_is_v2() -> bool {
    nix::sys::statfs::statfs("/sys/fs/cgroup")
        .map(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC)
        .unwrap_or(false)
}

/// A cgroup file of the container's cgroup (v1 name: the controller is
/// the part before the first dot).
pub fn read_cgroup_file(cgroup: &str, file: &str) -> String {
    let rel = cgroup.trim_start_matches('/');
    let dir = if cgroup_root_is_v2() {
        PathBuf::from("/sys/fs/cgroup").join(rel)
    } else {
        let ctrl = file.split('.').next().unwrap_or("");
        PathBuf::from("/sys/fs/cgroup").join(ctrl).join(rel)
    };
    if !dir.exists() {
        return "<no cgroup>".into();
    }
    match fs::read_to_string(dir.join(file)) {
        Ok(s) => s.trim().to_string(),
        Err(e) => format!("<unreadable: {}>", e.kind()),
    }
}

/// Every hierarchy's directory for `path` (symlinked aliases skipped).
fn hierarchy_dirs(path: &str) -> Vec<PathBuf> {
    let rel = path.trim_start_matches('/');
    if cgroup_root_is_v2() {
        return vec![PathBuf::from("/sys/fs/cgroup").join(rel)];
    }
    let mut v = Vec::new();
    if let Ok(rd) = fs::read_dir("/sys/fs/cgroup") {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                v.push(e.path().join(rel));
            }
        }
    }
    v
}

fn subdirs(p: &Path, out: &mut Vec<PathBuf>) {
    if let Ok(rd) = fs::read_dir(p) {
        for e in rd.flatten() {
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                out.push(e.path());
                subdirs(&e.path(), out);
            }
        }
    }
}

/// Remove the scenario's cgroup parent in every hierarchy; returns the
/// cgroups a runtime left below it (`hierarchy:path`).
pub fn remove_cgroups(parent: &str) -> Vec<String> {
    let mut left = Vec::new();
    for d in hierarchy_dirs(parent) {
        if !d.exists() {
            continue;
        }
        let mut subs = Vec::new();
        subdirs(&d, &mut subs);
        for s in &subs {
            let h = d
                .strip_prefix("/sys/fs/cgroup")
                .ok()
                .and_then(|p| p.components().next())
                .map(|c| c.as_os_str().to_string_lossy().to_string())
                .unwrap_or_default();
            left.push(format!("{h}:{}", s.to_string_lossy()));
        }
        for s in subs.iter().rev() {
            kill_cgroup_procs(s);
            let _ = fs::remove_dir(s);
        }
        let _ = fs::remove_dir(&d);
    }
    left.sort();
    left
}

fn kill_cgroup_procs(dir: &Path) {
    if let Ok(s) = fs::read_to_string(dir.join("cgroup.procs")) {
        for pid in s.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
            // SAFETY: kill(2) of a process in this scenario's own cgroup.
            unsafe { libc::kill(pid, libc::SIGKILL) };
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The container's init seen from the host.
pub fn outside(pid: i32) -> Vec<(String, String)> {
    if pid <= 0 {
        return vec![("pid".into(), "none".into())];
    }
    let ns: Vec<String> = ["cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts"]
        .iter()
        .map(|n| {
            let mine = fs::read_link(format!("/proc/self/ns/{n}")).ok();
            let theirs = fs::read_link(format!("/proc/{pid}/ns/{n}")).ok();
            let how = match (mine, theirs) {
                (_, None) => "?",
                (Some(a), Some(b)) if a == b => "host",
                _ => "own",
            };
            format!("{n}={how}")
        })
        .collect();
    let read = |f: &str| {
        fs::read_to_string(format!("/proc/{pid}/{f}"))
            .map(|s| {
                s.lines()
                    .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
                    .collect::<Vec<_>>()
                    .join("\n")
            })
            .unwrap_or_else(|e| format!("<{}>", e.kind()))
    };
    let status = read("status");
    let ids: Vec<&str> = status
        .lines()
        .filter(|l| l.starts_with("Uid:") || l.starts_with("Gid:") || l.starts_with("Groups:"))
        .collect();
    vec![
        ("ns".into(), ns.join(" ")),
        ("uid_map".into(), read("uid_map")),
        ("gid_map".into(), read("gid_map")),
        ("setgroups".into(), read("setgroups")),
        ("cgroup".into(), read("cgroup")),
        ("ids".into(), ids.join("\n")),
        ("oom_score_adj".into(), read("oom_score_adj")),
    ]
}
