//! Every backend compiled into this build trains: a few steps of `config/tiny.json`.

use transformer_mt::backend::Backend;

use super::common::*;

#[test]
fn every_compiled_backend_trains_a_few_steps() {
    let Setup { dir, data, config } = setup(200, 512);
    for backend in Backend::runnable() {
        let run = dir.path().join(backend.name());
        let output = train(
            dir.path(),
            &config,
            &data,
            &run,
            &["--epochs", "1", "--backend", backend.name()],
        );
        assert!(
            stdout(&output).contains(&format!("on {}", backend.name())),
            "{}",
            stdout(&output)
        );
        // The plain progress lines start with the first batch.
        assert!(
            stdout(&output)
                .lines()
                .any(|l| l.starts_with("epoch 1/1 · train") && l.contains(" % (1/")),
            "{}",
            stdout(&output)
        );
        let (train_loss, valid_loss) = loss_curve(&run, 1)[0];
        assert!(
            train_loss.is_finite() && valid_loss.is_finite(),
            "{backend}: losses {train_loss} {valid_loss}"
        );
        let batches = std::fs::read_to_string(run.join("train/epoch-1/Loss.log"))
            .expect("training loss log")
            .lines()
            .count()
            - 1;
        assert!(batches >= 3, "{backend}: only {batches} steps");
        assert!(run.join("model.bpk").is_file(), "{backend}: no weights");
    }
}
