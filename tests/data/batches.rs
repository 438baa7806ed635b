//! Length filter, token-budget bucketing and batch tensors.

use crate::shared::device;
use burn::data::dataloader::batcher::Batcher;
use burn::data::dataset::Dataset;
use burn::tensor::{Int, Tensor, TensorData};
use transformer_mt::data::batch::{
    EncodedPair, TranslationBatcher, bucketed_dataset, drop_long, padding_ratio,
    token_budget_batches,
};

fn encoded(source: &[u32], target: &[u32]) -> EncodedPair {
    EncodedPair {
        source: source.to_vec(),
        target: target.to_vec(),
    }
}

/// Pairs of every width from 1 to 40, ten of each, in a scrambled order (a stride of 17
/// through the lengths).
fn varied() -> Vec<EncodedPair> {
    (0..400u32)
        .map(|i| {
            let len = ((i * 17) % 40 + 1) as usize;
            encoded(
                &vec![10; len],
                &vec![11; (len + i as usize % 3).saturating_sub(1)],
            )
        })
        .collect()
}

#[test]
fn a_batch_holds_bos_target_eos_and_padding_masks() {
    let batch = TranslationBatcher::default().batch(
        vec![vec![
            encoded(&[5, 6, 7], &[8, 9]),
            encoded(&[5], &[8, 9, 10, 11]),
        ]],
        &device(),
    );
    // Backends store ids as i32 or i64: compare as i64.
    let ids = |t: Tensor<2, Int>| t.to_data().convert::<i64>();
    assert_eq!(ids(batch.src), TensorData::from([[5i64, 6, 7], [5, 0, 0]]));
    assert_eq!(
        ids(batch.tgt_in),
        TensorData::from([[2i64, 8, 9, 0, 0], [2, 8, 9, 10, 11]])
    );
    assert_eq!(
        ids(batch.labels),
        TensorData::from([[8i64, 9, 3, 0, 0], [8, 9, 10, 11, 3]])
    );
    assert_eq!(
        batch.masks.src.to_data(),
        TensorData::from([[false, false, false], [false, true, true]])
    );
    assert_eq!(
        batch.masks.tgt.to_data(),
        TensorData::from([[false, false, false, true, true], [false; 5]])
    );
}

#[test]
fn long_pairs_are_dropped_and_counted() {
    let mut pairs = vec![
        encoded(&[1; 5], &[1; 4]),
        encoded(&[1; 6], &[1; 2]),
        encoded(&[1; 2], &[1; 5]),
    ];
    // A target of 5 needs 6 positions with `</s>`.
    assert_eq!(drop_long(&mut pairs, 5), 2);
    assert_eq!(pairs, vec![encoded(&[1; 5], &[1; 4])]);
}

#[test]
fn batches_respect_the_token_budget_and_cover_every_pair_once() {
    let pairs = varied();
    let max_tokens = 200;
    let batches = token_budget_batches(&pairs, max_tokens, 3);
    let mut seen = vec![0; pairs.len()];
    for batch in &batches {
        let widest = batch
            .iter()
            .map(|&i| pairs[i].width())
            .max()
            .expect("non-empty");
        assert!(
            batch.len() * widest <= max_tokens,
            "{} × {widest}",
            batch.len()
        );
        for &i in batch {
            seen[i] += 1;
        }
    }
    assert!(seen.iter().all(|&n| n == 1));
    // Bucketing by length leaves little padding; batches of 8 in file order leave 45 %.
    let bucketed = padding_ratio(&pairs, &batches);
    let in_order: Vec<Vec<usize>> = (0..pairs.len())
        .collect::<Vec<_>>()
        .chunks(8)
        .map(<[usize]>::to_vec)
        .collect();
    assert!(bucketed < 0.15, "padding {bucketed}");
    let unsorted = padding_ratio(&pairs, &in_order);
    assert!((unsorted - 0.4547).abs() < 1e-4, "padding {unsorted}");
}

#[test]
fn batch_order_is_fixed_by_the_seed() {
    let pairs = varied();
    assert_eq!(
        token_budget_batches(&pairs, 200, 3),
        token_budget_batches(&pairs, 200, 3)
    );
    assert_ne!(
        token_budget_batches(&pairs, 200, 3),
        token_budget_batches(&pairs, 200, 4)
    );
}

#[test]
fn the_padding_ratio_is_counted_by_hand() {
    // Source lengths 3 and 1 → 4 real of 6; targets with `</s>` 3 and 5 → 8 real of 10.
    let pairs = vec![encoded(&[1, 1, 1], &[1, 1]), encoded(&[1], &[1, 1, 1, 1])];
    let ratio = padding_ratio(&pairs, &[vec![0, 1]]);
    assert!((ratio - 4.0 / 16.0).abs() < 1e-12, "{ratio}");
}

#[test]
fn gpu_batches_round_lengths_up_to_a_multiple_of_8_with_masked_padding() {
    let batch = TranslationBatcher { length_multiple: 8 }
        .batch(vec![vec![encoded(&[5; 9], &[8, 9])]], &device());
    // Source 9 ids → 16 positions; target 2 ids + <s> → 8.
    assert_eq!(batch.src.dims(), [1, 16]);
    assert_eq!(batch.tgt_in.dims(), [1, 8]);
    assert_eq!(batch.labels.dims(), [1, 8]);
    let ids = |t: Tensor<2, Int>| t.to_data().convert::<i64>();
    assert_eq!(
        ids(batch.labels),
        TensorData::from([[8i64, 9, 3, 0, 0, 0, 0, 0]])
    );
    let mut src_mask = [true; 16];
    src_mask[..9].fill(false);
    assert_eq!(batch.masks.src.to_data(), TensorData::from([src_mask]));
    let mut tgt_mask = [true; 8];
    tgt_mask[..3].fill(false);
    assert_eq!(batch.masks.tgt.to_data(), TensorData::from([tgt_mask]));
}

#[test]
fn the_dataset_yields_whole_batches() {
    let pairs = varied();
    let dataset = bucketed_dataset(&pairs, 200, 3);
    let batches = token_budget_batches(&pairs, 200, 3);
    assert_eq!(dataset.len(), batches.len());
    let first = dataset.get(0).expect("a batch");
    assert_eq!(first.len(), batches[0].len());
    let tensors = TranslationBatcher::default().batch(vec![first], &device());
    assert_eq!(tensors.src.dims()[0], batches[0].len());
}
