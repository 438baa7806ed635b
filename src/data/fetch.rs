//! Downloading the Tatoeba English–Portuguese pairs when no corpus is at hand.
//!
//! The default source is the ManyThings.org export of Tatoeba (`por-eng.zip`, whose
//! `por.txt` holds `english<TAB>portuguese<TAB>attribution` lines, CC-BY 2.0 FR). A plain
//! tab-separated file at the address works as well. The file is written whole or not at all.

use std::io::{Cursor, Read};
use std::path::{Path, PathBuf};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

/// Where the pairs come from by default.
pub const DEFAULT_URL: &str = "https://www.manythings.org/anki/por-eng.zip";

/// Where `data fetch` writes the pairs, and where a missing corpus is downloaded to.
pub const DEFAULT_OUTPUT: &str = "data/eng-por.tsv";

/// Largest download accepted (the real file is about 10 MB).
const MAX_BYTES: u64 = 512 * 1024 * 1024;

/// A download that did not give a corpus file.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// The server could not be reached or did not answer with the file.
    #[error("cannot download {url}: {message}")]
    Download {
        /// The address.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The download is a zip archive without a `.txt` or `.tsv` member.
    #[error("{url}: the zip archive holds no .txt or .tsv file of pairs")]
    NoPairsInArchive {
        /// The address.
        url: String,
    },
    /// The archive is damaged.
    #[error("{url}: cannot unpack the zip archive: {message}")]
    BadArchive {
        /// The address.
        url: String,
        /// What went wrong.
        message: String,
    },
    /// The file could not be written.
    #[error("{}: cannot write: {source}", path.display())]
    Write {
        /// The destination.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// Downloads `url` and writes its pairs to `destination` (unpacking a zip archive), showing a
/// progress bar on a terminal. Returns the number of bytes written.
pub fn fetch(url: &str, destination: &Path) -> Result<u64, FetchError> {
    let download_error = |message: String| FetchError::Download {
        url: url.to_string(),
        message,
    };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(Duration::from_secs(20)))
        .timeout_recv_body(Some(Duration::from_secs(600)))
        .user_agent(concat!("transformer-mt/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent
        .get(url)
        .call()
        .map_err(|e| download_error(e.to_string()))?;
    let length = response
        .headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());

    let progress = match length {
        Some(total) => ProgressBar::new(total).with_style(
            ProgressStyle::with_template("{msg} {bar:40} {bytes}/{total_bytes} {bytes_per_sec}")
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
        ),
        None => ProgressBar::new_spinner(),
    }
    .with_message(format!("downloading {url}"));
    let mut body = Vec::with_capacity(length.unwrap_or(0) as usize);
    let reader = response.body_mut().with_config().limit(MAX_BYTES).reader();
    progress
        .wrap_read(reader)
        .read_to_end(&mut body)
        .map_err(|e| download_error(e.to_string()))?;
    progress.finish_and_clear();

    let pairs = if body.starts_with(b"PK\x03\x04") {
        unzip_pairs(url, &body)?
    } else {
        body
    };
    crate::fs::write_atomic(destination, &pairs).map_err(|source| FetchError::Write {
        path: destination.to_path_buf(),
        source,
    })?;
    Ok(pairs.len() as u64)
}

/// The largest `.txt` or `.tsv` member of a zip archive (ManyThings puts the pairs in
/// `por.txt` beside a short `_about.txt`).
fn unzip_pairs(url: &str, bytes: &[u8]) -> Result<Vec<u8>, FetchError> {
    let bad = |e: zip::result::ZipError| FetchError::BadArchive {
        url: url.to_string(),
        message: e.to_string(),
    };
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(bad)?;
    let mut best: Option<(usize, u64)> = None;
    for index in 0..archive.len() {
        let member = archive.by_index(index).map_err(bad)?;
        let name = member.name().to_ascii_lowercase();
        if (name.ends_with(".txt") || name.ends_with(".tsv"))
            && best.is_none_or(|(_, size)| member.size() > size)
        {
            best = Some((index, member.size()));
        }
    }
    let (index, size) = best.ok_or_else(|| FetchError::NoPairsInArchive {
        url: url.to_string(),
    })?;
    let mut pairs = Vec::with_capacity(size as usize);
    archive
        .by_index(index)
        .map_err(bad)?
        .read_to_end(&mut pairs)
        .map_err(|e| FetchError::BadArchive {
            url: url.to_string(),
            message: e.to_string(),
        })?;
    Ok(pairs)
}
