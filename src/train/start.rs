//! Where a run starts: the effective configuration, a fresh start or a resume, the
//! checkpoint a resume continues from.

use anyhow::{Context, anyhow, bail};
use burn::module::Module;
use burn::optim::OptimizerRecord;
use burn::optim::lr_scheduler::LrSchedulerRecord;

use super::TrainOptions;
use super::step::TrainingModel;
use crate::data::Vocabularies;
use crate::run::{RunConfig, RunDir, RunState};

/// The settings of a resume that may differ from the run's saved configuration.
const RESUMABLE_CHANGES: [&str; 2] = ["training.epochs", "training.patience"];

/// How an invocation of `train` starts its run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Start {
    /// A new run.
    Fresh,
    /// A new run over one whose earlier start saved no epoch (killed early).
    Afresh,
    /// `--resume` of a run that saved no epoch: from its beginning, with its configuration.
    Again,
    /// `--resume` after the epoch given, from its checkpoint.
    After(usize),
}

impl Start {
    /// The epoch training continues after: 0 unless resuming from a checkpoint.
    pub fn done(self) -> usize {
        match self {
            Start::After(epoch) => epoch,
            _ => 0,
        }
    }
}

/// How `run` starts: a resume continues from the newest complete checkpoint, or starts
/// again when none was saved; a fresh start is refused over a run that saved anything. A
/// run that saved nothing is cleared of what its earlier start left (logs, incomplete
/// checkpoints).
pub fn start(run: &RunDir, resume: bool) -> anyhow::Result<Start> {
    let state = run.state();
    let start = match (resume, state) {
        (true, RunState::Saved(epoch)) => return Ok(Start::After(epoch)),
        (true, RunState::Trained) => bail!(
            "{}: model.bpk but no complete checkpoint to continue its training from: choose another `--run`",
            run.path().display()
        ),
        (true, _) => Start::Again,
        (false, RunState::Unsaved) => Start::Afresh,
        (false, _) => {
            run.ensure_fresh()?;
            Start::Fresh
        }
    };
    if state == RunState::Unsaved {
        run.forget_after(0)?;
    }
    Ok(start)
}

/// The configuration this invocation trains with: the file given (else, when resuming, the
/// run's own; else the default), with the command line's overrides, validated. A resume that
/// differs from the run's saved configuration in anything but [`RESUMABLE_CHANGES`] is
/// refused.
pub fn effective_config(options: &TrainOptions, run: &RunDir) -> anyhow::Result<RunConfig> {
    let saved = if options.resume {
        if !run.config_path().exists() {
            bail!(
                "{}: nothing to resume: no training run of transformer-mt started here (no config.json); start one without --resume",
                run.path().display()
            );
        }
        Some(run.saved_config()?)
    } else {
        None
    };
    let mut config = match (&options.config, &saved) {
        (Some(path), _) => RunConfig::load(path)?,
        (None, Some(saved)) => saved.clone(),
        (None, None) => RunConfig::load_or_default(None)?,
    };
    if !options.data.is_empty() {
        config.data.files = options.data.clone();
    }
    if !options.valid.is_empty() {
        config.data.valid = options.valid.clone();
    }
    if let Some(epochs) = options.epochs {
        config.training.epochs = epochs;
    }
    if let Some(source) = &options.init_from {
        config.training.init_from = Some(source.clone());
    }
    config.validate().context("invalid configuration")?;
    if let Some(saved) = saved {
        let mismatches: Vec<String> = saved
            .differences(&config)
            .into_iter()
            .filter(|field| !RESUMABLE_CHANGES.contains(&field.as_str()))
            .map(|field| describe(&field, ["run", "given"], [&saved, &config]))
            .collect();
        if !mismatches.is_empty() {
            bail!(
                "cannot resume {}: the configuration given differs from the run's config.json in {}",
                run.path().display(),
                mismatches.join("; ")
            );
        }
    }
    Ok(config)
}

/// The fields a run started from another one's weights must share with it: the model's shape
/// and what decides its vocabulary and positions.
const INIT_SHARED: [&str; 5] = [
    "task",
    "model.",
    "data.vocab_size",
    "data.shared_vocab",
    "data.max_len",
];

/// The trained run a new run starts from (`training.init_from`), checked against `config`:
/// trained, of the same shape and vocabulary settings. Its tokenizer is the new run's.
pub fn init_source(config: &RunConfig) -> anyhow::Result<Option<(RunDir, Vocabularies)>> {
    let Some(path) = &config.training.init_from else {
        return Ok(None);
    };
    let source = RunDir::from_arg(path);
    source.ensure_directory()?;
    let from = source.path().display();
    if !source.weights_path().exists() {
        bail!("`training.init_from`: {from} holds no trained model (no model.bpk)");
    }
    let saved = source
        .saved_config()
        .with_context(|| format!("`training.init_from`: {from}"))?;
    let mismatches: Vec<String> = saved
        .differences(config)
        .into_iter()
        .filter(|field| field != "model.dropout")
        .filter(|field| INIT_SHARED.iter().any(|shared| field.starts_with(shared)))
        .map(|field| describe(&field, ["init_from", "given"], [&saved, config]))
        .collect();
    if !mismatches.is_empty() {
        bail!(
            "`training.init_from`: {from} is another model: it differs in {}",
            mismatches.join("; ")
        );
    }
    let vocabularies = Vocabularies::load(source.path())?;
    Ok(Some((source, vocabularies)))
}

/// `model.d_model (run: 64, given: 128)`: a field's value in two configurations.
fn describe(field: &str, names: [&str; 2], configs: [&RunConfig; 2]) -> String {
    let pointer = format!("/{}", field.replace('.', "/"));
    let value = |config: &RunConfig| {
        serde_json::to_value(config)
            .ok()
            .and_then(|v| v.pointer(&pointer).cloned())
            .map(|v| v.to_string())
            .unwrap_or_else(|| "absent".to_string())
    };
    let [a, b] = configs.map(value);
    format!("{field} ({}: {a}, {}: {b})", names[0], names[1])
}

/// Checks that the checkpoint of `epoch` loads into `model`, so that Burn, which panics on a
/// bad checkpoint, is only handed good ones.
pub fn check_checkpoint(run: &RunDir, model: &TrainingModel, epoch: usize) -> anyhow::Result<()> {
    let path = run.model_checkpoint(epoch);
    model
        .clone()
        .try_load_file(&path)
        .map_err(|e| anyhow!("{}: does not fit this model: {e:?}", path.display()))?;
    let path = run.checkpoint_path("optim", epoch);
    OptimizerRecord::load(&path)
        .map_err(|e| anyhow!("{}: unreadable optimiser checkpoint: {e:?}", path.display()))?;
    let path = run.checkpoint_path("scheduler", epoch);
    LrSchedulerRecord::load(&path)
        .map_err(|e| anyhow!("{}: unreadable scheduler checkpoint: {e:?}", path.display()))?;
    Ok(())
}
