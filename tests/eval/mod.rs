//! BLEU and chrF against the `sacrebleu` Python package: the fixtures in `fixtures/` were
//! scored by sacrebleu 2.6.0 (`fixtures/expected.py` wrote `fixtures/expected.json`, with its
//! API and its command line); every number and every line of its output must come out the
//! same here.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use transformer_mt::eval::read_lines;
use transformer_mt::eval::sacrebleu::{
    BleuStats, ChrfStats, SACREBLEU_VERSION, corpus_scores, sentence_bleu, sentence_chrf,
    tokenize_13a,
};

/// Far below the 0.01 asked: only floating-point summation order may differ.
const TOLERANCE: f64 = 1e-9;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/eval/fixtures")
}

fn expected() -> Value {
    let text = std::fs::read_to_string(fixtures().join("expected.json")).expect("expected.json");
    serde_json::from_str(&text).expect("valid JSON")
}

/// The fixtures' names, hypothesis file and reference files.
fn cases(expected: &Value) -> Vec<(String, PathBuf, Vec<PathBuf>)> {
    let cases: Vec<_> = expected["fixtures"]
        .as_object()
        .expect("fixtures")
        .iter()
        .map(|(name, fixture)| {
            let refs = fixture["refs"]
                .as_array()
                .expect("refs")
                .iter()
                .map(|r| fixtures().join(r.as_str().expect("file name")))
                .collect();
            let hyp = fixtures().join(fixture["hyp"].as_str().expect("file name"));
            (name.clone(), hyp, refs)
        })
        .collect();
    assert!(cases.len() >= 7, "fixtures missing: {}", cases.len());
    cases
}

fn number(value: &Value) -> f64 {
    value.as_f64().expect("a number")
}

fn close(found: f64, wanted: &Value, what: &str) {
    let wanted = number(wanted);
    assert!(
        (found - wanted).abs() <= TOLERANCE,
        "{what}: {found} here, {wanted} by sacrebleu"
    );
}

fn counts(value: &Value) -> Vec<usize> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_u64().expect("a count") as usize)
        .collect()
}

#[test]
fn the_fixtures_were_scored_by_the_version_in_the_signatures() {
    let expected = expected();
    assert_eq!(expected["sacrebleu_version"], SACREBLEU_VERSION);
}

#[test]
fn tokenize_13a_splits_as_sacrebleu() {
    let expected = expected();
    let cases = expected["tokenize_13a"].as_object().expect("cases");
    assert!(cases.len() >= 40);
    for (input, output) in cases {
        assert_eq!(
            tokenize_13a(input),
            output.as_str().expect("a string"),
            "13a of {input:?}"
        );
    }
}

#[test]
fn corpus_bleu_and_chrf_equal_sacrebleu_on_every_fixture() {
    let expected = expected();
    for (name, hyp, refs) in cases(&expected) {
        let fixture = &expected["fixtures"][&name];
        let hypotheses = read_lines(&hyp).expect("hypotheses");
        let references: Vec<Vec<String>> = refs
            .iter()
            .map(|r| read_lines(r).expect("references"))
            .collect();
        let scores = corpus_scores(&hypotheses, &references);
        let bleu = &fixture["bleu"];
        close(scores.bleu.score, &bleu["score"], &format!("{name}: BLEU"));
        for (n, precision) in scores.bleu.precisions.iter().enumerate() {
            close(
                *precision,
                &bleu["precisions"][n],
                &format!("{name}: {}-gram precision", n + 1),
            );
        }
        close(
            scores.bleu.brevity_penalty,
            &bleu["bp"],
            &format!("{name}: BP"),
        );
        assert_eq!(scores.bleu.hyp_len, bleu["sys_len"], "{name}: hyp_len");
        assert_eq!(scores.bleu.ref_len, bleu["ref_len"], "{name}: ref_len");
        close(
            scores.chrf,
            &fixture["chrf"]["score"],
            &format!("{name}: chrF"),
        );
    }
}

#[test]
fn sentence_bleu_and_chrf_equal_sacrebleu_on_every_line() {
    let expected = expected();
    let mut lines = 0;
    for (name, hyp, refs) in cases(&expected) {
        let hypotheses = read_lines(&hyp).expect("hypotheses");
        let references: Vec<Vec<String>> = refs
            .iter()
            .map(|r| read_lines(r).expect("references"))
            .collect();
        let sentences = expected["fixtures"][&name]["sentences"]
            .as_array()
            .expect("sentences");
        assert_eq!(sentences.len(), hypotheses.len(), "{name}: line count");
        for (i, (hypothesis, wanted)) in hypotheses.iter().zip(sentences).enumerate() {
            let refs: Vec<&str> = references.iter().map(|r| r[i].as_str()).collect();
            let what = format!("{name} line {}", i + 1);
            let stats = BleuStats::sentence(hypothesis, &refs);
            assert_eq!(
                stats.matches.to_vec(),
                counts(&wanted["bleu_counts"]),
                "{what}"
            );
            assert_eq!(
                stats.totals.to_vec(),
                counts(&wanted["bleu_totals"]),
                "{what}"
            );
            assert_eq!(stats.ref_len, wanted["bleu_ref_len"], "{what}: ref_len");
            close(
                sentence_bleu(hypothesis, &refs).score,
                &wanted["bleu"],
                &format!("{what}: BLEU"),
            );
            let chrf: Vec<usize> = ChrfStats::sentence(hypothesis, &refs)
                .counts
                .iter()
                .flatten()
                .copied()
                .collect();
            assert_eq!(
                chrf,
                counts(&wanted["chrf_stats"]),
                "{what}: chrF statistics"
            );
            close(
                sentence_chrf(hypothesis, &refs),
                &wanted["chrf"],
                &format!("{what}: chrF"),
            );
            lines += 1;
        }
    }
    assert!(lines > 350, "only {lines} lines checked");
}

fn transformer_mt(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_transformer-mt"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn score_files(hyp: &Path, refs: &[PathBuf], json: bool) -> Output {
    let mut args = vec!["eval", "--hyp", hyp.to_str().expect("UTF-8"), "--ref"];
    args.extend(refs.iter().map(|r| r.to_str().expect("UTF-8")));
    if json {
        args.push("--json");
    }
    transformer_mt(&args)
}

/// `eval --hyp --ref` prints, byte for byte, what `sacrebleu REF... -i HYP -m bleu chrf`
/// prints, as text (`-f text`) and as JSON (its default).
#[test]
fn eval_of_files_prints_what_the_sacrebleu_command_prints() {
    let expected = expected();
    for (name, hyp, refs) in cases(&expected) {
        for (json, key) in [(false, "cli_text"), (true, "cli_json")] {
            let output = score_files(&hyp, &refs, json);
            assert!(
                output.status.success(),
                "{name}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
            assert_eq!(
                String::from_utf8_lossy(&output.stdout),
                expected["fixtures"][&name][key]["stdout"]
                    .as_str()
                    .expect("stdout"),
                "{name}: {key}"
            );
        }
    }
}

#[test]
fn eval_of_files_refuses_bad_input_with_one_message() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let hyp = fixtures().join("accents.hyp");
    let short = dir.path().join("short.ref");
    std::fs::write(&short, "uma linha\n").expect("writable");
    let latin1 = dir.path().join("latin1.ref");
    std::fs::write(&latin1, b"ol\xe1\n").expect("writable");
    let empty = dir.path().join("empty.hyp");
    std::fs::write(&empty, "").expect("writable");
    let missing = dir.path().join("missing.ref");
    let cases: [(&Path, &Path, &str); 4] = [
        (&hyp, &short, "1 references for the 45 hypotheses"),
        (&short, &latin1, "not UTF-8"),
        (&empty, &short, "no lines to score"),
        (&hyp, &missing, "cannot read"),
    ];
    for (hyp, reference, message) in cases {
        let output = score_files(hyp, &[reference.to_path_buf()], false);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(output.stdout.is_empty());
        assert!(stderr.contains(message), "{message:?} not in {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    }
}
