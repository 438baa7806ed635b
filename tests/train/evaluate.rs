//! `transformer-mt eval` on a trained run, and the BLEU the training reports.

use super::common::*;
use transformer_mt::eval::read_lines;
use transformer_mt::eval::sacrebleu::corpus_scores;

/// The scores of the text lines `eval` prints: `(BLEU, chrF)`, as printed.
fn printed_scores(text: &str) -> (String, String) {
    let score = |metric: &str| -> String {
        let line = text
            .lines()
            .find(|l| l.trim_start().starts_with(metric))
            .unwrap_or_else(|| panic!("no {metric} line in {text}"));
        let after = line.split(" = ").nth(1).expect("` = ` in the line");
        after
            .split_whitespace()
            .next()
            .expect("a score")
            .to_string()
    };
    (score("BLEU|"), score("chrF2|"))
}

/// `eval --run` translates the 1065 held-out pairs, writes sources, references and
/// translations line by line under `eval/`, and prints scores that equal those of the files
/// it wrote (so `sacrebleu` on them gives the same); the 10-epoch model scores above 90 BLEU.
#[test]
fn eval_translates_the_test_split_writes_it_and_scores_it() {
    let trained = trained_numbers();
    let run = &trained.run;
    let output = run_in(run, &["eval", "--run", path(run), "--beam", "1"]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    assert!(
        text.contains("BLEU|nrefs:1|case:mixed|eff:no|tok:13a|smooth:exp|version:2.6.0 = "),
        "{text}"
    );
    assert!(
        text.contains("chrF2|nrefs:1|case:mixed|eff:yes|nc:6|nw:0|space:no|version:2.6.0 = "),
        "{text}"
    );

    let dir = run.join("eval");
    let [src, reference, hyp] = ["src", "ref", "hyp"].map(|e| dir.join(format!("test.{e}")));
    let test_pairs = std::fs::read_to_string(run.join("test.tsv")).expect("test.tsv");
    let (sources, targets): (Vec<&str>, Vec<&str>) = test_pairs
        .lines()
        .map(|l| l.split_once('\t').expect("a pair"))
        .unzip();
    assert_eq!(read_lines(&src).expect("sources"), sources);
    assert_eq!(read_lines(&reference).expect("references"), targets);
    let hypotheses = read_lines(&hyp).expect("translations");
    assert_eq!(hypotheses.len(), 1065);

    let scores = corpus_scores(
        &hypotheses,
        &[targets.iter().map(|t| t.to_string()).collect()],
    );
    let (bleu, chrf) = printed_scores(&text);
    assert_eq!(bleu, format!("{:.1}", scores.bleu.score));
    assert_eq!(chrf, format!("{:.1}", scores.chrf));
    assert!(scores.bleu.score > 90.0 && scores.chrf > 90.0, "{text}");

    let rescored = run_in(
        run,
        &["eval", "--hyp", path(&hyp), "--ref", path(&reference)],
    );
    assert_eq!(stdout(&rescored), text, "{}", stderr(&rescored));
}

/// `eval --test FILE` scores any pair file: a perfect system's references give 100, and
/// `--json` prints sacreBLEU's JSON.
#[test]
fn eval_of_a_pair_file_and_as_json() {
    let trained = trained_numbers();
    let dir = tempfile::tempdir().expect("temporary directory");
    let pairs = dir.path().join("few.tsv");
    std::fs::write(
        &pairs,
        "one hundred\tcem\nthree thousand\ttrês mil\ntwenty-two\tvinte e dois\n",
    )
    .expect("writable");
    let json = eval_json(dir.path(), &trained.run, &pairs, &[]);
    assert_eq!(json[0]["name"], "BLEU");
    assert_eq!(json[0]["tok"], "13a");
    assert_eq!(json[1]["name"], "chrF2");
    let written = read_lines(&trained.run.join("eval/few.ref")).expect("few.ref");
    assert_eq!(written, ["cem", "três mil", "vinte e dois"]);
    let hypotheses = read_lines(&trained.run.join("eval/few.hyp")).expect("few.hyp");
    let scores = corpus_scores(&hypotheses, &[written]);
    let printed = json[0]["score"].as_f64().expect("a score");
    assert_eq!(format!("{printed:.1}"), format!("{:.1}", scores.bleu.score));
}

/// Every epoch logs the validation BLEU of its sample; it rises with training, and training
/// prints it; the one validation set's BLEU and perplexity are the same as all sets'.
#[test]
fn training_reports_validation_bleu_every_epoch() {
    let trained = trained_numbers();
    let bleu: Vec<f64> = (1..=TRAINED_EPOCHS)
        .map(|epoch| epoch_metric(&trained.run, "valid", epoch, "BLEU"))
        .collect();
    assert!(bleu[0] < bleu[TRAINED_EPOCHS - 1], "{bleu:?}");
    assert!(bleu[TRAINED_EPOCHS - 1] > 90.0, "{bleu:?}");
    // One corpus file: one validation set, whose metrics are those of all sets.
    for epoch in 1..=TRAINED_EPOCHS {
        for metric in ["BLEU", "Perplexity"] {
            assert_eq!(
                epoch_metric(&trained.run, "valid", epoch, &format!("{metric}_numbers")),
                epoch_metric(&trained.run, "valid", epoch, metric),
                "{metric} of epoch {epoch}"
            );
        }
    }
    assert!(trained.stdout.contains("· bleu "), "{}", trained.stdout);
    assert!(trained.stdout.contains(", BLEU "), "{}", trained.stdout);
}

/// `training.select_by: "bleu"` picks the epoch and drives early stopping by BLEU: with a
/// learning rate of about 1e-32 no epoch improves on the first, and the run says so.
#[test]
fn select_by_bleu_drives_the_best_epoch_and_early_stopping() {
    let Setup { dir, data, .. } = setup(200, 512);
    let config = tiny_config(dir.path(), "bleu.json", |c| {
        c["data"]["max_tokens"] = 512.into();
        c["training"]["noam_factor"] = 1e-30.into();
        c["training"]["patience"] = 1.into();
        c["training"]["select_by"] = "bleu".into();
        c["training"]["bleu_sample"] = 8.into();
    });
    let run = dir.path().join("run");
    let output = train(dir.path(), &config, &data, &run, &["--epochs", "4"]);
    let text = stdout(&output);
    assert!(
        text.contains("stopped early after epoch 2: the validation BLEU stopped improving"),
        "{text}"
    );
    assert!(text.contains("best epoch 1 (by BLEU "), "{text}");
    let bleu = [1, 2].map(|epoch| epoch_metric(&run, "valid", epoch, "BLEU"));
    assert_eq!(bleu[0], bleu[1], "the weights moved");

    let invalid = tiny_config(dir.path(), "invalid.json", |c| {
        c["training"]["select_by"] = "bleu".into();
        c["training"]["bleu_sample"] = 0.into();
    });
    let output = run_in(
        dir.path(),
        &train_args(&invalid, &data, &dir.path().join("other"), &[]),
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(
        stderr(&output).contains("`training.bleu_sample` is 0"),
        "{}",
        stderr(&output)
    );
}
