//! The data loader of training: token-budget batches in a new seeded order every epoch.
//!
//! Burn's own loader draws each epoch's order from a generator that a resumed run starts
//! afresh, so a run resumed at epoch 3 would replay epoch 1's order. Here the order and each
//! step's dropout seed are functions of (seed, epoch, step) alone: a run stopped and resumed
//! sees exactly the batches, in exactly the order, of a run that never stopped.
//!
//! Training may draw each epoch's pairs anew ([`EpochDraw`]) and add joined ones
//! ([`Concatenator`]) and ones with invented names ([`NameSwapper`]), all functions of
//! (seed, epoch) too.
//!
//! Validation serves its sets one after the other, each batch of one set, so that the metrics
//! of each set can be told apart.

use std::ops::Range;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataloader::{DataLoader, DataLoaderIterator, Progress};
use burn::data::dataset::DatasetError;
use burn::tensor::Device;

use super::step::TrainingBatch;
use crate::data::batch::{EncodedPair, TranslationBatcher, token_budget_batches};
use crate::data::concat::Concatenator;
use crate::data::draw::EpochDraw;
use crate::data::masking::Masking;
use crate::data::names::NameSwapper;
use crate::data::random::mix64;

/// Serves batches of encoded pairs of at most `max_tokens` padded tokens.
#[derive(Clone)]
pub struct EpochLoader {
    pairs: Arc<Vec<EncodedPair>>,
    /// The pairs of each set: training has one, validation one per validation set.
    sets: Vec<Range<usize>>,
    /// Training: how each epoch's pairs are drawn; `None`: all of them.
    draw: Option<EpochDraw>,
    /// Training: the joined pairs each epoch adds.
    concatenator: Option<Concatenator>,
    /// Training: the pairs with invented names each epoch adds.
    names: Option<NameSwapper>,
    /// The batches of an epoch: exact for validation and for all pairs, that of the first
    /// epoch when the pairs are drawn.
    batch_count: usize,
    max_tokens: usize,
    seed: u64,
    /// Training draws a new order and dropout seeds every epoch; validation keeps one order.
    training: bool,
    /// Validation: the first this many sentences of each set, in the fixed order, are
    /// translated for BLEU.
    bleu_sample: usize,
    /// The epoch the next [`DataLoader::iter`] serves (1-based), shared by every copy.
    next_epoch: Arc<AtomicUsize>,
    /// The batches served: `start..end` of the epoch's batches (`end` `usize::MAX`: to the
    /// epoch's last).
    range: (usize, usize),
    device: Device,
    batcher: TranslationBatcher,
    /// A masked language model's corruption of each batch; `None`: the pairs as they are.
    masking: Option<Masking>,
}

impl EpochLoader {
    /// The training loader, whose first `iter` serves epoch `first_epoch`.
    pub fn training(
        pairs: Vec<EncodedPair>,
        max_tokens: usize,
        seed: u64,
        first_epoch: usize,
        device: &Device,
    ) -> Self {
        Self::new(vec![pairs], max_tokens, seed, true, first_epoch, device)
    }

    /// The validation loader of `sets`: the same batches in the same order every epoch, set
    /// after set, the first `bleu_sample` sentences of each set marked for translation.
    pub fn validation(
        sets: Vec<Vec<EncodedPair>>,
        max_tokens: usize,
        seed: u64,
        bleu_sample: usize,
        device: &Device,
    ) -> Self {
        Self {
            bleu_sample,
            ..Self::new(sets, max_tokens, seed, false, 1, device)
        }
    }

    fn new(
        sets: Vec<Vec<EncodedPair>>,
        max_tokens: usize,
        seed: u64,
        training: bool,
        first_epoch: usize,
        device: &Device,
    ) -> Self {
        let mut ranges = Vec::with_capacity(sets.len());
        let mut pairs = Vec::new();
        for set in sets {
            ranges.push(pairs.len()..pairs.len() + set.len());
            pairs.extend(set);
        }
        let mut loader = Self {
            pairs: Arc::new(pairs),
            sets: ranges,
            draw: None,
            concatenator: None,
            names: None,
            batch_count: 0,
            max_tokens,
            seed,
            training,
            bleu_sample: 0,
            next_epoch: Arc::new(AtomicUsize::new(first_epoch)),
            range: (0, 0),
            device: device.clone(),
            batcher: TranslationBatcher::default(),
            masking: None,
        };
        loader.batch_count = loader.batches(&loader.pairs, seed).len();
        loader.range.1 = usize::MAX;
        loader
    }

    /// Draws each epoch's pairs by `draw` instead of taking all of them, and adds the joined
    /// pairs of `concatenator` and the pairs with invented names of `names`.
    pub fn drawing(
        self,
        draw: Option<EpochDraw>,
        concatenator: Option<Concatenator>,
        names: Option<NameSwapper>,
    ) -> Self {
        let mut loader = Self {
            draw,
            concatenator,
            names,
            ..self
        };
        let epoch = loader.next_epoch.load(Ordering::SeqCst);
        let pairs = loader.epoch_pairs(epoch);
        loader.batch_count = loader.batches(&pairs, loader.epoch_seed(epoch)).len();
        loader
    }

    /// The pairs of training epoch `epoch`: those drawn, or all, the joined ones and those
    /// with invented names (both as a share of the first).
    fn epoch_pairs(&self, epoch: usize) -> Arc<Vec<EncodedPair>> {
        if self.draw.is_none() && self.concatenator.is_none() && self.names.is_none() {
            return self.pairs.clone();
        }
        let mut pairs: Vec<EncodedPair> = match &self.draw {
            Some(draw) => draw
                .indices(epoch)
                .into_iter()
                .map(|i| self.pairs[i].clone())
                .collect(),
            None => self.pairs.to_vec(),
        };
        let drawn = pairs.len();
        if let Some(concatenator) = &self.concatenator {
            pairs.extend(concatenator.pairs(epoch, drawn));
        }
        if let Some(names) = &self.names {
            pairs.extend(names.pairs(epoch, drawn));
        }
        Arc::new(pairs)
    }

    /// The batches of an epoch of `pairs` whose order `seed` draws: each set's token-budget
    /// batches, set after set, as (set, pair indices). Training's one set is all of `pairs`.
    fn batches(&self, pairs: &[EncodedPair], seed: u64) -> Vec<(usize, Vec<usize>)> {
        if self.training {
            return token_budget_batches(pairs, self.max_tokens, seed)
                .into_iter()
                .map(|batch| (0, batch))
                .collect();
        }
        let mut batches = Vec::new();
        for (set, range) in self.sets.iter().enumerate() {
            let pairs = &pairs[range.clone()];
            batches.extend(
                token_budget_batches(pairs, self.max_tokens, seed)
                    .into_iter()
                    .map(|batch| (set, batch.into_iter().map(|i| range.start + i).collect())),
            );
        }
        batches
    }

    /// Rounds every batch's lengths up to a multiple of `multiple` (see
    /// [`TranslationBatcher::length_multiple`]).
    pub fn with_length_multiple(self, multiple: usize) -> Self {
        Self {
            batcher: TranslationBatcher {
                length_multiple: multiple,
            },
            ..self
        }
    }

    /// Corrupts every batch by `masking`, for a masked language model: its texts are the
    /// pairs' targets. The draws are a function of (seed, epoch, step), validation's of
    /// (seed, step): the same masks every epoch.
    pub fn masking(self, masking: Option<Masking>) -> Self {
        Self { masking, ..self }
    }

    /// Seed of an epoch's batch order; validation always uses epoch 0's.
    fn epoch_seed(&self, epoch: usize) -> u64 {
        mix64(self.seed ^ mix64(epoch as u64))
    }
}

impl DataLoader<TrainingBatch> for EpochLoader {
    fn iter<'a>(&'a self) -> Box<dyn DataLoaderIterator<TrainingBatch> + 'a> {
        let epoch = if self.training {
            self.next_epoch.fetch_add(1, Ordering::SeqCst)
        } else {
            0
        };
        let seed = self.epoch_seed(epoch);
        let pairs = match self.training {
            true => self.epoch_pairs(epoch),
            false => self.pairs.clone(),
        };
        let mut batches = self.batches(&pairs, seed);
        batches.truncate(self.range.1);
        batches.drain(..self.range.0.min(batches.len()));
        Box::new(EpochIterator {
            loader: self,
            pairs,
            batches,
            seed,
            next: 0,
            to_translate: vec![self.bleu_sample; self.sets.len()],
        })
    }

    fn num_items(&self) -> usize {
        self.batch_count.min(self.range.1) - self.range.0.min(self.batch_count)
    }

    fn to_device(&self, device: &Device) -> Arc<dyn DataLoader<TrainingBatch>> {
        Arc::new(Self {
            device: device.clone(),
            ..self.clone()
        })
    }

    /// One device's share of data-parallel training. Each share counts its epochs itself,
    /// from where the whole loader stands, so that all shares cut the same epoch's order.
    fn slice(&self, start: usize, end: usize) -> Arc<dyn DataLoader<TrainingBatch>> {
        let from = self.range.0;
        // The last share serves to the epoch's end, whose batch count a drawn epoch varies.
        let end = match end >= self.num_items() {
            true => self.range.1,
            false => from + end,
        };
        Arc::new(Self {
            range: (from + start, end),
            next_epoch: Arc::new(AtomicUsize::new(self.next_epoch.load(Ordering::SeqCst))),
            ..self.clone()
        })
    }
}

/// Mixed into the seed of a batch's masks, so that they are drawn apart from its dropout.
const MASKING_STREAM: u64 = 0x4d41_534b;

struct EpochIterator<'a> {
    loader: &'a EpochLoader,
    /// The epoch's pairs, which `batches` index.
    pairs: Arc<Vec<EncodedPair>>,
    batches: Vec<(usize, Vec<usize>)>,
    seed: u64,
    next: usize,
    /// Sentences of each set's BLEU sample not yet served.
    to_translate: Vec<usize>,
}

impl Iterator for EpochIterator<'_> {
    type Item = Result<TrainingBatch, DatasetError>;

    fn next(&mut self) -> Option<Self::Item> {
        let (set, indices) = self.batches.get(self.next)?;
        let set = *set;
        let pairs: Vec<EncodedPair> = indices.iter().map(|&i| self.pairs[i].clone()).collect();
        // The batch's place in the whole epoch, whichever device's share serves it.
        let step = self.loader.range.0 + self.next;
        let dropout_seed = self
            .loader
            .training
            .then(|| mix64(self.seed ^ mix64(!(step as u64))));
        self.next += 1;
        let bleu_rows = self.to_translate[set].min(pairs.len());
        self.to_translate[set] -= bleu_rows;
        let bleu_references = pairs[..bleu_rows]
            .iter()
            .map(|p| p.target.clone())
            .collect();
        let device = &self.loader.device;
        let (batch, target_tokens) = match &self.loader.masking {
            Some(masking) => {
                let seed = mix64(mix64(self.seed ^ step as u64) ^ MASKING_STREAM);
                let predicted = pairs
                    .iter()
                    .map(|p| masking.chosen_count(p.target.len()))
                    .sum();
                (
                    self.loader.batcher.masked(&pairs, masking, seed, device),
                    predicted,
                )
            }
            None => {
                let tokens = pairs.iter().map(|p| p.target.len() + 1).sum();
                (self.loader.batcher.batch(vec![pairs], device), tokens)
            }
        };
        Some(Ok(TrainingBatch {
            batch,
            target_tokens,
            dropout_seed,
            bleu_references,
            set,
        }))
    }
}

impl DataLoaderIterator<TrainingBatch> for EpochIterator<'_> {
    fn progress(&self) -> Progress {
        Progress::new(self.next, self.batches.len(), Some("batches".to_string()))
    }
}
