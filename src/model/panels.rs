//! A float32 weight matrix stored once in the order a product reads it, for decoding's
//! generator.
//!
//! A general matrix product (`gemm`) copies ("packs") the blocks of `W` it multiplies into
//! the order its kernel reads, at every call: for the generator `W` (`d_model × vocabulary`,
//! 8 MB in float32) that is a pass over the whole matrix at every decoding step, and at one
//! row (a sentence at a time) a matrix–vector path that reads it slower still. A decoding
//! step's `W` never changes, so [`PackedMatrix`] packs it once: panels of [`PANEL`] columns,
//! each row of a panel two AVX-512 registers, multiplied by [`ROWS`] rows of `x` at a time,
//! each sum over the rows of `W` in order: the same sums as `gemm`'s where it takes the rows
//! in one block, as it does for `d_model` 256 (the same values to the bit, measured).

use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};

use super::kernels;

/// Columns of `W` a panel holds: two registers of sixteen float32 lanes.
pub(super) const PANEL: usize = 32;
/// Rows of `x` multiplied together against a panel: 2 × 12 accumulators of AVX-512's 32
/// registers, the panel's two and the broadcast row value besides.
pub(super) const ROWS: usize = 12;

/// A matrix `W` `[d_input, d_output]` in panels of [`PANEL`] columns.
#[derive(Clone)]
pub struct PackedMatrix {
    d_input: usize,
    d_output: usize,
    /// Panel `p` (columns `32p..32p + 32`), row `i`, lane `l`: `W[i][32p + l]`, zero past
    /// the matrix.
    panels: Vec<f32>,
}

impl std::fmt::Debug for PackedMatrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PackedMatrix [{}, {}]", self.d_input, self.d_output)
    }
}

impl PackedMatrix {
    /// `Eᵀ` of the table `table` `[rows, columns]`: a tied generator's `h·Eᵀ`.
    pub fn transposed(table: Tensor<2>) -> Self {
        let [rows, columns] = table.dims();
        let values = kernels::host_values(table);
        Self::new(columns, rows, |i, j| values[j * columns + i])
    }

    /// The weight of the layer `linear`.
    pub fn of(linear: &Linear) -> Self {
        Self::from_weight(linear.weight.val())
    }

    /// `W` `[d_input, d_output]` of a projection `x·W`.
    pub fn from_weight(weight: Tensor<2>) -> Self {
        let [d_input, d_output] = weight.dims();
        let values = kernels::host_values(weight);
        Self::new(d_input, d_output, |i, j| values[i * d_output + j])
    }

    /// `W` with `W[i][j] = weight(i, j)`.
    fn new(d_input: usize, d_output: usize, weight: impl Fn(usize, usize) -> f32) -> Self {
        assert!(
            d_input > 0 && d_output > 0,
            "a matrix of [{d_input}, {d_output}]"
        );
        let mut panels = vec![0.0; d_output.div_ceil(PANEL) * d_input * PANEL];
        for (at, slot) in panels.iter_mut().enumerate() {
            let (lane, row, panel) = (at % PANEL, at / PANEL % d_input, at / (PANEL * d_input));
            let column = panel * PANEL + lane;
            if column < d_output {
                *slot = weight(row, column);
            }
        }
        Self {
            d_input,
            d_output,
            panels,
        }
    }

    /// `[d_input, d_output]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.d_input, self.d_output]
    }

    /// `x·W` for `x` `[rows, d_input]`, row-major, into `[rows, d_output]`; `None` where
    /// the processor lacks AVX-512 (the caller's `gemm` then multiplies).
    pub fn multiply(&self, x: &[f32]) -> Option<Vec<f32>> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f") {
            assert_eq!(x.len() % self.d_input, 0, "x is [rows, {}]", self.d_input);
            let rows = x.len() / self.d_input;
            let mut out = Vec::with_capacity(rows * self.d_output);
            // SAFETY: the processor has AVX-512F; every block writes its rows' columns of
            // its panel, so `out`'s `rows × d_output` values are all written.
            unsafe {
                avx512::multiply(self, x, rows, out.as_mut_ptr());
                out.set_len(rows * self.d_output);
            }
            return Some(out);
        }
        let _ = x;
        None
    }
}

/// The widest input a projection is packed for: a panel of 256 rows (32 KiB) stays in the
/// first-level cache while every block of rows reads it; a 1,024-row one (the feed-forward
/// network's `W_2`) does not, and `gemm`'s own blocking was faster there (measured).
pub const MAX_PACKED_INPUT: usize = 256;

/// `x·W` over the last dimension of `x` by `packed`, where the values lie in this process's
/// memory and the processor has AVX-512 ([`PackedMatrix::multiply`]); `None` otherwise.
pub fn project<const D: usize>(x: &Tensor<D>, packed: &PackedMatrix) -> Option<Tensor<D>> {
    project_with_bias(x, packed, None)
}

/// `x·W + b` of the layer `linear` by `packed`, its `W` packed (the bias added after the
/// product, as flex's own projection adds it); `None` as [`project`].
pub fn linear<const D: usize>(
    linear: &Linear,
    packed: &PackedMatrix,
    x: &Tensor<D>,
) -> Option<Tensor<D>> {
    let bias = linear.bias.as_ref().map(|bias| bias.val());
    project_with_bias(x, packed, bias.as_ref())
}

pub(super) fn project_with_bias<const D: usize>(
    x: &Tensor<D>,
    packed: &PackedMatrix,
    bias: Option<&Tensor<1>>,
) -> Option<Tensor<D>> {
    let mut shape = x.dims();
    if shape[D - 1] != packed.d_input {
        return None;
    }
    let mut out = kernels::read_in_place(x, |x| packed.multiply(x)).flatten()?;
    if let Some(bias) = bias {
        kernels::read_in_place(bias, |bias| {
            for row in out.chunks_exact_mut(packed.d_output) {
                for (value, &b) in row.iter_mut().zip(bias) {
                    *value += b;
                }
            }
        })?;
    }
    shape[D - 1] = packed.d_output;
    Some(Tensor::from_data(TensorData::new(out, shape), &x.device()))
}

/// The blocks both packed layouts multiply by: every panel of [`PANEL`] columns against
/// every block of up to [`ROWS`] rows of `x`, 2 × 12 accumulators of AVX-512's 32 registers
/// (a panel of a 256-row matrix, 32 KiB in float32 and 16 KiB in bfloat16 pairs, stays in the
/// first-level cache while every block of rows reads it).
#[cfg(target_arch = "x86_64")]
pub(super) mod blocks {
    use std::arch::x86_64::*;

    pub(in crate::model) use super::PANEL;
    use super::ROWS;

    /// What multiplies one block: the sums of `R` rows against one panel.
    pub trait Kernel {
        /// The sums of rows `row..row + R` against panel `panel`: lanes 0–15 and 16–31 of
        /// each row.
        ///
        /// # Safety
        /// The processor has the kernel's instructions; the rows and the panel exist.
        unsafe fn sums<const R: usize>(&self, panel: usize, row: usize) -> [[__m512; 2]; R];
    }

    /// Every block of the product `[rows, d_output]` by `kernel`, written into `out`.
    ///
    /// # Safety
    /// As [`Kernel::sums`] for every block; `out` has room for `rows × d_output` values.
    /// Called from a function compiled for the kernel's instructions, into which it inlines.
    #[inline(always)]
    pub unsafe fn multiply(kernel: &impl Kernel, rows: usize, d_output: usize, out: *mut f32) {
        for panel in 0..d_output.div_ceil(PANEL) {
            let columns = (d_output - panel * PANEL).min(PANEL);
            let mut row = 0;
            while row < rows {
                let n = (rows - row).min(ROWS);
                // SAFETY: row `row`, column `32·panel` is inside `out`; the caller promised
                // the rest.
                unsafe {
                    let at = out.add(row * d_output + panel * PANEL);
                    let store = |sums: &[[__m512; 2]]| store(sums, at, d_output, columns);
                    match n {
                        12 => store(&kernel.sums::<12>(panel, row)),
                        11 => store(&kernel.sums::<11>(panel, row)),
                        10 => store(&kernel.sums::<10>(panel, row)),
                        9 => store(&kernel.sums::<9>(panel, row)),
                        8 => store(&kernel.sums::<8>(panel, row)),
                        7 => store(&kernel.sums::<7>(panel, row)),
                        6 => store(&kernel.sums::<6>(panel, row)),
                        5 => store(&kernel.sums::<5>(panel, row)),
                        4 => store(&kernel.sums::<4>(panel, row)),
                        3 => store(&kernel.sums::<3>(panel, row)),
                        2 => store(&kernel.sums::<2>(panel, row)),
                        _ => store(&kernel.sums::<1>(panel, row)),
                    }
                }
                row += n;
            }
        }
    }

    /// Each row's first `columns` sums to `out`, rows `stride` apart.
    ///
    /// # Safety
    /// AVX-512F; those values of every row are inside `out`.
    #[inline(always)]
    unsafe fn store(sums: &[[__m512; 2]], out: *mut f32, stride: usize, columns: usize) {
        let mask = |from: usize| -> __mmask16 {
            let n = columns.saturating_sub(from).min(16);
            ((1u32 << n) - 1) as __mmask16
        };
        let (low, high) = (mask(0), mask(16));
        for (r, sums) in sums.iter().enumerate() {
            // SAFETY: as the caller promised.
            unsafe {
                let at = out.add(r * stride);
                _mm512_mask_storeu_ps(at, low, sums[0]);
                _mm512_mask_storeu_ps(at.add(16), high, sums[1]);
            }
        }
    }
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::PackedMatrix;
    use super::blocks::{self, Kernel, PANEL};

    /// [`PackedMatrix::multiply`] into `out` `[rows, d_output]`.
    ///
    /// # Safety
    /// The processor has AVX-512F; `x` holds `rows` rows of `d_input`; `out` has room for
    /// `rows × d_output` values.
    #[target_feature(enable = "avx512f")]
    pub unsafe fn multiply(matrix: &PackedMatrix, x: &[f32], rows: usize, out: *mut f32) {
        // SAFETY: as the caller promised.
        unsafe { blocks::multiply(&Rows { matrix, x }, rows, matrix.d_output, out) }
    }

    /// `x`'s rows against the matrix's panels by fused multiply–adds.
    struct Rows<'a> {
        matrix: &'a PackedMatrix,
        x: &'a [f32],
    }

    impl Kernel for Rows<'_> {
        #[inline]
        #[target_feature(enable = "avx512f")]
        unsafe fn sums<const R: usize>(&self, panel: usize, row: usize) -> [[__m512; 2]; R] {
            let d_input = self.matrix.d_input;
            let weights =
                &self.matrix.panels[panel * d_input * PANEL..(panel + 1) * d_input * PANEL];
            let x = self.x[row * d_input..(row + R) * d_input].as_ptr();
            let mut acc = [[_mm512_setzero_ps(); 2]; R];
            for (i, w) in weights.chunks_exact(PANEL).enumerate() {
                // SAFETY: `w` holds 32 values; `x` holds `R` rows of `d_input`.
                unsafe {
                    let low = _mm512_loadu_ps(w.as_ptr());
                    let high = _mm512_loadu_ps(w.as_ptr().add(16));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let value = _mm512_set1_ps(*x.add(r * d_input + i));
                        acc[0] = _mm512_fmadd_ps(value, low, acc[0]);
                        acc[1] = _mm512_fmadd_ps(value, high, acc[1]);
                    }
                }
            }
            acc
        }
    }
}
