//! Helpers shared by the training tests: corpora, configurations, runs of the binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// A temporary directory holding `pairs` synthetic number pairs (`data`) and
/// `config/tiny.json` with batches of at most `max_tokens` tokens (`config`).
pub struct Setup {
    /// The directory, removed when dropped.
    pub dir: tempfile::TempDir,
    /// The pairs.
    pub data: PathBuf,
    /// The configuration.
    pub config: PathBuf,
}

/// See [`Setup`].
pub fn setup(pairs: usize, max_tokens: usize) -> Setup {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = numbers(dir.path(), pairs);
    let config = tiny_config(dir.path(), "tiny.json", |c| {
        c["data"]["max_tokens"] = max_tokens.into()
    });
    Setup { dir, data, config }
}

/// Epochs of [`trained_numbers`].
pub const TRAINED_EPOCHS: usize = 10;

/// A run of `config/tiny.json` trained for [`TRAINED_EPOCHS`] epochs on 20,000 synthetic
/// number pairs, shared by the tests that need a model that learned something.
pub struct Trained {
    /// The pairs.
    pub data: PathBuf,
    /// The run directory.
    pub run: PathBuf,
    /// What `train` printed.
    pub stdout: String,
    _dir: tempfile::TempDir,
}

/// See [`Trained`]; trained once per test binary.
pub fn trained_numbers() -> &'static Trained {
    static TRAINED: std::sync::OnceLock<Trained> = std::sync::OnceLock::new();
    TRAINED.get_or_init(|| {
        let Setup { dir, data, config } = setup(20_000, 2048);
        let run = dir.path().join("run");
        let epochs = TRAINED_EPOCHS.to_string();
        let output = train(dir.path(), &config, &data, &run, &["--epochs", &epochs]);
        Trained {
            data,
            run,
            stdout: stdout(&output),
            _dir: dir,
        }
    })
}

/// A run of `config/tiny.json` trained for one epoch on 300 synthetic pairs: enough to
/// exercise every input and output path; trained once per test binary.
pub fn small_run() -> &'static Path {
    static RUN: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    let (_, run) = RUN.get_or_init(|| {
        let Setup { dir, data, config } = setup(300, 512);
        let run = dir.path().join("run");
        train(dir.path(), &config, &data, &run, &["--epochs", "1"]);
        (dir, run)
    });
    run
}

/// The repository's `config/tiny.json`, with `edit` applied to its JSON.
pub fn tiny_config(dir: &Path, name: &str, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/tiny.json");
    let text = std::fs::read_to_string(path).expect("config/tiny.json exists");
    let mut config: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    edit(&mut config);
    let path = dir.join(name);
    std::fs::write(&path, config.to_string()).expect("writable temporary directory");
    path
}

/// Writes `pairs` synthetic number pairs (seed 0) to `numbers.tsv` in `dir`.
pub fn numbers(dir: &Path, pairs: usize) -> PathBuf {
    let path = dir.join("numbers.tsv");
    let output = run_in(
        dir,
        &[
            "data",
            "synthetic",
            "--output",
            path.to_str().expect("UTF-8 path"),
            "--pairs",
            &pairs.to_string(),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    path
}

/// Writes 3,000 synthetic counts (seed 0), in English and Portuguese words, to
/// `counting.tsv` in `dir`: the corpus of `config/gpt-tiny.json` and `config/bert-tiny.json`.
pub fn counting(dir: &Path) -> PathBuf {
    let path = dir.join("counting.tsv");
    let output = run_in(
        dir,
        &[
            "data",
            "synthetic",
            "--counting",
            "--pairs",
            "3000",
            "--output",
            path.to_str().expect("UTF-8 path"),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    path
}

/// Two runs of `config` for 2 epochs in `dir`, one on [`counting`], one on its side `column`
/// (0 English, 1 Portuguese) as plain text, a sentence a line, give the same tokenizer and the
/// same validation losses: a language model trains on plain text as on that side of pairs.
pub fn trains_on_plain_text_as_on(dir: &Path, config: &Path, column: usize) {
    let data = counting(dir);
    let text = std::fs::read_to_string(&data).expect("readable pairs");
    let side: String = text
        .lines()
        .map(|line| format!("{}\n", line.split('\t').nth(column).expect("a pair line")))
        .collect();
    let plain_text = dir.join("counting.txt");
    std::fs::write(&plain_text, side).expect("writable temporary directory");
    let (pairs, plain) = (dir.join("pairs"), dir.join("plain"));
    train(dir, config, &data, &pairs, &["--epochs", "2"]);
    train(dir, config, &plain_text, &plain, &["--epochs", "2"]);
    let tokenizer = |run: &Path| std::fs::read(run.join("tokenizer.json")).expect("tokenizer");
    assert!(
        tokenizer(&pairs) == tokenizer(&plain),
        "the tokenizers differ"
    );
    for epoch in [1, 2] {
        assert_eq!(
            epoch_metric(&pairs, "valid", epoch, "Loss"),
            epoch_metric(&plain, "valid", epoch, "Loss"),
            "epoch {epoch}"
        );
    }
}

/// A command running the binary in `dir` with `args`, on the pure-Rust CPU backend unless
/// `args` name another.
pub fn command(dir: &Path, args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_transformer-mt"));
    command.args(args).current_dir(dir).env(
        "TRANSFORMER_MT_BACKEND",
        crate::shared::cpu_backend().name(),
    );
    command
}

/// Runs the binary in `dir` with `args` and waits for it.
pub fn run_in(dir: &Path, args: &[&str]) -> Output {
    command(dir, args).output().expect("the binary runs")
}

/// `train --config CONFIG --data DATA --run RUN` and `extra`, which must succeed.
pub fn train(dir: &Path, config: &Path, data: &Path, run: &Path, extra: &[&str]) -> Output {
    let output = run_in(dir, &train_args(config, data, run, extra));
    assert!(
        output.status.success(),
        "train failed:\n{}\n{}",
        stdout(&output),
        stderr(&output)
    );
    output
}

/// The arguments of [`train`].
pub fn train_args<'a>(
    config: &'a Path,
    data: &'a Path,
    run: &'a Path,
    extra: &[&'a str],
) -> Vec<&'a str> {
    let path = |p: &'a Path| p.to_str().expect("UTF-8 path");
    let mut args = vec![
        "train",
        "--config",
        path(config),
        "--data",
        path(data),
        "--run",
        path(run),
    ];
    args.extend_from_slice(extra);
    args
}

/// A path as a command-line argument.
pub fn path(p: &Path) -> &str {
    p.to_str().expect("UTF-8 path")
}

/// `eval --run RUN --test PAIRS --json` and `extra`, which must succeed: sacreBLEU's JSON
/// list, BLEU first and chrF second.
pub fn eval_json(dir: &Path, run: &Path, pairs: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["eval", "--run", path(run), "--test", path(pairs), "--json"];
    args.extend_from_slice(extra);
    let output = run_in(dir, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    serde_json::from_str(&stdout(&output)).expect("JSON")
}

/// Standard error as text.
pub fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Standard output as text.
pub fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The epoch value of a metric, as the learner logged it: the `value,final` last line of
/// `RUN/SPLIT/epoch-N/NAME.log`.
pub fn epoch_metric(run: &Path, split: &str, epoch: usize, name: &str) -> f64 {
    let path = run
        .join(split)
        .join(format!("epoch-{epoch}"))
        .join(format!("{name}.log"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let last = text.lines().last().expect("a logged value");
    last.strip_suffix(",final")
        .unwrap_or_else(|| panic!("{}: no epoch value in {last:?}", path.display()))
        .parse()
        .expect("a number")
}

/// The per-epoch training and validation losses of epochs `1..=epochs`.
pub fn loss_curve(run: &Path, epochs: usize) -> Vec<(f64, f64)> {
    (1..=epochs)
        .map(|epoch| {
            (
                epoch_metric(run, "train", epoch, "Loss"),
                epoch_metric(run, "valid", epoch, "Loss"),
            )
        })
        .collect()
}

/// A copy of the model files of `run` (configurations, tokenizer, weights, test pairs) in a
/// new run directory `to`, so that what a test writes beside a model is its alone.
pub fn copy_model(run: &Path, to: &Path) {
    std::fs::create_dir(to).expect("a new directory");
    for name in [
        "config.json",
        "model.json",
        "model.bpk",
        "tokenizer.json",
        "test.tsv",
    ] {
        std::fs::copy(run.join(name), to.join(name)).expect("a copyable run file");
    }
}

/// Writes lines `ranges[i]` of the pair file `data` to `dir/names[i]`, one file each.
pub fn split_lines(
    dir: &Path,
    data: &Path,
    parts: &[(&str, std::ops::Range<usize>)],
) -> Vec<PathBuf> {
    let text = std::fs::read_to_string(data).expect("a pair file");
    let lines: Vec<&str> = text.lines().collect();
    parts
        .iter()
        .map(|(name, range)| {
            let path = dir.join(name);
            std::fs::write(&path, lines[range.clone()].join("\n") + "\n").expect("writable");
            path
        })
        .collect()
}

/// `train --config CONFIG --data FILES... --run RUN` and `extra`, run in `dir`.
pub fn train_files(
    dir: &Path,
    config: &Path,
    files: &[PathBuf],
    run: &Path,
    extra: &[&str],
) -> Output {
    let mut args = vec!["train", "--config", path(config), "--data"];
    args.extend(files.iter().map(|f| path(f)));
    args.extend(["--run", path(run)]);
    args.extend_from_slice(extra);
    run_in(dir, &args)
}

/// The batches of each epoch's training split, from the `train done (N batches)` lines `train`
/// printed.
pub fn trained_batches(text: &str) -> Vec<usize> {
    text.lines()
        .filter_map(|l| {
            l.split(" · train done (")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect()
}

/// Panics unless two loss curves ([`loss_curve`]) are the same to 1e-4, epoch by epoch.
pub fn assert_same_curve(a: &[(f64, f64)], b: &[(f64, f64)], what: &str) {
    assert_eq!(a.len(), b.len());
    for (epoch, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x.0 - y.0).abs() < 1e-4 && (x.1 - y.1).abs() < 1e-4,
            "{what}: epoch {} losses {x:?} vs {y:?}",
            epoch + 1
        );
    }
}
