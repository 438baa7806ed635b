//! The encoder: a stack of `N` identical layers of self-attention and feed-forward
//! (paper §3.1, figure 1, left).

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Tensor};

use super::add_norm::AddNorm;
use super::attention::{MultiHeadAttention, MultiHeadAttentionConfig};
use super::feed_forward::FeedForward;
use super::mask::AttentionMask;
use super::transformer::TransformerConfig;

/// One encoder layer: multi-head self-attention → Add & Norm → FFN → Add & Norm.
#[derive(Module, Debug)]
pub struct EncoderLayer {
    /// Every source position attends to every (non-padding) source position.
    pub self_attn: MultiHeadAttention,
    /// Add & Norm around the self-attention.
    pub self_attn_norm: AddNorm,
    /// The position-wise feed-forward network.
    pub feed_forward: FeedForward,
    /// Add & Norm around the feed-forward network.
    pub feed_forward_norm: AddNorm,
}

impl EncoderLayer {
    /// A layer with the sizes of `config`.
    pub fn new(config: &TransformerConfig, device: &Device) -> Self {
        let add_norm = || AddNorm::new(config.d_model, config.dropout, config.norm_first, device);
        Self {
            self_attn: MultiHeadAttentionConfig::new(config.d_model, config.n_heads)
                .with_dropout(config.dropout)
                .init(device),
            self_attn_norm: add_norm(),
            feed_forward: FeedForward::new(config.d_model, config.d_ff, config.dropout, device),
            feed_forward_norm: add_norm(),
        }
    }

    /// `x` `[batch, src_len, d_model]` → same shape, plus the self-attention weights
    /// `[batch, heads, src_len, src_len]`.
    pub fn forward(&self, x: Tensor<3>, mask: Option<&AttentionMask>) -> (Tensor<3>, Tensor<4>) {
        let input = self.self_attn_norm.sublayer_input(x.clone());
        let (context, weights) = self
            .self_attn
            .forward(input.clone(), input.clone(), input, mask);
        let x = self.self_attn_norm.forward(x, context);

        let hidden = self
            .feed_forward
            .forward(self.feed_forward_norm.sublayer_input(x.clone()));
        (self.feed_forward_norm.forward(x, hidden), weights)
    }
}

/// What the encoder returns.
#[derive(Clone, Debug)]
pub struct EncoderOutput {
    /// The encoded source, `[batch, src_len, d_model]`: the "memory" the decoder attends to.
    pub memory: Tensor<3>,
    /// The self-attention weights of each layer, `[batch, heads, src_len, src_len]`.
    pub self_attention: Vec<Tensor<4>>,
}

/// The encoder stack.
#[derive(Module, Debug)]
pub struct Encoder {
    /// The `n_encoder_layers` layers, applied in order.
    pub layers: Vec<EncoderLayer>,
    /// Pre-norm only: normalises the last layer's un-normalised residual stream.
    pub final_norm: Option<LayerNorm>,
}

impl Encoder {
    /// `config.n_encoder_layers` layers.
    pub fn new(config: &TransformerConfig, device: &Device) -> Self {
        Self {
            layers: (0..config.n_encoder_layers)
                .map(|_| EncoderLayer::new(config, device))
                .collect(),
            final_norm: config
                .norm_first
                .then(|| LayerNormConfig::new(config.d_model).init(device)),
        }
    }

    /// Encodes the embedded source `x` `[batch, src_len, d_model]`; `mask` blocks padding.
    pub fn forward(&self, x: Tensor<3>, mask: Option<&AttentionMask>) -> EncoderOutput {
        let mut x = x;
        let mut self_attention = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let (hidden, weights) = layer.forward(x, mask);
            x = hidden;
            self_attention.push(weights);
        }
        let memory = match &self.final_norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        EncoderOutput {
            memory,
            self_attention,
        }
    }
}
