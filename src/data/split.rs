//! Deterministic train / valid / test split.
//!
//! A pair's part is decided by a seeded hash of its normalised source sentence alone, so that
//! every translation of one source sentence lands in the same part (no test sentence is seen
//! in training under another translation), and adding lines to a corpus never moves the old
//! ones. The hash is FNV-1a (64 bits) with a SplitMix64 finaliser: fixed by this file, not by
//! the Rust version, so splits are the same on every machine and build.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::corpus::Pair;
use super::random::mix64;

/// The three parts of a corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// What the model learns from (and the tokenizer is trained on).
    Train,
    /// Held out for validation loss, early stopping and checkpoint choice.
    Valid,
    /// Held out for the final score.
    Test,
}

/// The sizes of the held-out parts, as fractions of the distinct source sentences.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SplitConfig {
    /// Fraction of source sentences for validation.
    pub valid_fraction: f64,
    /// Fraction of source sentences for test.
    pub test_fraction: f64,
    /// Seed of the hash: another seed, another split.
    pub seed: u64,
}

impl Default for SplitConfig {
    fn default() -> Self {
        Self {
            valid_fraction: 0.02,
            test_fraction: 0.02,
            seed: 0,
        }
    }
}

impl SplitConfig {
    /// The part that pairs with this source sentence belong to.
    pub fn part_of(&self, source: &str) -> Part {
        let u = unit_hash(source, self.seed);
        if u < self.valid_fraction {
            Part::Valid
        } else if u < self.valid_fraction + self.test_fraction {
            Part::Test
        } else {
            Part::Train
        }
    }
}

/// The corpus, split.
#[derive(Clone, Debug, Default)]
pub struct Splits {
    /// Training pairs.
    pub train: Vec<Pair>,
    /// Validation pairs.
    pub valid: Vec<Pair>,
    /// Test pairs.
    pub test: Vec<Pair>,
    /// Exact duplicate pairs removed before splitting.
    pub duplicates: usize,
}

impl Splits {
    /// The pairs of `part`.
    pub fn part(&self, part: Part) -> &[Pair] {
        match part {
            Part::Train => &self.train,
            Part::Valid => &self.valid,
            Part::Test => &self.test,
        }
    }
}

/// Removes exact duplicate pairs (keeping the first) and splits the rest, keeping file order
/// within each part.
pub fn split(pairs: Vec<Pair>, config: &SplitConfig) -> Splits {
    let mut seen = HashSet::with_capacity(pairs.len());
    let mut splits = Splits::default();
    for pair in pairs {
        if !seen.insert(pair.clone()) {
            splits.duplicates += 1;
            continue;
        }
        match config.part_of(&pair.source) {
            Part::Train => splits.train.push(pair),
            Part::Valid => splits.valid.push(pair),
            Part::Test => splits.test.push(pair),
        }
    }
    splits
}

/// A hash of `text` under `seed`, uniform in `[0, 1)`.
fn unit_hash(text: &str, seed: u64) -> f64 {
    const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
    let mut hash = FNV_OFFSET;
    for byte in seed.to_le_bytes().iter().chain(text.as_bytes()) {
        hash = (hash ^ u64::from(*byte)).wrapping_mul(FNV_PRIME);
    }
    // The finaliser spreads FNV's weak low bits over the whole word.
    (mix64(hash) >> 11) as f64 / (1u64 << 53) as f64
}
