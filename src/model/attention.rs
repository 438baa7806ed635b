//! Scaled dot-product attention and multi-head attention (paper §3.2).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::softmax;
use burn::tensor::{Device, Int, Tensor};
use std::sync::Arc;

use super::dropout::{Dropout, DropoutConfig};
use super::kernels;
use super::mask::{AttentionMask, BLOCKED_SCORE};
use super::packed::{self, Packed, Precision};

/// What [`scaled_dot_product_attention`] returns.
#[derive(Clone, Debug)]
pub struct AttentionOutput {
    /// The attended values, `[batch, heads, queries, d_k]`.
    pub context: Tensor<4>,
    /// The attention weights `[batch, heads, queries, keys]`, before dropout: each row sums to
    /// 1 over the keys it may see, and is all zeros when every key is blocked.
    pub weights: Tensor<4>,
}

/// `Attention(Q, K, V) = softmax(Q·Kᵀ / √d_k) · V` (paper, eq. 1).
///
/// `query` is `[batch, heads, queries, d_k]`, `key` and `value` are `[batch, heads, keys, d_k]`.
/// Blocked pairs get weight exactly 0. `dropout` is applied to the weights that multiply `V`
/// (training only); the returned weights are the ones before dropout.
pub fn scaled_dot_product_attention(
    query: Tensor<4>,
    key: Tensor<4>,
    value: Tensor<4>,
    mask: Option<&AttentionMask>,
    dropout: &Dropout,
) -> AttentionOutput {
    let [.., d_k] = query.dims();
    // Dividing by √d_k keeps the dot products' variance at 1 for unit-variance q and k,
    // so the softmax does not saturate into vanishing gradients.
    let scores = query
        .matmul(key.swap_dims(2, 3))
        .div_scalar((d_k as f64).sqrt());
    let weights = match mask {
        None => softmax(scores, 3),
        Some(mask) => {
            let blocked = mask.blocked();
            let scores = scores.mask_fill(blocked.clone(), BLOCKED_SCORE);
            // A row whose keys are all blocked came out uniform: it attends to nothing.
            softmax(scores, 3).mask_fill(blocked, 0.0)
        }
    };
    let context = dropout.forward(weights.clone()).matmul(value);
    AttentionOutput { context, weights }
}

/// The context of [`scaled_dot_product_attention`] alone, for decoding: no dropout, no
/// weights returned, so that it may be computed without materialising the weights
/// ([`kernels::attention`]: on flex a pass of this project's own for a step's few queries;
/// elsewhere Burn's fused attention, `burn::tensor::module::attention`, which backends
/// without a kernel of their own run as separate operations). Every query must see at least
/// one key.
///
/// The blocked pairs enter as the mask's additive [`AttentionMask::bias`], the scores the
/// reference gives them, so that both agree to rounding on every backend.
pub fn fused_attention(
    query: Tensor<4>,
    key: Tensor<4>,
    value: Tensor<4>,
    mask: Option<&AttentionMask>,
) -> Tensor<4> {
    kernels::attention(query, key, value, mask.map(AttentionMask::bias))
}

/// Configuration of [`MultiHeadAttention`].
#[derive(Config, Debug)]
pub struct MultiHeadAttentionConfig {
    /// Width of the model's hidden states.
    pub d_model: usize,
    /// Number of heads `h`; each works in `d_k = d_model / h` dimensions.
    pub n_heads: usize,
    /// Dropout on the attention weights. Default: 0.1.
    #[config(default = 0.1)]
    pub dropout: f64,
}

/// `MultiHead(Q, K, V) = Concat(head_1, …, head_h)·W_O`, where
/// `head_i = Attention(Q·W_Q_i, K·W_K_i, V·W_V_i)` (paper §3.2.2).
///
/// The `h` projections of each kind are computed as one `d_model × d_model` matrix whose
/// output is split into `h` slices of `d_k`.
#[derive(Module, Debug)]
pub struct MultiHeadAttention {
    /// `W_Q`, all heads side by side.
    pub query: Linear,
    /// `W_K`, all heads side by side.
    pub key: Linear,
    /// `W_V`, all heads side by side.
    pub value: Linear,
    /// `W_O`, mixing the concatenated heads.
    pub output: Linear,
    /// Dropout on the attention weights.
    pub dropout: Dropout,
    /// Number of heads.
    pub n_heads: usize,
    /// `W_Q`, `W_K`, `W_V` and `W_O` stored once for translating or writing, in that order
    /// ([`with_packed_weights`](MultiHeadAttention::with_packed_weights)); `None`: `gemm`
    /// multiplies by the weights as they are. Not saved: made from them.
    #[module(skip)]
    packed: [Option<Arc<Packed>>; 4],
}

impl MultiHeadAttentionConfig {
    /// Builds the layer with Xavier-uniform (Glorot) initialisation.
    pub fn init(&self, device: &Device) -> MultiHeadAttention {
        let projection = LinearConfig::new(self.d_model, self.d_model)
            .with_initializer(Initializer::XavierUniform { gain: 1.0 });
        MultiHeadAttention {
            query: projection.init(device),
            key: projection.init(device),
            value: projection.init(device),
            output: projection.init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            n_heads: self.n_heads,
            packed: Default::default(),
        }
    }
}

/// Keys and values projected by `W_K` and `W_V` and split into heads, `[batch, heads, len,
/// d_k]` each: what incremental decoding keeps instead of recomputing them at every step.
#[derive(Clone, Debug)]
pub struct KeyValue {
    /// `K·W_K`, per head.
    pub key: Tensor<4>,
    /// `V·W_V`, per head.
    pub value: Tensor<4>,
}

impl KeyValue {
    /// The batch rows `rows` of these positions (all, in order, when `None`), followed by
    /// those of `newer`: beam search's reordering of the cache and the step's append, in one
    /// copy where the backend allows ([`kernels::select_cat`]).
    pub fn select_append(self, rows: Option<Tensor<1, Int>>, newer: KeyValue) -> KeyValue {
        KeyValue {
            key: kernels::select_cat(self.key, rows.clone(), newer.key),
            value: kernels::select_cat(self.value, rows, newer.value),
        }
    }

    /// The same keys and values stored in their own order, once: split into heads they are a
    /// transposed view, which a fused attention kernel copies into order at every call, so a
    /// cache read at every decoding step would be copied at every step. Burn has no explicit
    /// `contiguous`: merging the batch and head dimensions, which the view cannot express,
    /// makes every backend copy.
    pub fn contiguous(self) -> KeyValue {
        let order = |x: Tensor<4>| {
            let [batch, heads, len, d_k] = x.dims();
            x.reshape([batch * heads, len, d_k])
                .reshape([batch, heads, len, d_k])
        };
        KeyValue {
            key: order(self.key),
            value: order(self.value),
        }
    }

    /// The batch rows `rows`, in that order (beam search reorders its hypotheses). Each is
    /// taken as one row of a `[batch, heads · len · d_k]` view, which flex copies whole into
    /// a new buffer (selecting from the 4-D tensor, it first fills the buffer with zeros).
    pub fn select(self, rows: Tensor<1, Int>) -> KeyValue {
        let [kept] = rows.dims();
        let pick = |x: Tensor<4>| {
            let [batch, heads, len, d_k] = x.dims();
            x.reshape([batch, heads * len * d_k])
                .select(0, rows.clone())
                .reshape([kept, heads, len, d_k])
        };
        KeyValue {
            key: pick(self.key),
            value: pick(self.value),
        }
    }

    /// Number of positions.
    pub fn len(&self) -> usize {
        self.key.dims()[2]
    }

    /// Whether there is no position.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The projections' places in [`MultiHeadAttention`]'s packed weights.
const QUERY: usize = 0;
const KEY: usize = 1;
const VALUE: usize = 2;
const OUTPUT: usize = 3;

impl MultiHeadAttention {
    /// The layer with `W_Q`, `W_K`, `W_V` and `W_O` stored once for products in `precision`
    /// ([`Packed::of`]).
    pub fn with_packed_weights(mut self, precision: Precision) -> Self {
        let layers = [&self.query, &self.key, &self.value, &self.output];
        self.packed = layers.map(|layer| Packed::of(layer, precision));
        self
    }

    /// `x·W + b` of the projection `which` (`QUERY`, `KEY`, `VALUE` or `OUTPUT`), by its
    /// packed matrix where [`with_packed_weights`](Self::with_packed_weights) made one.
    fn project<const D: usize>(&self, which: usize, x: Tensor<D>) -> Tensor<D> {
        let layer = [&self.query, &self.key, &self.value, &self.output][which];
        packed::linear_by(layer, self.packed[which].as_deref(), x)
    }

    /// Attends from `query` `[batch, queries, d_model]` over `key` and `value`
    /// `[batch, keys, d_model]`. Self-attention passes the same tensor three times;
    /// encoder–decoder attention passes the decoder state as `query` and the encoder output
    /// as `key` and `value`.
    ///
    /// Returns the context `[batch, queries, d_model]` (after `W_O`) and the weights of every
    /// head `[batch, heads, queries, keys]`.
    pub fn forward(
        &self,
        query: Tensor<3>,
        key: Tensor<3>,
        value: Tensor<3>,
        mask: Option<&AttentionMask>,
    ) -> (Tensor<3>, Tensor<4>) {
        self.attend(query, &self.key_value(key, value), mask)
    }

    /// Projects keys and values `[batch, len, d_model]` into heads, for [`attend`](Self::attend).
    pub fn key_value(&self, key: Tensor<3>, value: Tensor<3>) -> KeyValue {
        KeyValue {
            key: self.split_heads(self.project(KEY, key)),
            value: self.split_heads(self.project(VALUE, value)),
        }
    }

    /// [`forward`](Self::forward) over keys and values already projected.
    pub fn attend(
        &self,
        query: Tensor<3>,
        key_value: &KeyValue,
        mask: Option<&AttentionMask>,
    ) -> (Tensor<3>, Tensor<4>) {
        let heads = scaled_dot_product_attention(
            self.split_heads(self.project(QUERY, query)),
            key_value.key.clone(),
            key_value.value.clone(),
            mask,
            &self.dropout,
        );
        (
            self.project(OUTPUT, merge_heads(heads.context)),
            heads.weights,
        )
    }

    /// The context of [`attend`](Self::attend) alone, through [`fused_attention`]: for
    /// decoding, where neither the weights nor dropout are wanted.
    pub fn context(
        &self,
        query: Tensor<3>,
        key_value: &KeyValue,
        mask: Option<&AttentionMask>,
    ) -> Tensor<3> {
        let context = fused_attention(
            self.split_heads(self.project(QUERY, query)),
            key_value.key.clone(),
            key_value.value.clone(),
            mask,
        );
        self.project(OUTPUT, merge_heads(context))
    }

    /// [`context`](Self::context) for `rows` queries of one position each over the keys and
    /// values of `rows / g` sentences, each sentence's `g` queries consecutive rows (a beam's
    /// hypotheses): a sentence's queries attend together, as `g` positions of one row, so the
    /// encoder's keys and values are read once per sentence instead of being repeated `g`
    /// times. The encoder–decoder attention has no mask between queries, so each row's
    /// context is what it would be alone.
    pub fn grouped_context(
        &self,
        query: Tensor<3>,
        key_value: &KeyValue,
        mask: Option<&AttentionMask>,
    ) -> Tensor<3> {
        let [rows, positions, d_model] = query.dims();
        let [sentences, ..] = key_value.key.dims();
        let grouped = query.reshape([sentences, rows / sentences * positions, d_model]);
        self.context(grouped, key_value, mask)
            .reshape([rows, positions, d_model])
    }

    /// Self-attention of the newest position `x` `[batch, 1, d_model]` over the keys and
    /// values `cache` holds of the earlier positions and its own, which it appends to
    /// `cache`: incremental decoding, O(t) per position instead of recomputing the prefix.
    /// No causal mask is needed: the later positions do not exist yet. `rows`, when given,
    /// are the rows of `cache` that `x`'s rows continue, in order (beam search's reordering,
    /// made in the same copy as the append).
    pub fn cached_self_context(
        &self,
        x: Tensor<3>,
        cache: &mut Option<KeyValue>,
        rows: Option<Tensor<1, Int>>,
    ) -> Tensor<3> {
        let newest = self.key_value(x.clone(), x.clone());
        let keys = match cache.take() {
            Some(earlier) => earlier.select_append(rows, newest),
            None => newest,
        };
        let context = self.context(x, &keys, None);
        *cache = Some(keys);
        context
    }

    /// `[batch, len, d_model]` → `[batch, heads, len, d_k]`.
    fn split_heads(&self, x: Tensor<3>) -> Tensor<4> {
        let [batch, len, d_model] = x.dims();
        x.reshape([batch, len, self.n_heads, d_model / self.n_heads])
            .swap_dims(1, 2)
    }
}

/// `Concat(head_1, …, head_h)`: `[batch, heads, len, d_k]` → `[batch, len, heads · d_k]`, the
/// inverse of [`MultiHeadAttention::split_heads`].
fn merge_heads(x: Tensor<4>) -> Tensor<3> {
    let [batch, heads, len, d_k] = x.dims();
    x.swap_dims(1, 2).reshape([batch, len, heads * d_k])
}
