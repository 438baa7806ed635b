//! The corpus reader on well-formed and malformed files.

use transformer_mt::data::corpus::{
    CorpusError, Direction, ReadOptions, SkipReason, normalize, read_corpus,
};

use super::common::{pair, write};

const OPTIONS: ReadOptions = ReadOptions {
    direction: Direction::EnPt,
    max_chars: 40,
    plain_text: false,
};

#[test]
fn normalises_to_nfc_and_collapses_whitespace() {
    // "e" + combining acute (U+0301) composes to "é" (U+00E9).
    assert_eq!(
        normalize("  cafe\u{301}   com\u{a0}leite \n"),
        "caf\u{e9} com leite"
    );
    assert_eq!(normalize("\t \n"), "");
}

#[test]
fn reads_both_file_layouts_and_counts_skipped_lines_by_reason() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let shared = write(
        dir.path(),
        "pairs.tsv",
        "\u{feff}The book is on the table.\tO livro está sobre a mesa.\r\n\
         Hello   world\tOlá  mundo\n\
         \n\
         no tab on this line\n\
         \tempty english\n\
         empty portuguese\t  \n\
         This English side is far longer than forty characters.\tCurto.\n"
            .as_bytes(),
    );
    // ManyThings/Tatoeba: a third column of attribution, and a line that is not UTF-8.
    let mut manythings =
        b"Go.\tVai.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272\n".to_vec();
    manythings.extend_from_slice(b"Caf\xe9\tLatin-1, not UTF-8\n");
    let manythings = write(dir.path(), "por.txt", &manythings);

    let (pairs, report) = read_corpus(&[shared, manythings], OPTIONS).expect("readable");
    assert_eq!(
        pairs,
        vec![
            pair("The book is on the table.", "O livro está sobre a mesa."),
            pair("Hello world", "Olá mundo"),
            pair("Go.", "Vai."),
        ]
    );
    assert_eq!((report.files, report.pairs), (2, 3));
    assert_eq!(report.skipped(SkipReason::NoTab), 1);
    assert_eq!(report.skipped(SkipReason::EmptySide), 2);
    assert_eq!(report.skipped(SkipReason::TooLong), 1);
    assert_eq!(report.skipped(SkipReason::NotUtf8), 1);
    assert_eq!(
        report.to_string(),
        "read 3 pairs from 2 files; skipped 5 lines (2 empty side, 1 no tab, 1 too long, 1 not UTF-8)"
    );
}

#[test]
fn portuguese_to_english_swaps_the_sides() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let file = write(
        dir.path(),
        "pairs.tsv",
        "Thank you.\tObrigado.\n".as_bytes(),
    );
    let options = ReadOptions {
        direction: Direction::PtEn,
        ..OPTIONS
    };
    let (pairs, _) = read_corpus(&[file], options).expect("readable");
    assert_eq!(pairs, vec![pair("Obrigado.", "Thank you.")]);
}

/// For a language model, a file without a tab is plain text: each line one text, normalised,
/// on both sides; lines are skipped for the same reasons as pairs. A file with a tab on any
/// line is still read as pairs.
#[test]
fn plain_text_is_one_text_a_line_for_a_language_model() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let mut text = "\u{feff}O livro  está sobre a mesa.\r\n\n   \nEla lê.\n"
        .as_bytes()
        .to_vec();
    text.extend_from_slice("Esta linha tem bem mais do que quarenta caracteres.\n".as_bytes());
    text.extend_from_slice(b"Caf\xe9\n");
    let plain = write(dir.path(), "livro.txt", &text);
    let pairs_file = write(dir.path(), "pairs.tsv", "Go.\tVai.\nno tab\n".as_bytes());
    let options = ReadOptions {
        plain_text: true,
        ..OPTIONS
    };
    let (pairs, report) = read_corpus(&[plain, pairs_file], options).expect("readable");
    assert_eq!(
        pairs,
        vec![
            pair("O livro está sobre a mesa.", "O livro está sobre a mesa."),
            pair("Ela lê.", "Ela lê."),
            pair("Go.", "Vai."),
        ]
    );
    assert_eq!(report.pairs_per_file, vec![2, 1]);
    assert_eq!(report.skipped(SkipReason::TooLong), 1);
    assert_eq!(report.skipped(SkipReason::NotUtf8), 1);
    assert_eq!(report.skipped(SkipReason::NoTab), 1);
}

#[test]
fn unusable_files_are_errors_that_name_them() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let missing = dir.path().join("missing.tsv");
    let binary = write(dir.path(), "model.bin", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR");
    let plain = write(dir.path(), "notes.txt", b"just a line\nand another\n");
    let no_pairs = write(dir.path(), "sides.tsv", b"\tno english\nno portuguese\t\n");
    let empty = write(dir.path(), "empty.tsv", b"\n\n");
    let utf16 = write(dir.path(), "utf16.tsv", b"\xFF\xFEH\0i\0\t\0O\0i\0");

    let message = |path| {
        let error: CorpusError = read_corpus(&[path], OPTIONS).expect_err("unusable");
        error.to_string()
    };
    assert_eq!(
        message(missing.clone()),
        format!("{}: no such file", missing.display())
    );
    assert_eq!(
        message(dir.path().to_path_buf()),
        format!(
            "{}: is a directory, not a tab-separated pair file",
            dir.path().display()
        )
    );
    assert!(message(binary.clone()).starts_with(&format!(
        "{}: binary file (NUL byte at offset 8)",
        binary.display()
    )));
    assert_eq!(
        message(plain.clone()),
        format!(
            "{}: plain text (no tab in its 2 lines), expected `english<TAB>portuguese` \
             pairs: plain text, one sentence a line, trains a language model (`\"task\": \"lm\"` \
             or `\"mlm\"`)",
            plain.display()
        )
    );
    assert_eq!(
        message(no_pairs.clone()),
        format!(
            "{}: no usable `english<TAB>portuguese` pair in 2 lines (line 1: empty side)",
            no_pairs.display()
        )
    );
    assert!(
        message(utf16.clone())
            .starts_with(&format!("{}: UTF-16 text, expected UTF-8", utf16.display()))
    );
    assert_eq!(
        message(empty.clone()),
        format!(
            "{}: no usable `english<TAB>portuguese` pair in 0 lines",
            empty.display()
        )
    );
}
