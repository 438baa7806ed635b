//! One training step and one validation step: teacher-forced logits and the label-smoothed
//! cross-entropy of paper §5.4, over the real (non-padding) target tokens; a validation step
//! also greedy-decodes the sentences of the BLEU sample.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Tensor;
use burn::train::metric::{Adaptor, ItemLazy, LossInput};
use burn::train::{InferenceStep, TrainOutput, TrainStep};

use super::loss::{SmoothedLoss, smoothed_cross_entropy};
use crate::data::batch::TranslationBatch;
use crate::data::tokenizer::PAD_ID;
use crate::model::{Bert, Gpt, Transformer};
use crate::run::weights::{self, Precision};
use crate::translate::output_limit;
use crate::translate::search::{Decoding, greedy};

/// The model being trained — the translation [`Transformer`], the [`Gpt`] language model
/// (`task` `"lm"`) or the [`Bert`] masked language model (`"mlm"`) — and its loss. The
/// networks not trained are `None`, so that a checkpoint holds the weights of the one that
/// is, named as in a run's `model.bpk` below `transformer.`, `gpt.` or `bert.`.
#[derive(Module, Debug)]
pub struct TrainingModel {
    /// The translation model; the run's `model.bpk` holds its weights.
    pub transformer: Option<Transformer>,
    /// The language model, in the translation model's place.
    pub gpt: Option<Gpt>,
    /// The masked language model, in the translation model's place.
    pub bert: Option<Bert>,
    /// ε_ls of the label-smoothed cross-entropy (paper: 0.1).
    pub label_smoothing: f64,
}

/// The network of a [`TrainingModel`].
#[derive(Clone, Copy)]
pub enum Network<'a> {
    /// Translation: the encoder reads the source, the decoder predicts the target.
    Translation(&'a Transformer),
    /// Language modelling: the target side alone, each token predicted from those before.
    Language(&'a Gpt),
    /// Masked language modelling: the corrupted tokens recovered from the whole sentence.
    Masked(&'a Bert),
}

impl TrainingModel {
    /// Wraps `transformer` with the loss: label smoothing `label_smoothing` (paper: 0.1).
    pub fn new(transformer: Transformer, label_smoothing: f64) -> Self {
        Self {
            transformer: Some(transformer),
            gpt: None,
            bert: None,
            label_smoothing,
        }
    }

    /// Wraps the language model `gpt` with the loss: label smoothing `label_smoothing`.
    pub fn language(gpt: Gpt, label_smoothing: f64) -> Self {
        Self {
            transformer: None,
            gpt: Some(gpt),
            bert: None,
            label_smoothing,
        }
    }

    /// Wraps the masked language model `bert` with the loss: label smoothing
    /// `label_smoothing`.
    pub fn masked(bert: Bert, label_smoothing: f64) -> Self {
        Self {
            transformer: None,
            gpt: None,
            bert: Some(bert),
            label_smoothing,
        }
    }

    /// The network being trained.
    pub fn network(&self) -> Network<'_> {
        match (&self.transformer, &self.gpt, &self.bert) {
            (Some(transformer), _, _) => Network::Translation(transformer),
            (None, Some(gpt), _) => Network::Language(gpt),
            (None, None, Some(bert)) => Network::Masked(bert),
            (None, None, None) => {
                unreachable!("every constructor gives a TrainingModel its network")
            }
        }
    }

    /// Writes the network's weights alone to `path`, as a run's `model.bpk`, in `precision`.
    pub fn save_network(self, path: &Path, precision: Precision) -> anyhow::Result<()> {
        match (self.transformer, self.gpt, self.bert) {
            (Some(transformer), _, _) => weights::save(transformer, path, precision),
            (None, Some(gpt), _) => weights::save(gpt, path, precision),
            (None, None, Some(bert)) => weights::save(bert, path, precision),
            (None, None, None) => {
                unreachable!("every constructor gives a TrainingModel its network")
            }
        }
    }

    /// The loss of the logits at every real target position against the labels, and the
    /// sums the token metrics need. Padding positions get no logits: they are about 9 % of
    /// `config/default.json`'s batches (`data prepare`), and the `[tokens, V]` logits are the
    /// step's largest tensors. A language model reads the decoder's input alone: `<s>` and
    /// the text, each position predicting the next token; a masked language model reads the
    /// corrupted sentence there, and only its chosen positions have labels.
    pub fn forward(&self, batch: TrainingBatch) -> TranslationOutput {
        let TrainingBatch {
            batch,
            target_tokens,
            set,
            ..
        } = batch;
        let hidden = match self.network() {
            Network::Translation(transformer) => {
                let memory = transformer.encode(batch.src, &batch.masks).memory;
                transformer
                    .decode(batch.tgt_in, memory, &batch.masks)
                    .hidden
            }
            Network::Language(gpt) => gpt.hidden(batch.tgt_in).0,
            Network::Masked(bert) => bert.hidden(batch.tgt_in, batch.masks.tgt).0,
        };
        let [batch_size, tgt_len, d_model] = hidden.dims();
        let positions = batch.label_positions;
        let hidden = hidden
            .reshape([batch_size * tgt_len, d_model])
            .select(0, positions.clone());
        let labels = batch
            .labels
            .reshape([batch_size * tgt_len])
            .select(0, positions);
        let parts = match self.network() {
            Network::Translation(transformer) => {
                transformer.generate_for_labels(hidden, labels.clone())
            }
            Network::Language(gpt) => gpt.logits_for_labels(hidden, labels.clone()),
            Network::Masked(bert) => bert.logits_for_labels(hidden, labels.clone()),
        };
        let SmoothedLoss { loss, token_sums } =
            smoothed_cross_entropy(parts, labels, self.label_smoothing, PAD_ID);
        TranslationOutput {
            loss,
            token_sums,
            target_tokens,
            sample: DecodedSample::default(),
            set,
        }
    }

    /// Greedy translations of the first sentences of `batch`, one per reference, each as long
    /// as `translate` lets it run ([`output_limit`] of the batch's longest source), so that
    /// validation BLEU scores what `eval` would.
    fn decode_sample(
        transformer: &Transformer,
        batch: &TranslationBatch,
        references: Vec<Vec<u32>>,
    ) -> DecodedSample {
        let rows = references.len();
        let src = batch.src.clone().slice(0..rows);
        // Each sentence's own limit, from its length without padding, as `eval` gives it.
        let lengths = batch
            .masks
            .src
            .clone()
            .slice(0..rows)
            .bool_not()
            .int()
            .sum_dim(1)
            .into_data()
            .convert::<i64>()
            .try_into_vec::<i64>()
            .expect("source lengths");
        let max_tokens: Vec<usize> = lengths
            .iter()
            .map(|&len| output_limit(len as usize).min(transformer.max_len() - 1))
            .collect();
        let hypotheses = greedy(transformer, src, 0, &max_tokens, 0, Decoding::Cached)
            .into_iter()
            .map(|h| h.tokens)
            .collect();
        DecodedSample {
            hypotheses,
            references,
        }
    }
}

/// Greedy translations of validation sentences and their references, as target token ids
/// (no `<s>`, `</s>` or padding); empty for batches outside the BLEU sample.
#[derive(Clone, Debug, Default)]
pub struct DecodedSample {
    /// The model's translations.
    pub hypotheses: Vec<Vec<u32>>,
    /// The reference translations.
    pub references: Vec<Vec<u32>>,
}

/// A batch as the learner sees it: the tensors, the count of real target tokens, and the seed
/// of this step's dropout, so that a resumed run draws the same masks as an uninterrupted one.
#[derive(Clone, Debug)]
pub struct TrainingBatch {
    /// The tensors.
    pub batch: TranslationBatch,
    /// Labels that are not `<pad>`: the tokens this step learns from.
    pub target_tokens: usize,
    /// Seed of the device's random generator for this step; `None` for validation.
    pub dropout_seed: Option<u64>,
    /// Validation: the target ids of the batch's first sentences, which are translated for
    /// BLEU; empty for the other batches and in training.
    pub bleu_references: Vec<Vec<u32>>,
    /// Validation: the set the batch is of, its index in [`Prepared::valid`]; 0 in training.
    ///
    /// [`Prepared::valid`]: crate::data::Prepared::valid
    pub set: usize,
}

impl TrainStep for TrainingModel {
    type Input = TrainingBatch;
    type Output = TranslationOutput;

    fn step(&self, batch: TrainingBatch) -> TrainOutput<TranslationOutput> {
        if let Some(seed) = batch.dropout_seed {
            batch.batch.src.device().seed(seed);
        }
        let output = self.forward(batch);
        TrainOutput::new(self, output.loss.backward(), output)
    }
}

impl InferenceStep for TrainingModel {
    type Input = TrainingBatch;
    type Output = TranslationOutput;

    fn step(&self, mut batch: TrainingBatch) -> TranslationOutput {
        let references = std::mem::take(&mut batch.bleu_references);
        let sample = match self.network() {
            Network::Translation(transformer) if !references.is_empty() => {
                Self::decode_sample(transformer, &batch.batch, references)
            }
            _ => DecodedSample::default(),
        };
        TranslationOutput {
            sample,
            ..self.forward(batch)
        }
    }
}

/// What one step produced, for the metrics.
pub struct TranslationOutput {
    /// The mean loss per real target token, `[1]`.
    pub loss: Tensor<1>,
    /// `[Σ −log p_y, Σ [the label is the most likely token], n]` over the `n` real target
    /// tokens ([`SmoothedLoss::token_sums`]).
    pub token_sums: Tensor<1>,
    /// Labels that are not `<pad>`.
    pub target_tokens: usize,
    /// Translations for the validation BLEU.
    pub sample: DecodedSample,
    /// The validation set of the step's batch ([`TrainingBatch::set`]).
    pub set: usize,
}

impl ItemLazy for TranslationOutput {
    fn sync(self) -> Result<Self, burn::tensor::ExecutionError> {
        self.loss.device().flush()?;
        Ok(Self {
            loss: self.loss.without_autodiff(),
            token_sums: self.token_sums.without_autodiff(),
            target_tokens: self.target_tokens,
            sample: self.sample,
            set: self.set,
        })
    }
}

impl Adaptor<LossInput> for TranslationOutput {
    fn adapt(&self) -> LossInput {
        LossInput::new(self.loss.clone())
    }
}

/// The per-token sums of a step, for token accuracy and perplexity.
pub struct TokenSums(pub Tensor<1>);

impl Adaptor<TokenSums> for TranslationOutput {
    fn adapt(&self) -> TokenSums {
        TokenSums(self.token_sums.clone())
    }
}

/// The number of real target tokens in a step, for the speed metric.
pub struct TokenCount(pub usize);

impl Adaptor<TokenCount> for TranslationOutput {
    fn adapt(&self) -> TokenCount {
        TokenCount(self.target_tokens)
    }
}

impl Adaptor<DecodedSample> for TranslationOutput {
    fn adapt(&self) -> DecodedSample {
        self.sample.clone()
    }
}

/// A metric's input from a step of one validation set, for the metrics of that set alone.
pub struct InSet<I> {
    /// The set ([`TrainingBatch::set`]).
    pub set: usize,
    /// The input itself.
    pub input: I,
}

impl<I> Adaptor<InSet<I>> for TranslationOutput
where
    TranslationOutput: Adaptor<I>,
{
    fn adapt(&self) -> InSet<I> {
        InSet {
            set: self.set,
            input: self.adapt(),
        }
    }
}
