//! From parallel text files to training batches.
//!
//! | step | file |
//! |---|---|
//! | read `english<TAB>portuguese` files, normalise, count skipped lines | [`corpus`] |
//! | deduplicate, split train / valid / test by a seeded hash | [`split`] |
//! | train and use the byte-level BPE tokenizer | [`tokenizer`] |
//! | drop long pairs, bucket by length under a token budget, pad into tensors | [`batch`] |
//! | epochs of a fixed size, drawn from the files by weight | [`draw`] |
//! | extra pairs joined from several, drawn every epoch | [`concat`] |
//! | the synthetic numbers corpus | [`synthetic`] |
//! | download the Tatoeba pairs | [`fetch`] |

pub mod batch;
pub mod concat;
pub mod corpus;
pub mod draw;
pub mod fetch;
pub mod masking;
pub mod names;
pub mod random;
pub mod split;
pub mod synthetic;
pub mod tokenizer;

use std::collections::{BTreeMap, HashSet};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

use batch::{EncodedPair, drop_long};
use concat::ConcatenateConfig;
use corpus::{Direction, Pair, ReadOptions, ReadReport, read_corpus};
use names::NamesConfig;
use split::{Part, SplitConfig, Splits, split};
use tokenizer::{MASK_TOKEN, SubwordTokenizer};

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
    /// Pairs an epoch trains on, drawn anew every epoch from the files' training pairs in the
    /// shares of `weights`, each file's pairs taken in a seeded order without repeats until
    /// all have been seen (see [`draw`]); `null`: every training pair once an epoch.
    /// Default: null.
    pub epoch_pairs: Option<usize>,
    /// With `epoch_pairs`: each file's weight in an epoch's draw, named as in `files`; a file
    /// not named weighs 1. Default: none.
    pub weights: BTreeMap<PathBuf, f64>,
    /// Concatenation augmentation: joined pairs added to every epoch (see [`concat`]).
    /// Default: none.
    pub concatenate: ConcatenateConfig,
    /// Name augmentation: pairs whose carried-over names are replaced by invented ones,
    /// added to every epoch (see [`names`]). Default: none.
    pub names: NamesConfig,
    /// Pair files validated whole, each a validation set of its own beside the held-out part
    /// of each of `files` (`["../shared/data/ntrex128.eng-por.dev.tsv"]`); never trained on.
    /// Default: none.
    pub valid: Vec<PathBuf>,
    /// A domain tag for each file named, as in `files` (Kobus, Crego & Senellart 2017):
    /// `{"../shared/data/software.eng-por.tsv": "ui"}`. The sources of a tagged file begin
    /// with the token `<ui>`, which the tokenizer keeps whole, so that the model learns each
    /// domain's style and a translation can ask for one. Default: none.
    pub tags: BTreeMap<PathBuf, String>,
    /// The tag of the sources of `valid` and of what `infer`, `eval`, `attention` and
    /// `serve` translate (unless `--tag` names another): one of `tags`'s. Default: none
    /// (untagged).
    pub default_tag: Option<String>,
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
            epoch_pairs: None,
            weights: BTreeMap::new(),
            concatenate: ConcatenateConfig::default(),
            names: NamesConfig::default(),
            valid: Vec::new(),
            tags: BTreeMap::new(),
            default_tag: None,
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
    /// How the corpus files of pairs are read: the direction and the longest side kept.
    pub fn read_options(&self) -> ReadOptions {
        ReadOptions {
            direction: self.direction,
            max_chars: self.max_chars,
            plain_text: false,
        }
    }

    /// The domain tags of `tags`, each once, sorted.
    pub fn tag_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.tags.values().cloned().collect();
        names.sort();
        names.dedup();
        names
    }

    /// The tag of `file`'s sources, if `tags` names one.
    pub fn tag_of(&self, file: &Path) -> Option<&str> {
        self.tags.get(file).map(String::as_str)
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
        if self.epoch_pairs == Some(0) {
            bail!("`data.epoch_pairs` must be at least 1, got 0");
        }
        if self.epoch_pairs.is_some() && !self.oversample.is_empty() {
            bail!(
                "`data.oversample` and `data.epoch_pairs` are both set: with `epoch_pairs`, weigh the files with `data.weights`"
            );
        }
        if self.epoch_pairs.is_none() && !self.weights.is_empty() {
            bail!("`data.weights` needs `data.epoch_pairs`: the pairs an epoch draws by them");
        }
        if let Some((file, weight)) = self
            .weights
            .iter()
            .find(|(_, w)| !(w.is_finite() && **w >= 0.0))
        {
            bail!(
                "`data.weights`: {} must weigh a finite number of at least 0, got {weight}",
                file.display()
            );
        }
        let share = self.concatenate.share;
        if !(0.0..=1.0).contains(&share) {
            bail!("`data.concatenate.share` must be in [0, 1], got {share}");
        }
        let share = self.names.share;
        if !(0.0..=1.0).contains(&share) {
            bail!("`data.names.share` must be in [0, 1], got {share}");
        }
        if self.concatenate.max_pairs < 2 {
            bail!(
                "`data.concatenate.max_pairs` must be at least 2 (a pair joined to another), got {}",
                self.concatenate.max_pairs
            );
        }
        for (file, tag) in &self.tags {
            let allowed = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
            if tag.is_empty() || tag.len() > 16 || !tag.chars().all(allowed) {
                bail!(
                    "`data.tags`: the tag of {} must be 1 to 16 letters, digits, `_` or `-`, got {tag:?}",
                    file.display()
                );
            }
        }
        if let Some(tag) = &self.default_tag
            && !self.tags.values().any(|t| t == tag)
        {
            bail!(
                "`data.default_tag` {tag:?} is none of `data.tags`'s ({}): the model would never have seen it",
                self.tag_names().join(", ")
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
    /// Trains on the training pairs: one tokenizer over both sides, or one per side; the
    /// source side keeps each of `extra` (domain tags such as `<doc>`, `[MASK]`) as one
    /// token.
    pub fn train(
        pairs: &[Pair],
        vocab_size: usize,
        shared: bool,
        extra: &[String],
    ) -> anyhow::Result<Self> {
        let sources = pairs.iter().map(|p| p.source.as_str());
        let targets = pairs.iter().map(|p| p.target.as_str());
        if shared {
            let tokenizer =
                SubwordTokenizer::train_with(sources.chain(targets), vocab_size, extra)?;
            return Ok(Self {
                source: tokenizer.clone(),
                target: tokenizer,
                shared,
            });
        }
        Ok(Self {
            source: SubwordTokenizer::train_with(sources, vocab_size, extra)?,
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

    /// Encodes the pairs an epoch's augmentation made, leaving out those over `max_len`
    /// positions. Encoding fails only on a tokenizer's internal error; the epoch then goes
    /// without them rather than stopping.
    pub fn encode_extra(&self, pairs: &[Pair], max_len: usize) -> Vec<EncodedPair> {
        let mut encoded = self.encode(pairs).unwrap_or_default();
        encoded.retain(|p| p.width() <= max_len);
        encoded
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
    /// The files read, in order.
    pub files: Vec<PathBuf>,
    /// The encoded training pairs, file after file, an oversampled file's repeated, long ones
    /// dropped.
    pub train: Vec<EncodedPair>,
    /// Each file's pairs in `train`.
    pub train_by_file: Vec<Range<usize>>,
    /// Each file's pairs in `splits.train`, the text of the training pairs.
    pub text_by_file: Vec<Range<usize>>,
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

/// What a model learns from each pair of the corpus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Text {
    /// The pair: a translation model.
    Pairs,
    /// The target side alone, each an [`EncodedPair`] with an empty source: a language model.
    Target,
    /// The source side alone, as the target of an [`EncodedPair`] with an empty source, and a
    /// [`MASK_TOKEN`] in the vocabulary: a masked language model.
    Masked,
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
    prepare_text(config, files, vocabularies, run_dir, Text::Pairs)
}

/// [`prepare`], of the pairs or of their target side alone (`text`).
pub fn prepare_text(
    config: &DataConfig,
    files: &[PathBuf],
    vocabularies: Option<Vocabularies>,
    run_dir: &Path,
    text: Text,
) -> anyhow::Result<Prepared> {
    config.validate()?;
    // A text is split by itself, as a source sentence is: each distinct text lands in one
    // part. Its source is cleared once split.
    let by_target = |mut pairs: Vec<Pair>| {
        for pair in &mut pairs {
            match text {
                Text::Pairs => {}
                Text::Target => pair.source.clone_from(&pair.target),
                Text::Masked => pair.target.clone_from(&pair.source),
            }
        }
        pairs
    };
    let target_alone = |pairs: &mut [Pair]| {
        if text != Text::Pairs {
            pairs.iter_mut().for_each(|pair| pair.source.clear());
        }
    };
    let mut timings = Vec::new();
    let mut clock = Instant::now();
    let mut lap = |stage| {
        timings.push((
            stage,
            std::mem::replace(&mut clock, Instant::now()).elapsed(),
        ))
    };

    // A language model reads one side of the pairs, so plain text serves it as well.
    let read = ReadOptions {
        plain_text: text != Text::Pairs,
        ..config.read_options()
    };
    let (pairs, report) = read_corpus(files, read)?;
    let pairs = by_target(pairs);
    lap("read and normalise");
    let counts = part_counts(&config.split, &report, &pairs);
    let mut splits = split(pairs, &config.split);
    for part in [&mut splits.train, &mut splits.valid, &mut splits.test] {
        target_alone(part);
    }
    if splits.train.is_empty() {
        bail!("no pair is left for training after the split: lower data.split's fractions");
    }
    lap("deduplicate and split");
    let vocabularies = match vocabularies {
        Some(vocabularies) => {
            if let Some(tag) = config
                .tag_names()
                .iter()
                .find(|tag| !vocabularies.source.has_token(&tag_token(tag)))
            {
                bail!(
                    "`data.tags`: the tokenizer this run takes over has no {} token: a run started \
                     from another keeps its tokenizer, so new domain tags need a fresh start",
                    tag_token(tag)
                );
            }
            vocabularies
        }
        None => {
            let mut extra: Vec<String> = config.tag_names().iter().map(|t| tag_token(t)).collect();
            if text == Text::Masked {
                extra.push(MASK_TOKEN.to_string());
            }
            let vocabularies = Vocabularies::train(
                &splits.train,
                config.vocab_size,
                config.shared_vocab,
                &extra,
            )?;
            vocabularies
                .save(run_dir)
                .with_context(|| format!("saving the tokenizer in {}", run_dir.display()))?;
            vocabularies
        }
    };
    lap("train the tokenizer");
    let names = set_names(files.iter().chain(&config.valid));
    let mut train = Vec::with_capacity(splits.train.len());
    let (mut train_by_file, mut text_by_file) = (Vec::new(), Vec::new());
    let mut valid = Vec::with_capacity(names.len());
    let (mut oversampled, mut dropped_long) = (0, 0);
    let (mut text, mut held_out) = (0..0, 0..0);
    for ((file, parts), name) in files.iter().zip(&counts).zip(&names) {
        text = text.end..text.end + parts[Part::Train as usize];
        held_out = held_out.end..held_out.end + parts[Part::Valid as usize];
        let tag = config.tag_of(file);
        let mut encoded = vocabularies.encode(&tagged(&splits.train[text.clone()], tag))?;
        dropped_long += drop_long(&mut encoded, config.max_len);
        let times = config.oversample.get(file).copied().unwrap_or(1);
        oversampled += encoded.len() * (times - 1);
        let first = train.len();
        for _ in 0..times {
            train.extend_from_slice(&encoded);
        }
        train_by_file.push(first..train.len());
        text_by_file.push(text.clone());
        let pairs = vocabularies.encode(&tagged(&splits.valid[held_out.clone()], tag))?;
        valid.push(ValidSet {
            name: name.clone(),
            pairs,
        });
    }
    for (path, name) in config.valid.iter().zip(&names[files.len()..]) {
        let (pairs, _) = read_corpus(std::slice::from_ref(path), read)?;
        let mut pairs = by_target(pairs);
        target_alone(&mut pairs);
        valid.push(ValidSet {
            name: name.clone(),
            pairs: vocabularies.encode(&tagged(&pairs, config.default_tag.as_deref()))?,
        });
    }
    lap("encode train and valid");
    for set in &mut valid {
        dropped_long += drop_long(&mut set.pairs, config.max_len);
    }
    valid.retain(|set| !set.pairs.is_empty());
    Ok(Prepared {
        report,
        splits,
        vocabularies,
        files: files.to_vec(),
        train,
        train_by_file,
        text_by_file,
        oversampled,
        valid,
        dropped_long,
        timings,
    })
}

/// The token of domain tag `tag`: `<doc>` for `doc`.
pub fn tag_token(tag: &str) -> String {
    format!("<{tag}>")
}

/// `source` behind the token of `tag`, if any: what the model reads.
pub fn tag_source(tag: Option<&str>, source: &str) -> String {
    match tag {
        Some(tag) => format!("{}{source}", tag_token(tag)),
        None => source.to_string(),
    }
}

/// `pairs` with each source behind the token of `tag`, if any.
pub fn tagged<'a>(pairs: &'a [Pair], tag: Option<&str>) -> std::borrow::Cow<'a, [Pair]> {
    match tag {
        None => std::borrow::Cow::Borrowed(pairs),
        Some(_) => std::borrow::Cow::Owned(
            pairs
                .iter()
                .map(|p| Pair {
                    source: tag_source(tag, &p.source),
                    target: p.target.clone(),
                })
                .collect(),
        ),
    }
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

/// How many pairs of each file (in the order read) each part of the split holds, as
/// [`split`] keeps them (the first of duplicates), by [`Part`]: since the parts keep the
/// files' order, each file's pairs in a part follow one another.
fn part_counts(config: &SplitConfig, report: &ReadReport, pairs: &[Pair]) -> Vec<[usize; 3]> {
    let mut seen = HashSet::with_capacity(pairs.len());
    let mut start = 0;
    report
        .pairs_per_file
        .iter()
        .map(|&count| {
            let mut parts = [0; 3];
            for pair in &pairs[start..start + count] {
                if seen.insert(pair) {
                    parts[config.part_of(&pair.source) as usize] += 1;
                }
            }
            start += count;
            parts
        })
        .collect()
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
