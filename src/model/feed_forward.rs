//! Position-wise feed-forward network (paper §3.3).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{Initializer, Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor};
use std::sync::Arc;

use super::packed::{self, Packed, Precision};

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
            packed: Default::default(),
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
    /// `W_1` and `W_2` stored once for translating or writing
    /// ([`with_packed_weights`](Self::with_packed_weights)); `None`: `gemm` multiplies by the
    /// weights as they are. Not saved: made from them.
    #[module(skip)]
    packed: [Option<Arc<Packed>>; 2],
}

impl FeedForward {
    /// `[batch, len, d_model]` → `[batch, len, d_model]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let hidden = relu(packed::linear_by(&self.w_1, self.packed[0].as_deref(), x));
        let hidden = self.dropout.forward(hidden);
        packed::linear_by(&self.w_2, self.packed[1].as_deref(), hidden)
    }

    /// The layer with `W_1` and `W_2` stored once for products in `precision`
    /// ([`Packed::of`]: in float32 `W_2`, whose input is `d_ff` wide, stays with `gemm`).
    pub fn with_packed_weights(mut self, precision: Precision) -> Self {
        self.packed = [&self.w_1, &self.w_2].map(|layer| Packed::of(layer, precision));
        self
    }
}
