//! Tests of training, and of translating with what it trained: what it learns, its output,
//! checkpoints and resume, guards, backends, inputs and outputs of `infer`, scores of
//! `eval`, pictures of `attention`.

mod attention;
mod backends;
mod common;
mod curves;
mod devices;
mod evaluate;
mod guards;
mod learning;
mod models;
mod resume;
#[path = "../shared/mod.rs"]
mod shared;
mod shipped;
mod translate;
