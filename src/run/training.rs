//! The `training` section of a run's configuration: the optimiser, the schedule, the loss,
//! how long to train and which epoch is best.

use std::path::PathBuf;

use anyhow::bail;
use serde::{Deserialize, Serialize};

/// The `training` section of the configuration. Defaults follow the paper (§5.3, §5.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training pairs. Default: 10.
    pub epochs: usize,
    /// Scale of the learning rate `factor · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)`.
    /// Default: 1.0 (the paper's).
    pub noam_factor: f64,
    /// Steps of linear warm-up before the inverse-square-root decay. Default: 4000.
    pub warmup_steps: usize,
    /// Adam's β₁. Default: 0.9.
    pub adam_beta_1: f64,
    /// Adam's β₂. Default: 0.98.
    pub adam_beta_2: f64,
    /// Adam's ε. Default: 1e-9.
    pub adam_epsilon: f64,
    /// ε_ls: the probability mass spread over the whole vocabulary. Default: 0.1.
    pub label_smoothing: f64,
    /// Gradients are rescaled so that each parameter's gradient norm is at most this;
    /// `null` turns clipping off. Default: 1.0.
    pub max_grad_norm: Option<f64>,
    /// Stop after this many epochs without a lower validation loss; `null` never stops
    /// early. Default: 3.
    pub patience: Option<usize>,
    /// Checkpoints of the last epochs kept (the best one is always kept too). Default: 2.
    pub keep_checkpoints: usize,
    /// Seed of the initial weights, of the batch order and of dropout. Default: 0.
    pub seed: u64,
    /// Validation sentences greedy-translated after every epoch for the BLEU metric
    /// (sacreBLEU's, on detokenized text): the first ones of the fixed validation order, so
    /// the same every epoch. 0 turns BLEU off. Default: 200.
    pub bleu_sample: usize,
    /// The validation metric that picks the best checkpoint (exported to `model.bpk`) and
    /// that early stopping watches: `"loss"` (lowest) or `"bleu"` (highest; needs
    /// `bleu_sample`). Default: `"loss"`.
    pub select_by: Selection,
    /// A trained run (a name under `artifacts/`, or a directory such as `models/eng-por`)
    /// whose weights and tokenizer this run starts from, with a fresh optimiser and schedule:
    /// to train on past one sitting, or to fine-tune on other pairs. Its model must have this
    /// run's shape (dropout may differ) and vocabulary settings. Default: none (random
    /// weights, a tokenizer trained on the corpus).
    pub init_from: Option<PathBuf>,
}

/// The validation metric that decides which epoch is best.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Selection {
    /// The lowest validation loss.
    #[default]
    Loss,
    /// The highest validation BLEU.
    Bleu,
}

impl Selection {
    /// How reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Selection::Loss => "loss",
            Selection::Bleu => "BLEU",
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            noam_factor: 1.0,
            warmup_steps: 4000,
            adam_beta_1: 0.9,
            adam_beta_2: 0.98,
            adam_epsilon: 1e-9,
            label_smoothing: 0.1,
            max_grad_norm: Some(1.0),
            patience: Some(3),
            keep_checkpoints: 2,
            seed: 0,
            bleu_sample: 200,
            select_by: Selection::Loss,
            init_from: None,
        }
    }
}

impl TrainingConfig {
    /// Checks the values; the error names the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, value) in [
            ("epochs", self.epochs),
            ("warmup_steps", self.warmup_steps),
            ("keep_checkpoints", self.keep_checkpoints),
            ("patience", self.patience.unwrap_or(1)),
        ] {
            if value == 0 {
                bail!("`training.{name}` must be at least 1, got 0");
            }
        }
        let positive = [
            ("noam_factor", self.noam_factor),
            ("adam_epsilon", self.adam_epsilon),
            ("max_grad_norm", self.max_grad_norm.unwrap_or(1.0)),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                bail!("`training.{name}` must be a positive number, got {value}");
            }
        }
        let fractions = [
            ("adam_beta_1", self.adam_beta_1),
            ("adam_beta_2", self.adam_beta_2),
            ("label_smoothing", self.label_smoothing),
        ];
        for (name, value) in fractions {
            if !(0.0..1.0).contains(&value) {
                bail!("`training.{name}` must be in [0, 1), got {value}");
            }
        }
        if self.select_by == Selection::Bleu && self.bleu_sample == 0 {
            bail!(
                "`training.select_by` is \"bleu\" but `training.bleu_sample` is 0: BLEU needs a sample"
            );
        }
        Ok(())
    }
}
