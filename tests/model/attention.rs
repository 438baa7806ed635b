//! Scaled dot-product attention on hand-worked examples, and what the masks do to it.

use burn::tensor::{Bool, Tensor, TensorData};
use transformer_mt::backend::Backend;
use transformer_mt::model::dropout::{Dropout, DropoutConfig};
use transformer_mt::model::mask::{causal_mask, padding_mask};
use transformer_mt::model::{AttentionMask, fused_attention, scaled_dot_product_attention};

use super::common::{device, ids, max_abs_diff, normal, tensor, values};

fn no_dropout() -> Dropout {
    DropoutConfig::new(0.0).init()
}

/// Q = [[1,0],[0,1]], K = [[1,0],[0,1],[1,1]], V = [[1,2],[3,4],[5,6]], d_k = 2.
///
/// Scores Q·Kᵀ/√2: row 1 = [a, 0, a], row 2 = [0, a, a] with a = 1/√2. With e = exp(a) =
/// 2.028114981647 and Z = 2e + 1 = 5.056229963295, the weights are row 1 = [e, 1, e]/Z,
/// row 2 = [1, e, e]/Z, and the contexts row 1 = [(6e+3)/Z, (8e+4)/Z] = [3, 4] exactly,
/// row 2 = [(1+8e)/Z, (2+10e)/Z].
#[test]
fn equals_the_hand_worked_example() {
    let device = device();
    let query = tensor(vec![1., 0., 0., 1.], [1, 1, 2, 2], &device);
    let key = tensor(vec![1., 0., 0., 1., 1., 1.], [1, 1, 3, 2], &device);
    let value = tensor(vec![1., 2., 3., 4., 5., 6.], [1, 1, 3, 2], &device);

    let out = scaled_dot_product_attention(query, key, value, None, &no_dropout());

    let e = 2.028_114_981_647_472_f64;
    let z = 2.0 * e + 1.0;
    let weights = [e / z, 1.0 / z, e / z, 1.0 / z, e / z, e / z];
    let context = [3.0, 4.0, (1.0 + 8.0 * e) / z, (2.0 + 10.0 * e) / z];
    for (got, want) in values(out.weights).iter().zip(weights) {
        assert!((*got as f64 - want).abs() < 1e-6, "weight {got} != {want}");
    }
    for (got, want) in values(out.context).iter().zip(context) {
        assert!((*got as f64 - want).abs() < 1e-6, "context {got} != {want}");
    }
}

#[test]
fn weight_rows_sum_to_one() {
    let device = device();
    let (q, k) = (5, 7);
    let out = scaled_dot_product_attention(
        normal([2, 3, q, 4], &device),
        normal([2, 3, k, 4], &device),
        normal([2, 3, k, 4], &device),
        None,
        &no_dropout(),
    );
    let sums = values(out.weights.sum_dim(3));
    assert_eq!(sums.len(), 2 * 3 * q);
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-6), "{sums:?}");
}

#[test]
fn causal_mask_blocks_the_strict_upper_triangle() {
    let device = device();
    let mask = causal_mask(4, &device);
    let expected = [
        [false, true, true, true],
        [false, false, true, true],
        [false, false, false, true],
        [false, false, false, false],
    ];
    assert_eq!(
        mask.into_data(),
        TensorData::from(expected),
        "entry (t, s) is blocked exactly when s > t"
    );
}

#[test]
fn causal_attention_has_zero_weights_above_the_diagonal() {
    let device = device();
    let len = 6;
    let x = normal([2, 2, len, 8], &device);
    let out = scaled_dot_product_attention(
        x.clone(),
        x.clone(),
        x,
        Some(&AttentionMask::causal(len, &device)),
        &no_dropout(),
    );
    let weights = values(out.weights.clone());
    for (index, weight) in weights.iter().enumerate() {
        let (t, s) = ((index / len) % len, index % len);
        if s > t {
            assert_eq!(*weight, 0.0, "weight ({t}, {s}) above the diagonal");
        } else {
            assert!(*weight > 0.0, "weight ({t}, {s}) on or below the diagonal");
        }
    }
    let sums = values(out.weights.sum_dim(3));
    assert!(sums.iter().all(|s| (s - 1.0).abs() < 1e-6));
    // The first position sees only itself.
    assert_eq!(weights[0], 1.0);
}

#[test]
fn padding_mask_marks_pad_ids() {
    let device = device();
    let mask = padding_mask(ids(&[&[5, 6, 0, 0], &[7, 0, 8, 0]], &device), 0);
    assert_eq!(
        mask.into_data(),
        TensorData::from([[false, false, true, true], [false, true, false, true]])
    );
}

/// Attending over [k1, k2, pad] with the pad masked equals attending over [k1, k2] alone.
#[test]
fn padded_keys_get_zero_weight_and_change_nothing() {
    let device = device();
    let query = normal([1, 2, 3, 4], &device);
    let key = normal([1, 2, 3, 4], &device);
    let value = normal([1, 2, 3, 4], &device);
    let padding = Tensor::<2, Bool>::from_data([[false, false, true]], &device);

    let masked = scaled_dot_product_attention(
        query.clone(),
        key.clone(),
        value.clone(),
        Some(&AttentionMask::key_padding(padding)),
        &no_dropout(),
    );
    let unpadded = scaled_dot_product_attention(
        query,
        key.slice([0..1, 0..2, 0..2]),
        value.slice([0..1, 0..2, 0..2]),
        None,
        &no_dropout(),
    );

    let weights = values(masked.weights.clone());
    for (index, weight) in weights.iter().enumerate() {
        if index % 3 == 2 {
            assert_eq!(*weight, 0.0, "the padded key has weight {weight}");
        }
    }
    let kept = masked.weights.slice([0..1, 0..2, 0..3, 0..2]);
    assert!(max_abs_diff(kept, unpadded.weights) < 1e-6);
    assert!(max_abs_diff(masked.context, unpadded.context) < 1e-6);
}

#[test]
fn a_query_with_every_key_masked_gets_zeros_not_nan() {
    let device = device();
    let x = normal([1, 1, 3, 4], &device);
    // Query 1 may see nothing; queries 0 and 2 see some keys.
    let pairs = Tensor::<3, Bool>::from_data(
        [[
            [false, true, true],
            [true, true, true],
            [false, false, true],
        ]],
        &device,
    );
    let out = scaled_dot_product_attention(
        x.clone(),
        x.clone(),
        x,
        Some(&AttentionMask::pairs(pairs)),
        &no_dropout(),
    );
    let weights = values(out.weights);
    let context = values(out.context);
    assert!(weights.iter().chain(&context).all(|v| v.is_finite()));
    assert_eq!(&weights[3..6], &[0.0, 0.0, 0.0]);
    assert_eq!(&context[4..8], &[0.0, 0.0, 0.0, 0.0]);
    assert_eq!(weights[0], 1.0);
    assert!((weights[6] + weights[7] - 1.0).abs() < 1e-6);
}

#[test]
fn masks_combine_by_or() {
    let device = device();
    let padding = Tensor::<2, Bool>::from_data([[false, false, true]], &device);
    let combined = AttentionMask::causal(3, &device).or(AttentionMask::key_padding(padding));
    assert_eq!(
        combined.blocked().into_data(),
        TensorData::from([[[
            [false, true, true],
            [false, false, true],
            [false, false, true]
        ]]])
    );
}

/// Burn's fused attention, which decoding uses, gives the reference's context on every
/// backend: without a mask, with padded keys, and under the causal mask.
#[test]
fn fused_attention_equals_the_reference_on_every_backend() {
    for backend in Backend::runnable() {
        let device = backend.device().expect("runnable");
        let query = normal([2, 3, 4, 8], &device);
        let key = normal([2, 3, 4, 8], &device);
        let value = normal([2, 3, 4, 8], &device);
        let padding = Tensor::<2, Bool>::from_data(
            [[false, false, true, true], [false, false, false, false]],
            &device,
        );
        let masks = [
            None,
            Some(AttentionMask::key_padding(padding.clone())),
            Some(AttentionMask::causal(4, &device).or(AttentionMask::key_padding(padding))),
        ];
        for mask in &masks {
            assert_fused_is_the_reference(&query, &key, &value, mask.as_ref(), &backend);
        }
    }
}

/// The same at decoding's shapes, where flex takes a pass of its own: one query, and a beam's
/// four attending together, each a view with its heads split as the model splits them, over
/// keys of which a row's padding blocks the last ones (a bias broadcast over heads and
/// queries) or none; and nine queries, past that pass's few, which flex leaves to Burn.
#[test]
fn decoding_attention_equals_the_reference_on_every_backend() {
    let (batch, heads, keys, d_k) = (3, 2, 7, 4);
    let mut blocked = [[false; 7]; 3];
    blocked[1][6] = true;
    blocked[2][5] = true;
    blocked[2][6] = true;
    for backend in Backend::runnable() {
        let device = backend.device().expect("runnable");
        let padding = Tensor::<2, Bool>::from_data(blocked, &device);
        for queries in [1, 4, 9] {
            let query = normal([batch, queries, heads * d_k], &device)
                .reshape([batch, queries, heads, d_k])
                .swap_dims(1, 2);
            let key = normal([batch, heads, keys, d_k], &device);
            let value = normal([batch, heads, keys, d_k], &device);
            for mask in [None, Some(AttentionMask::key_padding(padding.clone()))] {
                let label = format!("{backend}, {queries} queries");
                assert_fused_is_the_reference(&query, &key, &value, mask.as_ref(), &label);
            }
        }
    }
}

/// `fused_attention` gives the reference's context, within 1e-5, in its shape.
fn assert_fused_is_the_reference(
    query: &Tensor<4>,
    key: &Tensor<4>,
    value: &Tensor<4>,
    mask: Option<&AttentionMask>,
    label: &dyn std::fmt::Display,
) {
    let reference = scaled_dot_product_attention(
        query.clone(),
        key.clone(),
        value.clone(),
        mask,
        &no_dropout(),
    )
    .context;
    let fused = fused_attention(query.clone(), key.clone(), value.clone(), mask);
    assert_eq!(fused.dims(), reference.dims(), "{label}");
    let diff = max_abs_diff(fused, reference);
    assert!(diff < 1e-5, "{label}: differs by {diff} with mask {mask:?}");
}
