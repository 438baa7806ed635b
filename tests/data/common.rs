//! Helpers shared by the data tests.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use transformer_mt::data::corpus::Pair;

/// The shared English–Portuguese corpus: `../shared/data` beside the repository, or
/// `$TRANSFORMER_MT_SHARED_DATA`.
pub fn shared_data() -> PathBuf {
    let dir = std::env::var_os("TRANSFORMER_MT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    assert!(
        dir.join("tatoeba.eng-por.tsv").exists(),
        "the shared corpus is not at {} (set TRANSFORMER_MT_SHARED_DATA)",
        dir.display()
    );
    dir
}

/// Writes `bytes` to `name` in `dir` and returns the path.
pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).expect("writable temporary directory");
    path
}

/// Runs the binary in `dir` with `args`.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_transformer-mt"))
        .args(args)
        .current_dir(dir)
        .env_remove("TRANSFORMER_MT_BACKEND")
        .output()
        .expect("the binary runs")
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// A pair from two string slices.
pub fn pair(source: &str, target: &str) -> Pair {
    Pair {
        source: source.to_string(),
        target: target.to_string(),
    }
}

/// `count` lines `"{word} {i}\t{word}-pt {i}"`.
pub fn numbered_lines(word: &str, count: usize) -> String {
    (0..count)
        .map(|i| format!("{word} {i}\t{word}-pt {i}\n"))
        .collect()
}

/// The data configuration of `files` for small test corpora: 20 % valid, 20 % test, a
/// vocabulary of 300, no download.
pub fn small_config(files: &[std::path::PathBuf]) -> transformer_mt::data::DataConfig {
    transformer_mt::data::DataConfig {
        files: files.to_vec(),
        url: String::new(),
        split: transformer_mt::data::split::SplitConfig {
            valid_fraction: 0.2,
            test_fraction: 0.2,
            seed: 0,
        },
        vocab_size: 300,
        ..transformer_mt::data::DataConfig::default()
    }
}
