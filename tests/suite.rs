//! Every test of the crate, in one binary: Burn and the crate link once, not once per file of
//! `tests/` (the Cargo book's advice for a large suite). Each module is one area; `cargo test
//! --release -- train::` runs one of them.

mod cli;
mod ctranslate2;
mod data;
mod eval;
mod fuzz;
mod layers;
mod model;
mod scripts;
mod shared;
mod train;
mod translate;
