//! A model's weight matrices stored once for the products of translating or writing, in the
//! number format those products run in: float32 panels ([`panels`]) or bfloat16 pairs
//! ([`bf16`]).

use std::sync::Arc;

use burn::nn::Linear;
use burn::tensor::Tensor;

use super::bf16::{self, Bf16Matrix};
use super::kernels;
use super::panels::{self, PackedMatrix};

/// The number format of the products by a model's weight matrices when it translates or
/// writes: its layers' projections and its output projection (`d_model × vocabulary`, the
/// largest), which hold nearly all of a step's arithmetic.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Precision {
    /// float32, as the model trained.
    #[default]
    F32,
    /// Each `W` and its input rounded to bfloat16, the products summed in float32
    /// ([`super::bf16`]): half the bytes a step reads, twice the products an
    /// instruction on a processor with AVX-512 BF16; translations may differ from float32's.
    Bf16,
}

/// A weight matrix stored once for the products of translating or writing, in the number
/// format the products run in.
#[derive(Clone, Debug)]
pub enum Packed {
    /// float32 panels ([`PackedMatrix`]): the same products as `gemm`'s.
    F32(PackedMatrix),
    /// bfloat16 pairs ([`Bf16Matrix`]).
    Bf16(Bf16Matrix),
}

impl Packed {
    /// `W` `[d_input, d_output]` of the layer `linear` in `precision`; `None` in float32
    /// where the input is wider than [`panels::MAX_PACKED_INPUT`] (`gemm` is faster there).
    pub fn of(linear: &Linear, precision: Precision) -> Option<Arc<Self>> {
        let packed = match precision {
            Precision::F32 if linear.weight.dims()[0] > panels::MAX_PACKED_INPUT => return None,
            Precision::F32 => Self::F32(PackedMatrix::of(linear)),
            Precision::Bf16 => Self::Bf16(Bf16Matrix::of(linear)),
        };
        Some(Arc::new(packed))
    }

    /// `Eᵀ` of the table `table` in `precision`: a tied output projection's `h·Eᵀ`.
    pub fn transposed(table: Tensor<2>, precision: Precision) -> Arc<Self> {
        Arc::new(match precision {
            Precision::F32 => Self::F32(PackedMatrix::transposed(table)),
            Precision::Bf16 => Self::Bf16(Bf16Matrix::transposed(table)),
        })
    }

    /// `x·W + b` over the last dimension of `x`; `None` where the float32 panels cannot
    /// multiply here ([`panels::project`]), bfloat16 always does ([`bf16::project`]).
    pub fn project<const D: usize>(
        &self,
        x: &Tensor<D>,
        bias: Option<Tensor<1>>,
    ) -> Option<Tensor<D>> {
        match self {
            Self::F32(packed) => panels::project_with_bias(x, packed, bias.as_ref()),
            Self::Bf16(packed) => Some(bf16::project(x.clone(), packed, bias)),
        }
    }
}

/// `x·W + b` of the layer `linear`: by `packed`, its `W` stored once, where that multiplies
/// here, else by [`kernels::linear`].
pub fn linear_by<const D: usize>(
    linear: &Linear,
    packed: Option<&Packed>,
    x: Tensor<D>,
) -> Tensor<D> {
    let bias = || linear.bias.as_ref().map(|bias| bias.val());
    packed
        .and_then(|packed| packed.project(&x, bias()))
        .unwrap_or_else(|| kernels::linear(linear, x))
}
