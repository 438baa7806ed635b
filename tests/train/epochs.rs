//! Epochs drawn from the files by weight, with joined pairs added: what `train` says it draws,
//! and a run stopped and resumed that trains on what an uninterrupted one does.

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
    let batches: Vec<usize> = text
        .lines()
        .filter(|l| l.contains(" · train done ("))
        .filter_map(|l| {
            l.split(" · train done (")
                .nth(1)?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
        .collect();
    assert_eq!(batches.len(), 3, "{text}");
    let reference = loss_curve(&whole, 3);

    let stopped = dir.path().join("stopped");
    train_with(&stopped, &["--epochs", "1"]);
    assert!(
        train_with(&stopped, &["--epochs", "3", "--resume"]).contains("resuming after epoch 1")
    );
    for (epoch, (a, b)) in reference.iter().zip(loss_curve(&stopped, 3)).enumerate() {
        assert!(
            (a.0 - b.0).abs() < 1e-4 && (a.1 - b.1).abs() < 1e-4,
            "epoch {}: {a:?} vs {b:?}",
            epoch + 1
        );
    }
}
