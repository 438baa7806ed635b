//! The encoder: a stack of `N` identical layers of self-attention and feed-forward
//! (paper §3.1, figure 1, left).

use burn::config::Config;
use burn::module::Module;
use burn::nn::LayerNorm;
use burn::tensor::{Device, Tensor};

use super::add_norm::AddNorm;
use super::attention::{KeyValue, MultiHeadAttention};
use super::feed_forward::FeedForward;
use super::layer::{LayerConfig, normalise};
use super::mask::AttentionMask;
use super::packed::Precision;

/// Configuration of an [`Encoder`].
#[derive(Config, Debug)]
pub struct EncoderConfig {
    /// Layers in the stack. Default: 6.
    #[config(default = 6)]
    pub n_layers: usize,
    /// The sizes of each layer.
    pub layer: LayerConfig,
}

impl EncoderConfig {
    /// Builds the stack.
    pub fn init(&self, device: &Device) -> Encoder {
        let layer = &self.layer;
        Encoder {
            layers: (0..self.n_layers)
                .map(|_| EncoderLayer {
                    self_attn: layer.attention().init(device),
                    self_attn_norm: layer.add_norm().init(device),
                    feed_forward: layer.feed_forward().init(device),
                    feed_forward_norm: layer.add_norm().init(device),
                })
                .collect(),
            final_norm: layer.final_norm(device),
        }
    }
}

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
    /// The layer with its weight matrices stored once for products in `precision`
    /// ([`super::packed::Packed`]).
    pub fn with_packed_weights(self, precision: Precision) -> Self {
        Self {
            self_attn: self.self_attn.with_packed_weights(precision),
            feed_forward: self.feed_forward.with_packed_weights(precision),
            ..self
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
        (self.feed_forward_sublayer(x), weights)
    }

    /// The layer for the newest position only, `x` `[batch, 1, d_model]`, attending to the
    /// earlier positions whose keys and values `cache` holds, and to itself: the layer under
    /// a causal mask, one position at a time (a GPT's incremental generation; see
    /// [`MultiHeadAttention::cached_self_context`]).
    pub fn step(&self, x: Tensor<3>, cache: &mut Option<KeyValue>) -> Tensor<3> {
        let input = self.self_attn_norm.sublayer_input(x.clone());
        let context = self.self_attn.cached_self_context(input, cache, None);
        let x = self.self_attn_norm.forward(x, context);
        self.feed_forward_sublayer(x)
    }

    /// The feed-forward sub-layer with its Add & Norm.
    fn feed_forward_sublayer(&self, x: Tensor<3>) -> Tensor<3> {
        let hidden = self
            .feed_forward
            .forward(self.feed_forward_norm.sublayer_input(x.clone()));
        self.feed_forward_norm.forward(x, hidden)
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
    /// The `n_layers` layers, applied in order.
    pub layers: Vec<EncoderLayer>,
    /// Pre-norm only: normalises the last layer's un-normalised residual stream.
    pub final_norm: Option<LayerNorm>,
}

impl Encoder {
    /// The stack with every layer's weight matrices stored once for products in `precision`
    /// ([`super::packed::Packed`]).
    pub fn with_packed_weights(self, precision: Precision) -> Self {
        Self {
            layers: self
                .layers
                .into_iter()
                .map(|layer| layer.with_packed_weights(precision))
                .collect(),
            ..self
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
        EncoderOutput {
            memory: normalise(&self.final_norm, x),
            self_attention,
        }
    }

    /// One more embedded position `x` `[batch, 1, d_model]` through every layer, each with
    /// its keys and values in `caches`, one per layer ([`EncoderLayer::step`]).
    pub fn step(&self, x: Tensor<3>, caches: &mut [Option<KeyValue>]) -> Tensor<3> {
        let mut x = x;
        for (layer, cache) in self.layers.iter().zip(caches) {
            x = layer.step(x, cache);
        }
        normalise(&self.final_norm, x)
    }
}
