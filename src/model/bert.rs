//! BERT (Devlin et al., 2019): the encoder without the decoder, trained to recover masked
//! tokens.
//!
//! The stack is the translation model's encoder — every position attends to every other
//! (no causal mask), padding blocked — over the same embeddings and positional encoding. The
//! masked-LM head is BERT's: a dense layer with GELU and LayerNorm, then the embedding table
//! as the output projection (`logits = LayerNorm(GELU(h·W + b))·Eᵀ`). `[CLS]` and `[SEP]`
//! are the vocabulary's `<s>` and `</s>`, as in RoBERTa.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Gelu, LayerNorm, LayerNormConfig, Linear, LinearConfig};
use burn::tensor::{Bool, Device, Int, Tensor};

use super::embedding::{LabelLogits, ScaledEmbedding, ScaledEmbeddingConfig};
use super::encoder::{Encoder, EncoderConfig};
use super::gpt::GptConfig;
use super::layer::ConfigError;
use super::mask::AttentionMask;
use super::positional_encoding::{PositionalEncoding, PositionalEncodingConfig};

/// The sizes of a [`Bert`]. Defaults: the translation model's base sizes (paper table 3),
/// post-norm as in BERT.
#[derive(Config, Debug, PartialEq)]
pub struct BertConfig {
    /// Number of tokens, `[MASK]` included.
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
    /// Pre-norm layers instead of BERT's post-norm. Default: false.
    #[config(default = false)]
    pub norm_first: bool,
}

impl BertConfig {
    /// The same sizes as a one-stack [`GptConfig`]: the checks and the layers are that
    /// stack's.
    fn stack(&self) -> GptConfig {
        GptConfig::new(self.vocab_size)
            .with_d_model(self.d_model)
            .with_n_heads(self.n_heads)
            .with_d_ff(self.d_ff)
            .with_n_layers(self.n_layers)
            .with_dropout(self.dropout)
            .with_max_len(self.max_len)
            .with_norm_first(self.norm_first)
    }

    /// Checks that the sizes make a model (see [`GptConfig::validate`]).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.stack().validate()
    }

    /// Validates the configuration and builds the model on `device`.
    pub fn init(&self, device: &Device) -> Result<Bert, ConfigError> {
        self.validate()?;
        Ok(Bert {
            embedding: ScaledEmbeddingConfig::new(self.vocab_size, self.d_model).init(device),
            positional_encoding: PositionalEncodingConfig::new(self.d_model)
                .with_max_len(self.max_len)
                .with_dropout(self.dropout)
                .init(device),
            stack: EncoderConfig::new(self.stack().layer())
                .with_n_layers(self.n_layers)
                .init(device),
            head_dense: LinearConfig::new(self.d_model, self.d_model).init(device),
            head_activation: Gelu::new(),
            head_norm: LayerNormConfig::new(self.d_model).init(device),
        })
    }
}

/// An encoder-only Transformer with BERT's masked-LM head.
#[derive(Module, Debug)]
pub struct Bert {
    /// Token embeddings, `E`; also the output projection.
    pub embedding: ScaledEmbedding,
    /// The sinusoidal positional encoding.
    pub positional_encoding: PositionalEncoding,
    /// The layers: the encoder's, every position attending to every real position.
    pub stack: Encoder,
    /// The head's dense layer, `d_model → d_model`.
    pub head_dense: Linear,
    /// The head's activation.
    pub head_activation: Gelu,
    /// The head's LayerNorm, before the tied projection.
    pub head_norm: LayerNorm,
}

impl Bert {
    /// Token logits `[batch, len, vocab_size]` at every position of `tokens` `[batch, len]`,
    /// `padding` `[batch, len]` `true` at the padding, which no position attends to.
    pub fn forward(&self, tokens: Tensor<2, Int>, padding: Tensor<2, Bool>) -> Tensor<3> {
        let (hidden, _) = self.hidden(tokens, padding);
        self.embedding.logits(self.head(hidden))
    }

    /// The last layer's states `[batch, len, d_model]`, before the head, and each layer's
    /// attention weights `[batch, heads, len, len]`.
    pub fn hidden(
        &self,
        tokens: Tensor<2, Int>,
        padding: Tensor<2, Bool>,
    ) -> (Tensor<3>, Vec<Tensor<4>>) {
        let x = self
            .positional_encoding
            .forward(self.embedding.forward(tokens));
        let mask = AttentionMask::key_padding(padding);
        let output = self.stack.forward(x, Some(&mask));
        (output.memory, output.self_attention)
    }

    /// What a loss needs of the head for states `hidden` `[tokens, d_model]` whose tokens are
    /// `labels` `[tokens]` (see [`LabelLogits::new`]).
    pub fn logits_for_labels(&self, hidden: Tensor<2>, labels: Tensor<1, Int>) -> LabelLogits {
        let [tokens, d_model] = hidden.dims();
        let transformed = self
            .head(hidden.reshape([1, tokens, d_model]))
            .reshape([tokens, d_model]);
        self.embedding.label_logits(transformed, labels)
    }

    /// `LayerNorm(GELU(h·W + b))`.
    fn head(&self, hidden: Tensor<3>) -> Tensor<3> {
        self.head_norm.forward(
            self.head_activation
                .forward(self.head_dense.forward(hidden)),
        )
    }

    /// Longest sequence the model has positions for.
    pub fn max_len(&self) -> usize {
        self.positional_encoding.max_len()
    }
}
