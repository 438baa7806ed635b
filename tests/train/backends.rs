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
            &[
                "--epochs",
                "1",
                "--backend",
                backend.name(),
                "--threads",
                "1",
            ],
        );
        // `--threads 1` as the backend itself counts its threads; wgpu computes on its adapter.
        let threads = match backend {
            Backend::Wgpu => "",
            _ => ", 1 CPU thread",
        };
        assert!(
            stdout(&output).contains(&format!("on {}{threads}; run directory", backend.name())),
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

/// Without `--threads` a CPU backend computes on every core; `--threads 0` is refused, naming
/// the option, before anything is written.
#[test]
fn cpu_threads_default_to_every_core() {
    let Setup { dir, data, config } = setup(200, 512);
    let backend = transformer_mt::backend::Backend::Flex;
    let run = dir.path().join("all-cores");
    let output = train(
        dir.path(),
        &config,
        &data,
        &run,
        &["--epochs", "1", "--backend", backend.name()],
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let threads = match cores {
        1 => ", 1 CPU thread".to_string(),
        n => format!(", {n} CPU threads"),
    };
    assert!(
        stdout(&output).contains(&format!("on flex{threads}; run directory")),
        "{}",
        stdout(&output)
    );
    let refused = dir.path().join("refused");
    let output = run_in(
        dir.path(),
        &train_args(&config, &data, &refused, &["--threads", "0"]),
    );
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    assert!(stderr(&output).contains("--threads"), "{}", stderr(&output));
    assert!(!refused.exists(), "nothing is written");
}
