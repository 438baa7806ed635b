//! The synthetic numbers corpus against numbers written out by hand.

use std::collections::HashSet;

use transformer_mt::data::synthetic::{counting_pairs, english, number_pairs, portuguese};

#[test]
fn numbers_are_written_as_in_each_language() {
    let cases = [
        (0, "zero", "zero"),
        (1, "one", "um"),
        (14, "fourteen", "catorze"),
        (16, "sixteen", "dezesseis"),
        (21, "twenty-one", "vinte e um"),
        (40, "forty", "quarenta"),
        (100, "one hundred", "cem"),
        (101, "one hundred one", "cento e um"),
        (
            345,
            "three hundred forty-five",
            "trezentos e quarenta e cinco",
        ),
        (500, "five hundred", "quinhentos"),
        (1000, "one thousand", "mil"),
        (1001, "one thousand one", "mil e um"),
        (1100, "one thousand one hundred", "mil e cem"),
        (
            1234,
            "one thousand two hundred thirty-four",
            "mil duzentos e trinta e quatro",
        ),
        (2500, "two thousand five hundred", "dois mil e quinhentos"),
        (21_000, "twenty-one thousand", "vinte e um mil"),
        (100_000, "one hundred thousand", "cem mil"),
        (101_000, "one hundred one thousand", "cento e um mil"),
        (
            999_999,
            "nine hundred ninety-nine thousand nine hundred ninety-nine",
            "novecentos e noventa e nove mil novecentos e noventa e nove",
        ),
        (1_000_000, "one million", "um milhão"),
    ];
    for (n, en, pt) in cases {
        assert_eq!(english(n), en, "{n}");
        assert_eq!(portuguese(n), pt, "{n}");
    }
}

#[test]
fn pairs_are_distinct_and_fixed_by_the_seed() {
    let pairs = number_pairs(5_000, 1);
    assert_eq!(pairs.len(), 5_000);
    let sources: HashSet<&str> = pairs.iter().map(|p| p.source.as_str()).collect();
    assert_eq!(sources.len(), 5_000);
    assert_eq!(
        pairs[..1000]
            .iter()
            .filter(|p| !p.source.contains("thousand"))
            .count(),
        1000
    );
    assert_eq!(number_pairs(5_000, 1), pairs);
    assert_ne!(number_pairs(5_000, 2)[1000..], pairs[1000..]);
}

/// Counts: each pair is one count in both languages — 4 to 8 numbers from a start in
/// 0..=40 by a step in 1..=5, the same numbers on both sides — the same for a seed, and
/// every start, step and length drawn in 3,000 counts.
#[test]
fn counts_say_the_same_numbers_in_both_languages() {
    let pairs = counting_pairs(3000, 0);
    assert_eq!(
        pairs,
        counting_pairs(3000, 0),
        "a seed gives the same counts"
    );
    assert_ne!(pairs, counting_pairs(3000, 1));
    let words: std::collections::HashMap<String, u32> = (0..=80).map(|n| (english(n), n)).collect();
    let (mut starts, mut steps, mut lengths) = (vec![0; 41], vec![0; 6], vec![0; 9]);
    for pair in &pairs {
        let numbers: Vec<u32> = pair.source.split(", ").map(|w| words[w]).collect();
        let said: Vec<String> = numbers.iter().map(|&n| portuguese(n)).collect();
        assert_eq!(pair.target, said.join(", "), "{pair:?}");
        let step = numbers[1] - numbers[0];
        assert!(numbers.windows(2).all(|w| w[1] - w[0] == step), "{pair:?}");
        starts[numbers[0] as usize] += 1;
        steps[step as usize] += 1;
        lengths[numbers.len()] += 1;
    }
    assert!(starts.iter().all(|&n| n > 0), "{starts:?}");
    assert!(
        steps[1..].iter().all(|&n| n > 0) && steps[0] == 0,
        "{steps:?}"
    );
    assert!(
        lengths[4..].iter().all(|&n| n > 0) && lengths[..4].iter().all(|&n| n == 0),
        "{lengths:?}"
    );
}
