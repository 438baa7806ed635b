//! What training learns, what it prints, and what it leaves in the run directory.

use super::common::*;

/// `config/tiny.json` on 20,000 synthetic number pairs learns the number words: above 95 %
/// of the validation tokens predicted right (teacher-forced, padding excluded) after 4
/// epochs, and the validation loss falls every epoch until then. `model.bpk` holds the epoch
/// of the lowest validation loss, one of the last three, under 0.6 times epoch 1's (the
/// label-smoothed loss cannot fall below about 0.9 here; it is near 2.1 after epoch 1). The exact
/// epoch and values depend on the processor (the CPU backends choose their SIMD kernels at
/// run time, which changes the order of floating-point sums), so only these are asserted.
#[test]
fn tiny_config_learns_the_synthetic_corpus() {
    let trained = trained_numbers();
    let run = &trained.run;
    let accuracy = epoch_metric(run, "valid", 4, "Accuracy");
    assert!(
        accuracy > 95.0,
        "validation accuracy {accuracy} % after 4 epochs"
    );
    let losses = loss_curve(run, TRAINED_EPOCHS);
    assert!(
        losses[..4].windows(2).all(|w| w[1].1 < w[0].1),
        "validation loss does not fall every epoch until the 4th: {losses:?}"
    );
    let (lowest, lowest_loss) = losses
        .iter()
        .enumerate()
        .map(|(i, (_, valid))| (i + 1, *valid))
        .min_by(|a, b| a.1.total_cmp(&b.1))
        .expect("epochs");
    assert!(
        trained.stdout.contains(&format!(
            "best epoch {lowest} (by loss {lowest_loss:.4}): validation loss {lowest_loss:.4}"
        )),
        "the best epoch is not the lowest validation loss {losses:?}:\n{}",
        trained.stdout
    );
    assert!(
        lowest > TRAINED_EPOCHS - 3,
        "best epoch {lowest} of {TRAINED_EPOCHS}: {losses:?}"
    );
    assert!(
        lowest_loss < 0.6 * losses[0].1,
        "best validation loss {lowest_loss} against {} after epoch 1",
        losses[0].1
    );

    for file in [
        "config.json",
        "model.json",
        "model.bpk",
        "tokenizer.json",
        "test.tsv",
        "train.log",
    ] {
        assert!(run.join(file).is_file(), "{file} missing from the run");
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).expect("config"))
            .expect("JSON");
    assert_eq!(
        saved["training"]["epochs"], TRAINED_EPOCHS,
        "the effective config is saved"
    );
    assert_eq!(
        saved["data"]["files"][0],
        trained.data.to_str().expect("UTF-8")
    );
    let test_pairs = std::fs::read_to_string(run.join("test.tsv")).expect("test split");
    assert_eq!(
        test_pairs.lines().count(),
        1065,
        "5 % of 20,000, less duplicates"
    );
}

/// Without a terminal, progress is plain text lines, also written to `train.log`.
#[test]
fn output_without_a_terminal_is_plain_lines() {
    let Setup { dir, data, config } = setup(300, 256);
    let run = dir.path().join("run");
    let output = train(dir.path(), &config, &data, &run, &["--epochs", "1"]);

    let text = stdout(&output);
    assert!(!text.contains('\x1b'), "terminal escape codes in:\n{text}");
    assert!(text.is_ascii() || text.chars().all(|c| !c.is_control() || c == '\n'));
    let done: Vec<&str> = text.lines().filter(|l| l.contains(" done (")).collect();
    assert_eq!(done.len(), 2, "one line per finished split:\n{text}");
    for (line, split) in done.iter().zip(["train", "valid"]) {
        assert!(
            line.starts_with(&format!("epoch 1/1 · {split} done")),
            "{line}"
        );
        for metric in ["loss ", "accuracy ", "perplexity ", "speed "] {
            assert!(line.contains(metric), "{metric} missing from {line}");
        }
    }
    assert!(done[0].contains("learning rate "), "{}", done[0]);
    let log = std::fs::read_to_string(run.join("train.log")).expect("train.log");
    for line in &done {
        assert!(log.contains(line), "{line} missing from train.log");
    }
}

/// A fresh run does not overwrite a directory that already holds one.
#[test]
fn a_new_run_never_overwrites_a_trained_one() {
    let Setup { dir, data, config } = setup(200, 512);
    let run = dir.path().join("run");
    train(dir.path(), &config, &data, &run, &["--epochs", "1"]);
    let weights = std::fs::read(run.join("model.bpk")).expect("weights");

    let output = run_in(
        dir.path(),
        &train_args(&config, &data, &run, &["--epochs", "1"]),
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("already holds a trained model"),
        "{message}"
    );
    assert!(message.contains("--resume"), "{message}");
    assert_eq!(
        std::fs::read(run.join("model.bpk")).expect("weights"),
        weights
    );

    // Nor does `data prepare` replace its tokenizer.
    let tokenizer = std::fs::read(run.join("tokenizer.json")).expect("tokenizer");
    let path = run.to_str().expect("UTF-8 path");
    let output = run_in(
        dir.path(),
        &["data", "prepare", "--data", "numbers.tsv", "--run", path],
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(stderr(&output).contains("already holds a trained model"));
    assert_eq!(
        std::fs::read(run.join("tokenizer.json")).expect("tokenizer"),
        tokenizer
    );
}

/// With a learning rate of about 1e-32 no weight moves, so the validation loss never gets
/// lower than epoch 1's: patience 1 ends the run after epoch 2 of the 5 asked.
#[test]
fn early_stopping_ends_a_run_whose_validation_loss_stops_falling() {
    let Setup { dir, data, .. } = setup(200, 512);
    let config = tiny_config(dir.path(), "frozen.json", |c| {
        c["data"]["max_tokens"] = 512.into();
        c["training"]["noam_factor"] = 1e-30.into();
        c["training"]["patience"] = 1.into();
    });
    let run = dir.path().join("run");
    let output = train(dir.path(), &config, &data, &run, &["--epochs", "5"]);

    let text = stdout(&output);
    assert!(text.contains("stopped early after epoch 2"), "{text}");
    let losses = loss_curve(&run, 2);
    assert_eq!(losses[0].1, losses[1].1, "the weights moved: {losses:?}");
    assert!(!run.join("valid/epoch-3").exists(), "epoch 3 ran");
    assert!(text.contains("best epoch 1 (by loss "), "{text}");
}
