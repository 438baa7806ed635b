//! transformer-mt: the Transformer of "Attention Is All You Need" on Burn, learning
//! English → Portuguese translation.
//!
//! - [`model`]: the model, one idea of the paper per file, the same code on every backend;
//! - [`data`]: from parallel text files to padded, masked, length-bucketed batches;
//! - [`train`]: the Burn learner: loss, metrics, dashboard, checkpoints, resume;
//! - [`translate`]: greedy and beam search with a key/value cache;
//! - [`generate`]: a GPT writing: greedy, temperature, top-k and top-p sampling;
//! - [`fill_mask`]: a BERT filling in the `[MASK]` of a sentence;
//! - [`eval`]: BLEU and chrF exactly as sacreBLEU computes them;
//! - [`plot`]: attention weights and the positional encoding as heatmaps;
//! - [`serve`]: the model over HTTP, with dynamic batching and a page of its attention;
//! - [`bench`]: speed and memory on a fixed shape, for comparison with PyTorch;
//! - [`backend`]: which backend runs it, chosen at run time;
//! - [`run`]: a run's directory and its JSON configuration, shared by the commands;
//! - [`cli`]: the command line.

pub mod backend;
pub mod bench;
pub mod cli;
pub mod data;
pub mod eval;
pub mod fill_mask;
pub mod fs;
pub mod generate;
pub mod model;
pub mod plot;
pub mod run;
pub mod serve;
pub mod train;
pub mod translate;
