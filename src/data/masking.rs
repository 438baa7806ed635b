//! BERT's masked-LM corruption (Devlin et al., 2019, §3.1 and appendix A.1): of a sentence's
//! tokens, 15 % are chosen for prediction; of those, 80 % become `[MASK]`, 10 % a random
//! token and 10 % stay as they are, so that the model cannot learn that only `[MASK]` needs
//! predicting. As in BERT's `create_pretraining_data.py`, a sentence of `n` tokens has
//! `max(1, round(0.15·n))` of them chosen, uniformly without replacement.

use super::random::SplitMix64;
use super::tokenizer::{BOS_ID, EOS_ID, PAD_ID};

/// How sentences are corrupted.
#[derive(Clone, Debug, PartialEq)]
pub struct Masking {
    /// The id of `[MASK]`.
    pub mask_id: u32,
    /// Random replacements are drawn uniformly from `first_ordinary..vocab_size`: every
    /// token but the special ones and `[MASK]`.
    pub first_ordinary: u32,
    /// Number of tokens.
    pub vocab_size: u32,
    /// Share of a sentence's tokens chosen for prediction. BERT: 0.15.
    pub rate: f64,
}

/// A sentence as the model reads it and what it must recover.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Masked {
    /// `[CLS]` (`<s>`), the corrupted sentence, `[SEP]` (`</s>`).
    pub input: Vec<u32>,
    /// At each position of `input`: the original token where it was chosen for prediction,
    /// `<pad>` elsewhere.
    pub labels: Vec<u32>,
}

impl Masking {
    /// BERT's rates, for a vocabulary of `vocab_size` tokens whose `[MASK]` is `mask_id`,
    /// the last of the special tokens.
    pub fn bert(mask_id: u32, vocab_size: u32) -> Self {
        Self {
            mask_id,
            first_ordinary: mask_id + 1,
            vocab_size,
            rate: 0.15,
        }
    }

    /// How many of `n` tokens are chosen: `max(1, round(rate · n))`, none of none.
    pub fn chosen_count(&self, n: usize) -> usize {
        match n {
            0 => 0,
            n => ((self.rate * n as f64).round() as usize).clamp(1, n),
        }
    }

    /// `tokens` (a sentence, without `<s>` or `</s>`) corrupted with draws from `rng`.
    pub fn apply(&self, tokens: &[u32], rng: &mut SplitMix64) -> Masked {
        let mut input: Vec<u32> = std::iter::once(BOS_ID)
            .chain(tokens.iter().copied())
            .chain(std::iter::once(EOS_ID))
            .collect();
        let mut labels = vec![PAD_ID; input.len()];
        let mut positions: Vec<usize> = (1..=tokens.len()).collect();
        rng.shuffle(&mut positions);
        for &position in &positions[..self.chosen_count(tokens.len())] {
            labels[position] = input[position];
            let draw = rng.next_f64();
            if draw < 0.8 {
                input[position] = self.mask_id;
            } else if draw < 0.9 {
                let ordinary = u64::from(self.vocab_size - self.first_ordinary);
                input[position] = self.first_ordinary + (rng.next_u64() % ordinary) as u32;
            }
        }
        Masked { input, labels }
    }
}
