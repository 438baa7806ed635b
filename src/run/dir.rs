//! The run directory `artifacts/<run>/`: everything a trained model needs, nothing else.
//!
//! | file | what |
//! |---|---|
//! | `config.json` | the run's effective configuration |
//! | `tokenizer.json` (or `tokenizer-source.json` + `tokenizer-target.json`) | the vocabularies |
//! | `model.json` (`gpt.json` for a language model, `bert.json` for a masked one), `model.bpk` | the full model configuration and the best weights |
//! | `test.tsv` | the held-out test pairs, for `eval` |
//! | `train.log`, `experiment.log` | the progress lines; Burn's own log |
//! | `train.lock` | locked by the one process training the run; holds its process id |
//! | `eval/STEM.{src,ref,hyp}`, `eval/STEM.lock` | what `eval` translated and scored, by test file (unless `--output` names another directory); locked while it runs |
//! | `checkpoint/{model,optim,scheduler}-N.bpk` | the last epochs and the best, to resume |
//! | `train/epoch-N/`, `valid/epoch-N/` | every metric of every batch, one file each |

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

use super::config::RunConfig;
use crate::data::Vocabularies;
use crate::data::corpus::{Pair, write_pairs};
use crate::data::tokenizer::SubwordTokenizer;
use crate::model::{BertConfig, GptConfig, TransformerConfig};

/// The run that `train` trains when no `--run` is given, under `artifacts/`.
pub const DEFAULT_RUN: &str = "default";

/// The trained English→Portuguese model shipped in the repository.
pub const SHIPPED_MODEL: &str = "models/eng-por";

/// The checkpoint records of one epoch, all three needed to resume.
const CHECKPOINT_RECORDS: [&str; 3] = ["model", "optim", "scheduler"];

/// Where a run directory stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunState {
    /// No run: no configuration, weights or checkpoint.
    Empty,
    /// A run that started (its `config.json` is written) and saved no epoch: killed or
    /// stopped before its first checkpoint.
    Unsaved,
    /// Epochs saved as complete checkpoints, the newest one given.
    Saved(usize),
    /// Weights (`model.bpk`) without a checkpoint to continue from.
    Trained,
}

/// A lock of a run (or of an output directory), held while it lives; see [`lock_directory`].
#[derive(Debug)]
pub struct RunLock {
    _file: File,
}

/// Takes the lock file `name` of `dir` (created, with `dir`, when missing) for as long as the
/// returned value lives, so that one process at a time does what `doing` names ("trained",
/// "evaluated") there. The lock is the kernel's (`flock`), so it goes with the process however
/// it ends, `SIGKILL` included; a second process is refused at once, naming the one that
/// holds it.
pub fn lock_directory(dir: &Path, name: &str, doing: &str) -> anyhow::Result<RunLock> {
    if dir.exists() && !dir.is_dir() {
        bail!("{}: not a directory", dir.display());
    }
    std::fs::create_dir_all(dir)
        .with_context(|| format!("{}: cannot create the directory", dir.display()))?;
    let path = dir.join(name);
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(&path)
        .with_context(|| format!("{}: cannot open", path.display()))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => {
            let mut holder = String::new();
            let _ = file.read_to_string(&mut holder);
            let holder = match holder.trim().parse::<u32>() {
                Ok(pid) => format!("process {pid}"),
                Err(_) => "another process".to_string(),
            };
            bail!(
                "{} is being {doing} by {holder} (it holds {}): one process at a time",
                dir.display(),
                path.display()
            );
        }
        Err(TryLockError::Error(error)) => {
            return Err(error).with_context(|| format!("{}: cannot lock", path.display()));
        }
    }
    let pid = std::process::id();
    file.set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{pid}"))
        .with_context(|| format!("{}: cannot write", path.display()))?;
    Ok(RunLock { _file: file })
}

/// A run directory.
#[derive(Clone, Debug)]
pub struct RunDir {
    path: PathBuf,
}

impl RunDir {
    /// `--run` as given: a bare name means `artifacts/NAME`, anything with a `/` is a path.
    pub fn from_arg(run: &Path) -> Self {
        let path = if run.components().count() == 1 && !run.is_absolute() {
            Path::new("artifacts").join(run)
        } else {
            run.to_path_buf()
        };
        Self { path }
    }

    /// The model a translating command uses: the run given; without one, the default run
    /// once it is trained, else the shipped model when present (then `true`: the caller says
    /// so), else the default run, whose missing weights the loader reports.
    pub fn model_to_use(run: Option<&Path>) -> (Self, bool) {
        if let Some(run) = run {
            return (Self::from_arg(run), false);
        }
        let default = Self::from_arg(Path::new(DEFAULT_RUN));
        let shipped = Self::from_arg(Path::new(SHIPPED_MODEL));
        if !default.weights_path().exists() && shipped.weights_path().exists() {
            (shipped, true)
        } else {
            (default, false)
        }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Refuses a run path that names something other than a directory, such as a file.
    pub fn ensure_directory(&self) -> anyhow::Result<()> {
        if self.path.exists() && !self.path.is_dir() {
            bail!(
                "{}: not a directory: a run is the directory `train` made, such as models/eng-por",
                self.path.display()
            );
        }
        Ok(())
    }

    /// The effective configuration of the run.
    pub fn config_path(&self) -> PathBuf {
        self.path.join("config.json")
    }

    /// The full model configuration, vocabulary sizes included.
    pub fn model_config_path(&self) -> PathBuf {
        self.path.join("model.json")
    }

    /// The best weights.
    pub fn weights_path(&self) -> PathBuf {
        self.path.join("model.bpk")
    }

    /// The held-out test pairs.
    pub fn test_path(&self) -> PathBuf {
        self.path.join("test.tsv")
    }

    /// The plain progress log.
    pub fn log_path(&self) -> PathBuf {
        self.path.join("train.log")
    }

    /// The checkpoint file of `record` (`model`, `optim` or `scheduler`) for `epoch`.
    pub fn checkpoint_path(&self, record: &str, epoch: usize) -> PathBuf {
        self.path
            .join("checkpoint")
            .join(format!("{record}-{epoch}.bpk"))
    }

    /// The model checkpoint of `epoch`.
    pub fn model_checkpoint(&self, epoch: usize) -> PathBuf {
        self.checkpoint_path("model", epoch)
    }

    /// Where the run stands: what a fresh start or a resume may do with it.
    pub fn state(&self) -> RunState {
        if let Some(&epoch) = self.complete_checkpoints().last() {
            RunState::Saved(epoch)
        } else if self.weights_path().exists() {
            RunState::Trained
        } else if self.config_path().exists() {
            RunState::Unsaved
        } else {
            RunState::Empty
        }
    }

    /// Refuses to start a new run over one that saved anything: its weights or a
    /// checkpoint. A run that started but saved nothing may be started again.
    pub fn ensure_fresh(&self) -> anyhow::Result<()> {
        let path = self.path.display();
        match self.state() {
            RunState::Empty | RunState::Unsaved => Ok(()),
            RunState::Trained => bail!(
                "{path} already holds a trained model (model.bpk) but no checkpoint to continue it from: choose another `--run`"
            ),
            RunState::Saved(epoch) if self.weights_path().exists() => bail!(
                "{path} already holds a trained model (model.bpk, checkpoints up to epoch {epoch}): choose another `--run`, or continue its training with `train --resume`"
            ),
            RunState::Saved(epoch) => bail!(
                "{path} holds a run saved at epoch {epoch}: continue it with `train --resume`, or choose another `--run`"
            ),
        }
    }

    /// Takes the run's writer lock, `train.lock`, for as long as the returned value lives:
    /// one process at a time trains a run. A second writer is refused at once, naming the
    /// process that holds it (see [`lock_directory`]).
    pub fn lock(&self) -> anyhow::Result<RunLock> {
        lock_directory(&self.path, "train.lock", "trained")
    }

    /// The epochs whose three checkpoint records (model, optimiser, scheduler) all exist,
    /// in increasing order. Each record is written to a temporary file and renamed, so an
    /// existing record is complete; an epoch killed between two records is not listed.
    pub fn complete_checkpoints(&self) -> Vec<usize> {
        let Ok(entries) = std::fs::read_dir(self.path.join("checkpoint")) else {
            return Vec::new();
        };
        let mut epochs: Vec<usize> = entries
            .filter_map(|entry| {
                let name = entry.ok()?.file_name().into_string().ok()?;
                name.strip_prefix("model-")?
                    .strip_suffix(".bpk")?
                    .parse()
                    .ok()
            })
            .filter(|&epoch| {
                CHECKPOINT_RECORDS
                    .iter()
                    .all(|record| self.checkpoint_path(record, epoch).is_file())
            })
            .collect();
        epochs.sort_unstable();
        epochs
    }

    /// The configuration saved by the run's first start.
    pub fn saved_config(&self) -> anyhow::Result<RunConfig> {
        let path = self.config_path();
        if !path.exists() {
            bail!(
                "{}: no config.json: not a training run of transformer-mt",
                self.path.display()
            );
        }
        RunConfig::load(&path)
    }

    /// Writes the effective configuration (atomically).
    pub fn write_config(&self, config: &RunConfig) -> anyhow::Result<()> {
        write_json(&self.config_path(), config)
    }

    /// Writes the held-out test pairs as `english<TAB>portuguese` lines (atomically).
    pub fn write_test_pairs(&self, pairs: &[Pair]) -> anyhow::Result<()> {
        write_pairs(&self.test_path(), pairs)
            .with_context(|| format!("{}: cannot write", self.test_path().display()))
    }

    /// [`weights_path`](Self::weights_path), refused when the run has not trained yet.
    pub fn trained_weights(&self) -> anyhow::Result<PathBuf> {
        let weights = self.weights_path();
        if !weights.exists() {
            bail!(
                "{}: no model.bpk: train the run first (`transformer-mt train --run {}`)",
                self.path.display(),
                self.path.display()
            );
        }
        Ok(weights)
    }

    /// The tokenizer of a language model's run, whose `config_file` (`gpt.json`, `bert.json`)
    /// expects `vocab_size` tokens: its target side, the one a language model reads.
    pub fn language_tokenizer(
        &self,
        vocab_size: usize,
        config_file: &str,
    ) -> anyhow::Result<SubwordTokenizer> {
        let tokenizer = Vocabularies::load(&self.path)?.target;
        if tokenizer.vocab_size() != vocab_size {
            bail!(
                "{}: the tokenizer has {} tokens but {config_file} expects {vocab_size}",
                self.path.display(),
                tokenizer.vocab_size(),
            );
        }
        Ok(tokenizer)
    }

    /// Writes the full model configuration (atomically).
    pub fn write_model_config(&self, config: &TransformerConfig) -> anyhow::Result<()> {
        write_json(&self.model_config_path(), config)
    }

    /// Reads the full model configuration.
    pub fn model_config(&self) -> anyhow::Result<TransformerConfig> {
        self.read_model_json(ModelKind::Translation)
    }

    /// The masked language model's configuration: `bert.json`, a run of `task` `"mlm"`.
    pub fn bert_config_path(&self) -> PathBuf {
        self.path.join(ModelKind::Masked.file())
    }

    /// Writes the masked language model's configuration (atomically).
    pub fn write_bert_config(&self, config: &BertConfig) -> anyhow::Result<()> {
        write_json(&self.bert_config_path(), config)
    }

    /// Reads the masked language model's configuration.
    pub fn bert_config(&self) -> anyhow::Result<BertConfig> {
        self.read_model_json(ModelKind::Masked)
    }

    /// The language model's configuration: `gpt.json`, a run of `task` `"lm"`.
    pub fn gpt_config_path(&self) -> PathBuf {
        self.path.join(ModelKind::Language.file())
    }

    /// Writes the language model's configuration (atomically).
    pub fn write_gpt_config(&self, config: &GptConfig) -> anyhow::Result<()> {
        write_json(&self.gpt_config_path(), config)
    }

    /// Reads the language model's configuration.
    pub fn gpt_config(&self) -> anyhow::Result<GptConfig> {
        self.read_model_json(ModelKind::Language)
    }

    /// The model configuration of a run of `kind`; a run of another kind is named as such.
    fn read_model_json<C: serde::de::DeserializeOwned>(
        &self,
        kind: ModelKind,
    ) -> anyhow::Result<C> {
        let path = self.path.join(kind.file());
        if !path.exists() {
            let other = ModelKind::ALL
                .into_iter()
                .find(|other| self.path.join(other.file()).exists());
            match other {
                Some(other) => bail!(
                    "{} is {} ({}), not {}: {}",
                    self.path.display(),
                    other.what(),
                    other.file(),
                    kind.what(),
                    other.command()
                ),
                None if kind != ModelKind::Translation => bail!(
                    "{}: no {}: not a run of {} (train one with `transformer-mt train --config {} --run {}`)",
                    self.path.display(),
                    kind.file(),
                    kind.what(),
                    kind.config(),
                    self.path.display()
                ),
                None => {}
            }
        }
        let text = std::fs::read_to_string(&path)
            .with_context(|| format!("{}: cannot read the model configuration", path.display()))?;
        serde_json::from_str(&text)
            .with_context(|| format!("{}: invalid model configuration", path.display()))
    }

    /// Forgets what a run did after `epoch`: its metric logs and its checkpoints, complete
    /// or not, so that a resumed run writes them afresh.
    pub fn forget_after(&self, epoch: usize) -> anyhow::Result<()> {
        for split in ["train", "valid"] {
            let Ok(entries) = std::fs::read_dir(self.path.join(split)) else {
                continue;
            };
            for entry in entries.flatten() {
                let later = entry
                    .file_name()
                    .to_str()
                    .and_then(|name| name.strip_prefix("epoch-"))
                    .and_then(|n| n.parse::<usize>().ok())
                    .is_some_and(|n| n > epoch);
                if later {
                    std::fs::remove_dir_all(entry.path())
                        .with_context(|| format!("{}: cannot remove", entry.path().display()))?;
                }
            }
        }
        let Ok(entries) = std::fs::read_dir(self.path.join("checkpoint")) else {
            return Ok(());
        };
        for entry in entries.flatten() {
            let later = entry
                .file_name()
                .to_str()
                .and_then(|name| name.strip_suffix(".bpk"))
                .and_then(|name| name.rsplit_once('-'))
                .and_then(|(_, n)| n.parse::<usize>().ok())
                .is_some_and(|n| n > epoch);
            if later {
                std::fs::remove_file(entry.path())
                    .with_context(|| format!("{}: cannot remove", entry.path().display()))?;
            }
        }
        Ok(())
    }

    /// The log of metric `name` on `split` in epoch `epoch`, one line a batch and the epoch's
    /// value last, in the file Burn names after the metric with `_` for each space
    /// (`valid/epoch-3/BLEU_tatoeba.log`).
    fn metric_log(&self, split: &str, epoch: usize, name: &str) -> PathBuf {
        self.path
            .join(split)
            .join(format!("epoch-{epoch}"))
            .join(format!("{}.log", name.replace(' ', "_")))
    }

    /// The epoch value of metric `name` (`Loss`, `Accuracy`, ...) on `split` (`train` or
    /// `valid`), as the learner logged it: the last line of the epoch's log, `value,final`.
    pub fn epoch_metric(&self, split: &str, epoch: usize, name: &str) -> Option<f64> {
        let text = std::fs::read_to_string(self.metric_log(split, epoch, name)).ok()?;
        let last = text.lines().rev().find(|line| !line.trim().is_empty())?;
        last.strip_suffix(",final")?.parse().ok()
    }

    /// The last epoch whose training began (0 when none did).
    pub fn last_started_epoch(&self) -> usize {
        std::fs::read_dir(self.path.join("train"))
            .map(|entries| {
                entries
                    .flatten()
                    .filter_map(|entry| {
                        entry
                            .file_name()
                            .to_str()?
                            .strip_prefix("epoch-")?
                            .parse()
                            .ok()
                    })
                    .max()
                    .unwrap_or(0)
            })
            .unwrap_or(0)
    }

    /// The epochs with a validation loss logged, in order.
    pub fn logged_epochs(&self) -> Vec<usize> {
        (1..)
            .take_while(|&epoch| self.epoch_metric("valid", epoch, "Loss").is_some())
            .collect()
    }

    /// The optimiser steps of epochs `1..=epochs`: the batches their training logs count
    /// (one `Loss.log` line each, the epoch's `,final` line aside).
    pub fn logged_steps(&self, epochs: usize) -> usize {
        (1..=epochs)
            .map(|epoch| {
                std::fs::read_to_string(self.metric_log("train", epoch, "Loss"))
                    .map(|text| {
                        text.lines()
                            .filter(|l| !l.trim().is_empty() && !l.ends_with(",final"))
                            .count()
                    })
                    .unwrap_or(0)
            })
            .sum()
    }
}

/// `value` as pretty JSON in `path`, written whole or not at all.
fn write_json(path: &Path, value: &impl serde::Serialize) -> anyhow::Result<()> {
    let text = serde_json::to_string_pretty(value)?;
    crate::fs::write_atomic(path, format!("{text}\n").as_bytes())
        .with_context(|| format!("{}: cannot write", path.display()))
}

/// The three kinds of trained model a run can hold, told apart by their configuration file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ModelKind {
    /// `task` `"translate"`: `model.json`.
    Translation,
    /// `task` `"lm"`: `gpt.json`.
    Language,
    /// `task` `"mlm"`: `bert.json`.
    Masked,
}

impl ModelKind {
    const ALL: [ModelKind; 3] = [Self::Translation, Self::Language, Self::Masked];

    fn file(self) -> &'static str {
        match self {
            Self::Translation => "model.json",
            Self::Language => "gpt.json",
            Self::Masked => "bert.json",
        }
    }

    fn what(self) -> &'static str {
        match self {
            Self::Translation => "a translation model",
            Self::Language => "a language model",
            Self::Masked => "a masked language model",
        }
    }

    fn command(self) -> &'static str {
        match self {
            Self::Translation => "translate with `infer`",
            Self::Language => "write with `generate`",
            Self::Masked => "fill in with `fill-mask`",
        }
    }

    fn config(self) -> &'static str {
        match self {
            Self::Translation => "config/default.json",
            Self::Language => "config/gpt.json",
            Self::Masked => "config/bert.json",
        }
    }
}
