//! Position-wise feed-forward network (paper §3.3).

use burn::module::Module;
use burn::nn::{Dropout, DropoutConfig, Initializer, Linear, LinearConfig};
use burn::tensor::Tensor;
use burn::tensor::activation::relu;

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
}

impl FeedForward {
    /// Xavier-uniform (Glorot) initialisation.
    pub fn new(d_model: usize, d_ff: usize, dropout: f64, device: &burn::tensor::Device) -> Self {
        let xavier = Initializer::XavierUniform { gain: 1.0 };
        Self {
            w_1: LinearConfig::new(d_model, d_ff)
                .with_initializer(xavier.clone())
                .init(device),
            w_2: LinearConfig::new(d_ff, d_model)
                .with_initializer(xavier)
                .init(device),
            dropout: DropoutConfig::new(dropout).init(),
        }
    }

    /// `[batch, len, d_model]` → `[batch, len, d_model]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let hidden = relu(self.w_1.forward(x));
        self.w_2.forward(self.dropout.forward(hidden))
    }
}
