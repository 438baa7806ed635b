//! The command line: `transformer-mt [--backend NAME] <train | infer | eval>`.

use anyhow::bail;
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};

use crate::backend::{self, Backend};

/// The Transformer of "Attention Is All You Need", learning English → Portuguese translation.
#[derive(Debug, Parser)]
#[command(name = "transformer-mt", version)]
pub struct Cli {
    /// Compute backend (the full help lists this build's).
    #[arg(
        long,
        global = true,
        env = "TRANSFORMER_MT_BACKEND",
        default_value = "auto",
        value_name = "NAME"
    )]
    pub backend: String,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model on an English–Portuguese corpus: live dashboard, checkpoints, resume.
    Train,
    /// Translate English sentences with a trained model.
    Infer,
    /// Score a trained model's translations with BLEU and chrF.
    Eval,
}

/// Parses the process arguments; `--help` names the backends of this build.
pub fn parse() -> Cli {
    let command = Cli::command().mut_arg("backend", |arg| arg.help(backend::help()));
    Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit())
}

/// Runs one command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let backend = Backend::from_name(&cli.backend)?;
    let (name, issue) = match cli.command {
        Command::Train => ("train", 4),
        Command::Infer => ("infer", 5),
        Command::Eval => ("eval", 6),
    };
    bail!(
        "`{name}` is not built yet (it arrives with issue #{issue}); nothing was run on {backend}"
    )
}
