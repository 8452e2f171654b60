//! The subcommands, one file each.

mod demo;

/// Decides whether the network path to a peer is secure, with operator policies in WebAssembly.
#[derive(clap::Parser)]
#[command(name = "pathsec", version, about)]
pub enum Command {
    /// Run a simulated server: the reference policy decides a realistic mix of flows.
    Demo(demo::Demo),
}

/// What a subcommand returns: success, or an error to print.
pub type Outcome = Result<(), Box<dyn std::error::Error>>;

impl Command {
    pub fn run(self) -> Outcome {
        match self {
            Command::Demo(demo) => demo.run(),
        }
    }
}
