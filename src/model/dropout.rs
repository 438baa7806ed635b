//! Dropout (Srivastava et al., 2014), which the paper applies to every sub-layer's output, to
//! the sums of embeddings and positional encodings (§5.4, `P_drop = 0.1`) and, in its reference
//! implementation, to the attention weights and the feed-forward activations.
//!
//! In training each value is kept with probability `1 − p` and scaled by `1 / (1 − p)`, so
//! that its expectation is unchanged; outside training it is the identity.
//!
//! Burn's CPU backends draw a random tensor one element at a time from a ChaCha generator on
//! one thread: a fifth of a training step of `config/tiny.json` on flex (`perf`). For tensors
//! in the host's memory the mask is drawn here instead, from SplitMix64 indexed by position —
//! four 16-bit draws per 64-bit word, in parallel, the same for any number of threads — with
//! its seed taken from the device's generator, so that `Device::seed` still fixes every mask.
//! Elsewhere (a GPU) the device's own generator draws it where the tensor lives.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Distribution, Int, Tensor, TensorData};
use rayon::prelude::*;

/// Configuration of [`Dropout`].
#[derive(Config, Debug)]
pub struct DropoutConfig {
    /// Probability `p` of zeroing a value, in `[0, 1)`.
    pub prob: f64,
}

impl DropoutConfig {
    /// Builds the layer.
    pub fn init(&self) -> Dropout {
        Dropout { prob: self.prob }
    }
}

/// Zeroes each value with probability `p` during training and scales the others by
/// `1 / (1 − p)`; the identity on a device without autodiff (validation, decoding).
#[derive(Module, Debug)]
pub struct Dropout {
    /// Probability `p` of zeroing a value.
    pub prob: f64,
}

impl Dropout {
    /// `input ⊙ mask`, where each mask value is `1 / (1 − p)` with probability `1 − p`, else 0.
    pub fn forward<const D: usize>(&self, input: Tensor<D>) -> Tensor<D> {
        let device = input.device();
        if self.prob == 0.0 || !device.is_autodiff() {
            return input;
        }
        let keep = 1.0 - self.prob;
        let mask = match in_host_memory(&device) {
            true => {
                let values = host_mask(input.shape().num_elements(), keep, seed(&device));
                Tensor::from_data(TensorData::new(values, input.dims()), &device)
            }
            false => input
                .random_like(Distribution::Bernoulli(keep))
                .mul_scalar(1.0 / keep),
        };
        input * mask
    }
}

/// Whether the device's tensors live in the host's memory (the CPU backends), where a mask
/// drawn on the host costs one copy at most.
fn in_host_memory(device: &Device) -> bool {
    let device = device.clone().inner();
    #[allow(deprecated)] // Burn 0.22 deprecates the ndarray and libtorch devices, still served
    let host: &[Device] = &[
        #[cfg(feature = "flex")]
        Device::flex(),
        #[cfg(feature = "ndarray")]
        Device::ndarray(),
        #[cfg(feature = "tch")]
        Device::libtorch(),
    ];
    host.contains(&device)
}

/// A 60-bit seed drawn from the device's generator, in two 30-bit parts: backends whose
/// integers are 32-bit draw below 2³⁰ safely.
fn seed(device: &Device) -> u64 {
    let draws = Tensor::<1, Int>::random([2], Distribution::Uniform(0.0, 2f64.powi(30)), device);
    draws
        .into_data()
        .iter::<i64>()
        .fold(0, |seed, draw| (seed << 30) ^ draw as u64)
}

/// SplitMix64's output for the generator state `state` (Steele, Lea & Flood, 2014): state
/// `seed + n·γ` gives the generator's `n`-th output, so any word of the mask is drawn without
/// the ones before it.
fn splitmix64(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Values per parallel task: large enough that scheduling costs nothing next to drawing.
const CHUNK: usize = 1 << 16;

/// `n` mask values for keeping probability `keep`: word `w` of the mask is SplitMix64's
/// `w`-th output for `seed`, and its four 16-bit parts `u` keep their values when
/// `u < t = round(keep · 2¹⁶)`. The kept values are `2¹⁶ / t`, the inverse of the probability
/// actually drawn (within 2⁻¹⁶ of `keep`), so that the mask's expectation is exactly 1.
pub fn host_mask(n: usize, keep: f64, seed: u64) -> Vec<f32> {
    let threshold = ((keep * 65536.0).round() as u64).clamp(1, 65536);
    let kept = (65536.0 / threshold as f64) as f32;
    let mut mask = vec![0.0; n];
    mask.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(chunk, values)| {
            let first_word = (chunk * CHUNK / 4) as u64;
            for (word, quad) in values.chunks_mut(4).enumerate() {
                let state = seed.wrapping_add(
                    (first_word + word as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15),
                );
                let bits = splitmix64(state);
                for (i, value) in quad.iter_mut().enumerate() {
                    if (bits >> (16 * i)) & 0xffff < threshold {
                        *value = kept;
                    }
                }
            }
        });
    mask
}
