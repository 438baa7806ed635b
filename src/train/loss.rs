//! The loss of paper §5.4: cross-entropy against labels smoothed by ε_ls, over the real
//! (non-`<pad>`) target tokens; and, from the same passes over the logits, what the accuracy
//! and perplexity metrics need.

use burn::tensor::{Int, Tensor};

use crate::model::LabelLogits;
use crate::model::kernels::row_log_sum_exp;

/// What [`smoothed_cross_entropy`] (and [`label_smoothed_cross_entropy`]) computes for one
/// batch.
pub struct SmoothedLoss {
    /// The mean smoothed cross-entropy per real target token, `[1]`: what training minimises.
    pub loss: Tensor<1>,
    /// `[Σ −log p_y, Σ [z_y = maxᵥ zᵥ], n]` over the `n` real target tokens, with no gradient:
    /// perplexity is `exp(Σ −log p_y / n)`, token accuracy the second sum over `n`.
    pub token_sums: Tensor<1>,
}

/// The loss of `logits` `[tokens, V]` against `labels` `[tokens]`:
/// [`smoothed_cross_entropy`] with `z_y` gathered from the logits and `mean_v z_v` averaged
/// over them.
pub fn label_smoothed_cross_entropy(
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    epsilon: f64,
    pad: u32,
) -> SmoothedLoss {
    let [tokens, _] = logits.dims();
    let of_label = logits
        .clone()
        .gather(1, labels.clone().reshape([tokens, 1]))
        .reshape([tokens]);
    let mean = logits.clone().mean_dim(1).reshape([tokens]);
    let parts = LabelLogits {
        logits,
        of_label,
        mean,
    };
    smoothed_cross_entropy(parts, labels, epsilon, pad)
}

/// For a label `y` out of `V` tokens the smoothed target is `q = (1 − ε)·onehot(y) + ε/V`, so
///
/// `−Σᵥ qᵥ log pᵥ = −(1 − ε)·log p_y − ε·(1/V)·Σᵥ log pᵥ`,
///
/// and with `log pᵥ = zᵥ − lse(z)` for the logits `z` (`lse(z) = log Σᵥ exp zᵥ`):
///
/// `= lse(z) − (1 − ε)·z_y − ε·mean(z)`.
///
/// Computed so, neither a `[tokens, V]` target matrix nor the `[tokens, V]` log-probabilities
/// are built: each costs full passes of the logits' size forward and backward. `z_y` and
/// `mean(z)` come in `parts`, where the generator can compute them without the logits
/// ([`Transformer::generate_for_labels`](crate::model::Transformer::generate_for_labels)).
/// The mean runs over the labels that are not `pad`.
///
/// `lse(z)` is [`row_log_sum_exp`]: one pass over the logits each way on flex. The metrics
/// reuse it and take the row's maximum `m`, with `z_y` read from the logits (no gradient
/// flows there): `−log p_y = lse(z) − z_y`, and the model's most likely token is the label
/// when `z_y = m` (a label tied with an earlier token for the maximum counts as right, where
/// an arg-max would take the earlier one). So the metrics cost one reduction over the logits
/// and no other pass, and the logits need not outlive the step.
pub fn smoothed_cross_entropy(
    parts: LabelLogits,
    labels: Tensor<1, Int>,
    epsilon: f64,
    pad: u32,
) -> SmoothedLoss {
    let LabelLogits {
        logits,
        of_label,
        mean,
    } = parts;
    let [tokens, _] = logits.dims();
    let log_sum_exp = row_log_sum_exp(logits.clone());
    let max = logits.clone().detach().max_dim(1);
    let real = labels.clone().not_equal_elem(pad as i64).float();
    let real_tokens = real.clone().sum();

    let logit_of_label = logits
        .detach()
        .gather(1, labels.reshape([tokens, 1]))
        .reshape([tokens]);
    let negative_log_p = log_sum_exp.clone().detach() - logit_of_label.clone();
    let right = logit_of_label.greater_equal(max.reshape([tokens])).float();
    let token_sums = Tensor::cat(
        vec![
            (negative_log_p * real.clone()).sum(),
            (right * real.clone()).sum(),
            real_tokens.clone(),
        ],
        0,
    );

    let per_token = if epsilon > 0.0 {
        log_sum_exp - of_label * (1.0 - epsilon) - mean * epsilon
    } else {
        log_sum_exp - of_label
    };
    SmoothedLoss {
        loss: (per_token * real).sum() / real_tokens,
        token_sums,
    }
}
