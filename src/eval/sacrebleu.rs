//! BLEU and chrF computed exactly as sacreBLEU 2.x computes them by default, so that a score
//! here can be compared with a published one. The tests hold fixtures scored by the
//! `sacrebleu` Python package and require the same numbers.
//!
//! **BLEU** (Papineni et al., 2002; sacreBLEU's defaults): each line is cut of trailing
//! whitespace and split into tokens by the `13a` tokenizer (the one of WMT's `mteval-v13a`);
//! over the whole corpus, with `cₙ` the n-grams of the hypotheses also in a reference
//! (clipped to the most any one reference has) and `tₙ` all the hypotheses' n-grams,
//!
//! `BLEU = BP · exp(¼ Σₙ₌₁⁴ log pₙ)`, `pₙ = 100 · cₙ / tₙ`, `BP = min(1, exp(1 − r / h))`
//!
//! where `h` is the hypotheses' length and `r` the sum of each line's closest reference
//! length (the shorter on a tie). A `pₙ` with no match is smoothed (`exp`, Chen & Cherry's
//! method 3) to `100 / (2ᵏ · tₙ)`, `k` counting the orders without a match so far. A
//! sentence's BLEU averages only the orders it has n-grams of ("effective order").
//!
//! **chrF** (Popović, 2015; β = 2): character n-grams of orders 1..6 of each line without its
//! whitespace; precision and recall averaged over the orders both sides have, then
//! `chrF = 100 · (1 + β²) · P · R / (β² · P + R)`. With several references each line counts
//! with the reference of its best chrF.
//!
//! Whitespace is what Python's `str.split()` splits on: Unicode's White_Space and the
//! separators U+001C..U+001F.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

use serde::Serialize;

/// The sacreBLEU release whose output these functions reproduce, for the signatures.
pub const SACREBLEU_VERSION: &str = "2.6.0";

/// Longest n-gram of BLEU.
pub const BLEU_ORDER: usize = 4;

/// Longest character n-gram of chrF.
pub const CHRF_ORDER: usize = 6;

/// chrF's β: recall weighs β times as much as precision.
pub const CHRF_BETA: f64 = 2.0;

/// Whitespace as Python's `str.split()` and `str.rstrip()` see it.
fn is_space(c: char) -> bool {
    c.is_whitespace() || ('\u{1c}'..='\u{1f}').contains(&c)
}

/// Characters `13a` always splits off: ASCII punctuation and symbols but `.`, `,` and `-`.
fn is_13a_symbol(c: char) -> bool {
    matches!(c, '{'..='~' | '['..='`' | ' '..='&' | '('..='+' | ':'..='@' | '/')
}

/// The `13a` tokenization of one line, tokens joined by single spaces.
///
/// After unescaping `&quot; &amp; &lt; &gt;`, in this order, each as a separate pass over the
/// line (as `mteval-v13a` does): every symbol of [`is_13a_symbol`] becomes a token; `.` and
/// `,` are split off unless both neighbours are digits; `-` is split off after a digit.
pub fn tokenize_13a(line: &str) -> String {
    let mut line = line
        .replace("<skipped>", "")
        .replace("-\n", "")
        .replace('\n', " ");
    if line.contains('&') {
        line = line
            .replace("&quot;", "\"")
            .replace("&amp;", "&")
            .replace("&lt;", "<")
            .replace("&gt;", ">");
    }
    let mut text = String::with_capacity(line.len() + 8);
    text.push(' ');
    for c in line.chars() {
        if is_13a_symbol(c) {
            text.extend([' ', c, ' ']);
        } else {
            text.push(c);
        }
    }
    text.push(' ');
    // The three rules below are regular-expression substitutions, each one left-to-right
    // pass over the result of the one before, matches never overlapping.
    let text = substitute_pairs(
        &text,
        |a, b| !a.is_ascii_digit() && matches!(b, '.' | ','),
        |a, b| [a, ' ', b, ' '],
    );
    let text = substitute_pairs(
        &text,
        |a, b| matches!(a, '.' | ',') && !b.is_ascii_digit(),
        |a, b| [' ', a, ' ', b],
    );
    let text = substitute_pairs(
        &text,
        |a, b| a.is_ascii_digit() && b == '-',
        |a, b| [a, ' ', b, ' '],
    );
    text.split(is_space)
        .filter(|token| !token.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// `re.sub("(x)(y)", replacement, text)` for single-character groups: scanning from the left,
/// each pair of characters that `matches` is replaced and the scan goes on after it.
fn substitute_pairs(
    text: &str,
    matches: impl Fn(char, char) -> bool,
    replacement: impl Fn(char, char) -> [char; 4],
) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len() + 16);
    let mut i = 0;
    while i < chars.len() {
        if i + 1 < chars.len() && matches(chars[i], chars[i + 1]) {
            out.extend(replacement(chars[i], chars[i + 1]));
            i += 2;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

/// Counts of every n-gram of `items` for n = 1..=`order`, one map per order.
fn ngram_counts<T: Eq + Hash>(items: &[T], order: usize) -> Vec<HashMap<&[T], usize>> {
    (1..=order)
        .map(|n| {
            let mut counts = HashMap::new();
            for gram in items.windows(n) {
                *counts.entry(gram).or_insert(0) += 1;
            }
            counts
        })
        .collect()
}

/// The sufficient statistics of BLEU: summed over sentences, they give the corpus score.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BleuStats {
    /// Tokens of the hypotheses.
    pub hyp_len: usize,
    /// Tokens of the closest reference of each line.
    pub ref_len: usize,
    /// n-grams of the hypotheses found in a reference, clipped, for n = 1..4.
    pub matches: [usize; BLEU_ORDER],
    /// n-grams of the hypotheses, for n = 1..4.
    pub totals: [usize; BLEU_ORDER],
}

impl BleuStats {
    /// The statistics of one hypothesis against its references.
    pub fn sentence(hypothesis: &str, references: &[&str]) -> Self {
        let hypothesis = tokenize_13a(hypothesis.trim_end_matches(is_space));
        let hyp_tokens: Vec<&str> = hypothesis.split(' ').filter(|t| !t.is_empty()).collect();
        let references: Vec<String> = references
            .iter()
            .map(|r| tokenize_13a(r.trim_end_matches(is_space)))
            .collect();
        let ref_tokens: Vec<Vec<&str>> = references
            .iter()
            .map(|r| r.split(' ').filter(|t| !t.is_empty()).collect())
            .collect();
        // The reference length closest to the hypothesis's; the shorter on a tie.
        let ref_len = ref_tokens
            .iter()
            .map(Vec::len)
            .min_by_key(|&len| (len.abs_diff(hyp_tokens.len()), len));
        let mut max_ref_counts: Vec<HashMap<&[&str], usize>> = vec![HashMap::new(); BLEU_ORDER];
        for tokens in &ref_tokens {
            for (max_counts, counts) in max_ref_counts
                .iter_mut()
                .zip(ngram_counts(tokens, BLEU_ORDER))
            {
                for (gram, count) in counts {
                    let entry = max_counts.entry(gram).or_insert(0);
                    *entry = (*entry).max(count);
                }
            }
        }
        let mut stats = BleuStats {
            hyp_len: hyp_tokens.len(),
            ref_len: ref_len.unwrap_or(0),
            ..Default::default()
        };
        for (n, counts) in ngram_counts(&hyp_tokens, BLEU_ORDER)
            .into_iter()
            .enumerate()
        {
            stats.totals[n] = hyp_tokens.len().saturating_sub(n);
            stats.matches[n] = counts
                .iter()
                .map(|(gram, &count)| count.min(max_ref_counts[n].get(gram).copied().unwrap_or(0)))
                .sum();
        }
        stats
    }

    /// The score of these statistics; `effective_order` averages only the orders that have
    /// n-grams (sacreBLEU's sentence-level default), else all four (its corpus default).
    pub fn score(&self, effective_order: bool) -> Bleu {
        let (h, r) = (self.hyp_len as f64, self.ref_len as f64);
        let brevity_penalty = if h < r {
            if h > 0.0 { (1.0 - r / h).exp() } else { 0.0 }
        } else {
            1.0
        };
        let mut precisions = [0.0; BLEU_ORDER];
        let mut bleu = Bleu {
            score: 0.0,
            precisions,
            brevity_penalty,
            hyp_len: self.hyp_len,
            ref_len: self.ref_len,
        };
        if self.matches.iter().all(|&m| m == 0) {
            return bleu;
        }
        let mut smoothing = 1.0;
        let mut order = BLEU_ORDER;
        for (n, (&matches, &total)) in self.matches.iter().zip(&self.totals).enumerate() {
            if total == 0 {
                break;
            }
            if effective_order {
                order = n + 1;
            }
            precisions[n] = if matches == 0 {
                smoothing *= 2.0;
                100.0 / (smoothing * total as f64)
            } else {
                100.0 * matches as f64 / total as f64
            };
        }
        // sacreBLEU's log of a zero precision: a huge negative number, not -∞.
        let log = |p: f64| if p == 0.0 { -9_999_999_999.0 } else { p.ln() };
        let mean_log = precisions[..order].iter().map(|&p| log(p)).sum::<f64>() / order as f64;
        bleu.score = brevity_penalty * mean_log.exp();
        bleu.precisions = precisions;
        bleu
    }
}

impl std::ops::AddAssign for BleuStats {
    fn add_assign(&mut self, other: Self) {
        self.hyp_len += other.hyp_len;
        self.ref_len += other.ref_len;
        for n in 0..BLEU_ORDER {
            self.matches[n] += other.matches[n];
            self.totals[n] += other.totals[n];
        }
    }
}

/// A BLEU score and its parts.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bleu {
    /// BLEU, 0 to 100.
    pub score: f64,
    /// The (smoothed) n-gram precisions pₙ, 0 to 100.
    pub precisions: [f64; BLEU_ORDER],
    /// BP.
    pub brevity_penalty: f64,
    /// Tokens of the hypotheses.
    pub hyp_len: usize,
    /// Tokens of the closest references.
    pub ref_len: usize,
}

impl Bleu {
    /// Hypothesis length over reference length.
    pub fn ratio(&self) -> f64 {
        if self.ref_len == 0 {
            0.0
        } else {
            self.hyp_len as f64 / self.ref_len as f64
        }
    }
}

impl fmt::Display for Bleu {
    /// sacreBLEU's details of a score: `86.5/72.3/62.0/55.1 (BP = 0.951 ratio = 0.952
    /// hyp_len = 401 ref_len = 421)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let precisions: Vec<String> = self.precisions.iter().map(|p| format!("{p:.1}")).collect();
        write!(
            f,
            "{} (BP = {:.3} ratio = {:.3} hyp_len = {} ref_len = {})",
            precisions.join("/"),
            self.brevity_penalty,
            self.ratio(),
            self.hyp_len,
            self.ref_len
        )
    }
}

/// The sufficient statistics of chrF: for each character n-gram order, the hypothesis's
/// n-grams, the reference's, and those in both (clipped).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ChrfStats {
    /// `[hypothesis, reference, matching]` n-gram counts for n = 1..6.
    pub counts: [[usize; 3]; CHRF_ORDER],
}

impl ChrfStats {
    /// The statistics of one hypothesis against the reference that gives it the best chrF
    /// (the first of equals; the first reference when none matches at all).
    pub fn sentence(hypothesis: &str, references: &[&str]) -> Self {
        let hyp_chars: Vec<char> = hypothesis.chars().filter(|&c| !is_space(c)).collect();
        let hyp_counts = ngram_counts(&hyp_chars, CHRF_ORDER);
        let mut best: Option<(f64, ChrfStats)> = None;
        for reference in references {
            let ref_chars: Vec<char> = reference.chars().filter(|&c| !is_space(c)).collect();
            let ref_counts = ngram_counts(&ref_chars, CHRF_ORDER);
            let mut stats = ChrfStats::default();
            for (n, (hyp, reference)) in hyp_counts.iter().zip(&ref_counts).enumerate() {
                let hyp_total: usize = hyp.values().sum();
                let ref_total: usize = reference.values().sum();
                let matching: usize = hyp
                    .iter()
                    .map(|(gram, &count)| count.min(reference.get(gram).copied().unwrap_or(0)))
                    .sum();
                // sacreBLEU counts no hypothesis n-grams of an order the reference lacks.
                let hyp_total = if reference.is_empty() { 0 } else { hyp_total };
                stats.counts[n] = [hyp_total, ref_total, matching];
            }
            let score = stats.score();
            if best.is_none_or(|(best, _)| score > best) {
                best = Some((score, stats));
            }
        }
        best.map(|(_, stats)| stats).unwrap_or_default()
    }

    /// chrF of these statistics, 0 to 100.
    pub fn score(&self) -> f64 {
        let (mut precision, mut recall, mut orders) = (0.0, 0.0, 0);
        for &[hyp, reference, matching] in &self.counts {
            if hyp > 0 && reference > 0 {
                precision += matching as f64 / hyp as f64;
                recall += matching as f64 / reference as f64;
                orders += 1;
            }
        }
        if orders == 0 {
            return 0.0;
        }
        let (precision, recall) = (precision / orders as f64, recall / orders as f64);
        if precision + recall == 0.0 {
            return 0.0;
        }
        let beta2 = CHRF_BETA * CHRF_BETA;
        let f_beta = (1.0 + beta2) * precision * recall / (beta2 * precision + recall);
        100.0 * f_beta
    }
}

impl std::ops::AddAssign for ChrfStats {
    fn add_assign(&mut self, other: Self) {
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
    }
}

/// Corpus BLEU and chrF of `hypotheses` against `references`, one stream per reference
/// (`references[k][i]` is the k-th reference of line `i`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CorpusScores {
    /// BLEU with sacreBLEU's corpus defaults.
    pub bleu: Bleu,
    /// chrF with sacreBLEU's defaults.
    pub chrf: f64,
    /// References per line.
    pub n_refs: usize,
}

/// Scores a corpus; every reference stream must have one line per hypothesis.
pub fn corpus_scores(hypotheses: &[String], references: &[Vec<String>]) -> CorpusScores {
    let mut bleu = BleuStats::default();
    let mut chrf = ChrfStats::default();
    for (i, hypothesis) in hypotheses.iter().enumerate() {
        let refs: Vec<&str> = references.iter().map(|stream| stream[i].as_str()).collect();
        bleu += BleuStats::sentence(hypothesis, &refs);
        chrf += ChrfStats::sentence(hypothesis, &refs);
    }
    CorpusScores {
        bleu: bleu.score(false),
        chrf: chrf.score(),
        n_refs: references.len(),
    }
}

/// BLEU of one sentence, as sacreBLEU's `sentence_bleu` (effective order).
pub fn sentence_bleu(hypothesis: &str, references: &[&str]) -> Bleu {
    BleuStats::sentence(hypothesis, references).score(true)
}

/// chrF of one sentence, as sacreBLEU's `sentence_chrf`.
pub fn sentence_chrf(hypothesis: &str, references: &[&str]) -> f64 {
    ChrfStats::sentence(hypothesis, references).score()
}

/// sacreBLEU's signature of its default corpus BLEU.
pub fn bleu_signature(n_refs: usize) -> String {
    format!("nrefs:{n_refs}|case:mixed|eff:no|tok:13a|smooth:exp|version:{SACREBLEU_VERSION}")
}

/// sacreBLEU's signature of its default chrF.
pub fn chrf_signature(n_refs: usize) -> String {
    format!("nrefs:{n_refs}|case:mixed|eff:yes|nc:6|nw:0|space:no|version:{SACREBLEU_VERSION}")
}

/// What the `sacrebleu -m bleu chrf -f text` command prints: a line per metric, scores with
/// one decimal, the lines right-aligned on their first `=`.
pub fn format_text(scores: &CorpusScores) -> String {
    let lines = [
        format!(
            "BLEU|{} = {:.1} {}",
            bleu_signature(scores.n_refs),
            scores.bleu.score,
            scores.bleu
        ),
        format!(
            "chrF2|{} = {:.1}",
            chrf_signature(scores.n_refs),
            scores.chrf
        ),
    ];
    let width = lines.iter().filter_map(|l| l.find('=')).max().unwrap_or(0);
    lines
        .iter()
        .map(|line| {
            let left = line.find('=').unwrap_or(0);
            format!("{}{line}\n", " ".repeat(width - left))
        })
        .collect()
}

/// One metric as the `sacrebleu` command's JSON has it, fields in its order.
#[derive(Serialize)]
struct JsonScore {
    name: &'static str,
    score: f64,
    signature: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    verbose_score: Option<String>,
    #[serde(flatten)]
    fields: IndexedFields,
}

/// The signature's `key:value` fields, in the signature's order.
struct IndexedFields(String);

impl Serialize for IndexedFields {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for field in self.0.split('|') {
            if let Some((key, value)) = field.split_once(':') {
                map.serialize_entry(key, value)?;
            }
        }
        map.end()
    }
}

/// What the `sacrebleu -m bleu chrf` command prints by default: a JSON array of one object
/// per metric, indented by one space, scores rounded to one decimal.
pub fn format_json(scores: &CorpusScores) -> String {
    // sacreBLEU prints float(f"{score:.1f}"): the score rounded to one decimal.
    let rounded = |score: f64| format!("{score:.1}").parse::<f64>().unwrap_or(score);
    let metrics = [
        JsonScore {
            name: "BLEU",
            score: rounded(scores.bleu.score),
            signature: bleu_signature(scores.n_refs),
            verbose_score: Some(scores.bleu.to_string()),
            fields: IndexedFields(bleu_signature(scores.n_refs)),
        },
        JsonScore {
            name: "chrF2",
            score: rounded(scores.chrf),
            signature: chrf_signature(scores.n_refs),
            verbose_score: None,
            fields: IndexedFields(chrf_signature(scores.n_refs)),
        },
    ];
    let objects: Vec<String> = metrics
        .iter()
        .map(|metric| {
            let mut out = Vec::new();
            let formatter = serde_json::ser::PrettyFormatter::with_indent(b" ");
            let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
            // Serializing plain strings and numbers into memory cannot fail.
            let _ = metric.serialize(&mut serializer);
            String::from_utf8_lossy(&out).into_owned()
        })
        .collect();
    format!("[\n{}\n]\n", objects.join(",\n"))
}
