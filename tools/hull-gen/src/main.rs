//! `hull-gen OUT_DIR`: hull(8), one hull-COMMAND(8) page per command, and
//! the bash, zsh and fish completions, all from hull's own clap
//! definitions (`hull::cli::Cli`), so they cannot drift from the flags.
//! Writes OUT_DIR/man/*.8 and OUT_DIR/completions/{hull.bash,_hull,hull.fish}.

use clap::CommandFactory;
use clap_complete::Shell;
use std::path::Path;
use std::process::ExitCode;

fn main() -> ExitCode {
    let Some(out) = std::env::args_os().nth(1) else {
        eprintln!("usage: hull-gen OUT_DIR");
        return ExitCode::from(2);
    };
    match generate(Path::new(&out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hull-gen: {}: {e}", Path::new(&out).display());
            ExitCode::FAILURE
        }
    }
}

fn generate(out: &Path) -> std::io::Result<()> {
    let mut cmd = hull::cli::Cli::command();
    cmd.build();
    let man = out.join("man");
    std::fs::create_dir_all(&man)?;
    write_page(&man, "hull", cmd.clone())?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("hull-{}", sub.get_name());
        let sub = sub
            .clone()
            .name(name.clone())
            .bin_name(format!("hull {}", sub.get_name()));
        write_page(&man, &name, sub)?;
    }
    let comp = out.join("completions");
    std::fs::create_dir_all(&comp)?;
    for (shell, file) in [
        (Shell::Bash, "hull.bash"),
        (Shell::Zsh, "_hull"),
        (Shell::Fish, "hull.fish"),
    ] {
        let mut f = std::fs::File::create(comp.join(file))?;
        clap_complete::generate(shell, &mut cmd, "hull", &mut f);
    }
    Ok(())
}

/// One page in section 8 (system administration: hull runs as root, as runc).
fn write_page(dir: &Path, name: &str, cmd: clap::Command) -> std::io::Result<()> {
    let mut buf = Vec::new();
    clap_mangen::Man::new(cmd)
        .section("8")
        .manual("hull manual")
        .source(format!("hull {}", env!("CARGO_PKG_VERSION")))
        .render(&mut buf)?;
    std::fs::write(dir.join(format!("{name}.8")), buf)
}
