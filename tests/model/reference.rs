//! Our layers equal Burn's own `burn::nn` modules given the same weights.
//!
//! Burn's modules are an independent implementation of the same paper; the only differences
//! are the names and order of their LayerNorms, mapped here per norm mode.

use burn::module::Param;
use burn::nn::activation::ActivationConfig;
use burn::nn::attention::{
    MhaInput, MultiHeadAttention as BurnMha, MultiHeadAttentionConfig as BurnMhaConfig,
};
use burn::nn::transformer::{
    TransformerDecoderConfig, TransformerDecoderInput, TransformerDecoderLayer,
    TransformerEncoderConfig, TransformerEncoderInput, TransformerEncoderLayer,
};
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Bool, Device, Tensor};
use transformer_mt::model::decoder::DecoderLayer;
use transformer_mt::model::encoder::EncoderLayer;
use transformer_mt::model::mask::causal_mask;
use transformer_mt::model::{AttentionMask, MultiHeadAttention, MultiHeadAttentionConfig};

use super::common::{device, max_abs_diff, normal, small_config};

const TOLERANCE: f32 = 1e-5;

fn copy_attention(ours: &mut MultiHeadAttention, theirs: &BurnMha) {
    ours.query = theirs.query.clone();
    ours.key = theirs.key.clone();
    ours.value = theirs.value.clone();
    ours.output = theirs.output.clone();
}

/// A LayerNorm with random scale and shift, so that using the wrong one shows.
pub(super) fn random_norm(d_model: usize, device: &Device) -> LayerNorm {
    let mut norm = LayerNormConfig::new(d_model).init(device);
    norm.gamma = Param::from_tensor(normal([d_model], device).add_scalar(1.0));
    norm.beta = Some(Param::from_tensor(normal([d_model], device)));
    norm
}

/// `[batch, keys]` padding: the last two keys of the second sentence.
fn key_padding(batch: usize, keys: usize, device: &Device) -> Tensor<2, Bool> {
    let pad: Vec<bool> = (0..batch * keys)
        .map(|i| i / keys == 1 && i % keys >= keys - 2)
        .collect();
    Tensor::from_data(burn::tensor::TensorData::new(pad, [batch, keys]), device)
}

#[test]
fn multi_head_attention_equals_burn_nn() {
    let device = device();
    let (batch, queries, keys, d_model, heads) = (2, 5, 6, 16, 4);
    let theirs = BurnMhaConfig::new(d_model, heads)
        .with_dropout(0.0)
        .init(&device);
    let mut ours = MultiHeadAttentionConfig::new(d_model, heads)
        .with_dropout(0.0)
        .init(&device);
    copy_attention(&mut ours, &theirs);

    let query = normal([batch, queries, d_model], &device);
    let key = normal([batch, keys, d_model], &device);
    let value = normal([batch, keys, d_model], &device);

    // Without masks: cross-attention shapes (queries ≠ keys).
    let expected = theirs.forward(MhaInput::new(query.clone(), key.clone(), value.clone()));
    let (context, weights) = ours.forward(query.clone(), key.clone(), value.clone(), None);
    assert!(max_abs_diff(context, expected.context) < TOLERANCE);
    assert!(max_abs_diff(weights, expected.weights) < TOLERANCE);

    // With a [batch, q, k] mask and a [batch, k] key-padding mask together; no query row is
    // fully blocked (Burn gives such a row uniform weights, we give zeros).
    let pairs = Tensor::<3, Bool>::from_data(
        burn::tensor::TensorData::new(
            (0..batch * queries * keys)
                .map(|i| (i % keys) > (i / keys) % queries + 1)
                .collect::<Vec<_>>(),
            [batch, queries, keys],
        ),
        &device,
    );
    let padding = key_padding(batch, keys, &device);
    let expected = theirs.forward(
        MhaInput::new(query.clone(), key.clone(), value.clone())
            .mask_attn(pairs.clone())
            .mask_pad(padding.clone()),
    );
    let mask = AttentionMask::pairs(pairs).or(AttentionMask::key_padding(padding));
    let (context, weights) = ours.forward(query, key, value, Some(&mask));
    assert!(max_abs_diff(context, expected.context) < TOLERANCE);
    assert!(max_abs_diff(weights, expected.weights) < TOLERANCE);
}

/// Copies Burn's encoder layer into ours. Burn names its norms by position in the code:
/// post-norm, `norm_1` follows attention and `norm_2` the FFN; pre-norm, `norm_2` precedes
/// attention and `norm_1` the FFN.
pub(super) fn copy_encoder_layer(
    ours: &mut EncoderLayer,
    theirs: &mut TransformerEncoderLayer,
    norm_first: bool,
) {
    let device = theirs.norm_1.gamma.device();
    let [d_model] = theirs.norm_1.gamma.dims();
    theirs.norm_1 = random_norm(d_model, &device);
    theirs.norm_2 = random_norm(d_model, &device);
    copy_attention(&mut ours.self_attn, &theirs.mha);
    ours.feed_forward.w_1 = theirs.pwff.linear_inner.clone();
    ours.feed_forward.w_2 = theirs.pwff.linear_outer.clone();
    let (attention_norm, ff_norm) = if norm_first {
        (&theirs.norm_2, &theirs.norm_1)
    } else {
        (&theirs.norm_1, &theirs.norm_2)
    };
    ours.self_attn_norm.norm = attention_norm.clone();
    ours.feed_forward_norm.norm = ff_norm.clone();
}

/// Burn's decoder layer: post-norm, `norm_1`, `norm_2`, `norm_3` follow self-attention,
/// cross-attention and the FFN; pre-norm, `norm_3`, `norm_1`, `norm_2` precede them.
fn copy_decoder_layer(
    ours: &mut DecoderLayer,
    theirs: &mut TransformerDecoderLayer,
    norm_first: bool,
) {
    let device = theirs.norm_1.gamma.device();
    let [d_model] = theirs.norm_1.gamma.dims();
    theirs.norm_1 = random_norm(d_model, &device);
    theirs.norm_2 = random_norm(d_model, &device);
    theirs.norm_3 = random_norm(d_model, &device);
    copy_attention(&mut ours.self_attn, &theirs.self_attn);
    copy_attention(&mut ours.cross_attn, &theirs.cross_attn);
    ours.feed_forward.w_1 = theirs.pwff.linear_inner.clone();
    ours.feed_forward.w_2 = theirs.pwff.linear_outer.clone();
    let (self_norm, cross_norm, ff_norm) = if norm_first {
        (&theirs.norm_3, &theirs.norm_1, &theirs.norm_2)
    } else {
        (&theirs.norm_1, &theirs.norm_2, &theirs.norm_3)
    };
    ours.self_attn_norm.norm = self_norm.clone();
    ours.cross_attn_norm.norm = cross_norm.clone();
    ours.feed_forward_norm.norm = ff_norm.clone();
}

/// Our encoder of `n_layers` against Burn's; pre-norm, ours ends with a LayerNorm that
/// Burn's stack leaves to the caller, so it is applied to Burn's output too.
fn check_encoder(n_layers: usize, norm_first: bool) {
    let device = device();
    let config = small_config()
        .with_n_encoder_layers(n_layers)
        .with_norm_first(norm_first);
    let mut theirs =
        TransformerEncoderConfig::new(config.d_model, config.d_ff, config.n_heads, n_layers)
            .with_dropout(0.0)
            .with_norm_first(norm_first)
            .with_activation(ActivationConfig::Relu)
            .init(&device);
    let mut ours = config.encoder().init(&device);
    for (our_layer, their_layer) in ours.layers.iter_mut().zip(theirs.layers.iter_mut()) {
        copy_encoder_layer(our_layer, their_layer, norm_first);
    }
    let final_norm = random_norm(config.d_model, &device);
    if norm_first {
        ours.final_norm = Some(final_norm.clone());
    }

    let (batch, len) = (2, 7);
    let x = normal([batch, len, config.d_model], &device);
    let padding = key_padding(batch, len, &device);
    let expected =
        theirs.forward(TransformerEncoderInput::new(x.clone()).mask_pad(padding.clone()));
    let expected = if norm_first {
        final_norm.forward(expected)
    } else {
        expected
    };
    let got = ours.forward(x, Some(&AttentionMask::key_padding(padding)));
    assert_eq!(got.self_attention.len(), n_layers);
    let diff = max_abs_diff(got.memory, expected);
    assert!(
        diff < TOLERANCE,
        "{n_layers} layers, norm_first {norm_first}: {diff}"
    );
}

fn check_decoder(n_layers: usize, norm_first: bool) {
    let device = device();
    let config = small_config()
        .with_n_decoder_layers(n_layers)
        .with_norm_first(norm_first);
    let mut theirs =
        TransformerDecoderConfig::new(config.d_model, config.d_ff, config.n_heads, n_layers)
            .with_dropout(0.0)
            .with_norm_first(norm_first)
            .with_activation(ActivationConfig::Relu)
            .init(&device);
    let mut ours = config.decoder().init(&device);
    for (our_layer, their_layer) in ours.layers.iter_mut().zip(theirs.layers.iter_mut()) {
        copy_decoder_layer(our_layer, their_layer, norm_first);
    }
    let final_norm = random_norm(config.d_model, &device);
    if norm_first {
        ours.final_norm = Some(final_norm.clone());
    }

    let (batch, tgt_len, src_len) = (2, 6, 8);
    let target = normal([batch, tgt_len, config.d_model], &device);
    let memory = normal([batch, src_len, config.d_model], &device);
    let causal = causal_mask(tgt_len, &device)
        .unsqueeze::<3>()
        .expand([batch, tgt_len, tgt_len]);
    let src_padding = key_padding(batch, src_len, &device);
    let expected = theirs.forward(
        TransformerDecoderInput::new(target.clone(), memory.clone())
            .target_mask_attn(causal)
            .memory_mask_pad(src_padding.clone()),
    );
    let expected = if norm_first {
        final_norm.forward(expected)
    } else {
        expected
    };
    let got = ours.forward(
        target,
        memory,
        Some(&AttentionMask::causal(tgt_len, &device)),
        Some(&AttentionMask::key_padding(src_padding)),
    );
    assert_eq!(got.cross_attention.len(), n_layers);
    let diff = max_abs_diff(got.hidden, expected);
    assert!(
        diff < TOLERANCE,
        "{n_layers} layers, norm_first {norm_first}: {diff}"
    );
}

#[test]
fn encoder_layer_post_norm_equals_burn_nn() {
    check_encoder(1, false);
}

#[test]
fn encoder_layer_pre_norm_equals_burn_nn() {
    check_encoder(1, true);
}

#[test]
fn encoder_stack_equals_burn_nn() {
    check_encoder(3, false);
    check_encoder(3, true);
}

#[test]
fn decoder_layer_post_norm_equals_burn_nn() {
    check_decoder(1, false);
}

#[test]
fn decoder_layer_pre_norm_equals_burn_nn() {
    check_decoder(1, true);
}

#[test]
fn decoder_stack_equals_burn_nn() {
    check_decoder(3, false);
    check_decoder(3, true);
}
