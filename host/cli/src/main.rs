//! `pathsec`: the operator's command line (the commands are in `lib.rs`).

fn main() -> std::process::ExitCode {
    pathsec_cli::main()
}
