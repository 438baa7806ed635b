//! transformer-mt: the Transformer of "Attention Is All You Need" on Burn, learning
//! English → Portuguese translation.
//!
//! - [`model`]: the model, one idea of the paper per file, the same code on every backend;
//! - [`data`]: from parallel text files to padded, masked, length-bucketed batches;
//! - [`backend`]: which backend runs it, chosen at run time;
//! - [`config`]: the JSON configuration of a run;
//! - [`cli`]: the command line.

pub mod backend;
pub mod cli;
pub mod config;
pub mod data;
pub mod fs;
pub mod model;
pub mod train;
pub mod translate;
