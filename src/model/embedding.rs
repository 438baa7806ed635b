//! Token embeddings (paper §3.4).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Embedding, EmbeddingConfig, Initializer};
use burn::tensor::{Device, Int, Tensor};

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
        hidden
            .reshape([batch * len, d_model])
            .matmul(table.transpose())
            .reshape([batch, len, vocab_size])
    }
}
