//! Tests of the data pipeline: reader, split, tokenizer, batches, synthetic corpus, download.

mod batches;
mod cli;
mod common;
mod fetch;
mod oversample;
mod reader;
#[path = "../shared/mod.rs"]
mod shared;
mod shared_corpus;
mod split;
mod synthetic;
mod tokenizer;
