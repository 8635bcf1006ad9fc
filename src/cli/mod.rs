//! The command line, shaped like runc's so engines can call hull in its
//! place. Thin: parse, call the library, map errors to exit codes and logs.

use crate::container::lifecycle::{self, CreateOptions};
use crate::container::{self, Container};
use crate::error::{Error, Result};
use crate::logging;
use clap::{Args, Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser, Debug)]
#[command(
    name = "hull",
    version = concat!("version ", env!("CARGO_PKG_VERSION"), "\nspec: 1.3.0"),
    about = "hull: an OCI container runtime",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Directory for container state [default: /run/hull; for an
    /// unprivileged user $XDG_RUNTIME_DIR/hull].
    #[arg(long, global = true)]
    root: Option<PathBuf>,
    /// Log file (errors and, with --debug, debug records).
    #[arg(long, global = true)]
    log: Option<PathBuf>,
    /// Log format: text or json.
    #[arg(long = "log-format", global = true, default_value = "text", value_parser = ["text", "json"])]
    log_format: String,
    /// Emit debug records.
    #[arg(long, global = true)]
    debug: bool,
    /// Use the systemd cgroup driver (not supported yet: refused when a container is created).
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Rootless mode: true, false or auto.
    #[arg(id = "global_rootless", long = "rootless", value_parser = ["true", "false", "auto"])]
    rootless: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
struct CreateArgs {
    /// Path to the bundle directory.
    #[arg(short = 'b', long, default_value = ".")]
    bundle: PathBuf,
    /// File to write the container init's pid to.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// Unix socket that receives the pty master when process.terminal is set.
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Use MS_MOVE + chroot instead of pivot_root.
    #[arg(long = "no-pivot")]
    no_pivot: bool,
    /// Do not create a new session keyring.
    #[arg(long = "no-new-keyring")]
    no_new_keyring: bool,
    /// Pass this many extra descriptors (from fd 3) to the container.
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Unix socket that receives a pidfd of the container init.
    #[arg(long = "pidfd-socket")]
    pidfd_socket: Option<PathBuf>,
    /// Container id.
    id: String,
}

#[derive(Args, Debug)]
struct ExecArgs {
    /// Unix socket that receives the pty master with --tty.
    #[arg(long = "console-socket")]
    console_socket: Option<PathBuf>,
    /// Working directory inside the container.
    #[arg(long)]
    cwd: Option<PathBuf>,
    /// Environment variable KEY=VALUE (repeatable).
    #[arg(short = 'e', long = "env")]
    env: Vec<String>,
    /// Allocate a pseudo-terminal.
    #[arg(short = 't', long)]
    tty: bool,
    /// UID[:GID] to run as.
    #[arg(short = 'u', long)]
    user: Option<String>,
    /// Additional group id (repeatable).
    #[arg(short = 'g', long = "additional-gids")]
    additional_gids: Vec<u32>,
    /// process.json describing the whole process (other process flags are ignored).
    #[arg(short = 'p', long)]
    process: Option<PathBuf>,
    /// Do not wait for the process.
    #[arg(short = 'd', long)]
    detach: bool,
    /// File to write the process's pid to.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// SELinux label for the process.
    #[arg(long = "process-label")]
    process_label: Option<String>,
    /// AppArmor profile for the process.
    #[arg(long)]
    apparmor: Option<String>,
    /// Set no_new_privs for the process.
    #[arg(long = "no-new-privs")]
    no_new_privs: bool,
    /// Add a capability (repeatable).
    #[arg(short = 'c', long = "cap")]
    cap: Vec<String>,
    /// Pass this many extra descriptors (from fd 3).
    #[arg(long = "preserve-fds", default_value_t = 0)]
    preserve_fds: u32,
    /// Run in this sub-cgroup of the container's cgroup: SUB, or
    /// CTRL[,CTRL]:SUB for some v1 hierarchies (repeatable).
    #[arg(long)]
    cgroup: Vec<String>,
    /// Unix socket that receives a pidfd of the new process.
    #[arg(long = "pidfd-socket")]
    pidfd_socket: Option<PathBuf>,
    /// Allow exec into a paused container.
    #[arg(long = "ignore-paused")]
    ignore_paused: bool,
    /// Container id.
    id: String,
    /// Command and arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// `update`'s flags.
#[derive(Args, Debug, Default)]
pub struct UpdateArgs {
    /// JSON file with a LinuxResources object ("-" for stdin); flags override it.
    #[arg(short = 'r', long)]
    resources: Option<PathBuf>,
    /// Memory limit in bytes (k, m, g suffixes; -1 unlimited).
    #[arg(long, allow_hyphen_values = true)]
    memory: Option<String>,
    /// Memory soft limit in bytes.
    #[arg(long = "memory-reservation", allow_hyphen_values = true)]
    memory_reservation: Option<String>,
    /// Memory plus swap limit in bytes (-1 unlimited).
    #[arg(long = "memory-swap", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Kernel memory limit (deprecated; refused where the kernel ignores it).
    #[arg(long = "kernel-memory", allow_hyphen_values = true)]
    kernel_memory: Option<String>,
    /// Kernel TCP buffer memory limit.
    #[arg(long = "kernel-memory-tcp", allow_hyphen_values = true)]
    kernel_memory_tcp: Option<String>,
    /// CPU shares (relative weight).
    #[arg(long = "cpu-shares", alias = "cpu-share")]
    cpu_shares: Option<u64>,
    /// CPU CFS quota in microseconds (-1 unlimited).
    #[arg(long = "cpu-quota", allow_hyphen_values = true)]
    cpu_quota: Option<i64>,
    /// CPU CFS period in microseconds.
    #[arg(long = "cpu-period")]
    cpu_period: Option<u64>,
    /// CPU CFS burst in microseconds.
    #[arg(long = "cpu-burst")]
    cpu_burst: Option<u64>,
    /// SCHED_IDLE for the cgroup (1) or not (0).
    #[arg(long = "cpu-idle")]
    cpu_idle: Option<i64>,
    /// CPU realtime period in microseconds.
    #[arg(long = "cpu-rt-period")]
    cpu_rt_period: Option<u64>,
    /// CPU realtime runtime in microseconds.
    #[arg(long = "cpu-rt-runtime", allow_hyphen_values = true)]
    cpu_rt_runtime: Option<i64>,
    /// CPUs to run on (e.g. 0-3,7).
    #[arg(long = "cpuset-cpus")]
    cpuset_cpus: Option<String>,
    /// Memory nodes to use.
    #[arg(long = "cpuset-mems")]
    cpuset_mems: Option<String>,
    /// Maximum number of pids (-1 unlimited).
    #[arg(long = "pids-limit", allow_hyphen_values = true)]
    pids_limit: Option<i64>,
    /// Block IO weight (10-1000).
    #[arg(long = "blkio-weight")]
    blkio_weight: Option<u16>,
    /// Container id.
    id: String,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a container; its process waits for `start`.
    Create(CreateArgs),
    /// Start a created container.
    Start { id: String },
    /// Create, start and wait for a container.
    Run {
        #[command(flatten)]
        create: CreateArgs,
        /// Do not wait for the container.
        #[arg(short = 'd', long)]
        detach: bool,
        /// Keep the stopped container (do not delete it).
        #[arg(long)]
        keep: bool,
    },
    /// Run a process inside a container.
    Exec(Box<ExecArgs>),
    /// Freeze every process of a container.
    Pause { id: String },
    /// Thaw a paused container.
    Resume { id: String },
    /// List the processes of a container.
    Ps {
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        id: String,
        /// Options passed to ps(1) for the table format (default -ef).
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        ps_args: Vec<String>,
    },
    /// Change the resource limits of a running container.
    Update(Box<UpdateArgs>),
    /// Stream OOM notifications and resource usage of a container as JSON.
    Events {
        /// Print one stats object and exit.
        #[arg(long)]
        stats: bool,
        /// Time between stats objects (e.g. 5s, 500ms).
        #[arg(long, default_value = "5s")]
        interval: String,
        id: String,
    },
    /// Print what this build of hull implements (features.md).
    Features,
    /// Print the state of a container as JSON.
    State { id: String },
    /// Send a signal to a container (default SIGTERM).
    Kill {
        /// Signal every process in the container's cgroup.
        #[arg(short = 'a', long)]
        all: bool,
        id: String,
        #[arg(default_value = "SIGTERM")]
        signal: String,
    },
    /// Delete a container and everything it holds.
    Delete {
        /// Kill the container first if it is running.
        #[arg(short = 'f', long)]
        force: bool,
        id: String,
    },
    /// List containers.
    List {
        #[arg(short = 'f', long, default_value = "table", value_parser = ["table", "json"])]
        format: String,
        /// Print only ids.
        #[arg(short = 'q', long)]
        quiet: bool,
    },
    /// Check a bundle without running anything: report every problem in config.json.
    Check {
        /// Path to the bundle directory.
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
        /// Output format: text (one line per problem) or json.
        #[arg(short = 'f', long, default_value = "text", value_parser = ["text", "json"])]
        format: String,
    },
    /// Write a default config.json.
    Spec {
        #[arg(short = 'b', long, default_value = ".")]
        bundle: PathBuf,
        /// A config for unprivileged users (user namespace, no network namespace).
        #[arg(id = "spec_rootless", long = "rootless")]
        rootless: bool,
    },
}

/// Parses a command line (the program name first) without running
/// anything; `Cli::check` then checks the values hull interprets itself.
pub fn parse_args<I, T>(argv: I) -> std::result::Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    use clap::{CommandFactory, FromArgMatches};
    // Built (and, in debug builds, self-checked) once: the fuzz target
    // parses hundreds of thousands of command lines.
    static CMD: std::sync::OnceLock<clap::Command> = std::sync::OnceLock::new();
    let cmd = CMD.get_or_init(|| {
        let mut c = Cli::command();
        c.build();
        c
    });
    let mut m = cmd.clone().try_get_matches_from(argv)?;
    Cli::from_arg_matches_mut(&mut m).map_err(|e| e.format(&mut Cli::command()))
}

impl Cli {
    /// Checks the flag values clap passes through as text (sizes, signals,
    /// durations, exec's -e/-u/--cap/--cgroup, update's numbers and CPU
    /// lists) the way the command will read them, without touching the
    /// system. Runs before every command, so a bad value is reported before
    /// anything is looked up or changed.
    pub fn check(&self) -> Result<()> {
        match &self.command {
            Command::Update(a) => a.changes(None).map(drop),
            Command::Events {
                stats: false,
                interval,
                ..
            } => parse_duration(interval).map(drop),
            Command::Kill { signal, .. } => crate::process::signals::parse(signal).map(drop),
            Command::Exec(a) => {
                check_exec_cgroup(&a.cgroup)?;
                if a.process.is_none() {
                    let mut p = oci_spec::runtime::Process::default();
                    exec_overrides(a, &mut p)?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// Entry point: returns the process exit code.
pub fn main() -> i32 {
    crate::security::exeseal::on_startup();
    let cli = Cli::parse();
    let format = if cli.log_format == "json" {
        logging::Format::Json
    } else {
        logging::Format::Text
    };
    logging::init(cli.log.as_deref(), format, cli.debug);
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = e.to_string();
            logging::log("error", &msg);
            eprintln!("hull: {msg}");
            1
        }
    }
}

fn create_options(root: PathBuf, a: CreateArgs) -> CreateOptions {
    CreateOptions {
        root,
        id: a.id,
        bundle: a.bundle,
        pid_file: a.pid_file,
        console_socket: a.console_socket,
        console_fd: None,
        no_pivot: a.no_pivot,
        no_new_keyring: a.no_new_keyring,
        preserve_fds: a.preserve_fds as i32,
        foreground: false,
        pidfd_socket: a.pidfd_socket,
    }
}

fn refuse_systemd(cli_flag: bool) -> Result<()> {
    if cli_flag {
        return Err(Error::msg(
            "--systemd-cgroup: the systemd cgroup driver is not supported yet (this host has no systemd); use the cgroupfs driver",
        ));
    }
    Ok(())
}

/// Whether hull runs rootless: `--rootless true|false`, or (auto, the
/// default) when it is not root in the host's user namespace.
fn is_rootless(flag: Option<&str>) -> bool {
    match flag {
        Some("true") => true,
        Some("false") => false,
        _ => !nix::unistd::geteuid().is_root() || crate::namespaces::in_child_user_namespace(),
    }
}

/// The state root: `--root`, else /run/hull for root, else
/// $XDG_RUNTIME_DIR/hull (an unprivileged user cannot write /run).
fn state_root(root: Option<PathBuf>, rootless_flag: Option<&str>) -> Result<PathBuf> {
    if let Some(root) = root {
        return Ok(root);
    }
    let rootless = is_rootless(rootless_flag);
    logging::debug(format!("no --root given; rootless: {rootless}"));
    if !rootless {
        return Ok(PathBuf::from("/run/hull"));
    }
    match std::env::var_os("XDG_RUNTIME_DIR").filter(|d| !d.is_empty()) {
        Some(dir) => Ok(PathBuf::from(dir).join("hull")),
        None if nix::unistd::geteuid().is_root() => Ok(PathBuf::from("/run/hull")),
        None => Err(Error::msg(
            "--root: not given and XDG_RUNTIME_DIR is not set: rootless hull keeps its state in \
             $XDG_RUNTIME_DIR/hull (set XDG_RUNTIME_DIR or pass --root DIR owned by this user)",
        )),
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    cli.check()?;
    // `spec`, `features` and `check` need no state directory.
    let root = match &cli.command {
        Command::Spec { .. } | Command::Features | Command::Check { .. } => PathBuf::new(),
        _ => state_root(cli.root, cli.rootless.as_deref())?,
    };
    match cli.command {
        Command::Create(a) => {
            refuse_systemd(cli.systemd_cgroup)?;
            logging::debug(format!(
                "create {} from bundle {}",
                a.id,
                a.bundle.display()
            ));
            lifecycle::create(create_options(root, a))?;
            Ok(0)
        }
        Command::Run {
            create,
            detach,
            keep,
        } => {
            refuse_systemd(cli.systemd_cgroup)?;
            lifecycle::run(create_options(root, create), detach, keep)
        }
        Command::Exec(a) => exec(root, *a),
        Command::Features => {
            let text = serde_json::to_string_pretty(&crate::features::document())
                .map_err(|e| Error::msg(e.to_string()))?;
            println!("{text}");
            Ok(0)
        }
        Command::Update(a) => update(&root, *a).map(|_| 0),
        Command::Events {
            stats,
            interval,
            id,
        } => {
            if stats {
                let data = lifecycle::stats(&root, &id)?;
                println!("{}", lifecycle::event_line("stats", &id, Some(&data)));
                return Ok(0);
            }
            let iv = parse_duration(&interval)?;
            lifecycle::events(&root, &id, Some(iv), &mut std::io::stdout().lock()).map(|_| 0)
        }
        Command::Pause { id } => lifecycle::set_paused(&root, &id, true).map(|_| 0),
        Command::Resume { id } => lifecycle::set_paused(&root, &id, false).map(|_| 0),
        Command::Ps {
            format,
            id,
            ps_args,
        } => ps(&root, &id, &format, &ps_args).map(|_| 0),
        Command::Start { id } => lifecycle::start(&root, &id).map(|_| 0),
        Command::State { id } => {
            let c = Container::load(&root, &id)?;
            let text = serde_json::to_string_pretty(&c.public_state())
                .map_err(|e| Error::msg(e.to_string()))?;
            println!("{text}");
            Ok(0)
        }
        Command::Kill { all, id, signal } => {
            let sig = crate::process::signals::parse(&signal)?;
            lifecycle::kill(&root, &id, sig, all).map(|_| 0)
        }
        Command::Delete { force, id } => lifecycle::delete(&root, &id, force).map(|_| 0),
        Command::List { format, quiet } => list(&root, &format, quiet).map(|_| 0),
        Command::Spec { bundle, rootless } => spec(&bundle, rootless).map(|_| 0),
        Command::Check { bundle, format } => check(&bundle, &format),
    }
}

/// "5s", "500ms", "1m", or plain seconds.
fn parse_duration(s: &str) -> Result<std::time::Duration> {
    let bad = || Error::msg(format!("--interval {s:?}: use a duration like 5s or 500ms"));
    let (num, mult_ms) = if let Some(n) = s.strip_suffix("ms") {
        (n, 1.0)
    } else if let Some(n) = s.strip_suffix('s') {
        (n, 1000.0)
    } else if let Some(n) = s.strip_suffix('m') {
        (n, 60_000.0)
    } else if let Some(n) = s.strip_suffix('h') {
        (n, 3_600_000.0)
    } else {
        (s, 1000.0)
    };
    let v: f64 = num.parse().map_err(|_| bad())?;
    if v.is_nan() || v <= 0.0 {
        return Err(bad());
    }
    Ok(std::time::Duration::from_millis((v * mult_ms) as u64))
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

fn update(root: &std::path::Path, a: UpdateArgs) -> Result<()> {
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
    lifecycle::update(root, &a.id, &changes)
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

/// `--cgroup`: sub-cgroups of the container's, `SUB` or `CTRL[,CTRL]:SUB`.
fn check_exec_cgroup(cgroup: &[String]) -> Result<()> {
    crate::cgroups::ExecSubCgroups::parse(cgroup).map(drop)
}

/// Lays exec's process flags over `p` (the container's process).
fn exec_overrides(a: &ExecArgs, p: &mut oci_spec::runtime::Process) -> Result<()> {
    if a.command.is_empty() {
        return Err(Error::msg(
            "exec: no command given (hull exec ID COMMAND [ARG...])",
        ));
    }
    crate::spec::override_process(
        p,
        &crate::spec::ProcessOverrides {
            args: a.command.clone(),
            env: a.env.clone(),
            cwd: a.cwd.clone(),
            user: a.user.clone(),
            additional_gids: a.additional_gids.clone(),
            caps: a.cap.clone(),
            no_new_privs: a.no_new_privs,
            tty: a.tty,
            apparmor: a.apparmor.clone(),
            process_label: a.process_label.clone(),
        },
    )
}

fn exec(root: PathBuf, a: ExecArgs) -> Result<i32> {
    use crate::security::lsm;
    if a.apparmor.as_deref().is_some_and(|p| !p.is_empty()) {
        lsm::require_apparmor("--apparmor")?;
    }
    if a.process_label.as_deref().is_some_and(|l| !l.is_empty()) {
        lsm::require_selinux("--process-label")?;
    }
    check_exec_cgroup(&a.cgroup)?;
    let process = match &a.process {
        Some(path) => {
            // A pipe cannot be read again by the sealed copy of hull, so
            // decide on re-executing before reading it.
            if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
                let c = Container::load(&root, &a.id)?;
                let spec = c.saved_spec()?;
                lifecycle::protect_exec(c.state.pid, &spec, &c.state.cgroup_path, None)?;
            }
            let text = std::fs::read(path)
                .map_err(|e| Error::msg(format!("--process {}: {e}", path.display())))?;
            crate::spec::parse_process(&path.display().to_string(), &text)?
        }
        None => {
            let c = Container::load(&root, &a.id)?;
            let mut p = c
                .saved_spec()?
                .process()
                .clone()
                .ok_or_else(|| Error::msg("container config has no process"))?;
            drop(c);
            exec_overrides(&a, &mut p)?;
            p
        }
    };
    lifecycle::exec(lifecycle::ExecOptions {
        root,
        id: a.id,
        process,
        console_socket: a.console_socket,
        detach: a.detach,
        pid_file: a.pid_file,
        preserve_fds: a.preserve_fds as i32,
        sub_cgroups: crate::cgroups::ExecSubCgroups::parse(&a.cgroup)?,
        ignore_paused: a.ignore_paused,
        pidfd_socket: a.pidfd_socket,
    })
}

/// `ps`: JSON is the pid list; the table is ps(1)'s output for those pids.
fn ps(root: &std::path::Path, id: &str, format: &str, args: &[String]) -> Result<()> {
    let pids = lifecycle::pids(root, id)?;
    if format == "json" {
        println!(
            "{}",
            serde_json::to_string(&pids).map_err(|e| Error::msg(e.to_string()))?
        );
        return Ok(());
    }
    let args: Vec<String> = if args.is_empty() {
        vec!["-ef".into()]
    } else {
        args.to_vec()
    };
    let out = std::process::Command::new("ps")
        .args(&args)
        .output()
        .map_err(|e| Error::msg(format!("ps: run ps(1): {e}")))?;
    let text = String::from_utf8_lossy(&out.stdout);
    let mut lines = text.lines();
    let header = lines.next().unwrap_or("");
    let col = header
        .split_whitespace()
        .position(|h| h == "PID")
        .ok_or_else(|| Error::msg("ps: ps(1) output has no PID column"))?;
    println!("{header}");
    for line in lines {
        let pid = line
            .split_whitespace()
            .nth(col)
            .and_then(|p| p.parse::<i32>().ok());
        if pid.is_some_and(|p| pids.contains(&p)) {
            println!("{line}");
        }
    }
    Ok(())
}

/// `list`: reads each state.json without locking (see `Container::peek`);
/// per container that is state.json, /proc/PID/stat, and a stat of the
/// state dir and of the start socket. Output is written in one piece.
fn list(root: &std::path::Path, format: &str, quiet: bool) -> Result<()> {
    use std::io::Write;
    let ids = container::list_ids(root)?;
    let mut containers: Vec<Container> = Vec::with_capacity(ids.len());
    for id in &ids {
        match Container::peek(root, id) {
            Ok(c) => containers.push(c),
            // Deleted (or a create that died first) since the scan.
            Err(Error::NotFound(_)) => {}
            // Listed on stderr so it is not lost: stdout stays parseable.
            Err(e) => logging::warn(format!(
                "list: container \"{id}\" cannot be read ({e}); `hull delete --force {id}` removes it"
            )),
        }
    }
    let out = if quiet {
        let mut out = String::new();
        for c in &containers {
            out.push_str(&c.state.id);
            out.push('\n');
        }
        out
    } else {
        let states: Vec<_> = containers.iter().map(|c| c.public_state()).collect();
        if format == "json" {
            let mut text = serde_json::to_string(&states).map_err(|e| Error::msg(e.to_string()))?;
            text.push('\n');
            text
        } else {
            list_table(&states)
        }
    };
    match std::io::stdout().lock().write_all(out.as_bytes()) {
        // A closed pipe (e.g. `| head`) is not an error of `list`.
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::msg(format!("list: write to stdout: {e}")))
        }
        _ => Ok(()),
    }
}

fn list_table(states: &[container::PublicState<'_>]) -> String {
    let mut rows = vec![
        ["ID", "PID", "STATUS", "BUNDLE", "CREATED", "OWNER"]
            .map(String::from)
            .to_vec(),
    ];
    for s in states {
        rows.push(vec![
            s.id.to_string(),
            s.pid.to_string(),
            s.status.to_string(),
            s.bundle.display().to_string(),
            s.created.to_string(),
            s.owner.clone(),
        ]);
    }
    table(&rows)
}

/// Left-aligned columns, at least 12 wide with 3 spaces of padding.
fn table(rows: &[Vec<String>]) -> String {
    let cols = rows.first().map_or(0, |r| r.len());
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .map(|r| r[c].len() + 3)
                .max()
                .unwrap_or(0)
                .max(12)
        })
        .collect();
    let mut out = String::new();
    for r in rows {
        for (c, cell) in r.iter().enumerate() {
            if c + 1 == cols {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}", w = widths[c]));
            }
        }
        out.push('\n');
    }
    out
}

/// `check`: every problem, one per line (or as JSON); exit 1 when any is an error.
fn check(bundle: &std::path::Path, format: &str) -> Result<i32> {
    use std::io::Write;
    let (file, report) = crate::check::check_bundle(bundle, crate::check::Mode::Full);
    let text = if format == "json" {
        let mut t = serde_json::to_string_pretty(&report.to_json())
            .map_err(|e| Error::msg(e.to_string()))?;
        t.push('\n');
        t
    } else {
        let (e, w) = (report.errors(), report.warnings());
        let summary = if e + w == 0 {
            format!("{file}: no problems found\n")
        } else {
            format!("{file}: {e} error(s), {w} warning(s)\n")
        };
        report.to_text() + &summary
    };
    // A closed pipe (e.g. `| head`) is not worth a panic.
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
    Ok(if report.errors() > 0 { 1 } else { 0 })
}

fn spec(bundle: &std::path::Path, rootless: bool) -> Result<()> {
    let path = bundle.join(crate::spec::CONFIG);
    let text = serde_json::to_string_pretty(&crate::spec::default_config(rootless))
        .map_err(|e| Error::msg(e.to_string()))?;
    use std::io::Write;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&path)
        .map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                Error::msg(format!(
                    "{}: file already exists; remove it first",
                    path.display()
                ))
            } else {
                Error::msg(format!("{}: {e}", path.display()))
            }
        })?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .map_err(|e| Error::msg(format!("{}: {e}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    #[test]
    fn command_lines_are_checked_without_running() {
        let ok = |argv: &[&str]| parse_args(argv.iter().copied()).unwrap().check();
        ok(&["hull", "kill", "c1", "RTMIN+2"]).unwrap();
        ok(&[
            "hull",
            "update",
            "--memory",
            "64m",
            "--cpuset-cpus",
            "0-3",
            "c1",
        ])
        .unwrap();
        ok(&[
            "hull",
            "exec",
            "-u",
            "1:2",
            "--cap",
            "NET_ADMIN",
            "c1",
            "sh",
        ])
        .unwrap();
        for bad in [
            &["hull", "kill", "c1", "SIGNOPE"][..],
            &["hull", "update", "--memory", "9223372036854775807g", "c1"],
            &["hull", "update", "--cpuset-mems", "1-0", "c1"],
            &["hull", "exec", "--cap", "NOPE", "c1", "sh"],
            &["hull", "exec", "c1"],
            &["hull", "events", "--interval", "0s", "c1"],
        ] {
            assert!(ok(bad).is_err(), "{bad:?} accepted");
        }
        assert!(parse_args(["hull", "--log-format", "yaml", "list"]).is_err());
        assert!(parse_args(["hull", "--rootless", "maybe", "list"]).is_err());
        let a = UpdateArgs::parse_from(["--memory", "64m", "c1"]).unwrap();
        let r = a.changes(Some(br#"{"memory": 5}"#));
        assert!(
            r.unwrap_err()
                .to_string()
                .contains("memory must be an object")
        );
    }

    #[test]
    fn table_columns_are_padded() {
        let rows = vec![
            vec!["ID".to_string(), "PID".to_string()],
            vec!["a".to_string(), "1".to_string()],
        ];
        assert_eq!(table(&rows), format!("{:<12}PID\n{:<12}1\n", "ID", "a"));
    }
}
