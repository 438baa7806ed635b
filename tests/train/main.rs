//! Tests of training, and of translating with what it trained: what it learns, its output,
//! checkpoints and resume, guards, backends, inputs and outputs of `infer`.

mod backends;
mod common;
mod guards;
mod learning;
mod resume;
#[path = "../shared/mod.rs"]
mod shared;
mod translate;
