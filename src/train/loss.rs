//! The loss of paper §5.4: cross-entropy against labels smoothed by ε_ls, over the real
//! (non-`<pad>`) target tokens.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};

/// For a label `y` out of `V` tokens the smoothed target is `q = (1 − ε)·onehot(y) + ε/V`, so
///
/// `−Σᵥ qᵥ log pᵥ = −(1 − ε)·log p_y − ε·(1/V)·Σᵥ log pᵥ`:
///
/// the log-probability of the label and the mean log-probability of the row. Computed so,
/// no `[tokens, V]` target matrix is built (a dense one costs a full pass of the logits'
/// size forward and backward). The mean runs over the labels that are not `pad`.
///
/// `logits` is `[tokens, V]`, `labels` `[tokens]`; returns `[1]`.
pub fn label_smoothed_cross_entropy(
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    epsilon: f64,
    pad: u32,
) -> Tensor<1> {
    let [tokens, _] = logits.dims();
    let log_probs = log_softmax(logits, 1);
    let of_label = log_probs
        .clone()
        .gather(1, labels.clone().reshape([tokens, 1]))
        .reshape([tokens]);
    let per_token = if epsilon > 0.0 {
        of_label * (1.0 - epsilon) + log_probs.mean_dim(1).reshape([tokens]) * epsilon
    } else {
        of_label
    };
    let real = labels.not_equal_elem(pad as i64).float();
    (per_token * real.clone()).sum().neg() / real.sum()
}
