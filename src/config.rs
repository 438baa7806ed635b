//! The JSON configuration file of a run: `data`, `model` and `training` sections.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use crate::data::DataConfig;
use crate::model::TransformerConfig;
use crate::train::TrainingConfig;

/// The configuration read when `--config` is not given, if it exists.
pub const DEFAULT_PATH: &str = "config/default.json";

/// Everything a run is configured by. Missing fields take their defaults; unknown ones are
/// an error, so that a misspelt setting is not silently ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// The corpus, its split, the tokenizer and the batches.
    pub data: DataConfig,
    /// The sizes of the Transformer.
    pub model: ModelConfig,
    /// The optimiser, the schedule, the loss and how long to train.
    pub training: TrainingConfig,
}

/// The `model` section: a [`TransformerConfig`] without the sizes that come from the data
/// (the vocabularies from the tokenizer, the longest sequence from `data.max_len`). Defaults
/// are the paper's base model.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelConfig {
    /// Width of every hidden state. Default: 512.
    pub d_model: usize,
    /// Attention heads per attention layer. Default: 8.
    pub n_heads: usize,
    /// Inner width of the feed-forward networks. Default: 2048.
    pub d_ff: usize,
    /// Layers in the encoder stack. Default: 6.
    pub n_encoder_layers: usize,
    /// Layers in the decoder stack. Default: 6.
    pub n_decoder_layers: usize,
    /// Dropout rate everywhere the paper applies it. Default: 0.1.
    pub dropout: f64,
    /// Pre-norm layers instead of the paper's post-norm. Default: false.
    pub norm_first: bool,
    /// One embedding matrix for both languages and the output projection; needs
    /// `data.shared_vocab`. Default: true.
    pub tie_embeddings: bool,
}

impl Default for ModelConfig {
    fn default() -> Self {
        Self {
            d_model: 512,
            n_heads: 8,
            d_ff: 2048,
            n_encoder_layers: 6,
            n_decoder_layers: 6,
            dropout: 0.1,
            norm_first: false,
            tie_embeddings: true,
        }
    }
}

impl ModelConfig {
    /// The full model configuration, given the vocabulary sizes and the longest sequence.
    pub fn transformer(
        &self,
        src_vocab_size: usize,
        tgt_vocab_size: usize,
        max_len: usize,
    ) -> TransformerConfig {
        TransformerConfig::new(src_vocab_size, tgt_vocab_size)
            .with_d_model(self.d_model)
            .with_n_heads(self.n_heads)
            .with_d_ff(self.d_ff)
            .with_n_encoder_layers(self.n_encoder_layers)
            .with_n_decoder_layers(self.n_decoder_layers)
            .with_dropout(self.dropout)
            .with_max_len(max_len)
            .with_norm_first(self.norm_first)
            .with_tie_embeddings(self.tie_embeddings)
    }
}

impl RunConfig {
    /// Reads and validates `path`; errors name the file and, from serde, the field and line.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the configuration", path.display()))?;
        let config: Self = serde_json::from_str(&text)
            .with_context(|| format!("{}: invalid configuration", path.display()))?;
        config
            .validate()
            .with_context(|| format!("{}: invalid configuration", path.display()))?;
        Ok(config)
    }

    /// `path` when given; else [`DEFAULT_PATH`] when it exists; else the built-in defaults.
    pub fn load_or_default(path: Option<&PathBuf>) -> anyhow::Result<Self> {
        match path {
            Some(path) => Self::load(path),
            None if Path::new(DEFAULT_PATH).exists() => Self::load(Path::new(DEFAULT_PATH)),
            None => Ok(Self::default()),
        }
    }

    /// Checks every section; the error names the field as `section.field`.
    pub fn validate(&self) -> anyhow::Result<()> {
        self.data.validate()?;
        if self.model.tie_embeddings && !self.data.shared_vocab {
            bail!(
                "`model.tie_embeddings` needs `data.shared_vocab`: one vocabulary for both languages"
            );
        }
        let vocab = self.data.vocab_size;
        if let Err(error) = self
            .model
            .transformer(vocab, vocab, self.data.max_len)
            .validate()
        {
            bail!("`model.{}` {}", error.field, error.problem);
        }
        self.training.validate()
    }

    /// The fields whose values differ between two configurations, as `section.field` paths.
    pub fn differences(&self, other: &RunConfig) -> Vec<String> {
        let mut differing = Vec::new();
        let (a, b) = (serde_json::to_value(self), serde_json::to_value(other));
        if let (Ok(a), Ok(b)) = (a, b) {
            compare("", &a, &b, &mut differing);
        }
        differing
    }
}

/// Appends to `differing` the paths below `prefix` where `a` and `b` differ.
fn compare(
    prefix: &str,
    a: &serde_json::Value,
    b: &serde_json::Value,
    differing: &mut Vec<String>,
) {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(a), Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let path = if prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{prefix}.{key}")
                };
                match (a.get(key), b.get(key)) {
                    (Some(a), Some(b)) => compare(&path, a, b, differing),
                    _ => differing.push(path),
                }
            }
        }
        (a, b) if a != b => differing.push(prefix.to_string()),
        _ => {}
    }
}
