//! `train` validates each corpus file's held-out part and each `--valid FILE` as sets of their
//! own, logs their perplexity and BLEU every epoch, and `training.select_by` can name one.

use super::common::*;

/// Two corpus files and a dev file validated whole: each is a set with its own metrics, the
/// sets' pair counts add up to the split's, the pooled perplexity lies between theirs, and
/// `select_by: "bleu:dev"` exports the epoch of dev's best BLEU.
#[test]
fn each_set_is_validated_on_its_own_and_can_pick_the_best_epoch() {
    let Setup { dir, data, .. } = setup(1200, 1024);
    let [first, second, dev] = split_lines(
        dir.path(),
        &data,
        &[
            ("first.eng-por.tsv", 0..600),
            ("second.tsv", 600..1150),
            ("dev.eng-por.dev.tsv", 1150..1200),
        ],
    )
    .try_into()
    .expect("three files");
    let config = tiny_config(dir.path(), "sets.json", |c| {
        c["data"]["max_tokens"] = 1024.into();
        c["training"]["bleu_sample"] = 16.into();
        c["training"]["select_by"] = "bleu:dev".into();
        c["training"]["patience"] = serde_json::Value::Null;
    });
    let run = dir.path().join("run");
    let output = train_files(
        dir.path(),
        &config,
        &[first, second],
        &run,
        &["--valid", path(&dev), "--epochs", "3"],
    );
    let text = stdout(&output);
    assert!(output.status.success(), "{text}\n{}", stderr(&output));

    let counts = text
        .lines()
        .find_map(|l| l.strip_prefix("validation sets (pairs): "))
        .unwrap_or_else(|| panic!("no validation sets line in {text}"));
    let counts: Vec<(&str, usize)> = counts
        .split(", ")
        .map(|set| {
            let (name, count) = set.split_once(' ').expect("NAME COUNT");
            (name, count.parse().expect("a count"))
        })
        .collect();
    let names: Vec<&str> = counts.iter().map(|(name, _)| *name).collect();
    assert_eq!(names, ["first", "second", "dev"]);
    assert_eq!(counts[2].1, 50, "the dev file is validated whole");
    let held_out = text
        .lines()
        .find_map(|l| l.strip_prefix("split: "))
        .and_then(|l| l.split(" train, ").nth(1))
        .and_then(|l| l.split(' ').next())
        .and_then(|n| n.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no split line in {text}"));
    assert_eq!(counts[0].1 + counts[1].1, held_out);

    for epoch in 1..=3 {
        let pooled = epoch_metric(&run, "valid", epoch, "Perplexity");
        let each: Vec<f64> = names
            .iter()
            .map(|set| epoch_metric(&run, "valid", epoch, &format!("Perplexity_{set}")))
            .collect();
        let (low, high) = each
            .iter()
            .fold((f64::MAX, f64::MIN), |(l, h), &p| (l.min(p), h.max(p)));
        assert!(
            low * (1.0 - 1e-9) <= pooled && pooled <= high * (1.0 + 1e-9),
            "epoch {epoch}: pooled {pooled}, sets {each:?}"
        );
        assert!(low < high, "three sets of one perplexity: {each:?}");
    }
    let dev_bleu: Vec<f64> = (1..=3)
        .map(|epoch| epoch_metric(&run, "valid", epoch, "BLEU_dev"))
        .collect();
    let best = (1..=3)
        .rev()
        .max_by(|&a, &b| dev_bleu[a - 1].total_cmp(&dev_bleu[b - 1]))
        .expect("three epochs");
    assert!(
        text.contains(&format!(
            "best epoch {best} (by BLEU of dev {:.4})",
            dev_bleu[best - 1]
        )),
        "{dev_bleu:?}\n{text}"
    );
    assert!(text.contains("· bleu dev "), "{text}");
    assert!(text.contains("· perplexity first "), "{text}");
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).expect("config"))
            .expect("JSON");
    assert_eq!(saved["data"]["valid"][0], path(&dev));
    assert_eq!(saved["training"]["select_by"], "bleu:dev");
}

/// A `select_by` naming a set the run does not have, or the loss of one set, is refused
/// before anything is written, naming the field and the sets there are.
#[test]
fn a_selection_of_an_unknown_set_is_refused() {
    let Setup { dir, data, .. } = setup(300, 512);
    let unknown = tiny_config(dir.path(), "unknown.json", |c| {
        c["training"]["select_by"] = "bleu:news".into();
    });
    let run = dir.path().join("run");
    let output = run_in(dir.path(), &train_args(&unknown, &data, &run, &[]));
    assert_eq!(output.status.code(), Some(1), "{}", stdout(&output));
    assert!(
        stderr(&output).contains(
            "`training.select_by` names the validation set `news`, which this run does not have"
        ) && stderr(&output).contains("its sets: numbers"),
        "{}",
        stderr(&output)
    );
    assert!(!run.join("tokenizer.json").exists());
    assert!(!run.join("config.json").exists());

    let loss = tiny_config(dir.path(), "loss.json", |c| {
        c["training"]["select_by"] = "loss:numbers".into();
    });
    let output = run_in(dir.path(), &train_args(&loss, &data, &run, &[]));
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("loss.json")
            && stderr(&output)
                .contains("`training.select_by`: \"loss:numbers\": the loss is over all sets"),
        "{}",
        stderr(&output)
    );
}
