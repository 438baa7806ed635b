//! Which compute backend runs the model, chosen when the program starts.
//!
//! Burn carries the backend in the [`Device`]: the model code is the same for all of them.
//! Cargo features decide which backends this binary contains; `--backend` (or the
//! environment variable `TRANSFORMER_MT_BACKEND`) picks one of those at run time, and `auto`
//! the first that can run on this machine: a GPU backend only with a real GPU behind it.

use std::fmt;

use burn::tensor::Device;

/// A backend this program knows, compiled in or not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// Any GPU through wgpu: Vulkan, Metal, DirectX 12, OpenGL (cargo feature `wgpu`).
    Wgpu,
    /// libtorch, PyTorch's C++ library, on a CUDA GPU when it has one, else the CPU (cargo
    /// feature `tch`).
    Tch,
    /// Burn's own pure-Rust CPU backend (cargo feature `flex`).
    Flex,
    /// Pure-Rust CPU backend on the `ndarray` crate (cargo feature `ndarray`).
    Ndarray,
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
    /// A backend compiled in that this machine cannot run.
    #[error("backend `{name}` cannot run here: {reason}")]
    Unavailable {
        /// The backend.
        name: &'static str,
        /// What it lacks.
        reason: String,
    },
    /// More devices asked for than the backend has.
    #[error("backend `{name}` has {found} device(s) here, and {asked} were asked for")]
    TooFewDevices {
        /// The backend.
        name: &'static str,
        /// Devices found.
        found: usize,
        /// Devices asked for.
        asked: usize,
    },
    /// A binary built with every backend feature off.
    #[error("this build has no backend: rebuild with one of the features ndarray, flex, wgpu, tch")]
    NoneCompiled,
}

/// Whether a compiled-in backend can run on this machine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Probe {
    /// It runs on what it was made for.
    Ready,
    /// wgpu whose only adapters are software renderers on the CPU (Mesa's lavapipe or
    /// llvmpipe, Microsoft's WARP): it runs, many times slower than the CPU backends.
    Software(String),
    /// It cannot run: the reason.
    Missing(String),
}

impl Backend {
    /// Every backend, in the order `auto` prefers them: the GPU ones, then the CPU ones from
    /// fastest to slowest on this model (`transformer-mt bench`; BENCHMARKS.md).
    pub const ALL: [Backend; 4] = [Backend::Wgpu, Backend::Tch, Backend::Flex, Backend::Ndarray];

    /// The name used by `--backend` and by the cargo feature.
    pub fn name(self) -> &'static str {
        match self {
            Backend::Wgpu => "wgpu",
            Backend::Tch => "tch",
            Backend::Flex => "flex",
            Backend::Ndarray => "ndarray",
        }
    }

    /// Whether this binary contains the backend.
    pub fn is_compiled(self) -> bool {
        match self {
            Backend::Wgpu => cfg!(feature = "wgpu"),
            Backend::Tch => cfg!(feature = "tch"),
            Backend::Flex => cfg!(feature = "flex"),
            Backend::Ndarray => cfg!(feature = "ndarray"),
        }
    }

    /// Whether the backend runs on a GPU here (wgpu on a hardware adapter, libtorch with a
    /// CUDA device).
    pub fn on_gpu(self) -> bool {
        match self {
            Backend::Wgpu => self.probe() == Probe::Ready,
            Backend::Tch => libtorch_cuda_devices() > 0,
            Backend::Flex | Backend::Ndarray => false,
        }
    }

    /// The backends this binary contains, in `auto`'s order of preference.
    pub fn compiled() -> Vec<Backend> {
        Self::ALL.into_iter().filter(|b| b.is_compiled()).collect()
    }

    /// The backends this binary contains that can run on this machine (a wgpu on a software
    /// adapter included), in `auto`'s order of preference.
    pub fn runnable() -> Vec<Backend> {
        Self::compiled()
            .into_iter()
            .filter(|b| !matches!(b.probe(), Probe::Missing(_)))
            .collect()
    }

    /// Resolves the name of a backend compiled into this binary; `auto` is not one (see
    /// [`select`](Self::select)).
    pub fn from_name(name: &str) -> Result<Backend, BackendError> {
        let wanted = name.trim().to_ascii_lowercase();
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

    /// Resolves a `--backend` value to a backend that can run here: `auto` takes the first
    /// compiled-in backend that runs on what it was made for, and says in one line through
    /// `notify` what it passed over; a named backend that cannot run is an error, and wgpu on
    /// a software adapter runs with a warning and the cheapest autotuning.
    pub fn select(name: &str, notify: &mut dyn FnMut(&str)) -> Result<Backend, BackendError> {
        if !name.trim().eq_ignore_ascii_case("auto") {
            let backend = Self::from_name(name)?;
            match backend.probe() {
                Probe::Ready => {}
                Probe::Software(adapter) => {
                    notify(&format!(
                        "warning: wgpu runs on {adapter}, a software renderer on the CPU: expect it \
                         to be many times slower than the CPU backends ({}); its autotuning is set \
                         to `minimal` unless CUBECL_AUTOTUNE_LEVEL says otherwise",
                        cpu_backends()
                    ));
                    cheap_autotuning();
                }
                Probe::Missing(reason) => {
                    return Err(BackendError::Unavailable {
                        name: backend.name(),
                        reason,
                    });
                }
            }
            return Ok(backend);
        }
        let mut passed = Vec::new();
        let mut software_wgpu = false;
        for backend in Self::compiled() {
            match backend.probe() {
                Probe::Ready => {
                    if !passed.is_empty() {
                        notify(&format!(
                            "backend auto: {backend} ({}; name one with --backend)",
                            passed.join("; ")
                        ));
                    }
                    return Ok(backend);
                }
                Probe::Software(adapter) => {
                    software_wgpu = true;
                    passed.push(format!(
                        "wgpu passed over: its only adapter is {adapter}, software on the CPU"
                    ));
                }
                Probe::Missing(reason) => passed.push(format!("{backend} passed over: {reason}")),
            }
        }
        // Nothing runs on what it was made for: wgpu on a software adapter still runs.
        if software_wgpu {
            return Self::select(Backend::Wgpu.name(), notify);
        }
        match Self::compiled().first() {
            Some(&backend) => Err(BackendError::Unavailable {
                name: backend.name(),
                reason: passed.join("; "),
            }),
            None => Err(BackendError::NoneCompiled),
        }
    }

    /// Whether the backend can run here: for wgpu, what its adapters are (no kernel runs).
    pub fn probe(self) -> Probe {
        match self {
            Backend::Wgpu => wgpu_probe(),
            Backend::Tch | Backend::Flex | Backend::Ndarray => Probe::Ready,
        }
    }

    /// The device for inference on this backend: the first GPU (for libtorch, when it has a
    /// CUDA one), else the CPU.
    pub fn device(self) -> Result<Device, BackendError> {
        #[allow(deprecated)] // ndarray and tch are deprecated in Burn 0.22, and still work
        match self {
            #[cfg(feature = "wgpu")]
            Backend::Wgpu => Ok(Device::wgpu(burn::tensor::DeviceKind::DefaultDevice)),
            #[cfg(feature = "tch")]
            Backend::Tch => Ok(match libtorch_cuda_devices() {
                0 => Device::libtorch(),
                _ => Device::libtorch_cuda(0),
            }),
            #[cfg(feature = "flex")]
            Backend::Flex => Ok(Device::flex()),
            #[cfg(feature = "ndarray")]
            Backend::Ndarray => Ok(Device::ndarray()),
            #[allow(unreachable_patterns)]
            other => Err(BackendError::NotCompiled {
                name: other.name(),
                available: available(),
            }),
        }
    }

    /// How many CPU threads the backend computes with, when it computes on the CPU: rayon's
    /// pool for flex and ndarray, libtorch's intra-op threads.
    pub fn cpu_threads(self) -> Option<usize> {
        match self {
            Backend::Flex | Backend::Ndarray => Some(rayon::current_num_threads()),
            #[cfg(feature = "tch")]
            Backend::Tch if libtorch_cuda_devices() == 0 => {
                usize::try_from(tch::get_num_threads()).ok()
            }
            _ => None,
        }
    }

    /// The device for training: [`device`](Self::device) with automatic differentiation.
    pub fn training_device(self) -> Result<Device, BackendError> {
        Ok(self.device()?.autodiff())
    }

    /// `count` devices for data-parallel training, with automatic differentiation: the
    /// first `count` GPUs of a GPU backend; for a CPU backend, its one device `count` times,
    /// shared by as many workers (it tests the engine; it is no faster than one).
    pub fn training_devices(self, count: usize) -> Result<Vec<Device>, BackendError> {
        if count <= 1 {
            return Ok(vec![self.training_device()?]);
        }
        let gpus = self.gpus();
        let devices = match self {
            Backend::Flex | Backend::Ndarray => vec![self.device()?; count],
            Backend::Tch if gpus.is_empty() => vec![self.device()?; count],
            _ if gpus.len() < count => {
                return Err(BackendError::TooFewDevices {
                    name: self.name(),
                    found: gpus.len(),
                    asked: count,
                });
            }
            _ => gpus.into_iter().take(count).collect(),
        };
        Ok(devices.into_iter().map(Device::autodiff).collect())
    }

    /// The GPUs this backend sees, as Burn lists them.
    fn gpus(self) -> Vec<Device> {
        match self {
            #[cfg(feature = "wgpu")]
            Backend::Wgpu if self.probe() == Probe::Ready => {
                Device::enumerate(burn::tensor::DeviceType::Wgpu).to_vec()
            }
            #[cfg(feature = "tch")]
            Backend::Tch => Device::enumerate(burn::tensor::DeviceType::LibTorch).to_vec(),
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Points Burn's default device at a CPU backend of this build (unless `BURN_DEVICE` is set).
///
/// Burn makes some tensors on its default device before moving them where they belong (an
/// optimiser's state, when a run resumes). That default is the first GPU runtime compiled
/// in: wgpu, started on a software adapter for nothing. A CPU backend runs everywhere. Call it before any other thread starts.
pub fn pin_default_device() {
    if std::env::var_os("BURN_DEVICE").is_some() {
        return;
    }
    let cpu = [Backend::Tch, Backend::Flex, Backend::Ndarray]
        .into_iter()
        .find(|b| b.is_compiled());
    if let Some(backend) = cpu {
        // SAFETY: called at the start of `main`, when no other thread reads the environment.
        unsafe { std::env::set_var("BURN_DEVICE", backend.name()) };
    }
}

/// Turns off Mesa's Vulkan device-selection layer where there is no session runtime directory
/// (`XDG_RUNTIME_DIR`, as on a server or in CI): looking for a display there, the layer prints
/// "XDG_RUNTIME_DIR is invalid or not set" at every adapter listing. It only reorders the
/// adapters, and wgpu orders them itself, GPUs before software. Call it before any other
/// thread starts.
pub fn quiet_vulkan_layer() {
    let session =
        std::env::var_os("XDG_RUNTIME_DIR").is_some_and(|dir| std::path::Path::new(&dir).is_dir());
    if cfg!(feature = "wgpu") && !session && std::env::var_os("NODEVICE_SELECT").is_none() {
        // SAFETY: called at the start of `main`, when no other thread reads the environment.
        unsafe { std::env::set_var("NODEVICE_SELECT", "1") };
    }
}

/// The names of the compiled-in backends, comma-separated.
fn available() -> String {
    let names: Vec<_> = Backend::compiled().iter().map(|b| b.name()).collect();
    names.join(", ")
}

/// The names of the compiled-in CPU backends, comma-separated.
fn cpu_backends() -> String {
    let names: Vec<_> = Backend::compiled()
        .into_iter()
        .filter(|b| matches!(b, Backend::Tch | Backend::Flex | Backend::Ndarray))
        .map(|b| b.name())
        .collect();
    match names.is_empty() {
        true => "none in this build".to_string(),
        false => names.join(", "),
    }
}

/// The help text of `--backend`, naming what this build contains.
pub fn help() -> String {
    format!(
        "Compute backend: auto, or one of this build's: {} (auto takes the first of wgpu, tch, flex, ndarray that the build has and that runs on a real device here)",
        available()
    )
}

/// Makes the CPU backends compute with `threads` threads: flex's and ndarray's rayon pool,
/// and libtorch's intra-op threads. Called once, before any computation.
pub fn set_cpu_threads(threads: usize) -> anyhow::Result<()> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build_global()
        .map_err(|e| anyhow::anyhow!("--threads {threads}: {e}"))?;
    #[cfg(feature = "tch")]
    tch::set_num_threads(i32::try_from(threads)?);
    Ok(())
}

/// CUDA devices libtorch sees: 0 with a CPU-only libtorch, or without the `tch` feature.
fn libtorch_cuda_devices() -> usize {
    #[cfg(feature = "tch")]
    return Device::enumerate(burn::tensor::DeviceType::LibTorch).len();
    #[cfg(not(feature = "tch"))]
    0
}

/// What `transformer-mt backends` prints: each backend of this build and what it runs on
/// here (wgpu: every graphics adapter, its type, graphics API and driver), then the one
/// `auto` takes.
pub fn describe() -> String {
    let mut lines = Vec::new();
    for backend in Backend::compiled() {
        let state = match backend.probe() {
            Probe::Ready => "runs here".to_string(),
            Probe::Software(adapter) => format!("runs on a software adapter only ({adapter})"),
            Probe::Missing(reason) => format!("cannot run here: {reason}"),
        };
        let kind = match backend {
            Backend::Wgpu => "GPU, any graphics API",
            Backend::Tch if libtorch_cuda_devices() > 0 => "libtorch, CUDA",
            Backend::Tch => "libtorch, CPU",
            Backend::Flex | Backend::Ndarray => "CPU",
        };
        lines.push(format!("{backend} ({kind}): {state}"));
        if backend == Backend::Wgpu {
            lines.extend(
                wgpu_adapters()
                    .into_iter()
                    .map(|a| format!("  adapter: {a}")),
            );
        }
    }
    let auto = match Backend::select("auto", &mut |_| {}) {
        Ok(backend) => backend.to_string(),
        Err(error) => format!("none ({error})"),
    };
    lines.push(format!("auto: {auto}"));
    lines.join("\n")
}

/// Each of wgpu's graphics adapters: name, type, graphics API, driver.
fn wgpu_adapters() -> Vec<String> {
    #[cfg(feature = "wgpu")]
    {
        use burn::tensor::wgpu::wgpu;
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapters = burn::tensor::read_sync(instance.enumerate_adapters(wgpu::Backends::all()));
        adapters
            .iter()
            .map(|adapter| {
                let info = adapter.get_info();
                format!(
                    "{} ({:?}, {:?}; driver {} {})",
                    info.name, info.device_type, info.backend, info.driver, info.driver_info
                )
            })
            .collect()
    }
    #[cfg(not(feature = "wgpu"))]
    Vec::new()
}

/// What wgpu's adapters are: none, software renderers only, or at least one real GPU.
fn wgpu_probe() -> Probe {
    #[cfg(feature = "wgpu")]
    {
        use burn::tensor::wgpu::wgpu;
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapters = burn::tensor::read_sync(instance.enumerate_adapters(wgpu::Backends::all()));
        let infos: Vec<wgpu::AdapterInfo> = adapters.iter().map(|a| a.get_info()).collect();
        if infos.is_empty() {
            return Probe::Missing(
                "no graphics adapter (no Vulkan, Metal, DirectX 12 or OpenGL driver)".to_string(),
            );
        }
        if infos
            .iter()
            .any(|info| info.device_type != wgpu::DeviceType::Cpu)
        {
            return Probe::Ready;
        }
        // One adapter is often listed by several graphics APIs (Vulkan and OpenGL).
        let mut adapters: Vec<(String, Vec<String>)> = Vec::new();
        for info in &infos {
            let api = format!("{:?}", info.backend);
            match adapters.iter_mut().find(|(name, _)| *name == info.name) {
                Some((_, apis)) => apis.push(api),
                None => adapters.push((info.name.clone(), vec![api])),
            }
        }
        let names: Vec<String> = adapters
            .into_iter()
            .map(|(name, apis)| format!("{name} on {}", apis.join(" and ")))
            .collect();
        Probe::Software(names.join(", "))
    }
    #[cfg(not(feature = "wgpu"))]
    Probe::Missing("not compiled in".to_string())
}

/// CubeCL's autotuning at its `minimal` level, unless `CUBECL_AUTOTUNE_LEVEL` names one:
/// on a software adapter each kernel tried costs seconds, and the default level tries many
/// for every new shape. Its results stay in CubeCL's cache (`target/environment/` in a
/// checkout, else `~/.cache/cubecl/`) for the next runs.
fn cheap_autotuning() {
    #[cfg(feature = "wgpu")]
    if std::env::var_os("CUBECL_AUTOTUNE_LEVEL").is_none() {
        use burn::cubecl::config::autotune::AutotuneLevel;
        use burn::cubecl::config::{CubeClRuntimeConfig, RuntimeConfig};
        let mut config = CubeClRuntimeConfig::from_current_dir().override_from_env();
        config.autotune.level = AutotuneLevel::Minimal;
        // Already read means a device is already in use: its level stays.
        CubeClRuntimeConfig::try_set(config);
    }
}
