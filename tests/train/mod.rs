//! Tests of training, and of translating with what it trained: what it learns, its output, drawn epochs, domain tags,
//! checkpoints and resume, a disk that fills up, readers beside a writer, guards, backends,
//! validation sets, inputs and outputs of `infer`, scores of `eval`, pictures of `attention`, the server and its
//! page, and all of them in odd places: read-only runs, links, pipes, odd names, huge inputs.

mod attention;
mod backends;
mod browser;
pub(crate) mod common;
mod curves;
mod devices;
mod epochs;
mod evaluate;
#[cfg(unix)]
mod full_disk;
mod guards;
mod learning;
mod lm;
mod mlm;
mod models;
#[cfg(unix)]
mod odd_places;
mod readers;
mod resume;
mod serve;
mod shipped;
mod tags;
mod translate;
mod valid_sets;
