//! `pathsec new-policy NAME`: a new Rust policy from the template — the reference rule as overridable
//! defaults, a test-case file, and the commands to build and test it.

use std::path::{Path, PathBuf};

use crate::command::{Outcome, Result};

const LIB_RS: &str = include_str!("../../../guest-policies/template/src/lib.rs");
const EXAMPLE_CASES: &str = include_str!("../../../guest-policies/template/cases/example.toml");

/// Options of `pathsec new-policy`.
#[derive(clap::Args)]
pub struct NewPolicy {
    /// The policy's name: lowercase letters, digits and `-`, starting with a letter.
    name: String,
    /// Where to create it (default: `guest-policies/NAME`, in the pathsec repository).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// The `pathsec-policy` SDK crate (default: `guest-policies/sdk`).
    #[arg(long)]
    sdk: Option<PathBuf>,
}

impl NewPolicy {
    pub fn run(self) -> Result {
        let name = &self.name;
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
            && !name.ends_with('-');
        if !valid {
            return Err(format!(
                "`{name}` is not a policy name: use lowercase letters, digits and `-`, starting with a letter"
            )
            .into());
        }
        let sdk = match &self.sdk {
            Some(sdk) => sdk.clone(),
            None => PathBuf::from("guest-policies/sdk"),
        };
        if !sdk.join("Cargo.toml").is_file() {
            return Err(format!(
                "no SDK at `{}`: run from the pathsec repository, or give `--sdk PATH`",
                sdk.display()
            )
            .into());
        }
        let dir = self.dir.clone().unwrap_or_else(|| PathBuf::from("guest-policies").join(name));
        if dir.exists() {
            return Err(format!("`{}` exists already: choose another name or `--dir`", dir.display()).into());
        }
        // Inside the guest workspace the policy joins it; elsewhere it is a workspace of its own.
        let in_workspace = self.dir.is_none() && self.sdk.is_none();
        let sdk_path = if in_workspace { "../sdk".to_owned() } else { absolute(&sdk)?.display().to_string() };
        std::fs::create_dir_all(dir.join("src"))?;
        std::fs::create_dir_all(dir.join("cases"))?;
        std::fs::write(dir.join("Cargo.toml"), cargo_toml(name, &sdk_path, in_workspace))?;
        std::fs::write(
            dir.join("src/lib.rs"),
            LIB_RS
                .replace("-p template", &format!("-p {name}"))
                .replace("release/template.wasm", &format!("release/{}.wasm", name.replace('-', "_")))
                .replace("guest-policies/template/cases", &format!("{}/cases", dir.display())),
        )?;
        std::fs::write(dir.join("cases/example.toml"), EXAMPLE_CASES)?;

        let artifact = name.replace('-', "_");
        let (build, wasm) = if in_workspace {
            (
                format!(
                    "cargo build --release --target wasm32-wasip2 --manifest-path guest-policies/Cargo.toml -p {name}"
                ),
                format!("guest-policies/target/wasm32-wasip2/release/{artifact}.wasm"),
            )
        } else {
            let manifest = dir.join("Cargo.toml");
            (
                format!("cargo build --release --target wasm32-wasip2 --manifest-path {}", manifest.display()),
                format!("{}/target/wasm32-wasip2/release/{artifact}.wasm", dir.display()),
            )
        };
        println!("created policy `{name}` in `{}`", dir.display());
        println!("  edit     {}/src/lib.rs (override one method of `Policy`)", dir.display());
        println!("  build    {build}");
        println!("  test     pathsec test --policy {wasm} {}/cases", dir.display());
        Ok(Outcome::Success)
    }
}

fn cargo_toml(name: &str, sdk: &str, in_workspace: bool) -> String {
    let mut text = format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2024\"\npublish = false\n\n\
         [lib]\ncrate-type = [\"cdylib\"]\n\n[dependencies]\npathsec-policy = {{ path = \"{sdk}\" }}\n"
    );
    if !in_workspace {
        text.push_str("\n# A workspace of its own.\n[workspace]\n\n[profile.release]\nopt-level = 3\nlto = true\ncodegen-units = 1\npanic = \"abort\"\nstrip = true\n");
    }
    text
}

fn absolute(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path)
}
