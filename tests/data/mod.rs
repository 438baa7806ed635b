//! Tests of the data pipeline: reader, split, tokenizer, batches, synthetic corpus, download.

mod batches;
mod cli;
mod common;
mod fetch;
mod oversample;
mod reader;
mod shared_corpus;
mod split;
mod synthetic;
mod tokenizer;
