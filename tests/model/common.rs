//! Helpers shared by the model tests.

use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use transformer_mt::model::TransformerConfig;

pub use crate::shared::{cpu_backend, device};

/// The values of a float tensor, as `f32`.
pub fn values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_to_vec()
        .expect("f32 data")
}

/// The largest absolute difference between two tensors of the same shape.
pub fn max_abs_diff<const D: usize>(a: Tensor<D>, b: Tensor<D>) -> f32 {
    assert_eq!(a.dims(), b.dims(), "shapes differ");
    values(a)
        .iter()
        .zip(values(b))
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

/// A float tensor from row-major values.
pub fn tensor<const D: usize>(values: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(values, shape), device)
}

/// An id tensor `[rows, len]` from rows of equal length.
pub fn ids(rows: &[&[i64]], device: &Device) -> Tensor<2, Int> {
    let len = rows[0].len();
    let flat: Vec<i64> = rows.iter().flat_map(|r| r.iter().copied()).collect();
    Tensor::from_data(TensorData::new(flat, [rows.len(), len]), device)
}

/// Standard normal values of the given shape.
pub fn normal<const D: usize>(shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::random(shape, Distribution::Normal(0.0, 1.0), device)
}

/// A small model: `d_model` 16, 4 heads, 2 + 2 layers, vocabularies of 23 and 29 tokens
/// (so no tied embeddings).
pub fn small_config() -> TransformerConfig {
    TransformerConfig::new(23, 29)
        .with_d_model(16)
        .with_n_heads(4)
        .with_d_ff(32)
        .with_n_encoder_layers(2)
        .with_n_decoder_layers(2)
        .with_max_len(32)
        .with_dropout(0.0)
        .with_tie_embeddings(false)
}

/// The pad id of the test batches.
pub const PAD: usize = 0;

/// Two source sentences (the second padded), their decoder inputs (the first padded) and
/// labels.
pub fn batch(device: &Device) -> (Tensor<2, Int>, Tensor<2, Int>, Tensor<2, Int>) {
    let pad = PAD as i64;
    let src = ids(&[&[3, 4, 5, 6, 7], &[8, 9, 10, pad, pad]], device);
    let tgt_in = ids(&[&[1, 11, 12, 13, pad], &[1, 14, 15, 16, 17]], device);
    let labels = ids(&[&[11, 12, 13, 2, pad], &[14, 15, 16, 17, 2]], device);
    (src, tgt_in, labels)
}
