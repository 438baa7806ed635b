//! The JSON configuration file of a run.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::{Deserialize, Serialize};

use crate::data::DataConfig;

/// The configuration read when `--config` is not given, if it exists.
pub const DEFAULT_PATH: &str = "config/default.json";

/// Everything a run is configured by. Missing fields take their defaults; unknown ones are
/// an error, so that a misspelt setting is not silently ignored.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RunConfig {
    /// The corpus, its split, the tokenizer and the batches.
    pub data: DataConfig,
}

impl RunConfig {
    /// Reads and validates `path`; errors name the file and, from serde, the field and line.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("{}: cannot read the configuration", path.display()))?;
        let config: Self = serde_json::from_str(&text)
            .with_context(|| format!("{}: invalid configuration", path.display()))?;
        config
            .data
            .validate()
            .with_context(|| format!("{}: invalid configuration", path.display()))?;
        Ok(config)
    }

    /// `path` when given; else [`DEFAULT_PATH`] when it exists; else the built-in defaults.
    pub fn load_or_default(path: Option<&PathBuf>) -> anyhow::Result<Self> {
        match path {
            Some(path) => Self::load(path),
            None if Path::new(DEFAULT_PATH).exists() => Self::load(Path::new(DEFAULT_PATH)),
            None => Ok(Self::default()),
        }
    }
}
