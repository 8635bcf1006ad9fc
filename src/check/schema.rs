//! The shape rules of the OCI config schema (types, required fields, enums,
//! patterns), written as a small table hull walks over the raw JSON value so
//! that every violation is reported, not only the first one serde meets.
//! The table follows schema/config-schema.json, config-linux.json and
//! defs*.json of runtime-spec 1.3; fields it does not know are warned about.

use super::{Report, suggest};
use serde_json::Value;

/// A pattern check: `None` when the string is fine, else the message and an optional hint.
type Pattern = fn(&str) -> Option<(String, Option<String>)>;

pub enum T {
    /// Anything (fields hull does not inspect further).
    Any,
    Str,
    Bool,
    U16,
    U32,
    U64,
    I32,
    I64,
    /// Any JSON number.
    Num,
    /// A string matching a pattern.
    Pat(Pattern),
    /// A string out of a fixed list; the name is used in messages.
    Enum(&'static str, &'static [&'static str]),
    Arr(&'static T),
    /// An object with known fields; unknown fields are warnings.
    Obj(&'static [F]),
    /// An object with arbitrary keys whose values all have one type.
    Map(&'static T),
}

pub struct F {
    pub name: &'static str,
    pub req: bool,
    pub t: T,
}

const fn o(name: &'static str, t: T) -> F {
    F {
        name,
        req: false,
        t,
    }
}

const fn r(name: &'static str, t: T) -> F {
    F { name, req: true, t }
}

// ---------------------------------------------------------------------------
// Patterns
// ---------------------------------------------------------------------------

fn semver(s: &str) -> Option<(String, Option<String>)> {
    let core = s.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    let ok = parts.len() == 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
        && s[core.len()..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-+.".contains(&b));
    (!ok).then(|| {
        (
            format!("{s:?} is not a semantic version (MAJOR.MINOR.PATCH)"),
            Some(format!("use e.g. {:?}", crate::spec::OCI_VERSION)),
        )
    })
}

fn abs_path(s: &str) -> Option<(String, Option<String>)> {
    (!s.starts_with('/')).then(|| {
        (
            format!("{s:?} is not an absolute path"),
            Some(format!(
                "use {:?}",
                format!("/{}", s.trim_start_matches("./"))
            )),
        )
    })
}

fn capability(s: &str) -> Option<(String, Option<String>)> {
    let ok = s.len() > 4
        && s.starts_with("CAP_")
        && s[4..]
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
    (!ok).then(|| {
        let fixed = format!("CAP_{}", s.trim_start_matches("CAP_").to_ascii_uppercase());
        (
            format!("{s:?} is not a capability name (CAP_[A-Z_]+)"),
            Some(format!("use {fixed:?}")),
        )
    })
}

fn rlimit_type(s: &str) -> Option<(String, Option<String>)> {
    let ok =
        s.len() > 7 && s.starts_with("RLIMIT_") && s[7..].bytes().all(|b| b.is_ascii_uppercase());
    (!ok).then(|| {
        let fixed = format!(
            "RLIMIT_{}",
            s.trim_start_matches("RLIMIT_").to_ascii_uppercase()
        );
        (
            format!("{s:?} is not an rlimit type (RLIMIT_[A-Z]+)"),
            Some(format!("use {fixed:?}")),
        )
    })
}

fn device_type(s: &str) -> Option<(String, Option<String>)> {
    (!matches!(s, "c" | "b" | "u" | "p")).then(|| {
        (
            format!("{s:?} is not a device type"),
            Some("use \"c\" (character), \"b\" (block), \"u\" (unbuffered) or \"p\" (fifo)".into()),
        )
    })
}

fn cgroup_device_type(s: &str) -> Option<(String, Option<String>)> {
    (!matches!(s, "a" | "c" | "b")).then(|| {
        (
            format!("{s:?} is not a device cgroup type"),
            Some("use \"a\" (all), \"c\" or \"b\"".into()),
        )
    })
}

fn device_access(s: &str) -> Option<(String, Option<String>)> {
    let ok = !s.is_empty() && s.len() <= 3 && s.bytes().all(|b| b"rwm".contains(&b));
    (!ok).then(|| {
        (
            format!("{s:?} is not a device access string"),
            Some("use a combination of r, w and m, e.g. \"rwm\"".into()),
        )
    })
}

fn cpu_list(s: &str) -> Option<(String, Option<String>)> {
    (!s.bytes().all(|b| b.is_ascii_digit() || b", -".contains(&b))).then(|| {
        (
            format!("{s:?} is not a CPU list"),
            Some("use e.g. \"0-3,6\"".into()),
        )
    })
}

fn page_size(s: &str) -> Option<(String, Option<String>)> {
    let ok = s.len() >= 3
        && s.ends_with('B')
        && matches!(s.as_bytes()[s.len() - 2], b'K' | b'M' | b'G')
        && s.as_bytes()[0] != b'0'
        && s[..s.len() - 2].bytes().all(|b| b.is_ascii_digit());
    (!ok).then(|| {
        (
            format!("{s:?} is not a page size"),
            Some("use e.g. \"2MB\" or \"1GB\"".into()),
        )
    })
}

// ---------------------------------------------------------------------------
// The table
// ---------------------------------------------------------------------------

const STRS: T = T::Arr(&T::Str);
const ABS_PATHS: T = T::Arr(&T::Pat(abs_path));
const CAPS: T = T::Arr(&T::Pat(capability));

pub const NAMESPACE_TYPES: &[&str] = &[
    "mount", "pid", "network", "uts", "ipc", "user", "cgroup", "time",
];
pub const SECCOMP_ACTIONS: &[&str] = &[
    "SCMP_ACT_KILL",
    "SCMP_ACT_KILL_PROCESS",
    "SCMP_ACT_KILL_THREAD",
    "SCMP_ACT_TRAP",
    "SCMP_ACT_ERRNO",
    "SCMP_ACT_TRACE",
    "SCMP_ACT_ALLOW",
    "SCMP_ACT_LOG",
    "SCMP_ACT_NOTIFY",
];
const SECCOMP_OPS: &[&str] = &[
    "SCMP_CMP_NE",
    "SCMP_CMP_LT",
    "SCMP_CMP_LE",
    "SCMP_CMP_EQ",
    "SCMP_CMP_GE",
    "SCMP_CMP_GT",
    "SCMP_CMP_MASKED_EQ",
];
const SECCOMP_ARCHES: &[&str] = &[
    "SCMP_ARCH_X86",
    "SCMP_ARCH_X86_64",
    "SCMP_ARCH_X32",
    "SCMP_ARCH_ARM",
    "SCMP_ARCH_AARCH64",
    "SCMP_ARCH_LOONGARCH64",
    "SCMP_ARCH_M68K",
    "SCMP_ARCH_MIPS",
    "SCMP_ARCH_MIPS64",
    "SCMP_ARCH_MIPS64N32",
    "SCMP_ARCH_MIPSEL",
    "SCMP_ARCH_MIPSEL64",
    "SCMP_ARCH_MIPSEL64N32",
    "SCMP_ARCH_PPC",
    "SCMP_ARCH_PPC64",
    "SCMP_ARCH_PPC64LE",
    "SCMP_ARCH_S390",
    "SCMP_ARCH_S390X",
    "SCMP_ARCH_SH",
    "SCMP_ARCH_SHEB",
    "SCMP_ARCH_PARISC",
    "SCMP_ARCH_PARISC64",
    "SCMP_ARCH_RISCV64",
];
const SECCOMP_FLAGS: &[&str] = &[
    "SECCOMP_FILTER_FLAG_TSYNC",
    "SECCOMP_FILTER_FLAG_LOG",
    "SECCOMP_FILTER_FLAG_SPEC_ALLOW",
    "SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
];

const ID_MAPPING: &[F] = &[
    r("containerID", T::U32),
    r("hostID", T::U32),
    r("size", T::U32),
];
const ID_MAPPINGS: T = T::Arr(&T::Obj(ID_MAPPING));

const HOOK: &[F] = &[
    r("path", T::Pat(abs_path)),
    o("args", STRS),
    o("env", STRS),
    o("timeout", T::I64),
];
const HOOK_LIST: T = T::Arr(&T::Obj(HOOK));
const HOOKS: &[F] = &[
    o("prestart", HOOK_LIST),
    o("createRuntime", HOOK_LIST),
    o("createContainer", HOOK_LIST),
    o("startContainer", HOOK_LIST),
    o("poststart", HOOK_LIST),
    o("poststop", HOOK_LIST),
];

const MOUNT: &[F] = &[
    o("source", T::Str),
    r("destination", T::Str),
    o("options", STRS),
    o("type", T::Str),
    o("uidMappings", ID_MAPPINGS),
    o("gidMappings", ID_MAPPINGS),
];

const ROOT: &[F] = &[r("path", T::Str), o("readonly", T::Bool)];

const CONSOLE_SIZE: &[F] = &[r("height", T::U32), r("width", T::U32)];
const USER: &[F] = &[
    o("uid", T::U32),
    o("gid", T::U32),
    o("umask", T::U32),
    o("additionalGids", T::Arr(&T::U32)),
    o("username", T::Str),
];
const CAPABILITIES: &[F] = &[
    o("bounding", CAPS),
    o("permitted", CAPS),
    o("effective", CAPS),
    o("inheritable", CAPS),
    o("ambient", CAPS),
];
const IO_PRIORITY: &[F] = &[
    r(
        "class",
        T::Enum(
            "I/O priority class",
            &["IOPRIO_CLASS_RT", "IOPRIO_CLASS_BE", "IOPRIO_CLASS_IDLE"],
        ),
    ),
    o("priority", T::I32),
];
const SCHEDULER: &[F] = &[
    r(
        "policy",
        T::Enum(
            "scheduler policy",
            &[
                "SCHED_OTHER",
                "SCHED_FIFO",
                "SCHED_RR",
                "SCHED_BATCH",
                "SCHED_ISO",
                "SCHED_IDLE",
                "SCHED_DEADLINE",
            ],
        ),
    ),
    o("nice", T::I32),
    o("priority", T::I32),
    o("flags", STRS),
    o("runtime", T::U64),
    o("deadline", T::U64),
    o("period", T::U64),
];
const RLIMIT: &[F] = &[
    r("type", T::Pat(rlimit_type)),
    r("soft", T::U64),
    r("hard", T::U64),
];
const CPU_AFFINITY: &[F] = &[o("initial", T::Pat(cpu_list)), o("final", T::Pat(cpu_list))];
const PROCESS: &[F] = &[
    o("args", STRS),
    o("commandLine", T::Str),
    o("consoleSize", T::Obj(CONSOLE_SIZE)),
    r("cwd", T::Str),
    o("env", STRS),
    o("terminal", T::Bool),
    o("user", T::Obj(USER)),
    o("capabilities", T::Obj(CAPABILITIES)),
    o("apparmorProfile", T::Str),
    o("oomScoreAdj", T::I32),
    o("selinuxLabel", T::Str),
    o("ioPriority", T::Obj(IO_PRIORITY)),
    o("noNewPrivileges", T::Bool),
    o("scheduler", T::Obj(SCHEDULER)),
    o("rlimits", T::Arr(&T::Obj(RLIMIT))),
    o("execCPUAffinity", T::Obj(CPU_AFFINITY)),
];

const DEVICE: &[F] = &[
    r("type", T::Pat(device_type)),
    r("path", T::Pat(abs_path)),
    o("fileMode", T::U32),
    o("major", T::I64),
    o("minor", T::I64),
    o("uid", T::U32),
    o("gid", T::U32),
];
const NAMESPACE: &[F] = &[
    r("type", T::Enum("namespace type", NAMESPACE_TYPES)),
    o("path", T::Pat(abs_path)),
];
const DEVICE_CGROUP: &[F] = &[
    r("allow", T::Bool),
    o("type", T::Pat(cgroup_device_type)),
    o("major", T::I64),
    o("minor", T::I64),
    o("access", T::Pat(device_access)),
];
const PIDS: &[F] = &[r("limit", T::I64)];
const BLKIO_WEIGHT_DEVICE: &[F] = &[
    r("major", T::I64),
    r("minor", T::I64),
    o("weight", T::U16),
    o("leafWeight", T::U16),
];
const BLKIO_THROTTLE: &[F] = &[r("major", T::I64), r("minor", T::I64), o("rate", T::U64)];
const BLKIO: &[F] = &[
    o("weight", T::U16),
    o("leafWeight", T::U16),
    o("throttleReadBpsDevice", T::Arr(&T::Obj(BLKIO_THROTTLE))),
    o("throttleWriteBpsDevice", T::Arr(&T::Obj(BLKIO_THROTTLE))),
    o("throttleReadIOPSDevice", T::Arr(&T::Obj(BLKIO_THROTTLE))),
    o("throttleWriteIOPSDevice", T::Arr(&T::Obj(BLKIO_THROTTLE))),
    o("weightDevice", T::Arr(&T::Obj(BLKIO_WEIGHT_DEVICE))),
];
const CPU: &[F] = &[
    o("cpus", T::Str),
    o("mems", T::Str),
    o("period", T::U64),
    o("quota", T::I64),
    o("burst", T::U64),
    o("realtimePeriod", T::U64),
    o("realtimeRuntime", T::I64),
    o("shares", T::U64),
    o("idle", T::I64),
];
const HUGEPAGE: &[F] = &[r("pageSize", T::Pat(page_size)), r("limit", T::U64)];
const MEMORY: &[F] = &[
    o("kernel", T::I64),
    o("kernelTCP", T::I64),
    o("limit", T::I64),
    o("reservation", T::I64),
    o("swap", T::I64),
    o("swappiness", T::U64),
    o("disableOOMKiller", T::Bool),
    o("useHierarchy", T::Bool),
    o("checkBeforeUpdate", T::Bool),
];
const NET_PRIO: &[F] = &[r("name", T::Str), r("priority", T::U32)];
const NETWORK: &[F] = &[
    o("classID", T::U32),
    o("priorities", T::Arr(&T::Obj(NET_PRIO))),
];
const RESOURCES: &[F] = &[
    o("unified", T::Map(&T::Str)),
    o("devices", T::Arr(&T::Obj(DEVICE_CGROUP))),
    o("pids", T::Obj(PIDS)),
    o("blockIO", T::Obj(BLKIO)),
    o("cpu", T::Obj(CPU)),
    o("hugepageLimits", T::Arr(&T::Obj(HUGEPAGE))),
    o("memory", T::Obj(MEMORY)),
    o("network", T::Obj(NETWORK)),
    o("rdma", T::Map(&T::Any)),
];
const SYSCALL_ARG: &[F] = &[
    r("index", T::U32),
    r("value", T::U64),
    o("valueTwo", T::U64),
    r("op", T::Enum("seccomp operator", SECCOMP_OPS)),
];
const SYSCALL: &[F] = &[
    r("names", STRS),
    r("action", T::Enum("seccomp action", SECCOMP_ACTIONS)),
    o("errnoRet", T::U32),
    o("args", T::Arr(&T::Obj(SYSCALL_ARG))),
];
const SECCOMP: &[F] = &[
    r("defaultAction", T::Enum("seccomp action", SECCOMP_ACTIONS)),
    o("defaultErrnoRet", T::U32),
    o(
        "flags",
        T::Arr(&T::Enum("seccomp filter flag", SECCOMP_FLAGS)),
    ),
    o("listenerPath", T::Str),
    o("listenerMetadata", T::Str),
    o(
        "architectures",
        T::Arr(&T::Enum("seccomp architecture", SECCOMP_ARCHES)),
    ),
    o("syscalls", T::Arr(&T::Obj(SYSCALL))),
];
const MEMORY_POLICY: &[F] = &[
    o(
        "mode",
        T::Enum(
            "memory policy mode",
            &[
                "MPOL_DEFAULT",
                "MPOL_BIND",
                "MPOL_INTERLEAVE",
                "MPOL_WEIGHTED_INTERLEAVE",
                "MPOL_PREFERRED",
                "MPOL_PREFERRED_MANY",
                "MPOL_LOCAL",
            ],
        ),
    ),
    o("nodes", T::Str),
    o(
        "flags",
        T::Arr(&T::Enum(
            "memory policy flag",
            &[
                "MPOL_F_NUMA_BALANCING",
                "MPOL_F_RELATIVE_NODES",
                "MPOL_F_STATIC_NODES",
            ],
        )),
    ),
];
const PERSONALITY: &[F] = &[
    o(
        "domain",
        T::Enum("personality domain", &["LINUX", "LINUX32"]),
    ),
    o("flags", STRS),
];
const TIME_OFFSET: &[F] = &[o("secs", T::I64), o("nanosecs", T::U32)];
const NET_DEVICE: &[F] = &[o("name", T::Str)];
const LINUX: &[F] = &[
    o("devices", T::Arr(&T::Obj(DEVICE))),
    o("netDevices", T::Map(&T::Obj(NET_DEVICE))),
    o("uidMappings", ID_MAPPINGS),
    o("gidMappings", ID_MAPPINGS),
    o("namespaces", T::Arr(&T::Obj(NAMESPACE))),
    o("resources", T::Obj(RESOURCES)),
    o("cgroupsPath", T::Str),
    o("rootfsPropagation", T::Str),
    o("seccomp", T::Obj(SECCOMP)),
    o("sysctl", T::Map(&T::Str)),
    o("maskedPaths", ABS_PATHS),
    o("readonlyPaths", ABS_PATHS),
    o("mountLabel", T::Str),
    o("intelRdt", T::Map(&T::Any)),
    o("memoryPolicy", T::Obj(MEMORY_POLICY)),
    o("personality", T::Obj(PERSONALITY)),
    o("timeOffsets", T::Map(&T::Obj(TIME_OFFSET))),
];

pub const CONFIG: &[F] = &[
    r("ociVersion", T::Pat(semver)),
    o("hooks", T::Obj(HOOKS)),
    o("annotations", T::Map(&T::Str)),
    o("hostname", T::Str),
    o("domainname", T::Str),
    o("mounts", T::Arr(&T::Obj(MOUNT))),
    o("root", T::Obj(ROOT)),
    o("process", T::Obj(PROCESS)),
    o("linux", T::Obj(LINUX)),
    o("solaris", T::Any),
    o("windows", T::Any),
    o("vm", T::Any),
    o("zos", T::Any),
    o("freebsd", T::Any),
];

// ---------------------------------------------------------------------------
// The walker
// ---------------------------------------------------------------------------

/// Checks the whole config against the table.
pub fn check(v: &Value, report: &mut Report) {
    walk(v, &T::Obj(CONFIG), "", report);
}

/// Escapes one JSON pointer segment (RFC 6901).
pub fn seg(s: &str) -> String {
    s.replace('~', "~0").replace('/', "~1")
}

fn kind(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("boolean {b}"),
        Value::Number(n) => format!("number {n}"),
        Value::String(s) if s.len() > 40 => "a string".into(),
        Value::String(s) => format!("string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn int_in(v: &Value, min: i128, max: i128) -> Option<bool> {
    let n = v.as_number()?;
    let n: i128 = if let Some(u) = n.as_u64() {
        u as i128
    } else if let Some(i) = n.as_i64() {
        i as i128
    } else {
        return Some(false);
    };
    Some(n >= min && n <= max)
}

fn walk(v: &Value, t: &T, path: &str, report: &mut Report) {
    let at = if path.is_empty() { "/" } else { path };
    let expect = |report: &mut Report, what: &str| {
        report.error(at, format!("expected {what}, found {}", kind(v)), None);
    };
    let int = |report: &mut Report, what: &str, min: i128, max: i128| match int_in(v, min, max) {
        Some(true) => {}
        Some(false) => report.error(
            at,
            format!("{} is out of range for {what} ({min}..={max})", kind(v)),
            None,
        ),
        None => expect(report, &format!("{what} (an integer)")),
    };
    match t {
        T::Any => {}
        T::Str => {
            if !v.is_string() {
                expect(report, "a string")
            }
        }
        T::Bool => {
            if !v.is_boolean() {
                expect(report, "true or false")
            }
        }
        T::Num => {
            if !v.is_number() {
                expect(report, "a number")
            }
        }
        T::U16 => int(report, "uint16", 0, u16::MAX as i128),
        T::U32 => int(report, "uint32", 0, u32::MAX as i128),
        T::U64 => int(report, "uint64", 0, u64::MAX as i128),
        T::I32 => int(report, "int32", i32::MIN as i128, i32::MAX as i128),
        T::I64 => int(report, "int64", i64::MIN as i128, i64::MAX as i128),
        T::Pat(p) => match v.as_str() {
            Some(s) => {
                if let Some((msg, hint)) = p(s) {
                    report.error(at, msg, hint);
                }
            }
            None => expect(report, "a string"),
        },
        T::Enum(what, list) => match v.as_str() {
            Some(s) if list.contains(&s) => {}
            Some(s) => {
                let hint = match suggest(s, list.iter().copied()) {
                    Some(m) => format!("did you mean {m:?}?"),
                    None => format!("one of: {}", list.join(", ")),
                };
                report.error(at, format!("{s:?} is not a {what}"), Some(hint));
            }
            None => expect(report, "a string"),
        },
        T::Arr(item) => match v.as_array() {
            Some(a) => {
                for (i, e) in a.iter().enumerate() {
                    walk(e, item, &format!("{path}/{i}"), report);
                }
            }
            None => expect(report, "an array"),
        },
        T::Map(item) => match v.as_object() {
            Some(m) => {
                for (k, e) in m {
                    walk(e, item, &format!("{path}/{}", seg(k)), report);
                }
            }
            None => expect(report, "an object"),
        },
        T::Obj(fields) => {
            let Some(m) = v.as_object() else {
                return expect(report, "an object");
            };
            for f in fields.iter() {
                let p = format!("{path}/{}", f.name);
                match m.get(f.name) {
                    Some(Value::Null) if !f.req => {}
                    Some(e) => walk(e, &f.t, &p, report),
                    None if f.req => report.error(&p, "missing: this field is required", None),
                    None => {}
                }
            }
            for k in m.keys() {
                if !fields.iter().any(|f| f.name == k) {
                    let hint = suggest(k, fields.iter().map(|f| f.name))
                        .map(|s| format!("did you mean {s:?}?"));
                    report.warning(
                        &format!("{path}/{}", seg(k)),
                        format!("unknown field {k:?}: hull ignores it"),
                        hint,
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(v: Value) -> Vec<(String, String)> {
        let mut r = Report::default();
        check(&v, &mut r);
        r.problems
            .into_iter()
            .map(|p| (p.path, p.message))
            .collect()
    }

    #[test]
    fn default_config_is_clean() {
        let p = problems(crate::spec::default_config(false));
        assert!(p.is_empty(), "{p:?}");
        let p = problems(crate::spec::default_config(true));
        assert!(p.is_empty(), "{p:?}");
    }

    #[test]
    fn every_violation_is_reported() {
        let mut v = crate::spec::default_config(false);
        v["ociVersion"] = "1.0".into();
        v["process"]["user"]["uid"] = (-1).into();
        v["process"]["rlimits"][0]["type"] = "nofile".into();
        v["linux"]["namespaces"][0]["type"] = "pdi".into();
        v["process"].as_object_mut().unwrap().remove("cwd");
        v["mount"] = serde_json::json!([]);
        let p = problems(v);
        let paths: Vec<&str> = p.iter().map(|(p, _)| p.as_str()).collect();
        for want in [
            "/ociVersion",
            "/process/user/uid",
            "/process/rlimits/0/type",
            "/linux/namespaces/0/type",
            "/process/cwd",
            "/mount",
        ] {
            assert!(paths.contains(&want), "{want} not in {p:?}");
        }
    }

    #[test]
    fn patterns() {
        assert!(semver("1.2.0").is_none());
        assert!(semver("1.0.2-dev").is_none());
        assert!(semver("1.0").is_some());
        assert!(capability("CAP_SYS_ADMIN").is_none());
        assert!(capability("sys_admin").is_some());
        assert!(page_size("2MB").is_none());
        assert!(page_size("2mb").is_some());
        assert!(device_access("rwm").is_none());
        assert!(device_access("rwx").is_some());
    }
}
