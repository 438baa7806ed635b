//! A run: its directory and its configuration, shared by every command and owned by none.
//!
//! | part | file |
//! |---|---|
//! | the run directory: configuration, vocabularies, weights, checkpoints, logs, lock | [`dir`] |
//! | the JSON configuration file: `data`, `model` and `training` sections | [`config`] |
//! | the `training` section | [`training`] |
//! | stored weights: any precision, half-precision storage, checkpoint averaging | [`weights`] |

pub mod config;
pub mod dir;
pub mod training;
pub mod weights;

pub use config::RunConfig;
pub use dir::{RunDir, RunLock, RunState};
pub use training::{Selection, TrainingConfig, Watched};
