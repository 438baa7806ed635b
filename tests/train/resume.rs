//! Checkpoints and resume: a run stopped (cleanly or by SIGKILL) and resumed ends with the
//! loss curve of a run that never stopped; a run killed before its first checkpoint starts
//! again; one process at a time trains a run; a resume with another configuration is refused.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use super::common::*;

const EPOCHS: usize = 3;

/// The progress lines a training run prints, up to their batch count: `epoch 2/3 · train
/// 40 % (12/30 batches)` or `epoch 2/3 · valid done (8 batches)`. A run resumed after epoch
/// `e` prints again, from epoch `e + 1`, the same lines as a run never stopped.
fn progress_events(stdout: &str) -> Vec<String> {
    stdout
        .lines()
        .filter(|line| line.starts_with("epoch "))
        .filter_map(|line| {
            let end = " batches)";
            line.find(end).map(|at| line[..at + end.len()].to_string())
        })
        .filter(|event| is_deterministic(event))
        .collect()
}

/// Whether a progress line comes at a fixed batch: the first, the end of a split, or the
/// first batch of each tenth. The renderer also writes a line after a minute of silence,
/// wherever a slow machine happens to be then: those are not events a test can wait for.
fn is_deterministic(event: &str) -> bool {
    if event.contains(" done (") {
        return true;
    }
    let Some(counts) = event
        .rsplit_once('(')
        .and_then(|(_, counts)| counts.strip_suffix(" batches)"))
        .and_then(|counts| counts.split_once('/'))
    else {
        return false;
    };
    let (Ok(done), Ok(total)) = (counts.0.parse::<usize>(), counts.1.parse::<usize>()) else {
        return false;
    };
    done == 1 || 10 * done / total > 10 * (done - 1) / total
}

/// Runs the binary with `args` until it prints a line starting with `event`, then SIGKILLs
/// it there: the kill lands by construction, at a moment the program itself announced.
/// Panics, with the process's standard error, when it ends without printing the event.
fn kill_at_event(dir: &Path, args: &[&str], event: &str) {
    let errors = tempfile::NamedTempFile::new_in(dir).expect("a file for standard error");
    let mut child = command(dir, args)
        .stdout(Stdio::piped())
        .stderr(errors.reopen().expect("reopened"))
        .spawn()
        .expect("the binary starts");
    let lines = BufReader::new(child.stdout.take().expect("piped"));
    let mut printed = Vec::new();
    for line in lines.lines() {
        let line = line.expect("UTF-8 standard output");
        if line.starts_with(event) {
            child.kill().expect("SIGKILL");
            child.wait().expect("reaped");
            return;
        }
        printed.push(line);
    }
    let status = child.wait().expect("reaped");
    panic!(
        "{args:?} ended ({status}) without printing {event:?}:\n{}\n{}",
        printed.join("\n"),
        std::fs::read_to_string(errors.path()).unwrap_or_default()
    );
}

#[test]
fn stopped_or_killed_and_resumed_runs_match_an_uninterrupted_one() {
    let Setup { dir, data, config } = setup(1500, 512);
    let epochs = EPOCHS.to_string();

    let whole = dir.path().join("whole");
    let output = train(dir.path(), &config, &data, &whole, &["--epochs", &epochs]);
    let reference = loss_curve(&whole, EPOCHS);
    assert!(reference[2].1 < reference[0].1, "{reference:?}");
    let epoch_2: Vec<String> = progress_events(&stdout(&output))
        .into_iter()
        .filter(|event| event.starts_with(&format!("epoch 2/{EPOCHS} · train ")))
        .filter(|event| !event.contains(" done ("))
        .collect();

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
    kill_at_event(
        dir.path(),
        &train_args(&config, &data, &killed, &["--epochs", &epochs]),
        &epoch_2[epoch_2.len() / 2],
    );
    assert!(killed.join("checkpoint/scheduler-1.bpk").exists());
    assert!(!killed.join("checkpoint/scheduler-2.bpk").exists());
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

/// SIGKILLed at 10 moments drawn at random (seeded) among the progress lines of a whole run —
/// while it trains a step, right after a split ends (while it validates, or writes a
/// checkpoint) — and resumed after each, a run ends with the loss curve of the run that was
/// never stopped, and every checkpoint it keeps and its `model.bpk` load.
#[test]
fn killed_at_ten_random_moments_and_resumed_ends_as_if_never_stopped() {
    use transformer_mt::data::random::SplitMix64;
    const KILLS: usize = 10;
    let Setup { dir, data, config } = setup(1500, 512);
    let epochs = EPOCHS.to_string();

    let whole = dir.path().join("whole");
    let output = train(dir.path(), &config, &data, &whole, &["--epochs", &epochs]);
    let reference = loss_curve(&whole, EPOCHS);
    let events = progress_events(&stdout(&output));
    assert!(
        events.len() >= 2 * KILLS,
        "{} progress lines: too few to draw {KILLS} kills from",
        events.len()
    );

    // Which events to kill at, drawn with the seed: distinct, in the order the run meets them.
    let mut rng = SplitMix64::new(18);
    let mut drawn = Vec::new();
    while drawn.len() < KILLS {
        let index = (rng.next_u64() % events.len() as u64) as usize;
        if !drawn.contains(&index) {
            drawn.push(index);
        }
    }
    drawn.sort_unstable();

    let run = dir.path().join("killed");
    let fresh = train_args(&config, &data, &run, &["--epochs", &epochs]);
    let resume = ["train", "--run", path(&run), "--resume"];
    for (kill, &index) in drawn.iter().enumerate() {
        // A run resumes from the epoch after its last whole checkpoint, so it prints every
        // later event again: each one drawn comes, in a first start or a resume.
        let args: &[&str] = if kill == 0 { &fresh } else { &resume };
        kill_at_event(dir.path(), args, &events[index]);
        assert!(
            !run.join("model.bpk").exists(),
            "kill {kill} at {:?} came after the export",
            events[index]
        );
    }
    let output = run_in(dir.path(), &resume);
    assert!(output.status.success(), "{}", stderr(&output));
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
    let mut child = start_long_training(dir.path(), &config, &data, &run);

    let holder = format!(
        "{} is being trained by process {}",
        run.display(),
        child.id()
    );
    for extra in [&["--resume"][..], &[]] {
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
        // The holder trains 50 epochs: had the second writer waited for the lock, it would
        // have returned only after the holder ended.
        assert!(
            child.try_wait().expect("waitable").is_none(),
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
    assert!(text.contains("best epoch 1 (by loss "), "{text}");
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
