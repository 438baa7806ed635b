//! Tests of the data pipeline: reader, split, tokenizer, batches, drawn epochs and joined pairs, domain tags, synthetic corpus, download.

mod batches;
mod cli;
pub mod common;
mod draw;
mod fetch;
mod lexicon;
mod masking;
mod names;
mod oversample;
mod reader;
mod shared_corpus;
mod split;
mod synthetic;
mod tags;
mod tokenizer;
