//! A command this build of `pathsec` was made without: it stays on the command line and says which
//! feature brings it, rather than being an unknown word.

use crate::command::Result;

/// The arguments of a command this build lacks, taken whole.
#[derive(clap::Args)]
pub struct Absent {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    _args: Vec<String>,
}

impl Absent {
    /// Refuses: the command `name` needs the package feature `feature`.
    pub fn run(self, name: &str, feature: &str) -> Result {
        Err(format!(
            "`pathsec {name}` is not in this build: it needs the `{feature}` feature. Build the command line with \
             `cargo build -p pathsec-cli --features {feature}` (or `--features full` for every command)"
        )
        .into())
    }
}
