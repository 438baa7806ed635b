//! Writing with a GPT: after a prompt, one token at a time against the key/value cache,
//! each chosen greedily or drawn from the model's distribution reshaped by a temperature,
//! top-k and top-p (nucleus) sampling (Holtzman et al., 2020), with a seeded generator so
//! that a seed always gives the same text.

use anyhow::{anyhow, bail};
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::backend::Backend;
use crate::data::random::SplitMix64;
use crate::data::tokenizer::{BOS_ID, EOS_ID, PAD_ID, SubwordTokenizer};
use crate::model::packed::Precision;
use crate::model::{Gpt, GptCache};
use crate::run::RunDir;
use crate::run::weights;

/// How the next token is chosen.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampling {
    /// Divides the logits before the softmax: below 1 sharpens the distribution, above 1
    /// flattens it; 0 takes the most probable token (greedy).
    pub temperature: f64,
    /// Draws only among the `top_k` most probable tokens; 0 keeps them all.
    pub top_k: usize,
    /// Draws only among the fewest most probable tokens whose probabilities sum to at least
    /// `top_p`; 1 keeps them all.
    pub top_p: f64,
    /// Seed of the generator the draws come from.
    pub seed: u64,
}

impl Default for Sampling {
    /// Greedy.
    fn default() -> Self {
        Self {
            temperature: 0.0,
            top_k: 0,
            top_p: 1.0,
            seed: 0,
        }
    }
}

impl Sampling {
    /// Checks the settings; the error names the option (`--temperature`, `--top-p`).
    pub fn validate(&self) -> anyhow::Result<()> {
        if !(self.temperature.is_finite() && self.temperature >= 0.0) {
            bail!(
                "--temperature must be a number ≥ 0 (0: greedy), got {}",
                self.temperature
            );
        }
        if !(self.top_p > 0.0 && self.top_p <= 1.0) {
            bail!("--top-p must be in (0, 1] (1: no cut), got {}", self.top_p);
        }
        Ok(())
    }
}

/// A run's trained language model and its tokenizer, ready to write.
pub struct LanguageModel {
    /// The model, its best weights loaded.
    pub gpt: Gpt,
    /// The tokenizer it was trained with.
    pub tokenizer: SubwordTokenizer,
}

impl LanguageModel {
    /// Loads a language model run's `gpt.json`, tokenizer and `model.bpk` on `backend`.
    pub fn load(run: &RunDir, backend: Backend) -> anyhow::Result<Self> {
        run.ensure_directory()?;
        let config = run.gpt_config()?;
        let weights = run.trained_weights()?;
        let tokenizer = run.language_tokenizer(config.vocab_size, "gpt.json")?;
        let device = backend.device()?;
        let gpt = config
            .init(&device)
            .map_err(|e| anyhow!("{}: {e}", run.gpt_config_path().display()))?;
        Ok(Self {
            gpt: weights::load(gpt, &weights)?,
            tokenizer,
        })
    }

    /// The model writing with its products in `precision`.
    pub fn with_precision(self, precision: Precision) -> Self {
        match precision {
            Precision::F32 => self,
            Precision::Bf16 => Self {
                gpt: self.gpt.with_bf16_weights(),
                ..self
            },
        }
    }

    /// `prompt` and what the model writes after it, at most `max_tokens` tokens, as text.
    pub fn write(
        &self,
        prompt: &str,
        max_tokens: usize,
        sampling: &Sampling,
    ) -> anyhow::Result<String> {
        let mut ids = vec![BOS_ID];
        ids.extend(self.tokenizer.encode(prompt)?);
        if ids.len() >= self.gpt.max_len() {
            bail!(
                "the prompt takes {} tokens; the model has positions for {}",
                ids.len() - 1,
                self.gpt.max_len() - 1
            );
        }
        let written = generate(&self.gpt, &ids, max_tokens, sampling);
        ids.extend(written);
        Ok(self.tokenizer.decode(&ids[1..])?)
    }
}

/// The token `sampling` chooses from next-token `logits`; a token whose logit is −∞ is
/// never chosen, and `None` means every one is. Among equal candidates the lower id comes
/// first, so that a choice depends only on the values.
pub fn choose(logits: &[f32], sampling: &Sampling, rng: &mut SplitMix64) -> Option<u32> {
    if sampling.temperature <= 0.0 {
        // The first of the largest: `max_by` keeps the last of equals, so compare reversed ids.
        return (0..logits.len())
            .filter(|&token| logits[token].is_finite())
            .max_by(|&a, &b| logits[a].total_cmp(&logits[b]).then(b.cmp(&a)))
            .map(|token| token as u32);
    }
    // Candidates best first: (token, logit).
    let mut candidates: Vec<(u32, f64)> = logits
        .iter()
        .enumerate()
        .filter(|(_, logit)| logit.is_finite())
        .map(|(token, &logit)| (token as u32, f64::from(logit)))
        .collect();
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let &(_, best_logit) = candidates.first()?;
    if sampling.top_k > 0 {
        candidates.truncate(sampling.top_k);
    }
    // softmax(z / T), shifted by the largest logit so that no exponential overflows.
    let mut probabilities: Vec<f64> = candidates
        .iter()
        .map(|&(_, logit)| ((logit - best_logit) / sampling.temperature).exp())
        .collect();
    let total: f64 = probabilities.iter().sum();
    probabilities.iter_mut().for_each(|p| *p /= total);
    if sampling.top_p < 1.0 {
        let mut sum = 0.0;
        let kept = probabilities
            .iter()
            .position(|&p| {
                sum += p;
                sum >= sampling.top_p
            })
            .map_or(probabilities.len(), |last| last + 1);
        probabilities.truncate(kept);
    }
    // The draw is scaled by what is kept, which renormalises the truncated distribution.
    let mut draw = rng.next_f64() * probabilities.iter().sum::<f64>();
    for (&(token, _), p) in candidates.iter().zip(&probabilities) {
        if draw < *p {
            return Some(token);
        }
        draw -= p;
    }
    Some(candidates[probabilities.len() - 1].0)
}

/// Continues `prompt` (token ids, `<s>` first) with the model, one token at a time, until
/// `</s>` is chosen, `max_tokens` tokens are written or the model's positions run out;
/// returns the tokens written, without `</s>`. Padding and `<s>` are never chosen. The
/// prompt is read through the same cache, one position at a time.
pub fn generate(model: &Gpt, prompt: &[u32], max_tokens: usize, sampling: &Sampling) -> Vec<u32> {
    let device = model.embedding.table.weight.device();
    let mut rng = SplitMix64::new(sampling.seed);
    let mut cache = model.start();
    let mut logits = Vec::new();
    for &token in prompt.iter().take(model.max_len()) {
        logits = next_logits(model, token, &mut cache, &device);
    }
    let mut written = Vec::new();
    while !logits.is_empty() && written.len() < max_tokens {
        let Some(token) = choose(&logits, sampling, &mut rng) else {
            break;
        };
        if token == EOS_ID {
            break;
        }
        written.push(token);
        if cache.len == model.max_len() {
            break;
        }
        logits = next_logits(model, token, &mut cache, &device);
    }
    written
}

/// The logits after one more token, on the host, padding and `<s>` at −∞.
fn next_logits(model: &Gpt, token: u32, cache: &mut GptCache, device: &Device) -> Vec<f32> {
    let token = Tensor::<1, Int>::from_data(TensorData::new(vec![i64::from(token)], [1]), device);
    let mut logits = model
        .step(token, cache)
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 values");
    for never in [PAD_ID, BOS_ID] {
        if let Some(logit) = logits.get_mut(never as usize) {
            *logit = f32::NEG_INFINITY;
        }
    }
    logits
}
