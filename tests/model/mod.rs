//! Tests of the model against hand-worked values, Burn's own `burn::nn` modules and the
//! properties the paper states.

mod attention;
mod backends;
mod bert;
mod bf16;
mod common;
mod dropout;
mod gpt;
mod incremental;
mod kernels;
mod loss;
mod positional_encoding;
mod reference;
mod transformer;
