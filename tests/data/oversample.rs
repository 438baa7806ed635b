//! `data.oversample`: a small corpus weighed up against a large one, in training only; and
//! `data split`, which writes the parts training cuts.

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use transformer_mt::data::batch::EncodedPair;
use transformer_mt::data::{DataConfig, prepare};

use super::common::{numbered_lines as lines, run_in, small_config, stderr, stdout, write};

fn config(files: &[PathBuf], oversample: &[(&PathBuf, usize)]) -> DataConfig {
    DataConfig {
        oversample: oversample
            .iter()
            .map(|(f, times)| ((*f).clone(), *times))
            .collect::<BTreeMap<_, _>>(),
        ..small_config(files)
    }
}

#[test]
fn an_oversampled_file_is_repeated_in_training_only() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let small = write(dir.path(), "small.tsv", lines("cat", 40).as_bytes());
    let large = write(dir.path(), "large.tsv", lines("dog", 200).as_bytes());
    let files = [small.clone(), large.clone()];

    let plain = prepare(&config(&files, &[]), &files, None, dir.path()).expect("prepares");
    let weighed =
        prepare(&config(&files, &[(&small, 3)]), &files, None, dir.path()).expect("prepares");

    // The split is the same: it depends on the sentences, not on the weights.
    assert_eq!(weighed.splits.train, plain.splits.train);
    assert_eq!(weighed.splits.valid, plain.splits.valid);
    let small_train = plain
        .splits
        .train
        .iter()
        .filter(|p| p.source.starts_with("cat"))
        .count();
    assert!(small_train > 10, "{small_train}");
    assert_eq!(weighed.oversampled, 2 * small_train);
    assert_eq!(weighed.train.len(), plain.train.len() + 2 * small_train);
    assert_eq!(weighed.valid.len(), plain.valid.len());

    // Each training pair of the small file is there 3 times, each of the large one once.
    let mut counts: HashMap<&EncodedPair, usize> = HashMap::new();
    for pair in &weighed.train {
        *counts.entry(pair).or_default() += 1;
    }
    for (pair, encoded) in plain.splits.train.iter().zip(&plain.train) {
        let expected = if pair.source.starts_with("cat") { 3 } else { 1 };
        assert_eq!(counts[encoded], expected, "{pair:?}");
    }
}

#[test]
fn a_file_not_read_is_not_oversampled_and_zero_times_is_refused() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let large = write(dir.path(), "large.tsv", lines("dog", 50).as_bytes());
    let elsewhere = dir.path().join("small.tsv");
    let files = [large];
    let other = config(&files, &[(&elsewhere, 2)]);
    let prepared = prepare(&other, &files, None, dir.path())
        .expect("pairs other than the configured ones train as they are");
    assert_eq!(prepared.oversampled, 0);
    assert_eq!(prepared.train.len(), prepared.splits.train.len());
    let error = config(&files, &[(&files[0], 0)])
        .validate()
        .expect_err("0 refused");
    assert!(error.to_string().contains("`data.oversample`"), "{error}");
}

#[test]
fn data_split_writes_the_part_training_holds_out() {
    let dir = tempfile::tempdir().expect("temporary directory");
    write(dir.path(), "small.tsv", lines("cat", 40).as_bytes());
    write(dir.path(), "large.tsv", lines("dog", 200).as_bytes());
    write(
        dir.path(),
        "config.json",
        br#"{"data": {"files": ["small.tsv", "large.tsv"], "url": "",
            "split": {"valid_fraction": 0.2, "test_fraction": 0.2, "seed": 0}}}"#,
    );
    let files = [dir.path().join("small.tsv"), dir.path().join("large.tsv")];
    let splits = prepare(&config(&files, &[]), &files, None, dir.path())
        .expect("prepares")
        .splits;
    for (args, expected) in [
        (vec!["--part", "test"], &splits.test),
        (vec!["--part", "valid"], &splits.valid),
        (vec![], &splits.test),
    ] {
        let mut all = vec!["data", "split", "--config", "config.json"];
        all.extend(args.iter().copied());
        all.extend(["--output", "part.tsv"]);
        let output = run_in(dir.path(), &all);
        assert!(output.status.success(), "{}", stderr(&output));
        assert!(stdout(&output).contains(&format!("wrote the {} ", expected.len())));
        let written = std::fs::read_to_string(dir.path().join("part.tsv")).expect("written");
        let wanted: String = expected
            .iter()
            .map(|p| format!("{}\t{}\n", p.source, p.target))
            .collect();
        assert_eq!(written, wanted, "{args:?}");
    }
    // One file alone: its own held-out pairs, the same as in the split of both.
    let output = run_in(
        dir.path(),
        &[
            "data",
            "split",
            "--config",
            "config.json",
            "--data",
            "small.tsv",
            "--output",
            "small-test.tsv",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let written = std::fs::read_to_string(dir.path().join("small-test.tsv")).expect("written");
    let wanted: String = splits
        .test
        .iter()
        .filter(|p| p.source.starts_with("cat"))
        .map(|p| format!("{}\t{}\n", p.source, p.target))
        .collect();
    assert_eq!(written, wanted);
}
