//! Epochs drawn from the files by weight, with joined pairs and pairs with invented names
//! added: what `train` says it draws, a run stopped and resumed that trains on what an
//! uninterrupted one does, and a schedule continued across runs.

use super::common::*;

/// 150 + 50 pairs an epoch drawn from two files weighed 3 : 1, plus half as many joined
/// pairs: `train` says so, and a run stopped after epoch 1 and resumed ends with the loss
/// curve of one never stopped.
#[test]
fn drawn_epochs_with_joined_pairs_resume_exactly() {
    let Setup { dir, data, .. } = setup(1200, 512);
    let files = split_lines(
        dir.path(),
        &data,
        &[("first.tsv", 0..800), ("second.tsv", 800..1200)],
    );
    let (first, second) = (&files[0], &files[1]);
    let config = tiny_config(dir.path(), "drawn.json", |c| {
        c["data"]["max_tokens"] = 512.into();
        c["data"]["epoch_pairs"] = 200.into();
        c["data"]["weights"] = serde_json::json!({ path(first): 3, path(second): 1 });
        c["data"]["concatenate"] = serde_json::json!({ "share": 0.5, "max_pairs": 3 });
        c["training"]["patience"] = serde_json::Value::Null;
    });
    let train_with = |run: &std::path::Path, extra: &[&str]| {
        let output = train_files(dir.path(), &config, &files, run, extra);
        assert!(
            output.status.success(),
            "{}\n{}",
            stdout(&output),
            stderr(&output)
        );
        stdout(&output)
    };

    let whole = dir.path().join("whole");
    let text = train_with(&whole, &["--epochs", "3"]);
    assert!(
        text.contains(&format!(
            "each epoch draws 200 training pairs: {} 150 of ",
            path(first)
        )) && text.contains(&format!(", {} 50 of ", path(second))),
        "{text}"
    );
    assert!(
        text.contains("each epoch adds 50 % joined pairs of 2 to 3 pairs of one file"),
        "{text}"
    );
    assert_eq!(trained_batches(&text).len(), 3, "{text}");
    let reference = loss_curve(&whole, 3);

    let stopped = dir.path().join("stopped");
    train_with(&stopped, &["--epochs", "1"]);
    assert!(
        train_with(&stopped, &["--epochs", "3", "--resume"]).contains("resuming after epoch 1")
    );
    assert_same_curve(&reference, &loss_curve(&stopped, 3), "stopped and resumed");
}

/// Pairs with invented names, half as many as an epoch's pairs, made from the pairs that carry
/// a name over ("Tom" on both sides): `train` says so, an epoch has more batches than the same
/// run's without them, and a run stopped after epoch 1 and resumed ends with the loss curve of
/// one never stopped (the names drawn are a function of the epoch).
#[test]
fn epochs_with_invented_names_add_batches_and_resume_exactly() {
    let Setup { dir, data, .. } = setup(400, 512);
    let names = dir.path().join("names.tsv");
    let lines: Vec<String> = (0..200)
        .map(|i| format!("I met Tom {i} times.\tEncontrei o Tom {i} vezes."))
        .collect();
    std::fs::write(&names, lines.join("\n") + "\n").expect("writable");
    let files = [data, names];
    let config = |share: f64| {
        tiny_config(dir.path(), &format!("names-{share}.json"), |c| {
            c["data"]["max_tokens"] = 512.into();
            c["data"]["names"] = serde_json::json!({ "share": share });
            c["training"]["patience"] = serde_json::Value::Null;
        })
    };
    let train_with = |config: &std::path::Path, run: &std::path::Path, extra: &[&str]| {
        let output = train_files(dir.path(), config, &files, run, extra);
        assert!(
            output.status.success(),
            "{}\n{}",
            stdout(&output),
            stderr(&output)
        );
        stdout(&output)
    };
    let (without, with) = (config(0.0), config(0.5));
    let plain = train_with(&without, &dir.path().join("plain"), &["--epochs", "1"]);
    assert!(!plain.contains("invented"), "{plain}");
    let whole = dir.path().join("whole");
    let text = train_with(&with, &whole, &["--epochs", "2"]);
    assert!(
        text.contains(
            "each epoch adds 50 % pairs whose carried-over names are replaced by invented ones"
        ),
        "{text}"
    );
    let (plain_batches, batches) = (trained_batches(&plain), trained_batches(&text));
    assert!(
        batches[0] > plain_batches[0],
        "{batches:?} against {plain_batches:?}"
    );
    let reference = loss_curve(&whole, 2);

    let stopped = dir.path().join("stopped");
    train_with(&with, &stopped, &["--epochs", "1"]);
    train_with(&with, &stopped, &["--epochs", "2", "--resume"]);
    assert_same_curve(&reference, &loss_curve(&stopped, 2), "stopped and resumed");
}

/// A run says the step its schedule stands at; one started from it with that
/// `training.start_step` goes on from there: its first learning rate is the paper's formula
/// (eq. 3) at the next step, worked out here, not the warm-up's first.
#[test]
fn a_run_started_from_another_continues_its_schedule() {
    let Setup { dir, data, config } = setup(600, 512);
    let first = dir.path().join("first");
    let text = stdout(&train(
        dir.path(),
        &config,
        &data,
        &first,
        &["--epochs", "1"],
    ));
    let [batches] = trained_batches(&text)[..] else {
        panic!("not one end of the training split in {text}");
    };
    let line = format!(
        "schedule at step {batches}: a run continued from this one with --init-from takes `training.start_step` {batches}"
    );
    assert!(text.contains(&line), "{text}");

    let continued = tiny_config(dir.path(), "continued.json", |c| {
        c["data"]["max_tokens"] = 512.into();
        c["training"]["start_step"] = batches.into();
    });
    let second = dir.path().join("second");
    let text = stdout(&train(
        dir.path(),
        &continued,
        &data,
        &second,
        &["--epochs", "1", "--init-from", path(&first)],
    ));
    let rates = std::fs::read_to_string(second.join("train/epoch-1/Learning_Rate.log"))
        .expect("the learning rates of the epoch");
    let first_rate: f64 = rates
        .lines()
        .next()
        .and_then(|l| l.split(',').next())
        .and_then(|v| v.parse().ok())
        .expect("a learning rate");
    // config/tiny.json: noam_factor 2, d_model 64, warmup_steps 200.
    let step = (batches + 1) as f64;
    let expected = 2.0 * 64f64.powf(-0.5) * f64::min(step.powf(-0.5), step * 200f64.powf(-1.5));
    assert!(
        (first_rate - expected).abs() < 1e-9 * expected,
        "{first_rate} vs {expected}"
    );
    assert!(
        text.contains(&format!("schedule at step {}", 2 * batches)),
        "{text}"
    );
    assert!(
        text.contains(&format!("(fresh optimiser, schedule from step {batches})")),
        "{text}"
    );
}
