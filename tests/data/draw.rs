//! Epochs of a fixed size drawn from the files by weight (`data.epoch_pairs`, `data.weights`),
//! and the joined pairs of concatenation augmentation (`data.concatenate`).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use transformer_mt::data::concat::{ConcatenateConfig, Concatenator};
use transformer_mt::data::corpus::Pair;
use transformer_mt::data::draw::EpochDraw;
use transformer_mt::data::{DataConfig, Vocabularies};

use super::common::pair;

/// The sorted indices of `draw`'s epochs `epochs` that fall in `range`.
fn drawn(
    draw: &EpochDraw,
    epochs: std::ops::RangeInclusive<usize>,
    range: std::ops::Range<usize>,
) -> Vec<usize> {
    let mut indices: Vec<usize> = epochs
        .flat_map(|epoch| draw.indices(epoch))
        .filter(|i| range.contains(i))
        .collect();
    indices.sort_unstable();
    indices
}

/// Weights 1 : 3 over 400 pairs an epoch give 100 and 300; a file is drawn without a repeat
/// until all its pairs were seen (a 100-pair file every epoch, a 900-pair file every three),
/// in another order each pass; the same epoch is drawn the same by a new draw (a resumed run).
#[test]
fn each_file_gives_its_weighted_share_and_every_pair_once_a_pass() {
    let draw = EpochDraw::new(vec![0..100, 100..1000], &[1.0, 3.0], 400, 7);
    assert_eq!(draw.per_epoch, [100, 300]);
    let epoch = draw.indices(1);
    assert_eq!(epoch.len(), 400);
    for e in 1..=6 {
        assert_eq!(
            drawn(&draw, e..=e, 0..100),
            (0..100).collect::<Vec<_>>(),
            "epoch {e}"
        );
    }
    assert_eq!(
        drawn(&draw, 1..=3, 100..1000),
        (100..1000).collect::<Vec<_>>()
    );
    assert_eq!(
        drawn(&draw, 4..=6, 100..1000),
        (100..1000).collect::<Vec<_>>()
    );
    let small: Vec<Vec<usize>> = (1..=2)
        .map(|e| draw.indices(e).into_iter().filter(|&i| i < 100).collect())
        .collect();
    assert_ne!(small[0], small[1], "each pass has an order of its own");
    let again = EpochDraw::new(vec![0..100, 100..1000], &[1.0, 3.0], 400, 7);
    assert_eq!(again.indices(5), draw.indices(5));
    assert_ne!(
        EpochDraw::new(vec![0..100, 100..1000], &[1.0, 3.0], 400, 8).indices(5),
        draw.indices(5)
    );
}

/// A file weighed past its size is seen several times an epoch, each pass whole; an empty
/// file or a weight of 0 gives nothing and the others share the epoch.
#[test]
fn a_small_file_weighed_up_repeats_in_whole_passes() {
    let draw = EpochDraw::new(vec![0..10, 10..10, 10..110], &[5.0, 3.0, 0.0], 25, 0);
    assert_eq!(draw.per_epoch, [25, 0, 0]);
    let indices = draw.indices(1);
    let mut first: Vec<usize> = indices[..10].to_vec();
    first.sort_unstable();
    assert_eq!(first, (0..10).collect::<Vec<_>>());
    let mut second: Vec<usize> = indices[10..20].to_vec();
    second.sort_unstable();
    assert_eq!(second, (0..10).collect::<Vec<_>>());
    assert_eq!(indices.len(), 25);
}

/// Pairs `"{word}{i}"` → `"{word}pt{i}"`, one word a side.
fn words(word: &str, count: usize) -> Vec<Pair> {
    (0..count)
        .map(|i| pair(&format!("{word}{i}"), &format!("{word}pt{i}")))
        .collect()
}

/// A joined pair is 2 to `max_pairs` pairs of one file, sources and targets joined in the
/// same order; an epoch gets `share` of its pairs, the same every time it is drawn, others
/// for another epoch; joined pairs over `max_len` positions are left out.
#[test]
fn joined_pairs_come_from_one_file_in_step() {
    let mut text = words("cat", 50);
    text.extend(words("dog", 50));
    let vocabularies = Vocabularies::train(&text, 300, true, &[]).expect("a tokenizer");
    let config = ConcatenateConfig {
        share: 0.25,
        max_pairs: 4,
    };
    let concatenator = Concatenator::new(
        Arc::new(text.clone()),
        vec![0..50, 50..100],
        &[1, 1],
        config.clone(),
        vocabularies.clone(),
        1000,
        3,
    );
    let joined = concatenator.pairs(1, 400);
    assert_eq!(joined.len(), 100);
    let decode = |ids: &[u32]| vocabularies.source.decode(ids).expect("decodes");
    let mut lengths = std::collections::BTreeSet::new();
    let mut files = std::collections::BTreeSet::new();
    for pair in &joined {
        let source = decode(&pair.source);
        let target = decode(&pair.target);
        let sources: Vec<&str> = source.split(' ').collect();
        let targets: Vec<&str> = target.split(' ').collect();
        assert!((2..=4).contains(&sources.len()), "{source}");
        lengths.insert(sources.len());
        let word = &sources[0][..3];
        files.insert(word.to_string());
        for (s, t) in sources.iter().zip(&targets) {
            assert!(s.starts_with(word), "{source}: two files");
            assert_eq!(
                *t,
                s.replacen(word, &format!("{word}pt"), 1),
                "{source} / {target}"
            );
        }
        assert_eq!(sources.len(), targets.len());
    }
    assert_eq!(lengths.len(), 3, "2, 3 and 4 pairs: {lengths:?}");
    assert_eq!(files.len(), 2);
    assert_eq!(concatenator.pairs(1, 400), joined);
    assert_ne!(concatenator.pairs(2, 400), joined);

    let short = Concatenator::new(
        Arc::new(text),
        vec![0..50, 50..100],
        &[1, 1],
        config,
        vocabularies,
        3,
        3,
    );
    assert!(short.pairs(1, 400).iter().all(|p| p.width() <= 3));
    assert!(short.pairs(1, 400).len() < 100);
}

/// Each wrong setting is refused, naming its field.
#[test]
fn bad_draw_and_concatenation_settings_are_named() {
    let file = PathBuf::from("a.tsv");
    let cases: Vec<(DataConfig, &str)> = vec![
        (
            DataConfig {
                epoch_pairs: Some(0),
                ..DataConfig::default()
            },
            "`data.epoch_pairs` must be at least 1",
        ),
        (
            DataConfig {
                weights: BTreeMap::from([(file.clone(), 2.0)]),
                ..DataConfig::default()
            },
            "`data.weights` needs `data.epoch_pairs`",
        ),
        (
            DataConfig {
                epoch_pairs: Some(10),
                oversample: BTreeMap::from([(file.clone(), 2)]),
                ..DataConfig::default()
            },
            "`data.oversample` and `data.epoch_pairs` are both set",
        ),
        (
            DataConfig {
                epoch_pairs: Some(10),
                weights: BTreeMap::from([(file.clone(), -1.0)]),
                ..DataConfig::default()
            },
            "`data.weights`: a.tsv must weigh a finite number of at least 0, got -1",
        ),
        (
            DataConfig {
                concatenate: ConcatenateConfig {
                    share: 1.5,
                    max_pairs: 3,
                },
                ..DataConfig::default()
            },
            "`data.concatenate.share` must be in [0, 1], got 1.5",
        ),
        (
            DataConfig {
                concatenate: ConcatenateConfig {
                    share: 0.1,
                    max_pairs: 1,
                },
                ..DataConfig::default()
            },
            "`data.concatenate.max_pairs` must be at least 2",
        ),
    ];
    for (config, message) in cases {
        let error = config.validate().expect_err(message).to_string();
        assert!(error.contains(message), "{error}");
    }
}
