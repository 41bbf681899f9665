//! The `tandem` command: `tandem run FILE [ARGS...]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use tandem::{Runtime, RuntimeOptions};

#[derive(Parser)]
#[command(name = "tandem", version, about = "TypeScript with in-process Python")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a TypeScript or JavaScript module. Arguments after FILE belong
    /// to the script (`Tandem.args`).
    Run {
        /// The module to run (.ts, .mts, .tsx, .js, .mjs).
        file: PathBuf,
        /// Arguments for the script.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Command::Run { file, args } => match run(file, args) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("error: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn run(file: PathBuf, args: Vec<String>) -> anyhow::Result<()> {
    if !file.is_file() {
        anyhow::bail!("module not found: '{}' (check the path)", file.display());
    }
    let module_root = std::path::absolute(&file)?
        .parent()
        .map(PathBuf::from)
        .context("module path has no parent folder")?;
    let mut runtime = Runtime::new(RuntimeOptions {
        module_root: Some(std::env::current_dir()?),
        python_path: vec![module_root],
        args,
        ..Default::default()
    })?;
    runtime.run_main(&file)?;
    Ok(())
}
