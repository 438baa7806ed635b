//! Name augmentation: extra training pairs in which the names a pair carries over untranslated
//! (a capitalised word of the source found whole in the target: "Debian", "Tom", "GIMP") are
//! replaced, on both sides, by invented ones, drawn anew every epoch.
//!
//! A model that has seen "Tom" and "Boston" a thousand times learns those words, not that a
//! name is copied: on the news it writes "O Parentro da Europa" for "The European
//! Parliament". Names it cannot have learned, in the places where names stand, teach it to
//! copy what it does not know, piece by piece (the entity-swapping augmentation of, e.g., Hu
//! et al. 2022; the placeholder idea of Crego et al. 2016 without its placeholders).

use std::ops::Range;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::batch::EncodedPair;
use super::corpus::Pair;
use super::random::{SplitMix64, mix64};
use super::{Vocabularies, tag_source};

/// The `data.names` section: how many pairs with invented names an epoch adds.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NamesConfig {
    /// Pairs with invented names added to an epoch, as a share of its pairs: 0.1 adds one for
    /// every ten, each made from a training pair that carries a name over. Default: 0 (none).
    pub share: f64,
}

/// The names `pair` carries over: each word of its source, but the first of a sentence, that
/// is at least two letters long, all letters, begins with a capital, and occurs as a whole
/// word in its target; once each, in the order of the source.
pub fn carried_names(pair: &Pair) -> Vec<&str> {
    let mut names: Vec<&str> = Vec::new();
    let mut sentence_start = true;
    for word in pair.source.split_whitespace() {
        let name = word.trim_matches(|c: char| !c.is_alphanumeric());
        let first = sentence_start;
        sentence_start = word.ends_with(['.', '!', '?', ':']);
        if first
            || name.chars().count() < 2
            || !name.chars().all(char::is_alphabetic)
            || !name.starts_with(char::is_uppercase)
            || names.contains(&name)
        {
            continue;
        }
        if whole_words(&pair.target, name).next().is_some() {
            names.push(name);
        }
    }
    names
}

/// The byte offsets of `word` in `text` where it stands as a whole word: neither letter nor
/// digit just before or after it.
fn whole_words<'a>(text: &'a str, word: &'a str) -> impl Iterator<Item = usize> + 'a {
    text.match_indices(word).filter_map(move |(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        let joined = |c: Option<char>| c.is_some_and(char::is_alphanumeric);
        (!joined(before) && !joined(after)).then_some(at)
    })
}

/// `text` with every whole-word `word` replaced by `with`.
pub fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for at in whole_words(text, word) {
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + word.len();
    }
    out.push_str(&text[last..]);
    out
}

/// A name no corpus is likely to hold, shaped like `like`: an acronym of as many capitals
/// when `like` is all capitals ("UDP" → "KTW"), else a capitalised word of consonant–vowel
/// syllables of about its length ("Boston" → "Menaro").
pub fn invent_name(like: &str, rng: &mut SplitMix64) -> String {
    const CONSONANTS: &[u8] = b"bcdfghjklmnprstvwz";
    const VOWELS: &[u8] = b"aeiou";
    let mut pick = |letters: &[u8]| letters[(rng.next_u64() % letters.len() as u64) as usize];
    let letters = like.chars().count();
    if like.chars().all(char::is_uppercase) {
        return (0..letters)
            .map(|_| pick(CONSONANTS).to_ascii_uppercase() as char)
            .collect();
    }
    let mut name = String::with_capacity(letters + 1);
    for _ in 0..letters.div_ceil(2).max(2) {
        name.push(pick(CONSONANTS) as char);
        name.push(pick(VOWELS) as char);
    }
    let mut chars = name.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// `pair` with each of `names` replaced on both sides by an invented name.
pub fn swap_names(pair: &Pair, names: &[&str], rng: &mut SplitMix64) -> Pair {
    let mut swapped = pair.clone();
    for name in names {
        let invented = invent_name(name, rng);
        swapped.source = replace_word(&swapped.source, name, &invented);
        swapped.target = replace_word(&swapped.target, name, &invented);
    }
    swapped
}

/// Makes an epoch's pairs with invented names from the training text.
#[derive(Clone)]
pub struct NameSwapper {
    text: Arc<Vec<Pair>>,
    /// The pairs of `text` that carry a name over, with the index of their file.
    carrying: Vec<(usize, usize)>,
    /// Each file's domain tag, if any.
    tags: Vec<Option<String>>,
    config: NamesConfig,
    vocabularies: Vocabularies,
    max_len: usize,
    seed: u64,
}

impl NameSwapper {
    /// Finds the pairs of `text` (whose files are `files`) that carry a name over; those
    /// made from them over `max_len` positions are left out.
    pub fn new(
        text: Arc<Vec<Pair>>,
        files: &[Range<usize>],
        config: NamesConfig,
        vocabularies: Vocabularies,
        max_len: usize,
        seed: u64,
    ) -> Self {
        let carrying = files
            .iter()
            .enumerate()
            .flat_map(|(file, range)| range.clone().map(move |i| (i, file)))
            .filter(|&(i, _)| !carried_names(&text[i]).is_empty())
            .collect();
        Self {
            text,
            carrying,
            tags: vec![None; files.len()],
            config,
            vocabularies,
            max_len,
            seed,
        }
    }

    /// Begins the sources made from each file with its domain tag, `tags[f]`.
    pub fn with_tags(self, tags: Vec<Option<String>>) -> Self {
        Self { tags, ..self }
    }

    /// The training pairs that carry a name over.
    pub fn carrying(&self) -> usize {
        self.carrying.len()
    }

    /// The pairs with invented names of epoch `epoch` for an epoch of `pairs` pairs:
    /// `round(share · pairs)` of them, each from a pair that carries a name over drawn
    /// uniformly, less those too long, encoded.
    pub fn pairs(&self, epoch: usize, pairs: usize) -> Vec<EncodedPair> {
        let count = (self.config.share * pairs as f64).round() as usize;
        if count == 0 || self.carrying.is_empty() {
            return Vec::new();
        }
        // Another stream than the concatenation's (`!epoch`) and the batch order's.
        let mut rng = SplitMix64::new(mix64(self.seed ^ mix64(epoch as u64).rotate_left(17)));
        let swapped: Vec<Pair> = (0..count)
            .map(|_| {
                let at = (rng.next_u64() % self.carrying.len() as u64) as usize;
                let (i, file) = self.carrying[at];
                let pair = &self.text[i];
                let names = carried_names(pair);
                let swapped = swap_names(pair, &names, &mut rng);
                Pair {
                    source: tag_source(
                        self.tags.get(file).and_then(Option::as_deref),
                        &swapped.source,
                    ),
                    target: swapped.target,
                }
            })
            .collect();
        self.vocabularies.encode_extra(&swapped, self.max_len)
    }
}
