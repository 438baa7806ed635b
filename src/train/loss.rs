//! The loss of paper §5.4: cross-entropy against labels smoothed by ε_ls, over the real
//! (non-`<pad>`) target tokens.

use burn::tensor::{Int, Tensor};

/// For a label `y` out of `V` tokens the smoothed target is `q = (1 − ε)·onehot(y) + ε/V`, so
///
/// `−Σᵥ qᵥ log pᵥ = −(1 − ε)·log p_y − ε·(1/V)·Σᵥ log pᵥ`,
///
/// and with `log pᵥ = zᵥ − lse(z)` for the logits `z` (`lse(z) = log Σᵥ exp zᵥ`):
///
/// `= lse(z) − (1 − ε)·z_y − ε·mean(z)`.
///
/// Computed so, neither a `[tokens, V]` target matrix nor the `[tokens, V]` log-probabilities
/// are built: each costs full passes of the logits' size forward and backward. The mean runs
/// over the labels that are not `pad`.
///
/// `logits` is `[tokens, V]`, `labels` `[tokens]`; returns `[1]`.
pub fn label_smoothed_cross_entropy(
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    epsilon: f64,
    pad: u32,
) -> Tensor<1> {
    let [tokens, _] = logits.dims();
    // lse(z) = m + log Σᵥ exp(zᵥ − m), with m the row's maximum (held constant) so that no
    // exp overflows.
    let max = logits.clone().detach().max_dim(1);
    let log_sum_exp = (logits.clone() - max.clone()).exp().sum_dim(1).log() + max;
    let of_label = logits
        .clone()
        .gather(1, labels.clone().reshape([tokens, 1]));
    let per_token = if epsilon > 0.0 {
        log_sum_exp - of_label * (1.0 - epsilon) - logits.mean_dim(1) * epsilon
    } else {
        log_sum_exp - of_label
    }
    .reshape([tokens]);
    let real = labels.not_equal_elem(pad as i64).float();
    (per_token * real.clone()).sum() / real.sum()
}
