//! Dropout: the host-drawn mask against the data pipeline's own SplitMix64 (a separate
//! implementation, drawn word after word), its statistics, and the
//! layer on every backend (the host mask on the CPU ones, the device's generator on wgpu).

use burn::tensor::{Device, Tensor};
use transformer_mt::backend::Backend;
use transformer_mt::data::random::SplitMix64;
use transformer_mt::model::dropout::{DropoutConfig, host_mask};

use super::common::{device, values};

/// The mask's threshold and kept value for keeping probability 0.9: t = round(0.9 · 2¹⁶) =
/// 58982, kept values 2¹⁶ / t.
const THRESHOLD: u64 = 58982;
const KEPT: f32 = (65536.0 / 58982.0) as f32;

/// Whether `count` successes of `n` draws of probability `p` lie within 5 standard deviations
/// of their expectation.
fn plausible(count: usize, n: usize, p: f64) -> bool {
    let (mean, sd) = (n as f64 * p, (n as f64 * p * (1.0 - p)).sqrt());
    (count as f64 - mean).abs() < 5.0 * sd
}

/// Word `w` of the mask is SplitMix64's output number `w + 1` for the seed, and its 16-bit
/// parts from the lowest decide values `4w` to `4w + 3`: checked through the first words and
/// across the boundary of the parallel chunks (65,536 values), on a length that is not a
/// multiple of 4.
#[test]
fn the_host_mask_is_splitmix64_cut_into_16_bit_draws() {
    let n = 3 * 65536 + 7;
    let mask = host_mask(n, 0.9, 42);
    assert_eq!(mask.len(), n);
    let mut generator = SplitMix64::new(42);
    let words: Vec<u64> = (0..n.div_ceil(4)).map(|_| generator.next_u64()).collect();
    for (i, value) in mask.iter().enumerate() {
        let draw = (words[i / 4] >> (16 * (i % 4))) & 0xffff;
        let expected = if draw < THRESHOLD { KEPT } else { 0.0 };
        assert_eq!(*value, expected, "value {i}: draw {draw}");
    }
}

/// About p = 0.1 of the values are zero, the mask's mean is 1, and the same seed gives the
/// same mask whatever the number of threads, another seed another one.
#[test]
fn the_host_mask_drops_p_of_the_values_and_keeps_the_mean() {
    let n = 1_000_003;
    let mask = host_mask(n, 0.9, 7);
    let zeros = mask.iter().filter(|v| **v == 0.0).count();
    let dropped = 1.0 - THRESHOLD as f64 / 65536.0;
    assert!(plausible(zeros, n, dropped), "{zeros} zeros of {n}");
    assert!(mask.iter().all(|v| *v == 0.0 || *v == KEPT));
    let mean = mask.iter().map(|v| *v as f64).sum::<f64>() / n as f64;
    // The mean of n values 0 or 1/q, each 1/q with probability q, has standard deviation
    // √((1 − q) / (q n)).
    let q = 1.0 - dropped;
    assert!(
        (mean - 1.0).abs() < 5.0 * ((1.0 - q) / (q * n as f64)).sqrt(),
        "mean {mean}"
    );

    let one_thread = rayon::ThreadPoolBuilder::new()
        .num_threads(1)
        .build()
        .expect("a thread pool")
        .install(|| host_mask(n, 0.9, 7));
    assert_eq!(one_thread, mask);
    assert_ne!(host_mask(n, 0.9, 8), mask);
}

/// `Dropout(p)` on a training (autodiff) device: every value zeroed or scaled by the inverse of
/// the keeping probability, about p of them zeroed, the same output after the same
/// `Device::seed`, and the gradient of the sum equal to the mask; the identity without
/// autodiff and at p = 0.
fn check_layer(device: &Device) {
    let training = device.clone().autodiff();
    let dropout = DropoutConfig::new(0.1).init();
    let shape = [8, 50, 250];
    let n = 8 * 50 * 250;
    let input = || {
        Tensor::<3>::ones(shape, &training)
            .mul_scalar(2.0)
            .require_grad()
    };

    training.seed(5);
    let x = input();
    let output = dropout.forward(x.clone());
    let mask = values(output.clone().inner().div_scalar(2.0));
    let zeros = mask.iter().filter(|v| **v == 0.0).count();
    assert!(plausible(zeros, n, 0.1), "{zeros} zeros of {n}");
    // The device's generator keeps with probability 0.9 exactly, the host mask with
    // 58982 / 65536; both scale by the inverse.
    for value in mask.iter().filter(|v| **v != 0.0) {
        assert!(
            (value - 1.0 / 0.9).abs() < 1e-3 * (1.0 / 0.9),
            "kept value {value}"
        );
    }
    let gradient = x
        .grad(&output.clone().sum().backward())
        .expect("a gradient");
    assert_eq!(values(gradient), mask, "the gradient is the mask");

    let again = |seed| {
        training.seed(seed);
        values(dropout.forward(input()).inner())
    };
    let first = values(output.inner());
    assert_eq!(again(5), first);
    assert_ne!(again(6), first);

    let plain = Tensor::<3>::ones(shape, device);
    assert_eq!(values(dropout.forward(plain.clone())), values(plain));
    let none = DropoutConfig::new(0.0).init();
    assert_eq!(values(none.forward(input()).inner()), vec![2.0; n]);
}

#[test]
fn dropout_zeroes_p_of_the_values_and_scales_the_rest_on_the_cpu() {
    check_layer(&device());
}

#[test]
fn dropout_behaves_alike_on_every_other_backend() {
    let cpu = super::common::cpu_backend();
    for backend in Backend::runnable() {
        if backend != cpu {
            check_layer(&backend.device().expect("runnable"));
        }
    }
}
