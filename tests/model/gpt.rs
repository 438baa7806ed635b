//! GPT, the decoder-only model built from the same blocks: equal to Burn's own encoder under
//! a causal mask, blind to later tokens, the same one position at a time as all at once; and
//! its sampling, against probabilities worked out by hand.

use burn::module::Module;
use burn::nn::activation::ActivationConfig;
use burn::nn::transformer::{TransformerEncoderConfig, TransformerEncoderInput};
use burn::tensor::{Int, Tensor, TensorData};
use transformer_mt::backend::Backend;
use transformer_mt::data::random::SplitMix64;
use transformer_mt::generate::{Sampling, choose, generate};
use transformer_mt::model::mask::causal_mask;
use transformer_mt::model::{Gpt, GptConfig};

use super::common::{device, ids, max_abs_diff};
use super::reference::{copy_encoder_layer, random_norm};

/// A small GPT: `d_model` 16, 4 heads, 2 layers, 31 tokens, 32 positions, no dropout.
fn small_gpt(norm_first: bool) -> GptConfig {
    GptConfig::new(31)
        .with_d_model(16)
        .with_n_heads(4)
        .with_d_ff(32)
        .with_n_layers(2)
        .with_max_len(32)
        .with_dropout(0.0)
        .with_norm_first(norm_first)
}

fn model(norm_first: bool) -> Gpt {
    small_gpt(norm_first).init(&device()).expect("valid")
}

/// Two rows of six tokens, `<s>` (2) first.
fn tokens() -> Tensor<2, Int> {
    ids(&[&[2, 5, 9, 4, 7, 11], &[2, 8, 3, 6, 10, 12]], &device())
}

/// Ours against Burn's `TransformerEncoder` fed the same weights and a causal attention
/// mask, on our embeddings and positional encoding, projected by the same tied table;
/// pre-norm, Burn's stack leaves the final LayerNorm to the caller.
fn check_against_burn_nn(norm_first: bool) {
    let device = device();
    let config = small_gpt(norm_first);
    let mut ours = config.init(&device).expect("valid");
    let mut theirs =
        TransformerEncoderConfig::new(config.d_model, config.d_ff, config.n_heads, config.n_layers)
            .with_dropout(0.0)
            .with_norm_first(norm_first)
            .with_activation(ActivationConfig::Relu)
            .init(&device);
    for (our_layer, their_layer) in ours.stack.layers.iter_mut().zip(theirs.layers.iter_mut()) {
        copy_encoder_layer(our_layer, their_layer, norm_first);
    }
    let final_norm = random_norm(config.d_model, &device);
    if norm_first {
        ours.stack.final_norm = Some(final_norm.clone());
    }

    let tokens = tokens();
    let [batch, len] = tokens.dims();
    let x = ours
        .positional_encoding
        .forward(ours.embedding.forward(tokens.clone()));
    let causal = causal_mask(len, &device)
        .reshape([1, len, len])
        .expand([batch, len, len]);
    let hidden = theirs.forward(TransformerEncoderInput::new(x).mask_attn(causal));
    let hidden = if norm_first {
        final_norm.forward(hidden)
    } else {
        hidden
    };
    let expected = ours.embedding.logits(hidden);
    let diff = max_abs_diff(ours.forward(tokens), expected);
    assert!(diff < 1e-5, "norm_first {norm_first}: {diff}");
}

#[test]
fn gpt_post_norm_equals_burn_nn_encoder_under_a_causal_mask() {
    check_against_burn_nn(false);
}

#[test]
fn gpt_pre_norm_equals_burn_nn_encoder_under_a_causal_mask() {
    check_against_burn_nn(true);
}

/// Changing the tokens after position 3 leaves the logits of positions 0 to 3 as they were,
/// and changes those after.
#[test]
fn a_position_does_not_see_the_tokens_after_it() {
    let device = device();
    let model = model(true);
    let a = model.forward(ids(&[&[2, 5, 9, 4, 7, 11]], &device));
    let b = model.forward(ids(&[&[2, 5, 9, 4, 13, 1]], &device));
    let vocab = 31;
    let before = |x: Tensor<3>| x.slice([0..1, 0..4, 0..vocab]);
    let after = |x: Tensor<3>| x.slice([0..1, 4..6, 0..vocab]);
    let same = max_abs_diff(before(a.clone()), before(b.clone()));
    assert!(same < 1e-5, "an earlier position moved by {same}");
    let moved = max_abs_diff(after(a), after(b));
    assert!(moved > 1e-3, "the changed positions did not move: {moved}");
}

/// One position at a time against the cache gives, at every position, the logits of the
/// whole sequence at once; post-norm and pre-norm.
#[test]
fn cached_steps_equal_the_whole_sequence_at_once() {
    for norm_first in [false, true] {
        let model = model(norm_first);
        let tokens = tokens();
        let [batch, len] = tokens.dims();
        let all = model.forward(tokens.clone());
        let mut cache = model.start();
        for t in 0..len {
            let column = tokens.clone().slice([0..batch, t..t + 1]).reshape([batch]);
            let step = model.step(column, &mut cache);
            let expected = all
                .clone()
                .slice([0..batch, t..t + 1, 0..31])
                .reshape([batch, 31]);
            let diff = max_abs_diff(step, expected);
            assert!(diff < 1e-5, "norm_first {norm_first}, position {t}: {diff}");
        }
        assert_eq!(cache.len, len);
    }
}

/// Greedy generation is the most probable token after the prompt, again and again: each
/// token it writes is the argmax of the whole-sequence logits at the position before, and
/// when it stops before 8 tokens, the argmax there is `</s>`.
#[test]
fn greedy_generation_takes_the_argmax_of_the_full_model_at_every_position() {
    let device = device();
    let model = model(true);
    let prompt = [2u32, 5, 9];
    let written = generate(&model, &prompt, 8, &Sampling::default());
    let sequence: Vec<i64> = prompt
        .iter()
        .chain(&written)
        .map(|&t| i64::from(t))
        .collect();
    let len = sequence.len();
    let logits = model.forward(Tensor::from_data(
        TensorData::new(sequence, [1, len]),
        &device,
    ));
    let values = super::common::values(logits);
    let argmax = |at: usize| {
        let mut row = values[at * 31..(at + 1) * 31].to_vec();
        // Generation never chooses padding (0) or `<s>` (2).
        row[0] = f32::NEG_INFINITY;
        row[2] = f32::NEG_INFINITY;
        (0..31u32).max_by(|&a, &b| row[a as usize].total_cmp(&row[b as usize]).then(b.cmp(&a)))
    };
    for (i, &token) in written.iter().enumerate() {
        assert_eq!(Some(token), argmax(prompt.len() - 1 + i), "token {i}");
    }
    if written.len() < 8 {
        assert_eq!(
            argmax(len - 1),
            Some(3),
            "stopped before `</s>`: {written:?}"
        );
    }
}

/// A seed gives the same text on every CPU backend compiled in; seeds 0 to 9 give texts
/// that are not all the same.
#[test]
fn a_seed_gives_the_same_text_on_every_cpu_backend() {
    let model = model(true);
    let texts_on = |model: &Gpt| -> Vec<Vec<u32>> {
        (0..10)
            .map(|seed| {
                let sampling = Sampling {
                    temperature: 1.0,
                    top_k: 20,
                    top_p: 0.95,
                    seed,
                };
                generate(model, &[2, 5, 9], 20, &sampling)
            })
            .collect()
    };
    let mut texts = Vec::new();
    for backend in [Backend::Flex, Backend::Ndarray, Backend::Tch] {
        let Ok(device) = backend.device() else {
            continue;
        };
        texts.push((backend, texts_on(&model.clone().to_device(&device))));
    }
    assert!(!texts.is_empty(), "no CPU backend compiled in");
    let (first, reference) = &texts[0];
    let written: usize = reference.iter().map(Vec::len).sum();
    assert!(written >= 40, "{reference:?}");
    assert!(
        reference.iter().any(|text| text != &reference[0]),
        "{reference:?}"
    );
    for (backend, other) in &texts[1..] {
        assert_eq!(other, reference, "{backend} against {first}");
    }
}

fn ln(p: f64) -> f32 {
    p.ln() as f32
}

/// How often each of three tokens is drawn in 20,000 draws.
fn frequencies(logits: &[f32], sampling: &Sampling) -> [f64; 3] {
    let mut rng = SplitMix64::new(sampling.seed);
    let mut counts = [0usize; 3];
    let draws = 20_000;
    for _ in 0..draws {
        let token = choose(logits, sampling, &mut rng).expect("a token");
        counts[token as usize] += 1;
    }
    counts.map(|count| count as f64 / draws as f64)
}

fn assert_close(got: [f64; 3], expected: [f64; 3]) {
    for (g, e) in got.iter().zip(&expected) {
        assert!((g - e).abs() < 0.02, "drawn {got:?}, expected {expected:?}");
    }
}

/// The draws follow the probabilities worked out by hand from logits `ln 0.5`, `ln 0.3`,
/// `ln 0.2`: the softmax itself at temperature 1; `p^(1/T)` renormalised at temperature 2;
/// the two best renormalised under top-k 2 and under top-p 0.7 (0.5 + 0.3 ≥ 0.7).
#[test]
fn sampling_draws_by_the_probabilities_worked_out_by_hand() {
    let logits = [ln(0.5), ln(0.3), ln(0.2)];
    let at = |temperature, top_k, top_p| Sampling {
        temperature,
        top_k,
        top_p,
        seed: 3,
    };
    assert_close(frequencies(&logits, &at(1.0, 0, 1.0)), [0.5, 0.3, 0.2]);
    let flat = [0.5f64.sqrt(), 0.3f64.sqrt(), 0.2f64.sqrt()];
    let sum: f64 = flat.iter().sum();
    assert_close(
        frequencies(&logits, &at(2.0, 0, 1.0)),
        flat.map(|p| p / sum),
    );
    assert_close(frequencies(&logits, &at(1.0, 2, 1.0)), [0.625, 0.375, 0.0]);
    assert_close(frequencies(&logits, &at(1.0, 0, 0.7)), [0.625, 0.375, 0.0]);
}

/// Temperature 0 is the argmax, the lower id among equals; −∞ is never chosen, and a row
/// with nothing else chooses nothing.
#[test]
fn greedy_choice_and_excluded_tokens() {
    let mut rng = SplitMix64::new(0);
    let greedy = Sampling::default();
    let inf = f32::NEG_INFINITY;
    assert_eq!(choose(&[inf, 1.0, 3.0, 2.0], &greedy, &mut rng), Some(2));
    assert_eq!(choose(&[1.0, 3.0, 3.0], &greedy, &mut rng), Some(1));
    assert_eq!(choose(&[inf, inf], &greedy, &mut rng), None);
    let sampling = Sampling {
        temperature: 1.0,
        ..Sampling::default()
    };
    for _ in 0..1000 {
        assert_eq!(choose(&[inf, 0.0, inf], &sampling, &mut rng), Some(1));
    }
}
