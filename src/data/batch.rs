//! From encoded pairs to training batches: length filter, token-budget bucketing, tensors.
//!
//! Sentences of similar length are batched together so that little of a batch is padding,
//! and a batch holds as many sentences as fit in a budget of tokens (`max_tokens`, as in
//! fairseq and Marian) rather than a fixed count: many short sentences or a few long ones,
//! for about the same memory and time per step.

use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::InMemDataset;
use burn::tensor::{Device, Int, Tensor, TensorData};

use crate::model::PaddingMasks;

use super::masking::{Masked, Masking};
use super::random::SplitMix64;
use super::tokenizer::{BOS_ID, EOS_ID, PAD_ID};

/// A pair as token ids, without `<s>` or `</s>`.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct EncodedPair {
    /// Source ids.
    pub source: Vec<u32>,
    /// Target ids.
    pub target: Vec<u32>,
}

impl EncodedPair {
    /// Positions this pair takes in a batch: the longer of the source and the target with its
    /// added `<s>` (decoder input) or `</s>` (labels).
    pub fn width(&self) -> usize {
        self.source.len().max(self.target.len() + 1)
    }
}

/// Drops the pairs wider than `max_len` positions (see [`EncodedPair::width`]); returns how
/// many it dropped.
pub fn drop_long(pairs: &mut Vec<EncodedPair>, max_len: usize) -> usize {
    let before = pairs.len();
    pairs.retain(|p| p.width() <= max_len);
    before - pairs.len()
}

/// Groups pair indices into batches of similar length whose padded size (sentences × longest
/// width) stays within `max_tokens`; the batches come out in a seeded random order.
///
/// Pairs are sorted by width, ties broken by a seeded shuffle, and cut greedily; a pair
/// wider than `max_tokens` gets a batch of its own.
pub fn token_budget_batches(
    pairs: &[EncodedPair],
    max_tokens: usize,
    seed: u64,
) -> Vec<Vec<usize>> {
    let mut rng = SplitMix64::new(seed);
    let mut order: Vec<(usize, u64, usize)> = pairs
        .iter()
        .enumerate()
        .map(|(i, p)| (p.width(), rng.next_u64(), i))
        .collect();
    order.sort_unstable();

    let mut batches = Vec::new();
    let mut batch: Vec<usize> = Vec::new();
    let mut widest = 0;
    for (width, _, index) in order {
        let wider = widest.max(width);
        if !batch.is_empty() && wider * (batch.len() + 1) > max_tokens {
            batches.push(std::mem::take(&mut batch));
            widest = width;
        } else {
            widest = wider;
        }
        batch.push(index);
    }
    if !batch.is_empty() {
        batches.push(batch);
    }
    rng.shuffle(&mut batches);
    batches
}

/// The fraction of padding in the source and target tensors of `batches`.
pub fn padding_ratio(pairs: &[EncodedPair], batches: &[Vec<usize>]) -> f64 {
    let (mut real, mut total) = (0usize, 0usize);
    for batch in batches {
        let src_len = batch
            .iter()
            .map(|&i| pairs[i].source.len())
            .max()
            .unwrap_or(0);
        let tgt_len = batch
            .iter()
            .map(|&i| pairs[i].target.len() + 1)
            .max()
            .unwrap_or(0);
        total += batch.len() * (src_len + tgt_len);
        real += batch
            .iter()
            .map(|&i| pairs[i].source.len() + pairs[i].target.len() + 1)
            .sum::<usize>();
    }
    if total == 0 {
        0.0
    } else {
        1.0 - real as f64 / total as f64
    }
}

/// One training batch, on a device.
#[derive(Clone, Debug)]
pub struct TranslationBatch {
    /// Source ids `[batch, src_len]`, padded with `<pad>`.
    pub src: Tensor<2, Int>,
    /// Decoder input `[batch, tgt_len]`: `<s>` then the target.
    pub tgt_in: Tensor<2, Int>,
    /// What the decoder must predict `[batch, tgt_len]`: the target then `</s>`.
    pub labels: Tensor<2, Int>,
    /// The positions of `labels` that are not `<pad>`, as indices `row · tgt_len + t` into
    /// the flattened labels `[batch · tgt_len]`: the only positions that need logits.
    pub label_positions: Tensor<1, Int>,
    /// The padding of `src` and `tgt_in`.
    pub masks: PaddingMasks,
}

/// A dataset whose items are whole batches, formed by [`token_budget_batches`]: Burn's data
/// loader, run with a batch size of 1, then shuffles the batches between epochs.
pub fn bucketed_dataset(
    pairs: &[EncodedPair],
    max_tokens: usize,
    seed: u64,
) -> InMemDataset<Vec<EncodedPair>> {
    let batches = token_budget_batches(pairs, max_tokens, seed)
        .into_iter()
        .map(|batch| batch.into_iter().map(|i| pairs[i].clone()).collect())
        .collect();
    InMemDataset::new(batches)
}

/// Turns pairs into a padded [`TranslationBatch`]; each item is a group of pairs (a bucket
/// of [`bucketed_dataset`]), and the items given together become one batch.
#[derive(Clone, Debug)]
pub struct TranslationBatcher {
    /// Tensor lengths are rounded up to a multiple of this: GPU backends compile and
    /// autotune kernels for every new shape, and 8 cuts the shapes of a corpus about 8-fold
    /// for at most 7 more padded positions. 1 on the CPU.
    pub length_multiple: usize,
}

impl Default for TranslationBatcher {
    fn default() -> Self {
        Self { length_multiple: 1 }
    }
}

impl Batcher<Vec<EncodedPair>, TranslationBatch> for TranslationBatcher {
    fn batch(&self, items: Vec<Vec<EncodedPair>>, device: &Device) -> TranslationBatch {
        let items: Vec<EncodedPair> = items.into_iter().flatten().collect();
        let src_rows: Vec<Vec<u32>> = items.iter().map(|p| p.source.clone()).collect();
        let tgt_in_rows: Vec<Vec<u32>> = items
            .iter()
            .map(|p| {
                std::iter::once(BOS_ID)
                    .chain(p.target.iter().copied())
                    .collect()
            })
            .collect();
        let label_rows: Vec<Vec<u32>> = items
            .iter()
            .map(|p| {
                p.target
                    .iter()
                    .copied()
                    .chain(std::iter::once(EOS_ID))
                    .collect()
            })
            .collect();
        let multiple = self.length_multiple;
        let src = padded_to(&src_rows, multiple, device);
        let tgt_in = padded_to(&tgt_in_rows, multiple, device);
        let labels = padded_to(&label_rows, multiple, device);
        Self::assemble(src, tgt_in, labels, &label_rows, device)
    }
}

impl TranslationBatcher {
    /// A masked language model's batch of the texts `pairs` (their targets), each corrupted
    /// by `masking` with draws seeded by `seed`: the corrupted sentences, between `[CLS]` and
    /// `[SEP]`, in `tgt_in`; the tokens to recover in `labels`, `<pad>` elsewhere; the
    /// positions chosen in `label_positions`. `src` is one column of padding.
    pub fn masked(
        &self,
        pairs: &[EncodedPair],
        masking: &Masking,
        seed: u64,
        device: &Device,
    ) -> TranslationBatch {
        let mut rng = SplitMix64::new(seed);
        let (inputs, label_rows): (Vec<Vec<u32>>, Vec<Vec<u32>>) = pairs
            .iter()
            .map(|pair| {
                let Masked { input, labels } = masking.apply(&pair.target, &mut rng);
                (input, labels)
            })
            .unzip();
        let multiple = self.length_multiple;
        let tgt_in = padded_to(&inputs, multiple, device);
        let labels = padded_to(&label_rows, multiple, device);
        let src = padded_to(&vec![Vec::new(); pairs.len()], 1, device);
        Self::assemble(src, tgt_in, labels, &label_rows, device)
    }

    /// The batch of these tensors: the positions of `label_rows` that are not `<pad>`, as
    /// indices into the flattened `labels`, and the padding masks.
    fn assemble(
        src: Tensor<2, Int>,
        tgt_in: Tensor<2, Int>,
        labels: Tensor<2, Int>,
        label_rows: &[Vec<u32>],
        device: &Device,
    ) -> TranslationBatch {
        let [_, len] = labels.dims();
        let positions: Vec<i64> = label_rows
            .iter()
            .enumerate()
            .flat_map(|(row, ids)| {
                ids.iter()
                    .enumerate()
                    .filter(|(_, id)| **id != PAD_ID)
                    .map(move |(t, _)| (row * len + t) as i64)
            })
            .collect();
        let count = positions.len();
        let label_positions = Tensor::from_data(TensorData::new(positions, [count]), device);
        let masks = PaddingMasks::from_tokens(src.clone(), tgt_in.clone(), PAD_ID as usize);
        TranslationBatch {
            src,
            tgt_in,
            labels,
            label_positions,
            masks,
        }
    }
}

/// Rows of ids as one `[rows, longest]` tensor, padded at the end with `<pad>`.
pub fn padded(rows: &[Vec<u32>], device: &Device) -> Tensor<2, Int> {
    padded_to(rows, 1, device)
}

/// [`padded`] to a length rounded up to a multiple of `multiple`.
pub fn padded_to(rows: &[Vec<u32>], multiple: usize, device: &Device) -> Tensor<2, Int> {
    let longest = rows.iter().map(Vec::len).max().unwrap_or(0).max(1);
    let len = longest.next_multiple_of(multiple.max(1));
    let mut flat = Vec::with_capacity(rows.len() * len);
    for row in rows {
        flat.extend(row.iter().map(|&id| id as i64));
        flat.extend(std::iter::repeat_n(PAD_ID as i64, len - row.len()));
    }
    Tensor::from_data(TensorData::new(flat, [rows.len(), len]), device)
}
