//! Fast paths of tensor operations that Burn runs as several passes on one backend: each
//! is equal to a plain Burn expression, which every other backend runs (and which the tests
//! compare it with).

use burn::tensor::{Int, Tensor};

/// `cat([select(earlier, 0, rows), newer], 2)`: the rows `rows` of `earlier`
/// `[batch, heads, len, d_k]` (all of them, in order, when `None`), each followed along the
/// positions by its row of `newer` `[rows, heads, new, d_k]`. A decoding step appends its
/// keys and values to the cache that beam search has just reordered: on flex this is one
/// copy of the cache instead of two (one a selection, one a concatenation, each into a
/// freshly zeroed buffer).
pub fn select_cat(earlier: Tensor<4>, rows: Option<Tensor<1, Int>>, newer: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    let (earlier, rows, newer) = match flex::select_cat(earlier, rows, newer) {
        Ok(appended) => return appended,
        Err(operands) => *operands,
    };
    let earlier = match rows {
        Some(rows) => earlier.select(0, rows),
        None => earlier,
    };
    Tensor::cat(vec![earlier, newer], 2)
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::FlexTensor;
    use burn::backend::{
        BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind,
    };
    use burn::tensor::{DType, Int, Tensor, TensorData};

    type Operands = (Tensor<4>, Option<Tensor<1, Int>>, Tensor<4>);

    /// [`super::select_cat`] on flex, for `f32` tensors outside autodiff with `earlier`
    /// contiguous; the operands back otherwise.
    pub fn select_cat(
        earlier: Tensor<4>,
        rows: Option<Tensor<1, Int>>,
        newer: Tensor<4>,
    ) -> Result<Tensor<4>, Box<Operands>> {
        let [batch, heads, len, d_k] = earlier.dims();
        let [kept, new_heads, new, new_d_k] = newer.dims();
        let selected = rows.as_ref().map_or(batch, |rows| rows.dims()[0]);
        if (new_heads, new_d_k, selected) != (heads, d_k, kept) {
            return Err(Box::new((earlier, rows, newer)));
        }
        let earlier = match flex_f32(earlier) {
            Ok(tensor) => tensor,
            Err(earlier) => return Err(Box::new((*earlier, rows, newer))),
        };
        let newer = match flex_f32(newer) {
            Ok(tensor) => tensor,
            Err(newer) => return Err(Box::new((wrap(earlier), rows, *newer))),
        };
        let Some(source) = earlier.as_slice::<f32>() else {
            return Err(Box::new((wrap(earlier), rows, wrap(newer))));
        };
        let picked: Vec<usize> = match &rows {
            Some(rows) => rows
                .to_data()
                .convert::<i64>()
                .try_into_vec::<i64>()
                .expect("row ids")
                .into_iter()
                .map(|row| row as usize)
                .collect(),
            None => (0..batch).collect(),
        };
        assert!(
            picked.iter().all(|&row| row < batch),
            "select_cat: rows {picked:?} of a batch of {batch}"
        );
        // `newer` is a view (heads split from the model dimension): read through its strides.
        let strides = newer.layout().strides().to_vec();
        let start = newer.layout().start_offset() as isize;
        let fresh = newer.storage::<f32>();
        let block = len * d_k;
        let mut out = Vec::with_capacity(kept * heads * (len + new) * d_k);
        for (row, &from) in picked.iter().enumerate() {
            for head in 0..heads {
                let at = (from * heads + head) * block;
                out.extend_from_slice(&source[at..at + block]);
                for position in 0..new {
                    let base = start
                        + row as isize * strides[0]
                        + head as isize * strides[1]
                        + position as isize * strides[2];
                    out.extend((0..d_k).map(|i| fresh[(base + i as isize * strides[3]) as usize]));
                }
            }
        }
        let shape = [kept, heads, len + new, d_k];
        Ok(wrap(FlexTensor::from_data(TensorData::new(out, shape))))
    }

    /// The flex tensor under `tensor` when it is one of `f32`s outside autodiff; `tensor`
    /// back otherwise.
    fn flex_f32(tensor: Tensor<4>) -> Result<FlexTensor, Box<Tensor<4>>> {
        let dispatch = tensor.into_dispatch();
        match (dispatch.kind, dispatch.autodiff) {
            (
                DispatchTensorKind::Flex(BackendTensor::Float(flex)),
                DispatchAutodiffContext::Disabled,
            ) if flex.dtype() == DType::F32 => Ok(flex),
            (kind, autodiff) => Err(Box::new(Tensor::from_dispatch(DispatchTensor {
                kind,
                autodiff,
            }))),
        }
    }

    fn wrap(tensor: FlexTensor) -> Tensor<4> {
        Tensor::from_dispatch(DispatchTensor {
            kind: DispatchTensorKind::Flex(BackendTensor::Float(tensor)),
            autodiff: DispatchAutodiffContext::Disabled,
        })
    }
}
