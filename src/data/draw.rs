//! Epochs of a fixed size, drawn from several files by weight.
//!
//! With 237 k pairs an epoch of everything takes hours on a CPU. An epoch here is instead a
//! fixed number of pairs, each file giving its share by weight: the everyday, software and
//! prose files weighed against each other, and validation as often as the epoch size says.
//! Each file's pairs are taken in a seeded random order, epoch after epoch, without repeating
//! one before every pair of the file has been seen (a new order for each pass); so a pair's
//! epoch depends on (seed, file, epoch) alone, and a resumed run draws what an uninterrupted
//! one would.

use std::ops::Range;

use super::random::{SplitMix64, mix64};

/// How an epoch's pairs are drawn: `per_epoch[f]` pairs of file `f`, whose pairs are
/// `files[f]` of the training pairs.
#[derive(Clone, Debug, PartialEq)]
pub struct EpochDraw {
    /// Each file's training pairs, as a range of indices.
    pub files: Vec<Range<usize>>,
    /// The pairs drawn from each file every epoch.
    pub per_epoch: Vec<usize>,
    /// Seed of the files' orders.
    pub seed: u64,
}

impl EpochDraw {
    /// `pairs` an epoch, shared among the files in proportion to `weights` (one per file,
    /// non-negative, not all zero): `round(pairs · w_f / Σ w)` from file `f`. A file without
    /// pairs gives none.
    pub fn new(files: Vec<Range<usize>>, weights: &[f64], pairs: usize, seed: u64) -> Self {
        let total: f64 = files
            .iter()
            .zip(weights)
            .filter(|(range, _)| !range.is_empty())
            .map(|(_, w)| w)
            .sum();
        let per_epoch = files
            .iter()
            .zip(weights)
            .map(|(range, w)| match range.is_empty() || total <= 0.0 {
                true => 0,
                false => (pairs as f64 * w / total).round() as usize,
            })
            .collect();
        Self {
            files,
            per_epoch,
            seed,
        }
    }

    /// The indices of epoch `epoch`'s pairs (1-based), file after file: file `f` gives the
    /// `per_epoch[f]` pairs after those of the epochs before, in its passes' orders.
    pub fn indices(&self, epoch: usize) -> Vec<usize> {
        let mut drawn = Vec::with_capacity(self.per_epoch.iter().sum());
        for (file, (range, &count)) in self.files.iter().zip(&self.per_epoch).enumerate() {
            let len = range.len();
            if len == 0 || count == 0 {
                continue;
            }
            let first = epoch.saturating_sub(1) * count;
            let (mut pass, mut order) = (usize::MAX, Vec::new());
            for k in first..first + count {
                if k / len != pass {
                    pass = k / len;
                    order = self.order(file, pass, len);
                }
                drawn.push(range.start + order[k % len]);
            }
        }
        drawn
    }

    /// The order of pass `number` over file `file`'s `len` pairs.
    fn order(&self, file: usize, number: usize, len: usize) -> Vec<usize> {
        let mut order: Vec<usize> = (0..len).collect();
        let seed = mix64(self.seed ^ mix64(file as u64 ^ mix64(number as u64)));
        SplitMix64::new(seed).shuffle(&mut order);
        order
    }
}
