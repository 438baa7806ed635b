//! The decoder: a stack of `N` identical layers of masked self-attention, encoder–decoder
//! attention and feed-forward (paper §3.1, figure 1, right).

use burn::config::Config;
use burn::module::Module;
use burn::nn::LayerNorm;
use burn::tensor::{Device, Int, Tensor};

use super::add_norm::AddNorm;
use super::attention::{KeyValue, MultiHeadAttention};
use super::feed_forward::FeedForward;
use super::layer::{LayerConfig, normalise};
use super::mask::AttentionMask;
use super::packed::Precision;

/// Configuration of a [`Decoder`].
#[derive(Config, Debug)]
pub struct DecoderConfig {
    /// Layers in the stack. Default: 6.
    #[config(default = 6)]
    pub n_layers: usize,
    /// The sizes of each layer.
    pub layer: LayerConfig,
}

impl DecoderConfig {
    /// Builds the stack.
    pub fn init(&self, device: &Device) -> Decoder {
        let layer = &self.layer;
        Decoder {
            layers: (0..self.n_layers)
                .map(|_| DecoderLayer {
                    self_attn: layer.attention().init(device),
                    self_attn_norm: layer.add_norm().init(device),
                    cross_attn: layer.attention().init(device),
                    cross_attn_norm: layer.add_norm().init(device),
                    feed_forward: layer.feed_forward().init(device),
                    feed_forward_norm: layer.add_norm().init(device),
                })
                .collect(),
            final_norm: layer.final_norm(device),
        }
    }
}

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
    /// The layer with its weight matrices stored once for products in `precision`
    /// ([`super::packed::Packed`]).
    pub fn with_packed_weights(self, precision: Precision) -> Self {
        Self {
            self_attn: self.self_attn.with_packed_weights(precision),
            cross_attn: self.cross_attn.with_packed_weights(precision),
            feed_forward: self.feed_forward.with_packed_weights(precision),
            ..self
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
        let memory = self.cross_attn.key_value(memory.clone(), memory);
        let input = self.cross_attn_norm.sublayer_input(x.clone());
        let (context, cross_attention) = self.cross_attn.attend(input, &memory, memory_mask);
        DecoderLayerOutput {
            hidden: self.feed_forward_sublayer(self.cross_attn_norm.forward(x, context)),
            self_attention,
            cross_attention,
        }
    }

    /// What [`step`](Self::step) keeps for this layer: no target position yet, and the
    /// encoder–decoder attention's keys and values of `memory`, projected once.
    pub fn start(&self, memory: Tensor<3>) -> LayerCache {
        LayerCache {
            targets: None,
            memory: self
                .cross_attn
                .key_value(memory.clone(), memory)
                .contiguous(),
        }
    }

    /// The layer for the newest target position only, `x` `[batch, 1, d_model]`: its query
    /// attends to the cached keys and values of the earlier positions (of the cache's rows
    /// `rows`, when given) and its own, which it appends to `cache`
    /// ([`MultiHeadAttention::cached_self_context`]), then to the encoder output of its
    /// sentence, which `batch / sentences` consecutive rows share.
    pub fn step(
        &self,
        x: Tensor<3>,
        cache: &mut LayerCache,
        rows: Option<Tensor<1, Int>>,
        memory_mask: Option<&AttentionMask>,
    ) -> Tensor<3> {
        let input = self.self_attn_norm.sublayer_input(x.clone());
        let context = self
            .self_attn
            .cached_self_context(input, &mut cache.targets, rows);
        let x = self.self_attn_norm.forward(x, context);
        let input = self.cross_attn_norm.sublayer_input(x.clone());
        let context = self
            .cross_attn
            .grouped_context(input, &cache.memory, memory_mask);
        self.feed_forward_sublayer(self.cross_attn_norm.forward(x, context))
    }

    /// The feed-forward sub-layer with its Add & Norm.
    fn feed_forward_sublayer(&self, x: Tensor<3>) -> Tensor<3> {
        let hidden = self
            .feed_forward
            .forward(self.feed_forward_norm.sublayer_input(x.clone()));
        self.feed_forward_norm.forward(x, hidden)
    }
}

/// What one decoder layer keeps between decoding steps.
#[derive(Clone, Debug)]
pub struct LayerCache {
    /// Self-attention keys and values of the target positions decoded so far.
    pub targets: Option<KeyValue>,
    /// Encoder–decoder attention keys and values of the encoder output.
    pub memory: KeyValue,
}

/// What the decoder keeps between decoding steps: one [`LayerCache`] per layer.
#[derive(Clone, Debug)]
pub struct DecoderCache {
    /// Per layer, in order.
    pub layers: Vec<LayerCache>,
    /// Target positions decoded so far.
    pub len: usize,
    /// The rows of every layer's target keys and values that the next step continues, in
    /// order, when a search has reordered them since the last step: applied as that step
    /// appends its position, so that the cache is copied once a step, not twice.
    pub rows: Option<Tensor<1, Int>>,
}

impl DecoderCache {
    /// Keeps the hypotheses `rows` of the batch, in that order, as beam search does when it
    /// extends some hypotheses and drops others. Only the target keys and values move, as
    /// the next step appends its position ([`rows`](Self::rows)): the rows of one sentence
    /// share its encoder output, so its keys and values stay in place.
    pub fn reorder(&mut self, rows: Tensor<1, Int>) {
        self.rows = Some(match self.rows.take() {
            Some(earlier) => earlier.select(0, rows),
            None => rows,
        });
    }

    /// Keeps only the rows `rows` of the batch, in that order, and the encoder keys and
    /// values of the sentences `sentences`: a search drops the rows of the sentences it has
    /// finished, so that later steps compute only the rows still decoding. The rows are
    /// the sentences' in groups of equal size (one each, or a beam's `K`): each group's
    /// queries attend to its sentence's keys and values together
    /// ([`MultiHeadAttention::grouped_context`]).
    pub fn keep(&mut self, rows: Tensor<1, Int>, sentences: Tensor<1, Int>) {
        self.reorder(rows);
        for layer in &mut self.layers {
            layer.memory = layer.memory.clone().select(sentences.clone());
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
    /// The `n_layers` layers, applied in order.
    pub layers: Vec<DecoderLayer>,
    /// Pre-norm only: normalises the last layer's un-normalised residual stream.
    pub final_norm: Option<LayerNorm>,
}

impl Decoder {
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

    /// The cache of incremental decoding against the encoder's `memory`.
    pub fn start(&self, memory: Tensor<3>) -> DecoderCache {
        DecoderCache {
            layers: self
                .layers
                .iter()
                .map(|layer| layer.start(memory.clone()))
                .collect(),
            len: 0,
            rows: None,
        }
    }

    /// Decodes one more embedded position `x` `[batch, 1, d_model]`; see
    /// [`DecoderLayer::step`].
    pub fn step(
        &self,
        x: Tensor<3>,
        cache: &mut DecoderCache,
        memory_mask: Option<&AttentionMask>,
    ) -> Tensor<3> {
        let mut x = x;
        let rows = cache.rows.take();
        for (layer, layer_cache) in self.layers.iter().zip(&mut cache.layers) {
            x = layer.step(x, layer_cache, rows.clone(), memory_mask);
        }
        cache.len += 1;
        normalise(&self.final_norm, x)
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
        DecoderOutput {
            hidden: normalise(&self.final_norm, x),
            self_attention,
            cross_attention,
        }
    }
}
