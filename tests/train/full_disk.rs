//! A disk that fills up while a command writes. The kernel's file-size limit (`RLIMIT_FSIZE`,
//! set in the child only) makes every write past a size fail, as a full disk or a quota does,
//! without needing the privileges a small filesystem would: each command ends with one clear
//! error naming the file, every file written before is whole and unchanged, no temporary file
//! is left behind, and training resumes once there is room again.

use std::collections::BTreeMap;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use super::common::{
    Setup, command, copy_model, path, run_in, setup, stderr, stdout, train, train_args,
    trained_numbers,
};

/// Runs `command` with writes limited to files of at most `bytes` bytes.
fn with_file_size_limit(mut command: Command, bytes: u64) -> Output {
    // SAFETY: only async-signal-safe calls (`setrlimit`) between fork and exec.
    unsafe {
        command.pre_exec(move || {
            let limit = libc::rlimit {
                rlim_cur: bytes,
                rlim_max: bytes,
            };
            if libc::setrlimit(libc::RLIMIT_FSIZE, &limit) == 0 {
                Ok(())
            } else {
                Err(std::io::Error::last_os_error())
            }
        });
    }
    command.output().expect("the binary runs")
}

/// The bytes of every file under `dir` but the locks (which hold the last holder's process
/// id), by path relative to it.
fn files(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut found = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next)
            .expect("readable directory")
            .flatten()
        {
            let entry_path = entry.path();
            if entry_path.is_dir() {
                pending.push(entry_path);
            } else if entry_path.extension().is_none_or(|e| e != "lock") {
                let bytes = std::fs::read(&entry_path).expect("readable file");
                let relative = entry_path.strip_prefix(dir).expect("under dir");
                found.insert(relative.to_path_buf(), bytes);
            }
        }
    }
    found
}

/// `files(dir)` restricted to `names`, each of which must exist.
fn kept(dir: &Path, names: &[&str]) -> BTreeMap<PathBuf, Vec<u8>> {
    let all = files(dir);
    names
        .iter()
        .map(|&name| {
            let bytes = all
                .get(Path::new(name))
                .unwrap_or_else(|| panic!("{name} missing from {}", dir.display()));
            (PathBuf::from(name), bytes.clone())
        })
        .collect()
}

/// Every file of `before` is in `after` with the same bytes.
fn assert_unchanged(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) {
    let changed: Vec<&PathBuf> = before
        .iter()
        .filter(|&(name, bytes)| after.get(name) != Some(bytes))
        .map(|(name, _)| name)
        .collect();
    assert!(changed.is_empty(), "changed or lost: {changed:?}");
}

/// The failed command said one thing, an `error:` line naming one of `files`, and did not
/// panic; it left no temporary file under `dir`.
fn assert_failed_naming(output: &Output, files_named: &[&str], dir: &Path) {
    let err = stderr(output);
    assert!(!output.status.success(), "succeeded:\n{err}");
    let errors: Vec<&str> = err
        .lines()
        .filter(|line| line.starts_with("error:"))
        .collect();
    assert_eq!(errors.len(), 1, "one error line:\n{err}");
    assert!(
        files_named.iter().any(|file| errors[0].contains(file)),
        "names one of {files_named:?}:\n{err}"
    );
    assert!(
        errors[0].contains("File too large"),
        "says why the write failed:\n{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
    let leftovers: Vec<PathBuf> = files(dir)
        .into_keys()
        .filter(|name| name.to_string_lossy().contains(".tmp"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");
}

#[test]
fn a_disk_that_fills_during_training_ends_it_with_one_error_and_the_run_resumes() {
    let Setup { dir, data, config } = setup(1500, 512);
    let run = dir.path().join("run");
    train(dir.path(), &config, &data, &run, &["--epochs", "1"]);
    // config.json is rewritten whole by the resume (its epochs change): it must still parse.
    let written = [
        "model.json",
        "tokenizer.json",
        "test.tsv",
        "model.bpk",
        "checkpoint/model-1.bpk",
        "checkpoint/optim-1.bpk",
        "checkpoint/scheduler-1.bpk",
    ];
    let before = kept(&run, &written);
    let weights = before[Path::new("model.bpk")].len() as u64;

    // Room for the logs and the metrics, not for the next checkpoint's weights.
    let full = with_file_size_limit(
        command(
            dir.path(),
            &train_args(&config, &data, &run, &["--epochs", "3", "--resume"]),
        ),
        weights / 2,
    );
    // Burn writes the model's and the optimizer's checkpoints on threads of their own, and
    // both are over the limit: whichever reaches it first is the one named.
    assert_failed_naming(
        &full,
        &["checkpoint/model-2.bpk", "checkpoint/optim-2.bpk"],
        &run,
    );
    assert_unchanged(&before, &kept(&run, &written));
    let saved = std::fs::read_to_string(run.join("config.json")).expect("config.json");
    serde_json::from_str::<serde_json::Value>(&saved).expect("config.json whole");

    let resumed = train(
        dir.path(),
        &config,
        &data,
        &run,
        &["--epochs", "3", "--resume"],
    );
    assert!(
        stdout(&resumed).contains("resuming after epoch 1"),
        "{}",
        stdout(&resumed)
    );
    let translated = run_in(dir.path(), &["infer", "--run", path(&run), "seven"]);
    assert!(translated.status.success(), "{}", stderr(&translated));
    assert!(!stdout(&translated).trim().is_empty());
}

#[test]
fn eval_and_attention_on_a_full_disk_fail_naming_the_file_and_keep_their_earlier_output() {
    let trained = trained_numbers();
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = dir.path().join("run");
    copy_model(&trained.run, &run);

    let eval = ["eval", "--run", path(&run), "--beam", "1"];
    let first = run_in(dir.path(), &eval);
    assert!(first.status.success(), "{}", stderr(&first));
    let scored = files(&run.join("eval"));
    assert_eq!(scored.len(), 3, "{:?}", scored.keys());
    let full = with_file_size_limit(
        command(dir.path(), &["eval", "--run", path(&run), "--beam", "2"]),
        1000,
    );
    assert_failed_naming(&full, &["eval/test."], &run);
    assert_unchanged(&scored, &files(&run.join("eval")));

    let pictures = dir.path().join("pictures");
    let attention = [
        "attention",
        "--run",
        path(&run),
        "--output",
        path(&pictures),
        "three hundred and twelve",
    ];
    let first = run_in(dir.path(), &attention);
    assert!(first.status.success(), "{}", stderr(&first));
    let drawn = files(&pictures);
    assert!(drawn.len() > 3, "{:?}", drawn.keys());
    let full = with_file_size_limit(
        command(dir.path(), &[&attention[..], &["--beam", "1"]].concat()),
        1000,
    );
    assert_failed_naming(&full, &[path(&pictures)], &pictures);
    assert_unchanged(&drawn, &files(&pictures));
}

#[test]
fn infer_output_and_average_on_a_full_disk_fail_naming_the_file_and_keep_what_was_there() {
    let Setup { dir, data, config } = setup(300, 512);
    let run = dir.path().join("run");
    train(dir.path(), &config, &data, &run, &["--epochs", "2"]);

    let input = dir.path().join("input.txt");
    std::fs::write(&input, "seven hundred and three\n".repeat(300)).expect("written");
    let output = dir.path().join("translations.txt");
    std::fs::write(&output, "earlier translations\n").expect("written");
    let infer = [
        "infer",
        "--run",
        path(&run),
        "--beam",
        "1",
        "--input",
        path(&input),
        "--output",
        path(&output),
    ];
    let full = with_file_size_limit(command(dir.path(), &infer), 100);
    assert_failed_naming(&full, &["translations.txt"], dir.path());
    assert_eq!(
        std::fs::read_to_string(&output).expect("kept"),
        "earlier translations\n"
    );

    let averaged = dir.path().join("averaged");
    let average = ["average", "--run", path(&run), "--output", path(&averaged)];
    let weights = std::fs::metadata(run.join("model.bpk"))
        .expect("weights")
        .len();
    let full = with_file_size_limit(command(dir.path(), &average), weights / 2);
    assert_failed_naming(&full, &["averaged"], dir.path());
    assert!(!averaged.exists(), "a half-written model was left");
    let staged = std::fs::read_dir(dir.path())
        .expect("readable")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains(".partial"))
        .count();
    assert_eq!(staged, 0, "the staging directory was left");
    let written = run_in(dir.path(), &average);
    assert!(written.status.success(), "{}", stderr(&written));
}
