//! Fast paths of tensor operations that Burn runs as several passes on one backend: each
//! is equal to a plain Burn expression, which every other backend runs (and which the tests
//! compare it with).

use burn::nn::Linear;
use burn::tensor::{Int, Tensor};

/// `cat([select(earlier, 0, rows), newer], 2)`: the rows `rows` of `earlier`
/// `[batch, heads, len, d_k]` (all of them, in order, when `None`), each followed along the
/// positions by its row of `newer` `[rows, heads, new, d_k]`. A decoding step appends its
/// keys and values to the cache that beam search has just reordered: on flex this is one
/// copy of the cache instead of two (one a selection, one a concatenation, each into a
/// freshly zeroed buffer).
pub fn select_cat(earlier: Tensor<4>, rows: Option<Tensor<1, Int>>, newer: Tensor<4>) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let Some(appended) = flex::select_cat(&earlier, rows.as_ref(), &newer) {
        return appended;
    }
    let earlier = match rows {
        Some(rows) => earlier.select(0, rows),
        None => earlier,
    };
    Tensor::cat(vec![earlier, newer], 2)
}

/// `x·W + b` of the layer `linear` over the last dimension of `x` (Burn's `Linear::forward`).
pub fn linear<const D: usize>(linear: &Linear, x: Tensor<D>) -> Tensor<D> {
    project(
        x,
        linear.weight.val(),
        linear.bias.as_ref().map(|bias| bias.val()),
    )
}

/// `x·W + b` over the last dimension of `x`, `weight` `[d_input, d_output]` (Burn's
/// `module::linear`). On flex `gemm` writes the product straight into the output's buffer
/// (flex's own product first allocates it zeroed, then copies it into an aligned one) and
/// the bias is added in place: the same products and sums as flex's, to the bit.
pub fn project<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if let Some(projected) = flex::project(&x, &weight, bias.as_ref()) {
        return projected;
    }
    burn::tensor::module::linear(x, weight, bias)
}

/// `read` over the values of `tensor`, in row-major order, where they lie: on flex, whose
/// tensors live in this process's memory, without copying them out. `None` where the backend
/// keeps them elsewhere or in another form (another backend, a view, autodiff, not `f32`).
pub fn read_in_place<const D: usize, R>(
    tensor: &Tensor<D>,
    read: impl FnOnce(&[f32]) -> R,
) -> Option<R> {
    #[cfg(feature = "flex")]
    return flex::flex_f32(tensor)?.as_slice::<f32>().map(read);
    #[cfg(not(feature = "flex"))]
    {
        let _ = (tensor, read);
        None
    }
}

#[cfg(feature = "flex")]
mod flex {
    use burn::backend::flex::FlexTensor;
    use burn::backend::{
        BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind,
    };
    use burn::tensor::{DType, Int, Tensor, TensorData};

    /// [`super::select_cat`] on flex, for `f32` tensors outside autodiff with `earlier`
    /// contiguous; `None` otherwise.
    pub fn select_cat(
        earlier: &Tensor<4>,
        rows: Option<&Tensor<1, Int>>,
        newer: &Tensor<4>,
    ) -> Option<Tensor<4>> {
        let [batch, heads, len, d_k] = earlier.dims();
        let [kept, new_heads, new, new_d_k] = newer.dims();
        let selected = rows.map_or(batch, |rows| rows.dims()[0]);
        if (new_heads, new_d_k, selected) != (heads, d_k, kept) {
            return None;
        }
        let (earlier, newer) = (flex_f32(earlier)?, flex_f32(newer)?);
        let source = earlier.as_slice::<f32>()?;
        let picked: Vec<usize> = match rows {
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
        let strides = newer.layout().strides();
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
        Some(wrap(FlexTensor::from_data(TensorData::new(out, shape))))
    }

    /// [`super::project`] on flex, for `f32` tensors outside autodiff, each contiguous;
    /// `None` otherwise.
    pub fn project<const D: usize>(
        x: &Tensor<D>,
        weight: &Tensor<2>,
        bias: Option<&Tensor<1>>,
    ) -> Option<Tensor<D>> {
        let dims = x.dims();
        let [d_input, d_output] = weight.dims();
        let rows: usize = dims[..D - 1].iter().product();
        let fits = bias.is_none_or(|bias| bias.dims() == [d_output]);
        if dims[D - 1] != d_input || !fits || rows * d_input * d_output == 0 {
            return None;
        }
        let (x, weight) = (flex_f32(x)?, flex_f32(weight)?);
        let bias = bias.map(flex_f32);
        let bias = match &bias {
            None => None,
            Some(bias) => Some(bias.as_ref()?.as_slice::<f32>()?),
        };
        let (input, matrix) = (x.as_slice::<f32>()?, weight.as_slice::<f32>()?);
        let mut out: Vec<f32> = Vec::with_capacity(rows * d_output);
        // flex's own threshold for handing a product to its thread pool.
        let parallelism = if rows * d_output * d_input >= 192 * 192 * 192 {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        };
        // SAFETY: `input` is `[rows, d_input]` and `matrix` `[d_input, d_output]`, both
        // row-major and in bounds; `out` has room for `[rows, d_output]`, which `gemm`
        // writes whole without reading it (`read_dst` false, α 0), as flex's product does.
        unsafe {
            gemm::gemm(
                rows,
                d_output,
                d_input,
                out.as_mut_ptr(),
                1,
                d_output as isize,
                false,
                input.as_ptr(),
                1,
                d_input as isize,
                matrix.as_ptr(),
                1,
                d_output as isize,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
            out.set_len(rows * d_output);
        }
        if let Some(bias) = bias {
            for row in out.chunks_exact_mut(d_output) {
                for (value, &b) in row.iter_mut().zip(bias) {
                    *value += b;
                }
            }
        }
        let mut shape = dims;
        shape[D - 1] = d_output;
        Some(wrap(FlexTensor::from_data(TensorData::new(out, shape))))
    }

    /// The flex tensor under `tensor` (sharing its buffer) when it is one of `f32`s outside
    /// autodiff.
    pub(super) fn flex_f32<const D: usize>(tensor: &Tensor<D>) -> Option<FlexTensor> {
        let dispatch = tensor.clone().into_dispatch();
        match (dispatch.kind, dispatch.autodiff) {
            (
                DispatchTensorKind::Flex(BackendTensor::Float(flex)),
                DispatchAutodiffContext::Disabled,
            ) if flex.dtype() == DType::F32 => Some(flex),
            _ => None,
        }
    }

    fn wrap<const D: usize>(tensor: FlexTensor) -> Tensor<D> {
        Tensor::from_dispatch(DispatchTensor {
            kind: DispatchTensorKind::Flex(BackendTensor::Float(tensor)),
            autodiff: DispatchAutodiffContext::Disabled,
        })
    }
}
