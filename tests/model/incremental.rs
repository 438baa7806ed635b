//! Incremental decoding and the searches built on it, against the full recomputation.

use std::sync::{Mutex, PoisonError};

use burn::module::{Module, ModuleVisitor, Param};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Int, Tensor};
use transformer_mt::data::tokenizer::{BOS_ID, EOS_ID};
use transformer_mt::model::{AttentionMask, PaddingMasks, Transformer, TransformerConfig};
use transformer_mt::translate::search::{BeamOptions, Decoding, beam_search, greedy};

use super::common::{PAD, device, ids, max_abs_diff, small_config};

/// Two source sentences, the second padded.
fn sources() -> Tensor<2, Int> {
    let pad = PAD as i64;
    ids(&[&[3, 4, 5, 6, 7], &[8, 9, 10, pad, pad]], &device())
}

/// The model `config` describes, its weights drawn from `seed`. The backend's seed is global
/// and Burn draws a parameter at its first use: two tests seeding and drawing at once would
/// draw from each other's stream, and some tests here need the models of their seeds (one
/// whose sentences end at different steps), so every weight is drawn at once, under one lock.
fn model(config: TransformerConfig, seed: u64) -> Transformer {
    static SEEDING: Mutex<()> = Mutex::new(());
    let _seeding = SEEDING.lock().unwrap_or_else(PoisonError::into_inner);
    let device = device();
    device.seed(seed);
    let model = config.init(&device).expect("valid config");
    model.visit(&mut Draw);
    model
}

/// Draws every parameter it visits.
struct Draw;

impl ModuleVisitor for Draw {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        param.val();
    }
}

/// Feeding a target one token at a time through the cache gives, at every step, the logits
/// of the last position of the full decoder over the whole prefix (post-norm, pre-norm,
/// tied embeddings; a padded source).
#[test]
fn each_cached_step_equals_the_full_decoder_on_the_prefix() {
    for config in [
        small_config(),
        small_config().with_norm_first(true),
        TransformerConfig::new(29, 29)
            .with_d_model(16)
            .with_n_heads(4)
            .with_d_ff(32)
            .with_n_encoder_layers(2)
            .with_n_decoder_layers(3)
            .with_max_len(32)
            .with_dropout(0.0)
            .with_tie_embeddings(true),
    ] {
        let model = model(config, 7);
        let src = sources();
        let target = ids(
            &[&[2, 11, 12, 13, 14, 15], &[2, 16, 17, 18, 19, 20]],
            &device(),
        );
        let masks = PaddingMasks::from_tokens(src.clone(), target.clone(), PAD);
        let memory = model.encode(src, &masks).memory;
        let memory_mask: AttentionMask = masks.src_attention();
        let mut cache = model.start_decoding(memory.clone());
        for t in 0..6 {
            let token: Tensor<1, Int> = target.clone().slice([0..2, t..t + 1]).reshape([2]);
            let step = model.decode_step(token, &mut cache, &memory_mask);
            let prefix = target.clone().slice([0..2, 0..t + 1]);
            let prefix_masks = PaddingMasks {
                src: masks.src.clone(),
                tgt: prefix.clone().equal_elem(-1),
            };
            let full = model.generate(model.decode(prefix, memory.clone(), &prefix_masks).hidden);
            let [_, _, vocab] = full.dims();
            let last = full.slice([0..2, t..t + 1, 0..vocab]).reshape([2, vocab]);
            let diff = max_abs_diff(step, last);
            assert!(
                diff < 1e-4,
                "step {t}: cached and full logits differ by {diff}"
            );
        }
        assert_eq!(cache.cache.len, 6);
    }
}

/// Greedy and beam search give the same tokens and log-probabilities whether the decoder
/// runs from its cache or recomputes the prefix.
#[test]
fn cached_and_recomputed_searches_agree() {
    for seed in 0..3 {
        let model = model(small_config(), seed);
        let cached = greedy(&model, sources(), 0, &[8; 2], 0, Decoding::Cached);
        let recomputed = greedy(&model, sources(), 0, &[8; 2], 0, Decoding::Recompute);
        for (a, b) in cached.iter().zip(&recomputed) {
            assert_eq!(a.tokens, b.tokens, "seed {seed}");
            assert!((a.log_prob - b.log_prob).abs() < 1e-4, "seed {seed}");
        }
        let options = BeamOptions {
            beam: 3,
            alpha: 0.6,
            n_best: 3,
            no_repeat_ngram: 0,
            normalise_on_host: false,
        };
        let cached = beam_search(&model, sources(), options, &[8; 2], Decoding::Cached);
        let recomputed = beam_search(&model, sources(), options, &[8; 2], Decoding::Recompute);
        for (a, b) in cached.iter().flatten().zip(recomputed.iter().flatten()) {
            assert_eq!(a.tokens, b.tokens, "seed {seed}");
            assert!((a.score - b.score).abs() < 1e-4, "seed {seed}");
        }
        let on_host = BeamOptions {
            normalise_on_host: true,
            ..options
        };
        let host = beam_search(&model, sources(), on_host, &[8; 2], Decoding::Cached);
        assert_eq!(host.len(), cached.len());
        for (a, b) in cached.iter().flatten().zip(host.iter().flatten()) {
            assert_eq!(a.tokens, b.tokens, "seed {seed}, normalised on the host");
            assert!(
                (a.score - b.score).abs() < 1e-5,
                "seed {seed}, normalised on the host"
            );
        }
    }
}

/// A sentence is searched the same in a batch as alone, though the batch drops a sentence's
/// rows once it is finished, and though each has a limit of its own: greedy and beam search,
/// over sentences that end at different steps (checked to happen: the small target vocabulary
/// makes `</s>` likely), some at their limit, below the batch's longest (checked too).
#[test]
fn a_sentence_searches_the_same_in_a_batch_as_alone() {
    let pad = PAD as i64;
    let rows: [&[i64]; 4] = [
        &[3, 4, 5, 6, 7],
        &[8, 9, 10, pad, pad],
        &[11, 12, pad, pad, pad],
        &[13, 14, 15, 16, pad],
    ];
    let alone = |row: &[i64]| {
        let len = row.iter().take_while(|&&t| t != pad).count();
        ids(&[&row[..len]], &device())
    };
    let options = BeamOptions {
        beam: 3,
        alpha: 0.6,
        n_best: 3,
        no_repeat_ngram: 0,
        normalise_on_host: false,
    };
    let limits = [12, 4, 9, 6];
    let (mut ends_differ, mut at_own_limit) = (false, false);
    for seed in 0..24 {
        let model = model(small_config(), seed);
        let together = greedy(
            &model,
            ids(&rows, &device()),
            0,
            &limits,
            0,
            Decoding::Cached,
        );
        let lengths: Vec<usize> = together.iter().map(|h| h.tokens.len()).collect();
        let ended = lengths
            .iter()
            .zip(&limits)
            .any(|(length, limit)| length < limit);
        ends_differ |= ended && lengths.iter().any(|&l| l != lengths[0]);
        let beams = beam_search(
            &model,
            ids(&rows, &device()),
            options,
            &limits,
            Decoding::Cached,
        );
        for (i, row) in rows.iter().enumerate() {
            assert!(lengths[i] <= limits[i], "seed {seed}, row {i}");
            at_own_limit |= lengths[i] == limits[i] && limits[i] < 12;
            let limit = [limits[i]];
            let single = &greedy(&model, alone(row), 0, &limit, 0, Decoding::Cached)[0];
            assert_eq!(together[i].tokens, single.tokens, "seed {seed}, row {i}");
            assert!((together[i].log_prob - single.log_prob).abs() < 1e-4);
            let single = &beam_search(&model, alone(row), options, &limit, Decoding::Cached)[0];
            assert_eq!(beams[i].len(), single.len(), "seed {seed}, row {i}");
            for (a, b) in beams[i].iter().zip(single) {
                assert_eq!(a.tokens, b.tokens, "seed {seed}, row {i}");
                assert!((a.score - b.score).abs() < 1e-4, "seed {seed}, row {i}");
            }
        }
    }
    assert!(
        ends_differ,
        "no batch had sentences ending at different steps"
    );
    assert!(at_own_limit, "no sentence ran to a limit below the batch's");
}

/// A beam of one is greedy search.
#[test]
fn a_beam_of_one_is_greedy_search() {
    for seed in 0..3 {
        let model = model(small_config(), seed);
        let greedy = greedy(&model, sources(), 0, &[10; 2], 0, Decoding::Cached);
        let options = BeamOptions {
            beam: 1,
            alpha: 0.0,
            n_best: 1,
            no_repeat_ngram: 0,
            normalise_on_host: false,
        };
        let beam = beam_search(&model, sources(), options, &[10; 2], Decoding::Cached);
        for (g, b) in greedy.iter().zip(&beam) {
            assert_eq!(g.tokens, b[0].tokens, "seed {seed}");
            assert!((g.log_prob - b[0].log_prob).abs() < 1e-4, "seed {seed}");
        }
    }
}

/// A search returning one hypothesis stops once one has finished and no hypothesis still
/// alive is more probable; one returning `K` waits for `K`. When α = 0 extending a hypothesis
/// only lowers its score, so both find the same best translation with the same
/// log-probability.
#[test]
fn stopping_at_the_first_best_finished_hypothesis_loses_nothing_when_alpha_is_zero() {
    let options = |n_best| BeamOptions {
        beam: 4,
        alpha: 0.0,
        n_best,
        no_repeat_ngram: 0,
        normalise_on_host: false,
    };
    for seed in 0..8 {
        let model = model(small_config(), seed);
        let first = beam_search(&model, sources(), options(1), &[8; 2], Decoding::Cached);
        let all = beam_search(&model, sources(), options(4), &[8; 2], Decoding::Cached);
        for (row, (one, four)) in first.iter().zip(&all).enumerate() {
            assert_eq!(one.len(), 1, "seed {seed}, row {row}");
            assert_eq!(one[0].tokens, four[0].tokens, "seed {seed}, row {row}");
            assert!(
                (one[0].log_prob - four[0].log_prob).abs() < 1e-6,
                "seed {seed}, row {row}: {} against {}",
                one[0].log_prob,
                four[0].log_prob
            );
        }
    }
}

/// The log-probability of `tokens` (then `</s>` when `ended`) as a translation of row `row`
/// of `src`, from one teacher-forced pass of the full model.
fn log_prob(
    model: &Transformer,
    src: Tensor<2, Int>,
    row: usize,
    tokens: &[u32],
    ended: bool,
) -> f64 {
    let [_, src_len] = src.dims();
    let src = src.slice([row..row + 1, 0..src_len]);
    let mut labels: Vec<i64> = tokens.iter().map(|&t| t as i64).collect();
    if ended {
        labels.push(EOS_ID as i64);
    }
    let tgt_in: Vec<i64> = std::iter::once(BOS_ID as i64)
        .chain(labels.iter().copied())
        .take(labels.len())
        .collect();
    let tgt_in = ids(&[&tgt_in], &device());
    let masks = PaddingMasks {
        src: src.clone().equal_elem(PAD as i64),
        tgt: tgt_in.clone().equal_elem(-1),
    };
    let log_probs = log_softmax(model.forward(src, tgt_in, &masks), 2);
    let values = super::common::values(log_probs);
    let vocab = values.len() / labels.len();
    labels
        .iter()
        .enumerate()
        .map(|(t, &label)| values[t * vocab + label as usize] as f64)
        .sum()
}

/// Greedy search commits to the best token at every step; beam search keeps alternatives.
/// On these seeded models it finds, for some sentence, a translation more probable than
/// greedy's — the probabilities checked by a teacher-forced pass of the full model.
#[test]
fn beam_search_finds_translations_greedy_misses() {
    let options = BeamOptions {
        beam: 4,
        alpha: 0.0,
        n_best: 4,
        no_repeat_ngram: 0,
        normalise_on_host: false,
    };
    let mut better = 0;
    for seed in 0..8 {
        let model = model(small_config(), seed);
        let greedy = greedy(&model, sources(), 0, &[6; 2], 0, Decoding::Cached);
        let beam = beam_search(&model, sources(), options, &[6; 2], Decoding::Cached);
        for (row, (g, b)) in greedy.iter().zip(&beam).enumerate() {
            assert!(
                b.windows(2).all(|w| w[0].score >= w[1].score),
                "n-best not sorted"
            );
            for hypothesis in b.iter().chain([g]) {
                let ended = hypothesis.tokens.len() < 6;
                let expected = log_prob(&model, sources(), row, &hypothesis.tokens, ended);
                assert!(
                    (hypothesis.log_prob - expected).abs() < 1e-3,
                    "seed {seed}: reported {} but the model gives {expected}",
                    hypothesis.log_prob
                );
            }
            if b[0].log_prob > g.log_prob + 1e-3 {
                better += 1;
            }
        }
    }
    assert!(
        better > 0,
        "beam search never found a more probable translation than greedy"
    );
}

/// Whether some `n` consecutive tokens occur twice in `tokens`.
fn repeats(tokens: &[u32], n: usize) -> bool {
    let grams: Vec<&[u32]> = tokens.windows(n).collect();
    grams
        .iter()
        .enumerate()
        .any(|(i, gram)| grams[..i].contains(gram))
}

/// Told `no_repeat_ngram` 2, neither greedy nor beam search returns a translation holding a
/// bigram twice, where the same seeded models without it do (their few target tokens make
/// loops likely). The tokens chosen in its place keep the model's log-probabilities (a
/// teacher-forced pass of the full model), cached and recomputed decoding agree, and a beam
/// of one is still greedy search.
#[test]
fn no_ngram_is_repeated_when_told() {
    let beam = |beam, no_repeat_ngram| BeamOptions {
        beam,
        alpha: 0.0,
        n_best: beam,
        no_repeat_ngram,
        normalise_on_host: false,
    };
    let mut repeated_without = 0;
    for seed in 0..6 {
        let model = model(small_config(), seed);
        let free = greedy(&model, sources(), 0, &[12; 2], 0, Decoding::Cached);
        let free_beams = beam_search(&model, sources(), beam(4, 0), &[12; 2], Decoding::Cached);
        repeated_without += free
            .iter()
            .chain(free_beams.iter().flatten())
            .filter(|h| repeats(&h.tokens, 2))
            .count();

        let found = greedy(&model, sources(), 0, &[12; 2], 2, Decoding::Cached);
        let recomputed = greedy(&model, sources(), 0, &[12; 2], 2, Decoding::Recompute);
        let one = beam_search(&model, sources(), beam(1, 2), &[12; 2], Decoding::Cached);
        let beams = beam_search(&model, sources(), beam(4, 2), &[12; 2], Decoding::Cached);
        let beams_recomputed =
            beam_search(&model, sources(), beam(4, 2), &[12; 2], Decoding::Recompute);
        for (row, hypothesis) in found.iter().enumerate() {
            assert!(!repeats(&hypothesis.tokens, 2), "seed {seed}, row {row}");
            assert_eq!(hypothesis.tokens, recomputed[row].tokens, "seed {seed}");
            assert_eq!(hypothesis.tokens, one[row][0].tokens, "seed {seed}");
            let ended = hypothesis.tokens.len() < 12;
            let expected = log_prob(&model, sources(), row, &hypothesis.tokens, ended);
            assert!(
                (hypothesis.log_prob - expected).abs() < 1e-3,
                "seed {seed}: reported {} but the model gives {expected}",
                hypothesis.log_prob
            );
        }
        for (a, b) in beams
            .iter()
            .flatten()
            .zip(beams_recomputed.iter().flatten())
        {
            assert!(!repeats(&a.tokens, 2), "seed {seed}: {:?}", a.tokens);
            assert_eq!(a.tokens, b.tokens, "seed {seed}");
        }
    }
    assert!(
        repeated_without > 0,
        "no search repeated a bigram without the limit"
    );
}
