//! transformer-mt: the Transformer of "Attention Is All You Need" on Burn, learning
//! English → Portuguese translation.
//!
//! - [`model`]: the model, one idea of the paper per file, the same code on every backend;
//! - [`backend`]: which backend runs it, chosen at run time;
//! - [`cli`]: the command line.

pub mod backend;
pub mod cli;
pub mod model;
