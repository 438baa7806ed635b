//! BERT's masking: how many tokens are chosen, and the 80 / 10 / 10 split of what they
//! become, over many draws.

use transformer_mt::data::masking::Masking;
use transformer_mt::data::random::SplitMix64;
use transformer_mt::data::tokenizer::{BOS_ID, EOS_ID, PAD_ID};

const MASK: u32 = 4;
const VOCAB: u32 = 1000;

/// A sentence of `n` ordinary tokens, each distinct, none special.
fn sentence(n: usize) -> Vec<u32> {
    (0..n as u32).map(|i| 100 + i).collect()
}

/// `max(1, round(0.15 · n))` tokens are chosen, worked out by hand: 1 of 1 to 9 (0.15 · 9
/// = 1.35), 2 of 10 (1.5 rounds away from zero), 15 of 100; none of none.
#[test]
fn fifteen_percent_of_the_tokens_are_chosen() {
    let masking = Masking::bert(MASK, VOCAB);
    for (n, chosen) in [
        (0, 0),
        (1, 1),
        (6, 1),
        (9, 1),
        (10, 2),
        (13, 2),
        (20, 3),
        (100, 15),
    ] {
        assert_eq!(masking.chosen_count(n), chosen, "of {n}");
        let mut rng = SplitMix64::new(n as u64);
        let masked = masking.apply(&sentence(n), &mut rng);
        assert_eq!(masked.input.len(), n + 2);
        assert_eq!(masked.input[0], BOS_ID, "[CLS] first");
        assert_eq!(masked.input[n + 1], EOS_ID, "[SEP] last");
        assert_eq!(masked.labels[0], PAD_ID, "[CLS] is never predicted");
        assert_eq!(masked.labels[n + 1], PAD_ID, "[SEP] is never predicted");
        let labelled = masked.labels.iter().filter(|&&l| l != PAD_ID).count();
        assert_eq!(labelled, chosen, "of {n}");
    }
}

/// Over 20,000 sentences of 100 tokens (300,000 chosen), a chosen token becomes `[MASK]`
/// 80 % of the time, a random ordinary token 10 % and stays 10 %, each within 0.5 point (the
/// standard deviation of a share of 0.1 over 300,000 draws is 0.055 point); a token not
/// chosen never changes, a label is always the original token, the random tokens are never
/// special and spread over the vocabulary, and every position is chosen about as often.
#[test]
fn chosen_tokens_become_mask_random_or_stay_eighty_ten_ten() {
    let masking = Masking::bert(MASK, VOCAB);
    let tokens = sentence(100);
    let mut rng = SplitMix64::new(7);
    let (mut masked, mut random, mut kept) = (0usize, 0usize, 0usize);
    let mut by_position = [0usize; 100];
    let mut random_ids = std::collections::HashSet::new();
    for _ in 0..20_000 {
        let draw = masking.apply(&tokens, &mut rng);
        for (i, &original) in tokens.iter().enumerate() {
            let (input, label) = (draw.input[i + 1], draw.labels[i + 1]);
            if label == PAD_ID {
                assert_eq!(input, original, "a token not chosen changed");
                continue;
            }
            assert_eq!(label, original, "the label is the original token");
            by_position[i] += 1;
            match input {
                MASK => masked += 1,
                _ if input == original => kept += 1,
                _ => {
                    assert!((MASK + 1..VOCAB).contains(&input), "random token {input}");
                    random_ids.insert(input);
                    random += 1;
                }
            }
        }
    }
    let chosen = (masked + random + kept) as f64;
    assert_eq!(chosen, 300_000.0);
    for (name, count, share) in [
        ("[MASK]", masked, 0.8),
        ("random", random, 0.1),
        ("kept", kept, 0.1),
    ] {
        let seen = count as f64 / chosen;
        assert!(
            (seen - share).abs() < 0.005,
            "{name}: {seen} against {share}"
        );
    }
    // A random draw may hit the original token (1 in 995): counted as kept, as in BERT.
    assert!(
        random_ids.len() > 900,
        "random tokens cover {} ids",
        random_ids.len()
    );
    // Each position is chosen 3,000 times on average (15 of 100 in 20,000 sentences).
    for (position, &count) in by_position.iter().enumerate() {
        assert!(
            (2_700..3_300).contains(&count),
            "position {position}: {count}"
        );
    }
}
