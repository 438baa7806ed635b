//! Which CPU backend is fastest for this model: the order `--backend auto` prefers.
//!
//! `cargo bench --all-features --bench cpu_backends` (or without `--all-features` for the
//! default build's backends). Shape of issue #7's benchmark: d_model 256, 8 heads, d_ff 1024,
//! 3 + 3 layers, shared vocabulary of 8000, a batch of 64 sentences of 24 tokens.
//! Prints the median of 5 timed runs after one warm-up, for a forward pass with the loss and
//! for a training step (forward and backward).

#[path = "common/mod.rs"]
mod common;

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::Device;
use transformer_mt::backend::Backend;
use transformer_mt::model::PaddingMasks;

use common::{VOCAB, median_seconds, model, tokens};

const BATCH: usize = 64;
const LEN: usize = 24;

/// (forward + loss, forward + loss + backward) median seconds on `device`.
fn measure(device: &Device) -> (f64, f64) {
    let model = model(device);
    let tokens = tokens(BATCH, LEN, device);
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
