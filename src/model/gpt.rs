//! GPT (Radford et al., 2018): the decoder without the encoder, a causal language model.
//!
//! Each layer is the encoder's layer — multi-head self-attention, then the feed-forward
//! network, each in its Add & Norm — run under the decoder's causal mask, so that position
//! `t` sees only `0..=t`: the decoder layer less its encoder–decoder attention. The same
//! embeddings, positional encoding and stack as the translation model; the output
//! projection is the embedding table (`logits = h·Eᵀ`, paper §3.4).

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Int, Tensor};
use std::sync::Arc;

use super::attention::KeyValue;
use super::embedding::{LabelLogits, ScaledEmbedding, ScaledEmbeddingConfig};
use super::encoder::{Encoder, EncoderConfig};
use super::layer::{ConfigError, LayerConfig, check_nonzero, check_weight_values};
use super::mask::AttentionMask;
use super::packed::{Packed, Precision};
use super::positional_encoding::{PositionalEncoding, PositionalEncodingConfig};

/// The sizes of a [`Gpt`]. Defaults: the translation model's base sizes (paper table 3),
/// pre-norm as in GPT-2.
#[derive(Config, Debug, PartialEq)]
pub struct GptConfig {
    /// Number of tokens.
    pub vocab_size: usize,
    /// Width of every hidden state. Default: 512.
    #[config(default = 512)]
    pub d_model: usize,
    /// Attention heads per layer; `d_k = d_model / n_heads`. Default: 8.
    #[config(default = 8)]
    pub n_heads: usize,
    /// Inner width of the feed-forward networks. Default: 2048.
    #[config(default = 2048)]
    pub d_ff: usize,
    /// Layers in the stack. Default: 6.
    #[config(default = 6)]
    pub n_layers: usize,
    /// Dropout on embeddings, sub-layer outputs, attention weights and FFN activations.
    /// Default: 0.1.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Longest sequence, in tokens, the positional encoding is computed for. Default: 256.
    #[config(default = 256)]
    pub max_len: usize,
    /// Pre-norm layers (LayerNorm before each sub-layer, and one after the stack), as GPT-2
    /// has them, instead of the paper's post-norm. Default: true.
    #[config(default = true)]
    pub norm_first: bool,
}

impl GptConfig {
    /// Checks that the sizes make a model: nothing zero, `d_model` even and divisible by
    /// `n_heads`, dropout in `[0, 1)`, at most [`MAX_WEIGHT_VALUES`](super::layer::MAX_WEIGHT_VALUES)
    /// weights.
    pub fn validate(&self) -> Result<(), ConfigError> {
        check_nonzero(&[
            ("vocab_size", self.vocab_size),
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
            ("n_layers", self.n_layers),
            ("max_len", self.max_len),
        ])?;
        self.layer().validate()?;
        check_weight_values(self.weight_values())
    }

    /// The number of values in the weight matrices and the positional table (saturating):
    /// per layer `W_Q, W_K, W_V, W_O` and the FFN's `W_1, W_2`; the embedding table, which
    /// is also the output projection.
    pub fn weight_values(&self) -> u128 {
        let [d_model, d_ff, layers, vocab, max_len] = [
            self.d_model,
            self.d_ff,
            self.n_layers,
            self.vocab_size,
            self.max_len,
        ]
        .map(|size| size as u128);
        let mul = |a: u128, b: u128| a.saturating_mul(b);
        let layer = mul(4, mul(d_model, d_model)).saturating_add(mul(2, mul(d_model, d_ff)));
        mul(layers, layer).saturating_add(mul(vocab.saturating_add(max_len), d_model))
    }

    /// The sizes of every layer.
    pub fn layer(&self) -> LayerConfig {
        LayerConfig::new(self.d_model, self.n_heads, self.d_ff)
            .with_dropout(self.dropout)
            .with_norm_first(self.norm_first)
    }

    /// Validates the configuration and builds the model on `device`.
    pub fn init(&self, device: &Device) -> Result<Gpt, ConfigError> {
        self.validate()?;
        Ok(Gpt {
            embedding: ScaledEmbeddingConfig::new(self.vocab_size, self.d_model).init(device),
            positional_encoding: PositionalEncodingConfig::new(self.d_model)
                .with_max_len(self.max_len)
                .with_dropout(self.dropout)
                .init(device),
            stack: EncoderConfig::new(self.layer())
                .with_n_layers(self.n_layers)
                .init(device),
            output_packed: None,
        })
    }
}

/// A decoder-only Transformer: embeddings and positional encoding, a stack of self-attention
/// layers under the causal mask, and the tied output projection.
#[derive(Module, Debug)]
pub struct Gpt {
    /// Token embeddings, `E`; also the output projection.
    pub embedding: ScaledEmbedding,
    /// The sinusoidal positional encoding.
    pub positional_encoding: PositionalEncoding,
    /// The layers: the encoder's, each position attending only to itself and those before.
    pub stack: Encoder,
    /// `Eᵀ` stored once for the steps of generation ([`with_bf16_weights`]); `None`: the
    /// table multiplies as it is. Not saved: made from the weights.
    ///
    /// [`with_bf16_weights`]: Self::with_bf16_weights
    #[module(skip)]
    output_packed: Option<Arc<Packed>>,
}

/// What [`Gpt::step`] keeps between positions: each layer's keys and values so far.
#[derive(Clone, Debug)]
pub struct GptCache {
    /// Per layer, in order; `None` before the first position.
    pub layers: Vec<Option<KeyValue>>,
    /// Positions seen so far.
    pub len: usize,
}

impl Gpt {
    /// Next-token logits `[batch, len, vocab_size]` at every position of `tokens`
    /// `[batch, len]`, all at once: position `t` sees `tokens[..=t]` only. Padding at the end
    /// of a row needs no mask: no earlier position sees it.
    pub fn forward(&self, tokens: Tensor<2, Int>) -> Tensor<3> {
        self.forward_with_attention(tokens).0
    }

    /// [`forward`](Self::forward), also returning each layer's attention weights
    /// `[batch, heads, len, len]`.
    pub fn forward_with_attention(&self, tokens: Tensor<2, Int>) -> (Tensor<3>, Vec<Tensor<4>>) {
        let (hidden, attention) = self.hidden(tokens);
        (self.embedding.logits(hidden), attention)
    }

    /// The last layer's states `[batch, len, d_model]` at every position of `tokens`, before
    /// the output projection, and each layer's attention weights.
    pub fn hidden(&self, tokens: Tensor<2, Int>) -> (Tensor<3>, Vec<Tensor<4>>) {
        let [_, len] = tokens.dims();
        let x = self
            .positional_encoding
            .forward(self.embedding.forward(tokens));
        let causal = AttentionMask::causal(len, &x.device());
        let output = self.stack.forward(x, Some(&causal));
        (output.memory, output.self_attention)
    }

    /// What a loss needs of the output projection for states `hidden` `[tokens, d_model]`
    /// whose next tokens are `labels` `[tokens]` (see [`LabelLogits::new`]).
    pub fn logits_for_labels(&self, hidden: Tensor<2>, labels: Tensor<1, Int>) -> LabelLogits {
        self.embedding.label_logits(hidden, labels)
    }

    /// The cache of incremental generation: no position yet.
    pub fn start(&self) -> GptCache {
        GptCache {
            layers: vec![None; self.stack.layers.len()],
            len: 0,
        }
    }

    /// Next-token logits `[batch, vocab_size]` after `tokens` `[batch]`, the tokens at the
    /// next position: the same as the last position of [`forward`](Self::forward) over the
    /// whole prefix, at the cost of one position.
    pub fn step(&self, tokens: Tensor<1, Int>, cache: &mut GptCache) -> Tensor<2> {
        let [batch] = tokens.dims();
        let x = self.positional_encoding.forward_from(
            self.embedding.forward(tokens.reshape([batch, 1])),
            cache.len,
        );
        let hidden = self.stack.step(x, &mut cache.layers);
        cache.len += 1;
        if let Some(output) = &self.output_packed {
            let [_, _, d_model] = hidden.dims();
            if let Some(logits) = output.project(&hidden.clone().reshape([batch, d_model]), None) {
                return logits;
            }
        }
        let logits = self.embedding.logits(hidden);
        let [_, _, vocab] = logits.dims();
        logits.reshape([batch, vocab])
    }

    /// The model for writing with every product by a weight matrix in bfloat16 ([`bf16`]):
    /// the layers' projections, and the output projection at the steps of
    /// [`step`](Self::step). The weights themselves stay as they are: a rounded copy of each
    /// is made.
    pub fn with_bf16_weights(self) -> Self {
        let output = Packed::transposed(self.embedding.table.weight.val(), Precision::Bf16);
        Self {
            stack: self.stack.with_packed_weights(Precision::Bf16),
            output_packed: Some(output),
            ..self
        }
    }

    /// Longest sequence the model has positions for.
    pub fn max_len(&self) -> usize {
        self.positional_encoding.max_len()
    }
}
