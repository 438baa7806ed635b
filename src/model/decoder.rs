//! The decoder: a stack of `N` identical layers of masked self-attention, encoder–decoder
//! attention and feed-forward (paper §3.1, figure 1, right).

use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Tensor};

use super::add_norm::AddNorm;
use super::attention::{MultiHeadAttention, MultiHeadAttentionConfig};
use super::feed_forward::FeedForward;
use super::mask::AttentionMask;
use super::transformer::TransformerConfig;

/// One decoder layer: masked self-attention → Add & Norm → encoder–decoder attention over the
/// encoder output → Add & Norm → FFN → Add & Norm.
#[derive(Module, Debug)]
pub struct DecoderLayer {
    /// Each target position attends to itself and the positions before it (causal mask).
    pub self_attn: MultiHeadAttention,
    /// Add & Norm around the self-attention.
    pub self_attn_norm: AddNorm,
    /// Queries from the decoder, keys and values from the encoder output ("memory").
    pub cross_attn: MultiHeadAttention,
    /// Add & Norm around the encoder–decoder attention.
    pub cross_attn_norm: AddNorm,
    /// The position-wise feed-forward network.
    pub feed_forward: FeedForward,
    /// Add & Norm around the feed-forward network.
    pub feed_forward_norm: AddNorm,
}

/// What a decoder layer returns.
#[derive(Clone, Debug)]
pub struct DecoderLayerOutput {
    /// The new hidden states, `[batch, tgt_len, d_model]`.
    pub hidden: Tensor<3>,
    /// Masked self-attention weights, `[batch, heads, tgt_len, tgt_len]`.
    pub self_attention: Tensor<4>,
    /// Encoder–decoder attention weights, `[batch, heads, tgt_len, src_len]`.
    pub cross_attention: Tensor<4>,
}

impl DecoderLayer {
    /// A layer with the sizes of `config`.
    pub fn new(config: &TransformerConfig, device: &Device) -> Self {
        let attention = MultiHeadAttentionConfig::new(config.d_model, config.n_heads)
            .with_dropout(config.dropout);
        let add_norm = || AddNorm::new(config.d_model, config.dropout, config.norm_first, device);
        Self {
            self_attn: attention.init(device),
            self_attn_norm: add_norm(),
            cross_attn: attention.init(device),
            cross_attn_norm: add_norm(),
            feed_forward: FeedForward::new(config.d_model, config.d_ff, config.dropout, device),
            feed_forward_norm: add_norm(),
        }
    }

    /// `x` `[batch, tgt_len, d_model]` attends to itself under `self_mask` (causal and target
    /// padding) and to `memory` `[batch, src_len, d_model]` under `memory_mask` (source
    /// padding).
    pub fn forward(
        &self,
        x: Tensor<3>,
        memory: Tensor<3>,
        self_mask: Option<&AttentionMask>,
        memory_mask: Option<&AttentionMask>,
    ) -> DecoderLayerOutput {
        let input = self.self_attn_norm.sublayer_input(x.clone());
        let (context, self_attention) =
            self.self_attn
                .forward(input.clone(), input.clone(), input, self_mask);
        let x = self.self_attn_norm.forward(x, context);

        let input = self.cross_attn_norm.sublayer_input(x.clone());
        let (context, cross_attention) =
            self.cross_attn
                .forward(input, memory.clone(), memory, memory_mask);
        let x = self.cross_attn_norm.forward(x, context);

        let hidden = self
            .feed_forward
            .forward(self.feed_forward_norm.sublayer_input(x.clone()));
        DecoderLayerOutput {
            hidden: self.feed_forward_norm.forward(x, hidden),
            self_attention,
            cross_attention,
        }
    }
}

/// What the decoder returns.
#[derive(Clone, Debug)]
pub struct DecoderOutput {
    /// The last hidden states, `[batch, tgt_len, d_model]`.
    pub hidden: Tensor<3>,
    /// Masked self-attention weights of each layer, `[batch, heads, tgt_len, tgt_len]`.
    pub self_attention: Vec<Tensor<4>>,
    /// Encoder–decoder attention weights of each layer, `[batch, heads, tgt_len, src_len]`.
    pub cross_attention: Vec<Tensor<4>>,
}

/// The decoder stack.
#[derive(Module, Debug)]
pub struct Decoder {
    /// The `n_decoder_layers` layers, applied in order.
    pub layers: Vec<DecoderLayer>,
    /// Pre-norm only: normalises the last layer's un-normalised residual stream.
    pub final_norm: Option<LayerNorm>,
}

impl Decoder {
    /// `config.n_decoder_layers` layers.
    pub fn new(config: &TransformerConfig, device: &Device) -> Self {
        Self {
            layers: (0..config.n_decoder_layers)
                .map(|_| DecoderLayer::new(config, device))
                .collect(),
            final_norm: config
                .norm_first
                .then(|| LayerNormConfig::new(config.d_model).init(device)),
        }
    }

    /// Decodes the embedded target `x` `[batch, tgt_len, d_model]` against the encoder's
    /// `memory`; see [`DecoderLayer::forward`] for the masks.
    pub fn forward(
        &self,
        x: Tensor<3>,
        memory: Tensor<3>,
        self_mask: Option<&AttentionMask>,
        memory_mask: Option<&AttentionMask>,
    ) -> DecoderOutput {
        let mut x = x;
        let mut self_attention = Vec::with_capacity(self.layers.len());
        let mut cross_attention = Vec::with_capacity(self.layers.len());
        for layer in &self.layers {
            let output = layer.forward(x, memory.clone(), self_mask, memory_mask);
            x = output.hidden;
            self_attention.push(output.self_attention);
            cross_attention.push(output.cross_attention);
        }
        let hidden = match &self.final_norm {
            Some(norm) => norm.forward(x),
            None => x,
        };
        DecoderOutput {
            hidden,
            self_attention,
            cross_attention,
        }
    }
}
