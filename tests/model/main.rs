//! Tests of the model against hand-worked values, Burn's own `burn::nn` modules and the
//! properties the paper states. One binary: Burn links once.

mod attention;
mod backends;
mod common;
mod dropout;
mod incremental;
mod loss;
mod positional_encoding;
mod reference;
#[path = "../shared/mod.rs"]
mod shared;
mod transformer;
