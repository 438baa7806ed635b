//! Which CPU backend is fastest for this model: the order `--backend auto` prefers.
//!
//! `cargo bench --all-features --bench cpu_backends` (or without `--all-features` for the
//! default build's backends). Shape of issue #7's benchmark: d_model 256, 8 heads, d_ff 1024,
//! 3 + 3 layers, shared vocabulary of 8000, a batch of 64 sentences of 24 tokens.
//! Prints the median of 5 timed runs after one warm-up, for a forward pass with the loss and
//! for a training step (forward and backward).

use std::time::Instant;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Device, Int, Tensor, TensorData};
use transformer_mt::backend::Backend;
use transformer_mt::model::{PaddingMasks, TransformerConfig};

const BATCH: usize = 64;
const LEN: usize = 24;
const VOCAB: usize = 8000;

/// Median seconds of `runs` calls of `step` after one warm-up call.
fn median_seconds(runs: usize, mut step: impl FnMut()) -> f64 {
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

/// (forward + loss, forward + loss + backward) median seconds on `device`.
fn measure(device: &Device) -> (f64, f64) {
    let model = TransformerConfig::new(VOCAB, VOCAB)
        .with_d_model(256)
        .with_d_ff(1024)
        .with_n_encoder_layers(3)
        .with_n_decoder_layers(3)
        .with_tie_embeddings(true)
        .init(device)
        .expect("a valid configuration");
    let ids: Vec<i64> = (0..BATCH * LEN)
        .map(|i| (i * 37 % (VOCAB - 4) + 4) as i64)
        .collect();
    let tokens = Tensor::<2, Int>::from_data(TensorData::new(ids, [BATCH, LEN]), device);
    let masks = PaddingMasks::from_tokens(tokens.clone(), tokens.clone(), 0);
    let loss_fn = CrossEntropyLossConfig::new().init(device);
    let loss = || {
        let logits = model.forward(tokens.clone(), tokens.clone(), &masks);
        loss_fn.forward(
            logits.reshape([BATCH * LEN, VOCAB]),
            tokens.clone().reshape([BATCH * LEN]),
        )
    };
    let forward = median_seconds(5, || {
        loss().into_scalar::<f32>();
    });
    let train = if device.is_autodiff() {
        median_seconds(5, || {
            let gradients = loss().backward();
            drop(gradients);
        })
    } else {
        f64::NAN
    };
    (forward, train)
}

fn main() {
    println!("backend   forward+loss   training step   (median of 5, seconds)");
    for backend in Backend::compiled() {
        if backend == Backend::Wgpu {
            continue;
        }
        let (forward, _) = measure(&backend.device().expect("compiled in"));
        let (_, train) = measure(&backend.training_device().expect("compiled in"));
        println!("{:<9} {forward:>12.3}   {train:>13.3}", backend.name());
    }
}
