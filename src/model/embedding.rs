//! Token embeddings (paper §3.4).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer};
use burn::tensor::{Device, Int, Tensor};

use super::kernels;

/// Configuration of [`ScaledEmbedding`].
#[derive(Config, Debug)]
pub struct ScaledEmbeddingConfig {
    /// Number of tokens.
    pub vocab_size: usize,
    /// Width of each token's vector.
    pub d_model: usize,
}

impl ScaledEmbeddingConfig {
    /// A table drawn from `N(0, 1/d_model)`.
    pub fn init(&self, device: &Device) -> ScaledEmbedding {
        let std = (self.d_model as f64).powf(-0.5);
        let table = EmbeddingConfig::new(self.vocab_size, self.d_model)
            .with_initializer(Initializer::Normal { mean: 0.0, std })
            .init(device);
        ScaledEmbedding { table }
    }
}

/// A learned vector per token, multiplied by `√d_model`.
///
/// The table is drawn from `N(0, 1/d_model)`, so the scaled embeddings have unit variance,
/// the scale of the positional encoding added to them. The same table can serve as the
/// pre-softmax projection (`logits = h·Eᵀ`) when the vocabulary is shared (paper §3.4).
#[derive(Module, Debug)]
pub struct ScaledEmbedding {
    /// `E`, `[vocab_size, d_model]`.
    pub table: Embedding,
}

impl ScaledEmbedding {
    /// `E[tokens]·√d_model`: `[batch, len]` ids → `[batch, len, d_model]`.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        let [_, d_model] = self.table.weight.dims();
        self.table
            .forward(tokens)
            .mul_scalar((d_model as f64).sqrt())
    }

    /// The tied output projection `h·Eᵀ`: `[batch, len, d_model]` → `[batch, len, vocab_size]`.
    pub fn logits(&self, hidden: Tensor<3>) -> Tensor<3> {
        let [batch, len, d_model] = hidden.dims();
        let table = self.table.weight.val();
        let [vocab_size, _] = table.dims();
        kernels::project(
            hidden.reshape([batch * len, d_model]),
            table.transpose(),
            None,
        )
        .reshape([batch, len, vocab_size])
    }
}

impl ScaledEmbedding {
    /// [`LabelLogits`] of the tied projection for states `hidden` `[tokens, d_model]` whose
    /// next tokens are `labels` `[tokens]`.
    pub fn label_logits(&self, hidden: Tensor<2>, labels: Tensor<1, Int>) -> LabelLogits {
        let [tokens, d_model] = hidden.dims();
        let logits = self.logits(hidden.clone().reshape([1, tokens, d_model]));
        let [_, _, vocab] = logits.dims();
        let rows = self.table.weight.val();
        LabelLogits::new(hidden, logits.reshape([tokens, vocab]), rows, None, labels)
    }
}

/// An output projection's values at labelled positions, for a loss: the logits, each
/// label's logit and the mean logit.
pub struct LabelLogits {
    /// The logits `[tokens, V]`.
    pub logits: Tensor<2>,
    /// `z_y`, the logit of each position's label, `[tokens]`.
    pub of_label: Tensor<1>,
    /// `mean_v z_v`, each position's mean logit, `[tokens]`.
    pub mean: Tensor<1>,
}

impl LabelLogits {
    /// For states `hidden` `[tokens, d_model]` projected to `logits` `[tokens, V]` by rows
    /// `w_v` (`rows`, `[V, d_model]`) and biases `b_v`: `z_v = h·w_v + b_v`, so
    /// `z_y = h·w_y + b_y` and `mean_v z_v = h·mean_v(w_v) + mean_v(b_v)`. Computed so, from
    /// `hidden` and the weights, their gradients need no pass over the `[tokens, V]` logits (a
    /// gather's gradient is a zero-filled `[tokens, V]` scatter, a mean's a `[tokens, V]`
    /// broadcast, and each adds one more sum into the logits' gradient).
    pub fn new(
        hidden: Tensor<2>,
        logits: Tensor<2>,
        rows: Tensor<2>,
        bias: Option<Tensor<1>>,
        labels: Tensor<1, Int>,
    ) -> Self {
        let [tokens, _] = hidden.dims();
        let of_label = (hidden.clone() * rows.clone().select(0, labels.clone())).sum_dim(1);
        let mean = (hidden * rows.mean_dim(0)).sum_dim(1);
        let (of_label, mean) = match bias {
            Some(bias) => (
                of_label + bias.clone().select(0, labels).reshape([tokens, 1]),
                mean + bias.mean().reshape([1, 1]),
            ),
            None => (of_label, mean),
        };
        Self {
            logits,
            of_label: of_label.reshape([tokens]),
            mean: mean.reshape([tokens]),
        }
    }
}
