//! The translator over a whole input: how its batches are spread over threads never changes a
//! translation; and when a beam search stops.

use std::path::Path;

use transformer_mt::backend::Backend;
use transformer_mt::model::kernels::exp_nonpositive;
use transformer_mt::run::RunDir;
use transformer_mt::translate::search::{
    Beam, Decoding, Hypothesis, greedy_choices, log_softmax_rows, repeating_tokens, top,
};
use transformer_mt::translate::segment::sentences;
use transformer_mt::translate::{Precision, SearchSettings, Translator};

use crate::train::common::{path, run_in, stderr, stdout};

/// Where Moses' `split-sentences.perl` cuts English, worked out by hand: after final
/// punctuation and closing quotes, before a capital, a digit or an opening quote; not after
/// a title, an initial, an acronym or a number's prefix before its number; never inside a word.
#[test]
fn sentences_are_cut_where_the_moses_splitter_cuts_them() {
    let cases: &[(&str, &[&str])] = &[
        (
            "The Parliament approved the budget. The vote was close.",
            &["The Parliament approved the budget.", "The vote was close."],
        ),
        (
            "  Mr. Smith went to Washington.  He met Dr. Jones there. ",
            &["Mr. Smith went to Washington.", "He met Dr. Jones there."],
        ),
        (
            "J. K. Rowling wrote it. The U.S. Senate read it.",
            &["J. K. Rowling wrote it.", "The U.S. Senate read it."],
        ),
        (
            "See No. 5 and pp. 12-14. 10 people came.",
            &["See No. 5 and pp. 12-14.", "10 people came."],
        ),
        (
            "He asked \"Why?\" Then he left (quietly). \"Stop!\" she said.",
            &[
                "He asked \"Why?\"",
                "Then he left (quietly).",
                "\"Stop!\" she said.",
            ],
        ),
        (
            "Wait... What happened?! Nothing… Olá.",
            &["Wait...", "What happened?!", "Nothing…", "Olá."],
        ),
        (
            "Version 3.5 reads config.json. e.g. this one. it goes on",
            &["Version 3.5 reads config.json. e.g. this one. it goes on"],
        ),
        ("No final stop", &["No final stop"]),
        ("Why? ¿Qué?", &["Why?", "¿Qué?"]),
    ];
    for (text, expected) in cases {
        assert_eq!(sentences(text), *expected, "{text:?}");
    }
    assert!(sentences("").is_empty());
    assert!(sentences(" \t ").is_empty());
}

/// A line of several sentences is translated as its sentences alone would be, joined by a
/// space, scores summed, the `k`-th of its n-best lists the `k`-th of each; a line of one
/// sentence, a blank line and a line translated whole keep what the sentence alone gives.
/// The shipped model, flex, beam 4.
#[test]
fn a_line_of_several_sentences_is_translated_sentence_by_sentence() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/eng-por");
    let translator =
        Translator::load(&RunDir::from_arg(&run), Backend::Flex).expect("the shipped model");
    let settings = SearchSettings {
        beam: 4,
        alpha: SearchSettings::DEFAULT_ALPHA,
        no_repeat_ngram: SearchSettings::DEFAULT_NO_REPEAT_NGRAM,
        n_best: 2,
        max_tokens: usize::MAX,
        decoding: Decoding::Cached,
        batch_size: 8,
        precision: Precision::F32,
    };
    let alone = |sentences: &[&str]| {
        let sources = translator.encode(sentences).expect("encodes");
        translator
            .translate(&sources.ids, &settings, |_| {})
            .expect("translates")
    };
    let parts = [
        "Tom is reading a book.",
        "Where is the station?",
        "I like cats.",
    ];
    let each = alone(&parts);
    let lines = [parts.join(" "), String::new(), parts[2].to_string()];
    let sources = translator.encode_lines(&lines, true).expect("encodes");
    assert_eq!((sources.ids.len(), sources.lines()), (4, 3));
    let joined = sources.join(
        translator
            .translate(&sources.ids, &settings, |_| {})
            .expect("translates"),
    );
    assert_eq!(joined.len(), 3);
    for k in 0..2 {
        let text: Vec<&str> = each.iter().map(|t| t[k].text.as_str()).collect();
        assert_eq!(joined[0][k].text, text.join(" "));
        let score: f64 = each.iter().map(|t| t[k].score).sum();
        assert!((joined[0][k].score - score).abs() < 1e-9);
    }
    assert_eq!(joined[1].len(), 1);
    assert_eq!(joined[1][0].text, "");
    assert_eq!(joined[2], each[2]);
    let whole = translator.encode_lines(&lines, false).expect("encodes");
    assert_eq!((whole.ids.len(), whole.lines()), (3, 3));
    let paragraph = translator.encode(&[&lines[0]]).expect("encodes");
    assert_eq!(whole.ids[0], paragraph.ids[0]);
}

/// `infer` translates a paragraph sentence by sentence, and whole with `--whole-lines`: the
/// paragraph's translation is that of its sentences given one by one, joined by a space.
#[test]
fn infer_translates_a_paragraph_sentence_by_sentence_unless_told_otherwise() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/eng-por");
    let parts = ["The children are playing in the park.", "It is raining."];
    let paragraph = parts.join(" ");
    let infer = |extra: &[&str]| {
        let mut args = vec!["infer", "--run", path(&run)];
        args.extend_from_slice(extra);
        let output = run_in(dir.path(), &args);
        assert!(output.status.success(), "{}", stderr(&output));
        stdout(&output)
    };
    let one_by_one = infer(&parts);
    let expected = one_by_one.lines().collect::<Vec<_>>().join(" ");
    assert_eq!(infer(&[&paragraph]), format!("{expected}\n"));
    let whole = infer(&["--whole-lines", &paragraph]);
    assert_eq!(whole.lines().count(), 1, "{whole}");
    let scored = infer(&["--whole-lines", "--n-best", "2", &paragraph]);
    assert_eq!(scored.lines().count(), 2, "{scored}");
}

/// On flex and on libtorch on the CPU the batches are translated side by side, one a thread,
/// each thread running its operations on one thread of its own: the translations, their scores
/// and their order are those of one thread translating the batches in turn, greedy and beam,
/// at batch 1 and at a batch of several sentences. Flex's kernels give the same bits whatever
/// the thread; libtorch's may sum in another order on one thread than on two, so its scores
/// agree to 1e-5. Afterwards libtorch's thread count is what it was, for a thread born later.
#[test]
fn cpu_backends_translate_the_same_on_two_threads_as_on_one() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/eng-por");
    let sentences = [
        "Tom is reading a book in the garden.",
        "",
        "Where is the station?",
        "The European Parliament approved the new budget yesterday.",
        "I like cats.",
        "Click the button to save the file before you close the window.",
        "She has lived in this town for ten years, and she still loves it.",
    ];
    let backends = Backend::compiled()
        .into_iter()
        .filter(|backend| matches!(backend, Backend::Flex | Backend::Tch));
    for backend in backends {
        let tolerance = if backend == Backend::Tch { 1e-5 } else { 0.0 };
        let translator =
            Translator::load(&RunDir::from_arg(&run), backend).expect("the shipped model");
        let sources = translator.encode(&sentences).expect("encodes");
        for (beam, batch_size) in [(1, 1), (4, 1), (1, 3), (4, 3)] {
            let settings = SearchSettings {
                beam,
                alpha: SearchSettings::DEFAULT_ALPHA,
                no_repeat_ngram: SearchSettings::DEFAULT_NO_REPEAT_NGRAM,
                n_best: 1,
                max_tokens: usize::MAX,
                decoding: Decoding::Cached,
                batch_size,
                precision: Precision::F32,
            };
            let case = format!("{}, beam {beam}, batch {batch_size}", backend.name());
            let on = |threads: usize| {
                #[cfg(feature = "tch")]
                tch::set_num_threads(threads as i32);
                let mut reported = 0;
                let translations = rayon::ThreadPoolBuilder::new()
                    .num_threads(threads)
                    .build()
                    .expect("a thread pool")
                    .install(|| {
                        translator.translate(&sources.ids, &settings, |done| reported += done)
                    })
                    .expect("translates");
                assert_eq!(reported, sentences.len(), "{threads} threads, {case}");
                #[cfg(feature = "tch")]
                {
                    let born_later = std::thread::spawn(tch::get_num_threads)
                        .join()
                        .expect("the thread ends");
                    assert_eq!(born_later, threads as i32, "{case}");
                }
                translations
            };
            let (one, two) = (on(1), on(2));
            assert_eq!(one.len(), sentences.len());
            assert_eq!(one[1][0].text, "");
            for (a, b) in one.iter().zip(&two) {
                assert_eq!(a[0].text, b[0].text, "{case}");
                assert!(
                    (a[0].score - b[0].score).abs() <= tolerance,
                    "{case}: {} against {}",
                    a[0].score,
                    b[0].score
                );
            }
        }
    }
}

/// How many hypotheses are asked for never changes the best one: with α > 0 a longer
/// hypothesis may still overtake those finished first, so the search does not stop at the
/// first finished one even when only one is returned. The first 40 sentences of the news dev
/// set, beam 4, the default α, flex.
#[test]
fn the_best_translation_is_the_same_whether_one_or_four_are_asked_for() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/eng-por");
    let translator =
        Translator::load(&RunDir::from_arg(&run), Backend::Flex).expect("the shipped model");
    let news = std::fs::read_to_string(
        crate::data::common::shared_data().join("ntrex128.eng-por.dev.tsv"),
    )
    .expect("the news dev set");
    let sentences: Vec<&str> = news
        .lines()
        .take(40)
        .map(|line| line.split('\t').next().unwrap_or_default())
        .collect();
    let sources = translator.encode(&sentences).expect("encodes");
    let translate = |n_best| {
        let settings = SearchSettings {
            beam: 4,
            alpha: SearchSettings::DEFAULT_ALPHA,
            no_repeat_ngram: SearchSettings::DEFAULT_NO_REPEAT_NGRAM,
            n_best,
            max_tokens: usize::MAX,
            decoding: Decoding::Cached,
            batch_size: 8,
            precision: Precision::F32,
        };
        translator
            .translate(&sources.ids, &settings, |_| {})
            .expect("translates")
    };
    let (one, four) = (translate(1), translate(4));
    for (i, (one, four)) in one.iter().zip(&four).enumerate() {
        assert_eq!(one.len(), 1);
        assert_eq!(four.len(), 4, "sentence {}", i + 1);
        assert_eq!(one[0].text, four[0].text, "sentence {}", i + 1);
        assert_eq!(one[0].score, four[0].score, "sentence {}", i + 1);
    }
}

/// One step of a beam of 2 whose only live hypothesis is empty, over a vocabulary of 6
/// where only `</s>` (3) and the tokens 4 and 5 may come next, α = 0, the search ending after
/// `enough` finished hypotheses. Returns the extensions kept and the finished ones.
fn step(eos: f32, four: f32, five: f32, enough: usize) -> (Vec<u32>, Vec<f64>) {
    let live = Hypothesis {
        tokens: Vec::new(),
        log_prob: 0.0,
        score: 0.0,
    };
    let row = [
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
        eos,
        four,
        five,
    ];
    let log_probs: Vec<f32> = row.iter().chain(&[0.0; 6]).copied().collect();
    let beam = Beam {
        alive: &[Some(live), None],
        log_probs: &log_probs,
        first: 0,
        beam: 2,
        alpha: 0.0,
        enough,
        no_repeat_ngram: 0,
    };
    let mut done = Vec::new();
    let kept = beam.extend(&mut done);
    let tokens = kept.iter().map(|&(_, token, _)| token).collect();
    (tokens, done.iter().map(|h| h.log_prob).collect())
}

/// α = 0. `</s>` the most probable extension: when one finished hypothesis is enough the
/// search is over (nothing alive can score above it); when two are, it goes on with tokens 4
/// and 5.
#[test]
fn the_most_probable_extension_ending_ends_a_search_for_one() {
    let ln = |p: f32| p.ln();
    let (kept, done) = step(ln(0.6), ln(0.3), ln(0.1), 1);
    assert!(kept.is_empty(), "{kept:?}");
    assert_eq!(done, vec![f64::from(ln(0.6))]);
    let (kept, done) = step(ln(0.6), ln(0.3), ln(0.1), 2);
    assert_eq!(kept, vec![4, 5]);
    assert_eq!(done.len(), 1);
}

/// α = 0. `</s>` second: token 4 (0.5) is more probable than the finished hypothesis (0.4)
/// and may still end above it, so the search goes on with tokens 4 and 5.
#[test]
fn a_finished_hypothesis_below_a_live_one_does_not_end_the_search() {
    let ln = |p: f32| p.ln();
    let (kept, done) = step(ln(0.4), ln(0.5), ln(0.1), 1);
    assert_eq!(kept, vec![4, 5]);
    assert_eq!(done, vec![f64::from(ln(0.4))]);
}

/// The tokens that would repeat an n-gram, worked out by hand for `5 6 7 5 6`: its last
/// bigram `5 6` was followed by 7 before, so with n = 3 only 7 is left out; the last token 6
/// was followed by 7 (n = 2); n = 1 leaves out every token used; n = 0 or a translation
/// shorter than n, none.
#[test]
fn the_tokens_that_would_repeat_an_ngram() {
    let tokens = [5, 6, 7, 5, 6];
    assert_eq!(repeating_tokens(&tokens, 3), [7]);
    assert_eq!(repeating_tokens(&tokens, 2), [7]);
    assert_eq!(repeating_tokens(&tokens, 1), [5, 6, 7, 5, 6]);
    assert_eq!(repeating_tokens(&tokens, 4), [] as [u32; 0]);
    assert_eq!(repeating_tokens(&tokens, 0), [] as [u32; 0]);
    assert_eq!(repeating_tokens(&[5, 5], 3), [] as [u32; 0]);
    // `8 8 8`: the bigram `8 8` was followed by 8, and by 9 in `8 8 9 8 8`.
    assert_eq!(repeating_tokens(&[8, 8, 9, 8, 8], 3), [9]);
    assert_eq!(repeating_tokens(&[8, 8, 8], 3), [8]);
}

/// A beam whose best extension would repeat a bigram takes the next ones instead: the live
/// hypothesis `4 5 4` would repeat `4 5` with 5 (log-probability −0.1); of its other
/// extensions `</s>` (−1.0) finishes and a beam of 2 keeps 4 (−2.0) and 6 (−3.0), where
/// without the limit (or with trigrams) it keeps 5 and 4.
#[test]
fn a_beam_leaves_out_the_token_that_would_repeat_an_ngram() {
    let live = Hypothesis {
        tokens: vec![4, 5, 4],
        log_prob: -3.0,
        score: -3.0,
    };
    let row = [
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
        f32::NEG_INFINITY,
        -1.0,
        -2.0,
        -0.1,
        -3.0,
    ];
    let log_probs: Vec<f32> = row.iter().chain(&[0.0; 7]).copied().collect();
    let extend = |no_repeat_ngram| {
        let beam = Beam {
            alive: &[Some(live.clone()), None],
            log_probs: &log_probs,
            first: 0,
            beam: 2,
            alpha: 0.0,
            enough: 2,
            no_repeat_ngram,
        };
        let mut done = Vec::new();
        let kept: Vec<u32> = beam.extend(&mut done).iter().map(|k| k.1).collect();
        (kept, done.iter().map(|h| h.log_prob).collect::<Vec<_>>())
    };
    assert_eq!(extend(0), (vec![5, 4], vec![-4.0]));
    assert_eq!(extend(2), (vec![4, 6], vec![-4.0]));
    assert_eq!(extend(3), (vec![5, 4], vec![-4.0]));
}

/// The beam's `exp` against `f64`'s on a million points of `[−87, 0]`: within 2.5e-7 of the
/// value (2 ulp at most), exactly 1 at 0; below −87 it stays at `e^{−87}`'s neighbourhood.
#[test]
fn the_vectorised_exp_is_within_two_ulp_of_the_exact_one() {
    let points = 1_000_000;
    let worst = (0..=points)
        .map(|i| -87.0 * i as f32 / points as f32)
        .map(|x| {
            let exact = f64::from(x).exp();
            (f64::from(exp_nonpositive(x)) - exact).abs() / exact
        })
        .fold(0.0, f64::max);
    assert!(worst < 2.5e-7, "relative error {worst}");
    assert_eq!(exp_nonpositive(0.0), 1.0);
    let floor = exp_nonpositive(-1000.0);
    assert!(floor > 0.0 && (f64::from(floor) / (-87f64).exp() - 1.0).abs() < 1e-6);
}

/// `rows` rows of `vocab` logits spread over ±30, row `r` shifted up by `r`.
fn spread_logits(rows: usize, vocab: usize) -> Vec<f32> {
    (0..rows * vocab)
        .map(|i| ((i * 7919 % 10007) as f32 / 10007.0 - 0.5) * 60.0 + (i / vocab) as f32)
        .collect()
}

/// Burn's `log_softmax` over each row of `logits` `[rows, vocab]`, on the tests' device.
fn burns_log_softmax(logits: &[f32], rows: usize, vocab: usize) -> Vec<f32> {
    use burn::tensor::activation::log_softmax;
    use burn::tensor::{Tensor, TensorData};
    let logits = TensorData::new(logits.to_vec(), [rows, vocab]);
    log_softmax(Tensor::<2>::from_data(logits, &crate::shared::device()), 1)
        .into_data()
        .try_into_vec::<f32>()
        .expect("f32 values")
}

/// The beam's log-softmax on the host against Burn's `log_softmax` on flex, on rows of 8,003
/// logits (not a multiple of the sixteen lanes) spread over ±30: within 1e-5, the excluded
/// tokens at −∞, and what is left a distribution once they are counted back.
#[test]
fn the_host_log_softmax_is_burns_with_the_excluded_tokens_taken_out() {
    let (rows, vocab) = (5, 8003);
    let logits = spread_logits(rows, vocab);
    let reference = burns_log_softmax(&logits, rows, vocab);
    let mut host = logits;
    log_softmax_rows(&mut host, vocab, &[0, 2]);
    for (row, (host, reference)) in host
        .chunks_exact(vocab)
        .zip(reference.chunks_exact(vocab))
        .enumerate()
    {
        assert_eq!(
            (row, host[0], host[2]),
            (row, f32::NEG_INFINITY, f32::NEG_INFINITY)
        );
        for (token, (&h, &r)) in host.iter().zip(reference).enumerate() {
            if token != 0 && token != 2 {
                assert!(
                    (h - r).abs() <= 1e-5,
                    "row {row}, token {token}: {h} against {r}"
                );
            }
        }
        let total: f64 = host
            .iter()
            .zip(reference)
            .map(|(&h, &r)| f64::from(if h.is_finite() { h } else { r }).exp())
            .sum();
        assert!((total - 1.0).abs() < 1e-5, "row {row}: {total}");
    }
}

/// Greedy search's choice on the host against Burn's `log_softmax` on the device, on rows of
/// 8,003 logits spread over ±30 whose best token is now one the row bans, now padding, `<s>`
/// or `</s>`: the best token of what is left, with `</s>` left only when the search may end,
/// and its log-probability within 1e-5.
#[test]
fn the_greedy_choice_on_the_host_is_the_best_log_probability_left() {
    let (rows, vocab) = (7, 8003);
    let mut logits = spread_logits(rows, vocab);
    // Row r's best logit at `peaks[r]`, its second best at 4000 + r (row 6 bans both).
    let peaks = [0, 2, 3, 3, 4321, 8002, 17];
    for (row, &peak) in peaks.iter().enumerate() {
        logits[row * vocab + peak] = 40.0;
        logits[row * vocab + 4000 + row] = 35.0;
    }
    let banned: Vec<Vec<u32>> = vec![
        vec![],
        vec![9, 10],
        vec![],
        vec![3],
        vec![4321, 5],
        vec![],
        vec![17, 4006],
    ];
    let reference = burns_log_softmax(&logits, rows, vocab);
    for may_end in [false, true] {
        let got = greedy_choices(&logits, vocab, &banned, may_end);
        assert_eq!(got.len(), rows);
        // Worked out by hand for the rows whose best or second best is taken.
        let by_hand = [4000, 4001, if may_end { 3 } else { 4002 }, 4003, 4004, 8002];
        for (row, &(token, log_prob)) in got.iter().enumerate() {
            let allowed = |t: usize| {
                t != 0 && t != 2 && (t != 3 || may_end) && !banned[row].contains(&(t as u32))
            };
            let (best, wanted) = reference[row * vocab..(row + 1) * vocab]
                .iter()
                .copied()
                .enumerate()
                .filter(|&(t, _)| allowed(t))
                .max_by(|a, b| a.1.total_cmp(&b.1).then(b.0.cmp(&a.0)))
                .expect("an allowed token");
            assert_eq!((row, may_end, token), (row, may_end, best as u32));
            if let Some(&hand) = by_hand.get(row) {
                assert_eq!((row, may_end, token), (row, may_end, hand));
            }
            assert!(
                (log_prob - wanted).abs() <= 1e-5,
                "row {row}: {log_prob} against {wanted}"
            );
        }
    }
}

/// The beam's choice of a row's best tokens against sorting the whole row: on rows of 8,003
/// values (not a multiple of the sixteen a block holds) with many ties, −∞, −0 and +0, the
/// best values anywhere (first, in a block's middle, in the last partial block), banned
/// tokens among them, and every `n` from one to seven; the lower token first among equals.
#[test]
fn the_best_tokens_of_a_row_are_those_of_sorting_it() {
    let vocab = 8003;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let mut random = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for case in 0..60 {
        // Quarter steps over [−20, 0]: equal values are common.
        let mut row: Vec<f32> = (0..vocab)
            .map(|_| -((random() % 81) as f32) / 4.0)
            .collect();
        for _ in 0..50 {
            row[(random() % vocab as u64) as usize] = f32::NEG_INFINITY;
        }
        let peaks = [0, 7, 8000, 8002, (random() % vocab as u64) as usize];
        for (i, &at) in peaks.iter().enumerate() {
            row[at] = match case % 3 {
                0 => 0.0,
                1 => -0.0,
                _ => 1.0 + (i % 2) as f32,
            };
        }
        let banned: Vec<u32> = match case % 4 {
            0 => Vec::new(),
            1 => vec![peaks[0] as u32, peaks[3] as u32],
            2 => vec![peaks[4] as u32, 5, 6000],
            _ => (0..20).map(|_| (random() % vocab as u64) as u32).collect(),
        };
        for n in 1..=7 {
            let mut expected: Vec<(u32, f32)> = row
                .iter()
                .enumerate()
                .map(|(token, &x)| (token as u32, x))
                .filter(|(token, _)| !banned.contains(token))
                .collect();
            expected.sort_by(|a, b| b.1.total_cmp(&a.1));
            expected.truncate(n);
            let got = top(&row, n, &banned);
            assert_eq!(
                got.iter()
                    .map(|&(t, x)| (t, x.to_bits()))
                    .collect::<Vec<_>>(),
                expected
                    .iter()
                    .map(|&(t, x)| (t, x.to_bits()))
                    .collect::<Vec<_>>(),
                "case {case}, n {n}"
            );
        }
    }
    assert_eq!(top(&[-1.0, -2.0], 5, &[]), vec![(0, -1.0), (1, -2.0)]);
    assert_eq!(top(&[], 3, &[]), Vec::new());
}

/// `Precision::Bf16` (the generator's product in bfloat16) on the shipped model, greedy and
/// beam 4, on flex and ndarray: most translations are float32's word for word,
/// and where they are, their scores differ by what rounding the generator's inputs and
/// weights to 8 significant bits costs (well under a hundredth of a nat a token), not by
/// what a wrong product would; and some do differ, so the bfloat16 path ran.
#[test]
fn bfloat16_decoding_translates_as_float32_but_for_rounding() {
    let run = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/eng-por");
    let examples = std::fs::read_to_string(run.join("examples.tsv")).expect("examples.tsv");
    let mut sentences: Vec<&str> = examples
        .lines()
        .filter_map(|line| line.split('\t').next())
        .collect();
    sentences.extend([
        "The European Parliament approved the new budget yesterday.",
        "Click the button to save the file before you close the window.",
        "She has lived in this town for ten years, and she still loves it.",
        "Where is the station?",
    ]);
    // Not tch: its translations set libtorch's process-wide thread count, which
    // `cpu_backends_translate_the_same_on_two_threads_as_on_one` checks beside it
    // (`model::bf16`'s test multiplies on tch).
    let backends = Backend::compiled()
        .into_iter()
        .filter(|backend| matches!(backend, Backend::Flex | Backend::Ndarray));
    for backend in backends {
        let translator =
            Translator::load(&RunDir::from_arg(&run), backend).expect("the shipped model");
        let sources = translator.encode(&sentences).expect("encodes");
        for beam in [1, 4] {
            let translate = |precision| {
                let settings = SearchSettings {
                    beam,
                    alpha: SearchSettings::DEFAULT_ALPHA,
                    no_repeat_ngram: SearchSettings::DEFAULT_NO_REPEAT_NGRAM,
                    n_best: 1,
                    max_tokens: usize::MAX,
                    decoding: Decoding::Cached,
                    batch_size: 8,
                    precision,
                };
                translator
                    .translate(&sources.ids, &settings, |_| {})
                    .expect("translates")
            };
            let (full, half) = (translate(Precision::F32), translate(Precision::Bf16));
            let case = format!("{backend}, beam {beam}");
            let same: Vec<(f64, f64, usize)> = full
                .iter()
                .zip(&half)
                .filter(|(f, h)| f[0].tokens == h[0].tokens)
                .map(|(f, h)| (f[0].score, h[0].score, f[0].tokens.len() + 1))
                .collect();
            assert!(
                same.len() + 2 >= sentences.len(),
                "{case}: {} of {} the same",
                same.len(),
                sentences.len()
            );
            assert!(
                same.iter().any(|(full, half, _)| full != half),
                "{case}: no score moved: the generator did not run in bfloat16"
            );
            for (full, half, tokens) in same {
                assert!(
                    (full - half).abs() <= 0.01 * tokens as f64,
                    "{case}: score {half} against float32's {full} over {tokens} tokens"
                );
            }
        }
    }
}
