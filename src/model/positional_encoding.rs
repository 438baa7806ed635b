//! Sinusoidal positional encoding (paper §3.5).
//!
//! Attention itself is blind to order: permuting the tokens permutes its output. The model
//! learns order from a position signal added to each token embedding:
//!
//! `PE(t, 2i) = sin(t / 10000^(2i / d_model))`, `PE(t, 2i + 1) = cos(t / 10000^(2i / d_model))`.
//!
//! Each pair of columns is a sinusoid of its own wavelength, from 2π to 10000·2π, so that
//! `PE(t + k)` is a linear function of `PE(t)` for any fixed offset `k`.

use burn::config::Config;
use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};

use super::dropout::{Dropout, DropoutConfig};

/// Configuration of [`PositionalEncoding`].
#[derive(Config, Debug)]
pub struct PositionalEncodingConfig {
    /// Width of the embeddings; even, as the columns go in sin/cos pairs.
    pub d_model: usize,
    /// Positions `0..max_len` are encoded. Default: 256.
    #[config(default = 256)]
    pub max_len: usize,
    /// Dropout on the sum of embedding and encoding. Default: 0.1.
    #[config(default = 0.1)]
    pub dropout: f64,
}

impl PositionalEncodingConfig {
    /// Precomputes `PE` for positions `0..max_len`.
    pub fn init(&self, device: &Device) -> PositionalEncoding {
        let table = sinusoid_table(self.max_len, self.d_model);
        PositionalEncoding {
            table: Tensor::from_data(TensorData::new(table, [self.max_len, self.d_model]), device),
            dropout: DropoutConfig::new(self.dropout).init(),
        }
    }
}

/// Adds `PE(t)` to the input at position `t`, then applies dropout (paper §5.4).
#[derive(Module, Debug)]
pub struct PositionalEncoding {
    /// `PE`, `[max_len, d_model]`, computed once: a constant, not a learned parameter.
    pub table: Tensor<2>,
    /// Dropout on the sum of embedding and encoding.
    pub dropout: Dropout,
}

impl PositionalEncoding {
    /// The same encoding computed for positions `0..max_len`: the sinusoids are defined at
    /// every position, so a model may read sequences longer than those it was built for
    /// (paper §3.5: the sinusoid "may allow the model to extrapolate to sequence lengths
    /// longer than the ones encountered during training").
    pub fn with_max_len(self, max_len: usize) -> Self {
        let [_, d_model] = self.table.dims();
        let device = self.table.device();
        let table = sinusoid_table(max_len, d_model);
        Self {
            table: Tensor::from_data(TensorData::new(table, [max_len, d_model]), &device),
            dropout: self.dropout,
        }
    }

    /// Longest sequence the table has positions for.
    pub fn max_len(&self) -> usize {
        let [max_len, _] = self.table.dims();
        max_len
    }

    /// `dropout(x + PE[0..len])` for `x` of shape `[batch, len, d_model]`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        self.forward_from(x, 0)
    }

    /// `dropout(x + PE[start..start + len])`: the positions of a sequence's continuation, as
    /// incremental decoding feeds it one token at a time.
    pub fn forward_from(&self, x: Tensor<3>, start: usize) -> Tensor<3> {
        let [_, len, _] = x.dims();
        let max_len = self.max_len();
        assert!(
            start + len <= max_len,
            "sequence of {} positions exceeds the model's max_len {max_len}",
            start + len
        );
        let encoding = self
            .table
            .clone()
            .slice(start..start + len)
            .unsqueeze::<3>();
        self.dropout.forward(x + encoding)
    }
}

/// The values of `PE`, row-major `[max_len, d_model]`, computed in `f64`.
pub fn sinusoid_table(max_len: usize, d_model: usize) -> Vec<f32> {
    let mut table = Vec::with_capacity(max_len * d_model);
    for t in 0..max_len {
        for column in 0..d_model {
            let two_i = (column - column % 2) as f64;
            let angle = t as f64 / 10000f64.powf(two_i / d_model as f64);
            let value = if column % 2 == 0 {
                angle.sin()
            } else {
                angle.cos()
            };
            table.push(value as f32);
        }
    }
    table
}
