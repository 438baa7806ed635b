//! The backends' single passes against the plain Burn expressions they stand for.

use burn::tensor::{Int, Tensor, TensorData};
use transformer_mt::backend::Backend;
use transformer_mt::model::kernels::{row_log_sum_exp, select_cat};

use super::common::{tensor, values};

/// `len` values spread over [−1.5, 1.5], reproducible, a different run for each `seed`.
fn filled(len: usize, seed: usize) -> Vec<f32> {
    (0..len)
        .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 2003.0 - 0.5) * 3.0)
        .collect()
}

/// `select_cat` on every CPU backend compiled in (on flex its own pass, elsewhere Burn's
/// `select` and `cat`) against `cat([select(earlier, rows), newer])` computed element by
/// element: rows repeated, reordered and dropped, none given, `newer` a view with its heads
/// split as the model splits them, `earlier` a view (flex falls back to Burn's), and one
/// position or two appended. Equal to the bit: it only copies.
#[test]
fn selecting_and_appending_in_one_pass_is_select_then_cat() {
    let (batch, heads, len, d_k) = (3, 2, 4, 5);
    for backend in [Backend::Flex, Backend::Ndarray] {
        if !backend.is_compiled() {
            continue;
        }
        let device = backend.device().expect("a CPU device");
        let earlier_values: Vec<f32> = (0..batch * heads * len * d_k)
            .map(|i| i as f32 * 0.5 - 7.0)
            .collect();
        for (rows, new) in [
            (Some(vec![2, 0, 2, 1]), 1),
            (Some(vec![1]), 2),
            (None, 1),
            (Some(vec![0, 1, 2]), 2),
        ] {
            let kept = rows.as_ref().map_or(batch, Vec::len);
            let picked = rows.clone().unwrap_or_else(|| (0..batch).collect());
            // `[kept, new, heads · d_k]` split into heads: a transposed view.
            let newer_values: Vec<f32> = (0..kept * new * heads * d_k)
                .map(|i| 100.0 + i as f32)
                .collect();
            let newer = || {
                tensor(newer_values.clone(), [kept, new, heads * d_k], &device)
                    .reshape([kept, new, heads, d_k])
                    .swap_dims(1, 2)
            };
            let mut expected = Vec::new();
            for (row, &from) in picked.iter().enumerate() {
                for head in 0..heads {
                    let at = (from * heads + head) * len * d_k;
                    expected.extend_from_slice(&earlier_values[at..at + len * d_k]);
                    for position in 0..new {
                        let at = (row * new + position) * heads * d_k + head * d_k;
                        expected.extend_from_slice(&newer_values[at..at + d_k]);
                    }
                }
            }
            let ids = rows.as_ref().map(|rows| {
                let rows: Vec<i64> = rows.iter().map(|&r| r as i64).collect();
                let n = rows.len();
                Tensor::<1, Int>::from_data(TensorData::new(rows, [n]), &device)
            });
            let contiguous = tensor(earlier_values.clone(), [batch, heads, len, d_k], &device);
            // The same values behind a transposed view of a transposed copy.
            let strided = tensor(earlier_values.clone(), [batch, heads, len, d_k], &device)
                .swap_dims(2, 3)
                .reshape([batch * heads * d_k, len])
                .reshape([batch, heads, d_k, len])
                .swap_dims(2, 3);
            for earlier in [contiguous, strided] {
                let appended = select_cat(earlier, ids.clone(), newer());
                assert_eq!(appended.dims(), [kept, heads, len + new, d_k]);
                assert_eq!(
                    values(appended),
                    expected,
                    "{backend}, rows {rows:?}, {new} new"
                );
            }
        }
    }
}

/// `kernels::project` (on flex its own call of `gemm`, elsewhere Burn's) against Burn's
/// `module::linear` on the same operands, to the bit: with and without a bias, two and three
/// dimensions, a product large enough for the thread pool, the decoder's one position of
/// many rows against the vocabulary, and an input that is a view (flex falls back).
#[test]
fn projecting_straight_into_the_output_is_burns_linear_to_the_bit() {
    use burn::tensor::module::linear;
    for backend in [Backend::Flex, Backend::Ndarray] {
        if !backend.is_compiled() {
            continue;
        }
        let device = backend.device().expect("a CPU device");
        for (rows, d_input, d_output, with_bias) in [
            (15, 7, 11, true),
            (32, 256, 8000, false),
            (128, 256, 1024, true),
            (1, 1024, 256, true),
        ] {
            let weight = tensor(filled(d_input * d_output, 1), [d_input, d_output], &device);
            let bias = with_bias.then(|| tensor(filled(d_output, 2), [d_output], &device));
            let x = tensor(filled(rows * d_input, 3), [rows, d_input], &device);
            let expected = values(linear(x.clone(), weight.clone(), bias.clone()));
            let got = values(transformer_mt::model::kernels::project(
                x.clone(),
                weight.clone(),
                bias.clone(),
            ));
            assert!(
                got.iter()
                    .zip(&expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{backend}: [{rows}, {d_input}] x [{d_input}, {d_output}]"
            );
            let x3 = x.clone().reshape([1, rows, d_input]);
            let got = transformer_mt::model::kernels::project(x3, weight.clone(), bias.clone());
            assert_eq!(got.dims(), [1, rows, d_output]);
            assert!(
                values(got)
                    .iter()
                    .zip(&expected)
                    .all(|(a, b)| a.to_bits() == b.to_bits()),
                "{backend}: three dimensions"
            );
        }
        let weight = tensor(filled(6 * 4, 4), [6, 4], &device);
        let view = tensor(filled(6 * 5, 5), [6, 5], &device).transpose();
        assert_eq!(
            values(transformer_mt::model::kernels::project(
                view.clone(),
                weight.clone(),
                None
            )),
            values(linear(view, weight, None)),
            "{backend}: a transposed input"
        );
    }
}

/// `read_in_place` reads a flex tensor's own values, in row-major order, and declines what it
/// cannot read where it lies (a transposed view, another backend), so that greedy search falls
/// back to the device there: the path a search takes, seen from outside.
#[test]
fn values_are_read_in_place_only_where_they_lie_in_order() {
    use transformer_mt::model::kernels::read_in_place;
    let data: Vec<f32> = (0..6).map(|i| i as f32 * 1.5 - 2.0).collect();
    for backend in [Backend::Flex, Backend::Ndarray] {
        if !backend.is_compiled() {
            continue;
        }
        let device = backend.device().expect("a CPU device");
        let matrix = tensor(data.clone(), [2, 3], &device);
        let read = read_in_place(&matrix, <[f32]>::to_vec);
        let transposed = read_in_place(&matrix.clone().transpose(), <[f32]>::to_vec);
        match backend {
            Backend::Flex => {
                assert_eq!(read, Some(data.clone()));
                assert_eq!(transposed, None);
            }
            _ => assert_eq!((read, transposed), (None, None), "{backend}"),
        }
        assert_eq!(values(matrix), data, "{backend}: the tensor is still whole");
    }
}

/// The generator's matrix packed once (`panels`) multiplies as Burn's `linear` does, within
/// float32 rounding, for a step's shapes (one row, a batch's, a beam's, against the
/// vocabulary) and awkward ones (an odd width, outputs that end inside a panel, rows that end
/// inside a block), stored from `W` or from a table as `Eᵀ`, and a layer's `x·W + b`; on flex
/// where the processor has AVX-512, and nowhere else (ndarray's values are not read in
/// place).
#[test]
fn the_packed_generator_multiplies_as_burns_linear() {
    use burn::tensor::module::linear;
    use transformer_mt::model::panels::{self, PackedMatrix, project};
    let avx512 = cfg!(target_arch = "x86_64") && std::arch::is_x86_feature_detected!("avx512f");
    for backend in [Backend::Flex, Backend::Ndarray] {
        if !backend.is_compiled() {
            continue;
        }
        let device = backend.device().expect("a CPU device");
        for (rows, d_input, d_output) in [
            (1, 256, 8003),
            (32, 256, 8003),
            (128, 256, 1000),
            (13, 7, 45),
        ] {
            let table = filled(d_output * d_input, 1);
            let weight = tensor(table.clone(), [d_output, d_input], &device).transpose();
            let x = tensor(filled(rows * d_input, 2), [rows, d_input], &device);
            let expected = values(linear(x.clone(), weight.clone(), None));
            let largest = expected.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            for packed in [
                PackedMatrix::transposed(tensor(table.clone(), [d_output, d_input], &device)),
                PackedMatrix::from_weight(weight.clone()),
            ] {
                assert_eq!(packed.dims(), [d_input, d_output]);
                let got = project(&x, &packed);
                assert_eq!(
                    got.is_some(),
                    avx512 && backend == Backend::Flex,
                    "{backend}: [{rows}, {d_input}] x [{d_input}, {d_output}]"
                );
                let Some(got) = got else { continue };
                assert_eq!(got.dims(), [rows, d_output]);
                // A layer with a bias: the bias added after the product.
                let layer = burn::nn::LinearConfig::new(d_input, d_output).init(&device);
                let by_layer =
                    panels::linear(&layer, &PackedMatrix::of(&layer), &x).expect("packed on flex");
                let reference = values(layer.forward(x.clone()));
                let top = reference.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                for (a, b) in values(by_layer).iter().zip(&reference) {
                    assert!(
                        (a - b).abs() <= 1e-5 * top,
                        "{backend}: a layer: {a} against {b}"
                    );
                }
                for (a, b) in values(got).iter().zip(&expected) {
                    assert!(
                        (a - b).abs() <= 1e-5 * largest,
                        "{backend}: [{rows}, {d_input}] x [{d_input}, {d_output}]: {a} against {b}"
                    );
                }
            }
        }
    }
}

/// `row_log_sum_exp` (on flex its own passes, tracked by autodiff or not; on ndarray Burn's
/// expression) against `lse(z) = ln Σᵥ e^{zᵥ}` and its gradient `wᵣ · e^{zᵥ − lse}` worked
/// out in `f64` on the host, for `L = Σᵣ wᵣ · lse(zᵣ)`: rows of three logits and rows of the
/// shipped vocabulary's 8,000, logits far from zero (the maximum's shift matters), the
/// logits a leaf (their buffer shared: the gradient is a new one) and the output of an
/// operation (their buffer the backward pass's alone: written in place), and the rows'
/// weights of both signs.
#[test]
fn the_log_sum_exp_of_rows_and_its_gradient_equal_the_sums_in_f64() {
    for backend in [Backend::Flex, Backend::Ndarray] {
        if !backend.is_compiled() {
            continue;
        }
        let plain = backend.device().expect("a CPU device");
        let device = plain.clone().autodiff();
        for (rows, width) in [(5, 3), (37, 8000)] {
            let z: Vec<f32> = filled(rows * width, 11)
                .iter()
                .map(|x| x * 4.0 + 30.0)
                .collect();
            let weights: Vec<f32> = (0..rows).map(|r| r as f32 * 0.25 - 1.0).collect();
            let lse: Vec<f64> = z
                .chunks(width)
                .map(|row| row.iter().map(|&x| f64::from(x).exp()).sum::<f64>().ln())
                .collect();

            let untracked = values(row_log_sum_exp(tensor(z.clone(), [rows, width], &plain)));
            for (got, want) in untracked.iter().zip(&lse) {
                assert!(
                    (f64::from(*got) - want).abs() < 1e-5 * want.abs(),
                    "{backend}: {got} vs {want}"
                );
            }

            for doubled in [false, true] {
                // With `doubled` the logits are `2·(z/2)`, the output of an operation.
                let scale: f32 = if doubled { 2.0 } else { 1.0 };
                let leaf = tensor(
                    z.iter().map(|x| x / scale).collect(),
                    [rows, width],
                    &device,
                )
                .require_grad();
                let logits = if doubled {
                    leaf.clone().mul_scalar(2.0)
                } else {
                    leaf.clone()
                };
                let out = row_log_sum_exp(logits);
                let loss = (out.clone() * tensor(weights.clone(), [rows], &device)).sum();
                let grad = values(leaf.grad(&loss.backward()).expect("a gradient"));
                for (got, want) in values(out.inner()).iter().zip(&lse) {
                    assert!(
                        (f64::from(*got) - want).abs() < 1e-5 * want.abs(),
                        "{backend}: {got} vs {want}"
                    );
                }
                for (i, got) in grad.iter().enumerate() {
                    let row = i / width;
                    let want = f64::from(scale)
                        * f64::from(weights[row])
                        * (f64::from(z[i]) - lse[row]).exp();
                    assert!(
                        (f64::from(*got) - want).abs() < 1e-6,
                        "{backend}, doubled {doubled}: gradient {i} is {got}, not {want}"
                    );
                }
            }
        }
    }
}

/// `kernels::project` under autodiff (on flex its own products forward and backward,
/// elsewhere Burn's `linear`) against Burn's `module::linear` on the same tracked operands:
/// the output and the gradients of `x`, `W` and `b` for `L = Σ c ⊙ (x·W + b)` with weights `c`
/// of both signs, two and three dimensions, with and without a bias, `W` the transposed
/// view of a table (the tied generator's `Eᵀ`), `W` untracked (only `x` learns), and a
/// product large enough for the thread pool. Within float32 rounding of the same sums.
#[test]
fn projecting_under_autodiff_has_burns_values_and_gradients() {
    use burn::tensor::module::linear;
    for backend in [Backend::Flex, Backend::Ndarray] {
        if !backend.is_compiled() {
            continue;
        }
        let device = backend.device().expect("a CPU device").autodiff();
        for (rows, d_input, d_output, with_bias, transposed, weight_learns) in [
            (15, 7, 11, true, false, true),
            (15, 7, 11, false, true, true),
            (64, 256, 1024, true, false, true),
            (48, 256, 800, false, true, true),
            (9, 6, 5, true, false, false),
        ] {
            let weight = if transposed {
                tensor(filled(d_input * d_output, 1), [d_output, d_input], &device)
            } else {
                tensor(filled(d_input * d_output, 1), [d_input, d_output], &device)
            };
            let weight = if weight_learns {
                weight.require_grad()
            } else {
                weight
            };
            let bias =
                with_bias.then(|| tensor(filled(d_output, 2), [d_output], &device).require_grad());
            let x = tensor(filled(rows * d_input, 3), [rows, d_input], &device).require_grad();
            let c = tensor(filled(rows * d_output, 4), [rows, d_output], &device);
            let view = |weight: &Tensor<2>| {
                if transposed {
                    weight.clone().transpose()
                } else {
                    weight.clone()
                }
            };

            let ours = transformer_mt::model::kernels::project(
                x.clone().reshape([1, rows, d_input]),
                view(&weight),
                bias.clone(),
            )
            .reshape([rows, d_output]);
            let burns = linear(x.clone(), view(&weight), bias.clone());
            let case = format!(
                "{backend}: [{rows}, {d_input}] x [{d_input}, {d_output}], bias {with_bias}, transposed {transposed}"
            );
            let close = |a: Vec<f32>, b: Vec<f32>, what: &str| {
                assert_eq!(a.len(), b.len(), "{case}: {what}");
                for (a, b) in a.iter().zip(&b) {
                    assert!(
                        (a - b).abs() <= 1e-5 * (1.0 + b.abs()),
                        "{case}: {what} {a} vs {b}"
                    );
                }
            };
            close(
                values(ours.clone().inner()),
                values(burns.clone().inner()),
                "output",
            );
            let our_grads = (ours * c.clone()).sum().backward();
            let burn_grads = (burns * c).sum().backward();
            close(
                values(x.grad(&our_grads).expect("x's gradient")),
                values(x.grad(&burn_grads).expect("x's gradient")),
                "∂L/∂x",
            );
            if weight_learns {
                close(
                    values(weight.grad(&our_grads).expect("W's gradient")),
                    values(weight.grad(&burn_grads).expect("W's gradient")),
                    "∂L/∂W",
                );
            } else {
                assert!(
                    weight.grad(&our_grads).is_none(),
                    "{case}: an untracked W got a gradient"
                );
            }
            if let Some(bias) = &bias {
                close(
                    values(bias.grad(&our_grads).expect("b's gradient")),
                    values(bias.grad(&burn_grads).expect("b's gradient")),
                    "∂L/∂b",
                );
            }
        }
    }
}
