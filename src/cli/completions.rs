//! `entitle completions SHELL` and `entitle man`: the shell completion script
//! and the manual page, both generated from the command definitions (so they
//! never drift from `--help`). They read no project.

use clap::CommandFactory;

use super::{Cli, EXIT_OK};

/// Arguments of `completions`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The shell: bash, zsh, fish, elvish or powershell.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// Writes the completion script for `args.shell` on standard output.
pub fn run(args: Args) -> anyhow::Result<i32> {
    let mut command = Cli::command();
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, &mut command, "entitle", &mut out);
    Ok(EXIT_OK)
}

/// Writes the man page (roff) on standard output.
pub fn man() -> anyhow::Result<i32> {
    let page = clap_mangen::Man::new(Cli::command());
    let mut out = std::io::stdout().lock();
    page.render(&mut out)?;
    Ok(EXIT_OK)
}
