//! Position-wise feed-forward network (paper §3.3).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use std::sync::Arc;

use super::bf16::{self, Bf16Matrix};
use super::panels::{self, MAX_PACKED_INPUT, PackedMatrix};

use super::dropout::{Dropout, DropoutConfig};

/// Configuration of [`FeedForward`].
#[derive(Config, Debug)]
pub struct FeedForwardConfig {
    /// Width of the model's hidden states.
    pub d_model: usize,
    /// Inner width.
    pub d_ff: usize,
    /// Dropout on the hidden activations. Default: 0.1.
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl FeedForwardConfig {
    /// Builds the layer with Xavier-uniform (Glorot) initialisation.
    pub fn init(&self, device: &Device) -> FeedForward {
        let xavier = Initializer::XavierUniform { gain: 1.0 };
        FeedForward {
            w_1: LinearConfig::new(self.d_model, self.d_ff)
                .with_initializer(xavier.clone())
                .init(device),
            w_2: LinearConfig::new(self.d_ff, self.d_model)
                .with_initializer(xavier)
                .init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            bf16: None,
            packed: None,
        }
    }
}

/// `FFN(x) = max(0, x·W_1 + b_1)·W_2 + b_2` (paper eq. 2), the same two layers applied to
/// every position separately: `d_model → d_ff → d_model`.
#[derive(Module, Debug)]
pub struct FeedForward {
    /// `W_1, b_1`: `d_model → d_ff`.
    pub w_1: Linear,
    /// `W_2, b_2`: `d_ff → d_model`.
    pub w_2: Linear,
    /// Dropout on the hidden activations, as in the reference implementation (tensor2tensor).
    pub dropout: Dropout,
    /// `W_1` and `W_2` in bfloat16 ([`with_bf16_weights`](Self::with_bf16_weights)); `None`:
    /// the float32 weights multiply. Not saved: it is made from them.
    #[module(skip)]
    bf16: Option<Arc<[Bf16Matrix; 2]>>,
    /// `W_1` packed once in float32 ([`with_packed_weights`](Self::with_packed_weights));
    /// `None`: `gemm` packs it at every product. Not saved.
    #[module(skip)]
    packed: Option<Arc<PackedMatrix>>,
}

impl FeedForward {
    /// `[batch, len, d_model]` → `[batch, len, d_model]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let packed = |i: usize| self.bf16.as_ref().map(|packed| &packed[i]);
        let w_1 = self
            .packed
            .as_ref()
            .filter(|_| self.bf16.is_none())
            .and_then(|w_1| panels::linear(&self.w_1, w_1, &x));
        let hidden = relu(w_1.unwrap_or_else(|| bf16::linear(&self.w_1, packed(0), x)));
        bf16::linear(&self.w_2, packed(1), self.dropout.forward(hidden))
    }

    /// The layer with `W_1` packed once in float32 for decoding ([`panels`]; the same
    /// products), where `d_model` is at most [`MAX_PACKED_INPUT`] (`W_2`'s input, `d_ff`, is
    /// wider).
    pub fn with_packed_weights(mut self) -> Self {
        if self.w_1.weight.dims()[0] <= MAX_PACKED_INPUT {
            self.packed = Some(Arc::new(PackedMatrix::of(&self.w_1)));
        }
        self
    }

    /// The layer with its products by `W_1` and `W_2` in bfloat16 ([`bf16`]).
    pub fn with_bf16_weights(mut self) -> Self {
        self.bf16 = Some(Arc::new([&self.w_1, &self.w_2].map(Bf16Matrix::of)));
        self
    }
}
