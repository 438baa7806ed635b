//! Sentence segmentation: a line of text cut into the sentences the model translates one by
//! one. The model learned from single sentences (and from two or three joined,
//! `data.concatenate`), and given a paragraph whole it ends early: the news dev set's sentences
//! translated one by one are whole, a paragraph of five of them loses its last two
//! (`docs/recipe.md`).
//!
//! The rules are those of the Moses `split-sentences.perl` for English, in short: a sentence
//! ends at `.`, `!`, `?` or `…` (and any closing quote or bracket after it) followed by
//! whitespace and a capital letter, a digit or an opening quote or bracket — unless the full
//! stop ends an abbreviation that is followed by a name ("Mr. Smith", "Dr.", "St."), an
//! initial ("J. K. Rowling"), an acronym with inner stops ("U.S.") or a number's prefix
//! ("No. 5", "pp. 12").

/// Words that a full stop ends without ending the sentence, whatever follows: titles and
/// other abbreviations that stand before a name (Moses' `nonbreaking_prefix.en`, in part).
const BEFORE_NAMES: &[&str] = &[
    "Mr", "Mrs", "Ms", "Dr", "Prof", "Sr", "Jr", "St", "Mt", "Messrs", "Mme", "Mlle", "Gen", "Gov",
    "Sen", "Rep", "Rev", "Hon", "Lt", "Col", "Capt", "Cmdr", "Sgt", "Adm", "Maj", "Pres", "Supt",
    "vs", "e.g", "i.e", "cf", "approx",
];

/// Words that a full stop ends without ending the sentence when a number follows
/// ("No. 5", "p. 12").
const BEFORE_NUMBERS: &[&str] = &["No", "Nos", "Art", "p", "pp", "Fig", "Figs", "Vol", "Ch"];

/// Characters that end a sentence.
fn is_terminal(c: char) -> bool {
    matches!(c, '.' | '!' | '?' | '…')
}

/// Quotes and brackets that may close a sentence after its final punctuation.
fn is_closing(c: char) -> bool {
    matches!(c, '"' | '\'' | ')' | ']' | '”' | '’' | '»')
}

/// Quotes and brackets that may open a sentence.
fn is_opening(c: char) -> bool {
    matches!(c, '"' | '\'' | '(' | '[' | '“' | '‘' | '«' | '¿' | '¡')
}

/// The sentences of `text`, trimmed, in order; none for a blank text. Whatever lies between
/// two sentences is whitespace.
pub fn sentences(text: &str) -> Vec<&str> {
    let mut found = Vec::new();
    let mut start = 0;
    let mut chars = text.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if !is_terminal(c) {
            continue;
        }
        // The whole run of final punctuation and closing quotes: "?!", "...", ".)".
        let mut end = i + c.len_utf8();
        while let Some(&(j, next)) = chars.peek() {
            if !(is_terminal(next) || is_closing(next)) {
                break;
            }
            end = j + next.len_utf8();
            chars.next();
        }
        let rest = &text[end..];
        let after = rest.trim_start();
        if after.len() == rest.len() || after.is_empty() {
            continue;
        }
        if starts_sentence(after) && !continues(&text[start..end], after) {
            found.push(text[start..end].trim());
            start = text.len() - after.len();
        }
    }
    let last = text[start..].trim();
    if !last.is_empty() {
        found.push(last);
    }
    found
}

/// Whether `text` may begin a sentence: a capital letter or a digit, perhaps after opening
/// quotes and brackets.
fn starts_sentence(text: &str) -> bool {
    text.chars()
        .find(|&c| !is_opening(c))
        .is_some_and(|c| c.is_uppercase() || c.is_ascii_digit())
}

/// Whether the sentence so far, `before` (ending in its final punctuation), goes on into
/// `after` because its full stop ends an abbreviation, an initial or an acronym.
fn continues(before: &str, after: &str) -> bool {
    let Some(stem) = before.strip_suffix('.') else {
        return false;
    };
    let word = stem
        .rsplit(char::is_whitespace)
        .next()
        .unwrap_or_default()
        .trim_start_matches(is_opening);
    if word.is_empty() || !word.chars().all(|c| c.is_alphanumeric() || c == '.') {
        return false;
    }
    let initial = word.chars().count() == 1 && word.chars().all(char::is_uppercase);
    let acronym = word.contains('.') && word.split('.').all(|part| part.chars().count() == 1);
    let number_follows = after.starts_with(|c: char| c.is_ascii_digit());
    initial
        || acronym
        || BEFORE_NAMES.contains(&word)
        || (number_follows && BEFORE_NUMBERS.contains(&word))
}
