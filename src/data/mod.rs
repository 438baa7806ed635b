//! From parallel text files to training batches.
//!
//! | step | file |
//! |---|---|
//! | read `english<TAB>portuguese` files, normalise, count skipped lines | [`corpus`] |
//! | deduplicate, split train / valid / test by a seeded hash | [`split`] |
//! | train and use the byte-level BPE tokenizer | [`tokenizer`] |
//! | drop long pairs, bucket by length under a token budget, pad into tensors | [`batch`] |
//! | the synthetic numbers corpus | [`synthetic`] |
//! | download the Tatoeba pairs | [`fetch`] |

pub mod batch;
pub mod corpus;
pub mod fetch;
pub mod random;
pub mod split;
pub mod synthetic;
pub mod tokenizer;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use batch::{EncodedPair, drop_long};
use corpus::{Direction, Pair, ReadOptions, ReadReport, read_corpus};
use split::{SplitConfig, Splits, split};
use tokenizer::SubwordTokenizer;

/// Where the data comes from and how it is cut into batches.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DataConfig {
    /// Pair files read when the command line gives none. Default: `data/eng-por.tsv`.
    pub files: Vec<PathBuf>,
    /// Files whose training pairs are seen this many times an epoch, to weigh a small corpus
    /// up against a large one (`{"../shared/data/tatoeba.eng-por.tsv": 4}`), named as in
    /// `files`; a file not read (other pairs given with `--data`) is left out. Validation and
    /// test pairs are never repeated. Default: none.
    pub oversample: BTreeMap<PathBuf, usize>,
    /// Pair files validated whole, each a validation set of its own beside the held-out part
    /// of each of `files` (`["../shared/data/ntrex128.eng-por.dev.tsv"]`); never trained on.
    /// Default: none.
    pub valid: Vec<PathBuf>,
    /// Where the corpus is downloaded from when none of `files` exists. Default: the
    /// ManyThings.org export of the Tatoeba English–Portuguese pairs.
    pub url: String,
    /// Where that download is written, and read from when none of `files` exists.
    /// Default: `data/eng-por.tsv`.
    pub download_to: PathBuf,
    /// `en-pt` (default) or `pt-en`.
    pub direction: Direction,
    /// Lines with a side longer than this many characters are skipped. Default: 1000.
    pub max_chars: usize,
    /// Held-out fractions and the split's seed.
    pub split: SplitConfig,
    /// Tokens in each vocabulary, special tokens included. Default: 8000.
    pub vocab_size: usize,
    /// One vocabulary for both languages (default) or one per language.
    pub shared_vocab: bool,
    /// Pairs needing more positions than this are dropped: source tokens, or target tokens
    /// plus `<s>` (or `</s>`). Default: 100.
    pub max_len: usize,
    /// Token budget of a batch: sentences × longest side. Default: 4096.
    pub max_tokens: usize,
    /// Seed of the batch order. Default: 0.
    pub seed: u64,
}

impl Default for DataConfig {
    fn default() -> Self {
        Self {
            files: vec![PathBuf::from("data/eng-por.tsv")],
            oversample: BTreeMap::new(),
            valid: Vec::new(),
            url: fetch::DEFAULT_URL.to_string(),
            download_to: PathBuf::from(fetch::DEFAULT_OUTPUT),
            direction: Direction::EnPt,
            max_chars: 1000,
            split: SplitConfig::default(),
            vocab_size: 8000,
            shared_vocab: true,
            max_len: 100,
            max_tokens: 4096,
            seed: 0,
        }
    }
}

impl DataConfig {
    /// How the corpus files are read: the direction and the longest side kept.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            direction: self.direction,
            max_chars: self.max_chars,
        }
    }

    /// Checks the values; the error names the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        let fraction = |name: &str, value: f64| {
            if !(0.0..1.0).contains(&value) {
                bail!("`data.split.{name}` must be in [0, 1), got {value}");
            }
            Ok(())
        };
        fraction("valid_fraction", self.split.valid_fraction)?;
        fraction("test_fraction", self.split.test_fraction)?;
        if self.split.valid_fraction + self.split.test_fraction >= 1.0 {
            bail!("`data.split`: valid_fraction + test_fraction must leave pairs for training");
        }
        let minimum_vocab = tokenizer::SPECIAL_TOKENS.len() + 256;
        if self.vocab_size < minimum_vocab {
            bail!(
                "`data.vocab_size` must be at least {minimum_vocab} (4 special tokens and 256 bytes), got {}",
                self.vocab_size
            );
        }
        for (name, value) in [
            ("max_chars", self.max_chars),
            ("max_len", self.max_len),
            ("max_tokens", self.max_tokens),
        ] {
            if value == 0 {
                bail!("`data.{name}` must be at least 1, got 0");
            }
        }
        if let Some((file, _)) = self.oversample.iter().find(|(_, times)| **times == 0) {
            bail!(
                "`data.oversample`: {} must be seen at least once (1), got 0",
                file.display()
            );
        }
        if self.max_tokens < self.max_len {
            bail!(
                "`data.max_tokens` ({}) must hold one pair of max_len ({}) positions",
                self.max_tokens,
                self.max_len
            );
        }
        Ok(())
    }
}

/// The tokenizers of a run: one shared, or one per language.
#[derive(Clone, Debug)]
pub struct Vocabularies {
    /// The source side's tokenizer.
    pub source: SubwordTokenizer,
    /// The target side's tokenizer (the same as the source's when shared).
    pub target: SubwordTokenizer,
    /// Whether both sides share one vocabulary.
    pub shared: bool,
}

/// The file of a shared tokenizer in a run directory.
pub const SHARED_TOKENIZER: &str = "tokenizer.json";
/// The files of separate tokenizers in a run directory.
pub const SEPARATE_TOKENIZERS: [&str; 2] = ["tokenizer-source.json", "tokenizer-target.json"];

impl Vocabularies {
    /// Trains on the training pairs: one tokenizer over both sides, or one per side.
    pub fn train(pairs: &[Pair], vocab_size: usize, shared: bool) -> anyhow::Result<Self> {
        let sources = pairs.iter().map(|p| p.source.as_str());
        let targets = pairs.iter().map(|p| p.target.as_str());
        if shared {
            let tokenizer = SubwordTokenizer::train(sources.chain(targets), vocab_size)?;
            return Ok(Self {
                source: tokenizer.clone(),
                target: tokenizer,
                shared,
            });
        }
        Ok(Self {
            source: SubwordTokenizer::train(sources, vocab_size)?,
            target: SubwordTokenizer::train(targets, vocab_size)?,
            shared,
        })
    }

    /// Saves into `run_dir`: `tokenizer.json`, or one file per side.
    pub fn save(&self, run_dir: &Path) -> anyhow::Result<()> {
        if self.shared {
            self.source.save(&run_dir.join(SHARED_TOKENIZER))?;
        } else {
            self.source.save(&run_dir.join(SEPARATE_TOKENIZERS[0]))?;
            self.target.save(&run_dir.join(SEPARATE_TOKENIZERS[1]))?;
        }
        Ok(())
    }

    /// Loads what [`save`](Self::save) wrote.
    pub fn load(run_dir: &Path) -> anyhow::Result<Self> {
        let shared = run_dir.join(SHARED_TOKENIZER);
        if shared.exists() {
            let tokenizer = SubwordTokenizer::load(&shared)?;
            return Ok(Self {
                source: tokenizer.clone(),
                target: tokenizer,
                shared: true,
            });
        }
        let [source, target] = SEPARATE_TOKENIZERS.map(|name| run_dir.join(name));
        if !source.exists() {
            bail!(
                "{}: no {SHARED_TOKENIZER} or {} here: not a run directory of transformer-mt",
                run_dir.display(),
                SEPARATE_TOKENIZERS[0]
            );
        }
        Ok(Self {
            source: SubwordTokenizer::load(&source)?,
            target: SubwordTokenizer::load(&target)?,
            shared: false,
        })
    }

    /// Encodes pairs, in parallel.
    pub fn encode(&self, pairs: &[Pair]) -> anyhow::Result<Vec<EncodedPair>> {
        let sources: Vec<&str> = pairs.iter().map(|p| p.source.as_str()).collect();
        let targets: Vec<&str> = pairs.iter().map(|p| p.target.as_str()).collect();
        let (sources, targets) = rayon::join(
            || self.source.encode_batch(&sources),
            || self.target.encode_batch(&targets),
        );
        Ok(sources?
            .into_iter()
            .zip(targets?)
            .map(|(source, target)| EncodedPair { source, target })
            .collect())
    }
}

/// A corpus read, split, tokenized and encoded.
pub struct Prepared {
    /// What the reader kept and skipped.
    pub report: ReadReport,
    /// The three parts, as text.
    pub splits: Splits,
    /// The tokenizers, trained on the training part.
    pub vocabularies: Vocabularies,
    /// The encoded training pairs, oversampled files repeated, long ones dropped.
    pub train: Vec<EncodedPair>,
    /// Training pairs added by `data.oversample`.
    pub oversampled: usize,
    /// The validation sets, encoded, long pairs dropped, empty ones left out: the held-out
    /// part of each corpus file, then each of `data.valid`.
    pub valid: Vec<ValidSet>,
    /// Training and validation pairs dropped for needing over `max_len` positions.
    pub dropped_long: usize,
    /// How long each stage took: reading, splitting, tokenizer training, encoding.
    pub timings: Vec<(&'static str, Duration)>,
}

/// Reads `files`, splits them, trains the tokenizers on the training part and saves them in
/// `run_dir` (or uses `vocabularies`, those of a run being resumed), and encodes the training
/// and validation parts.
pub fn prepare(
    config: &DataConfig,
    files: &[PathBuf],
    vocabularies: Option<Vocabularies>,
    run_dir: &Path,
) -> anyhow::Result<Prepared> {
    config.validate()?;
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |stage| {
        timings.push((
            stage,
            std::mem::replace(&mut clock, Instant::now()).elapsed(),
        ))
    };

    let (pairs, report) = read_corpus(files, config.read_options())?;
    lap("read and normalise");
    let repeats = repeats(config, files, &report, &pairs);
    let valid_origins = valid_origins(&config.split, &report, &pairs);
    let splits = split(pairs, &config.split);
    if splits.train.is_empty() {
        bail!("no pair is left for training after the split: lower data.split's fractions");
    }
    lap("deduplicate and split");
    let vocabularies = match vocabularies {
        Some(vocabularies) => vocabularies,
        None => {
            let vocabularies =
                Vocabularies::train(&splits.train, config.vocab_size, config.shared_vocab)?;
            vocabularies
                .save(run_dir)
                .with_context(|| format!("saving the tokenizer in {}", run_dir.display()))?;
            vocabularies
        }
    };
    lap("train the tokenizer");
    let mut train = vocabularies.encode(&splits.train)?;
    let oversampled = oversample(&mut train, &splits.train, &repeats);
    let names = set_names(files.iter().chain(&config.valid));
    let mut by_file = vec![Vec::new(); files.len()];
    for pair in &splits.valid {
        by_file[valid_origins[pair]].push(pair.clone());
    }
    for path in &config.valid {
        by_file.push(read_corpus(std::slice::from_ref(path), config.read_options())?.0);
    }
    let mut valid = Vec::with_capacity(names.len());
    for (name, pairs) in names.into_iter().zip(by_file) {
        let pairs = vocabularies.encode(&pairs)?;
        valid.push(ValidSet { name, pairs });
    }
    lap("encode train and valid");
    let mut dropped_long = drop_long(&mut train, config.max_len);
    for set in &mut valid {
        dropped_long += drop_long(&mut set.pairs, config.max_len);
    }
    valid.retain(|set| !set.pairs.is_empty());
    Ok(Prepared {
        report,
        splits,
        vocabularies,
        train,
        oversampled,
        valid,
        dropped_long,
        timings,
    })
}

/// A validation set: the held-out part of one corpus file, or a file validated whole.
#[derive(Clone, Debug)]
pub struct ValidSet {
    /// Its name in the metrics (`BLEU tatoeba`): the file's name up to its first dot.
    pub name: String,
    /// Its pairs, encoded.
    pub pairs: Vec<EncodedPair>,
}

/// The validation sets' names of `files`, in order: each file's name up to its first dot
/// (`tatoeba` for `../shared/data/tatoeba.eng-por.tsv`, `stdin` for `-`), with `-2`, `-3`…
/// after a name already taken.
pub fn set_names<'a>(files: impl IntoIterator<Item = &'a PathBuf>) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for file in files {
        let stem = match file.to_str() {
            Some(corpus::STDIN) => "stdin".to_string(),
            _ => file
                .file_name()
                .map(|name| name.to_string_lossy())
                .and_then(|name| name.split('.').next().map(str::to_string))
                .filter(|stem| !stem.is_empty())
                .unwrap_or_else(|| "set".to_string()),
        };
        let mut name = stem.clone();
        let mut copy = 1;
        while names.contains(&name) {
            copy += 1;
            name = format!("{stem}-{copy}");
        }
        names.push(name);
    }
    names
}

/// The file (its index among those read) of each pair that the split holds out for
/// validation: the first file holding it, as the split keeps the first of duplicates.
fn valid_origins(split: &SplitConfig, report: &ReadReport, pairs: &[Pair]) -> HashMap<Pair, usize> {
    let mut origins = HashMap::new();
    let mut start = 0;
    for (file, &count) in report.pairs_per_file.iter().enumerate() {
        for pair in &pairs[start..start + count] {
            if split.part_of(&pair.source) == split::Part::Valid {
                origins.entry(pair.clone()).or_insert(file);
            }
        }
        start += count;
    }
    origins
}

/// How many times each pair of an oversampled file among `files` is to be seen, by pair.
fn repeats(
    config: &DataConfig,
    files: &[PathBuf],
    report: &ReadReport,
    pairs: &[Pair],
) -> HashMap<Pair, usize> {
    let mut repeats = HashMap::new();
    let mut start = 0;
    for (file, &count) in files.iter().zip(&report.pairs_per_file) {
        let end = start + count;
        if let Some(&times) = config.oversample.get(file).filter(|t| **t > 1) {
            repeats.extend(pairs[start..end].iter().map(|p| (p.clone(), times)));
        }
        start = end;
    }
    repeats
}

/// Appends `times - 1` copies of each encoded training pair whose text `repeats` names;
/// returns the number added.
fn oversample(
    train: &mut Vec<EncodedPair>,
    text: &[Pair],
    repeats: &HashMap<Pair, usize>,
) -> usize {
    let before = train.len();
    for (index, pair) in text.iter().enumerate() {
        if let Some(&times) = repeats.get(pair) {
            let encoded = train[index].clone();
            train.extend(std::iter::repeat_n(encoded, times - 1));
        }
    }
    train.len() - before
}

/// The corpus files to read: `given` on the command line, else the config's `files`. When
/// none of those exists, the config's `download_to`, fetched from its `url` first if missing
/// (`notify` hears of the fallback before the download starts); when that fails, says how to
/// provide data.
pub fn corpus_files(
    config: &DataConfig,
    given: &[PathBuf],
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<Vec<PathBuf>> {
    if !given.is_empty() {
        return Ok(given.to_vec());
    }
    let files = &config.files;
    if files.iter().any(|f| f.exists()) {
        return Ok(files.clone());
    }
    let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
    let names = names.join(", ");
    let download = &config.download_to;
    if download.exists() {
        notify(&format!(
            "{names} not found: reading {}",
            download.display()
        ));
        return Ok(vec![download.clone()]);
    }
    if config.url.is_empty() {
        if files.is_empty() {
            bail!(
                "no corpus: give pair files with `--data FILE...` or set `data.files` in the config"
            );
        }
        return Ok(files.clone());
    }
    notify(&format!(
        "{names} not found: downloading the Tatoeba English–Portuguese pairs from {} into {}",
        config.url,
        download.display()
    ));
    match fetch::fetch(&config.url, download) {
        Ok(bytes) => {
            notify(&format!("wrote {} ({bytes} bytes)", download.display()));
            Ok(vec![download.clone()])
        }
        Err(error) => bail!(
            "no corpus: {names} does not exist and {error}. Give pair files with `--data FILE...` \
             (for example ../shared/data/tatoeba.eng-por.tsv) or download them with \
             `transformer-mt data fetch --url URL --output {}`",
            download.display()
        ),
    }
}
