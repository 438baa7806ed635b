//! The real English–Portuguese corpus from `../shared/data`, end to end.

use std::collections::HashSet;

use transformer_mt::data::batch::{padding_ratio, token_budget_batches};
use transformer_mt::data::corpus::{Direction, ReadOptions, SkipReason, read_corpus};
use transformer_mt::data::split::{SplitConfig, split};
use transformer_mt::data::{DataConfig, Vocabularies};

use super::common::shared_data;

#[test]
fn the_shared_corpus_reads_splits_tokenizes_and_batches() {
    let dir = shared_data();
    let files = [
        dir.join("tatoeba.eng-por.tsv"),
        dir.join("software.eng-por.tsv"),
    ];
    let config = DataConfig::default();
    let options = ReadOptions {
        direction: Direction::EnPt,
        max_chars: config.max_chars,
        plain_text: false,
    };
    let (pairs, report) = read_corpus(&files, options).expect("readable");
    // The corpus README: 11,869 + 101,760 pairs, one a line; only sides over max_chars are
    // skipped, and there are as many as a plain count of the lines finds.
    let over_max_chars: usize = files
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(f).expect("UTF-8");
            text.lines()
                .filter(|l| {
                    l.split('\t')
                        .any(|side| side.chars().count() > config.max_chars)
                })
                .count()
        })
        .sum();
    assert_eq!(report.pairs + over_max_chars, 11_869 + 101_760, "{report}");
    assert_eq!(report.skipped(SkipReason::TooLong), over_max_chars);
    assert_eq!(report.total_skipped(), over_max_chars, "{report}");

    let splits = split(pairs, &SplitConfig::default());
    let total = splits.train.len() + splits.valid.len() + splits.test.len() + splits.duplicates;
    assert_eq!(total, report.pairs);
    let held_out = (splits.valid.len() + splits.test.len()) as f64 / total as f64;
    assert!((0.035..0.045).contains(&held_out), "{held_out}");
    let train_sources: HashSet<&str> = splits.train.iter().map(|p| p.source.as_str()).collect();
    for pair in splits.valid.iter().chain(&splits.test) {
        assert!(
            !train_sources.contains(pair.source.as_str()),
            "{pair:?} is also in train"
        );
    }

    let vocabularies =
        Vocabularies::train(&splits.train, config.vocab_size, true, &[]).expect("trains");
    assert_eq!(vocabularies.source.vocab_size(), config.vocab_size);
    for pair in &splits.test {
        for text in [&pair.source, &pair.target] {
            let ids = vocabularies.source.encode(text).expect("encodes");
            assert_eq!(&vocabularies.source.decode(&ids).expect("decodes"), text);
        }
    }

    let encoded = vocabularies.encode(&splits.train).expect("encodes");
    let batches = token_budget_batches(&encoded, config.max_tokens, config.seed);
    let ratio = padding_ratio(&encoded, &batches);
    assert!(ratio < 0.15, "padding ratio {ratio}");
}
