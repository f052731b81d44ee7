//! The `neuromorpho` command-line tool; see `neuromorpho --help`.

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
