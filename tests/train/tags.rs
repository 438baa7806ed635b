//! A run trained with domain tags translates with its default tag, or with the one `--tag`
//! names, and refuses a tag it did not train with.

use transformer_mt::run::RunDir;
use transformer_mt::translate::Translator;

use super::common::*;

/// The sources `infer`, `eval` and `attention` translate begin with the run's
/// `data.default_tag` token, or with `--tag`'s; an unknown tag is an error naming it.
#[test]
fn translation_begins_with_the_default_tag_or_the_one_asked() {
    let Setup { dir, data, .. } = setup(600, 512);
    let [everyday, menus] = split_lines(
        dir.path(),
        &data,
        &[("everyday.tsv", 0..300), ("menus.tsv", 300..600)],
    )
    .try_into()
    .expect("two files");
    let config = tiny_config(dir.path(), "tags.json", |c| {
        c["data"]["tags"] = serde_json::json!({ path(&everyday): "ev", path(&menus): "ui" });
        c["data"]["default_tag"] = "ev".into();
    });
    let run = dir.path().join("run");
    let files = [everyday, menus];
    let output = train_files(dir.path(), &config, &files, &run, &["--epochs", "1"]);
    assert!(output.status.success(), "{}", stderr(&output));

    let backend = crate::shared::cpu_backend();
    let translator = Translator::load(&RunDir::from_arg(&run), backend).expect("loads");
    assert_eq!(translator.tag(), Some("ev"));
    let tokenizer = translator.vocabularies().source.clone();
    let id = |token: &str| {
        let ids = tokenizer.encode(token).expect("encodes");
        assert_eq!(ids.len(), 1, "{token} is one token");
        ids[0]
    };
    let plain = tokenizer.encode("one hundred").expect("encodes");
    let sources = translator.encode(&["one hundred"]).expect("encodes");
    assert_eq!(sources.ids[0], [vec![id("<ev>")], plain.clone()].concat());
    let menus_tag = translator.with_tag(Some("ui")).expect("a tag of the run");
    let sources = menus_tag.encode(&["one hundred"]).expect("encodes");
    assert_eq!(sources.ids[0], [vec![id("<ui>")], plain].concat());
    assert!(menus_tag.with_tag(Some("doc")).is_err());

    let infer = run_in(
        dir.path(),
        &["infer", "--run", path(&run), "--tag", "ui", "one hundred"],
    );
    assert!(infer.status.success(), "{}", stderr(&infer));
    let unknown = run_in(
        dir.path(),
        &["infer", "--run", path(&run), "--tag", "doc", "one"],
    );
    assert_eq!(unknown.status.code(), Some(1));
    assert!(
        stderr(&unknown).contains("--tag doc: this model did not train with that domain tag"),
        "{}",
        stderr(&unknown)
    );
}
