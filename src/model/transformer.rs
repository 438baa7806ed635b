//! The encoder–decoder model (paper §3, figure 1) and its configuration.

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use std::sync::Arc;

use burn::tensor::{Device, Int, Tensor};

use super::decoder::{Decoder, DecoderCache, DecoderConfig, DecoderOutput};
use super::embedding::{LabelLogits, ScaledEmbedding, ScaledEmbeddingConfig};
use super::encoder::{Encoder, EncoderConfig, EncoderOutput};
use super::kernels;
pub use super::layer::{ConfigError, MAX_WEIGHT_VALUES};
use super::layer::{LayerConfig, check_nonzero, check_weight_values};
use super::mask::{AttentionMask, PaddingMasks};
use super::packed::{Packed, Precision};
use super::positional_encoding::{PositionalEncoding, PositionalEncodingConfig};

/// The sizes of a [`Transformer`]. Defaults are the paper's base model (table 3, §3.4).
///
/// A run's configuration file holds this in its `model` section, without the three sizes
/// that its data decides: the vocabulary sizes (the tokenizer's) and `max_len`
/// (`data.max_len`).
#[derive(Config, Debug, PartialEq)]
pub struct TransformerConfig {
    /// Number of source tokens (the shared vocabulary's size when `tie_embeddings`).
    pub src_vocab_size: usize,
    /// Number of target tokens.
    pub tgt_vocab_size: usize,
    /// Width of every hidden state. Default: 512.
    #[config(default = 512)]
    pub d_model: usize,
    /// Attention heads per attention layer; `d_k = d_model / n_heads`. Default: 8.
    #[config(default = 8)]
    pub n_heads: usize,
    /// Inner width of the feed-forward networks. Default: 2048.
    #[config(default = 2048)]
    pub d_ff: usize,
    /// Layers in the encoder stack. Default: 6.
    #[config(default = 6)]
    pub n_encoder_layers: usize,
    /// Layers in the decoder stack. Default: 6.
    #[config(default = 6)]
    pub n_decoder_layers: usize,
    /// Dropout on embeddings, sub-layer outputs, attention weights and FFN activations.
    /// Default: 0.1.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Longest sequence, in tokens, the positional encoding is computed for. Default: 256.
    #[config(default = 256)]
    pub max_len: usize,
    /// Pre-norm layers (LayerNorm before each sub-layer) instead of the paper's post-norm.
    /// Default: false.
    #[config(default = false)]
    pub norm_first: bool,
    /// One embedding matrix for source tokens, target tokens and the output projection
    /// (paper §3.4); needs one shared vocabulary. Default: true.
    #[config(default = true)]
    pub tie_embeddings: bool,
}

impl TransformerConfig {
    /// Checks that the sizes make a model: nothing zero, `d_model` even and divisible by
    /// `n_heads`, dropout in `[0, 1)`, equal vocabularies when the embeddings are tied.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let error = |field, problem: String| Err(ConfigError { field, problem });
        check_nonzero(&[
            ("src_vocab_size", self.src_vocab_size),
            ("tgt_vocab_size", self.tgt_vocab_size),
            ("d_model", self.d_model),
            ("n_heads", self.n_heads),
            ("d_ff", self.d_ff),
            ("n_encoder_layers", self.n_encoder_layers),
            ("n_decoder_layers", self.n_decoder_layers),
            ("max_len", self.max_len),
        ])?;
        self.layer().validate()?;
        if self.tie_embeddings && self.src_vocab_size != self.tgt_vocab_size {
            return error(
                "tie_embeddings",
                format!(
                    "needs one shared vocabulary, but src_vocab_size is {} and tgt_vocab_size is {}",
                    self.src_vocab_size, self.tgt_vocab_size
                ),
            );
        }
        check_weight_values(self.weight_values())
    }

    /// The number of values in the weight matrices and the positional table, the parameter
    /// count up to biases and norms; saturating, so that absurd sizes compare as large
    /// instead of overflowing.
    pub fn weight_values(&self) -> u128 {
        let [d_model, d_ff, encoder, decoder, src, tgt, max_len] = [
            self.d_model,
            self.d_ff,
            self.n_encoder_layers,
            self.n_decoder_layers,
            self.src_vocab_size,
            self.tgt_vocab_size,
            self.max_len,
        ]
        .map(|size| size as u128);
        let mul = |a: u128, b: u128| a.saturating_mul(b);
        // Per layer: W_Q, W_K, W_V, W_O (4·d_model²) per attention, and W_1, W_2 of the FFN.
        let attention = mul(4, mul(d_model, d_model));
        let ffn = mul(2, mul(d_model, d_ff));
        let vocabularies = if self.tie_embeddings {
            src
        } else {
            src.saturating_add(mul(2, tgt))
        };
        [
            mul(encoder, attention.saturating_add(ffn)),
            mul(decoder, mul(2, attention).saturating_add(ffn)),
            mul(vocabularies.saturating_add(max_len), d_model),
        ]
        .into_iter()
        .fold(0, u128::saturating_add)
    }

    /// Validates the configuration and builds the model on `device`.
    pub fn init(&self, device: &Device) -> Result<Transformer, ConfigError> {
        self.validate()?;
        let src_embedding =
            ScaledEmbeddingConfig::new(self.src_vocab_size, self.d_model).init(device);
        let (tgt_embedding, generator) = if self.tie_embeddings {
            (None, None)
        } else {
            let generator = LinearConfig::new(self.d_model, self.tgt_vocab_size)
                .with_initializer(Initializer::XavierUniform { gain: 1.0 })
                .init(device);
            let embedding = ScaledEmbeddingConfig::new(self.tgt_vocab_size, self.d_model);
            (Some(embedding.init(device)), Some(generator))
        };
        Ok(Transformer {
            src_embedding,
            tgt_embedding,
            positional_encoding: PositionalEncodingConfig::new(self.d_model)
                .with_max_len(self.max_len)
                .with_dropout(self.dropout)
                .init(device),
            encoder: self.encoder().init(device),
            decoder: self.decoder().init(device),
            generator,
            generator_packed: None,
        })
    }

    /// The sizes of every layer of both stacks.
    pub fn layer(&self) -> LayerConfig {
        LayerConfig::new(self.d_model, self.n_heads, self.d_ff)
            .with_dropout(self.dropout)
            .with_norm_first(self.norm_first)
    }

    /// The encoder stack's configuration.
    pub fn encoder(&self) -> EncoderConfig {
        EncoderConfig::new(self.layer()).with_n_layers(self.n_encoder_layers)
    }

    /// The decoder stack's configuration.
    pub fn decoder(&self) -> DecoderConfig {
        DecoderConfig::new(self.layer()).with_n_layers(self.n_decoder_layers)
    }
}

/// The attention weights of one forward pass, per layer, each `[batch, heads, queries, keys]`.
#[derive(Clone, Debug)]
pub struct AttentionWeights {
    /// Encoder self-attention, `[batch, heads, src_len, src_len]` per encoder layer.
    pub encoder_self: Vec<Tensor<4>>,
    /// Decoder masked self-attention, `[batch, heads, tgt_len, tgt_len]` per decoder layer.
    pub decoder_self: Vec<Tensor<4>>,
    /// Encoder–decoder attention, `[batch, heads, tgt_len, src_len]` per decoder layer.
    pub decoder_cross: Vec<Tensor<4>>,
}

/// What incremental decoding keeps between steps ([`Transformer::decode_step`]).
#[derive(Clone, Debug)]
pub struct DecodingState {
    /// The decoder's keys and values.
    pub cache: DecoderCache,
    /// The generator `h·W + b` as a step multiplies by it.
    generator: Generator,
}

/// The generator `h·W + b` as a decoding step multiplies by it.
#[derive(Clone, Debug)]
struct Generator {
    /// `W` stored once ([`Transformer::with_packed_weights`]), where the model has it.
    packed: Option<Arc<Packed>>,
    /// `W` `[d_model, tgt_vocab_size]` for where the packed form does not multiply (another
    /// backend, a processor without AVX-512); `None` where it always does (bfloat16).
    weight: Option<Tensor<2>>,
    /// `b`, where the generator has one.
    bias: Option<Tensor<1>>,
}

impl DecodingState {
    /// Keeps the hypotheses `rows` of the batch, in that order ([`DecoderCache::reorder`]).
    pub fn reorder(&mut self, rows: Tensor<1, Int>) {
        self.cache.reorder(rows);
    }

    /// Keeps only the rows `rows` of the batch, in that order, and the encoder output of the
    /// sentences `sentences` ([`DecoderCache::keep`]).
    pub fn keep(&mut self, rows: Tensor<1, Int>, sentences: Tensor<1, Int>) {
        self.cache.keep(rows, sentences);
    }
}

/// The Transformer: embeddings and positional encoding, encoder, decoder, and the generator
/// that turns the decoder's last hidden states into next-token logits.
#[derive(Module, Debug)]
pub struct Transformer {
    /// Source token embeddings; also the target's and the generator's when tied.
    pub src_embedding: ScaledEmbedding,
    /// Target token embeddings; `None` when tied to the source's.
    pub tgt_embedding: Option<ScaledEmbedding>,
    /// The sinusoidal positional encoding, shared by both sides.
    pub positional_encoding: PositionalEncoding,
    /// The encoder stack.
    pub encoder: Encoder,
    /// The decoder stack.
    pub decoder: Decoder,
    /// The pre-softmax projection to the target vocabulary; `None` when tied (`h·Eᵀ`).
    pub generator: Option<Linear>,
    /// The generator's `W` stored once for decoding steps
    /// ([`with_packed_weights`](Self::with_packed_weights)); `None`: `gemm` multiplies by
    /// `W` as it is. Not saved: made from the weights.
    #[module(skip)]
    generator_packed: Option<Arc<Packed>>,
}

impl Transformer {
    /// Next-token logits `[batch, tgt_len, tgt_vocab_size]` for every target position, all at
    /// once ("teacher forcing"): position `t` sees the source and `tgt_in[..=t]`.
    ///
    /// `src` is `[batch, src_len]`, `tgt_in` is `[batch, tgt_len]` (the target shifted right:
    /// `<s>` then the sentence), `masks` marks their padding.
    pub fn forward(
        &self,
        src: Tensor<2, Int>,
        tgt_in: Tensor<2, Int>,
        masks: &PaddingMasks,
    ) -> Tensor<3> {
        self.forward_with_attention(src, tgt_in, masks).0
    }

    /// [`forward`](Self::forward), also returning the attention weights of every layer and
    /// head.
    pub fn forward_with_attention(
        &self,
        src: Tensor<2, Int>,
        tgt_in: Tensor<2, Int>,
        masks: &PaddingMasks,
    ) -> (Tensor<3>, AttentionWeights) {
        let encoded = self.encode(src, masks);
        let decoded = self.decode(tgt_in, encoded.memory, masks);
        let weights = AttentionWeights {
            encoder_self: encoded.self_attention,
            decoder_self: decoded.self_attention,
            decoder_cross: decoded.cross_attention,
        };
        (self.generate(decoded.hidden), weights)
    }

    /// Runs the encoder over `src` `[batch, src_len]`.
    pub fn encode(&self, src: Tensor<2, Int>, masks: &PaddingMasks) -> EncoderOutput {
        let x = self
            .positional_encoding
            .forward(self.src_embedding.forward(src));
        self.encoder.forward(x, Some(&masks.src_attention()))
    }

    /// Runs the decoder over `tgt_in` `[batch, tgt_len]` against the encoder's `memory`.
    pub fn decode(
        &self,
        tgt_in: Tensor<2, Int>,
        memory: Tensor<3>,
        masks: &PaddingMasks,
    ) -> DecoderOutput {
        let [_, tgt_len] = tgt_in.dims();
        let x = self
            .positional_encoding
            .forward(self.tgt_embedding().forward(tgt_in));
        let self_mask = AttentionMask::causal(tgt_len, &x.device())
            .or(AttentionMask::key_padding(masks.tgt.clone()));
        self.decoder
            .forward(x, memory, Some(&self_mask), Some(&masks.src_attention()))
    }

    /// The state of incremental decoding against the encoder output `memory`
    /// `[batch, src_len, d_model]`: the encoder–decoder keys and values of every layer,
    /// computed once, no target position yet, and the generator laid out for one position.
    pub fn start_decoding(&self, memory: Tensor<3>) -> DecodingState {
        let bias = self
            .generator
            .as_ref()
            .and_then(|linear| linear.bias.as_ref().map(|bias| bias.val()));
        let weight = match (self.generator_packed.as_deref(), &self.generator) {
            (Some(Packed::Bf16(_)), _) => None,
            (_, Some(linear)) => Some(linear.weight.val()),
            // `Eᵀ` stored in its own order. As a transposed view of the table, the matrix
            // product would copy it into the order its kernel reads at every step (the whole
            // `vocab × d_model` table, the largest matrix of a step); a search copies it once.
            (_, None) => {
                let table = self.src_embedding.table.weight.val();
                let [vocab, d_model] = table.dims();
                let stored = table.transpose().reshape([d_model * vocab]);
                Some(stored.reshape([d_model, vocab]))
            }
        };
        DecodingState {
            cache: self.decoder.start(memory),
            generator: Generator {
                packed: self.generator_packed.clone(),
                weight,
                bias,
            },
        }
    }

    /// Next-token logits `[batch, tgt_vocab_size]` after `tokens` `[batch]`, the tokens at the
    /// next target position (`<s>` first): the same as the last position of
    /// [`decode`](Self::decode) over the whole prefix, at the cost of one position.
    /// `memory_mask` is the source padding ([`PaddingMasks::src_attention`]).
    pub fn decode_step(
        &self,
        tokens: Tensor<1, Int>,
        state: &mut DecodingState,
        memory_mask: &AttentionMask,
    ) -> Tensor<2> {
        let [batch] = tokens.dims();
        let x = self.positional_encoding.forward_from(
            self.tgt_embedding().forward(tokens.reshape([batch, 1])),
            state.cache.len,
        );
        let hidden = self.decoder.step(x, &mut state.cache, Some(memory_mask));
        let [_, _, d_model] = hidden.dims();
        let hidden = hidden.reshape([batch, d_model]);
        let Generator {
            packed,
            weight,
            bias,
        } = &state.generator;
        packed
            .as_ref()
            .and_then(|packed| packed.project(&hidden, bias.clone()))
            .unwrap_or_else(|| {
                let weight = weight
                    .clone()
                    .expect("W is kept unless bfloat16, which always multiplies");
                kernels::project(hidden, weight, bias.clone())
            })
    }

    /// The model with its weight matrices stored once for the products of translating in
    /// `precision` ([`Packed`]): the encoder's and the decoder's projections, and the
    /// generator at the steps of incremental decoding ([`decode_step`](Self::decode_step); the
    /// whole-prefix [`generate`](Self::generate) multiplies as trained). In float32 these are
    /// `gemm`'s products without `gemm` packing the matrices at every product; in bfloat16
    /// rounded copies ([`super::bf16`]). The weights themselves stay as they are.
    pub fn with_packed_weights(self, precision: Precision) -> Self {
        let generator_packed = match &self.generator {
            Some(linear) => Packed::of(linear, precision),
            None => Some(Packed::transposed(
                self.src_embedding.table.weight.val(),
                precision,
            )),
        };
        Self {
            encoder: self.encoder.with_packed_weights(precision),
            decoder: self.decoder.with_packed_weights(precision),
            generator_packed,
            ..self
        }
    }

    /// [`with_packed_weights`](Self::with_packed_weights) in bfloat16.
    pub fn with_bf16_weights(self) -> Self {
        self.with_packed_weights(Precision::Bf16)
    }

    /// The generator: logits `[batch, len, tgt_vocab_size]` from decoder states
    /// `[batch, len, d_model]`.
    pub fn generate(&self, hidden: Tensor<3>) -> Tensor<3> {
        match &self.generator {
            Some(linear) => linear.forward(hidden),
            None => self.src_embedding.logits(hidden),
        }
    }

    /// What a loss needs of the generator for decoder states `hidden` `[tokens, d_model]`
    /// whose next tokens are `labels` `[tokens]`: the logits `[tokens, tgt_vocab_size]`, and
    /// each label's logit and the mean logit, `[tokens]` each ([`LabelLogits::new`], with the
    /// generator's rows and biases, `E` when tied).
    pub fn generate_for_labels(&self, hidden: Tensor<2>, labels: Tensor<1, Int>) -> LabelLogits {
        let [tokens, d_model] = hidden.dims();
        let logits = self.generate(hidden.clone().reshape([1, tokens, d_model]));
        let [_, _, vocab] = logits.dims();
        let (rows, bias) = match &self.generator {
            Some(linear) => (
                linear.weight.val().transpose(),
                linear.bias.as_ref().map(|bias| bias.val()),
            ),
            None => (self.src_embedding.table.weight.val(), None),
        };
        LabelLogits::new(hidden, logits.reshape([tokens, vocab]), rows, bias, labels)
    }

    /// The same model with positions `0..max_len` encoded, for sequences longer than those it
    /// was built for: no weight changes, only the constant sinusoid table.
    pub fn with_max_len(mut self, max_len: usize) -> Self {
        self.positional_encoding = self.positional_encoding.with_max_len(max_len);
        self
    }

    /// Longest sequence the model has positions for.
    pub fn max_len(&self) -> usize {
        self.positional_encoding.max_len()
    }

    fn tgt_embedding(&self) -> &ScaledEmbedding {
        self.tgt_embedding.as_ref().unwrap_or(&self.src_embedding)
    }
}
