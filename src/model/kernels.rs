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
/// the bias is added in place: the same products and sums as flex's, to the bit. Under
/// autodiff on flex too, with its gradients `∂L/∂x = G·Wᵀ`, `∂L/∂W = xᵀ·G` and `∂L/∂b =
/// Σ_rows G` written the same way (`W` may then be a view, such as the tied generator's `Eᵀ`).
pub fn project<const D: usize>(
    x: Tensor<D>,
    weight: Tensor<2>,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    #[cfg(feature = "flex")]
    if let Some(projected) = flex::project(&x, &weight, bias.as_ref())
        .or_else(|| flex::project_tracked(&x, &weight, bias.as_ref()))
    {
        return projected;
    }
    burn::tensor::module::linear(x, weight, bias)
}

/// The most queries a head may have for [`attention`]'s own pass on flex: a decoding step's
/// one position, or a beam's hypotheses attending together.
pub const FEW_QUERIES: usize = 8;

/// `softmax(Q·Kᵀ / √d_k + bias)·V` (paper, eq. 1) without the weights: `query` `[batch,
/// heads, queries, d_k]`, `key` and `value` `[batch, heads, keys, d_k]`, `bias` broadcast to
/// `[batch, heads, queries, keys]` (Burn's `module::attention`). Every query must see at
/// least one key. On flex, for at most [`FEW_QUERIES`] queries a head, one pass per head:
/// `gemm` for both products, read through the operands' strides, the softmax in vector
/// lanes in between, the context written in the order `[batch, queries, heads, d_k]` that
/// merging the heads reads (flex's own kernel copies the query into order, takes the C
/// library's `expf` a value at a time, and its context is copied again to merge the heads).
pub fn attention(
    query: Tensor<4>,
    key: Tensor<4>,
    value: Tensor<4>,
    bias: Option<Tensor<4>>,
) -> Tensor<4> {
    #[cfg(feature = "flex")]
    if let Some(context) = flex::attention(&query, &key, &value, bias.as_ref()) {
        return context;
    }
    burn::tensor::module::attention(
        query,
        key,
        value,
        None,
        bias,
        burn::tensor::ops::AttentionModuleOptions::default(),
    )
}

/// `lse(z) = log Σᵥ e^{zᵥ}` of each row `z` of `logits` `[rows, V]`, `[rows]`: `m + log Σᵥ
/// e^{zᵥ − m}` with `m` the row's maximum (held constant: no exponential overflows, and it
/// cancels from the gradient `∂lse/∂zᵥ = e^{zᵥ − lse} = softmax(z)ᵥ`). The loss's one pass
/// over the `[tokens, V]` logits. On flex, tracked by autodiff or not, one pass forward
/// ([`log_sum_exp`] a row, the rows on flex's threads) and one backward (`g · e^{zᵥ − lse}`,
/// written over the logits when nothing else holds them), where Burn's expression runs
/// six passes on the calling thread, two of them the C library's `expf` of every logit.
pub fn row_log_sum_exp(logits: Tensor<2>) -> Tensor<1> {
    #[cfg(feature = "flex")]
    if let Some(lse) = flex::row_log_sum_exp(&logits) {
        return lse;
    }
    let [rows, _] = logits.dims();
    let max = logits.clone().detach().max_dim(1);
    ((logits - max.clone()).exp().sum_dim(1).log() + max).reshape([rows])
}

/// Sixteen running values over `values`, lane `l` folding `values[16·i + l]` by `fold`:
/// independent lanes, which the compiler keeps in vector registers.
#[inline(always)]
fn lanes(values: &[f32], start: f32, fold: impl Fn(f32, f32) -> f32) -> [f32; 16] {
    let mut acc = [start; 16];
    let chunks = values.chunks_exact(16);
    let rest = chunks.remainder();
    for chunk in chunks {
        for (a, &x) in acc.iter_mut().zip(chunk) {
            *a = fold(*a, x);
        }
    }
    for (a, &x) in acc.iter_mut().zip(rest) {
        *a = fold(*a, x);
    }
    acc
}

/// The largest of `values` (−∞ for none), in sixteen lanes.
#[inline(always)]
fn maximum(values: &[f32]) -> f32 {
    lanes(values, f32::NEG_INFINITY, f32::max)
        .into_iter()
        .fold(f32::NEG_INFINITY, f32::max)
}

/// `f(args)` compiled for the widest vectors the processor has: one AVX-512 register for
/// sixteen lanes, or two of AVX2 with FMA (checked at run time: the build targets any
/// x86-64). `f` and what it calls must be `#[inline(always)]`, so that each variant holds
/// its own copy of them.
#[inline(always)]
pub fn vectorised<A, R>(f: impl Fn(A) -> R, args: A) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        if std::arch::is_x86_feature_detected!("avx512f") {
            // SAFETY: the processor has the features the function is compiled for.
            return unsafe { on_avx512(f, args) };
        }
        if std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma")
        {
            // SAFETY: as above.
            return unsafe { on_avx2(f, args) };
        }
    }
    f(args)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
fn on_avx512<A, R>(f: impl Fn(A) -> R, args: A) -> R {
    f(args)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
fn on_avx2<A, R>(f: impl Fn(A) -> R, args: A) -> R {
    f(args)
}

/// `log Σ_j e^{x_j}` over the row `x`, as `m + ln Σ_j e^{x_j − m}` with `m` its maximum, so
/// that no exponential overflows; the sum of the lanes in `f64` ([`vectorised`], both passes).
pub fn log_sum_exp(row: &[f32]) -> f32 {
    vectorised(
        #[inline(always)]
        |row: &[f32]| {
            let max = maximum(row);
            let sum: f64 = lanes(row, 0.0, |sum, x| sum + exp_nonpositive(x - max))
                .into_iter()
                .map(f64::from)
                .sum();
            max + sum.ln() as f32
        },
        row,
    )
}

/// `softmax(x)` of the row `x` in place: `e^{x_i − m} / Σ_j e^{x_j − m}`, `m` its maximum
/// ([`vectorised`]). The row must hold a finite value.
pub fn softmax_in_place(row: &mut [f32]) {
    vectorised(
        #[inline(always)]
        |row: &mut [f32]| {
            let max = maximum(row);
            for x in row.iter_mut() {
                *x = exp_nonpositive(*x - max);
            }
            let sum: f32 = lanes(row, 0.0, |sum, x| sum + x).into_iter().sum();
            let inverse = 1.0 / sum;
            for x in row.iter_mut() {
                *x *= inverse;
            }
        },
        row,
    )
}

/// `e^x` for `x ≤ 0` without a library call, so that a loop of them vectorises: Cephes'
/// `expf`. `e^x = 2^n · e^r` with `n = round(x / ln 2)` and `r = x − n·ln 2` in
/// `[−ln 2 / 2, ln 2 / 2]` (`ln 2` in two parts, so that `n·ln 2` loses nothing), `e^r` by
/// a polynomial of degree 7; `e^{−87}` below `−87`, where `2^n` would leave the normal
/// floats (a term of a sum of which the largest is 1).
#[inline(always)]
pub fn exp_nonpositive(x: f32) -> f32 {
    const LOG2_E: f32 = std::f32::consts::LOG2_E;
    const LN2_HIGH: f32 = 0.693_359_4;
    const LN2_LOW: f32 = -2.121_944_4e-4;
    // 1.5 · 2²³: adding and subtracting it rounds to the nearest integer.
    const ROUND: f32 = 12_582_912.0;
    let x = x.max(-87.0);
    // `1.5 · 2²³ + n`, whose low mantissa bits hold `n` as a two's-complement integer.
    let shifted = x * LOG2_E + ROUND;
    let n = shifted - ROUND;
    let r = x - n * LN2_HIGH - n * LN2_LOW;
    let p = 1.987_569_2e-4;
    let p = p * r + 1.398_199_9e-3;
    let p = p * r + 8.333_452e-3;
    let p = p * r + 4.166_579_6e-2;
    let p = p * r + 1.666_666_5e-1;
    let p = p * r + 0.5;
    let e_r = p * r * r + r + 1.0;
    // `2^n`: `n + 127` in the exponent field, taken from `shifted`'s bits by integer
    // arithmetic, which vectorises (a float-to-integer `as` saturates, element by element).
    let biased = shifted
        .to_bits()
        .wrapping_sub(ROUND.to_bits())
        .wrapping_add(127);
    e_r * f32::from_bits(biased << 23)
}

/// The values of `tensor`, row-major, copied to the host.
pub fn host_values<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .expect("f32 values")
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
    use burn::backend::Autodiff;
    use burn::backend::autodiff::checkpoint::base::Checkpointer;
    use burn::backend::autodiff::checkpoint::strategy::NoCheckpointing;
    use burn::backend::autodiff::grads::Gradients;
    use burn::backend::autodiff::ops::{Backward, Ops, OpsKind, unary};
    use burn::backend::flex::FlexTensor;
    use burn::backend::tensor::FloatTensor;
    use burn::backend::{
        BackendTensor, DispatchAutodiffContext, DispatchTensor, DispatchTensorKind, Flex,
        GradientCheckpointingStrategy,
    };
    use burn::tensor::{DType, Int, Tensor, TensorData};
    use rayon::prelude::*;

    /// [`super::row_log_sum_exp`] on flex, for contiguous `f32` logits outside autodiff or
    /// under it without gradient checkpointing; `None` otherwise.
    pub fn row_log_sum_exp(logits: &Tensor<2>) -> Option<Tensor<1>> {
        if let Some(flex) = flex_f32(logits) {
            return Some(wrap(log_sum_exp_of_rows(&flex)?));
        }
        let logits = tracked(logits)?;
        let lse = log_sum_exp_of_rows(logits.primitive())?;
        let output = match RowLogSumExp
            .prepare::<NoCheckpointing>([logits.node()])
            .compute_bound()
            .stateful()
        {
            OpsKind::Tracked(prep) => prep.finish((logits.primitive().clone(), lse.clone()), lse),
            OpsKind::UnTracked(prep) => prep.finish(lse),
        };
        Some(wrap_tracked(output))
    }

    /// `lse` of each row of a contiguous `f32` matrix, rows in parallel.
    fn log_sum_exp_of_rows(logits: &FlexTensor) -> Option<FlexTensor> {
        let &[rows, width] = logits.layout().shape().as_slice() else {
            return None;
        };
        let values = logits.as_slice::<f32>()?;
        if width == 0 {
            return None;
        }
        let lse: Vec<f32> = values.par_chunks(width).map(super::log_sum_exp).collect();
        Some(FlexTensor::from_data(TensorData::new(lse, [rows])))
    }

    /// The gradient of [`row_log_sum_exp`]: `∂L/∂zᵥ = g · e^{zᵥ − lse(z)}` for the row's
    /// gradient `g`, kept state the logits and their `lse`.
    #[derive(Debug)]
    struct RowLogSumExp;

    impl Backward<Flex, 1> for RowLogSumExp {
        type State = (FlexTensor, FlexTensor);

        fn backward(
            self,
            ops: Ops<Self::State, 1>,
            grads: &mut Gradients,
            _checkpointer: &mut Checkpointer,
        ) {
            let (logits, lse) = ops.state;
            unary::<Flex, _>(ops.parents, ops.node, grads, |grad| {
                softmax_scaled(logits, &lse, &grad)
            });
        }
    }

    /// `gᵣ · e^{zᵣᵥ − lseᵣ}` for every row `r` of `logits`, in place when the logits' buffer
    /// is theirs alone (the forward pass has let go of it by then), rows in parallel. Each
    /// exponent is ≤ 0: `lse(z) ≥ max(z)`.
    fn softmax_scaled(mut logits: FlexTensor, lse: &FlexTensor, grad: &FlexTensor) -> FlexTensor {
        let grad = grad.to_contiguous();
        let (grad, lse) = (grad.storage::<f32>(), lse.storage::<f32>());
        let shape = logits.layout().shape().clone();
        let width = shape.as_slice()[1];
        let scale = |(row, out): (usize, &mut [f32])| {
            super::vectorised(
                #[inline(always)]
                |(out, g, lse): (&mut [f32], f32, f32)| {
                    for z in out.iter_mut() {
                        *z = g * super::exp_nonpositive(*z - lse);
                    }
                },
                (out, grad[row], lse[row]),
            )
        };
        if logits.is_contiguous()
            && logits.layout().start_offset() == 0
            && let Some(values) = logits.try_storage_mut::<f32>()
        {
            values[..shape.num_elements()]
                .par_chunks_mut(width)
                .enumerate()
                .for_each(scale);
            return logits;
        }
        let mut out = logits
            .as_slice::<f32>()
            .expect("contiguous logits")
            .to_vec();
        out.par_chunks_mut(width).enumerate().for_each(scale);
        FlexTensor::from_data(TensorData::new(out, shape))
    }

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
        let fresh = Strided::general(&newer);
        let block = len * d_k;
        let mut out = Vec::with_capacity(kept * heads * (len + new) * d_k);
        for (row, &from) in picked.iter().enumerate() {
            for head in 0..heads {
                let at = (from * heads + head) * block;
                out.extend_from_slice(&source[at..at + block]);
                for position in 0..new {
                    let base = fresh.offset(row, head) + position as isize * fresh.strides[2];
                    out.extend((0..d_k).map(|i| fresh.get(base + i as isize * fresh.strides[3])));
                }
            }
        }
        let shape = [kept, heads, len + new, d_k];
        Some(wrap(FlexTensor::from_data(TensorData::new(out, shape))))
    }

    /// [`super::attention`] on flex, for `f32` tensors outside autodiff whose last
    /// dimension is contiguous, at most [`super::FEW_QUERIES`] queries a head; `None`
    /// otherwise.
    pub fn attention(
        query: &Tensor<4>,
        key: &Tensor<4>,
        value: &Tensor<4>,
        bias: Option<&Tensor<4>>,
    ) -> Option<Tensor<4>> {
        let [batch, heads, queries, d_k] = query.dims();
        let [.., keys, _] = key.dims();
        let fits = key.dims() == [batch, heads, keys, d_k] && value.dims() == key.dims();
        if !fits || queries > super::FEW_QUERIES || keys == 0 || queries * d_k == 0 {
            return None;
        }
        let bias_dims = bias.map(|bias| bias.dims());
        if let Some([b, h, q, k]) = bias_dims {
            let broadcasts = |dim: usize, to: usize| dim == 1 || dim == to;
            if !(broadcasts(b, batch) && broadcasts(h, heads) && broadcasts(q, queries))
                || k != keys
            {
                return None;
            }
        }
        let (query, key, value) = (flex_f32(query)?, flex_f32(key)?, flex_f32(value)?);
        let bias = match bias {
            Some(bias) => Some(flex_f32(bias)?),
            None => None,
        };
        let (q, k, v) = (
            Strided::of(&query)?,
            Strided::of(&key)?,
            Strided::of(&value)?,
        );
        // A broadcast dimension is read at its one index, whatever its stride.
        let bias = bias.as_ref().zip(bias_dims).map(|(tensor, dims)| {
            let mut view = Strided::general(tensor);
            for (stride, dim) in view.strides.iter_mut().zip(dims) {
                if dim == 1 {
                    *stride = 0;
                }
            }
            view
        });
        let scale = 1.0 / (d_k as f32).sqrt();
        let width = queries * heads * d_k;
        let mut out = vec![0.0f32; batch * width];
        let attend = |(b, out): (usize, &mut [f32])| {
            let mut scores = vec![0.0f32; queries * keys];
            for h in 0..heads {
                // SAFETY: each operand's layout keeps every index of its shape inside its
                // storage; `scores` is `[queries, keys]`; `out` is this row's
                // `[queries, heads, d_k]`, of which head `h`'s columns are written. `gemm`
                // writes its destination whole without reading it (α 0, `read_dst` false).
                unsafe {
                    gemm::gemm(
                        queries,
                        keys,
                        d_k,
                        scores.as_mut_ptr(),
                        1,
                        keys as isize,
                        false,
                        q.at(b, h),
                        1,
                        q.strides[2],
                        k.at(b, h),
                        k.strides[2],
                        1,
                        0.0,
                        scale,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
                for (i, row) in scores.chunks_exact_mut(keys).enumerate() {
                    if let Some(bias) = &bias {
                        let base = bias.offset(b, h) + i as isize * bias.strides[2];
                        for (j, score) in row.iter_mut().enumerate() {
                            *score += bias.get(base + j as isize * bias.strides[3]);
                        }
                    }
                    super::softmax_in_place(row);
                }
                // SAFETY: as above.
                unsafe {
                    gemm::gemm(
                        queries,
                        d_k,
                        keys,
                        out.as_mut_ptr().add(h * d_k),
                        1,
                        (heads * d_k) as isize,
                        false,
                        scores.as_ptr(),
                        1,
                        keys as isize,
                        v.at(b, h),
                        1,
                        v.strides[2],
                        0.0,
                        1.0,
                        false,
                        false,
                        false,
                        gemm::Parallelism::None,
                    );
                }
            }
        };
        out.par_chunks_mut(width).enumerate().for_each(attend);
        let context: Tensor<4> = wrap(FlexTensor::from_data(TensorData::new(
            out,
            [batch, queries, heads, d_k],
        )));
        Some(context.swap_dims(1, 2))
    }

    /// A 4-D `f32` tensor's values read through its strides (a broadcast dimension's
    /// stride may be set to 0).
    struct Strided<'a> {
        data: &'a [f32],
        start: isize,
        strides: [isize; 4],
    }

    impl<'a> Strided<'a> {
        /// `tensor` with its last dimension contiguous; `None` otherwise.
        fn of(tensor: &'a FlexTensor) -> Option<Self> {
            let view = Self::general(tensor);
            (view.strides[3] == 1).then_some(view)
        }

        fn general(tensor: &'a FlexTensor) -> Self {
            let layout = tensor.layout();
            let s = layout.strides();
            Self {
                data: tensor.storage::<f32>(),
                start: layout.start_offset() as isize,
                strides: [s[0], s[1], s[2], s[3]],
            }
        }

        /// Where batch row `b`'s head `h` starts.
        fn offset(&self, b: usize, h: usize) -> isize {
            self.start + b as isize * self.strides[0] + h as isize * self.strides[1]
        }

        /// The value at `offset` into the storage.
        fn get(&self, offset: isize) -> f32 {
            self.data[offset as usize]
        }

        /// [`offset`](Self::offset) as a pointer into the storage.
        fn at(&self, b: usize, h: usize) -> *const f32 {
            self.data.as_ptr().wrapping_offset(self.offset(b, h))
        }
    }

    /// `(rows, d_input, d_output)` of `x·W + b` when the shapes agree and none is empty.
    fn projection_shape<const D: usize>(
        x: &Tensor<D>,
        weight: &Tensor<2>,
        bias: Option<&Tensor<1>>,
    ) -> Option<(usize, usize, usize)> {
        let dims = x.dims();
        let [d_input, d_output] = weight.dims();
        let rows: usize = dims[..D - 1].iter().product();
        let fits = bias.is_none_or(|bias| bias.dims() == [d_output]);
        (dims[D - 1] == d_input && fits && rows * d_input * d_output > 0)
            .then_some((rows, d_input, d_output))
    }

    /// [`super::project`] on flex, for `f32` tensors outside autodiff, each contiguous;
    /// `None` otherwise.
    pub fn project<const D: usize>(
        x: &Tensor<D>,
        weight: &Tensor<2>,
        bias: Option<&Tensor<1>>,
    ) -> Option<Tensor<D>> {
        let (rows, d_input, d_output) = projection_shape(x, weight, bias)?;
        let mut shape = x.dims();
        shape[D - 1] = d_output;
        let (x, weight) = (flex_f32(x)?, flex_f32(weight)?);
        let bias = bias.map(flex_f32);
        let bias = match &bias {
            None => None,
            Some(bias) => Some(bias.as_ref()?.as_slice::<f32>()?),
        };
        let (input, matrix) = (x.as_slice::<f32>()?, weight.as_slice::<f32>()?);
        let input = Operand::rows(input, d_input);
        let matrix = Operand::rows(matrix, d_output);
        let out = product(rows, d_output, d_input, input, matrix, bias);
        Some(wrap(FlexTensor::from_data(TensorData::new(out, shape))))
    }

    /// A matrix operand of [`product`]: its values and the strides of its rows and columns.
    #[derive(Clone, Copy)]
    struct Operand<'a> {
        values: &'a [f32],
        row_stride: isize,
        column_stride: isize,
    }

    impl<'a> Operand<'a> {
        /// A row-major matrix of `columns` columns.
        fn rows(values: &'a [f32], columns: usize) -> Self {
            Self {
                values,
                row_stride: columns as isize,
                column_stride: 1,
            }
        }

        /// The transpose, read in place: rows and columns swap strides.
        fn transposed(self) -> Self {
            Self {
                row_stride: self.column_stride,
                column_stride: self.row_stride,
                ..self
            }
        }

        /// A 2-D flex matrix read through its strides; `None` where a stride is negative.
        fn of(tensor: &'a FlexTensor) -> Option<Self> {
            let layout = tensor.layout();
            let &[row_stride, column_stride] = layout.strides() else {
                return None;
            };
            (row_stride >= 0 && column_stride >= 0).then(|| Self {
                values: &tensor.storage::<f32>()[layout.start_offset()..],
                row_stride,
                column_stride,
            })
        }
    }

    /// `lhs·rhs (+ bias)`, `[m, k]` by `[k, n]`, row-major into a new buffer: `gemm`, on
    /// flex's thread pool from flex's own threshold on.
    fn product(
        m: usize,
        n: usize,
        k: usize,
        lhs: Operand,
        rhs: Operand,
        bias: Option<&[f32]>,
    ) -> Vec<f32> {
        let reach = |o: &Operand, rows: usize, columns: usize| {
            (rows - 1) as isize * o.row_stride + (columns - 1) as isize * o.column_stride
        };
        assert!(
            m * n * k > 0
                && reach(&lhs, m, k) < lhs.values.len() as isize
                && reach(&rhs, k, n) < rhs.values.len() as isize
                && bias.is_none_or(|bias| bias.len() == n),
            "product: operands out of bounds"
        );
        let mut out: Vec<f32> = Vec::with_capacity(m * n);
        let parallelism = if m * n * k >= 192 * 192 * 192 {
            gemm::Parallelism::Rayon(0)
        } else {
            gemm::Parallelism::None
        };
        // SAFETY: every element either operand's strides reach lies in its values (checked
        // above); `out` has room for `[m, n]`, which `gemm` writes whole without reading it
        // (`read_dst` false, α 0), as flex's product does.
        unsafe {
            gemm::gemm(
                m,
                n,
                k,
                out.as_mut_ptr(),
                1,
                n as isize,
                false,
                lhs.values.as_ptr(),
                lhs.column_stride,
                lhs.row_stride,
                rhs.values.as_ptr(),
                rhs.column_stride,
                rhs.row_stride,
                0.0,
                1.0,
                false,
                false,
                false,
                parallelism,
            );
            out.set_len(m * n);
        }
        if let Some(bias) = bias {
            for row in out.chunks_exact_mut(n) {
                for (value, &b) in row.iter_mut().zip(bias) {
                    *value += b;
                }
            }
        }
        out
    }

    /// The autodiff float tensor under `tensor` when it is flex's, `f32`, without gradient
    /// checkpointing.
    fn tracked<const D: usize>(tensor: &Tensor<D>) -> Option<FloatTensor<Autodiff<Flex>>> {
        let dispatch = tensor.clone().into_dispatch();
        match (dispatch.kind, dispatch.autodiff) {
            (
                DispatchTensorKind::Autodiff(inner),
                DispatchAutodiffContext::Enabled(GradientCheckpointingStrategy::Disabled),
            ) => match *inner {
                DispatchTensorKind::Flex(BackendTensor::Autodiff(tensor))
                    if tensor.primitive().dtype() == DType::F32 =>
                {
                    Some(tensor)
                }
                _ => None,
            },
            _ => None,
        }
    }

    /// `tensor` back under Burn's dispatch, tracked.
    fn wrap_tracked<const D: usize>(tensor: FloatTensor<Autodiff<Flex>>) -> Tensor<D> {
        Tensor::from_dispatch(DispatchTensor {
            kind: DispatchTensorKind::Autodiff(Box::new(DispatchTensorKind::Flex(
                BackendTensor::Autodiff(tensor),
            ))),
            autodiff: DispatchAutodiffContext::Enabled(GradientCheckpointingStrategy::Disabled),
        })
    }

    /// [`super::project`] on flex under autodiff: `x` contiguous, `weight` any 2-D view with
    /// non-negative strides, `bias` contiguous, all `f32`; `None` otherwise.
    pub fn project_tracked<const D: usize>(
        x: &Tensor<D>,
        weight: &Tensor<2>,
        bias: Option<&Tensor<1>>,
    ) -> Option<Tensor<D>> {
        let (rows, d_input, d_output) = projection_shape(x, weight, bias)?;
        let mut shape = x.dims();
        shape[D - 1] = d_output;
        let (x, weight) = (tracked(x)?, tracked(weight)?);
        let bias = match bias {
            None => None,
            Some(bias) => Some(tracked(bias)?),
        };
        let out = {
            let input = Operand::rows(x.primitive().as_slice::<f32>()?, d_input);
            let matrix = Operand::of(weight.primitive())?;
            let bias = match &bias {
                None => None,
                Some(bias) => Some(bias.primitive().as_slice::<f32>()?),
            };
            product(rows, d_output, d_input, input, matrix, bias)
        };
        let out = FlexTensor::from_data(TensorData::new(out, shape));
        let state = Projected {
            x: x.primitive().clone(),
            weight: weight.primitive().clone(),
        };
        let output = match bias {
            None => match Project
                .prepare::<NoCheckpointing>([x.node(), weight.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(state, out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            },
            Some(bias) => match Project
                .prepare::<NoCheckpointing>([x.node(), weight.node(), bias.node()])
                .compute_bound()
                .stateful()
            {
                OpsKind::Tracked(prep) => prep.finish(state, out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            },
        };
        Some(wrap_tracked(output))
    }

    /// What [`Project`]'s backward pass reads: `x` (its rows of `d_input`) and `W`.
    #[derive(Clone, Debug)]
    struct Projected {
        x: FlexTensor,
        weight: FlexTensor,
    }

    /// The gradients of `x·W (+ b)` for the output's gradient `G` `[rows, d_output]`:
    /// `∂L/∂x = G·Wᵀ`, `∂L/∂W = xᵀ·G`, `∂L/∂b = Σ_rows G`, each only where its input is
    /// tracked.
    #[derive(Debug)]
    struct Project;

    impl Project {
        fn gradients<const N: usize>(ops: Ops<Projected, N>, grads: &mut Gradients) {
            let Projected { x, weight } = ops.state;
            let grad = grads.consume::<Flex>(&ops.node).to_contiguous();
            let g = grad.storage::<f32>();
            let [d_input, d_output] = weight.layout().shape().dims();
            let rows = x.layout().shape().num_elements() / d_input;
            let g_rows = Operand::rows(g, d_output);
            let mut parents = ops.parents.into_iter();
            if let Some(node) = parents.next().flatten() {
                let w_transposed = Operand::of(&weight)
                    .expect("the forward pass read W so")
                    .transposed();
                let grad_x = product(rows, d_input, d_output, g_rows, w_transposed, None);
                let shape = x.layout().shape().clone();
                grads.register::<Flex>(
                    node.id,
                    FlexTensor::from_data(TensorData::new(grad_x, shape)),
                );
            }
            if let Some(node) = parents.next().flatten() {
                let x_values = x.as_slice::<f32>().expect("the forward pass read x so");
                let x_transposed = Operand::rows(x_values, d_input).transposed();
                let grad_w = product(d_input, d_output, rows, x_transposed, g_rows, None);
                let grad_w = TensorData::new(grad_w, [d_input, d_output]);
                grads.register::<Flex>(node.id, FlexTensor::from_data(grad_w));
            }
            if let Some(node) = parents.next().flatten() {
                let mut grad_b = vec![0.0f32; d_output];
                for row in g.chunks_exact(d_output) {
                    for (sum, &value) in grad_b.iter_mut().zip(row) {
                        *sum += value;
                    }
                }
                let grad_b = TensorData::new(grad_b, [d_output]);
                grads.register::<Flex>(node.id, FlexTensor::from_data(grad_b));
            }
        }
    }

    impl Backward<Flex, 2> for Project {
        type State = Projected;

        fn backward(
            self,
            ops: Ops<Self::State, 2>,
            grads: &mut Gradients,
            _checkpointer: &mut Checkpointer,
        ) {
            Self::gradients(ops, grads);
        }
    }

    impl Backward<Flex, 3> for Project {
        type State = Projected;

        fn backward(
            self,
            ops: Ops<Self::State, 3>,
            grads: &mut Gradients,
            _checkpointer: &mut Checkpointer,
        ) {
            Self::gradients(ops, grads);
        }
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
