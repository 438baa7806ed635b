//! Tests of training: what it learns, its output, checkpoints and resume, guards, backends.

mod backends;
mod common;
mod guards;
mod learning;
mod resume;
#[path = "../shared/mod.rs"]
mod shared;
