//! BERT, the encoder-only model built from the same blocks: equal to Burn's own encoder with
//! a padding mask and to BERT's head computed from `burn::nn` modules, every position seeing
//! every other, padding seen by none.

use burn::nn::activation::ActivationConfig;
use burn::nn::transformer::{TransformerEncoderConfig, TransformerEncoderInput};
use burn::nn::{Gelu, Linear};
use burn::tensor::{Bool, Int, Tensor};
use transformer_mt::model::mask::padding_mask;
use transformer_mt::model::{Bert, BertConfig};

use super::common::{device, ids, max_abs_diff};
use super::reference::{copy_encoder_layer, random_norm};

const PAD: usize = 0;
const VOCAB: usize = 31;

/// A small BERT: `d_model` 16, 4 heads, 2 layers, 31 tokens, 32 positions, no dropout.
fn small_bert(norm_first: bool) -> BertConfig {
    BertConfig::new(VOCAB)
        .with_d_model(16)
        .with_n_heads(4)
        .with_d_ff(32)
        .with_n_layers(2)
        .with_max_len(32)
        .with_dropout(0.0)
        .with_norm_first(norm_first)
}

/// `[CLS]` (2), a sentence, `[SEP]` (3); the second row padded.
fn tokens() -> Tensor<2, Int> {
    ids(
        &[&[2, 5, 9, 4, 7, 11, 3], &[2, 8, 6, 10, 3, 0, 0]],
        &device(),
    )
}

fn padding(tokens: &Tensor<2, Int>) -> Tensor<2, Bool> {
    padding_mask(tokens.clone(), PAD)
}

/// Ours against Burn's `TransformerEncoder` fed the same weights and the padding mask, on our
/// embeddings and positional encoding; then BERT's head from the model's own `burn::nn`
/// modules (`Linear`, GELU, `LayerNorm`) and the tied table, `LayerNorm(GELU(h·W + b))·Eᵀ`.
/// Only real positions are compared: a padded query's row is Burn's to choose.
fn check_against_burn_nn(norm_first: bool) {
    let device = device();
    let config = small_bert(norm_first);
    let mut ours: Bert = config.init(&device).expect("valid");
    let mut theirs =
        TransformerEncoderConfig::new(config.d_model, config.d_ff, config.n_heads, config.n_layers)
            .with_dropout(0.0)
            .with_norm_first(norm_first)
            .with_activation(ActivationConfig::Relu)
            .init(&device);
    for (our_layer, their_layer) in ours.stack.layers.iter_mut().zip(theirs.layers.iter_mut()) {
        copy_encoder_layer(our_layer, their_layer, norm_first);
    }
    let final_norm = random_norm(config.d_model, &device);
    if norm_first {
        ours.stack.final_norm = Some(final_norm.clone());
    }
    ours.head_norm = random_norm(config.d_model, &device);

    let tokens = tokens();
    let x = ours
        .positional_encoding
        .forward(ours.embedding.forward(tokens.clone()));
    let hidden = theirs.forward(TransformerEncoderInput::new(x).mask_pad(padding(&tokens)));
    let hidden = if norm_first {
        final_norm.forward(hidden)
    } else {
        hidden
    };
    let dense: &Linear = &ours.head_dense;
    let head = ours
        .head_norm
        .forward(Gelu::new().forward(dense.forward(hidden)));
    let expected = ours.embedding.logits(head);
    let got = ours.forward(tokens.clone(), padding(&tokens));
    let real = |x: Tensor<3>, row: usize, len: usize| x.slice([row..row + 1, 0..len, 0..VOCAB]);
    for (row, len) in [(0, 7), (1, 5)] {
        let diff = max_abs_diff(
            real(got.clone(), row, len),
            real(expected.clone(), row, len),
        );
        assert!(diff < 1e-5, "norm_first {norm_first}, row {row}: {diff}");
    }
}

#[test]
fn bert_post_norm_equals_burn_nn_encoder_and_head() {
    check_against_burn_nn(false);
}

#[test]
fn bert_pre_norm_equals_burn_nn_encoder_and_head() {
    check_against_burn_nn(true);
}

/// Unlike GPT's, every position sees the tokens after it: changing the last word moves the
/// logits of the first.
#[test]
fn a_position_sees_the_tokens_after_it() {
    let device = device();
    let model = small_bert(false).init(&device).expect("valid");
    let a = ids(&[&[2, 5, 9, 4, 7, 11, 3]], &device);
    let b = ids(&[&[2, 5, 9, 4, 7, 13, 3]], &device);
    let first = |x: Tensor<3>| x.slice([0..1, 1..2, 0..VOCAB]);
    let moved = max_abs_diff(
        first(model.forward(a.clone(), padding(&a))),
        first(model.forward(b.clone(), padding(&b))),
    );
    assert!(moved > 1e-3, "the first word did not see the last: {moved}");
}

/// Padding is seen by no position: a sentence alone and the same sentence padded to twice
/// its length, beside a longer one, give the same logits at its real positions.
#[test]
fn padding_changes_no_real_position() {
    let device = device();
    let model = small_bert(true).init(&device).expect("valid");
    let alone = ids(&[&[2, 8, 6, 10, 3]], &device);
    let batch = ids(
        &[
            &[2, 8, 6, 10, 3, 0, 0, 0, 0, 0],
            &[2, 5, 9, 4, 7, 11, 12, 13, 14, 3],
        ],
        &device,
    );
    let a = model.forward(alone.clone(), padding(&alone));
    let b = model
        .forward(batch.clone(), padding(&batch))
        .slice([0..1, 0..5, 0..VOCAB]);
    let diff = max_abs_diff(a, b);
    assert!(diff < 1e-5, "padding moved a real position by {diff}");
}
