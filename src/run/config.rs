//! The JSON configuration file of a run: `data`, `model` and `training` sections.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use super::training::TrainingConfig;
use crate::data::DataConfig;
use crate::model::{BertConfig, GptConfig, TransformerConfig};

/// The configuration read when `--config` is not given, if it exists.
pub const DEFAULT_PATH: &str = "config/default.json";

/// Everything a run is configured by. Missing fields take their defaults; unknown ones are
/// an error, so that a misspelt setting is not silently ignored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// What the run learns: `"translate"` (the default), `"lm"` or `"mlm"`.
    pub task: Task,
    /// The corpus, its split, the tokenizer and the batches.
    pub data: DataConfig,
    /// The sizes of the Transformer: a [`TransformerConfig`] whose vocabulary sizes and
    /// `max_len`, which the data decides, are neither written in the file nor read here:
    /// [`RunConfig::transformer`] takes them from the tokenizer and `data.max_len`.
    #[serde(with = "model_section")]
    pub model: TransformerConfig,
    /// The optimiser, the schedule, the loss and how long to train.
    pub training: TrainingConfig,
}

impl Default for RunConfig {
    fn default() -> Self {
        Self {
            task: Task::Translate,
            data: DataConfig::default(),
            model: TransformerConfig::new(0, 0),
            training: TrainingConfig::default(),
        }
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
        let checked = match self.task {
            Task::Translate => self.transformer(vocab, vocab).validate(),
            Task::Lm => self.gpt(vocab).validate(),
            Task::Mlm => self.bert(vocab).validate(),
        };
        if let Err(error) = checked {
            let field = match (error.field, self.task) {
                ("n_layers", Task::Lm) => "n_decoder_layers",
                ("n_layers", _) => "n_encoder_layers",
                (field, _) => field,
            };
            bail!("`model.{field}` {}", error.problem);
        }
        if self.task != Task::Translate {
            self.check_language_model()?;
        }
        self.training.validate()
    }

    /// What a language model (either kind) cannot take: a second language's settings and
    /// BLEU.
    fn check_language_model(&self) -> anyhow::Result<()> {
        let refused = [
            (
                !self.data.tags.is_empty() || self.data.default_tag.is_some(),
                "`data.tags` and `data.default_tag`: domain tags mark a translation's source, \
                 which a language model does not read",
            ),
            (
                !self.data.shared_vocab,
                "`data.shared_vocab` must be true: a language model has one vocabulary",
            ),
            (
                !self.model.tie_embeddings,
                "`model.tie_embeddings` must be true: a language model's output projection is its \
                 embedding table",
            ),
            (
                self.training.bleu_sample > 0,
                "`training.bleu_sample` must be 0: BLEU scores translations; a language model \
                 is validated by its perplexity",
            ),
        ];
        match refused.into_iter().find(|(refused, _)| *refused) {
            Some((_, why)) => bail!("task {:?}: {why}", self.task.name()),
            None => Ok(()),
        }
    }

    /// The masked language model's configuration (`task` `"mlm"`), given the tokenizer's
    /// vocabulary size: the `model` section's sizes, its `n_encoder_layers` layers (BERT is
    /// the encoder without the decoder), positions for `data.max_len` tokens and `[SEP]`.
    pub fn bert(&self, vocab_size: usize) -> BertConfig {
        let model = &self.model;
        BertConfig::new(vocab_size)
            .with_d_model(model.d_model)
            .with_n_heads(model.n_heads)
            .with_d_ff(model.d_ff)
            .with_n_layers(model.n_encoder_layers)
            .with_dropout(model.dropout)
            .with_max_len(self.data.max_len + 1)
            .with_norm_first(model.norm_first)
    }

    /// The language model's configuration (`task` `"lm"`), given the tokenizer's vocabulary
    /// size: the `model` section's sizes, its `n_decoder_layers` layers (GPT is the decoder
    /// without the encoder), positions for `data.max_len` tokens.
    pub fn gpt(&self, vocab_size: usize) -> GptConfig {
        let model = &self.model;
        GptConfig::new(vocab_size)
            .with_d_model(model.d_model)
            .with_n_heads(model.n_heads)
            .with_d_ff(model.d_ff)
            .with_n_layers(model.n_decoder_layers)
            .with_dropout(model.dropout)
            .with_max_len(self.data.max_len)
            .with_norm_first(model.norm_first)
    }

    /// The model's configuration, given the tokenizer's vocabulary sizes.
    pub fn transformer(&self, src_vocab_size: usize, tgt_vocab_size: usize) -> TransformerConfig {
        TransformerConfig {
            src_vocab_size,
            tgt_vocab_size,
            max_len: self.data.max_len,
            ..self.model.clone()
        }
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

impl Task {
    /// As the configuration writes it.
    pub fn name(self) -> &'static str {
        match self {
            Task::Translate => "translate",
            Task::Lm => "lm",
            Task::Mlm => "mlm",
        }
    }
}

/// What a run learns.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    /// English → Portuguese translation: the encoder–decoder [`Transformer`](crate::model::Transformer).
    #[default]
    Translate,
    /// A causal language model of the target side of the pairs (`data.direction`'s second
    /// language): [`Gpt`](crate::model::Gpt), the decoder without the encoder.
    Lm,
    /// A masked language model of the source side of the pairs (`data.direction`'s first
    /// language): [`Bert`](crate::model::Bert), the encoder without the decoder.
    Mlm,
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

/// The `model` section: a [`TransformerConfig`] without [`FROM_DATA`](model_section::FROM_DATA),
/// every field optional (its default is `TransformerConfig`'s), unknown ones refused, a bad
/// value named by its field.
mod model_section {
    use serde::de::Error as _;
    use serde::ser::Error as _;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use serde_json::{Map, Value};

    use crate::model::TransformerConfig;

    /// The fields of [`TransformerConfig`] that the data decides.
    pub const FROM_DATA: [&str; 3] = ["src_vocab_size", "tgt_vocab_size", "max_len"];

    pub fn serialize<S: Serializer>(
        model: &TransformerConfig,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        let mut fields = fields(model).map_err(S::Error::custom)?;
        for field in FROM_DATA {
            fields.remove(field);
        }
        fields.serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<TransformerConfig, D::Error> {
        let given = Map::<String, Value>::deserialize(deserializer)?;
        let defaults = fields(&TransformerConfig::new(0, 0)).map_err(D::Error::custom)?;
        let mut merged = defaults.clone();
        for (field, value) in given {
            if FROM_DATA.contains(&field.as_str()) {
                return Err(D::Error::custom(format!(
                    "`model.{field}` comes from the data (`data.vocab_size`, `data.max_len`): remove it"
                )));
            }
            if !defaults.contains_key(&field) {
                let known: Vec<&str> = defaults
                    .keys()
                    .map(String::as_str)
                    .filter(|key| !FROM_DATA.contains(key))
                    .collect();
                return Err(D::Error::custom(format!(
                    "unknown field `{field}` in `model`, expected one of {}",
                    known.join(", ")
                )));
            }
            // One field at a time over the defaults, so that a bad value is named.
            let mut alone = defaults.clone();
            alone.insert(field.clone(), value.clone());
            serde_json::from_value::<TransformerConfig>(Value::Object(alone))
                .map_err(|error| D::Error::custom(format!("`model.{field}`: {error}")))?;
            merged.insert(field, value);
        }
        serde_json::from_value(Value::Object(merged)).map_err(D::Error::custom)
    }

    fn fields(model: &TransformerConfig) -> Result<Map<String, Value>, String> {
        match serde_json::to_value(model) {
            Ok(Value::Object(fields)) => Ok(fields),
            Ok(other) => Err(format!("a model configuration serialised to {other}")),
            Err(error) => Err(error.to_string()),
        }
    }
}
