//! bfloat16 products against values worked out by hand and the exact sums of the rounded
//! products.

use burn::tensor::{Int, Tensor, TensorData};
use transformer_mt::backend::Backend;
use transformer_mt::model::bf16::{Bf16Matrix, from_bf16, project, to_bf16};
use transformer_mt::model::{GptConfig, PaddingMasks, TransformerConfig};

use super::common::{device, tensor, values};

/// Rounding keeps the upper 16 bits, to the nearest, ties to even: 1 + 2⁻⁸ lies halfway
/// between 1 and 1 + 2⁻⁷ and goes to 1 (even); 1 + 3·2⁻⁸ lies halfway between 1 + 2⁻⁷ (odd)
/// and 1 + 2⁻⁶ and goes up; just past a half goes up; a bfloat16 is its own rounding.
#[test]
fn rounding_to_bfloat16_is_to_the_nearest_ties_to_even() {
    let cases: [(f32, u16); 8] = [
        (1.0, 0x3F80),
        (1.0 + 1.0 / 256.0, 0x3F80),
        (1.0 + 3.0 / 256.0, 0x3F82),
        (1.0 + 1.0 / 256.0 + 1.0 / 65536.0, 0x3F81),
        (-2.0, 0xC000),
        (0.0, 0x0000),
        (f32::INFINITY, 0x7F80),
        (f32::MAX, 0x7F80),
    ];
    for (x, bits) in cases {
        assert_eq!(to_bf16(x), bits, "{x}");
    }
    assert!(from_bf16(to_bf16(f32::NAN)).is_nan());
    assert_eq!(from_bf16(0x3F82), 1.0 + 1.0 / 64.0);
    assert_eq!(from_bf16(0xC000), -2.0);
}

/// Values spread over a few orders of magnitude, of both signs, reproducible.
fn filled(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| {
            let unit = ((i * 7919 + seed * 104_729) % 2003) as f32 / 2003.0 - 0.5;
            unit * (1 + i % 5) as f32 * 0.7
        })
        .collect()
}

fn rounded(x: f32) -> f64 {
    f64::from(from_bf16(to_bf16(x)))
}

/// `x·W` for the shapes a decoding step multiplies (one row or a batch's, against the model
/// width, the feed-forward width and the vocabulary) and awkward ones (an odd number of
/// input rows, outputs that end inside a panel, rows that end inside a block): each value
/// within float32's summation error of `Σ bf16(x)·bf16(W)` summed exactly (in `f64` from the
/// rounded values), both on the processor's own path and in float32 lanes; the stored
/// matrix is `W` rounded, and `transposed` stores the transpose.
#[test]
fn bfloat16_products_are_the_exact_sums_of_the_rounded_products() {
    for (rows, d_input, d_output) in [
        (1, 7, 45),
        (13, 33, 70),
        (25, 256, 1024),
        (1, 256, 8003),
        (30, 256, 8003),
        (4, 1024, 256),
    ] {
        let w = filled(d_input * d_output, 1);
        let x = filled(rows * d_input, 2);
        let matrix = Bf16Matrix::new(d_input, d_output, |i, j| w[i * d_output + j]);
        assert_eq!(matrix.dims(), [d_input, d_output]);
        for (i, j) in [
            (0, 0),
            (d_input - 1, d_output - 1),
            (d_input / 2, 3 % d_output),
        ] {
            assert_eq!(f64::from(matrix.get(i, j)), rounded(w[i * d_output + j]));
        }
        let case = format!("[{rows}, {d_input}] x [{d_input}, {d_output}]");
        let fast = matrix.multiply(&x);
        let lanes = matrix.multiply_in_lanes(&x);
        assert_eq!(fast.len(), rows * d_output, "{case}");
        assert_eq!(lanes.len(), rows * d_output, "{case}");
        for row in 0..rows {
            for column in 0..d_output {
                let terms = (0..d_input)
                    .map(|k| rounded(x[row * d_input + k]) * rounded(w[k * d_output + column]));
                let (exact, magnitude) = terms.fold((0.0, 0.0), |(s, m), t| (s + t, m + t.abs()));
                // Recursive summation in float32: at most d_input roundings of 2⁻²⁴ each.
                let bound = d_input as f64 * f64::from(f32::EPSILON) * magnitude + 1e-30;
                for (path, got) in [("own", &fast), ("lanes", &lanes)] {
                    let got = f64::from(got[row * d_output + column]);
                    assert!(
                        (got - exact).abs() <= bound,
                        "{case}, {path}, ({row}, {column}): {got} against {exact} (± {bound})"
                    );
                }
            }
        }
    }
    let table = filled(9 * 5, 3);
    let transposed = Bf16Matrix::transposed(tensor(table.clone(), [9, 5], &device()));
    assert_eq!(transposed.dims(), [5, 9]);
    for i in 0..5 {
        for j in 0..9 {
            assert_eq!(f64::from(transposed.get(i, j)), rounded(table[j * 5 + i]));
        }
    }
}

/// `project` on flex (read in place) and ndarray (copied out and back) is
/// the host's product plus the bias, for an input of three dimensions and for a view.
#[test]
fn projecting_in_bfloat16_is_the_product_plus_the_bias_on_every_backend() {
    let (rows, d_input, d_output) = (6, 40, 50);
    let w = filled(d_input * d_output, 4);
    let matrix = Bf16Matrix::new(d_input, d_output, |i, j| w[i * d_output + j]);
    let x = filled(rows * d_input, 5);
    let bias = filled(d_output, 6);
    let product = matrix.multiply(&x);
    let expected: Vec<f32> = product
        .chunks_exact(d_output)
        .flat_map(|row| row.iter().zip(&bias).map(|(p, b)| p + b))
        .collect();
    // Not tch, whose tensors take the same copies as ndarray's: its operations change
    // libtorch's process-wide thread count, which a translation test checks beside this one.
    for backend in [Backend::Flex, Backend::Ndarray] {
        if !backend.is_compiled() {
            continue;
        }
        let device = backend.device().expect("a CPU device");
        let input = tensor(x.clone(), [2, rows / 2, d_input], &device);
        let got = project(
            input,
            &matrix,
            Some(tensor(bias.clone(), [d_output], &device)),
        );
        assert_eq!(got.dims(), [2, rows / 2, d_output]);
        assert_eq!(values(got), expected, "{backend}");
        // The same rows behind a transposed view of their transpose.
        let view = tensor(x.clone(), [rows, d_input], &device)
            .transpose()
            .into_data();
        let view = tensor(
            view.convert::<f32>().try_to_vec().expect("f32"),
            [d_input, rows],
            &device,
        )
        .transpose();
        assert_eq!(
            values(project(view, &matrix, None)),
            product,
            "{backend}: a view"
        );
    }
}

/// The largest absolute value of `a` and the largest difference from `b`.
fn spread_and_gap(a: Tensor<2>, b: Tensor<2>) -> (f32, f32) {
    let (a, b) = (values(a), values(b));
    let largest = a.iter().fold(0.0f32, |m, x| m.max(x.abs()));
    let gap = a
        .iter()
        .zip(&b)
        .fold(0.0f32, |m, (x, y)| m.max((x - y).abs()));
    (largest, gap)
}

/// A GPT's steps and a translation model's decoding steps with every weight matrix in
/// bfloat16 (`with_bf16_weights`) against the same models in float32, position by position:
/// the logits move (the bfloat16 products ran) by no more than rounding inputs and weights
/// to 8 significant bits moves them (1 % of the largest logit).
#[test]
fn bfloat16_steps_are_float32_steps_to_rounding() {
    let device = device();
    device.seed(11);
    let gpt = GptConfig::new(31)
        .with_d_model(64)
        .with_n_heads(4)
        .with_d_ff(128)
        .with_n_layers(2)
        .with_max_len(32)
        .with_dropout(0.0)
        .init(&device)
        .expect("a valid configuration");
    let gpt_bf16 = gpt.clone().with_bf16_weights();
    let tokens: Vec<i64> = vec![1, 5, 9, 2, 30, 7, 7, 3];
    let (mut cache, mut cache_bf16) = (gpt.start(), gpt_bf16.start());
    for (t, pair) in tokens.chunks(2).enumerate() {
        let column = || Tensor::<1, Int>::from_data(TensorData::new(pair.to_vec(), [2]), &device);
        let full = gpt.step(column(), &mut cache);
        let half = gpt_bf16.step(column(), &mut cache_bf16);
        let (largest, gap) = spread_and_gap(full, half);
        assert!(
            gap > 0.0 && gap <= 0.01 * largest,
            "GPT, position {t}: {gap} of {largest}"
        );
    }

    let model = TransformerConfig::new(37, 41)
        .with_d_model(64)
        .with_n_heads(4)
        .with_d_ff(128)
        .with_n_encoder_layers(2)
        .with_n_decoder_layers(2)
        .with_max_len(32)
        .with_dropout(0.0)
        .with_tie_embeddings(false)
        .init(&device)
        .expect("a valid configuration");
    let model_bf16 = model.clone().with_bf16_weights();
    let src = Tensor::<2, Int>::from_data(
        TensorData::new(vec![3i64, 4, 5, 6, 7, 8, 9, 10, 0, 0], [2, 5]),
        &device,
    );
    let bos = Tensor::<2, Int>::full([2, 1], 1, &device);
    let masks = PaddingMasks::from_tokens(src.clone(), bos, 0);
    let memory_mask = masks.src_attention();
    let mut state = model.start_decoding(model.encode(src.clone(), &masks).memory);
    let mut state_bf16 = model_bf16.start_decoding(model_bf16.encode(src, &masks).memory);
    for (t, pair) in [[1i64, 1], [11, 12], [13, 40]].into_iter().enumerate() {
        let column = || Tensor::<1, Int>::from_data(TensorData::new(pair.to_vec(), [2]), &device);
        let full = model.decode_step(column(), &mut state, &memory_mask);
        let half = model_bf16.decode_step(column(), &mut state_bf16, &memory_mask);
        let (largest, gap) = spread_and_gap(full, half);
        assert!(
            gap > 0.0 && gap <= 0.01 * largest,
            "translation model, step {t}: {gap} of {largest}"
        );
    }
}
