//! The sizes every encoder and decoder layer shares, and the sub-layers they make.

use burn::config::Config;
use burn::nn::{LayerNorm, LayerNormConfig};
use burn::tensor::{Device, Tensor};

use super::add_norm::AddNormConfig;
use super::attention::MultiHeadAttentionConfig;
use super::feed_forward::FeedForwardConfig;

/// The most weight values a model may have: 2³¹, 8 GiB in f32. A model file asking for more
/// is refused with an error instead of failing an allocation (an abort).
pub const MAX_WEIGHT_VALUES: u128 = 1 << 31;

/// A model configuration whose values do not make a model.
#[derive(Debug, thiserror::Error, PartialEq)]
#[error("invalid model configuration: `{field}` {problem}")]
pub struct ConfigError {
    /// The offending field.
    pub field: &'static str,
    /// What is wrong with it.
    pub problem: String,
}

/// Refuses a size that is zero: `sizes` are (field, value) pairs.
pub fn check_nonzero(sizes: &[(&'static str, usize)]) -> Result<(), ConfigError> {
    match sizes.iter().find(|(_, value)| *value == 0) {
        Some(&(field, _)) => Err(ConfigError {
            field,
            problem: "must be at least 1, got 0".into(),
        }),
        None => Ok(()),
    }
}

/// The final LayerNorm of a pre-norm stack ([`LayerConfig::final_norm`]) applied to `x`;
/// `x` unchanged for post-norm.
pub fn normalise(final_norm: &Option<LayerNorm>, x: Tensor<3>) -> Tensor<3> {
    match final_norm {
        Some(norm) => norm.forward(x),
        None => x,
    }
}

/// Refuses a model of more than [`MAX_WEIGHT_VALUES`] weights (`values`, saturating).
pub fn check_weight_values(values: u128) -> Result<(), ConfigError> {
    if values <= MAX_WEIGHT_VALUES {
        return Ok(());
    }
    let values = match values {
        u128::MAX => "more than 10³⁸".to_string(),
        values => format!("about {values}"),
    };
    Err(ConfigError {
        field: "d_model",
        problem: format!(
            "with d_ff, the layers, the vocabularies and max_len makes a model of {values} \
             weights, over the 2³¹ (8 GiB of f32) it may have"
        ),
    })
}

/// The sizes of one layer of either stack.
#[derive(Config, Debug)]
pub struct LayerConfig {
    /// Width of the hidden states that flow through the layer.
    pub d_model: usize,
    /// Heads of each of its attention sub-layers.
    pub n_heads: usize,
    /// Inner width of its feed-forward sub-layer.
    pub d_ff: usize,
    /// Dropout of its sub-layers. Default: 0.1.
    #[config(default = 0.1)]
    pub dropout: f64,
    /// Normalise before each sub-layer instead of after the residual sum. Default: false.
    #[config(default = false)]
    pub norm_first: bool,
}

impl LayerConfig {
    /// Checks what every layer needs of its sizes, once none is zero: `d_model` even and
    /// divisible by `n_heads`, dropout in `[0, 1)`.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let error = |field, problem: String| Err(ConfigError { field, problem });
        if !self.d_model.is_multiple_of(self.n_heads) {
            return error(
                "n_heads",
                format!(
                    "must divide d_model: {} is not a multiple of {}",
                    self.d_model, self.n_heads
                ),
            );
        }
        if !self.d_model.is_multiple_of(2) {
            return error(
                "d_model",
                format!(
                    "must be even (the positional encoding pairs sin and cos columns), got {}",
                    self.d_model
                ),
            );
        }
        if !(0.0..1.0).contains(&self.dropout) {
            return error(
                "dropout",
                format!("must be in [0, 1), got {}", self.dropout),
            );
        }
        Ok(())
    }

    /// An attention sub-layer.
    pub fn attention(&self) -> MultiHeadAttentionConfig {
        MultiHeadAttentionConfig::new(self.d_model, self.n_heads).with_dropout(self.dropout)
    }

    /// The feed-forward sub-layer.
    pub fn feed_forward(&self) -> FeedForwardConfig {
        FeedForwardConfig::new(self.d_model, self.d_ff).with_dropout(self.dropout)
    }

    /// The Add & Norm around a sub-layer.
    pub fn add_norm(&self) -> AddNormConfig {
        AddNormConfig::new(self.d_model)
            .with_dropout(self.dropout)
            .with_norm_first(self.norm_first)
    }

    /// The LayerNorm after the last layer of a pre-norm stack, whose residual stream no
    /// sub-layer normalised; `None` for post-norm.
    pub fn final_norm(&self, device: &Device) -> Option<LayerNorm> {
        self.norm_first
            .then(|| LayerNormConfig::new(self.d_model).init(device))
    }
}
