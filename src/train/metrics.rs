//! The metrics Burn does not have: the loss with a guard against NaN and infinity, token
//! accuracy and perplexity from the loss's own sums, the speed in target tokens per second,
//! sacreBLEU's corpus BLEU of translated validation sentences, and any of these over one
//! validation set alone.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::tensor::TensorReadError;
use burn::train::Interrupter;
use burn::train::metric::state::{FormatOptions, NumericMetricState};
use burn::train::metric::{
    LossInput, LossMetric, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric,
    NumericAttributes, NumericEntry, SerializedEntry, format_float,
};

use super::step::{DecodedSample, InSet, TokenCount, TokenSums};
use crate::data::tokenizer::SubwordTokenizer;
use crate::eval::sacrebleu::BleuStats;

/// Burn's loss metric (same name, so the checkpointing and early-stopping strategies find
/// it) that stops the run the moment the loss is NaN or infinite: the learner then breaks
/// out before validating or checkpointing the epoch, so no checkpoint is written from it.
#[derive(Clone)]
pub struct GuardedLoss {
    loss: LossMetric,
    split: &'static str,
    interrupter: Interrupter,
    failure: Arc<Mutex<Option<String>>>,
}

impl GuardedLoss {
    /// The guard of `split` ("training" or "validation"); the first failure is recorded in
    /// `failure` and stops `interrupter`.
    pub fn new(
        split: &'static str,
        interrupter: Interrupter,
        failure: Arc<Mutex<Option<String>>>,
    ) -> Self {
        Self {
            loss: LossMetric::new(),
            split,
            interrupter,
            failure,
        }
    }
}

impl Metric for GuardedLoss {
    type Input = LossInput;

    fn update(
        &mut self,
        input: &LossInput,
        metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let entry = self.loss.update(input, metadata)?;
        if let Some(NumericEntry::Aggregated {
            aggregated_value, ..
        }) = self.loss.value()
            && !aggregated_value.is_finite()
        {
            let message = format!(
                "the {} loss became {aggregated_value} at batch {} of {}",
                self.split, metadata.progress.items_processed, metadata.progress.items_total
            );
            let mut failure = self.failure.lock().unwrap_or_else(|e| e.into_inner());
            if failure.is_none() {
                self.interrupter.stop(Some(&message));
                *failure = Some(message);
            }
        }
        Ok(entry)
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        self.loss.compute()
    }

    fn clear(&mut self) {
        self.loss.clear();
    }

    fn name(&self) -> MetricName {
        self.loss.name()
    }

    fn attributes(&self) -> MetricAttributes {
        self.loss.attributes()
    }
}

impl Numeric for GuardedLoss {
    fn value(&self) -> Option<NumericEntry> {
        self.loss.value()
    }

    fn running_value(&self) -> Option<NumericEntry> {
        self.loss.running_value()
    }

    fn final_value(&self) -> NumericEntry {
        self.loss.final_value()
    }
}

impl TokenSums {
    /// `(Σ −log p_y, right predictions, real tokens)`, read from the device.
    fn read(&self) -> Result<(f64, f64, usize), TensorReadError> {
        match self.0.clone().try_into_vec_as::<f64>()?[..] {
            [negative_log_p, right, tokens] => Ok((negative_log_p, right, tokens as usize)),
            ref other => unreachable!("token sums hold 3 values, not {}", other.len()),
        }
    }
}

/// The share of real target tokens (labels that are not `<pad>`) that the model ranks first,
/// in %, teacher-forced: the entries of Burn's `AccuracyMetric` with a padding token, under
/// its name, from [`TokenSums`] instead of a second pass over the logits.
#[derive(Clone)]
pub struct TokenAccuracy {
    name: MetricName,
    state: NumericMetricState,
}

impl Default for TokenAccuracy {
    fn default() -> Self {
        Self {
            name: Arc::new("Accuracy".to_string()),
            state: NumericMetricState::new(),
        }
    }
}

impl TokenAccuracy {
    fn format(&self) -> FormatOptions {
        FormatOptions::new(self.name.clone()).unit("%").precision(2)
    }
}

impl Metric for TokenAccuracy {
    type Input = TokenSums;

    fn update(
        &mut self,
        input: &TokenSums,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let (_, right, tokens) = input.read()?;
        self.state.update(100.0 * right / tokens as f64, tokens);
        Ok(self.state.compute_update(self.format()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.state.compute_final(self.format()))
    }

    fn clear(&mut self) {
        self.state.reset();
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some("%".to_string()),
            higher_is_better: true,
        }
        .into()
    }
}

impl Numeric for TokenAccuracy {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.state.current_value())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(self.state.running_value())
    }

    fn final_value(&self) -> NumericEntry {
        self.state.final_value()
    }
}

/// Perplexity `exp(Σ −log p_y / n)` over the `n` real target tokens, teacher-forced: of the
/// last batch, and of the epoch from the epoch's sums. The entries of Burn's
/// `PerplexityMetric` with a padding token, under its name, from [`TokenSums`] instead of a
/// log-softmax of the logits.
#[derive(Clone)]
pub struct Perplexity {
    name: MetricName,
    negative_log_p: f64,
    tokens: usize,
    batch: f64,
    batch_tokens: usize,
}

impl Default for Perplexity {
    fn default() -> Self {
        Self {
            name: Arc::new(Self::NAME.to_string()),
            negative_log_p: 0.0,
            tokens: 0,
            batch: f64::NAN,
            batch_tokens: 0,
        }
    }
}

impl Perplexity {
    /// The metric's name in the logs.
    pub const NAME: &str = "Perplexity";

    fn of_batch(&self) -> NumericEntry {
        NumericEntry::Aggregated {
            aggregated_value: self.batch,
            count: self.batch_tokens,
        }
    }

    fn epoch(&self) -> f64 {
        (self.negative_log_p / self.tokens as f64).exp()
    }

    fn entry(&self, value: NumericEntry) -> SerializedEntry {
        SerializedEntry::new(
            format!(
                "epoch {} - batch {}",
                format_float(self.epoch(), 2),
                format_float(self.batch, 2)
            ),
            value.serialize(),
        )
    }
}

impl Metric for Perplexity {
    type Input = TokenSums;

    fn update(
        &mut self,
        input: &TokenSums,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let (negative_log_p, _, tokens) = input.read()?;
        self.negative_log_p += negative_log_p;
        self.tokens += tokens;
        self.batch = (negative_log_p / tokens as f64).exp();
        self.batch_tokens = tokens;
        Ok(self.entry(self.of_batch()))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(self.final_value()))
    }

    fn clear(&mut self) {
        *self = Self::default();
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: false,
        }
        .into()
    }
}

impl Numeric for Perplexity {
    fn value(&self) -> Option<NumericEntry> {
        Some(self.of_batch())
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Aggregated {
            aggregated_value: self.epoch(),
            count: self.tokens,
        })
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.epoch())
    }
}

/// Target tokens (labels that are not `<pad>`) per second, over the epoch so far.
///
/// The clock starts when the epoch's first batch is reported, so the rate counts the tokens
/// of the batches after it over the time since.
#[derive(Clone)]
pub struct TokensPerSecond {
    name: MetricName,
    started: Option<Instant>,
    tokens: usize,
    rate: f64,
}

impl Default for TokensPerSecond {
    fn default() -> Self {
        Self {
            name: Arc::new("Speed".to_string()),
            started: None,
            tokens: 0,
            rate: 0.0,
        }
    }
}

const UNIT: &str = "tok/s";

impl TokensPerSecond {
    fn entry(&self, value: NumericEntry) -> SerializedEntry {
        SerializedEntry::new(format!("{:.0} {UNIT}", self.rate), value.serialize())
    }
}

impl Metric for TokensPerSecond {
    type Input = TokenCount;

    fn update(
        &mut self,
        input: &TokenCount,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        match self.started {
            None => self.started = Some(Instant::now()),
            Some(started) => {
                self.tokens += input.0;
                self.rate = self.tokens as f64 / started.elapsed().as_secs_f64().max(1e-9);
            }
        }
        Ok(self.entry(NumericEntry::Value(self.rate)))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        Ok(self.entry(NumericEntry::Final(self.rate)))
    }

    fn clear(&mut self) {
        self.started = None;
        self.tokens = 0;
        self.rate = 0.0;
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: Some(UNIT.to_string()),
            higher_is_better: true,
        }
        .into()
    }
}

impl Numeric for TokensPerSecond {
    fn value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.rate))
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.rate))
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.rate)
    }
}

/// Corpus BLEU, exactly as sacreBLEU computes it on detokenized text, of the greedy
/// translations of the validation split's BLEU sample: the statistics of every translated
/// sentence are summed over the epoch, and the score is that of the sums.
#[derive(Clone)]
pub struct ValidationBleu {
    name: MetricName,
    tokenizer: Arc<SubwordTokenizer>,
    stats: BleuStats,
}

impl ValidationBleu {
    /// The metric's name, by which checkpoints and early stopping find it.
    pub const NAME: &str = "BLEU";

    /// Detokenizes translations and references with `tokenizer`, the target side's.
    pub fn new(tokenizer: Arc<SubwordTokenizer>) -> Self {
        Self {
            name: Arc::new(Self::NAME.to_string()),
            tokenizer,
            stats: BleuStats::default(),
        }
    }

    fn score(&self) -> f64 {
        self.stats.score(false).score
    }
}

impl Metric for ValidationBleu {
    type Input = DecodedSample;

    fn update(
        &mut self,
        input: &DecodedSample,
        _metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        let text = |ids: &[u32]| self.tokenizer.decode(ids).unwrap_or_default();
        for (hypothesis, reference) in input.hypotheses.iter().zip(&input.references) {
            self.stats += BleuStats::sentence(&text(hypothesis), &[&text(reference)]);
        }
        let score = self.score();
        Ok(SerializedEntry::new(
            format!("{score:.2}"),
            NumericEntry::Value(score).serialize(),
        ))
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        let score = self.score();
        Ok(SerializedEntry::new(
            format!("{score:.2}"),
            NumericEntry::Final(score).serialize(),
        ))
    }

    fn clear(&mut self) {
        self.stats = BleuStats::default();
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        NumericAttributes {
            unit: None,
            higher_is_better: true,
        }
        .into()
    }
}

impl Numeric for ValidationBleu {
    fn value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.score()))
    }

    fn running_value(&self) -> Option<NumericEntry> {
        Some(NumericEntry::Value(self.score()))
    }

    fn final_value(&self) -> NumericEntry {
        NumericEntry::Final(self.score())
    }
}

/// `metric` over the batches of one validation set alone, named `"{metric} {set}"`
/// (`BLEU tatoeba`): the same computation as over all sets, fed that set's batches only.
/// The batches of other sets change nothing and give the renderers no value.
#[derive(Clone)]
pub struct OfSet<M> {
    metric: M,
    set: usize,
    name: MetricName,
    /// Whether the last batch was of this set.
    fed: bool,
    /// The entry of this set's last batch, logged again for the batches of other sets.
    last: SerializedEntry,
}

impl<M: Metric> OfSet<M> {
    /// `metric` over set `set` (its index among the validation sets), called `name`.
    pub fn new(metric: M, set: usize, name: &str) -> Self {
        let name = Arc::new(format!("{} {name}", metric.name()));
        Self {
            metric,
            set,
            name,
            fed: false,
            last: not_yet(),
        }
    }
}

/// The entry of a set's metric before its first batch.
fn not_yet() -> SerializedEntry {
    SerializedEntry::new("-".to_string(), NumericEntry::Value(f64::NAN).serialize())
}

impl<M: Metric> Metric for OfSet<M> {
    type Input = InSet<M::Input>;

    fn update(
        &mut self,
        input: &InSet<M::Input>,
        metadata: &MetricMetadata,
    ) -> Result<SerializedEntry, TensorReadError> {
        self.fed = input.set == self.set;
        if self.fed {
            self.last = self.metric.update(&input.input, metadata)?;
        }
        Ok(self.last.clone())
    }

    fn compute(&mut self) -> Result<SerializedEntry, TensorReadError> {
        self.metric.compute()
    }

    fn clear(&mut self) {
        self.metric.clear();
        self.fed = false;
        self.last = not_yet();
    }

    fn name(&self) -> MetricName {
        self.name.clone()
    }

    fn attributes(&self) -> MetricAttributes {
        self.metric.attributes()
    }
}

impl<M: Metric + Numeric> Numeric for OfSet<M> {
    fn value(&self) -> Option<NumericEntry> {
        self.fed.then(|| self.metric.value()).flatten()
    }

    fn running_value(&self) -> Option<NumericEntry> {
        self.fed.then(|| self.metric.running_value()).flatten()
    }

    fn final_value(&self) -> NumericEntry {
        self.metric.final_value()
    }
}
