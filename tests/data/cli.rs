//! `transformer-mt data ...` as a user meets it: one clear error and status 1 on bad input.

use std::path::Path;

use super::common::{run_in, stderr, stdout, write};

/// Runs `data prepare` in `dir` with `args` and returns (status, last line of stderr).
fn prepare(dir: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut all = vec!["data", "prepare", "--run", "run"];
    all.extend_from_slice(args);
    let output = run_in(dir, &all);
    let message = stderr(&output);
    assert!(!message.contains("panicked"), "{message}");
    (
        output.status.code(),
        message.lines().last().unwrap_or_default().to_string(),
    )
}

#[test]
fn every_bad_corpus_file_is_one_error_naming_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write(dir.path(), "binary.tsv", b"GIF89a\x01\0\x01\0");
    write(dir.path(), "prose.txt", b"\n\nNo pairs here, only prose.\n");
    std::fs::create_dir(dir.path().join("folder.tsv")).expect("creatable");
    let cases = [
        ("missing.tsv", "error: missing.tsv: no such file"),
        (
            "folder.tsv",
            "error: folder.tsv: is a directory, not a tab-separated pair file",
        ),
        (
            "binary.tsv",
            "error: binary.tsv: binary file (NUL byte at offset 7)",
        ),
        (
            "prose.txt",
            "error: prose.txt: plain text (no tab in its 1 line), expected `english<TAB>portuguese` \
             pairs: plain text, one sentence a line, trains a language model",
        ),
    ];
    for (file, expected) in cases {
        let (status, message) = prepare(dir.path(), &["--data", file]);
        assert_eq!(status, Some(1), "{file}");
        assert!(message.starts_with(expected), "{file}: {message}");
    }
    assert!(
        !dir.path().join("artifacts/run").exists(),
        "nothing is written on bad input"
    );
}

/// Every configuration the repository ships — `config/*.json` and the shipped model's — reads
/// and validates, and the shared corpus files it names exist (a renamed corpus or a misspelt
/// field in a recipe fails here, not hours into a run; `data/…` files are made by `data
/// synthetic` or `data fetch`).
#[test]
fn every_shipped_configuration_loads_and_names_existing_files() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut paths: Vec<_> = std::fs::read_dir(root.join("config"))
        .expect("config/")
        .map(|entry| entry.expect("an entry").path())
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.push(root.join("models/eng-por/config.json"));
    assert!(paths.len() >= 9, "{paths:?}");
    for path in paths {
        let config =
            transformer_mt::run::config::RunConfig::load(&path).unwrap_or_else(|e| panic!("{e:#}"));
        let shared = config
            .data
            .files
            .iter()
            .chain(&config.data.valid)
            .filter_map(|file| file.strip_prefix("../shared/data").ok());
        for file in shared {
            assert!(
                super::common::shared_data().join(file).exists(),
                "{}: ../shared/data/{} does not exist",
                path.display(),
                file.display()
            );
        }
    }
}

#[test]
fn bad_configurations_name_the_file_and_the_field() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write(dir.path(), "pairs.tsv", b"Hello.\tOla.\n");
    write(dir.path(), "typo.json", br#"{"data": {"vocab": 8000}}"#);
    write(
        dir.path(),
        "small.json",
        br#"{"data": {"vocab_size": 100}}"#,
    );
    write(
        dir.path(),
        "split.json",
        br#"{"data": {"split": {"valid_fraction": 0.6, "test_fraction": 0.5, "seed": 0}}}"#,
    );
    let cases = [
        ("typo.json", "unknown field `vocab`"),
        ("small.json", "`data.vocab_size` must be at least 260"),
        (
            "split.json",
            "valid_fraction + test_fraction must leave pairs for training",
        ),
        ("none.json", "none.json: cannot read the configuration"),
    ];
    for (config, expected) in cases {
        let (status, message) = prepare(dir.path(), &["--config", config, "--data", "pairs.tsv"]);
        assert_eq!(status, Some(1), "{config}");
        assert!(
            message.starts_with(&format!("error: {config}:")),
            "{message}"
        );
        assert!(message.contains(expected), "{config}: {message}");
    }
}

#[test]
fn synthetic_corpus_prepares_into_a_run_directory() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = run_in(
        dir.path(),
        &[
            "data",
            "synthetic",
            "--output",
            "numbers.tsv",
            "--pairs",
            "3000",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        stdout(&output),
        "wrote 3000 synthetic pairs to numbers.tsv\n"
    );
    let text = std::fs::read_to_string(dir.path().join("numbers.tsv")).expect("written");
    assert_eq!(text.lines().count(), 3000);
    assert!(text.contains("three hundred forty-five\ttrezentos e quarenta e cinco\n"));

    write(
        dir.path(),
        "small.json",
        br#"{"data": {"vocab_size": 400, "max_tokens": 512}}"#,
    );
    let output = run_in(
        dir.path(),
        &[
            "data",
            "prepare",
            "--config",
            "small.json",
            "--data",
            "numbers.tsv",
            "--run",
            "run",
        ],
    );
    let report = stdout(&output);
    assert!(
        report.starts_with("read 3000 pairs from 1 file; no line skipped\n"),
        "{report}"
    );
    assert!(report.contains("removed 0 duplicate pairs"), "{report}");
    assert!(
        report.contains("one shared vocabulary of 400 tokens"),
        "{report}"
    );
    assert!(dir.path().join("artifacts/run/tokenizer.json").exists());
}
