//! The model shipped in `models/eng-por/`: it loads, and reproduces the scores and the example
//! translations its README states (`scores.json` and `examples.tsv` beside it).

use std::path::{Path, PathBuf};

use super::common::*;

fn shipped() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("models/eng-por")
}

/// The shared corpus: `../shared/data` beside the repository, or `$TRANSFORMER_MT_SHARED_DATA`.
fn shared_data() -> PathBuf {
    std::env::var_os("TRANSFORMER_MT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"))
}

fn recorded() -> serde_json::Value {
    let text = std::fs::read_to_string(shipped().join("scores.json")).expect("scores.json");
    serde_json::from_str(&text).expect("JSON")
}

#[test]
fn the_shipped_model_scores_on_the_tatoeba_test_pairs_what_its_readme_says() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let pairs = dir.path().join("tatoeba-test.tsv");
    let config = shipped().join("config.json");
    let tatoeba = shared_data().join("tatoeba.eng-por.tsv");
    let output = run_in(
        dir.path(),
        &[
            "data",
            "split",
            "--config",
            path(&config),
            "--data",
            path(&tatoeba),
            "--output",
            path(&pairs),
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let recorded = &recorded()["tatoeba_test"];
    assert!(
        stdout(&output).contains(&format!("wrote the {} test pairs", recorded["pairs"])),
        "{}",
        stdout(&output)
    );
    let beam = recorded["beam"].to_string();
    // Scoring writes beside the model: score a copy of its files (an `eval/` folder that
    // an earlier `eval --run models/eng-por` left there is not part of it).
    let model = dir.path().join("eng-por");
    std::fs::create_dir(&model).expect("created");
    for entry in std::fs::read_dir(shipped()).expect("models/eng-por") {
        let entry = entry.expect("an entry");
        if entry.file_type().expect("a file type").is_file() {
            std::fs::copy(entry.path(), model.join(entry.file_name())).expect("copied");
        }
    }
    let alpha = recorded["length_penalty"].to_string();
    let json = eval_json(
        dir.path(),
        &model,
        &pairs,
        &["--beam", &beam, "--length-penalty", &alpha],
    );
    for (index, metric) in ["bleu", "chrf"].into_iter().enumerate() {
        let score = json[index]["score"].as_f64().expect("a score");
        let expected = recorded[metric].as_f64().expect("a recorded score");
        // The README's figure, to one decimal; another CPU's kernels round floats otherwise,
        // which may flip a near tie of the beam search in a sentence or two.
        assert!(
            (score - expected).abs() <= 1.0,
            "{metric}: {score}, README {expected}"
        );
    }
}

#[test]
fn the_shipped_model_translates_the_readme_examples_as_it_says() {
    let examples = std::fs::read_to_string(shipped().join("examples.tsv")).expect("examples.tsv");
    let (english, portuguese): (Vec<&str>, Vec<&str>) = examples
        .lines()
        .map(|line| line.split_once('\t').expect("english<TAB>portuguese"))
        .unzip();
    assert!(english.contains(&"The book is on the table."));
    let dir = tempfile::tempdir().expect("temporary directory");
    let model = shipped();
    let mut args = vec!["infer", "--run", path(&model)];
    args.extend(english.iter().copied());
    let output = run_in(dir.path(), &args);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stdout(&output);
    let translated: Vec<&str> = text.lines().collect();
    assert_eq!(translated.len(), english.len(), "{text}");
    let same = translated
        .iter()
        .zip(&portuguese)
        .filter(|(a, b)| a == b)
        .count();
    // Beam search on another CPU may break a near tie the other way in a sentence or two.
    assert!(
        same + 2 >= english.len(),
        "{translated:?}\nREADME: {portuguese:?}"
    );
}
