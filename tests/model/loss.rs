//! The label-smoothed cross-entropy of §5.4 equals Burn's own `CrossEntropyLoss` with
//! smoothing and a padding token, in value and in gradient.

use burn::nn::loss::CrossEntropyLossConfig;
use burn::tensor::{Int, Tensor, TensorData};
use transformer_mt::train::loss::label_smoothed_cross_entropy;

use crate::common::{max_abs_diff, normal};

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
        let ours = label_smoothed_cross_entropy(logits.clone(), labels(&device), epsilon, PAD);
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
    let loss = label_smoothed_cross_entropy(logits, labels, 0.1, 7).into_scalar::<f32>();
    assert!((loss - std::f32::consts::LN_2).abs() < 1e-6, "{loss}");
}
