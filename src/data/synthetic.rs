//! A synthetic English → Portuguese corpus: whole numbers from 0 to one million, written in
//! words in both languages.
//!
//! Small enough for a tiny model to learn in about a minute, and real grammar all the same:
//! the two languages order and join the parts differently ("twenty-one" / "vinte e um",
//! "one hundred" / "cem" but "one hundred one" / "cento e um", "one thousand" / "mil",
//! "two thousand five hundred" / "dois mil e quinhentos"), so a model has to learn more than
//! a word-for-word table. Deterministic for a seed; used by the tests and the demo run.

use std::collections::HashSet;

use super::corpus::Pair;
use super::random::SplitMix64;

/// The largest number written.
pub const MAX: u32 = 1_000_000;

const EN_UNITS: [&str; 20] = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
];
const EN_TENS: [&str; 10] = [
    "", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety",
];
// Brazilian spelling, as most of the shared corpus.
const PT_UNITS: [&str; 20] = [
    "zero",
    "um",
    "dois",
    "três",
    "quatro",
    "cinco",
    "seis",
    "sete",
    "oito",
    "nove",
    "dez",
    "onze",
    "doze",
    "treze",
    "catorze",
    "quinze",
    "dezesseis",
    "dezessete",
    "dezoito",
    "dezenove",
];
const PT_TENS: [&str; 10] = [
    "",
    "",
    "vinte",
    "trinta",
    "quarenta",
    "cinquenta",
    "sessenta",
    "setenta",
    "oitenta",
    "noventa",
];
const PT_HUNDREDS: [&str; 10] = [
    "",
    "cento",
    "duzentos",
    "trezentos",
    "quatrocentos",
    "quinhentos",
    "seiscentos",
    "setecentos",
    "oitocentos",
    "novecentos",
];

/// `n` in English words (American style: "one hundred twenty-three").
pub fn english(n: u32) -> String {
    assert!(n <= MAX, "{n} is above {MAX}");
    match n {
        MAX => "one million".to_string(),
        0..=999 => english_below_thousand(n),
        _ => {
            let (thousands, rest) = (n / 1000, n % 1000);
            let head = format!("{} thousand", english_below_thousand(thousands));
            if rest == 0 {
                head
            } else {
                format!("{head} {}", english_below_thousand(rest))
            }
        }
    }
}

/// `n < 100` from a language's words for 0–19 and the tens, a ten and a unit joined by `and`.
fn below_hundred(n: u32, units: &[&str; 20], tens: &[&str; 10], and: &str) -> String {
    match n {
        0..=19 => units[n as usize].to_string(),
        _ if n.is_multiple_of(10) => tens[(n / 10) as usize].to_string(),
        _ => format!(
            "{}{and}{}",
            tens[(n / 10) as usize],
            units[(n % 10) as usize]
        ),
    }
}

fn english_below_thousand(n: u32) -> String {
    let (hundreds, rest) = (n / 100, n % 100);
    let tens = below_hundred(rest, &EN_UNITS, &EN_TENS, "-");
    match (hundreds, rest) {
        (0, _) => tens,
        (_, 0) => format!("{} hundred", EN_UNITS[hundreds as usize]),
        _ => format!("{} hundred {tens}", EN_UNITS[hundreds as usize]),
    }
}

/// `n` in Portuguese words: parts joined by "e" ("trezentos e quarenta e cinco"); "cem" for
/// a bare hundred; "mil" alone for one thousand; after "mil", "e" only before a last group
/// that is below one hundred or a round hundred ("mil e um", "dois mil e quinhentos", but
/// "mil duzentos e trinta").
pub fn portuguese(n: u32) -> String {
    assert!(n <= MAX, "{n} is above {MAX}");
    match n {
        MAX => "um milhão".to_string(),
        0..=999 => portuguese_below_thousand(n),
        _ => {
            let (thousands, rest) = (n / 1000, n % 1000);
            let head = match thousands {
                1 => "mil".to_string(),
                _ => format!("{} mil", portuguese_below_thousand(thousands)),
            };
            match rest {
                0 => head,
                _ if rest < 100 || rest.is_multiple_of(100) => {
                    format!("{head} e {}", portuguese_below_thousand(rest))
                }
                _ => format!("{head} {}", portuguese_below_thousand(rest)),
            }
        }
    }
}

fn portuguese_below_thousand(n: u32) -> String {
    let (hundreds, rest) = (n / 100, n % 100);
    let tens = below_hundred(rest, &PT_UNITS, &PT_TENS, " e ");
    match (hundreds, rest) {
        (0, _) => tens,
        (1, 0) => "cem".to_string(),
        (_, 0) => PT_HUNDREDS[hundreds as usize].to_string(),
        _ => format!("{} e {tens}", PT_HUNDREDS[hundreds as usize]),
    }
}

/// `count` distinct numbers with their English and Portuguese words. Every number below
/// 1000 comes first (the building blocks), then numbers drawn with a seeded generator, half
/// of them round to the thousand or hundred so that the "e" rules are seen often.
pub fn number_pairs(count: usize, seed: u64) -> Vec<Pair> {
    let count = count.min(MAX as usize + 1);
    let mut rng = SplitMix64::new(seed);
    let mut seen = HashSet::with_capacity(count);
    let mut numbers: Vec<u32> = (0..1000.min(count as u32)).collect();
    seen.extend(numbers.iter().copied());
    while numbers.len() < count {
        let n = (rng.next_u64() % (MAX as u64 + 1)) as u32;
        let n = match rng.next_u64() % 4 {
            0 => n - n % 1000,
            1 => n - n % 100,
            _ => n,
        };
        if seen.insert(n) {
            numbers.push(n);
        }
    }
    numbers
        .into_iter()
        .map(|n| Pair {
            source: english(n),
            target: portuguese(n),
        })
        .collect()
}

/// `count` counts, each in English words and in Portuguese (`"five, seven, nine, eleven"`,
/// `"cinco, sete, nove, onze"`): from a start in 0..=40, by a step in 1..=5, 4 to 8
/// numbers, drawn with a seeded generator. Given two numbers of a count every other is
/// certain: what a small language model can learn in seconds (the target side, for GPT),
/// and a masked one fill in (the source side, for BERT). Repeats are kept: about 1,000 of
/// the counts are distinct.
pub fn counting_pairs(count: usize, seed: u64) -> Vec<Pair> {
    let mut rng = SplitMix64::new(seed);
    let mut draw = |n: u64| (rng.next_u64() % n) as u32;
    (0..count)
        .map(|_| {
            let (start, step, len) = (draw(41), 1 + draw(5), 4 + draw(5));
            let numbers: Vec<u32> = (0..len).map(|k| start + step * k).collect();
            let words = |say: fn(u32) -> String| {
                numbers
                    .iter()
                    .map(|&n| say(n))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            Pair {
                source: words(english),
                target: words(portuguese),
            }
        })
        .collect()
}
