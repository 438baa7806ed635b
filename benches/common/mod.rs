//! What the benchmarks share: the measured shape and the timing.
//! Each benchmark includes this file with `#[path = "common/mod.rs"] mod common;`.

use std::time::Instant;

use burn::tensor::{Device, Int, Tensor, TensorData};
use transformer_mt::model::{Transformer, TransformerConfig};

/// Shared vocabulary of the measured model.
pub const VOCAB: usize = 8000;

/// The measured model, on `device`: the shape of `config/default.json` and of issue #7's
/// benchmark (d_model 256, 8 heads, d_ff 1024, 3 + 3 layers, tied shared vocabulary of 8000).
pub fn model(device: &Device) -> Transformer {
    TransformerConfig::new(VOCAB, VOCAB)
        .with_d_model(256)
        .with_d_ff(1024)
        .with_n_encoder_layers(3)
        .with_n_decoder_layers(3)
        .with_tie_embeddings(true)
        .init(device)
        .expect("a valid configuration")
}

/// `batch` sentences of `len` ordinary tokens (no special token, no padding).
pub fn tokens(batch: usize, len: usize, device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = (0..batch * len)
        .map(|i| (i * 37 % (VOCAB - 4) + 4) as i64)
        .collect();
    Tensor::from_data(TensorData::new(ids, [batch, len]), device)
}

/// Median seconds of `runs` calls of `step` after one warm-up call.
pub fn median_seconds(runs: usize, mut step: impl FnMut()) -> f64 {
    step();
    let mut times: Vec<f64> = (0..runs)
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[runs / 2]
}
