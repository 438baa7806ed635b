//! Domain tags (`data.tags`, `data.default_tag`): each tagged file's sources begin with its
//! tag, one token of the source vocabulary; the files validated whole take the default tag.

use std::collections::BTreeMap;
use std::path::PathBuf;

use transformer_mt::data::{DataConfig, prepare};

use super::common::{numbered_lines as lines, small_config, write};

fn config(files: &[PathBuf], tags: &[(&PathBuf, &str)], default_tag: Option<&str>) -> DataConfig {
    DataConfig {
        tags: tags
            .iter()
            .map(|(f, tag)| ((*f).clone(), tag.to_string()))
            .collect::<BTreeMap<_, _>>(),
        default_tag: default_tag.map(str::to_string),
        ..small_config(files)
    }
}

/// The tagged file's training and held-out sources start with its tag's one token, the
/// untagged file's do not, a file validated whole starts with the default tag's; the rest of
/// each source is encoded as without a tag.
#[test]
fn tagged_sources_begin_with_their_tag_token() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let chat = write(dir.path(), "chat.tsv", lines("cat", 60).as_bytes());
    let menus = write(dir.path(), "menus.tsv", lines("dog", 60).as_bytes());
    let news = write(dir.path(), "news.tsv", lines("cow", 10).as_bytes());
    let files = [chat.clone(), menus.clone()];
    let mut tagged = config(&files, &[(&chat, "ev"), (&menus, "ui")], Some("ev"));
    tagged.tags.remove(&menus);
    tagged.valid = vec![news];
    let prepared = prepare(&tagged, &files, None, dir.path()).expect("prepares");
    let tokenizer = &prepared.vocabularies.source;
    let ev = tokenizer.encode("<ev>").expect("encodes");
    assert_eq!(ev.len(), 1, "the tag is one token");
    assert!(tokenizer.has_token("<ev>"));
    assert!(!tokenizer.has_token("<ui>"), "only the tags of `data.tags`");
    for (file, range) in prepared.train_by_file.iter().enumerate() {
        for (pair, text) in prepared.train[range.clone()]
            .iter()
            .zip(&prepared.splits.train[prepared.text_by_file[file].clone()])
        {
            let plain = tokenizer.encode(&text.source).expect("encodes");
            match file {
                0 => assert_eq!(pair.source, [ev.clone(), plain].concat()),
                _ => assert_eq!(pair.source, plain),
            }
        }
    }
    let names: Vec<&str> = prepared.valid.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(names, ["chat", "menus", "news"]);
    for set in &prepared.valid {
        let tagged = set.pairs.iter().all(|p| p.source[0] == ev[0]);
        assert_eq!(tagged, set.name != "menus", "{}", set.name);
    }
}

/// A tag of odd characters, a default tag no file has, and a run taking over a tokenizer
/// without the tag are refused, naming the field.
#[test]
fn bad_tags_are_named() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let chat = write(dir.path(), "chat.tsv", lines("cat", 60).as_bytes());
    let files = [chat.clone()];
    let odd = config(&files, &[(&chat, "e v")], None);
    let error = odd.validate().expect_err("refused").to_string();
    assert!(
        error.contains("`data.tags`: the tag of") && error.contains("\"e v\""),
        "{error}"
    );
    let stray = config(&files, &[(&chat, "ev")], Some("doc"));
    let error = stray.validate().expect_err("refused").to_string();
    assert!(
        error.contains("`data.default_tag` \"doc\" is none of `data.tags`'s (ev)"),
        "{error}"
    );
    let untagged = prepare(&config(&files, &[], None), &files, None, dir.path()).expect("prepares");
    let error = prepare(
        &config(&files, &[(&chat, "ev")], Some("ev")),
        &files,
        Some(untagged.vocabularies),
        dir.path(),
    )
    .err()
    .expect("refused")
    .to_string();
    assert!(error.contains("has no <ev> token"), "{error}");
}
