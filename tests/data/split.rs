//! The deterministic split.

use std::collections::{HashMap, HashSet};

use transformer_mt::data::split::{Part, SplitConfig, split};

use super::common::pair;

fn numbered(count: usize) -> Vec<transformer_mt::data::corpus::Pair> {
    (0..count)
        .map(|i| pair(&format!("sentence {i}"), &format!("frase {i}")))
        .collect()
}

#[test]
fn parts_have_the_configured_sizes_and_are_disjoint() {
    let config = SplitConfig {
        valid_fraction: 0.1,
        test_fraction: 0.2,
        seed: 7,
    };
    let splits = split(numbered(20_000), &config);
    let (train, valid, test) = (splits.train.len(), splits.valid.len(), splits.test.len());
    assert_eq!(train + valid + test, 20_000);
    // Binomial standard deviations are about 42 and 57 here: 5 of them either way.
    assert!((1_790..=2_210).contains(&valid), "valid {valid}");
    assert!((3_715..=4_285).contains(&test), "test {test}");
    let sources = |pairs: &[transformer_mt::data::corpus::Pair]| -> HashSet<String> {
        pairs.iter().map(|p| p.source.clone()).collect()
    };
    let (tr, va, te) = (
        sources(&splits.train),
        sources(&splits.valid),
        sources(&splits.test),
    );
    assert!(tr.is_disjoint(&va) && tr.is_disjoint(&te) && va.is_disjoint(&te));
}

#[test]
fn translations_of_one_sentence_stay_together_and_duplicates_go() {
    let mut pairs = Vec::new();
    for i in 0..500 {
        let source = format!("I saw it {i} times.");
        pairs.push(pair(&source, &format!("Eu vi {i} vezes.")));
        pairs.push(pair(&source, &format!("Vi aquilo {i} vezes.")));
        pairs.push(pair(&source, &format!("Eu vi {i} vezes.")));
    }
    let splits = split(pairs, &SplitConfig::default());
    assert_eq!(splits.duplicates, 500);
    let mut parts: HashMap<String, Vec<Part>> = HashMap::new();
    for (part, pairs) in [
        (Part::Train, &splits.train),
        (Part::Valid, &splits.valid),
        (Part::Test, &splits.test),
    ] {
        assert!(!pairs.is_empty(), "{part:?} is empty");
        for p in pairs.iter() {
            parts.entry(p.source.clone()).or_default().push(part);
        }
    }
    assert_eq!(parts.len(), 500);
    for (source, parts) in parts {
        assert_eq!(parts.len(), 2, "{source}");
        assert_eq!(
            parts[0], parts[1],
            "the translations of {source:?} were split up"
        );
    }
}

#[test]
fn adding_lines_never_moves_old_ones_and_the_seed_matters() {
    let config = SplitConfig::default();
    let before = split(numbered(5_000), &config);
    let after = split(numbered(8_000), &config);
    for (old, new) in [
        (&before.train, &after.train),
        (&before.valid, &after.valid),
        (&before.test, &after.test),
    ] {
        assert_eq!(
            &new[..old.len()],
            &old[..],
            "old pairs keep their part and order"
        );
    }
    let reseeded = split(numbered(5_000), &SplitConfig { seed: 1, ..config });
    assert_ne!(reseeded.valid, before.valid);
}
