//! Masks: which keys a query may not attend to.
//!
//! Two reasons to block a (query, key) pair, combined by logical OR:
//! - **padding**: the key is a `<pad>` token added to make the batch rectangular;
//! - **causality**: in the decoder, position `t` may only see positions `0..=t`, so that
//!   training on a whole target sentence at once cannot peek at the words it must predict.

use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

/// A boolean mask broadcastable to the attention scores `[batch, heads, queries, keys]`;
/// `true` means *blocked*.
#[derive(Clone, Debug)]
pub struct AttentionMask {
    blocked: Tensor<4, Bool>,
}

impl AttentionMask {
    /// Blocks the keys that are padding: `padding` is `[batch, keys]`, `true` at `<pad>`.
    pub fn key_padding(padding: Tensor<2, Bool>) -> Self {
        let [batch, keys] = padding.dims();
        Self {
            blocked: padding.reshape([batch, 1, 1, keys]),
        }
    }

    /// Blocks the (query, key) pairs marked in `mask`, `[batch, queries, keys]`.
    pub fn pairs(mask: Tensor<3, Bool>) -> Self {
        let [batch, queries, keys] = mask.dims();
        Self {
            blocked: mask.reshape([batch, 1, queries, keys]),
        }
    }

    /// The decoder's causal mask over `len` positions (see [`causal_mask`]).
    pub fn causal(len: usize, device: &Device) -> Self {
        Self {
            blocked: causal_mask(len, device).reshape([1, 1, len, len]),
        }
    }

    /// Blocks a pair when either mask blocks it.
    pub fn or(self, other: Self) -> Self {
        let [b1, h1, q1, k1] = self.blocked.dims();
        let [b2, h2, q2, k2] = other.blocked.dims();
        let shape = [b1.max(b2), h1.max(h2), q1.max(q2), k1.max(k2)];
        Self {
            blocked: self
                .blocked
                .expand(shape)
                .bool_or(other.blocked.expand(shape)),
        }
    }

    /// The mask as a tensor of rank 4, broadcastable to `[batch, heads, queries, keys]`.
    pub fn blocked(&self) -> Tensor<4, Bool> {
        self.blocked.clone()
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
