//! The command line, shaped like runc's so engines can call hull in its
//! place. This file parses and dispatches; each command has its own file
//! (its flags and a thin `run` that calls the library), and errors become
//! exit codes and log lines here.

mod check;
mod checkpoint;
mod create;
mod delete;
mod events;
mod exec;
mod features;
mod kill;
mod list;
mod pause;
mod ps;
mod restore;
mod resume;
mod run;
mod spec;
mod start;
mod state;
mod update;

pub use update::UpdateArgs;

use crate::error::Result;
use crate::logging;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand};
use std::path::PathBuf;

/// `--version`'s text after "hull ", in runc's layout: version, commit,
/// spec version, then the seccomp and cgroup back ends.
const VERSION: &str = concat!(
    "version ",
    env!("CARGO_PKG_VERSION"),
    "\ncommit: ",
    env!("HULL_COMMIT"),
    "\nspec: 1.3.0",
    "\nseccomp: built-in BPF compiler (no libseccomp)",
    "\ncgroup: cgroupfs (v1, v2 and hybrid hosts) and systemd (--systemd-cgroup)"
);

/// The top-level command's settings, shared by the full command ([`Cli`]'s
/// derive) and the one-subcommand command `parse_args` builds.
const ABOUT: &str = "hull: an OCI container runtime";

#[derive(Parser, Debug)]
#[command(
    name = "hull",
    version = VERSION,
    long_version = VERSION,
    about = ABOUT,
    disable_help_subcommand = true,
    disable_version_flag = true
)]
pub struct Cli {
    #[command(flatten)]
    globals: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

// The flags before the subcommand (all but -v also after it). A plain
// comment: a doc comment would become the command's about text.
#[derive(Args, Debug)]
struct GlobalArgs {
    /// Print the version (runc's -v/--version).
    #[arg(short = 'v', long = "version", action = clap::ArgAction::Version)]
    version: Option<bool>,
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
    /// Use the systemd cgroup driver: linux.cgroupsPath is "slice:prefix:name" and the container
    /// lives in the transient scope unit prefix-name.scope (later commands find it in the state).
    #[arg(long = "systemd-cgroup", global = true)]
    systemd_cgroup: bool,
    /// Rootless mode: true, false or auto.
    #[arg(id = "global_rootless", long = "rootless", value_parser = ["true", "false", "auto"])]
    rootless: Option<String>,
}

/// Global flags that take a value (as the next argument or after `=`).
const GLOBAL_WITH_VALUE: [&str; 4] = ["--root", "--log", "--log-format", "--rootless"];
/// Global flags without a value.
const GLOBAL_SWITCHES: [&str; 2] = ["--debug", "--systemd-cgroup"];

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a container; its process waits for `start`.
    Create(create::CreateArgs),
    /// Start a created container.
    Start(start::StartArgs),
    /// Create, start and wait for a container.
    Run(run::RunArgs),
    /// Run a process inside a container.
    Exec(Box<exec::ExecArgs>),
    /// Freeze every process of a container.
    Pause(pause::PauseArgs),
    /// Thaw a paused container.
    Resume(resume::ResumeArgs),
    /// List the processes of a container.
    Ps(ps::PsArgs),
    /// Change the resource limits of a running container.
    Update(Box<UpdateArgs>),
    /// Stream OOM notifications and resource usage of a container as JSON.
    Events(events::EventsArgs),
    /// Print what this build of hull implements (features.md).
    Features,
    /// Print the state of a container as JSON.
    State(state::StateArgs),
    /// Send a signal to a container (default SIGTERM).
    Kill(kill::KillArgs),
    /// Delete a container and everything it holds.
    Delete(delete::DeleteArgs),
    /// List containers.
    List(list::ListArgs),
    /// Checkpoint a running container with CRIU.
    Checkpoint(Box<checkpoint::CheckpointArgs>),
    /// Restore a container from a checkpoint with CRIU.
    Restore(Box<restore::RestoreArgs>),
    /// Check a bundle without running anything: report every problem in config.json.
    Check(check::CheckArgs),
    /// Write a default config.json.
    Spec(spec::SpecArgs),
}

/// Parses a command line (the program name first) without running
/// anything; `Cli::check` then checks the values hull interprets itself.
///
/// Only the subcommand being run is built: constructing clap's whole tree
/// (every subcommand's arguments) costs more than the parse, in time, heap
/// and code paged in on every invocation. The subcommand is read from argv;
/// for anything else (no subcommand, an unknown flag or name) and for every
/// error, help and version request, the full command parses the same argv,
/// so what is printed is the same as without the shortcut.
pub fn parse_args<I, T>(argv: I) -> std::result::Result<Cli, clap::Error>
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let argv: Vec<std::ffi::OsString> = argv.into_iter().map(Into::into).collect();
    if let Some(mut cmd) = subcommand_name(&argv).and_then(one_subcommand)
        && let Ok(mut m) = cmd.try_get_matches_from_mut(&argv)
        && let Ok(cli) = Cli::from_arg_matches_mut(&mut m)
    {
        return Ok(cli);
    }
    parse_with_full_command(argv)
}

/// The parse with every subcommand defined.
fn parse_with_full_command(argv: Vec<std::ffi::OsString>) -> std::result::Result<Cli, clap::Error> {
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

/// The subcommand argv names: the first argument after the global flags
/// (and their values). None when a `--`, another flag or no argument comes
/// first.
fn subcommand_name(argv: &[std::ffi::OsString]) -> Option<&str> {
    let mut args = argv.iter().skip(1);
    while let Some(a) = args.next() {
        let a = a.to_str()?;
        if GLOBAL_WITH_VALUE.contains(&a) {
            args.next()?;
        } else if GLOBAL_SWITCHES.contains(&a)
            || GLOBAL_WITH_VALUE
                .iter()
                .any(|f| a.strip_prefix(f).is_some_and(|v| v.starts_with('=')))
        {
        } else if a.starts_with('-') {
            return None;
        } else {
            return Some(a);
        }
    }
    None
}

/// The top-level command with the global flags and only the subcommand
/// `name` (None for a name hull does not have).
fn one_subcommand(name: &str) -> Option<clap::Command> {
    use clap::Command as C;
    let sub = match name {
        "create" => create::CreateArgs::augment_args(C::new("create")),
        "start" => start::StartArgs::augment_args(C::new("start")),
        "run" => run::RunArgs::augment_args(C::new("run")),
        "exec" => exec::ExecArgs::augment_args(C::new("exec")),
        "pause" => pause::PauseArgs::augment_args(C::new("pause")),
        "resume" => resume::ResumeArgs::augment_args(C::new("resume")),
        "ps" => ps::PsArgs::augment_args(C::new("ps")),
        "update" => UpdateArgs::augment_args(C::new("update")),
        "events" => events::EventsArgs::augment_args(C::new("events")),
        "features" => C::new("features"),
        "state" => state::StateArgs::augment_args(C::new("state")),
        "kill" => kill::KillArgs::augment_args(C::new("kill")),
        "delete" => delete::DeleteArgs::augment_args(C::new("delete")),
        "list" => list::ListArgs::augment_args(C::new("list")),
        "checkpoint" => checkpoint::CheckpointArgs::augment_args(C::new("checkpoint")),
        "restore" => restore::RestoreArgs::augment_args(C::new("restore")),
        "check" => check::CheckArgs::augment_args(C::new("check")),
        "spec" => spec::SpecArgs::augment_args(C::new("spec")),
        _ => return None,
    };
    let top = clap::Command::new("hull")
        .version(VERSION)
        .long_version(VERSION)
        .about(ABOUT)
        .disable_help_subcommand(true)
        .disable_version_flag(true)
        .subcommand_required(true);
    Some(GlobalArgs::augment_args(top).subcommand(sub))
}

impl Cli {
    /// Checks the flag values clap passes through as text (sizes, signals,
    /// durations, exec's -e/-u/--cap/--cgroup, update's numbers and CPU
    /// lists) the way the command will read them, without touching the
    /// system. Runs before every command, so a bad value is reported before
    /// anything is looked up or changed.
    pub fn check(&self) -> Result<()> {
        match &self.command {
            Command::Update(a) => a.check(),
            Command::Events(a) => a.check(),
            Command::Kill(a) => a.check(),
            Command::Exec(a) => a.check(),
            _ => Ok(()),
        }
    }
}

/// Entry point: returns the process exit code.
/// Writes a command's output to stdout. A reader that went away (`| head`,
/// `| grep -q`) is not the command's failure: exit 0 quietly, where
/// `println!` would panic on the broken pipe.
fn write_stdout(command: &str, text: &str) -> Result<i32> {
    use std::io::Write;
    match std::io::stdout().lock().write_all(text.as_bytes()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(crate::error::Error::msg(
            format!("{command}: write to stdout: {e}"),
        )),
        _ => Ok(0),
    }
}

pub fn main() -> i32 {
    crate::security::exeseal::on_startup();
    let cli = parse_args(std::env::args_os()).unwrap_or_else(|e| e.exit());
    // runc exits 255 when exec itself fails, so callers can tell that from
    // the exit status of the process.
    let failure_code = if matches!(cli.command, Command::Exec(_)) {
        255
    } else {
        1
    };
    let format = if cli.globals.log_format == "json" {
        logging::Format::Json
    } else {
        logging::Format::Text
    };
    logging::init(cli.globals.log.as_deref(), format, cli.globals.debug);
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            let msg = e.to_string();
            logging::log("error", &msg);
            eprintln!("hull: {msg}");
            failure_code
        }
    }
}

fn dispatch(cli: Cli) -> Result<i32> {
    cli.check()?;
    crate::cgroups::systemd::set_requested(cli.globals.systemd_cgroup);
    // `spec`, `features` and `check` need no state directory.
    let root = match &cli.command {
        Command::Spec(_) | Command::Features | Command::Check(_) => PathBuf::new(),
        _ => crate::container::state_root(cli.globals.root, cli.globals.rootless.as_deref())?,
    };
    match cli.command {
        Command::Create(a) => create::run(root, a),
        Command::Run(a) => run::run(root, a),
        Command::Exec(a) => exec::run(root, *a),
        Command::Features => features::run(),
        Command::Update(a) => update::run(&root, *a),
        Command::Events(a) => events::run(&root, a),
        Command::Pause(a) => pause::run(&root, a),
        Command::Resume(a) => resume::run(&root, a),
        Command::Ps(a) => ps::run(&root, a),
        Command::Start(a) => start::run(&root, a),
        Command::State(a) => state::run(&root, a),
        Command::Kill(a) => kill::run(&root, a),
        Command::Delete(a) => delete::run(&root, a),
        Command::List(a) => list::run(&root, a),
        Command::Checkpoint(a) => checkpoint::run(root, *a),
        Command::Restore(a) => {
            if cli.globals.systemd_cgroup {
                return Err(crate::error::Error::msg(
                    "--systemd-cgroup: restore does not support the systemd cgroup driver (CRIU places the restored processes itself); restore with the cgroupfs driver",
                ));
            }
            restore::run(root, *a)
        }
        Command::Spec(a) => spec::run(a),
        Command::Check(a) => check::run(a),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn command_line_definition_is_consistent() {
        use clap::CommandFactory;
        Cli::command().debug_assert();
    }

    /// The one-subcommand parse gives what the full command gives, and
    /// falls back to it where argv names no subcommand first.
    #[test]
    fn one_subcommand_parse_matches_the_full_command() {
        let os = |argv: &[&str]| argv.iter().map(|a| a.into()).collect::<Vec<_>>();
        for argv in [
            &["hull", "start", "c1"][..],
            &[
                "hull", "--root", "/r", "--log=/l", "--debug", "run", "-b", "/b", "--keep", "c1",
            ],
            &[
                "hull",
                "--rootless",
                "true",
                "--systemd-cgroup",
                "state",
                "c1",
                "--root",
                "/x",
            ],
            &[
                "hull",
                "--log-format",
                "json",
                "exec",
                "-t",
                "c1",
                "sh",
                "-c",
                "x --help",
            ],
            &["hull", "create", "--bundle", "b", "--pid-file", "p", "c1"],
            &["hull", "delete", "-f", "c1"],
            &["hull", "kill", "--all", "c1", "KILL"],
            &["hull", "list", "-q"],
            &["hull", "ps", "--format", "json", "c1"],
            &["hull", "update", "--memory", "64m", "c1"],
            &["hull", "events", "--stats", "c1"],
            &["hull", "features"],
            &["hull", "spec"],
        ] {
            let args = os(argv);
            let name = subcommand_name(&args).expect("a subcommand");
            let mut cmd = one_subcommand(name).expect("a known subcommand");
            let mut m = cmd.try_get_matches_from_mut(argv).unwrap();
            let small = Cli::from_arg_matches_mut(&mut m).unwrap();
            let full = parse_with_full_command(os(argv)).unwrap();
            assert_eq!(format!("{small:?}"), format!("{full:?}"), "{argv:?}");
        }
        for argv in [
            &["hull"][..],
            &["hull", "--version", "list"],
            &["hull", "-v"],
            &["hull", "--", "list"],
            &["hull", "--root"],
            &["hull", "--nope", "list"],
        ] {
            assert_eq!(subcommand_name(&os(argv)), None, "{argv:?}");
        }
        assert!(one_subcommand("nope").is_none());
        // Errors, help and version come from the full command.
        for argv in [
            &["hull", "start"][..],
            &["hull", "start", "--help"],
            &["hull", "run", "-dh"],
            &["hull", "--root", "/r", "kill", "c1", "--nope"],
            &["hull", "nope"],
        ] {
            let got = parse_args(argv.iter().copied()).unwrap_err().to_string();
            let want = Cli::command()
                .try_get_matches_from(argv.iter().copied())
                .unwrap_err()
                .to_string();
            assert_eq!(got, want, "{argv:?}");
        }
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
}
