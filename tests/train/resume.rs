//! Checkpoints and resume: a run stopped (cleanly or by SIGKILL) and resumed ends with the
//! loss curve of a run that never stopped; a run killed before its first checkpoint starts
//! again; one process at a time trains a run; a resume with another configuration is refused.

use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::common::*;

const EPOCHS: usize = 3;

/// Curves equal to 1e-4, epoch by epoch, training and validation.
fn assert_same_curve(a: &[(f64, f64)], b: &[(f64, f64)], what: &str) {
    assert_eq!(a.len(), b.len());
    for (epoch, (x, y)) in a.iter().zip(b).enumerate() {
        assert!(
            (x.0 - y.0).abs() < 1e-4 && (x.1 - y.1).abs() < 1e-4,
            "{what}: epoch {} losses {x:?} vs {y:?}",
            epoch + 1
        );
    }
}

#[test]
fn stopped_or_killed_and_resumed_runs_match_an_uninterrupted_one() {
    let Setup { dir, data, config } = setup(1500, 512);
    let epochs = EPOCHS.to_string();

    let whole = dir.path().join("whole");
    train(dir.path(), &config, &data, &whole, &["--epochs", &epochs]);
    let reference = loss_curve(&whole, EPOCHS);
    assert!(reference[2].1 < reference[0].1, "{reference:?}");

    // Stopped after one epoch, resumed with the same configuration file and more epochs.
    let stopped = dir.path().join("stopped");
    train(dir.path(), &config, &data, &stopped, &["--epochs", "1"]);
    let output = train(
        dir.path(),
        &config,
        &data,
        &stopped,
        &["--epochs", &epochs, "--resume"],
    );
    assert!(
        stdout(&output).contains("resuming after epoch 1"),
        "{}",
        stdout(&output)
    );
    assert_same_curve(
        &reference,
        &loss_curve(&stopped, EPOCHS),
        "stopped and resumed",
    );

    // Killed with SIGKILL in the middle of epoch 2, then resumed with the run's own config.
    let killed = dir.path().join("killed");
    let mut child = command(
        dir.path(),
        &train_args(&config, &data, &killed, &["--epochs", &epochs]),
    )
    .stdout(std::process::Stdio::null())
    .spawn()
    .expect("the binary starts");
    let first = killed.join("checkpoint/scheduler-1.bpk");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !first.exists() {
        assert!(Instant::now() < deadline, "no checkpoint after 5 minutes");
        assert!(
            child.try_wait().expect("waitable").is_none(),
            "finished before the kill"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    std::thread::sleep(Duration::from_millis(700));
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(!killed.join("model.bpk").exists(), "killed before the end");
    let resume = run_in(
        dir.path(),
        &[
            "train",
            "--run",
            killed.to_str().expect("UTF-8"),
            "--resume",
        ],
    );
    assert!(resume.status.success(), "{}", stderr(&resume));
    assert_same_curve(
        &reference,
        &loss_curve(&killed, EPOCHS),
        "killed and resumed",
    );
}

/// SIGKILLed at 10 moments drawn at random (seeded) within half the time a whole run takes —
/// while it prepares its data, trains a step, validates, or writes a checkpoint or
/// `model.bpk` — and resumed after each, a run ends with the loss curve of the run that was
/// never stopped, and every checkpoint it keeps and its `model.bpk` load.
#[test]
fn killed_at_ten_random_moments_and_resumed_ends_as_if_never_stopped() {
    use transformer_mt::data::random::SplitMix64;
    let Setup { dir, data, config } = setup(1500, 512);
    let epochs = EPOCHS.to_string();

    let whole = dir.path().join("whole");
    let started = Instant::now();
    train(dir.path(), &config, &data, &whole, &["--epochs", &epochs]);
    let span = started.elapsed().as_millis() as u64;
    let reference = loss_curve(&whole, EPOCHS);

    let run = dir.path().join("killed");
    let fresh = train_args(&config, &data, &run, &["--epochs", &epochs]);
    let resume = ["train", "--run", path(&run), "--resume"];
    let mut rng = SplitMix64::new(18);
    let mut kills = 0;
    while kills < 10 {
        // A kill that lands after `model.bpk` is written, while the process exits, finds a
        // complete run: resuming it would be refused as having no epoch left.
        if run.join("model.bpk").exists() {
            break;
        }
        let args: &[&str] = match run.join("config.json").exists() {
            true => &resume,
            false => &fresh,
        };
        let mut child = command(dir.path(), args)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        // Within half a whole run: most moments fall before the next checkpoint, some after,
        // so that the run moves on, slowly, through every part of an epoch.
        let moment = Duration::from_millis(rng.next_u64() % (span / 2));
        let deadline = Instant::now() + moment;
        while Instant::now() < deadline && child.try_wait().expect("waitable").is_none() {
            std::thread::sleep(Duration::from_millis(5));
        }
        if let Some(status) = child.try_wait().expect("waitable") {
            // Finished before its moment came: the run is complete.
            let output = child.wait_with_output().expect("reaped");
            assert!(status.success(), "{}", stderr(&output));
            break;
        }
        child.kill().expect("SIGKILL");
        child.wait().expect("reaped");
        kills += 1;
    }
    if !run.join("model.bpk").exists() {
        let output = run_in(dir.path(), &resume);
        assert!(output.status.success(), "{}", stderr(&output));
    }
    assert!(
        kills >= 5,
        "only {kills} kills landed: the run is too short to test"
    );
    assert_same_curve(&reference, &loss_curve(&run, EPOCHS), "killed and resumed");

    // Killed after its last checkpoint, before exporting its weights: a resume exports them.
    std::fs::remove_file(run.join("model.bpk")).expect("model.bpk removed");
    let output = run_in(dir.path(), &resume);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stdout(&output).contains("no epoch left to train"),
        "{}",
        stdout(&output)
    );
    assert!(run.join("model.bpk").is_file());

    // Every file is whole: the weights translate, and each kept checkpoint averages (loads).
    let output = run_in(
        dir.path(),
        &["infer", "--run", path(&run), "--beam", "1", "one hundred"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    for epoch in 1..=EPOCHS {
        if !run.join(format!("checkpoint/model-{epoch}.bpk")).exists() {
            continue;
        }
        let output = dir.path().join(format!("epoch-{epoch}"));
        let averaged = run_in(
            dir.path(),
            &[
                "average",
                "--run",
                path(&run),
                "--epochs",
                &epoch.to_string(),
                "--output",
                path(&output),
            ],
        );
        assert!(averaged.status.success(), "{}", stderr(&averaged));
    }
}

#[test]
fn a_resume_with_another_configuration_is_refused_naming_the_fields() {
    let Setup { dir, data, config } = setup(1500, 512);
    let run = dir.path().join("run");
    train(dir.path(), &config, &data, &run, &["--epochs", "1"]);
    let before = std::fs::read(run.join("config.json")).expect("config");

    let other = tiny_config(dir.path(), "other.json", |c| {
        c["data"]["max_tokens"] = 512.into();
        c["model"]["d_model"] = 32.into();
        c["training"]["label_smoothing"] = 0.2.into();
    });
    let output = run_in(
        dir.path(),
        &train_args(&other, &data, &run, &["--epochs", "2", "--resume"]),
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("model.d_model (run: 64, given: 32)"),
        "{message}"
    );
    assert!(
        message.contains("training.label_smoothing (run: 0.1, given: 0.2)"),
        "{message}"
    );
    assert!(!message.contains("training.epochs"), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    assert_eq!(
        std::fs::read(run.join("config.json")).expect("config"),
        before
    );
    assert!(!run.join("train/epoch-2").exists(), "nothing trained");
}

#[test]
fn resume_of_a_run_that_never_started_says_so() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = dir.path().join("nothing");
    let output = run_in(
        dir.path(),
        &["train", "--run", run.to_str().expect("UTF-8"), "--resume"],
    );
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message
            .contains("nothing: nothing to resume: no training run of transformer-mt started here"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
}

/// Starts `train` on `run` for many epochs and waits until its first epoch is training,
/// before any checkpoint: the run's lock is held and its configuration written.
fn start_long_training(dir: &Path, config: &Path, data: &Path, run: &Path) -> Child {
    let mut child = command(dir, &train_args(config, data, run, &["--epochs", "50"]))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let deadline = Instant::now() + Duration::from_secs(300);
    while !run.join("train/epoch-1").exists() {
        assert!(Instant::now() < deadline, "no training after 5 minutes");
        assert!(
            child.try_wait().expect("waitable").is_none(),
            "train ended before its first epoch"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
    child
}

/// SIGKILL, before the first checkpoint (else the test would prove nothing).
fn kill_before_first_checkpoint(mut child: Child, run: &Path) {
    child.kill().expect("SIGKILL");
    child.wait().expect("reaped");
    assert!(
        !run.join("checkpoint/scheduler-1.bpk").exists(),
        "epoch 1 was saved before the kill: give the test a longer epoch"
    );
}

/// While a run trains, a second `train` on it (resumed or fresh) is refused at once,
/// naming the process that holds it; killed before its first checkpoint, the run is
/// trained again from its beginning by `train --resume`, the lock gone with the process.
#[test]
fn a_second_writer_is_refused_and_a_run_killed_before_its_first_checkpoint_resumes() {
    let Setup { dir, data, config } = setup(4000, 512);
    let run = dir.path().join("run");
    let child = start_long_training(dir.path(), &config, &data, &run);

    let holder = format!(
        "{} is being trained by process {}",
        run.display(),
        child.id()
    );
    for extra in [&["--resume"][..], &[]] {
        let started = Instant::now();
        let output = run_in(dir.path(), &train_args(&config, &data, &run, extra));
        assert_eq!(
            output.status.code(),
            Some(1),
            "{extra:?}: {}",
            stderr(&output)
        );
        let message = stderr(&output);
        assert_eq!(message.lines().count(), 1, "{message}");
        assert!(message.contains(&holder), "{extra:?}: {message}");
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "{extra:?}: the second writer waited for the lock"
        );
    }
    kill_before_first_checkpoint(child, &run);

    let output = run_in(
        dir.path(),
        &[
            "train",
            "--run",
            run.to_str().expect("UTF-8"),
            "--resume",
            "--epochs",
            "1",
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains(
            "no epoch was saved before the run stopped: training it again from the beginning"
        ),
        "{text}"
    );
    assert!(text.contains("best epoch 1 (by loss)"), "{text}");
    assert!(run.join("model.bpk").is_file());
    assert!(!run.join("train/epoch-2").exists(), "{text}");
}

/// A plain `train` on a run killed before its first checkpoint starts it afresh: there is
/// no trained model to protect.
#[test]
fn a_fresh_start_over_a_run_that_saved_nothing_trains_it() {
    let Setup { dir, data, config } = setup(4000, 512);
    let run = dir.path().join("run");
    let child = start_long_training(dir.path(), &config, &data, &run);
    kill_before_first_checkpoint(child, &run);

    let output = train(dir.path(), &config, &data, &run, &["--epochs", "1"]);
    let text = stdout(&output);
    assert!(
        text.contains("an earlier start saved no epoch: starting afresh"),
        "{text}"
    );
    assert!(run.join("model.bpk").is_file());
}

/// A checkpoint from another model, or a damaged one, is one error naming the file: Burn,
/// which would panic on it, is never handed it.
#[test]
fn a_foreign_or_damaged_checkpoint_is_refused_naming_it() {
    let Setup { dir, data, config } = setup(300, 512);
    let run = dir.path().join("run");
    train(dir.path(), &config, &data, &run, &["--epochs", "1"]);
    let smaller = tiny_config(dir.path(), "smaller.json", |c| {
        c["data"]["max_tokens"] = 512.into();
        c["model"]["d_model"] = 32.into();
    });
    let other = dir.path().join("other");
    train(dir.path(), &smaller, &data, &other, &["--epochs", "1"]);

    let saved_config = std::fs::read(run.join("config.json")).expect("config");
    let checkpoint = run.join("checkpoint/model-1.bpk");
    let own = std::fs::read(&checkpoint).expect("checkpoint");
    std::fs::copy(other.join("checkpoint/model-1.bpk"), &checkpoint).expect("copied");
    let resume = [
        "train",
        "--run",
        run.to_str().expect("UTF-8"),
        "--resume",
        "--epochs",
        "2",
    ];
    let output = run_in(dir.path(), &resume);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("model-1.bpk: does not fit this model"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");

    std::fs::write(&checkpoint, own).expect("restored");
    std::fs::write(run.join("checkpoint/optim-1.bpk"), b"not a checkpoint").expect("written");
    let output = run_in(dir.path(), &resume);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert!(
        message.contains("optim-1.bpk: unreadable optimiser checkpoint"),
        "{message}"
    );
    assert!(!message.contains("panicked"), "{message}");
    assert!(!run.join("train/epoch-2").exists(), "nothing trained");
    assert_eq!(
        std::fs::read(run.join("config.json")).expect("config"),
        saved_config,
        "a refused resume rewrote config.json"
    );
}
