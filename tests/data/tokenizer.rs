//! The byte-level BPE tokenizer.

use transformer_mt::data::tokenizer::{BOS_ID, EOS_ID, PAD_ID, SubwordTokenizer, UNK_ID};

const SENTENCES: [&str; 6] = [
    "The book is on the table.",
    "O livro está sobre a mesa.",
    "Where is the book?",
    "Onde está o livro?",
    "The table is new.",
    "A mesa é nova.",
];

fn trained() -> SubwordTokenizer {
    let corpus: Vec<&str> = SENTENCES.iter().cycle().take(60).copied().collect();
    SubwordTokenizer::train(corpus.into_iter(), 300).expect("trains")
}

#[test]
fn special_tokens_have_fixed_ids_and_the_vocabulary_its_size() {
    let tokenizer = trained();
    assert_eq!((PAD_ID, UNK_ID, BOS_ID, EOS_ID), (0, 1, 2, 3));
    assert_eq!(
        tokenizer.tokens(&[0, 1, 2, 3]),
        ["<pad>", "<unk>", "<s>", "</s>"]
    );
    // 4 special tokens + 256 bytes + up to 40 merges.
    assert!(tokenizer.vocab_size() > 260 && tokenizer.vocab_size() <= 300);
}

#[test]
fn decoding_an_encoding_gives_back_the_text_even_unseen() {
    let tokenizer = trained();
    for text in SENTENCES.iter().chain(&[
        "Ação, coração e pão — 100 % novos!",
        "日本語も大丈夫です。",
        "Tabs\tand  double spaces survive too.",
    ]) {
        let ids = tokenizer.encode(text).expect("encodes");
        assert!(!ids.contains(&UNK_ID), "{text}");
        assert_eq!(tokenizer.decode(&ids).expect("decodes"), *text);
    }
    // Frequent words became single tokens; an unseen word is spelled in pieces.
    let book = tokenizer.encode("The book").expect("encodes");
    assert_eq!(book.len(), 2, "{:?}", tokenizer.tokens(&book));
    assert!(tokenizer.encode("Xylophone").expect("encodes").len() > 2);
}

#[test]
fn a_saved_tokenizer_loads_and_encodes_the_same() {
    let tokenizer = trained();
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("run/tokenizer.json");
    tokenizer.save(&path).expect("saves");
    let loaded = SubwordTokenizer::load(&path).expect("loads");
    let texts: Vec<&str> = SENTENCES.to_vec();
    assert_eq!(
        loaded.encode_batch(&texts).expect("encodes"),
        tokenizer.encode_batch(&texts).expect("encodes")
    );
    let foreign = dir.path().join("config.json");
    std::fs::write(&foreign, r#"{"d_model": 512}"#).expect("writable");
    let error = SubwordTokenizer::load(&foreign).expect_err("not a tokenizer");
    assert!(
        error
            .to_string()
            .starts_with(&format!("{}: not a usable tokenizer", foreign.display())),
        "{error}"
    );
}

/// Found by the fuzz target `tokenizer`: `tokenizers` panicked (an `expect` in its decoder's
/// deserialisation) on a stray number inside the `decoder` section, and on a number out of
/// range in the vocabulary, where it should have returned an error; such a file is now
/// refused naming it and the line.
#[test]
fn a_tokenizer_file_broken_inside_a_section_is_refused_not_a_panic() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("tokenizer.json");
    trained().save(&path).expect("saves");
    let text = std::fs::read_to_string(&path).expect("saved");
    let decoder = text.find("\"decoder\"").expect("a decoder section");
    let flag = decoder + text[decoder..].find("false,").expect("a flag") + "false,".len();
    let stray = format!("{}4294967296{}", &text[..flag], &text[flag..]);
    let vocab = text.find("\"vocab\"").expect("a vocabulary");
    let id = vocab + text[vocab..].find(": 4,").expect("id 4") + 2;
    let out_of_range = format!("{}5e1122{}", &text[..id], &text[id + 1..]);
    for broken in [stray, out_of_range] {
        std::fs::write(&path, broken).expect("writable");
        let error = SubwordTokenizer::load(&path).expect_err("broken JSON");
        let message = error.to_string();
        assert!(
            message.starts_with(&format!(
                "{}: not a usable tokenizer: not JSON",
                path.display()
            )),
            "{message}"
        );
        assert!(message.contains("line"), "{message}");
    }
}
