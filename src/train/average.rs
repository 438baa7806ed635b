//! `transformer-mt average`: the mean of a run's checkpoint weights, written as a new model
//! directory (configuration, tokenizer, weights) that `infer`, `eval`, `attention` and
//! `train --init-from` take like any trained run — or `generate` and `fill-mask`, for a run of
//! a language model.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Device;

use super::step::TrainingModel;
use crate::backend::Backend;
use crate::data::Vocabularies;
use crate::model::{BertConfig, GptConfig, TransformerConfig};
use crate::run::RunDir;
use crate::run::weights::{self, Precision};

/// What `average` is asked to do.
#[derive(Clone, Debug)]
pub struct AverageOptions {
    /// The run whose checkpoints are averaged.
    pub run: PathBuf,
    /// Average its newest `last` complete checkpoints...
    pub last: Option<usize>,
    /// ...or these epochs' checkpoints.
    pub epochs: Vec<usize>,
    /// The new model directory; it must not exist or be empty.
    pub output: PathBuf,
    /// How the averaged weights are stored.
    pub precision: Precision,
    /// Where the checkpoints are loaded to be averaged.
    pub backend: Backend,
}

/// What `average` wrote.
#[derive(Clone, Debug)]
pub struct Averaged {
    /// The epochs whose checkpoints were averaged.
    pub epochs: Vec<usize>,
    /// The model directory written.
    pub output: RunDir,
    /// The size of its weights file, bytes.
    pub weights_bytes: u64,
}

/// Averages the checkpoints `options` name into a new model directory, written whole or not
/// at all: into a temporary directory beside it, renamed into place at the end.
pub fn average(options: &AverageOptions) -> anyhow::Result<Averaged> {
    let run = RunDir::from_arg(&options.run);
    run.ensure_directory()?;
    let epochs = chosen_epochs(&run, options)?;
    let output = RunDir::from_arg(&options.output);
    ensure_empty(output.path())?;
    let config = run.saved_config()?;
    let network = NetworkConfig::of(&run)?;
    let vocabularies = Vocabularies::load(run.path())?;
    let device = options.backend.device()?;
    let models = epochs
        .iter()
        .map(|&epoch| {
            let model = network.init(&device, config.training.label_smoothing)?;
            weights::load(model, &run.model_checkpoint(epoch))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let mean = weights::average(models)?;

    let staging = staging_dir(output.path())?;
    let written = (|| {
        let staged = RunDir::from_arg(&staging);
        staged.write_config(&config)?;
        network.write(&staged)?;
        vocabularies.save(&staging)?;
        mean.save_network(&staged.weights_path(), options.precision)?;
        if output.path().exists() {
            std::fs::remove_dir(output.path())
                .with_context(|| format!("{}: cannot replace", output.path().display()))?;
        }
        std::fs::rename(&staging, output.path())
            .with_context(|| format!("{}: cannot write", output.path().display()))
    })();
    if written.is_err() {
        let _ = std::fs::remove_dir_all(&staging);
    }
    written?;
    let weights_bytes = std::fs::metadata(output.weights_path())?.len();
    Ok(Averaged {
        epochs,
        output,
        weights_bytes,
    })
}

/// The configuration of a run's network, whichever of the three it trained.
enum NetworkConfig {
    Translation(TransformerConfig),
    Language(GptConfig),
    Masked(BertConfig),
}

impl NetworkConfig {
    /// The configuration `run` holds: `gpt.json`, `bert.json` or `model.json`.
    fn of(run: &RunDir) -> anyhow::Result<Self> {
        Ok(if run.gpt_config_path().exists() {
            Self::Language(run.gpt_config()?)
        } else if run.bert_config_path().exists() {
            Self::Masked(run.bert_config()?)
        } else {
            Self::Translation(run.model_config()?)
        })
    }

    /// The network, untrained, in the training wrapper its checkpoints were saved from.
    fn init(&self, device: &Device, label_smoothing: f64) -> anyhow::Result<TrainingModel> {
        Ok(match self {
            Self::Translation(config) => TrainingModel::new(config.init(device)?, label_smoothing),
            Self::Language(config) => {
                TrainingModel::language(config.init(device)?, label_smoothing)
            }
            Self::Masked(config) => TrainingModel::masked(config.init(device)?, label_smoothing),
        })
    }

    /// Writes the configuration into `run`.
    fn write(&self, run: &RunDir) -> anyhow::Result<()> {
        match self {
            Self::Translation(config) => run.write_model_config(config),
            Self::Language(config) => run.write_gpt_config(config),
            Self::Masked(config) => run.write_bert_config(config),
        }
    }
}

/// The epochs to average: those named, each a complete checkpoint of `run`, or its newest
/// `last` complete checkpoints.
fn chosen_epochs(run: &RunDir, options: &AverageOptions) -> anyhow::Result<Vec<usize>> {
    let available = run.complete_checkpoints();
    let path = run.path().display();
    if available.is_empty() {
        bail!("{path}: no complete checkpoint to average (checkpoint/model-N.bpk)");
    }
    let listed = available
        .iter()
        .map(usize::to_string)
        .collect::<Vec<_>>()
        .join(", ");
    if let Some(missing) = options.epochs.iter().find(|e| !available.contains(e)) {
        bail!("{path}: no complete checkpoint of epoch {missing} (there are: {listed})");
    }
    if !options.epochs.is_empty() {
        return Ok(options.epochs.clone());
    }
    let last = options.last.unwrap_or(available.len());
    if last == 0 || last > available.len() {
        bail!(
            "{path}: --last {last}: the run has {} complete checkpoints ({listed})",
            available.len()
        );
    }
    Ok(available[available.len() - last..].to_vec())
}

/// Refuses an output that exists and is not an empty directory: nothing is overwritten.
fn ensure_empty(output: &Path) -> anyhow::Result<()> {
    if !output.exists() {
        return Ok(());
    }
    let empty = output.is_dir()
        && std::fs::read_dir(output)
            .with_context(|| format!("{}: cannot read", output.display()))?
            .next()
            .is_none();
    if !empty {
        bail!(
            "{}: already exists and is not empty: choose a new --output",
            output.display()
        );
    }
    Ok(())
}

/// A new directory beside `output` to write into before renaming.
fn staging_dir(output: &Path) -> anyhow::Result<PathBuf> {
    let name = output
        .file_name()
        .with_context(|| format!("{}: not a directory name", output.display()))?;
    let staging = output.with_file_name(format!(
        ".{}.partial-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    std::fs::create_dir_all(&staging)
        .with_context(|| format!("{}: cannot create", staging.display()))?;
    Ok(staging)
}
