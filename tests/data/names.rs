//! Name augmentation (`data.names`): the names a pair carries over, replaced on both sides by
//! invented ones.

use std::sync::Arc;

use transformer_mt::data::DataConfig;
use transformer_mt::data::names::{
    NameSwapper, NamesConfig, carried_names, invent_name, replace_word, swap_names,
};
use transformer_mt::data::random::SplitMix64;
use transformer_mt::data::{Vocabularies, tag_token};

use super::common::pair;

/// A name is a capitalised word of the source, not the first of a sentence, found whole in
/// the target: "Tom" opens the sentence, "Debian" opens the second, "File" is translated,
/// "Tomás" is not "Tom", "A" and "x11" are no names.
#[test]
fn the_names_a_pair_carries_over() {
    let cases = [
        (
            "Tom met Mary in Boston, and Mary stayed.",
            "Tom conheceu a Mary em Boston, e a Mary ficou.",
            vec!["Mary", "Boston"],
        ),
        (
            "I use \"GIMP\" daily. Debian is fine: Xfce too.",
            "Eu uso o \"GIMP\" todo dia. O Debian é bom: o Xfce também.",
            vec!["GIMP"],
        ),
        ("Open the File menu.", "Abra o menu Arquivo.", vec![]),
        ("I saw Tom.", "Eu vi o Tomás.", vec![]),
        ("Press A then x11 X.", "Pressione A e x11 X.", vec![]),
    ];
    for (source, target, names) in cases {
        assert_eq!(carried_names(&pair(source, target)), names, "{source}");
    }
}

/// Only whole words are replaced.
#[test]
fn a_name_is_replaced_where_it_stands_whole() {
    assert_eq!(
        replace_word("Tom and Tomás, Tom's and ATom.", "Tom", "Zed"),
        "Zed and Tomás, Zed's and ATom."
    );
    assert_eq!(replace_word("no name here", "Tom", "Zed"), "no name here");
}

/// An acronym becomes as many capitals; a word, a capitalised one of consonant–vowel
/// syllables at least as long; the same draws give the same names.
#[test]
fn invented_names_have_the_shape_of_the_names_they_replace() {
    let mut rng = SplitMix64::new(7);
    for _ in 0..50 {
        let acronym = invent_name("UDP", &mut rng);
        assert_eq!(acronym.chars().count(), 3, "{acronym}");
        assert!(acronym.chars().all(|c| c.is_ascii_uppercase()), "{acronym}");
        let word = invent_name("Boston", &mut rng);
        assert!(word.len() >= 6 && word.len().is_multiple_of(2), "{word}");
        assert!(word.starts_with(|c: char| c.is_ascii_uppercase()), "{word}");
        let vowel = |c: char| "aeiou".contains(c.to_ascii_lowercase());
        for (i, c) in word.chars().enumerate() {
            assert_eq!(vowel(c), i % 2 == 1, "{word}");
        }
    }
    let names = |seed| {
        let mut rng = SplitMix64::new(seed);
        (0..5)
            .map(|_| invent_name("Mary", &mut rng))
            .collect::<Vec<_>>()
    };
    assert_eq!(names(3), names(3));
    assert_ne!(names(3), names(4));
}

/// Each name is replaced by one invented name on both sides, everywhere it stands.
#[test]
fn a_swapped_pair_keeps_its_names_in_step() {
    let original = pair(
        "Tom met Mary in Boston, and Mary stayed.",
        "Tom conheceu a Mary em Boston, e a Mary ficou.",
    );
    let names = carried_names(&original);
    let swapped = swap_names(&original, &names, &mut SplitMix64::new(1));
    let invented: Vec<&str> = swapped
        .source
        .split([' ', ','])
        .filter(|w| !w.is_empty())
        .collect();
    let (mary, boston) = (invented[2], invented[4]);
    assert_eq!(
        swapped.source,
        format!("Tom met {mary} in {boston}, and {mary} stayed.")
    );
    assert_eq!(
        swapped.target,
        format!("Tom conheceu a {mary} em {boston}, e a {mary} ficou.")
    );
    assert!(mary != "Mary" && boston != "Boston" && mary != boston);
}

/// An epoch gets `share` of its pairs, each from a pair that carries a name, its source
/// behind its file's tag; the same every time the epoch is drawn, others for another; pairs
/// over `max_len` positions are left out.
#[test]
fn an_epoch_gets_its_share_of_pairs_with_invented_names() {
    let mut text = Vec::new();
    for i in 0..20 {
        text.push(pair(
            &format!("I saw Tom at {i}."),
            &format!("Eu vi o Tom às {i}."),
        ));
        text.push(pair(
            &format!("I saw it at {i}."),
            &format!("Eu vi às {i}."),
        ));
    }
    let vocabularies =
        Vocabularies::train(&text, 300, true, &[tag_token("ev")]).expect("a tokenizer");
    let swapper = |max_len| {
        NameSwapper::new(
            Arc::new(text.clone()),
            &[0..20, 20..40],
            NamesConfig { share: 0.5 },
            vocabularies.clone(),
            max_len,
            5,
        )
        .with_tags(vec![Some("ev".to_string()), None])
    };
    let names = swapper(1000);
    assert_eq!(names.carrying(), 20);
    let epoch = names.pairs(1, 60);
    assert_eq!(epoch.len(), 30);
    let decode = |ids: &[u32]| vocabularies.source.decode(ids).expect("decodes");
    let tag = vocabularies
        .source
        .token_id(&tag_token("ev"))
        .expect("the tag's id");
    let mut invented = std::collections::BTreeSet::new();
    for encoded in &epoch {
        let (source, target) = (decode(&encoded.source), decode(&encoded.target));
        let tagged = encoded.source.first() == Some(&tag);
        let words: Vec<&str> = source.split_whitespace().collect();
        let [_, _, name, _, number] = words[..] else {
            panic!("{source}");
        };
        let number: usize = number.trim_end_matches('.').parse().expect("a number");
        // The first file's pairs are numbered 0 to 9, and only they are tagged.
        assert_eq!(tagged, number < 10, "{source}");
        assert_eq!(source, format!("I saw {name} at {number}."));
        assert_ne!(name, "Tom", "{source}");
        assert_eq!(target, format!("Eu vi o {name} às {number}."));
        invented.insert(name.to_string());
    }
    assert!(invented.len() > 20, "{invented:?}");
    assert_eq!(names.pairs(1, 60), epoch);
    assert_ne!(names.pairs(2, 60), epoch);
    assert!(swapper(3).pairs(1, 60).is_empty());
}

/// A share outside [0, 1] is refused, naming its field.
#[test]
fn a_wrong_share_of_names_is_named() {
    let config = DataConfig {
        names: NamesConfig { share: -0.1 },
        ..DataConfig::default()
    };
    let error = config.validate().expect_err("refused").to_string();
    assert!(
        error.contains("`data.names.share` must be in [0, 1], got -0.1"),
        "{error}"
    );
}

/// `scripts/names-copied.py` counts the names of each source its reference carries over as
/// `carried_names` does, and of those the ones a translation holds whole: here 4 carried
/// over, 2 copied ("Mary" twice in one source counts once; "Bost" is not "Boston").
#[test]
fn the_names_script_counts_as_the_augmentation_does() {
    let pairs = [
        (
            "Tom met Mary in Boston, and Mary stayed.",
            "Tom conheceu a Mary em Boston, e a Mary ficou.",
            "Tom conheceu a Mary em Bost, e a Mary ficou.",
        ),
        (
            "I use \"GIMP\" daily. Debian is fine.",
            "Eu uso o \"GIMP\" todo dia. O Debian é bom.",
            "Eu uso o GIMP todo dia. O Debian é bom.",
        ),
        (
            "Open the File menu.",
            "Abra o menu Arquivo.",
            "Abra o menu File.",
        ),
        ("I saw Ann.", "Eu vi a Ann.", "Eu vi a Ana."),
    ];
    let carried: usize = pairs
        .iter()
        .map(|(source, reference, _)| carried_names(&pair(source, reference)).len())
        .sum();
    assert_eq!(carried, 4);
    let dir = tempfile::tempdir().expect("temporary directory");
    let write = |name: &str, column: usize| {
        let path = dir.path().join(name);
        let lines: Vec<&str> = pairs.iter().map(|p| [p.0, p.1, p.2][column]).collect();
        std::fs::write(&path, lines.join("\n") + "\n").expect("writable");
        path
    };
    let files = [
        write("news.src", 0),
        write("news.ref", 1),
        write("news.hyp", 2),
    ];
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/names-copied.py");
    let output = std::process::Command::new("python3")
        .arg(script)
        .args(&files)
        .output()
        .expect("python3 runs");
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{text}");
    assert!(
        text.ends_with("news.hyp: 2 of 4 names carried over (50.0 %)\n"),
        "{text}"
    );
}
