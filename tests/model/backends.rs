//! The same model, unchanged, gives the same forward pass on every backend compiled in.
#![cfg(any(
    feature = "wgpu",
    feature = "tch",
    all(feature = "ndarray", feature = "flex")
))]

use burn::module::Module;
use burn::tensor::Device;
use transformer_mt::backend::Backend;
use transformer_mt::model::PaddingMasks;

use super::common::{PAD, batch, max_abs_diff, small_config};

/// Builds one model on `reference`, copies it to `other`, and compares their logits.
fn check_agreement(reference: Backend, other: Backend) {
    let reference_device = reference.device().expect("compiled in");
    let other_device = other.device().expect("compiled in");
    let model = small_config().init(&reference_device).expect("valid");
    let logits = |device: &Device| {
        let (src, tgt_in, _) = batch(device);
        let masks = PaddingMasks::from_tokens(src.clone(), tgt_in.clone(), PAD);
        model
            .clone()
            .to_device(device)
            .forward(src, tgt_in, &masks)
            .to_device(&reference_device)
    };
    let diff = max_abs_diff(logits(&reference_device), logits(&other_device));
    assert!(diff < 1e-4, "{other} differs from {reference} by {diff}");
}

#[cfg(all(feature = "ndarray", feature = "flex"))]
#[test]
fn ndarray_and_flex_agree() {
    check_agreement(Backend::Ndarray, Backend::Flex);
}

#[cfg(feature = "wgpu")]
#[test]
fn wgpu_agrees_with_the_cpu() {
    check_agreement(super::common::cpu_backend(), Backend::Wgpu);
}

#[cfg(feature = "tch")]
#[test]
fn tch_agrees_with_the_cpu() {
    check_agreement(super::common::cpu_backend(), Backend::Tch);
}
