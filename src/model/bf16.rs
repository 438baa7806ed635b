//! Matrix products with the weights in bfloat16, for decoding (`--precision bf16`).
//!
//! bfloat16 is the upper half of a float32: the same 8-bit exponent, 7 of the 23 mantissa
//! bits, rounded to the nearest (ties to even). A weight takes half the bytes, and a product
//! `x·W` rounds `x` to bfloat16 too: each product of two bfloat16s is exact in float32, and
//! the sums run in float32. That is what `vdpbf16ps` (AVX-512 BF16) computes, two products a
//! lane, `acc + x₂ᵢ₊₁·w₂ᵢ₊₁ + x₂ᵢ·w₂ᵢ`, in sixteen lanes: 32 multiply–adds an instruction
//! against an f32 FMA's 16. Processors without it run the same sums in float32 lanes.
//!
//! The matrix is stored once in the order the kernel reads: panels of [`PANEL`] columns,
//! each holding, for every pair of rows, the pair's two values side by side in 32 bits.

use burn::nn::Linear;
use burn::tensor::{Tensor, TensorData};

use super::kernels;
use super::panels::PANEL;

/// `x` rounded to the nearest bfloat16, ties to even (NaN stays NaN): without a branch, so
/// that a loop of them vectorises.
#[inline(always)]
pub fn to_bf16(x: f32) -> u16 {
    let bits = x.to_bits();
    let rounded = bits.wrapping_add(0x7FFF + ((bits >> 16) & 1)) >> 16;
    // A NaN quietened, its sign and upper payload kept (rounding could carry it to infinity).
    let quiet = (bits >> 16) | 0x40;
    (if x.is_nan() { quiet } else { rounded }) as u16
}

/// The float32 of the bfloat16 `b`: exact.
#[inline(always)]
pub fn from_bf16(b: u16) -> f32 {
    f32::from_bits(u32::from(b) << 16)
}

/// Two bfloat16s in 32 bits, the even-indexed one in the low half, as `vdpbf16ps` pairs them.
#[inline(always)]
fn pair(even: f32, odd: f32) -> u32 {
    u32::from(to_bf16(even)) | (u32::from(to_bf16(odd)) << 16)
}

/// A matrix `W` `[d_input, d_output]` in bfloat16, stored for [`multiply`](Self::multiply).
#[derive(Clone)]
pub struct Bf16Matrix {
    d_input: usize,
    d_output: usize,
    /// Panel `p` (columns `32p..32p + 32`), row pair `i` (rows `2i`, `2i + 1`), lane `l`:
    /// `W[2i][32p + l]` and `W[2i + 1][32p + l]` as a [`pair`]; zero past the matrix.
    pairs: Vec<u32>,
}

impl std::fmt::Debug for Bf16Matrix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Bf16Matrix [{}, {}]", self.d_input, self.d_output)
    }
}

impl Bf16Matrix {
    /// `W` with `W[i][j] = weight(i, j)`, rounded to bfloat16.
    pub fn new(d_input: usize, d_output: usize, weight: impl Fn(usize, usize) -> f32) -> Self {
        assert!(
            d_input > 0 && d_output > 0,
            "a matrix of [{d_input}, {d_output}]"
        );
        let row_pairs = d_input.div_ceil(2);
        let panels = d_output.div_ceil(PANEL);
        let mut pairs = vec![0; panels * row_pairs * PANEL];
        for (at, slot) in pairs.iter_mut().enumerate() {
            let (lane, pair_index, panel) =
                (at % PANEL, at / PANEL % row_pairs, at / (PANEL * row_pairs));
            let column = panel * PANEL + lane;
            if column < d_output {
                let (even, odd) = (2 * pair_index, 2 * pair_index + 1);
                let odd = if odd < d_input {
                    weight(odd, column)
                } else {
                    0.0
                };
                *slot = pair(weight(even, column), odd);
            }
        }
        Self {
            d_input,
            d_output,
            pairs,
        }
    }

    /// The weight `weight` `[d_input, d_output]` of a projection `x·W`, rounded.
    pub fn from_weight(weight: Tensor<2>) -> Self {
        let [d_input, d_output] = weight.dims();
        let values = kernels::host_values(weight);
        Self::new(d_input, d_output, |i, j| values[i * d_output + j])
    }

    /// The weight of the layer `linear`, rounded.
    pub fn of(linear: &Linear) -> Self {
        Self::from_weight(linear.weight.val())
    }

    /// `Eᵀ` of the table `table` `[rows, columns]`, rounded: a tied generator's `h·Eᵀ`.
    pub fn transposed(table: Tensor<2>) -> Self {
        let [rows, columns] = table.dims();
        let values = kernels::host_values(table);
        Self::new(columns, rows, |i, j| values[j * columns + i])
    }

    /// `[d_input, d_output]`.
    pub fn dims(&self) -> [usize; 2] {
        [self.d_input, self.d_output]
    }

    /// `W[i][j]` as stored (rounded).
    pub fn get(&self, i: usize, j: usize) -> f32 {
        let row_pairs = self.d_input.div_ceil(2);
        let pair = self.pairs[((j / PANEL) * row_pairs + i / 2) * PANEL + j % PANEL];
        from_bf16((pair >> (16 * (i % 2))) as u16)
    }

    /// `x·W` for `x` `[rows, d_input]`, row-major, `x` rounded to bfloat16 first; `[rows,
    /// d_output]`, row-major.
    pub fn multiply(&self, x: &[f32]) -> Vec<f32> {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bf16")
        {
            let rows = x.len() / self.d_input;
            let x_pairs = self.pairs_of(x);
            let mut out = Vec::with_capacity(rows * self.d_output);
            // SAFETY: the processor has the instructions; every block writes its rows'
            // columns of its panel, so `out`'s `rows × d_output` values are all written.
            unsafe {
                avx512::multiply(self, &x_pairs, rows, out.as_mut_ptr());
                out.set_len(rows * self.d_output);
            }
            return out;
        }
        self.multiply_in_lanes(x)
    }

    /// [`multiply`](Self::multiply) as processors without AVX-512 BF16 run it (which the
    /// tests also hold to the exact sums).
    pub fn multiply_in_lanes(&self, x: &[f32]) -> Vec<f32> {
        let rows = x.len() / self.d_input;
        let mut out = vec![0.0; rows * self.d_output];
        kernels::vectorised(
            #[inline(always)]
            |out: &mut Vec<f32>| self.lanes(&self.pairs_of(x), rows, out),
            &mut out,
        );
        out
    }

    /// The rows of `x` `[rows, d_input]` as pairs of bfloat16s ([`kernels::vectorised`]).
    fn pairs_of(&self, x: &[f32]) -> Vec<u32> {
        assert_eq!(x.len() % self.d_input, 0, "x is [rows, {}]", self.d_input);
        let row_pairs = self.d_input.div_ceil(2);
        let mut pairs = vec![0; x.len() / self.d_input * row_pairs];
        kernels::vectorised(
            #[inline(always)]
            |pairs: &mut Vec<u32>| {
                let rows = x.chunks_exact(self.d_input);
                for (row, out) in rows.zip(pairs.chunks_exact_mut(row_pairs)) {
                    let two = row.chunks_exact(2);
                    if let [last] = two.remainder() {
                        out[row_pairs - 1] = pair(*last, 0.0);
                    }
                    for (slot, two) in out.iter_mut().zip(two) {
                        *slot = pair(two[0], two[1]);
                    }
                }
            },
            &mut pairs,
        );
        pairs
    }

    /// `x·W` in float32 lanes, as `vdpbf16ps` sums: the odd product then the even one added
    /// to each lane (both exact, so a multiply and an add round as a fused multiply–add).
    #[inline(always)]
    fn lanes(&self, x_pairs: &[u32], rows: usize, out: &mut [f32]) {
        let row_pairs = self.d_input.div_ceil(2);
        for (panel, weights) in self.pairs.chunks_exact(row_pairs * PANEL).enumerate() {
            let columns = (self.d_output - panel * PANEL).min(PANEL);
            for row in 0..rows {
                let mut acc = [0.0f32; PANEL];
                let x = &x_pairs[row * row_pairs..(row + 1) * row_pairs];
                for (&x, w) in x.iter().zip(weights.chunks_exact(PANEL)) {
                    let (x_even, x_odd) = (from_bf16(x as u16), from_bf16((x >> 16) as u16));
                    for (a, &w) in acc.iter_mut().zip(w) {
                        let (w_even, w_odd) = (from_bf16(w as u16), from_bf16((w >> 16) as u16));
                        *a = *a + x_odd * w_odd + x_even * w_even;
                    }
                }
                let at = row * self.d_output + panel * PANEL;
                out[at..at + columns].copy_from_slice(&acc[..columns]);
            }
        }
    }
}

/// `x·W + b` over the last dimension of `x` with `W` in bfloat16 ([`Bf16Matrix::multiply`]),
/// on the host, on any backend: read in place on flex, copied out and back elsewhere.
pub fn project<const D: usize>(
    x: Tensor<D>,
    weight: &Bf16Matrix,
    bias: Option<Tensor<1>>,
) -> Tensor<D> {
    let mut shape = x.dims();
    assert_eq!(
        shape[D - 1],
        weight.d_input,
        "x's last dimension is W's first"
    );
    let device = x.device();
    let mut out = match kernels::read_in_place(&x, |x| weight.multiply(x)) {
        Some(out) => out,
        None => weight.multiply(&kernels::host_values(x)),
    };
    if let Some(bias) = bias {
        let mut add = |bias: &[f32]| {
            for row in out.chunks_exact_mut(weight.d_output) {
                for (value, &b) in row.iter_mut().zip(bias) {
                    *value += b;
                }
            }
        };
        if kernels::read_in_place(&bias, &mut add).is_none() {
            add(&kernels::host_values(bias));
        }
    }
    shape[D - 1] = weight.d_output;
    Tensor::from_data(TensorData::new(out, shape), &device)
}

#[cfg(target_arch = "x86_64")]
mod avx512 {
    use std::arch::x86_64::*;

    use super::Bf16Matrix;
    use crate::model::panels::blocks::{self, Kernel, PANEL};

    /// [`Bf16Matrix::multiply`] by `vdpbf16ps` into `out` `[rows, d_output]`.
    ///
    /// # Safety
    /// The processor has AVX-512F and AVX-512 BF16; `x_pairs` holds `rows` rows of the
    /// matrix's row pairs; `out` has room for `rows × d_output` values.
    #[target_feature(enable = "avx512f,avx512bf16")]
    pub unsafe fn multiply(matrix: &Bf16Matrix, x_pairs: &[u32], rows: usize, out: *mut f32) {
        // SAFETY: as the caller promised.
        unsafe { blocks::multiply(&Pairs { matrix, x_pairs }, rows, matrix.d_output, out) }
    }

    /// `x`'s rows of pairs against the matrix's panels, two products a lane an instruction.
    struct Pairs<'a> {
        matrix: &'a Bf16Matrix,
        x_pairs: &'a [u32],
    }

    impl Kernel for Pairs<'_> {
        #[inline]
        #[target_feature(enable = "avx512f,avx512bf16")]
        unsafe fn sums<const R: usize>(&self, panel: usize, row: usize) -> [[__m512; 2]; R] {
            let row_pairs = self.matrix.d_input.div_ceil(2);
            let weights =
                &self.matrix.pairs[panel * row_pairs * PANEL..(panel + 1) * row_pairs * PANEL];
            let x = self.x_pairs[row * row_pairs..(row + R) * row_pairs].as_ptr();
            let mut acc = [[_mm512_setzero_ps(); 2]; R];
            for (i, w) in weights.chunks_exact(PANEL).enumerate() {
                // SAFETY: `w` holds 32 values, two registers' worth; `x` holds `R` rows.
                unsafe {
                    let low: __m512bh = std::mem::transmute(_mm512_loadu_si512(w.as_ptr().cast()));
                    let high: __m512bh =
                        std::mem::transmute(_mm512_loadu_si512(w.as_ptr().add(16).cast()));
                    for (r, acc) in acc.iter_mut().enumerate() {
                        let value = *x.add(r * row_pairs + i) as i32;
                        let value: __m512bh = std::mem::transmute(_mm512_set1_epi32(value));
                        acc[0] = _mm512_dpbf16_ps(acc[0], value, low);
                        acc[1] = _mm512_dpbf16_ps(acc[1], value, high);
                    }
                }
            }
            acc
        }
    }
}
