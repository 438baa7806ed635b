//! Masks: which keys a query may not attend to.
//!
//! Two reasons to block a (query, key) pair, combined by logical OR:
//! - **padding**: the key is a `<pad>` token added to make the batch rectangular;
//! - **causality**: in the decoder, position `t` may only see positions `0..=t`, so that
//!   training on a whole target sentence at once cannot peek at the words it must predict.

use std::sync::OnceLock;

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

/// The score given to a blocked (query, key) pair before the softmax. Finite, so that a row
/// with every key blocked gives no `inf - inf = NaN`; low enough that `exp` of it, relative
/// to any real score, is exactly 0 in `f32`.
pub const BLOCKED_SCORE: f32 = -1.0e9;

/// A boolean mask broadcastable to the attention scores `[batch, heads, queries, keys]`;
/// `true` means *blocked*.
#[derive(Clone, Debug)]
pub struct AttentionMask {
    blocked: Tensor<4, Bool>,
    /// [`bias`](Self::bias), made at its first use: a decoding search uses one mask at
    /// every step and layer.
    bias: OnceLock<Tensor<4>>,
}

impl AttentionMask {
    /// Blocks the keys that are padding: `padding` is `[batch, keys]`, `true` at `<pad>`.
    pub fn key_padding(padding: Tensor<2, Bool>) -> Self {
        let [batch, keys] = padding.dims();
        Self::new(padding.reshape([batch, 1, 1, keys]))
    }

    /// Blocks the (query, key) pairs marked in `mask`, `[batch, queries, keys]`.
    pub fn pairs(mask: Tensor<3, Bool>) -> Self {
        let [batch, queries, keys] = mask.dims();
        Self::new(mask.reshape([batch, 1, queries, keys]))
    }

    /// The decoder's causal mask over `len` positions (see [`causal_mask`]).
    pub fn causal(len: usize, device: &Device) -> Self {
        Self::new(causal_mask(len, device).reshape([1, 1, len, len]))
    }

    /// Blocks a pair when either mask blocks it.
    pub fn or(self, other: Self) -> Self {
        let [b1, h1, q1, k1] = self.blocked.dims();
        let [b2, h2, q2, k2] = other.blocked.dims();
        let shape = [b1.max(b2), h1.max(h2), q1.max(q2), k1.max(k2)];
        Self::new(
            self.blocked
                .expand(shape)
                .bool_or(other.blocked.expand(shape)),
        )
    }

    fn new(blocked: Tensor<4, Bool>) -> Self {
        Self {
            blocked,
            bias: OnceLock::new(),
        }
    }

    /// The mask as a tensor of rank 4, broadcastable to `[batch, heads, queries, keys]`.
    pub fn blocked(&self) -> Tensor<4, Bool> {
        self.blocked.clone()
    }

    /// The mask as scores to add before the softmax, of the shape of
    /// [`blocked`](Self::blocked): 0 where a pair may attend, [`BLOCKED_SCORE`] where not.
    pub fn bias(&self) -> Tensor<4> {
        self.bias
            .get_or_init(|| {
                Tensor::<4>::zeros(self.blocked.dims(), &self.blocked.device())
                    .mask_fill(self.blocked.clone(), BLOCKED_SCORE)
            })
            .clone()
    }
}

/// Causal ("subsequent positions") mask `[len, len]`: entry `(t, s)` is `true` (blocked) when
/// `s > t`, the strict upper triangle.
pub fn causal_mask(len: usize, device: &Device) -> Tensor<2, Bool> {
    let blocked: Vec<bool> = (0..len)
        .flat_map(|t| (0..len).map(move |s| s > t))
        .collect();
    Tensor::from_data(TensorData::new(blocked, [len, len]), device)
}

/// Padding mask `[batch, len]` of a batch of token ids: `true` where the id is `pad_id`.
pub fn padding_mask(tokens: Tensor<2, Int>, pad_id: usize) -> Tensor<2, Bool> {
    tokens.equal_elem(pad_id as i64)
}

/// The padding of a batch of sentence pairs, `true` at `<pad>`.
#[derive(Clone, Debug)]
pub struct PaddingMasks {
    /// Source padding, `[batch, src_len]`.
    pub src: Tensor<2, Bool>,
    /// Target padding, `[batch, tgt_len]`.
    pub tgt: Tensor<2, Bool>,
}

impl PaddingMasks {
    /// The masks of padded id batches `src` and `tgt_in`.
    pub fn from_tokens(src: Tensor<2, Int>, tgt_in: Tensor<2, Int>, pad_id: usize) -> Self {
        Self {
            src: padding_mask(src, pad_id),
            tgt: padding_mask(tgt_in, pad_id),
        }
    }

    /// Blocks source padding as keys: the encoder's self-attention and the decoder's
    /// encoder–decoder attention.
    pub fn src_attention(&self) -> AttentionMask {
        AttentionMask::key_padding(self.src.clone())
    }
}
