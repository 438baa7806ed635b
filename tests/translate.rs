//! The translator over a whole input: how its batches are spread over threads never changes a
//! translation.

use std::path::Path;

use transformer_mt::backend::Backend;
use transformer_mt::run::RunDir;
use transformer_mt::translate::search::Decoding;
use transformer_mt::translate::{SearchSettings, Translator};

/// On flex the batches are translated side by side, one a thread, each thread running its
/// operations on a rayon pool of its own: the translations, their scores and their order are
/// those of one thread translating the batches in turn, greedy and beam, at batch 1 and at a
/// batch of several sentences.
#[test]
fn flex_translates_the_same_on_two_threads_as_on_one() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/eng-por");
    let translator =
        Translator::load(&RunDir::from_arg(&run), Backend::Flex).expect("the shipped model");
    let sentences = [
        "Tom is reading a book in the garden.",
        "",
        "Where is the station?",
        "The European Parliament approved the new budget yesterday.",
        "I like cats.",
        "Click the button to save the file before you close the window.",
        "She has lived in this town for ten years, and she still loves it.",
    ];
    let sources = translator.encode(&sentences).expect("encodes");
    for (beam, batch_size) in [(1, 1), (4, 1), (1, 3), (4, 3)] {
        let settings = SearchSettings {
            beam,
            alpha: SearchSettings::DEFAULT_ALPHA,
            n_best: 1,
            max_tokens: usize::MAX,
            decoding: Decoding::Cached,
            batch_size,
        };
        let on = |threads: usize| {
            let mut reported = 0;
            let translations = rayon::ThreadPoolBuilder::new()
                .num_threads(threads)
                .build()
                .expect("a thread pool")
                .install(|| translator.translate(&sources.ids, &settings, |done| reported += done))
                .expect("translates");
            assert_eq!(
                reported,
                sentences.len(),
                "{threads} threads, beam {beam}, batch {batch_size}"
            );
            translations
        };
        let (one, two) = (on(1), on(2));
        assert_eq!(one.len(), sentences.len());
        assert_eq!(one[1][0].text, "");
        for (a, b) in one.iter().zip(&two) {
            assert_eq!(a[0].text, b[0].text, "beam {beam}, batch {batch_size}");
            assert_eq!(a[0].score, b[0].score, "beam {beam}, batch {batch_size}");
        }
    }
}

/// How many hypotheses are asked for never changes the best one: with α > 0 a longer
/// hypothesis may still overtake those finished first, so the search does not stop at the
/// first finished one even when only one is returned. The first 40 sentences of the news dev
/// set, beam 4, the default α, flex.
#[test]
fn the_best_translation_is_the_same_whether_one_or_four_are_asked_for() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/eng-por");
    let translator =
        Translator::load(&RunDir::from_arg(&run), Backend::Flex).expect("the shipped model");
    let news = std::fs::read_to_string(
        crate::data::common::shared_data().join("ntrex128.eng-por.dev.tsv"),
    )
    .expect("the news dev set");
    let sentences: Vec<&str> = news
        .lines()
        .take(40)
        .map(|line| line.split('\t').next().unwrap_or_default())
        .collect();
    let sources = translator.encode(&sentences).expect("encodes");
    let translate = |n_best| {
        let settings = SearchSettings {
            beam: 4,
            alpha: SearchSettings::DEFAULT_ALPHA,
            n_best,
            max_tokens: usize::MAX,
            decoding: Decoding::Cached,
            batch_size: 8,
        };
        translator
            .translate(&sources.ids, &settings, |_| {})
            .expect("translates")
    };
    let (one, four) = (translate(1), translate(4));
    for (i, (one, four)) in one.iter().zip(&four).enumerate() {
        assert_eq!(one.len(), 1);
        assert_eq!(four.len(), 4, "sentence {}", i + 1);
        assert_eq!(one[0].text, four[0].text, "sentence {}", i + 1);
        assert_eq!(one[0].score, four[0].score, "sentence {}", i + 1);
    }
}
