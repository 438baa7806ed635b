//! Readers beside a writer: `infer`, `eval`, `attention` and `average` on a run that is
//! training are not blocked by its lock, and always find whole files — the last complete
//! `model.bpk` and complete checkpoints — because every file of a run is written to a
//! temporary file and renamed into place. What `eval` and `attention` write has a lock of
//! its own, per test file and per pictures directory: one process at a time writes it.

use std::path::Path;
use std::time::{Duration, Instant};

use transformer_mt::run::dir::lock_directory;

use super::common::{
    Setup, command, copy_model, path, run_in, setup, stderr, train, train_args, trained_numbers,
};

/// The arguments of `eval` of `run`'s test pairs and of `attention` into `pictures`.
fn eval_and_attention<'a>(run: &'a Path, pictures: &'a Path) -> [Vec<&'a str>; 2] {
    [
        vec!["eval", "--run", path(run), "--beam", "1"],
        vec![
            "attention",
            "--run",
            path(run),
            "--output",
            path(pictures),
            "seven",
        ],
    ]
}

/// Rounds of reading, each once the writer has begun a new epoch: files replaced between them.
const ROUNDS: usize = 3;

#[test]
fn infer_eval_attention_and_average_read_a_run_while_it_trains() {
    let Setup { dir, data, config } = setup(1500, 512);
    let run = dir.path().join("run");
    train(dir.path(), &config, &data, &run, &["--epochs", "1"]);
    // Far more epochs than the rounds need: the writer is still training at every round, and
    // is killed after the last.
    let mut writer = command(
        dir.path(),
        &train_args(&config, &data, &run, &["--epochs", "100", "--resume"]),
    )
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::null())
    .spawn()
    .expect("the binary starts");

    let pictures = dir.path().join("pictures");
    let [eval, attention] = eval_and_attention(&run, &pictures);
    for round in 0..ROUNDS {
        // Round r starts once epoch r + 2 has begun: the epoch before it ended, and was
        // checkpointed, since the round before.
        let epoch = run.join(format!("train/epoch-{}", round + 2));
        let deadline = Instant::now() + Duration::from_secs(600);
        while !epoch.exists() {
            assert!(
                Instant::now() < deadline,
                "no epoch {} after 10 minutes",
                round + 2
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert!(
            writer.try_wait().expect("waitable").is_none(),
            "training ended before round {round}"
        );
        let averaged = dir.path().join(format!("average-{round}"));
        let readers: [Vec<&str>; 4] = [
            vec!["infer", "--run", path(&run), "seven"],
            eval.clone(),
            attention.clone(),
            vec![
                "average",
                "--run",
                path(&run),
                "--last",
                "1",
                "--output",
                path(&averaged),
            ],
        ];
        for args in &readers {
            let output = run_in(dir.path(), args);
            assert!(
                output.status.success(),
                "{} while training, round {round}: {}",
                args[0],
                stderr(&output)
            );
        }
    }
    assert!(
        writer.try_wait().expect("waitable").is_none(),
        "training ended before the last round had read"
    );
    writer.kill().expect("SIGKILL");
    writer.wait().expect("reaped");
    let after = run_in(dir.path(), &["infer", "--run", path(&run), "seven"]);
    assert!(after.status.success(), "{}", stderr(&after));
}

#[test]
fn a_second_eval_or_attention_into_the_same_place_is_refused_naming_the_process() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = dir.path().join("run");
    copy_model(&trained_numbers().run, &run);
    let pictures = dir.path().join("pictures");
    // This test process holds the locks, as a running `eval` and `attention` would.
    let _eval =
        lock_directory(&run.join("eval"), "test.lock", "evaluated").expect("the eval lock is free");
    let _attention =
        lock_directory(&pictures, "attention.lock", "drawn into").expect("a new directory");
    let pid = std::process::id();
    let [eval, attention] = eval_and_attention(&run, &pictures);
    let test = run.join("test.tsv");
    let evaluated = format!("evaluated on {}", test.display());
    for (args, doing) in [(eval, evaluated.as_str()), (attention, "drawn into")] {
        let output = run_in(dir.path(), &args);
        assert!(!output.status.success(), "{} ran beside another", args[0]);
        let expected = format!("is being {doing} by process {pid}");
        assert!(stderr(&output).contains(&expected), "{}", stderr(&output));
    }
}
