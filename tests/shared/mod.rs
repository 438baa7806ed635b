//! What every test binary needs: the pure-Rust CPU backend that single-backend tests run on.
//! Every module of `tests/suite.rs` reaches it as `crate::shared`.

use burn::tensor::Device;
use transformer_mt::backend::Backend;

/// Flex when compiled in, else ndarray: deterministic, and never the slow software GPU.
pub fn cpu_backend() -> Backend {
    [Backend::Flex, Backend::Ndarray]
        .into_iter()
        .find(|b| b.is_compiled())
        .expect("the tests need the flex or ndarray feature")
}

/// The device of [`cpu_backend`].
#[allow(dead_code)] // the training tests run the binary and need only the backend's name
pub fn device() -> Device {
    cpu_backend()
        .device()
        .expect("a compiled-in backend has a device")
}
