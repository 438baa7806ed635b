//! Which compute backend runs the model, chosen when the program starts.
//!
//! Burn carries the backend in the [`Device`]: the model code is the same for all of them.
//! Cargo features decide which backends this binary contains; `--backend` (or the
//! environment variable `TRANSFORMER_MT_BACKEND`) picks one of those at run time.

use std::fmt;

use burn::tensor::Device;

/// A backend this program knows, compiled in or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Pure-Rust CPU backend on the `ndarray` crate (cargo feature `ndarray`).
    Ndarray,
    /// Burn's own pure-Rust CPU backend (cargo feature `flex`).
    Flex,
    /// Any GPU through wgpu: Vulkan, Metal, DirectX 12 (cargo feature `wgpu`).
    Wgpu,
    /// libtorch, PyTorch's C++ library, on the CPU (cargo feature `tch`).
    Tch,
}

/// `--backend` named no backend this binary can run.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum BackendError {
    /// A name that is no backend at all.
    #[error("unknown backend `{name}`: this build has auto, {available}")]
    Unknown {
        /// The name given.
        name: String,
        /// The backends compiled into this build.
        available: String,
    },
    /// A real backend that this binary was built without.
    #[error(
        "backend `{name}` is not compiled into this build (rebuild with `--features {name}`): this build has auto, {available}"
    )]
    NotCompiled {
        /// The name given.
        name: &'static str,
        /// The backends compiled into this build.
        available: String,
    },
    /// A binary built with every backend feature off.
    #[error("this build has no backend: rebuild with one of the features ndarray, flex, wgpu, tch")]
    NoneCompiled,
}

impl Backend {
    /// Every backend, in the order `auto` prefers them: the GPU one, then the CPU ones from
    /// fastest to slowest on this model (`transformer-mt bench`; BENCHMARKS.md).
    pub const ALL: [Backend; 4] = [Backend::Wgpu, Backend::Tch, Backend::Flex, Backend::Ndarray];

    /// The name used by `--backend` and by the cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Ndarray => "ndarray",
            Backend::Flex => "flex",
            Backend::Wgpu => "wgpu",
            Backend::Tch => "tch",
        }
    }

    /// Whether this binary contains the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Ndarray => cfg!(feature = "ndarray"),
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Tch => cfg!(feature = "tch"),
        }
    }

    /// The backends this binary contains, in `auto`'s order of preference.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// Resolves a `--backend` value: `auto` or the name of a compiled-in backend.
    pub fn from_name(name: &str) -> Result<Backend, BackendError> {
        let wanted = name.trim().to_ascii_lowercase();
        if wanted == "auto" {
            return Self::compiled()
                .first()
                .copied()
                .ok_or(BackendError::NoneCompiled);
        }
        match Self::ALL.into_iter().find(|b| b.name() == wanted) {
            Some(backend) if backend.is_compiled() => Ok(backend),
            Some(backend) => Err(BackendError::NotCompiled {
                name: backend.name(),
                available: available(),
            }),
            None => Err(BackendError::Unknown {
                name: name.to_string(),
                available: available(),
            }),
        }
    }

    /// The device for inference on this backend (its first GPU for wgpu, the CPU otherwise).
    pub fn device(self) -> Result<Device, BackendError> {
        #[allow(deprecated)] // ndarray and tch are deprecated in Burn 0.22, and still work
        match self {
            #[cfg(feature = "ndarray")]
            Backend::Ndarray => Ok(Device::ndarray()),
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "tch")]
            Backend::Tch => Ok(Device::libtorch()),
            #[allow(unreachable_patterns)]
            other => Err(BackendError::NotCompiled {
                name: other.name(),
                available: available(),
            }),
        }
    }

    /// The device for training: [`device`](Self::device) with automatic differentiation.
    pub fn training_device(self) -> Result<Device, BackendError> {
        Ok(self.device()?.autodiff())
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The names of the compiled-in backends, comma-separated.
fn available() -> String {
    let names: Vec<_> = Backend::compiled().iter().map(|b| b.name()).collect();
    names.join(", ")
}

/// The help text of `--backend`, naming what this build contains.
pub fn help() -> String {
    format!(
        "Compute backend: auto, or one of this build's: {} (auto takes the first of wgpu, tch, flex, ndarray that the build has)",
        available()
    )
}
