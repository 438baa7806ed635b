//! The masked language model (`task` "mlm"): a tiny BERT learns a synthetic counting corpus
//! with the translation model's machinery, and `fill-mask` fills in with it.

use std::path::{Path, PathBuf};

use transformer_mt::backend::Backend;
use transformer_mt::data::synthetic::english;

use super::common::*;

/// The repository's `config/bert-tiny.json`, with `edit` applied.
fn bert_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) -> PathBuf {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("config/bert-tiny.json");
    let text = std::fs::read_to_string(path).expect("config/bert-tiny.json exists");
    let mut config: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
    edit(&mut config);
    let path = dir.join("bert-tiny.json");
    std::fs::write(&path, config.to_string()).expect("writable temporary directory");
    path
}

/// `config/bert-tiny.json` trained on [`counting`], once per test binary.
fn trained_counting() -> &'static (tempfile::TempDir, PathBuf) {
    static TRAINED: std::sync::OnceLock<(tempfile::TempDir, PathBuf)> = std::sync::OnceLock::new();
    TRAINED.get_or_init(|| {
        let dir = tempfile::tempdir().expect("temporary directory");
        let data = counting(dir.path());
        let config = bert_config(dir.path(), |_| {});
        let run = dir.path().join("bert");
        train(dir.path(), &config, &data, &run, &[]);
        (dir, run)
    })
}

/// `fill-mask` in `dir` with `args`, which must succeed: per `[MASK]`, its fillers as
/// (probability, token, sentence).
fn fill(dir: &Path, args: &[&str]) -> Vec<Vec<(f64, String, String)>> {
    let output = run_in(dir, &[&["fill-mask"], args].concat());
    assert!(
        output.status.success(),
        "fill-mask failed: {}",
        stderr(&output)
    );
    stdout(&output)
        .split("\n\n")
        .filter(|group| !group.trim().is_empty())
        .map(|group| {
            group
                .lines()
                .map(|line| {
                    let fields: Vec<&str> = line.split('\t').collect();
                    assert_eq!(fields.len(), 3, "{line:?}");
                    let probability = fields[0].parse().expect("a probability");
                    (probability, fields[1].to_string(), fields[2].to_string())
                })
                .collect()
        })
        .collect()
}

/// A masked language model trains on plain text, a sentence a line, as on the source side of
/// pairs: the same sentences give the same tokenizer and the same validation losses.
#[test]
fn a_masked_language_model_trains_on_plain_text_as_on_the_source_side() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = bert_config(dir.path(), |_| {});
    trains_on_plain_text_as_on(dir.path(), &config, 0);
}

/// The tiny BERT learns to count: the validation accuracy on the masked tokens (a fixed
/// draw of masks every epoch) passes 75 % (about 94 % here; the most frequent token, the
/// comma, scores under 30 %), its perplexity falls below half of epoch 1's. `fill-mask`
/// fills the middle of five counted numbers with the number that continues them, in at least
/// 6 of 8 counts (each of one token: the filler is one token); its fillers' probabilities
/// fall and sum to at most 1, and each sentence is the text with its filler in place.
#[test]
fn a_tiny_bert_learns_to_fill_in_a_count() {
    let (dir, run) = trained_counting();
    for file in ["config.json", "bert.json", "model.bpk", "tokenizer.json"] {
        assert!(run.join(file).is_file(), "{file} missing from the run");
    }
    let epochs = std::fs::read_dir(run.join("valid"))
        .expect("validation logs")
        .count();
    let accuracy = (1..=epochs)
        .map(|epoch| epoch_metric(run, "valid", epoch, "Accuracy"))
        .fold(0.0, f64::max);
    assert!(
        accuracy > 75.0,
        "masked-token accuracy {accuracy} % at best"
    );
    let first = epoch_metric(run, "valid", 1, "Perplexity");
    let last = epoch_metric(run, "valid", epochs, "Perplexity");
    assert!(last < 0.5 * first, "validation perplexity {first} → {last}");

    let counts: [(u32, u32); 8] = [
        (5, 2),
        (10, 2),
        (4, 4),
        (3, 1),
        (0, 5),
        (12, 4),
        (7, 3),
        (10, 5),
    ];
    let sentences: Vec<String> = counts
        .iter()
        .map(|&(start, step)| {
            let words: Vec<String> = (0..5)
                .map(|k| match k {
                    2 => "[MASK]".to_string(),
                    _ => english(start + step * k),
                })
                .collect();
            words.join(", ")
        })
        .collect();
    let mut args = vec!["--run", path(run), "--top-k", "5"];
    args.extend(sentences.iter().map(String::as_str));
    let filled = fill(dir.path(), &args);
    assert_eq!(filled.len(), counts.len(), "one group a [MASK]: {filled:?}");
    let mut right = 0;
    for ((&(start, step), sentence), fillers) in counts.iter().zip(&sentences).zip(&filled) {
        let expected = english(start + 2 * step);
        assert_eq!(fillers.len(), 5);
        assert!(fillers.windows(2).all(|w| w[0].0 >= w[1].0), "{fillers:?}");
        assert!(fillers.iter().map(|f| f.0).sum::<f64>() <= 1.0 + 1e-3);
        // A token with the space that starts a word, or without it.
        for (_, token, filled) in fillers {
            let spaced = sentence.replace(" [MASK]", &format!(" {token}"));
            assert!(
                filled == &spaced || filled == &sentence.replace(" [MASK]", token),
                "{filled:?} from {sentence:?}"
            );
        }
        right += usize::from(fillers[0].2 == sentence.replace("[MASK]", &expected));
    }
    assert!(
        right >= 6,
        "{right} of 8 counts filled in right: {filled:?}"
    );
}

/// Two `[MASK]`s give two groups of fillers, each sentence with the other `[MASK]` kept; the
/// top fillers agree on every CPU backend compiled in, their probabilities within 1e-3.
#[test]
fn fill_mask_agrees_on_every_cpu_backend() {
    let (dir, run) = trained_counting();
    let text = "ten, twelve, [MASK], sixteen, [MASK], twenty";
    let backends: Vec<Backend> = [Backend::Flex, Backend::Ndarray, Backend::Tch]
        .into_iter()
        .filter(|backend| backend.is_compiled())
        .collect();
    let fills: Vec<_> = backends
        .iter()
        .map(|backend| {
            fill(
                dir.path(),
                &[
                    "--run",
                    path(run),
                    "--backend",
                    backend.name(),
                    "--top-k",
                    "3",
                    text,
                ],
            )
        })
        .collect();
    let groups = &fills[0];
    assert_eq!(groups.len(), 2, "{groups:?}");
    assert!(
        groups[0][0].2.ends_with(", sixteen, [MASK], twenty"),
        "{groups:?}"
    );
    assert!(
        groups[1][0].2.starts_with("ten, twelve, [MASK], sixteen, "),
        "{groups:?}"
    );
    for (backend, other) in backends.iter().zip(&fills) {
        for (ours, theirs) in groups.iter().zip(other) {
            assert_eq!(ours[0].1, theirs[0].1, "{backend}");
            assert!(
                (ours[0].0 - theirs[0].0).abs() < 1e-3,
                "{backend}: {ours:?} {theirs:?}"
            );
        }
    }
}

/// A sentence without `[MASK]`, and a run of another kind, get one clear error each; what a
/// masked language model cannot be given is refused naming the field.
#[test]
fn masked_language_model_misuse_gets_one_clear_error() {
    let (dir, run) = trained_counting();
    let translation = small_run();
    for (args, expected) in [
        (
            vec!["fill-mask", "--run", path(run), "five, seven, nine"],
            "has no [MASK]",
        ),
        (
            vec!["fill-mask", "--run", path(translation), "a [MASK]"],
            "is a translation model (model.json), not a masked language model",
        ),
        (
            vec!["generate", "--run", path(run), "five"],
            "is a masked language model (bert.json), not a language model: fill in with `fill-mask`",
        ),
        (
            vec!["infer", "--run", path(run), "five"],
            "is a masked language model (bert.json), not a translation model",
        ),
    ] {
        let output = run_in(dir.path(), &args);
        assert!(!output.status.success(), "{args:?} succeeded");
        let error = stderr(&output);
        assert!(error.contains(expected), "{args:?}: {error}");
        assert_eq!(error.trim().lines().count(), 1, "{error}");
    }
    let data = counting(dir.path());
    let config = bert_config(dir.path(), |c| c["training"]["bleu_sample"] = 200.into());
    let refused = dir.path().join("refused");
    let output = run_in(dir.path(), &train_args(&config, &data, &refused, &[]));
    assert!(!output.status.success());
    assert!(
        stderr(&output).contains("task \"mlm\": `training.bleu_sample` must be 0"),
        "{}",
        stderr(&output)
    );
    assert!(!refused.exists());
}
