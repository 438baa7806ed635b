//! Data-parallel training on Burn's multi-device engine (`train --devices 2`). On a CPU
//! backend the two workers share the CPU: the run trains, validates, checkpoints and resumes,
//! and its loss falls per optimiser step as the single-device run's does.

use super::common::*;

#[test]
fn two_devices_train_validate_checkpoint_and_resume_like_one() {
    let Setup { dir, data, config } = setup(1500, 512);

    let one = dir.path().join("one");
    train(dir.path(), &config, &data, &one, &["--epochs", "2"]);

    // Two epochs, then two more after a resume: a step of two devices takes two batches, so
    // four epochs on two devices take the optimiser steps of two on one.
    let two = dir.path().join("two");
    let output = train(
        dir.path(),
        &config,
        &data,
        &two,
        &["--epochs", "2", "--devices", "2"],
    );
    assert!(
        stdout(&output).contains("(2 devices, data-parallel)"),
        "{}",
        stdout(&output)
    );
    let output = train(
        dir.path(),
        &config,
        &data,
        &two,
        &["--epochs", "4", "--devices", "2", "--resume"],
    );
    assert!(
        stdout(&output).contains("resuming after epoch 2"),
        "{}",
        stdout(&output)
    );

    let one_curve = loss_curve(&one, 2);
    let two_curve = loss_curve(&two, 4);
    for epoch in 1..4 {
        assert!(
            two_curve[epoch].1 < two_curve[epoch - 1].1,
            "validation loss did not fall: {two_curve:?}"
        );
    }
    let (one_loss, two_loss) = (one_curve[1].1, two_curve[3].1);
    // Each step of two devices sums the gradients of two batches: as good a step or better.
    assert!(
        two_loss < 1.05 * one_loss,
        "after the same optimiser steps: one device {one_loss}, two {two_loss}"
    );
    // Every batch of an epoch was trained on, by one worker or the other.
    let batches = |run: &std::path::Path, epoch: usize| {
        std::fs::read_to_string(run.join(format!("train/epoch-{epoch}/Loss.log")))
            .expect("training loss log")
            .lines()
            .count()
    };
    assert_eq!(batches(&two, 4), batches(&one, 2));
    assert!(two.join("checkpoint/model-4.bpk").is_file());
    let output = run_in(
        dir.path(),
        &["infer", "--run", path(&two), "--beam", "1", "one hundred"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
}
