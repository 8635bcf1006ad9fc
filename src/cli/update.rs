//! `hull update`: change the resource limits of a running container.

use crate::container::control;
use crate::error::{Error, Result};
use clap::Args;
use std::path::{Path, PathBuf};

/// `update`'s flags.
#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// JSON file with a LinuxResources object ("-" for stdin); flags override it.
    #[arg(short = 'r', long)]
    pub resources: Option<PathBuf>,
    /// Memory limit in bytes (k, m, g suffixes; -1 unlimited).
    #[arg(long, allow_hyphen_values = true)]
    pub memory: Option<String>,
    /// Memory soft limit in bytes.
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    pub memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes (-1 unlimited).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Kernel memory limit (deprecated; refused where the kernel ignores it).
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    pub kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit.
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    pub kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-shares", alias = "cpu-share")]
    pub cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds (-1 unlimited).
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    pub cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds.
    #[arg(long = "cpu-period")]
    pub cpu_period: Option<u64>,
    /// CPU CFS burst in microseconds.
    #[arg(long = "cpu-burst")]
    pub cpu_burst: Option<u64>,
    /// SCHED_IDLE for the cgroup (1) or not (0).
    #[arg(long = "cpu-idle")]
    pub cpu_idle: Option<i64>,
    /// CPU realtime period in microseconds.
    #[arg(long = "cpu-rt-period")]
    pub cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    pub cpu_rt_runtime: Option<i64>,
    /// CPUs to run on (e.g. 0-3,7).
    #[arg(long = "cpuset-cpus")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes to use.
    #[arg(long = "cpuset-mems")]
    pub cpuset_mems: Option<String>,
    /// Maximum number of pids (-1 unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pub pids_limit: Option<i64>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    pub blkio_weight: Option<u16>,
    /// Intel RDT L3 cache schema ("L3:0=ff;1=ff"), for a container with linux.intelRdt.
    #[arg(long = "l3-cache-schema")]
    pub l3_cache_schema: Option<String>,
    /// Intel RDT memory bandwidth schema ("MB:0=70;1=70").
    #[arg(long = "mem-bw-schema")]
    pub mem_bw_schema: Option<String>,
    /// Container id.
    pub id: String,
}

impl UpdateArgs {
    pub fn check(&self) -> Result<()> {
        self.changes(None).map(drop)
    }
}

pub fn run(root: &Path, a: UpdateArgs) -> Result<i32> {
    let text = match &a.resources {
        Some(p) if p.as_os_str() == "-" => {
            let mut t = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut t)
                .map_err(|e| Error::msg(format!("--resources -: read stdin: {e}")))?;
            Some(t)
        }
        Some(p) => Some(
            std::fs::read(p)
                .map_err(|e| Error::msg(format!("--resources {}: {e}", p.display())))?,
        ),
        None => None,
    };
    let changes = a.changes(text.as_deref())?;
    if a.l3_cache_schema.is_some() || a.mem_bw_schema.is_some() {
        control::update_intel_rdt(
            root,
            &a.id,
            a.l3_cache_schema.as_deref(),
            a.mem_bw_schema.as_deref(),
        )?;
    }
    control::update(root, &a.id, &changes).map(|_| 0)
}

impl UpdateArgs {
    /// Parses `update`'s flags (the container id last), as on the command
    /// line after `hull update`.
    pub fn parse_from<I, T>(flags: I) -> std::result::Result<UpdateArgs, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::FromArgMatches;
        static CMD: std::sync::OnceLock<clap::Command> = std::sync::OnceLock::new();
        let cmd = CMD.get_or_init(|| {
            let mut c = <UpdateArgs as Args>::augment_args(clap::Command::new("update"));
            c.build();
            c
        });
        let argv = std::iter::once(std::ffi::OsString::from("update"))
            .chain(flags.into_iter().map(Into::into));
        UpdateArgs::from_arg_matches(&cmd.clone().try_get_matches_from(argv)?)
    }

    /// The changes `update` applies: the `--resources` JSON (`json`, None
    /// without -r) with the flags laid over it, decoded and checked. Pure:
    /// nothing is read or written.
    pub fn changes(&self, json: Option<&[u8]>) -> Result<oci_spec::runtime::LinuxResources> {
        use serde_json::Value;
        let mut v: Value = match json {
            Some(text) => serde_json::from_slice(text)
                .map_err(|e| Error::msg(format!("--resources: not JSON: {e}")))?,
            None => serde_json::json!({}),
        };
        let Some(obj) = v.as_object_mut() else {
            return Err(Error::msg(
                "--resources: expected a LinuxResources JSON object",
            ));
        };
        let mut set = |section: &str, key: &str, val: Value| -> Result<()> {
            match obj.entry(section).or_insert(Value::Null) {
                s @ Value::Null => *s = serde_json::json!({ key: val }),
                Value::Object(m) => {
                    m.insert(key.to_string(), val);
                }
                other => {
                    return Err(Error::msg(format!(
                        "--resources: {section} must be an object, not {other}"
                    )));
                }
            }
            Ok(())
        };
        let a = self;
        let mem = [
            ("--memory", "limit", &a.memory),
            ("--memory-reservation", "reservation", &a.memory_reservation),
            ("--memory-swap", "swap", &a.memory_swap),
            ("--kernel-memory", "kernel", &a.kernel_memory),
            ("--kernel-memory-tcp", "kernelTCP", &a.kernel_memory_tcp),
        ];
        for (flag, key, val) in mem {
            if let Some(s) = val {
                set("memory", key, parse_bytes(flag, s)?.into())?;
            }
        }
        if let Some(x) = a.cpu_shares {
            set("cpu", "shares", x.into())?;
        }
        if let Some(x) = a.cpu_quota {
            set("cpu", "quota", x.into())?;
        }
        if let Some(x) = a.cpu_period {
            set("cpu", "period", x.into())?;
        }
        if let Some(x) = a.cpu_burst {
            set("cpu", "burst", x.into())?;
        }
        if let Some(x) = a.cpu_idle {
            set("cpu", "idle", x.into())?;
        }
        if let Some(x) = a.cpu_rt_period {
            set("cpu", "realtimePeriod", x.into())?;
        }
        if let Some(x) = a.cpu_rt_runtime {
            set("cpu", "realtimeRuntime", x.into())?;
        }
        if let Some(x) = &a.cpuset_cpus {
            crate::cgroups::resources::check_cpu_list("--cpuset-cpus", x)?;
            set("cpu", "cpus", x.clone().into())?;
        }
        if let Some(x) = &a.cpuset_mems {
            crate::cgroups::resources::check_cpu_list("--cpuset-mems", x)?;
            set("cpu", "mems", x.clone().into())?;
        }
        if let Some(x) = a.pids_limit {
            set("pids", "limit", x.into())?;
        }
        if let Some(x) = a.blkio_weight {
            set("blockIO", "weight", x.into())?;
        }
        let changes: oci_spec::runtime::LinuxResources = serde_path_to_error::deserialize(v)
            .map_err(|e| Error::msg(format!("update: resources: {}: {}", e.path(), e.inner())))?;
        crate::cgroups::resources::check_update(&changes)?;
        Ok(changes)
    }
}

/// A byte count with an optional k/m/g (binary) suffix; -1 is unlimited.
fn parse_bytes(flag: &str, s: &str) -> Result<i64> {
    let t = s.trim().to_ascii_lowercase();
    let t = t.strip_suffix('b').unwrap_or(&t);
    let (num, mult) = match t.chars().last() {
        Some('k') => (&t[..t.len() - 1], 1i64 << 10),
        Some('m') => (&t[..t.len() - 1], 1 << 20),
        Some('g') => (&t[..t.len() - 1], 1 << 30),
        Some('t') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: i64 = num
        .parse()
        .map_err(|_| Error::msg(format!("{flag} {s:?}: not a byte count (e.g. 64m, -1)")))?;
    if v == -1 {
        return Ok(-1);
    }
    if v < 0 {
        return Err(Error::msg(format!("{flag} {s:?}: negative")));
    }
    v.checked_mul(mult)
        .ok_or_else(|| Error::msg(format!("{flag} {s:?}: too large")))
}
