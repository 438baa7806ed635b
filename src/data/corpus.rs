//! Reading parallel corpora: tab-separated files of `english<TAB>portuguese[<TAB>anything]`.
//!
//! Accepts the shared Tatoeba and software files and the ManyThings/Tatoeba `por.txt`
//! download (whose third column, the attribution, is ignored), and, for the language models,
//! plain text: a file without a tab on any line is one text a line, read as both sides. Text
//! is normalised to Unicode NFC with runs of whitespace collapsed to one space. Lines that cannot be used are skipped
//! and counted by reason; a file that is missing, a directory, binary, or holds no usable pair
//! is an error naming it.

use std::fmt;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

/// Which side of the file is translated into which.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Direction {
    /// English source, Portuguese target (the files' own order).
    #[default]
    #[serde(rename = "en-pt")]
    EnPt,
    /// Portuguese source, English target.
    #[serde(rename = "pt-en")]
    PtEn,
}

/// One sentence and its translation, normalised.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pair {
    /// The sentence to translate.
    pub source: String,
    /// Its translation.
    pub target: String,
}

/// Why a line was skipped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SkipReason {
    /// One side (or both) is empty after normalisation.
    EmptySide,
    /// The line has no tab between the two sides.
    NoTab,
    /// A side is longer than the configured number of characters.
    TooLong,
    /// The line is not valid UTF-8.
    NotUtf8,
}

impl SkipReason {
    const ALL: [SkipReason; 4] = [
        SkipReason::EmptySide,
        SkipReason::NoTab,
        SkipReason::TooLong,
        SkipReason::NotUtf8,
    ];
}

impl fmt::Display for SkipReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SkipReason::EmptySide => "empty side",
            SkipReason::NoTab => "no tab",
            SkipReason::TooLong => "too long",
            SkipReason::NotUtf8 => "not UTF-8",
        })
    }
}

/// A corpus file that cannot be read as pairs.
#[derive(Debug, thiserror::Error)]
pub enum CorpusError {
    /// The path does not exist.
    #[error("{}: no such file", .0.display())]
    NotFound(PathBuf),
    /// The path is a directory.
    #[error("{}: is a directory, not a tab-separated pair file", .0.display())]
    Directory(PathBuf),
    /// The file could not be read.
    #[error("{}: cannot read: {source}", path.display())]
    Unreadable {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file is UTF-16 text.
    #[error("{}: UTF-16 text, expected UTF-8 (convert it, e.g. `iconv -f UTF-16 -t UTF-8`)", .0.display())]
    Utf16(PathBuf),
    /// The file holds NUL bytes: not text.
    #[error(
        "{}: binary file (NUL byte at offset {offset}), expected UTF-8 text with one `english<TAB>portuguese` pair per line",
        path.display()
    )]
    Binary {
        /// The file.
        path: PathBuf,
        /// Where the first NUL byte is.
        offset: usize,
    },
    /// The file holds no tab at all: plain text, where pairs are needed.
    #[error(
        "{}: plain text (no tab in its {lines} line{}), expected `english<TAB>portuguese` \
         pairs: plain text, one sentence a line, trains a language model (`\"task\": \"lm\"` or \
         `\"mlm\"`)",
        path.display(),
        if *lines == 1 { "" } else { "s" }
    )]
    PlainText {
        /// The file.
        path: PathBuf,
        /// Its number of non-blank lines.
        lines: usize,
    },
    /// No line of the file gave a pair.
    #[error(
        "{}: no usable `english<TAB>portuguese` pair in {lines} lines{}",
        path.display(),
        first_problem.map(|(line, reason)| format!(" (line {line}: {reason})")).unwrap_or_default()
    )]
    NoPairs {
        /// The file.
        path: PathBuf,
        /// Its number of non-blank lines.
        lines: usize,
        /// The first skipped line and why.
        first_problem: Option<(usize, SkipReason)>,
    },
}

/// How many lines were read, kept and skipped.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadReport {
    /// Files read.
    pub files: usize,
    /// Pairs kept.
    pub pairs: usize,
    /// Pairs kept from each file, in the order read.
    pub pairs_per_file: Vec<usize>,
    /// Lines skipped, per [`SkipReason`] in the order of `SkipReason::ALL`.
    skipped: [usize; 4],
}

impl ReadReport {
    /// The number of lines skipped for `reason`.
    pub fn skipped(&self, reason: SkipReason) -> usize {
        self.skipped[reason as usize]
    }

    /// All lines skipped.
    pub fn total_skipped(&self) -> usize {
        self.skipped.iter().sum()
    }

    fn count(&mut self, reason: SkipReason) {
        self.skipped[reason as usize] += 1;
    }
}

impl fmt::Display for ReadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "read {} pairs from {} file{}",
            self.pairs,
            self.files,
            if self.files == 1 { "" } else { "s" }
        )?;
        if self.total_skipped() == 0 {
            return f.write_str("; no line skipped");
        }
        let reasons: Vec<String> = SkipReason::ALL
            .iter()
            .filter(|r| self.skipped(**r) > 0)
            .map(|r| format!("{} {r}", self.skipped(*r)))
            .collect();
        write!(
            f,
            "; skipped {} lines ({})",
            self.total_skipped(),
            reasons.join(", ")
        )
    }
}

/// How to read the files.
#[derive(Clone, Copy, Debug)]
pub struct ReadOptions {
    /// Which side is the source.
    pub direction: Direction,
    /// Longest side kept, in characters after normalisation.
    pub max_chars: usize,
    /// Whether a file without a tab on any line is plain text, each line one text given as
    /// both the source and the target (a language model reads one side), rather than an error.
    pub plain_text: bool,
}

/// `text` in Unicode NFC with every run of whitespace made one space, and none at the ends.
pub fn normalize(text: &str) -> String {
    let composed: String = text.nfc().collect();
    composed.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Writes `pairs` to `path` as `english<TAB>portuguese` lines, atomically: the file
/// [`read_corpus`] reads back.
pub fn write_pairs(path: &Path, pairs: &[Pair]) -> std::io::Result<()> {
    let lines: String = pairs
        .iter()
        .map(|p| format!("{}\t{}\n", p.source, p.target))
        .collect();
    crate::fs::write_atomic(path, lines.as_bytes())
}

/// The corpus path that stands for the standard input, as in most Unix tools.
pub const STDIN: &str = "-";

/// Reads and concatenates the pairs of `paths` (`-` is the standard input).
pub fn read_corpus(
    paths: &[PathBuf],
    options: ReadOptions,
) -> Result<(Vec<Pair>, ReadReport), CorpusError> {
    let mut pairs = Vec::new();
    let mut report = ReadReport::default();
    for path in paths {
        let before = pairs.len();
        read_file(path, options, &mut pairs, &mut report)?;
        report.files += 1;
        report.pairs_per_file.push(pairs.len() - before);
    }
    report.pairs = pairs.len();
    Ok((pairs, report))
}

fn read_file(
    path: &Path,
    options: ReadOptions,
    pairs: &mut Vec<Pair>,
    report: &mut ReadReport,
) -> Result<(), CorpusError> {
    if path.is_dir() {
        return Err(CorpusError::Directory(path.to_path_buf()));
    }
    let bytes = read_bytes(path).map_err(|source| match source.kind() {
        std::io::ErrorKind::NotFound => CorpusError::NotFound(path.to_path_buf()),
        _ => CorpusError::Unreadable {
            path: path.to_path_buf(),
            source,
        },
    })?;
    if bytes.starts_with(b"\xFF\xFE") || bytes.starts_with(b"\xFE\xFF") {
        return Err(CorpusError::Utf16(path.to_path_buf()));
    }
    if let Some(offset) = bytes.iter().position(|&b| b == 0) {
        return Err(CorpusError::Binary {
            path: path.to_path_buf(),
            offset,
        });
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    let plain = !text.contains(&b'\t');

    let before = pairs.len();
    let mut lines = 0;
    let mut first_problem = None;
    for (index, line) in text.split(|&b| b == b'\n').enumerate() {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        lines += 1;
        let parsed = if plain && options.plain_text {
            parse_text(line, options)
        } else {
            parse_line(line, options)
        };
        match parsed {
            Ok(pair) => pairs.push(pair),
            Err(reason) => {
                report.count(reason);
                first_problem.get_or_insert((index + 1, reason));
            }
        }
    }
    if plain && lines > 0 && !options.plain_text {
        return Err(CorpusError::PlainText {
            path: path.to_path_buf(),
            lines,
        });
    }
    if pairs.len() == before {
        return Err(CorpusError::NoPairs {
            path: path.to_path_buf(),
            lines,
            first_problem,
        });
    }
    Ok(())
}

/// The bytes of `path`, or of the standard input when it is `-`.
fn read_bytes(path: &Path) -> std::io::Result<Vec<u8>> {
    if path == Path::new(STDIN) {
        let mut bytes = Vec::new();
        std::io::stdin().lock().read_to_end(&mut bytes)?;
        return Ok(bytes);
    }
    fs::read(path)
}

/// A line of plain text: one text, both sides of the pair.
fn parse_text(line: &[u8], options: ReadOptions) -> Result<Pair, SkipReason> {
    let line = std::str::from_utf8(line).map_err(|_| SkipReason::NotUtf8)?;
    let text = normalize(line);
    if text.is_empty() {
        return Err(SkipReason::EmptySide);
    }
    if text.chars().count() > options.max_chars {
        return Err(SkipReason::TooLong);
    }
    Ok(Pair {
        source: text.clone(),
        target: text,
    })
}

fn parse_line(line: &[u8], options: ReadOptions) -> Result<Pair, SkipReason> {
    let line = std::str::from_utf8(line).map_err(|_| SkipReason::NotUtf8)?;
    let mut columns = line.split('\t');
    let english = columns.next().unwrap_or_default();
    let portuguese = columns.next().ok_or(SkipReason::NoTab)?;
    let (english, portuguese) = (normalize(english), normalize(portuguese));
    if english.is_empty() || portuguese.is_empty() {
        return Err(SkipReason::EmptySide);
    }
    let too_long = |s: &str| s.chars().count() > options.max_chars;
    if too_long(&english) || too_long(&portuguese) {
        return Err(SkipReason::TooLong);
    }
    Ok(match options.direction {
        Direction::EnPt => Pair {
            source: english,
            target: portuguese,
        },
        Direction::PtEn => Pair {
            source: portuguese,
            target: english,
        },
    })
}
