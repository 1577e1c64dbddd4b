//! The `entitle` command: parse arguments, run, map the outcome to an exit code.

/// The allocator of the command (not of the library: a library user keeps theirs).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(entitle_cli::run());
}

#[path = "cli/mod.rs"]
mod entitle_cli;
