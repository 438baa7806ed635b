//! "Add & Norm": the residual connection and layer normalisation around every sub-layer
//! (paper §3.1, §5.4).

use burn::config::Config;
use burn::module::Module;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Tensor};

use super::dropout::{Dropout, DropoutConfig};

/// Configuration of [`AddNorm`].
#[derive(Config, Debug)]
pub struct AddNormConfig {
    /// Width of the hidden states.
    pub d_model: usize,
    /// Dropout on the sub-layer's output. Default: 0.1.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Pre-norm instead of the paper's post-norm. Default: false.
    #[config(default = false)]
    pub norm_first: bool,
}

impl AddNormConfig {
    /// Builds the wrapper.
    pub fn init(&self, device: &Device) -> AddNorm {
        AddNorm {
            norm: LayerNormConfig::new(self.d_model).init(device),
            dropout: DropoutConfig::new(self.dropout).init(),
            norm_first: self.norm_first,
        }
    }
}

/// Wraps one sub-layer (attention or feed-forward):
///
/// - post-norm, the paper's: `x ← LayerNorm(x + Dropout(Sublayer(x)))`;
/// - pre-norm (`norm_first`): `x ← x + Dropout(Sublayer(LayerNorm(x)))`, which keeps an
///   un-normalised residual path from input to output and trains deep stacks without
///   warm-up; the stack then needs one final LayerNorm.
///
/// Use: `let y = sublayer(add_norm.sublayer_input(x.clone())); let x = add_norm.forward(x, y);`
#[derive(Module, Debug)]
pub struct AddNorm {
    /// The layer normalisation.
    pub norm: LayerNorm,
    /// Dropout on the sub-layer's output before the addition.
    pub dropout: Dropout,
    /// Pre-norm instead of the paper's post-norm.
    pub norm_first: bool,
}

impl AddNorm {
    /// What the sub-layer reads: `x` (post-norm) or `LayerNorm(x)` (pre-norm).
    pub fn sublayer_input(&self, x: Tensor<3>) -> Tensor<3> {
        if self.norm_first {
            self.norm.forward(x)
        } else {
            x
        }
    }

    /// Adds the sub-layer's output to the residual stream `x` and, post-norm, normalises.
    pub fn forward(&self, x: Tensor<3>, sublayer_output: Tensor<3>) -> Tensor<3> {
        let sum = x + self.dropout.forward(sublayer_output);
        if self.norm_first {
            sum
        } else {
            self.norm.forward(sum)
        }
    }
}
