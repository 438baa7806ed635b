//! `scripts/freedict-pairs.py`: a dictd dictionary made into word pairs.

use std::path::Path;
use std::process::Command;

/// `value` in dictd's base64 digits, as its index writes offsets and lengths.
fn dictd_number(mut value: usize) -> String {
    const DIGITS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut digits = vec![DIGITS[value % 64]];
    while value >= 64 {
        value /= 64;
        digits.push(DIGITS[value % 64]);
    }
    digits.iter().rev().map(|&d| d as char).collect()
}

/// A three-entry dictionary (one sense, two numbered senses, a headword of digits that is
/// left out) gives one pair per sense, the first rendering of each; a missing dictionary is
/// one error that says how to install it.
#[test]
fn a_dictionary_becomes_one_pair_per_sense() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let entries = [
        (
            "approve",
            "approve /əpruːv/ <vt>\naplaudir, aprovar, assentir\n",
        ),
        (
            "budget",
            "budget /bʌdʒət/ <s>\n1. orçamento\n2. fazer orçamento\n3. verba\n",
        ),
        ("4x4", "4x4\nquatro por quatro\n"),
    ];
    let (mut text, mut index) = (String::new(), String::new());
    for (headword, body) in entries {
        let offset = text.len();
        text.push_str(body);
        index.push_str(&format!(
            "{headword}\t{}\t{}\n",
            dictd_number(offset),
            dictd_number(body.len())
        ));
    }
    let stem = dir.path().join("test-dict");
    std::fs::write(stem.with_extension("index"), index).expect("writable");
    std::fs::write(dir.path().join("plain"), text).expect("writable");
    let gzip = Command::new("sh")
        .arg("-c")
        .arg("gzip -c plain > test-dict.dict.dz")
        .current_dir(dir.path())
        .status()
        .expect("gzip runs");
    assert!(gzip.success());
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/freedict-pairs.py");
    let output = dir.path().join("out/pairs.tsv");
    let run = |dict: &Path| {
        Command::new("python3")
            .arg(&script)
            .arg(&output)
            .arg("--dict")
            .arg(dict)
            .output()
            .expect("python3 runs")
    };
    let done = run(&stem);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(&output).expect("written"),
        "approve\taplaudir\nbudget\torçamento\nbudget\tfazer orçamento\n"
    );
    let missing = run(&dir.path().join("absent"));
    let error = String::from_utf8_lossy(&missing.stderr);
    assert!(!missing.status.success());
    assert!(
        error.contains("absent.index: not found") && error.contains("dict-freedict-eng-por"),
        "{error}"
    );
}
