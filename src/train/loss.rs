//! The loss of paper §5.4: cross-entropy against labels smoothed by ε_ls, over the real
//! (non-`<pad>`) target tokens; and, from the same passes over the logits, what the accuracy
//! and perplexity metrics need.

use burn::tensor::{Int, Tensor};

/// What [`label_smoothed_cross_entropy`] computes for one batch.
pub struct SmoothedLoss {
    /// The mean smoothed cross-entropy per real target token, `[1]`: what training minimises.
    pub loss: Tensor<1>,
    /// `[Σ −log p_y, Σ [z_y = maxᵥ zᵥ], n]` over the `n` real target tokens, with no gradient:
    /// perplexity is `exp(Σ −log p_y / n)`, token accuracy the second sum over `n`.
    pub token_sums: Tensor<1>,
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
/// are built: each costs full passes of the logits' size forward and backward. The mean runs
/// over the labels that are not `pad`.
///
/// The metrics reuse `lse(z)`, `z_y` and the row's maximum `m`: `−log p_y = lse(z) − z_y`, and
/// the model's most likely token is the label when `z_y = m` (a label tied with an earlier
/// token for the maximum counts as right, where an arg-max would take the earlier one). So the
/// metrics cost no further pass over the logits, and the logits need not outlive the step.
///
/// `logits` is `[tokens, V]`, `labels` `[tokens]`.
pub fn label_smoothed_cross_entropy(
    logits: Tensor<2>,
    labels: Tensor<1, Int>,
    epsilon: f64,
    pad: u32,
) -> SmoothedLoss {
    let [tokens, _] = logits.dims();
    // lse(z) = m + log Σᵥ exp(zᵥ − m), with m the row's maximum (held constant) so that no
    // exp overflows.
    let max = logits.clone().detach().max_dim(1);
    let log_sum_exp = (logits.clone() - max.clone()).exp().sum_dim(1).log() + max.clone();
    let of_label = logits
        .clone()
        .gather(1, labels.clone().reshape([tokens, 1]));
    let real = labels.not_equal_elem(pad as i64).float();
    let real_tokens = real.clone().sum();

    let negative_log_p =
        (log_sum_exp.clone().detach() - of_label.clone().detach()).reshape([tokens]);
    let right = of_label
        .clone()
        .detach()
        .greater_equal(max)
        .float()
        .reshape([tokens]);
    let token_sums = Tensor::cat(
        vec![
            (negative_log_p * real.clone()).sum(),
            (right * real.clone()).sum(),
            real_tokens.clone(),
        ],
        0,
    );

    let per_token = if epsilon > 0.0 {
        log_sum_exp - of_label * (1.0 - epsilon) - logits.mean_dim(1) * epsilon
    } else {
        log_sum_exp - of_label
    }
    .reshape([tokens]);
    SmoothedLoss {
        loss: (per_token * real).sum() / real_tokens,
        token_sums,
    }
}
