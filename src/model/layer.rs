//! The sizes every encoder and decoder layer shares, and the sub-layers they make.

use burn::config::Config;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::Device;

use super::add_norm::AddNormConfig;
use super::attention::MultiHeadAttentionConfig;
use super::feed_forward::FeedForwardConfig;

/// The sizes of one layer of either stack.
#[derive(Config, Debug)]
pub struct LayerConfig {
    /// Width of the hidden states that flow through the layer.
    pub d_model: usize,
    /// Heads of each of its attention sub-layers.
    pub n_heads: usize,
    /// Inner width of its feed-forward sub-layer.
    pub d_ff: usize,
    /// Dropout of its sub-layers. Default: 0.1.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Normalise before each sub-layer instead of after the residual sum. Default: false.
    #[config(default = false)]
    pub norm_first: bool,
}

impl LayerConfig {
    /// An attention sub-layer.
    pub fn attention(&self) -> MultiHeadAttentionConfig {
        MultiHeadAttentionConfig::new(self.d_model, self.n_heads).with_dropout(self.dropout)
    }

    /// The feed-forward sub-layer.
    pub fn feed_forward(&self) -> FeedForwardConfig {
        FeedForwardConfig::new(self.d_model, self.d_ff).with_dropout(self.dropout)
    }

    /// The Add & Norm around a sub-layer.
    pub fn add_norm(&self) -> AddNormConfig {
        AddNormConfig::new(self.d_model)
            .with_dropout(self.dropout)
            .with_norm_first(self.norm_first)
    }

    /// The LayerNorm after the last layer of a pre-norm stack, whose residual stream no
    /// sub-layer normalised; `None` for post-norm.
    pub fn final_norm(&self, device: &Device) -> Option<LayerNorm> {
        self.norm_first
            .then(|| LayerNormConfig::new(self.d_model).init(device))
    }
}
