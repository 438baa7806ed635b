//! The metrics Burn does not have: the loss with a guard against NaN and infinity, the speed
//! in target tokens per second, and sacreBLEU's corpus BLEU of translated validation
//! sentences.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use burn::tensor::TensorReadError;
use burn::train::Interrupter;
use burn::train::metric::{
    LossInput, LossMetric, Metric, MetricAttributes, MetricMetadata, MetricName, Numeric,
    NumericAttributes, NumericEntry, SerializedEntry,
};

use super::step::{DecodedSample, TokenCount};
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
