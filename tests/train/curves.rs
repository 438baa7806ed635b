//! `transformer-mt curves`: learning curves of runs against hours of training.

use std::path::Path;
use std::time::{Duration, UNIX_EPOCH};

use transformer_mt::plot::curves::unix_seconds;

use super::common::*;

#[test]
fn burn_log_times_are_read_as_unix_seconds() {
    // `date -u -d 2026-11-30T10:09:17Z +%s` and `date -u -d 2000-02-29T12:00:00Z +%s`.
    assert_eq!(unix_seconds("2026-11-30T10:09:17Z"), Some(1_796_033_357.0));
    assert_eq!(unix_seconds("2000-02-29T12:00:00Z"), Some(951_825_600.0));
    assert_eq!(unix_seconds("1970-01-01T00:00:00.5Z"), Some(0.5));
    assert_eq!(unix_seconds("2026-11-30 10:09:17"), None);
}

/// A run directory as training leaves it, with epochs that began at `starts` (seconds) and
/// whose validation ended at `ends`, and these losses and BLEU.
fn fabricated_run(dir: &Path, starts: &[u64], ends: &[u64], metrics: &[(f64, f64)]) {
    let mut log = String::new();
    for (epoch, start) in starts.iter().enumerate() {
        let (date, time) = (start / 86_400, start % 86_400);
        assert_eq!(date, 20_423, "the fixture's times are all on 2025-12-01");
        log.push_str(&format!(
            "2025-12-01T{:02}:{:02}:{:02}.000000Z  INFO burn_train::learner: Executing training step for epoch {}\n",
            time / 3600,
            time % 3600 / 60,
            time % 60,
            epoch + 1
        ));
    }
    std::fs::create_dir_all(dir).expect("created");
    std::fs::write(dir.join("experiment.log"), log).expect("written");
    for (index, (end, (loss, bleu))) in ends.iter().zip(metrics).enumerate() {
        let epoch_dir = dir.join("valid").join(format!("epoch-{}", index + 1));
        std::fs::create_dir_all(&epoch_dir).expect("created");
        for (name, value) in [("Loss", loss), ("BLEU", bleu)] {
            let path = epoch_dir.join(format!("{name}.log"));
            std::fs::write(&path, format!("1.0,1\n{value},final\n")).expect("written");
            let file = std::fs::File::options()
                .write(true)
                .open(&path)
                .expect("open");
            file.set_modified(UNIX_EPOCH + Duration::from_secs(*end))
                .expect("mtime set");
        }
    }
}

#[test]
fn curves_count_the_hours_each_epoch_trained_and_draw_every_run() {
    let dir = tempfile::tempdir().expect("temporary directory");
    // 2025-12-01T00:00:00Z is 1764547200 s.
    let day = 1_764_547_200;
    // Epoch 1: 30 min; then a pause of 2 h (killed, resumed); epoch 2: 15 min.
    let a = dir.path().join("a");
    fabricated_run(
        &a,
        &[day, day + 3 * 3600],
        &[day + 1800, day + 3 * 3600 + 900],
        &[(5.0, 1.5), (4.0, 7.25)],
    );
    let b = dir.path().join("b");
    fabricated_run(&b, &[day + 60], &[day + 60 + 3600], &[(4.5, 3.0)]);

    let output = run_in(
        dir.path(),
        &["curves", "--run", path(&a), path(&b), "--output", "figure"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let rows: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("| a") || l.starts_with("| b"))
        .collect();
    assert_eq!(
        rows,
        [
            "| a | 1 | 0.50 | 5.0000 | 1.50 |",
            "| a | 2 | 0.75 | 4.0000 | 7.25 |",
            "| b | 1 | 1.00 | 4.5000 | 3.00 |",
        ],
        "{text}"
    );
    let png = dir.path().join("figure.png");
    let decoder = png::Decoder::new(std::io::BufReader::new(
        std::fs::File::open(&png).expect("figure.png written"),
    ));
    let info = decoder.read_info().expect("a PNG").info().clone();
    assert_eq!((info.width, info.height), (1280, 420));
    let svg = std::fs::read_to_string(dir.path().join("figure.svg")).expect("figure.svg");
    // Every text of the SVG is on a line of its own.
    for label in [
        "validation BLEU (sample, greedy)",
        "validation loss",
        "hours of training",
        "a",
        "b",
    ] {
        let line = format!("\n{label}\n");
        assert!(svg.contains(&line), "{label} missing from the SVG");
    }

    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("created");
    let output = run_in(dir.path(), &["curves", "--run", path(&empty)]);
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("no epoch logged"),
        "{}",
        stderr(&output)
    );
}
