//! The Transformer of "Attention Is All You Need" (Vaswani et al., 2017), one idea per file:
//!
//! | idea | file |
//! |---|---|
//! | scaled dot-product and multi-head attention | [`attention`] |
//! | padding and causal masks | [`mask`] |
//! | token embeddings × √d_model | [`embedding`] |
//! | dropout, with its mask drawn on the host for the CPU backends | [`dropout`] |
//! | sinusoidal positional encoding | [`positional_encoding`] |
//! | position-wise feed-forward network | [`feed_forward`] |
//! | residual connection + layer norm ("Add & Norm") | [`add_norm`] |
//! | the sizes every layer shares, the sub-layers they make | [`layer`] |
//! | encoder layer and stack | [`encoder`] |
//! | decoder layer and stack | [`decoder`] |
//! | the whole encoder–decoder and its config | [`transformer`] |
//! | GPT: the encoder's layers under the causal mask, a language model | [`gpt`] |
//! | BERT: the encoder with a masked-LM head | [`bert`] |
//! | one backend's single pass for a projection or a cache append Burn does in several | [`kernels`] |
//! | products with the weights in bfloat16, for decoding | [`bf16`] |
//! | float32 matrices packed once for decoding | [`panels`] |
//! | a model's matrices stored once in the products' number format | [`packed`] |
//!
//! Each module has a `…Config` with documented defaults, whose `init(&device)` builds it,
//! and a `forward`. The code is backend-free: Burn picks the backend from the device the
//! tensors live on; [`kernels`] alone looks at it, to run a few operations on flex in one
//! pass, each equal to the plain Burn expression every other backend runs.

pub mod add_norm;
pub mod attention;
pub mod bert;
pub mod bf16;
pub mod decoder;
pub mod dropout;
pub mod embedding;
pub mod encoder;
pub mod feed_forward;
pub mod gpt;
pub mod kernels;
pub mod layer;
pub mod mask;
pub mod packed;
pub mod panels;
pub mod positional_encoding;
pub mod transformer;

pub use attention::{
    MultiHeadAttention, MultiHeadAttentionConfig, fused_attention, scaled_dot_product_attention,
};
pub use bert::{Bert, BertConfig};
pub use embedding::LabelLogits;
pub use gpt::{Gpt, GptCache, GptConfig};
pub use mask::{AttentionMask, PaddingMasks};
pub use transformer::{
    AttentionWeights, ConfigError, DecodingState, Transformer, TransformerConfig,
};
