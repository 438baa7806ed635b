//! A model's stored weights (`model.bpk`, Burn's burnpack format): loading whatever precision
//! they were stored in, storing them in half precision, averaging several checkpoints.

use std::path::Path;

use anyhow::{Context, anyhow, bail};
use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::store::ModuleRecord;
use burn::tensor::{DType, Tensor, TensorData};
use half::f16;

/// How the weights are stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Precision {
    /// 32-bit floats, as trained.
    Full,
    /// 16-bit floats (IEEE half): half the size; loaded back as 32-bit.
    Half,
}

/// `module` with the weights of `path`, cast to the module's precision (so half-precision
/// files load into a full-precision model); the error names the file.
pub fn load<M: Module>(module: M, path: &Path) -> anyhow::Result<M> {
    if !path.exists() {
        bail!("{}: no such weights file", path.display());
    }
    let record = ModuleRecord::load(path)
        .map_err(|e| anyhow!("{}: not a readable weights file: {e}", path.display()))?
        .cast_to_module_dtype();
    module
        .try_load_record(record)
        .map_err(|e| anyhow!("{}: does not fit the model: {e}", path.display()))
}

/// Writes `module`'s weights to `path` in `precision`, atomically.
pub fn save<M: Module>(module: M, path: &Path, precision: Precision) -> anyhow::Result<()> {
    let bytes = module
        .into_record()
        .into_bytes()
        .map_err(|e| anyhow!("serialising the weights: {e}"))?;
    let bytes = match precision {
        Precision::Full => bytes.to_vec(),
        Precision::Half => to_half(bytes)?,
    };
    crate::fs::write_atomic(path, &bytes).with_context(|| format!("writing {}", path.display()))
}

/// A burnpack file with every 32-bit float tensor of `bytes` stored as 16-bit.
fn to_half(bytes: burn::tensor::Bytes) -> anyhow::Result<Vec<u8>> {
    let reader = burn_pack::Reader::from_bytes(bytes)?;
    let tensors = reader
        .into_tensors()?
        .into_iter()
        .map(|tensor| {
            let (name, dtype, shape, id, bytes) = tensor.into_parts()?;
            if dtype != DType::F32 {
                return Ok(burn_pack::Tensor::new(name, dtype, shape, id, bytes));
            }
            let half: Vec<u8> = bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .flat_map(|x| f16::from_f32(x).to_le_bytes())
                .collect();
            Ok(burn_pack::Tensor::new(
                name,
                DType::F16,
                shape,
                id,
                burn_pack::Bytes::from_bytes_vec(half),
            ))
        })
        .collect::<Result<Vec<_>, burn_pack::Error>>()?;
    Ok(burn_pack::Writer::new(tensors).into_bytes()?.to_vec())
}

/// The element-wise mean of the weights of `models` (at least one), in the first one's
/// structure: `θ = (θ₁ + … + θₖ) / k`, the checkpoint averaging of Vaswani et al. §6.1.
pub fn average<M: Module>(models: Vec<M>) -> anyhow::Result<M> {
    let count = models.len();
    let mut models = models.into_iter();
    let Some(first) = models.next() else {
        bail!("nothing to average");
    };
    let mut sums = Sums::of(&first);
    for (index, model) in models.enumerate() {
        let other = Sums::of(&model);
        if other.0.len() != sums.0.len() {
            bail!("model {} has another structure than the first", index + 2);
        }
        for (sum, values) in sums.0.iter_mut().zip(other.0) {
            if sum.len() != values.len() {
                bail!("model {} has another shape than the first", index + 2);
            }
            sum.iter_mut().zip(values).for_each(|(s, v)| *s += v);
        }
    }
    let scale = 1.0 / count as f64;
    let means = sums
        .0
        .into_iter()
        .map(|sum| sum.into_iter().map(|s| (s * scale) as f32).collect())
        .collect::<Vec<Vec<f32>>>();
    Ok(first.map(&mut Assign(means.into_iter())))
}

/// Every float parameter of a module, flattened, in the module's visiting order; summed in
/// `f64` so that averaging many checkpoints loses nothing to rounding.
struct Sums(Vec<Vec<f64>>);

impl Sums {
    fn of<M: Module>(module: &M) -> Self {
        let mut sums = Sums(Vec::new());
        module.visit(&mut sums);
        sums
    }
}

impl ModuleVisitor for Sums {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let data = param.val().into_data().convert::<f32>();
        let values = data.iter::<f32>().map(f64::from).collect();
        self.0.push(values);
    }
}

/// Replaces each float parameter, in visiting order, by the next values given.
struct Assign(std::vec::IntoIter<Vec<f32>>);

impl ModuleMapper for Assign {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let values = self.0.next().unwrap_or_default();
        param.map(|tensor| {
            let data = TensorData::new(values, tensor.shape());
            Tensor::from_data(data, &tensor.device())
        })
    }
}
