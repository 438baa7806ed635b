//! Models made from runs: `train --init-from`, `average` (and its half-precision storage),
//! and the shipped model that translating commands fall back on.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use super::common::*;

/// Every tensor of a burnpack weights file, by name, as `f32` values (read from the file's
/// bytes, independently of the model's code), with its stored type.
fn tensors(path: &Path) -> BTreeMap<String, (burn_pack::DType, Vec<f32>)> {
    let reader = burn_pack::Reader::from_file(path).expect("a burnpack file");
    reader
        .into_tensors()
        .expect("readable tensors")
        .into_iter()
        .map(|tensor| {
            let (name, dtype, _, _, bytes) = tensor.into_parts().expect("tensor parts");
            let values = match dtype {
                burn_pack::DType::F32 => bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                burn_pack::DType::F16 => bytes
                    .chunks_exact(2)
                    .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                    .collect(),
                other => panic!("{name}: unexpected {other:?}"),
            };
            (name, (dtype, values))
        })
        .collect()
}

/// `average --run RUN EXTRA --output OUTPUT`.
fn average(dir: &Path, run: &Path, extra: &[&str], output: &Path) -> Output {
    let mut args = vec!["average", "--run", path(run)];
    args.extend_from_slice(extra);
    args.extend(["--output", path(output)]);
    run_in(dir, &args)
}

/// Greedy BLEU of `run` on `pairs`.
fn bleu(dir: &Path, run: &Path, pairs: &Path) -> f64 {
    let json = eval_json(dir, run, pairs, &["--beam", "1"]);
    assert_eq!(json[0]["name"], "BLEU", "{json}");
    json[0]["score"].as_f64().expect("a score")
}

#[test]
fn the_average_of_two_checkpoints_is_their_mean_and_translates() {
    let trained = trained_numbers();
    let dir = tempfile::tempdir().expect("temporary directory");
    let output_dir = dir.path().join("averaged");
    let last = TRAINED_EPOCHS;
    let epochs = format!("{},{last}", last - 1);
    let output = average(
        dir.path(),
        &trained.run,
        &["--epochs", &epochs],
        &output_dir,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(stdout(&output).contains(&format!("epochs {}, {last} into", last - 1)));

    let checkpoint = |epoch: usize| {
        tensors(
            &trained
                .run
                .join("checkpoint")
                .join(format!("model-{epoch}.bpk")),
        )
    };
    let (a, b) = (checkpoint(last - 1), checkpoint(last));
    let mean = tensors(&output_dir.join("model.bpk"));
    assert!(!mean.is_empty());
    assert_eq!(
        mean.len(),
        a.len(),
        "one tensor for each of the checkpoint's"
    );
    for (name, (dtype, values)) in &mean {
        assert_eq!(*dtype, burn_pack::DType::F32);
        // The checkpoint holds the training model, whose `transformer` is the model.
        let (_, a) = &a[&format!("transformer.{name}")];
        let (_, b) = &b[&format!("transformer.{name}")];
        assert_eq!(values.len(), a.len(), "{name}");
        for ((m, x), y) in values.iter().zip(a).zip(b) {
            assert!(
                (m - (x + y) / 2.0).abs() <= 1e-6 * (1.0 + m.abs()),
                "{name}: {m} vs {x}, {y}"
            );
        }
    }
    for file in ["config.json", "model.json", "tokenizer.json"] {
        assert_eq!(
            std::fs::read(output_dir.join(file)).expect("written"),
            std::fs::read(trained.run.join(file)).expect("the run's"),
            "{file} is the run's"
        );
    }
    let test = trained.run.join("test.tsv");
    let score = bleu(dir.path(), &output_dir, &test);
    assert!(score > 80.0, "the averaged model translates: BLEU {score}");

    // An output that exists is never overwritten.
    let again = average(dir.path(), &trained.run, &["--last", "2"], &output_dir);
    assert_eq!(again.status.code(), Some(1));
    assert!(
        stderr(&again).contains("already exists and is not empty"),
        "{}",
        stderr(&again)
    );
}

/// `average` of a GPT's and of a BERT's last two checkpoints: the mean of their networks'
/// tensors, stored under the network's own names, beside the run's `gpt.json` or `bert.json`;
/// `generate` and `fill-mask` take the averaged model.
#[test]
fn the_average_of_a_language_models_checkpoints_is_their_mean_and_writes() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let data = counting(dir.path());
    let config = |name: &str| {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("config")
            .join(name)
    };
    for (config, network, command) in [
        (config("gpt-tiny.json"), "gpt", ["generate", "cinco, sete"]),
        (
            config("bert-tiny.json"),
            "bert",
            ["fill-mask", "five, [MASK], nine"],
        ),
    ] {
        let run = dir.path().join(network);
        train(dir.path(), &config, &data, &run, &["--epochs", "2"]);
        let output_dir = dir.path().join(format!("{network}-averaged"));
        let output = average(dir.path(), &run, &["--last", "2"], &output_dir);
        assert!(output.status.success(), "{}", stderr(&output));
        let checkpoint =
            |epoch: usize| tensors(&run.join("checkpoint").join(format!("model-{epoch}.bpk")));
        let (a, b) = (checkpoint(1), checkpoint(2));
        let mean = tensors(&output_dir.join("model.bpk"));
        assert_eq!(mean.len(), a.len(), "{network}: one tensor for each");
        for (name, (_, values)) in &mean {
            let (_, a) = &a[&format!("{network}.{name}")];
            let (_, b) = &b[&format!("{network}.{name}")];
            for ((m, x), y) in values.iter().zip(a).zip(b) {
                assert!(
                    (m - (x + y) / 2.0).abs() <= 1e-6 * (1.0 + m.abs()),
                    "{network} {name}: {m} vs {x}, {y}"
                );
            }
        }
        let model_json = format!("{network}.json");
        assert_eq!(
            std::fs::read(output_dir.join(&model_json)).expect("written"),
            std::fs::read(run.join(&model_json)).expect("the run's"),
        );
        assert!(!output_dir.join("model.json").exists(), "{network}");
        let written = run_in(
            dir.path(),
            &[command[0], "--run", path(&output_dir), command[1]],
        );
        assert!(written.status.success(), "{}", stderr(&written));
        assert!(!stdout(&written).trim().is_empty(), "{network}");
    }
}

#[test]
fn half_precision_weights_are_half_the_size_and_translate_as_well() {
    let trained = trained_numbers();
    let dir = tempfile::tempdir().expect("temporary directory");
    let (full, half) = (dir.path().join("full"), dir.path().join("half"));
    let last = TRAINED_EPOCHS.to_string();
    for (output, extra) in [(&full, &[][..]), (&half, &["--half"][..])] {
        let args = [&["--epochs", last.as_str()][..], extra].concat();
        let run = average(dir.path(), &trained.run, &args, output);
        assert!(run.status.success(), "{}", stderr(&run));
    }
    let size = |run: &Path| {
        std::fs::metadata(run.join("model.bpk"))
            .expect("weights")
            .len()
    };
    let ratio = size(&half) as f64 / size(&full) as f64;
    assert!((0.45..0.55).contains(&ratio), "half / full size: {ratio}");
    let (full_tensors, half_tensors) = (
        tensors(&full.join("model.bpk")),
        tensors(&half.join("model.bpk")),
    );
    for (name, (dtype, values)) in &half_tensors {
        assert_eq!(*dtype, burn_pack::DType::F16, "{name}");
        let (_, reference) = &full_tensors[name];
        for (h, f) in values.iter().zip(reference) {
            assert_eq!(
                *h,
                half::f16::from_f32(*f).to_f32(),
                "{name}: {f} rounds to {h}"
            );
        }
    }
    let test = trained.run.join("test.tsv");
    let (full_bleu, half_bleu) = (
        bleu(dir.path(), &full, &test),
        bleu(dir.path(), &half, &test),
    );
    assert!(full_bleu > 80.0, "{full_bleu}");
    assert!(
        (full_bleu - half_bleu).abs() < 1.0,
        "full {full_bleu}, half {half_bleu}"
    );
}

#[test]
fn a_run_started_from_a_trained_one_starts_at_its_validation_loss() {
    let trained = trained_numbers();
    let dir = tempfile::tempdir().expect("temporary directory");
    // Learning rate ~0: the first epoch's validation measures the weights it started from.
    let config = tiny_config(dir.path(), "still.json", |c| {
        c["data"]["max_tokens"] = 2048.into();
        c["training"]["noam_factor"] = 1e-12.into();
    });
    let run = dir.path().join("continued");
    let output = train(
        dir.path(),
        &config,
        &trained.data,
        &run,
        &["--epochs", "1", "--init-from", path(&trained.run)],
    );
    assert!(
        stdout(&output).contains("starting from the weights and tokenizer of"),
        "{}",
        stdout(&output)
    );
    let best = (1..=TRAINED_EPOCHS)
        .map(|epoch| epoch_metric(&trained.run, "valid", epoch, "Loss"))
        .fold(f64::INFINITY, f64::min);
    let first = epoch_metric(&run, "valid", 1, "Loss");
    assert!(
        (first - best).abs() < 1e-4,
        "first {first}, source's best {best}"
    );
    assert_eq!(
        std::fs::read(run.join("tokenizer.json")).expect("written"),
        std::fs::read(trained.run.join("tokenizer.json")).expect("the source's"),
    );
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("config.json")).expect("config"))
            .expect("JSON");
    assert_eq!(saved["training"]["init_from"], path(&trained.run));

    // A fresh run of the same configuration starts far above it (on fewer pairs: only its
    // first validation counts, and it costs an epoch).
    let fresh = dir.path().join("fresh");
    train(
        dir.path(),
        &config,
        &numbers(dir.path(), 2_000),
        &fresh,
        &["--epochs", "1"],
    );
    let untrained = epoch_metric(&fresh, "valid", 1, "Loss");
    assert!(untrained > 2.0 * best, "fresh {untrained}, trained {best}");
}

#[test]
fn a_start_from_another_model_or_no_model_is_refused_before_anything_is_written() {
    let trained = trained_numbers();
    let dir = tempfile::tempdir().expect("temporary directory");
    let wider = tiny_config(dir.path(), "wider.json", |c| {
        c["data"]["max_tokens"] = 2048.into();
        c["model"]["d_model"] = 128.into();
    });
    let run = dir.path().join("run");
    let empty = dir.path().join("empty");
    std::fs::create_dir(&empty).expect("created");
    for (source, expected) in [
        (
            &trained.run,
            "model.d_model (init_from: 64, given: 128)".to_string(),
        ),
        (
            &empty,
            format!("{} holds no trained model", empty.display()),
        ),
    ] {
        let output = run_in(
            dir.path(),
            &train_args(&wider, &trained.data, &run, &["--init-from", path(source)]),
        );
        assert_eq!(output.status.code(), Some(1));
        let message = stderr(&output);
        assert_eq!(message.trim().lines().count(), 1, "{message}");
        assert!(message.contains(&expected), "{message}");
        assert!(!run.exists(), "nothing written for a refused start");
    }
}

#[test]
fn without_a_trained_default_run_the_shipped_model_translates_and_says_so() {
    let trained = trained_numbers();
    let dir = tempfile::tempdir().expect("temporary directory");
    let shipped = dir.path().join("models/eng-por");
    let output = average(
        dir.path(),
        &trained.run,
        &["--last", "1", "--half"],
        &shipped,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let output = run_in(dir.path(), &["infer", "--beam", "1", "three hundred"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(
        stderr(&output).contains("using the shipped model models/eng-por"),
        "{}",
        stderr(&output)
    );
    let by_name = run_in(
        dir.path(),
        &[
            "infer",
            "--beam",
            "1",
            "--run",
            path(&shipped),
            "three hundred",
        ],
    );
    assert!(!stdout(&output).trim().is_empty());
    assert_eq!(stdout(&output), stdout(&by_name));
    assert!(stderr(&by_name).is_empty(), "{}", stderr(&by_name));
}
