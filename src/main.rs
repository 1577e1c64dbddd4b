//! The `entitle` command: parse arguments, run, map the outcome to an exit code.

fn main() {
    std::process::exit(entitle_cli::run());
}

#[path = "cli/mod.rs"]
mod entitle_cli;
