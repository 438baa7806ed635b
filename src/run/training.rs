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
    /// that early stopping watches: over all validation sets, `"loss"` (lowest),
    /// `"perplexity"` (lowest) or `"bleu"` (highest; needs `bleu_sample`); or over one set,
    /// `"perplexity:SET"` or `"bleu:SET"` (`"bleu:ntrex128"`), a set named as the metrics name
    /// it. Default: `"loss"`.
    pub select_by: Selection,
    /// Steps the learning-rate schedule has already taken when this run starts: the step a
    /// run given as `init_from` ended at (the `schedule at step N` line of its training), so
    /// that a run continued from another neither warms up again nor restarts the decay.
    /// Default: 0.
    pub start_step: usize,
    /// A trained run (a name under `artifacts/`, or a directory such as `models/eng-por`)
    /// whose weights and tokenizer this run starts from, with a fresh optimiser and the
    /// schedule at `start_step`:
    /// to train on past one sitting, or to fine-tune on other pairs. Its model must have this
    /// run's shape (dropout may differ) and vocabulary settings. Default: none (random
    /// weights, a tokenizer trained on the corpus).
    pub init_from: Option<PathBuf>,
}

/// The validation metric that decides which epoch is best: a [`Watched`] metric over all
/// validation sets, or over the one named. Written as in `training.select_by`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Selection {
    /// The metric.
    pub metric: Watched,
    /// The validation set it is taken over; `None`: all of them.
    pub set: Option<String>,
}

/// A validation metric an epoch can be chosen by.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Watched {
    /// The label-smoothed loss: lowest is best.
    #[default]
    Loss,
    /// Perplexity, `exp` of the cross-entropy without smoothing: lowest is best.
    Perplexity,
    /// Corpus BLEU of the greedy translations of the BLEU sample: highest is best.
    Bleu,
}

impl Watched {
    /// How `training.select_by` writes it.
    const KEYWORDS: [(Watched, &'static str); 3] = [
        (Watched::Loss, "loss"),
        (Watched::Perplexity, "perplexity"),
        (Watched::Bleu, "bleu"),
    ];

    fn keyword(self) -> &'static str {
        Self::KEYWORDS
            .iter()
            .find(|(watched, _)| *watched == self)
            .map_or("loss", |(_, keyword)| keyword)
    }
}

impl Selection {
    /// The validation loss over all sets.
    pub const LOSS: Selection = Selection {
        metric: Watched::Loss,
        set: None,
    };

    /// How reports name it: `loss`, `BLEU`, `BLEU of ntrex128`.
    pub fn name(&self) -> String {
        let metric = match self.metric {
            Watched::Loss => "loss",
            Watched::Perplexity => "perplexity",
            Watched::Bleu => "BLEU",
        };
        match &self.set {
            Some(set) => format!("{metric} of {set}"),
            None => metric.to_string(),
        }
    }
}

impl TryFrom<String> for Selection {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        let (metric, set) = match text.split_once(':') {
            Some((metric, set)) => (metric, Some(set.to_string())),
            None => (text.as_str(), None),
        };
        let Some(&(metric, _)) = Watched::KEYWORDS.iter().find(|(_, k)| *k == metric) else {
            return Err(format!(
                "`training.select_by`: expected \"loss\", \"perplexity\", \"bleu\", \"perplexity:SET\" or \"bleu:SET\", got {text:?}"
            ));
        };
        match set.as_deref() {
            Some("") => Err(format!(
                "`training.select_by`: {text:?} names no validation set after the colon"
            )),
            Some(_) if metric == Watched::Loss => Err(format!(
                "`training.select_by`: {text:?}: the loss is over all sets; for one set use \"perplexity:SET\" or \"bleu:SET\""
            )),
            _ => Ok(Self { metric, set }),
        }
    }
}

impl From<Selection> for String {
    fn from(selection: Selection) -> String {
        let metric = selection.metric.keyword();
        match selection.set {
            Some(set) => format!("{metric}:{set}"),
            None => metric.to_string(),
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
            select_by: Selection::LOSS,
            start_step: 0,
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
        if self.select_by.metric == Watched::Bleu && self.bleu_sample == 0 {
            bail!(
                "`training.select_by` is {:?} but `training.bleu_sample` is 0: BLEU needs a sample",
                String::from(self.select_by.clone())
            );
        }
        Ok(())
    }
}
