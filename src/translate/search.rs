//! Finding a translation: greedy and beam search over the decoder's next-token distribution.
//!
//! Both run a whole batch of sentences at once. The encoder runs once per batch; the decoder
//! either runs incrementally, one position per step against its key/value cache
//! ([`Transformer::decode_step`]), or, for comparison, recomputes the whole prefix at every
//! step as a naive loop does ([`Decoding::Recompute`]).

use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor, TensorData};

use crate::data::tokenizer::{BOS_ID, EOS_ID, PAD_ID};
use crate::model::kernels::{self, log_sum_exp};
use crate::model::{AttentionMask, DecodingState, PaddingMasks, Transformer};

/// How the decoder computes each step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decoding {
    /// One position per step against the cached keys and values: O(t) per step.
    Cached,
    /// The whole prefix again at every step: O(t²) per step; the reference.
    Recompute,
}

/// A translation found by the search.
#[derive(Clone, Debug, PartialEq)]
pub struct Hypothesis {
    /// Target ids, without `<s>` or `</s>`.
    pub tokens: Vec<u32>,
    /// Sum of the log-probabilities of the tokens and of `</s>` (when it was reached).
    pub log_prob: f64,
    /// `log_prob / lp(length)`, the quantity beam search ranks by.
    pub score: f64,
}

impl Hypothesis {
    /// No token yet.
    fn empty() -> Self {
        Self {
            tokens: Vec::new(),
            log_prob: 0.0,
            score: 0.0,
        }
    }
}

/// GNMT's length penalty (Wu et al. 2016, eq. 14), as in Marian and Hugging Face:
/// `lp(Y) = ((5 + |Y|) / 6)^α`; α = 0 ranks by the plain sum of log-probabilities.
pub fn length_penalty(length: usize, alpha: f64) -> f64 {
    ((5.0 + length as f64) / 6.0).powf(alpha)
}

/// The decoder's side of a search: the encoder output, and the cache or the prefixes.
struct SearchState<'a> {
    model: &'a Transformer,
    memory: Tensor<3>,
    memory_mask: AttentionMask,
    src_padding: Tensor<2, burn::tensor::Bool>,
    /// The cache of [`Decoding::Cached`].
    cache: Option<DecodingState>,
    /// Every row's tokens so far, `<s>` first, for [`Decoding::Recompute`].
    prefixes: Vec<Vec<u32>>,
    /// [`excluded_tokens`] `[1, vocab]` without and with `</s>` allowed, made at first use.
    excluded: [Option<Tensor<2>>; 2],
}

impl<'a> SearchState<'a> {
    /// Encodes `src` `[batch, src_len]`, one row per sentence; a beam search then repeats
    /// each sentence's rows with [`keep`](Self::keep) once its first step has given the
    /// sentence `K` hypotheses, so that the encoder and the encoder–decoder keys and values
    /// are computed once per sentence, not once per hypothesis (and, with the cache, kept
    /// once per sentence: its `K` rows attend to them together).
    fn new(model: &'a Transformer, src: Tensor<2, Int>, decoding: Decoding) -> Self {
        let device = src.device();
        let [batch, _] = src.dims();
        let masks = PaddingMasks::from_tokens(
            src.clone(),
            Tensor::<2, Int>::full([batch, 1], BOS_ID as i64, &device),
            PAD_ID as usize,
        );
        let memory = model.encode(src, &masks).memory;
        Self {
            model,
            cache: (decoding == Decoding::Cached).then(|| model.start_decoding(memory.clone())),
            memory,
            memory_mask: masks.src_attention(),
            src_padding: masks.src,
            prefixes: vec![Vec::new(); batch],
            excluded: [None, None],
        }
    }

    /// The log-probabilities `[rows, vocab]` of the generator's `logits`, on the device; the
    /// tokens a translation never contains (padding, a second `<s>`, and `</s>` unless
    /// `may_end`) at −∞.
    fn log_probs(&mut self, logits: Tensor<2>, may_end: bool) -> Tensor<2> {
        let [_, vocab] = logits.dims();
        let excluded = self.excluded[usize::from(may_end)]
            .get_or_insert_with(|| excluded_tokens(vocab, may_end, &logits.device()))
            .clone();
        log_softmax(logits, 1) + excluded
    }

    /// The generator's logits `[rows, vocab]` for the next token after `tokens`.
    fn logits(&mut self, tokens: &[u32]) -> Tensor<2> {
        let device = self.memory.device();
        match &mut self.cache {
            Some(cache) => self
                .model
                .decode_step(ids(tokens, &device), cache, &self.memory_mask),
            None => {
                for (prefix, &token) in self.prefixes.iter_mut().zip(tokens) {
                    prefix.push(token);
                }
                let len = self.prefixes[0].len();
                let flat: Vec<i64> = self.prefixes.iter().flatten().map(|&t| t as i64).collect();
                let tgt_in = Tensor::<2, Int>::from_data(
                    TensorData::new(flat, [tokens.len(), len]),
                    &device,
                );
                // No target position is padding: whatever a finished row is fed, it is
                // attended to, exactly as the cache attends to it.
                let masks = PaddingMasks {
                    src: self.src_padding.clone(),
                    tgt: tgt_in.clone().equal_elem(-1),
                };
                let hidden = self
                    .model
                    .decode(tgt_in, self.memory.clone(), &masks)
                    .hidden;
                let logits = self.model.generate(hidden);
                let [rows, _, vocab] = logits.dims();
                logits
                    .slice([0..rows, len - 1..len, 0..vocab])
                    .reshape([rows, vocab])
            }
        }
    }

    /// Keeps only the rows `rows` of the batch, in that order, whichever sentences they
    /// belong to, a row as many times as it is named, and the sentences `sentences` (indices
    /// into the sentences still searching), whose rows `rows` are, consecutive and as many
    /// each: the encoder output and its padding go with the sentences (with the cache, whose
    /// rows of a sentence share them) or with the rows (recomputing).
    fn keep(&mut self, rows: &[usize], sentences: &[usize]) {
        let device = self.memory.device();
        let indices = |values: &[usize]| {
            let values: Vec<u32> = values.iter().map(|&v| v as u32).collect();
            ids(&values, &device)
        };
        let memory_rows = indices(if self.cache.is_some() {
            sentences
        } else {
            rows
        });
        self.memory = self.memory.clone().select(0, memory_rows.clone());
        self.src_padding = self.src_padding.clone().select(0, memory_rows.clone());
        self.memory_mask = AttentionMask::key_padding(self.src_padding.clone());
        match &mut self.cache {
            Some(cache) => cache.keep(indices(rows), memory_rows),
            None => self.prefixes = rows.iter().map(|&r| self.prefixes[r].clone()).collect(),
        }
    }

    /// Keeps the rows `rows` of the batch, in that order, each a row of the same sentence:
    /// the encoder output stays in place.
    fn reorder(&mut self, rows: &[usize]) {
        if rows.iter().enumerate().all(|(i, &row)| i == row) {
            return;
        }
        match &mut self.cache {
            Some(cache) => {
                let indices: Vec<u32> = rows.iter().map(|&r| r as u32).collect();
                cache.reorder(ids(&indices, &self.memory.device()));
            }
            None => self.prefixes = rows.iter().map(|&r| self.prefixes[r].clone()).collect(),
        }
    }
}

/// `[1, vocab]`: 0 for every token, −∞ for those no translation contains: padding and `<s>`,
/// and `</s>` unless `may_end`. Added to the log-probabilities, it takes them out of every
/// choice on the device.
fn excluded_tokens(vocab: usize, may_end: bool, device: &burn::tensor::Device) -> Tensor<2> {
    let mut values = vec![0.0f32; vocab];
    for token in [PAD_ID, BOS_ID] {
        values[token as usize] = f32::NEG_INFINITY;
    }
    if !may_end {
        values[EOS_ID as usize] = f32::NEG_INFINITY;
    }
    Tensor::from_data(TensorData::new(values, [1, vocab]), device)
}

/// Turns each row of `logits` (`vocab` values each) into log-probabilities in place:
/// `log p_i = x_i − (m + ln Σ_j e^{x_j − m})`, `m` the row's maximum so that no exponential
/// overflows; then the tokens `excluded` are set to −∞ (they count in the normaliser, as in
/// the model's softmax, but no translation takes them).
pub fn log_softmax_rows(logits: &mut [f32], vocab: usize, excluded: &[u32]) {
    for row in logits.chunks_exact_mut(vocab) {
        let normaliser = log_sum_exp(row);
        for x in row.iter_mut() {
            *x -= normaliser;
        }
        for &token in excluded {
            row[token as usize] = f32::NEG_INFINITY;
        }
    }
}

/// `values` as a `[len]` tensor of ids.
fn ids(values: &[u32], device: &burn::tensor::Device) -> Tensor<1, Int> {
    let values: Vec<i64> = values.iter().map(|&v| v as i64).collect();
    let len = values.len();
    Tensor::from_data(TensorData::new(values, [len]), device)
}

/// The tokens that would complete an `n`-gram `tokens` already holds: each token that followed
/// an earlier occurrence of its last `n − 1` tokens. Left out of the choices, no `n`-gram
/// occurs twice in a translation (fairseq's and Hugging Face's `no_repeat_ngram_size`); `n`
/// = 0 leaves out nothing.
pub fn repeating_tokens(tokens: &[u32], n: usize) -> Vec<u32> {
    if n == 0 || tokens.len() < n {
        return Vec::new();
    }
    let last = &tokens[tokens.len() + 1 - n..];
    tokens
        .windows(n)
        .filter(|gram| gram[..n - 1] == *last)
        .map(|gram| gram[n - 1])
        .collect()
}

/// The most probable token at every step, for each sentence of `src` `[batch, src_len]`,
/// until `</s>` or its `max_tokens[sentence]` tokens (the translation then ends unfinished):
/// a sentence's limit is its own, whatever the batch; `</s>` is never chosen before
/// `min_tokens` tokens (benchmarks decode a fixed number of tokens so), nor a token that
/// repeats an `no_repeat_ngram`-gram ([`repeating_tokens`]; 0: any).
pub fn greedy(
    model: &Transformer,
    src: Tensor<2, Int>,
    min_tokens: usize,
    max_tokens: &[usize],
    no_repeat_ngram: usize,
    decoding: Decoding,
) -> Vec<Hypothesis> {
    let [batch, _] = src.dims();
    assert_eq!(max_tokens.len(), batch, "a limit per sentence");
    let mut decoder = SearchState::new(model, src, decoding);
    let mut hypotheses = vec![Hypothesis::empty(); batch];
    // The sentence of each row still decoding: a finished sentence leaves the batch.
    let mut live: Vec<usize> = (0..batch).collect();
    let mut next = vec![BOS_ID; batch];
    for step in 0..max_tokens.iter().copied().max().unwrap_or(0) {
        let banned: Vec<Vec<u32>> = live
            .iter()
            .map(|&sentence| repeating_tokens(&hypotheses[sentence].tokens, no_repeat_ngram))
            .collect();
        let may_end = step >= min_tokens;
        let logits = decoder.logits(&next);
        let [_, vocab] = logits.dims();
        // Where the logits lie in this process's memory (flex) the choice reads them there:
        // two passes over each row, against the device's log-softmax and maximum.
        let choices = match kernels::read_in_place(&logits, |logits| {
            greedy_choices(logits, vocab, &banned, may_end)
        }) {
            Some(choices) => choices,
            None => {
                let log_probs = decoder.log_probs(logits, may_end);
                best_on_device(log_probs, &banned)
            }
        };
        let mut kept = Vec::with_capacity(live.len());
        for (row, (token, log_prob)) in choices.into_iter().enumerate() {
            let sentence = live[row];
            let hypothesis = &mut hypotheses[sentence];
            hypothesis.log_prob += log_prob as f64;
            if token != EOS_ID {
                hypothesis.tokens.push(token);
                next[row] = token;
                if hypothesis.tokens.len() < max_tokens[sentence] {
                    kept.push(row);
                }
            }
        }
        if kept.is_empty() {
            break;
        }
        if kept.len() < live.len() {
            decoder.keep(&kept, &kept);
            live = kept.iter().map(|&row| live[row]).collect();
            next = kept.iter().map(|&row| next[row]).collect();
        }
    }
    for hypothesis in &mut hypotheses {
        hypothesis.score = hypothesis.log_prob;
    }
    hypotheses
}

/// The best token of each row of `log_probs` `[rows, vocab]` but those `banned` in that row,
/// and its log-probability, chosen on the device: only each row's best `k` tokens and their
/// log-probabilities come back, not the whole distribution; one more than the most tokens a
/// row may not take leaves every row a token it may.
fn best_on_device(log_probs: Tensor<2>, banned: &[Vec<u32>]) -> Vec<(u32, f32)> {
    let [_, vocab] = log_probs.dims();
    let k = (1 + banned.iter().map(Vec::len).max().unwrap_or(0)).min(vocab);
    let (log_probs, tokens) = if k == 1 {
        log_probs.max_dim_with_indices(1)
    } else {
        log_probs.topk_with_indices(k, 1)
    };
    let tokens = tokens
        .into_data()
        .convert::<i64>()
        .try_into_vec::<i64>()
        .expect("token ids");
    let log_probs = kernels::host_values(log_probs);
    tokens
        .chunks_exact(k)
        .zip(log_probs.chunks_exact(k))
        .zip(banned)
        .map(|((tokens, log_probs), banned)| {
            tokens
                .iter()
                .zip(log_probs)
                .map(|(&token, &log_prob)| (token as u32, log_prob))
                .find(|(token, _)| !banned.contains(token))
                .expect("a token not banned among the best k")
        })
        .collect()
}

/// Greedy search's choice on the host, from the generator's `logits` (`vocab` values a
/// row): each row's best token but those `banned` in it and those no translation contains
/// (padding, `<s>`, and `</s>` unless `may_end`), with its log-probability `x_t − (m + ln Σ_j
/// e^{x_j − m})`. The best logit is the best log-probability, so the row is read twice (its
/// best token, its normaliser), never normalised whole.
pub fn greedy_choices(
    logits: &[f32],
    vocab: usize,
    banned: &[Vec<u32>],
    may_end: bool,
) -> Vec<(u32, f32)> {
    logits
        .chunks_exact(vocab)
        .zip(banned)
        .map(|(row, banned)| {
            let mut excluded = banned.clone();
            excluded.extend([PAD_ID, BOS_ID]);
            if !may_end {
                excluded.push(EOS_ID);
            }
            let (token, logit) = top(row, 1, &excluded)
                .into_iter()
                .next()
                .expect("a token neither banned nor excluded");
            (token, logit - log_sum_exp(row))
        })
        .collect()
}

/// The settings of [`beam_search`].
#[derive(Clone, Copy, Debug)]
pub struct BeamOptions {
    /// Hypotheses kept per sentence, `K`.
    pub beam: usize,
    /// α of the [`length_penalty`].
    pub alpha: f64,
    /// Hypotheses returned per sentence, best first (at most `beam`).
    pub n_best: usize,
    /// No `n`-gram twice in a hypothesis ([`repeating_tokens`]); 0: no limit.
    pub no_repeat_ngram: usize,
    /// Each step's log-softmax on the host ([`log_softmax_rows`]) instead of on the device:
    /// the beam brings the whole distribution back either way, and a backend whose own
    /// `exp` is scalar (flex, ndarray) normalises slower than the host's vectorised one
    /// (`BENCHMARKS.md`), while libtorch's is faster.
    pub normalise_on_host: bool,
}

/// Beam search: each sentence keeps its `beam` best prefixes; each step extends every prefix
/// by its best tokens and keeps the `beam` best extensions by log-probability; an extension
/// that ends with `</s>` is set aside as finished instead. A sentence is done when `n`
/// hypotheses have finished and none still alive scores above the `n`-th of them, or at its
/// `max_tokens[sentence]` tokens (its own, whatever the batch), where the hypotheses still
/// alive end unfinished. When α = 0 `n` is
/// `n_best`: extending a hypothesis only lowers its score, so those returned can no longer
/// change. When α > 0 a longer hypothesis may still overtake them, and `n` is `beam`
/// (Hugging Face's criterion). Returns the `n_best` finished hypotheses of each sentence by
/// [`Hypothesis::score`], best first.
pub fn beam_search(
    model: &Transformer,
    src: Tensor<2, Int>,
    options: BeamOptions,
    max_tokens: &[usize],
    decoding: Decoding,
) -> Vec<Vec<Hypothesis>> {
    let [batch, _] = src.dims();
    assert_eq!(max_tokens.len(), batch, "a limit per sentence");
    let k = options.beam.max(1);
    let n_best = options.n_best.clamp(1, k);
    let enough = if options.alpha == 0.0 { n_best } else { k };
    let mut decoder = SearchState::new(model, src, decoding);
    // The decoder's rows per sentence: one before the first step (its only hypothesis is the
    // empty one), `K` after it. Row b·width + i holds hypothesis i of sentence b.
    let mut width = 1;
    let mut alive: Vec<Option<Hypothesis>> = vec![Some(Hypothesis::empty()); batch];
    let mut finished: Vec<Vec<Hypothesis>> = vec![Vec::new(); batch];
    let mut next = vec![BOS_ID; batch];
    // The sentence of each group of rows still searching: a sentence done leaves the batch.
    let mut live: Vec<usize> = (0..batch).collect();
    for step in 0..max_tokens.iter().copied().max().unwrap_or(0) {
        let logits = decoder.logits(&next);
        let mut log_probs = kernels::host_values(if options.normalise_on_host {
            logits
        } else {
            decoder.log_probs(logits, true)
        });
        let vocab = log_probs.len() / (live.len() * width);
        if options.normalise_on_host {
            log_softmax_rows(&mut log_probs, vocab, &[PAD_ID, BOS_ID]);
        }
        // From here on, `K` rows per sentence: the decoder's row each extends, its token and
        // its hypothesis (none where the sentence keeps fewer than `K`: such a row reads row
        // `first`, and whatever it decodes is ignored).
        let mut rows = Vec::with_capacity(live.len() * k);
        let mut extended: Vec<Option<Hypothesis>> = Vec::with_capacity(live.len() * k);
        let mut tokens = Vec::with_capacity(live.len() * k);
        for (slot, &sentence) in live.iter().enumerate() {
            let first = slot * width;
            let beam = Beam {
                alive: &alive[first..first + width],
                log_probs: &log_probs[first * vocab..(first + width) * vocab],
                first,
                beam: k,
                alpha: options.alpha,
                enough,
                no_repeat_ngram: options.no_repeat_ngram,
            };
            let mut kept = beam.extend(&mut finished[sentence]).into_iter();
            for _ in 0..k {
                let (row, token, hypothesis) = match kept.next() {
                    Some((row, token, hypothesis)) => (row, token, Some(hypothesis)),
                    None => (first, EOS_ID, None),
                };
                rows.push(row);
                tokens.push(token);
                extended.push(hypothesis);
            }
        }
        next = tokens;
        alive = extended;
        let slots = |slot: &usize| slot * k..(slot + 1) * k;
        // Out of room: a sentence's hypotheses still alive at its limit end here, unfinished.
        for (slot, &sentence) in live.iter().enumerate() {
            if step + 1 >= max_tokens[sentence] {
                finished[sentence].extend(alive[slots(&slot)].iter_mut().filter_map(Option::take));
            }
        }
        let searching: Vec<usize> = (0..live.len())
            .filter(|slot| alive[slots(slot)].iter().any(Option::is_some))
            .collect();
        if searching.is_empty() {
            break;
        }
        if searching.len() < live.len() {
            let kept: Vec<usize> = searching.iter().flat_map(slots).collect();
            decoder.keep(
                &kept.iter().map(|&i| rows[i]).collect::<Vec<_>>(),
                &searching,
            );
            alive = kept.iter().map(|&i| alive[i].take()).collect();
            next = kept.iter().map(|&i| next[i]).collect();
            live = searching.iter().map(|&slot| live[slot]).collect();
        } else if width == k {
            decoder.reorder(&rows);
        } else {
            // The first step: each sentence's one row becomes its `K`.
            decoder.keep(&rows, &(0..live.len()).collect::<Vec<_>>());
        }
        width = k;
    }
    finished
        .into_iter()
        .map(|mut hypotheses| {
            hypotheses.sort_by(|a, b| b.score.total_cmp(&a.score));
            hypotheses.truncate(n_best);
            hypotheses
        })
        .collect()
}

/// One sentence's beam at one step: its rows, alive or not (`K` of them, or one before the
/// first step), and their next-token log-probabilities.
pub struct Beam<'a> {
    /// The hypotheses, `None` where a row holds none.
    pub alive: &'a [Option<Hypothesis>],
    /// `[rows, vocab]`, row after row.
    pub log_probs: &'a [f32],
    /// The batch row of the beam's first hypothesis.
    pub first: usize,
    /// `K`, the extensions kept.
    pub beam: usize,
    /// α of the [`length_penalty`].
    pub alpha: f64,
    /// Finished hypotheses that end the search when nothing alive scores above them.
    pub enough: usize,
    /// No `n`-gram twice in a hypothesis ([`repeating_tokens`]); 0: no limit.
    pub no_repeat_ngram: usize,
}

impl Beam<'_> {
    /// Extends every alive hypothesis by its best tokens and keeps the `K` best extensions by
    /// log-probability, each as (the batch row it extends, its token, the hypothesis);
    /// extensions ending with `</s>` go to `done` instead, which keeps its `K` best by score.
    /// Keeps none once `done` holds `enough` and no kept extension scores above the
    /// `enough`-th.
    pub fn extend(&self, done: &mut Vec<Hypothesis>) -> Vec<(usize, u32, Hypothesis)> {
        let k = self.beam;
        let mut candidates: Vec<(f64, usize, u32)> = Vec::new();
        let rows = self
            .log_probs
            .chunks_exact(self.log_probs.len() / self.alive.len());
        for (i, (hypothesis, row)) in self.alive.iter().zip(rows).enumerate() {
            if let Some(hypothesis) = hypothesis {
                let banned = repeating_tokens(&hypothesis.tokens, self.no_repeat_ngram);
                for (token, log_prob) in top(row, k + 1, &banned) {
                    candidates.push((hypothesis.log_prob + log_prob as f64, i, token));
                }
            }
        }
        candidates.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut kept = Vec::with_capacity(k);
        for (log_prob, i, token) in candidates {
            if kept.len() == k {
                break;
            }
            let mut tokens = self.alive[i]
                .as_ref()
                .map(|h| h.tokens.clone())
                .unwrap_or_default();
            let ends = token == EOS_ID;
            if !ends {
                tokens.push(token);
            }
            let hypothesis = Hypothesis {
                score: log_prob / length_penalty(tokens.len() + 1, self.alpha),
                tokens,
                log_prob,
            };
            if ends {
                done.push(hypothesis);
                done.sort_by(|a, b| b.score.total_cmp(&a.score));
                done.truncate(k);
            } else {
                kept.push((self.first + i, token, hypothesis));
            }
        }
        let best_alive = kept
            .iter()
            .map(|(.., h)| h.score)
            .fold(f64::NEG_INFINITY, f64::max);
        let last = done.get(self.enough - 1).map(|h| h.score);
        if last.is_some_and(|last| best_alive <= last) {
            kept.clear();
        }
        kept
    }
}

/// The `n` tokens of highest log-probability but those `banned`, best first (the lower token
/// first among equal ones), in one pass over the row: `n` is the beam plus one, a handful
/// against the vocabulary's thousands. Once `n` are held, a block of sixteen values all below
/// the worst of them is passed over with one vectorised comparison: after the first few
/// blocks almost every block is.
pub fn top(log_probs: &[f32], n: usize, banned: &[u32]) -> Vec<(u32, f32)> {
    let mut best: Vec<(u32, f32)> = Vec::with_capacity(n + 1);
    let offer = |best: &mut Vec<(u32, f32)>, token: usize, log_prob: f32| {
        if (best.len() == n
            && best
                .last()
                .is_none_or(|worst| worst.1.total_cmp(&log_prob).is_ge()))
            || banned.contains(&(token as u32))
        {
            return;
        }
        let at = best.partition_point(|kept| kept.1.total_cmp(&log_prob).is_ge());
        best.insert(at, (token as u32, log_prob));
        best.truncate(n);
    };
    let blocks = log_probs.chunks_exact(16);
    let rest = blocks.remainder();
    for (b, block) in blocks.enumerate() {
        // `x < worst` is false for a NaN and for −0 against +0, which `total_cmp` orders
        // apart: such a block is offered value by value, and ranked by `total_cmp` there.
        let worst = n
            .checked_sub(1)
            .and_then(|i| best.get(i))
            .map(|worst| worst.1);
        if worst.is_some_and(|worst| all_below(block, worst)) {
            continue;
        }
        for (i, &log_prob) in block.iter().enumerate() {
            offer(&mut best, 16 * b + i, log_prob);
        }
    }
    let start = log_probs.len() - rest.len();
    for (i, &log_prob) in rest.iter().enumerate() {
        offer(&mut best, start + i, log_prob);
    }
    best
}

/// Whether every value of `block` is below `bound`: sixteen comparisons folded without a
/// branch, which the compiler turns into vector ones.
#[inline(always)]
fn all_below(block: &[f32], bound: f32) -> bool {
    block.iter().fold(true, |below, &x| below & (x < bound))
}
