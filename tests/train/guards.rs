//! Guards: a diverging loss stops the run without a checkpoint from it; bad settings are one
//! error naming the field.

use super::common::*;

/// A learning rate of about 1e30 drives the weights to infinity within a few steps: the run
/// stops with a message, exit 1, and writes neither a checkpoint nor weights.
#[test]
fn a_nan_or_infinite_loss_stops_the_run_and_saves_nothing_from_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = numbers(dir.path(), 1000);
    let config = tiny_config(dir.path(), "diverging.json", |c| {
        c["data"]["max_tokens"] = 512.into();
        c["training"]["noam_factor"] = 1e32.into();
        c["training"]["warmup_steps"] = 1.into();
        c["training"]["max_grad_norm"] = serde_json::Value::Null;
    });
    let run = dir.path().join("run");
    let output = run_in(
        dir.path(),
        &train_args(&config, &data, &run, &["--epochs", "2"]),
    );
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    let message = stderr(&output);
    assert!(message.contains("training stopped in epoch 1"), "{message}");
    assert!(
        message.contains("loss became NaN") || message.contains("loss became inf"),
        "{message}"
    );
    assert!(message.contains("No epoch finished"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    assert!(!run.join("model.bpk").exists());
    let checkpoints = std::fs::read_dir(run.join("checkpoint"))
        .map(|entries| entries.count())
        .unwrap_or(0);
    assert_eq!(
        checkpoints, 0,
        "a checkpoint was written from a diverged epoch"
    );
    assert!(
        !run.join("valid/epoch-1").exists(),
        "the diverged epoch was validated"
    );
}

#[test]
fn bad_training_settings_name_the_field() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = numbers(dir.path(), 100);
    let cases: [(&str, serde_json::Value, &str); 5] = [
        (
            "noam_factor",
            (-1.0).into(),
            "`training.noam_factor` must be a positive number",
        ),
        (
            "adam_beta_2",
            1.0.into(),
            "`training.adam_beta_2` must be in [0, 1)",
        ),
        ("epochs", 0.into(), "`training.epochs` must be at least 1"),
        (
            "label_smoothing",
            1.5.into(),
            "`training.label_smoothing` must be in [0, 1)",
        ),
        ("epoch", 3.into(), "unknown field `epoch`"),
    ];
    for (field, value, expected) in cases {
        let config = tiny_config(dir.path(), "bad.json", |c| c["training"][field] = value);
        let run = dir.path().join(format!("run-{field}"));
        let output = run_in(dir.path(), &train_args(&config, &data, &run, &[]));
        assert_eq!(output.status.code(), Some(1), "{field}");
        let message = stderr(&output);
        assert!(message.contains(expected), "{field}: {message}");
        assert!(message.contains("bad.json"), "{field}: {message}");
        assert!(!run.exists(), "{field}: a run directory was created");
    }
    let config = tiny_config(dir.path(), "heads.json", |c| {
        c["model"]["n_heads"] = 5.into()
    });
    let output = run_in(
        dir.path(),
        &train_args(&config, &data, &dir.path().join("heads"), &[]),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("`model.n_heads` must divide d_model"),
        "{}",
        stderr(&output)
    );
}
