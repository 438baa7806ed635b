//! Concatenation augmentation (Nguyen, Murray & Chiang 2021; Kondo et al. 2021): extra
//! training pairs made by joining two or more pairs of one file, source to source and target
//! to target, drawn anew every epoch. A model trained on short sentences alone learns to stop
//! early; joined pairs show it long inputs, and where one sentence ends and the next begins.

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::batch::EncodedPair;
use super::corpus::Pair;
use super::random::{SplitMix64, mix64};
use super::{Vocabularies, tag_source};

/// The `data.concatenate` section: how many joined pairs an epoch adds, and how long they are.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConcatenateConfig {
    /// Joined pairs added to an epoch, as a share of its pairs: 0.1 adds one for every ten.
    /// Default: 0 (none).
    pub share: f64,
    /// The most pairs one joined pair is made of; each joins 2 to this many, uniformly.
    /// Default: 3.
    pub max_pairs: usize,
}

impl Default for ConcatenateConfig {
    fn default() -> Self {
        Self {
            share: 0.0,
            max_pairs: 3,
        }
    }
}

/// Makes an epoch's joined pairs from the training text.
#[derive(Clone)]
pub struct Concatenator {
    text: Arc<Vec<Pair>>,
    /// Each file's pairs in `text`.
    files: Vec<Range<usize>>,
    /// Each file's domain tag, if any.
    tags: Vec<Option<String>>,
    /// Running sums of the files' shares of the joined pairs, for a weighted choice.
    cumulative: Vec<u64>,
    config: ConcatenateConfig,
    vocabularies: Vocabularies,
    max_len: usize,
    seed: u64,
}

impl Concatenator {
    /// Joins pairs of `text`, whose files are `files`, file `f` chosen with a weight of
    /// `shares[f]` (the pairs it gives an epoch); joined pairs over `max_len` positions are
    /// left out.
    pub fn new(
        text: Arc<Vec<Pair>>,
        files: Vec<Range<usize>>,
        shares: &[usize],
        config: ConcatenateConfig,
        vocabularies: Vocabularies,
        max_len: usize,
        seed: u64,
    ) -> Self {
        let mut total = 0;
        let cumulative = files
            .iter()
            .zip(shares)
            .map(|(range, &share)| {
                // A file of fewer than two pairs has nothing to join.
                total += if range.len() >= 2 { share as u64 } else { 0 };
                total
            })
            .collect();
        Self {
            text,
            tags: vec![None; files.len()],
            files,
            cumulative,
            config,
            vocabularies,
            max_len,
            seed,
        }
    }

    /// Begins the joined sources of each file with its domain tag, `tags[f]`.
    pub fn with_tags(self, tags: Vec<Option<String>>) -> Self {
        Self { tags, ..self }
    }

    /// The joined pairs of epoch `epoch` for an epoch of `pairs` pairs:
    /// `round(share · pairs)` of them, less those too long, encoded.
    pub fn pairs(&self, epoch: usize, pairs: usize) -> Vec<EncodedPair> {
        let count = (self.config.share * pairs as f64).round() as usize;
        let total = self.cumulative.last().copied().unwrap_or(0);
        if count == 0 || total == 0 {
            return Vec::new();
        }
        let mut rng = SplitMix64::new(mix64(self.seed ^ mix64(!(epoch as u64))));
        let joined: Vec<Pair> = (0..count)
            .map(|_| {
                let pick = rng.next_u64() % total;
                let file = self.cumulative.partition_point(|&sum| sum <= pick);
                let range = &self.files[file];
                let parts = 2 + (rng.next_u64() % (self.config.max_pairs as u64 - 1)) as usize;
                let chosen: Vec<&Pair> = (0..parts)
                    .map(|_| {
                        &self.text[range.start + (rng.next_u64() % range.len() as u64) as usize]
                    })
                    .collect();
                let source = join(chosen.iter().map(|p| p.source.as_str()));
                Pair {
                    source: tag_source(self.tags.get(file).and_then(Option::as_deref), &source),
                    target: join(chosen.iter().map(|p| p.target.as_str())),
                }
            })
            .collect();
        self.vocabularies.encode_extra(&joined, self.max_len)
    }
}

/// Sentences joined by one space, as running text.
fn join<'a>(sentences: impl Iterator<Item = &'a str>) -> String {
    sentences.collect::<Vec<_>>().join(" ")
}
