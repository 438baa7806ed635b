//! The backends' single passes against the plain Burn expressions they stand for.

use burn::tensor::{Int, Tensor, TensorData};
use transformer_mt::backend::Backend;
use transformer_mt::kernels::select_cat;

use super::common::{tensor, values};

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
