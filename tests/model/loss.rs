//! The label-smoothed cross-entropy of §5.4 equals Burn's own `CrossEntropyLoss` with
//! smoothing and a padding token, in value and in gradient; the sums it gives the accuracy and
//! perplexity metrics equal Burn's log-softmax and arg-max of the same logits.

use burn::data::dataloader::batcher::Batcher;
use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};
use transformer_mt::data::batch::{EncodedPair, TranslationBatcher};
use transformer_mt::data::tokenizer::PAD_ID;
use transformer_mt::model::TransformerConfig;
use transformer_mt::train::loss::label_smoothed_cross_entropy;
use transformer_mt::train::step::{TrainingBatch, TrainingModel};

use super::common::{max_abs_diff, normal, small_config, values};

const VOCAB: usize = 11;
const PAD: u32 = 0;

/// 12 labels, three of them padding.
fn labels(device: &burn::tensor::Device) -> Tensor<1, Int> {
    let ids: Vec<i64> = vec![3, 0, 7, 10, 1, 0, 5, 5, 2, 9, 0, 4];
    Tensor::from_data(TensorData::new(ids, [12]), device)
}

#[test]
fn label_smoothed_cross_entropy_equals_burns_loss_and_gradient() {
    let device = crate::shared::device().autodiff();
    device.seed(3);
    for epsilon in [0.0, 0.1, 0.35] {
        let logits = normal([12, VOCAB], &device).mul_scalar(3.0).require_grad();
        let ours = label_smoothed_cross_entropy(logits.clone(), labels(&device), epsilon, PAD).loss;
        let burns = CrossEntropyLossConfig::new()
            .with_pad_tokens(Some(vec![PAD as usize]))
            .with_smoothing((epsilon > 0.0).then_some(epsilon as f32))
            .init(&device)
            .forward(logits.clone(), labels(&device));
        let difference = max_abs_diff(ours.clone().inner(), burns.clone().inner());
        assert!(
            difference < 1e-5,
            "ε = {epsilon}: losses differ by {difference}"
        );

        let our_grad = logits.grad(&ours.backward()).expect("a gradient");
        let burn_grad = logits.grad(&burns.backward()).expect("a gradient");
        let difference = max_abs_diff(our_grad, burn_grad);
        assert!(
            difference < 1e-6,
            "ε = {epsilon}: gradients differ by {difference}"
        );
    }
}

/// By hand: two tokens of a 2-token vocabulary with logits (0, 0), so log p = −ln 2 for
/// both: whatever ε, the loss is ln 2.
#[test]
fn uniform_predictions_cost_ln_2() {
    let device = crate::shared::device();
    let logits = Tensor::<2>::zeros([2, 2], &device);
    let labels = Tensor::<1, Int>::from_data(TensorData::new(vec![1i64, 0], [2]), &device);
    let loss = label_smoothed_cross_entropy(logits, labels, 0.1, 7)
        .loss
        .into_scalar::<f32>();
    assert!((loss - std::f32::consts::LN_2).abs() < 1e-6, "{loss}");
}

/// `token_sums` against what Burn's `PerplexityMetric` and `AccuracyMetric` compute from the
/// logits: `−log p_y` from `log_softmax`, a right prediction where `argmax` is the label, over
/// the nine real labels. Every other row's label gets a large logit, so that some predictions
/// are right and some wrong.
#[test]
fn token_sums_equal_the_log_softmax_and_argmax_of_the_logits() {
    let device = crate::shared::device();
    device.seed(5);
    let ints = |tensor: Tensor<1, Int>| -> Vec<i64> {
        tensor
            .into_data()
            .convert::<i64>()
            .try_to_vec()
            .expect("ids")
    };
    let ids = ints(labels(&device));
    let boost: Vec<f32> = (0..12 * VOCAB)
        .map(|i| {
            let (row, column) = (i / VOCAB, i % VOCAB);
            if row % 2 == 0 && column as i64 == ids[row] {
                6.0
            } else {
                0.0
            }
        })
        .collect();
    let logits = normal([12, VOCAB], &device).mul_scalar(2.0)
        + Tensor::from_data(TensorData::new(boost, [12, VOCAB]), &device);

    let sums =
        values(label_smoothed_cross_entropy(logits.clone(), labels(&device), 0.1, PAD).token_sums);
    let log_p = values(log_softmax(logits.clone(), 1));
    let argmax = ints(logits.argmax(1).reshape([12]));
    let real = |(_, id): &(usize, &i64)| **id != PAD as i64;
    let negative_log_p: f32 = ids
        .iter()
        .enumerate()
        .filter(real)
        .map(|(row, &id)| -log_p[row * VOCAB + id as usize])
        .sum();
    let right = ids
        .iter()
        .enumerate()
        .filter(real)
        .filter(|&(row, &id)| argmax[row] == id)
        .count();

    assert!(
        (1..9).contains(&right),
        "{right} of 9 right: the test needs right and wrong predictions"
    );
    assert_eq!(sums.len(), 3, "{sums:?}");
    assert!(
        (sums[0] - negative_log_p).abs() < 1e-4 * negative_log_p,
        "Σ −log p_y {} against {negative_log_p}",
        sums[0]
    );
    assert_eq!(sums[1], right as f32, "right predictions");
    assert_eq!(sums[2], 9.0, "real tokens");
}

/// A training step's loss takes logits at the real target positions only, and `z_y` and
/// `mean(z)` from the generator's weights: it equals the loss of `Transformer::forward`'s full
/// logits, padding masked, in value and in the gradients of the generator, the embeddings and
/// a decoder layer, with a separate generator (weights and biases) and with tied embeddings.
#[test]
fn the_training_loss_equals_the_loss_of_the_full_logits() {
    let device = crate::shared::device().autodiff();
    let pairs: Vec<EncodedPair> = [(5, 3), (2, 6), (4, 4)]
        .iter()
        .enumerate()
        .map(|(i, &(source, target))| EncodedPair {
            source: (0..source).map(|t| 3 + ((i + 2 * t) % 20) as u32).collect(),
            target: (0..target)
                .map(|t| 3 + ((5 * i + 3 * t) % 20) as u32)
                .collect(),
        })
        .collect();
    let target_tokens = pairs.iter().map(|p| p.target.len() + 1).sum();
    for tied in [false, true] {
        device.seed(11);
        let config = if tied {
            TransformerConfig::new(23, 23).with_tie_embeddings(true)
        } else {
            small_config()
        };
        let transformer = config
            .with_d_model(16)
            .with_n_heads(4)
            .with_d_ff(32)
            .with_n_encoder_layers(2)
            .with_n_decoder_layers(2)
            .with_dropout(0.0)
            .init(&device)
            .expect("a valid configuration");
        let batch = TranslationBatcher::default().batch(vec![pairs.clone()], &device);
        let ours = TrainingModel::new(transformer.clone(), 0.1)
            .forward(TrainingBatch {
                batch: batch.clone(),
                target_tokens,
                dropout_seed: None,
                bleu_references: Vec::new(),
                set: 0,
            })
            .loss;
        let logits = transformer.forward(batch.src, batch.tgt_in, &batch.masks);
        let [rows, len, vocab] = logits.dims();
        let full = label_smoothed_cross_entropy(
            logits.reshape([rows * len, vocab]),
            batch.labels.reshape([rows * len]),
            0.1,
            PAD_ID,
        )
        .loss;
        let difference = max_abs_diff(ours.clone().inner(), full.clone().inner());
        assert!(
            difference < 1e-5,
            "tied {tied}: losses differ by {difference}"
        );

        let (our_grads, full_grads) = (ours.backward(), full.backward());
        let mut weights = vec![
            (
                "target embedding",
                transformer.tgt_embedding.as_ref().map_or_else(
                    || transformer.src_embedding.table.weight.val(),
                    |embedding| embedding.table.weight.val(),
                ),
            ),
            (
                "decoder feed-forward",
                transformer.decoder.layers[1].feed_forward.w_1.weight.val(),
            ),
        ];
        if let Some(generator) = &transformer.generator {
            weights.push(("generator weight", generator.weight.val()));
        }
        for (name, weight) in weights {
            let ours = weight.grad(&our_grads).expect("a gradient");
            let full = weight.grad(&full_grads).expect("a gradient");
            let difference = max_abs_diff(ours, full);
            assert!(
                difference < 1e-6,
                "tied {tied}: gradients of the {name} differ by {difference}"
            );
        }
        if let Some(generator) = &transformer.generator {
            let bias = generator.bias.as_ref().expect("a bias").val();
            let ours = bias.grad(&our_grads).expect("a gradient");
            let full = bias.grad(&full_grads).expect("a gradient");
            let difference = max_abs_diff(ours, full);
            assert!(difference < 1e-6, "generator biases differ by {difference}");
        }
    }
}
