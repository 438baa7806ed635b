//! Translating with a trained run: load it, encode, search, decode.
//!
//! | part | file |
//! |---|---|
//! | greedy and beam search, cached or recomputed decoding | [`search`] |
//! | a line of text cut into its sentences | [`segment`] |

pub mod command;
pub mod search;
pub mod segment;

use std::io::IsTerminal;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::{Context, anyhow, bail};
use burn::tensor::Device;
use indicatif::{ProgressBar, ProgressStyle};

use crate::backend::Backend;
use crate::data::batch::padded;
use crate::data::{Vocabularies, tag_source, tag_token};
use crate::model::Transformer;
pub use crate::model::packed::Precision;
use crate::run::{RunDir, weights};
use search::{BeamOptions, Decoding, Hypothesis, beam_search, greedy};

/// How to search for translations.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SearchSettings {
    /// Beam size; 1 is greedy search.
    pub beam: usize,
    /// α of the GNMT length penalty.
    pub alpha: f64,
    /// No `n`-gram of target tokens twice in a translation; 0: no limit.
    pub no_repeat_ngram: usize,
    /// Translations returned per sentence.
    pub n_best: usize,
    /// Longest translation in tokens; at most the translator's `positions - 1`.
    pub max_tokens: usize,
    /// Cached or recomputed decoding.
    pub decoding: Decoding,
    /// Sentences decoded together.
    pub batch_size: usize,
    /// The number format of the products by the model's weight matrices.
    pub precision: Precision,
}

impl SearchSettings {
    /// Beam size unless told otherwise.
    pub const DEFAULT_BEAM: usize = 4;
    /// α of the length penalty unless told otherwise: the best BLEU of a grid on the news dev
    /// set and the Tatoeba validation pairs together (`docs/recipe.md`).
    pub const DEFAULT_ALPHA: f64 = 1.4;
    /// `n` of the repeated `n`-grams left out unless told otherwise: none. On the dev sets
    /// `n` = 3 removes the loops at no cost, but subword `n`-grams also forbid a word of three
    /// pieces twice, and legitimate repetition (numbers) suffers (`docs/recipe.md`).
    pub const DEFAULT_NO_REPEAT_NGRAM: usize = 0;
    /// Sentences decoded together unless told otherwise.
    pub const DEFAULT_BATCH_SIZE: usize = 64;

    /// Checks the values; the error names the command line's option.
    pub fn validate(&self) -> anyhow::Result<()> {
        let Self {
            beam,
            alpha,
            n_best,
            ..
        } = *self;
        if beam == 0 || self.batch_size == 0 || self.max_tokens == 0 {
            bail!("--beam, --batch-size and --max-len must be at least 1");
        }
        if n_best == 0 || n_best > beam {
            bail!("--n-best must be between 1 and --beam ({beam}), got {n_best}");
        }
        if !(alpha.is_finite() && alpha >= 0.0) {
            bail!("--length-penalty must be a number of at least 0, got {alpha}");
        }
        if self.precision == Precision::Bf16 && self.decoding == Decoding::Recompute {
            bail!("--precision bf16 is for cached decoding: leave out --no-cache");
        }
        Ok(())
    }
}

/// Lines encoded for the model, sentence by sentence, each sentence cut to its positions.
#[derive(Clone, Debug)]
pub struct Sources {
    /// Each sentence's source ids.
    pub ids: Vec<Vec<u32>>,
    /// The indices of the lines with a sentence that was cut.
    pub cut: Vec<usize>,
    /// The model's positions, the length they were cut to.
    pub max_len: usize,
    /// Line `i`'s sentences are `ids[bounds[i]..bounds[i + 1]]`.
    bounds: Vec<usize>,
}

impl Sources {
    /// How many lines were encoded.
    pub fn lines(&self) -> usize {
        self.bounds.len() - 1
    }

    /// The translations of each line from those of its sentences (`translations[i]` those of
    /// `ids[i]`): a line of one sentence keeps its own; a line of several joins theirs with a
    /// space, its `k`-th translation the `k`-th of each sentence with the sum of their scores
    /// (as many as the sentence with fewest has); a blank line translates to an empty one.
    pub fn join(&self, translations: Vec<Vec<Translation>>) -> Vec<Vec<Translation>> {
        let mut translations = translations.into_iter();
        self.bounds
            .windows(2)
            .map(|line| {
                let sentences: Vec<Vec<Translation>> =
                    translations.by_ref().take(line[1] - line[0]).collect();
                match sentences.len() {
                    0 => vec![Translation::default()],
                    1 => sentences.into_iter().next().unwrap_or_default(),
                    _ => {
                        let n = sentences.iter().map(Vec::len).min().unwrap_or(0);
                        (0..n)
                            .map(|k| Translation {
                                text: sentences
                                    .iter()
                                    .map(|s| s[k].text.as_str())
                                    .collect::<Vec<_>>()
                                    .join(" "),
                                score: sentences.iter().map(|s| s[k].score).sum(),
                                tokens: sentences
                                    .iter()
                                    .flat_map(|s| s[k].tokens.iter().copied())
                                    .collect(),
                            })
                            .collect()
                    }
                }
            })
            .collect()
    }

    /// The one warning about the lines that were cut, if any. With `first_line`, the lines
    /// are counted from 1 plus it, and the first five cut are named; without, one line is
    /// "the sentence".
    pub fn warning(&self, first_line: Option<usize>) -> Option<String> {
        if let Some(first_line) = first_line {
            let mut lines = CutLines::new(self.max_len);
            lines.add(first_line, self);
            return lines.warning();
        }
        let max_len = self.max_len;
        let rest = format!("longer than the model's {max_len} positions");
        match self.cut.len() {
            0 => None,
            1 if self.lines() == 1 => Some(format!(
                "warning: the sentence is {rest}: translating its first {max_len} tokens"
            )),
            n => Some(format!(
                "warning: {n} sentences are {rest}: translating their first {max_len} tokens"
            )),
        }
    }
}

/// The lines of an input cut to the model's positions, gathered block by block into one
/// warning that counts them and names the first five.
#[derive(Clone, Debug)]
pub struct CutLines {
    count: usize,
    /// Line numbers, counted from 1.
    first: Vec<usize>,
    max_len: usize,
}

impl CutLines {
    /// Lines named in the warning.
    const NAMED: usize = 5;

    /// No line cut yet, of a model with `max_len` positions.
    pub fn new(max_len: usize) -> Self {
        Self {
            count: 0,
            first: Vec::new(),
            max_len,
        }
    }

    /// Counts the sentences of `sources` that were cut, the first of them line
    /// `first_line + 1`.
    pub fn add(&mut self, first_line: usize, sources: &Sources) {
        self.count += sources.cut.len();
        let room = Self::NAMED - self.first.len();
        self.first
            .extend(sources.cut.iter().take(room).map(|i| first_line + i + 1));
    }

    /// The warning, if any line was cut.
    pub fn warning(&self) -> Option<String> {
        let max_len = self.max_len;
        let rest = format!("longer than the model's {max_len} positions");
        let numbers: Vec<String> = self.first.iter().map(usize::to_string).collect();
        match self.count {
            0 => None,
            1 => Some(format!(
                "warning: line {} is {rest}: translating its first {max_len} tokens",
                numbers[0]
            )),
            n => Some(format!(
                "warning: {n} lines are {rest} (lines {}{}): translating their first {max_len} tokens",
                numbers.join(", "),
                if n > numbers.len() { ", …" } else { "" }
            )),
        }
    }
}

/// One translation of a sentence; the default is the empty one, of an empty sentence.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Translation {
    /// The detokenised text.
    pub text: String,
    /// The search's score (log-probability over the length penalty).
    pub score: f64,
    /// The target token ids.
    pub tokens: Vec<u32>,
}

/// How many times its training length (`data.max_len`) a model translates: sources and
/// translations up to that many tokens, extrapolated by the sinusoidal positions, instead of
/// cut at the training length. 2× covers every sentence of the news dev set and its reference
/// (at most 146 source tokens for the shipped model's 100 positions); `docs/recipe.md` has
/// what it changed there.
pub const POSITIONS_PER_TRAINED: usize = 2;

/// The run's `data.default_tag`, read from its `config.json` when it has one that names it.
fn default_tag(run: &RunDir) -> Option<String> {
    let text = std::fs::read_to_string(run.config_path()).ok()?;
    let config: serde_json::Value = serde_json::from_str(&text).ok()?;
    config["data"]["default_tag"].as_str().map(str::to_string)
}

/// The longest translation searched for a source of `len` tokens, unless `--max-len` or the
/// positions say less: 1.5 × len + 10, each sentence its own in any batch. Every reference of
/// the news dev set fits (its target tokens are 1.07× the source's on average), and a model
/// looping on text unlike its training stops there: with the positions alone, 10 of the
/// 1,997 news sentences ran on to 150 tokens or more (`docs/recipe.md`).
pub fn output_limit(len: usize) -> usize {
    len + len / 2 + 10
}

/// A trained model with its tokenizer, ready to translate.
pub struct Translator {
    model: Transformer,
    vocabularies: Vocabularies,
    /// Longest sequence the model trained on, `data.max_len`; the model itself has
    /// [`POSITIONS_PER_TRAINED`] times as many positions.
    max_len: usize,
    /// Width of the model's vectors.
    d_model: usize,
    /// The domain tag sources are translated with (`doc` for `<doc>`), if any.
    tag: Option<String>,
    /// `model` with its products in bfloat16, made at the first search that asks for it.
    bf16_model: OnceLock<Transformer>,
    backend: Backend,
    device: Device,
}

impl Translator {
    /// Loads the run directory's model configuration, tokenizer and best weights on `backend`.
    pub fn load(run: &RunDir, backend: Backend) -> anyhow::Result<Self> {
        run.ensure_directory()?;
        let weights = run.trained_weights()?;
        let config = run.model_config()?;
        let vocabularies = Vocabularies::load(run.path())?;
        for (side, tokenizer, expected) in [
            ("source", &vocabularies.source, config.src_vocab_size),
            ("target", &vocabularies.target, config.tgt_vocab_size),
        ] {
            if tokenizer.vocab_size() != expected {
                bail!(
                    "{}: the {side} tokenizer has {} tokens but model.json expects {expected}",
                    run.path().display(),
                    tokenizer.vocab_size()
                );
            }
        }
        let device = backend.device()?;
        let model = config
            .init(&device)
            .map_err(|e| anyhow!("{}: {e}", run.model_config_path().display()))?;
        let model =
            weights::load(model, &weights)?.with_max_len(config.max_len * POSITIONS_PER_TRAINED);
        // Where the step's values lie in this process's memory, the weights are packed once.
        let model = match backend {
            Backend::Flex => model.with_packed_weights(Precision::F32),
            _ => model,
        };
        Ok(Self {
            model,
            vocabularies,
            max_len: config.max_len,
            d_model: config.d_model,
            tag: default_tag(run),
            bf16_model: OnceLock::new(),
            backend,
            device,
        })
    }

    /// Translates with domain tag `tag` instead of the run's `data.default_tag`; `None`
    /// keeps that. A tag the model did not train with is refused.
    pub fn with_tag(self, tag: Option<&str>) -> anyhow::Result<Self> {
        let Some(tag) = tag else {
            return Ok(self);
        };
        if !self.vocabularies.source.has_token(&tag_token(tag)) {
            bail!(
                "--tag {tag}: this model did not train with that domain tag (its tokenizer has no {} token); \
                 the tags of a run are its configuration's `data.tags`",
                tag_token(tag)
            );
        }
        Ok(Self {
            tag: Some(tag.to_string()),
            ..self
        })
    }

    /// The domain tag sources are translated with, if any.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The model.
    pub fn model(&self) -> &Transformer {
        &self.model
    }

    /// The model that searches in `precision`.
    fn model_in(&self, precision: Precision) -> &Transformer {
        match precision {
            Precision::F32 => &self.model,
            Precision::Bf16 => self
                .bf16_model
                .get_or_init(|| self.model.clone().with_bf16_weights()),
        }
    }

    /// The tokenizers.
    pub fn vocabularies(&self) -> &Vocabularies {
        &self.vocabularies
    }

    /// The device the model is on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// Longest sequence the model trained on, `data.max_len`.
    pub fn max_len(&self) -> usize {
        self.max_len
    }

    /// Longest source, and longest translation with `<s>`, it translates.
    pub fn positions(&self) -> usize {
        self.model.max_len()
    }

    /// Width of the model's vectors, `d_model`.
    pub fn d_model(&self) -> usize {
        self.d_model
    }

    /// Source ids of each sentence (trimmed, each a line of its own), cut to the
    /// [`positions`](Self::positions) it translates.
    pub fn encode<S: AsRef<str>>(&self, sentences: &[S]) -> anyhow::Result<Sources> {
        self.encode_lines(sentences, false)
    }

    /// Source ids of the sentences of each line: with `split`, the sentences
    /// [`segment::sentences`] finds in it (none in a blank line), else the line whole; each
    /// trimmed and cut to the [`positions`](Self::positions) it translates.
    /// [`Sources::join`] makes the translations of the sentences those of the lines.
    pub fn encode_lines<S: AsRef<str>>(&self, lines: &[S], split: bool) -> anyhow::Result<Sources> {
        let positions = self.positions();
        let mut sources = Sources {
            ids: Vec::with_capacity(lines.len()),
            cut: Vec::new(),
            max_len: positions,
            bounds: vec![0],
        };
        for (i, line) in lines.iter().enumerate() {
            let line = line.as_ref();
            let sentences = if split {
                segment::sentences(line)
            } else {
                vec![line.trim()]
            };
            for sentence in sentences {
                // A blank sentence stays empty, tag or no tag: it translates to an empty one.
                let mut ids = match sentence {
                    "" => Vec::new(),
                    _ => self
                        .vocabularies
                        .source
                        .encode(&tag_source(self.tag.as_deref(), sentence))
                        .with_context(|| format!("cannot tokenize {sentence:?}"))?,
                };
                if ids.len() > positions {
                    if sources.cut.last() != Some(&i) {
                        sources.cut.push(i);
                    }
                    ids.truncate(positions);
                }
                sources.ids.push(ids);
            }
            sources.bounds.push(sources.ids.len());
        }
        Ok(sources)
    }

    /// Translates encoded sentences: `settings.batch_size` at a time, batched shortest first
    /// so that a batch holds sentences of similar length (on several threads the longest
    /// batch is translated first), each result back in input order. An empty
    /// sentence translates to an empty one. `progress` hears of each batch done.
    pub fn translate(
        &self,
        sources: &[Vec<u32>],
        settings: &SearchSettings,
        mut progress: impl FnMut(usize),
    ) -> anyhow::Result<Vec<Vec<Translation>>> {
        let mut order: Vec<usize> = (0..sources.len()).collect();
        order.sort_by_key(|&i| sources[i].len());
        let chunks: Vec<&[usize]> = order.chunks(settings.batch_size.max(1)).collect();
        let max_tokens = settings
            .max_tokens
            .min(self.positions().saturating_sub(1))
            .max(1);
        let mut results: Vec<Vec<Translation>> = vec![Vec::new(); sources.len()];
        let workers = self.batch_workers(chunks.len());
        if workers == 1 {
            for chunk in chunks {
                for (i, translations) in
                    self.translate_batch(chunk, sources, settings, max_tokens)?
                {
                    results[i] = translations;
                }
                progress(chunk.len());
            }
            return Ok(results);
        }
        // libtorch gives each new thread the intra-op count last set, and its workers set 1;
        // other backends leave libtorch's process-wide count alone.
        #[cfg(feature = "tch")]
        let libtorch_threads = (self.backend == Backend::Tch).then(tch::get_num_threads);
        // Each thread takes the next batch as it becomes free, the longest first, so that no
        // thread is left with a long batch while the other has finished.
        let longest_first: Vec<&[usize]> = chunks.iter().rev().copied().collect();
        let taken = AtomicUsize::new(0);
        let (sender, receiver) = std::sync::mpsc::channel();
        let translated = std::thread::scope(|scope| {
            for _ in 0..workers {
                let sender = sender.clone();
                let (longest_first, taken) = (&longest_first, &taken);
                scope.spawn(move || {
                    // OpenMP's team size belongs to the calling thread: one per worker.
                    #[cfg(feature = "tch")]
                    if self.backend == Backend::Tch {
                        tch::set_num_threads(1);
                    }
                    let pool = match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
                        Ok(pool) => pool,
                        Err(e) => {
                            let _ = sender.send(Err(anyhow!("a decoding thread: {e}")));
                            return;
                        }
                    };
                    pool.install(|| {
                        while let Some(chunk) =
                            longest_first.get(taken.fetch_add(1, Ordering::Relaxed))
                        {
                            let found = self.translate_batch(chunk, sources, settings, max_tokens);
                            let failed = found.is_err();
                            if sender.send(found.map(|f| (chunk.len(), f))).is_err() || failed {
                                return;
                            }
                        }
                    });
                });
            }
            drop(sender);
            for found in receiver {
                let (len, found) = found?;
                for (i, translations) in found {
                    results[i] = translations;
                }
                progress(len);
            }
            Ok(results)
        });
        #[cfg(feature = "tch")]
        if let Some(threads) = libtorch_threads {
            tch::set_num_threads(threads);
        }
        translated
    }

    /// How many threads translate side by side, each its own batches: on flex and on libtorch
    /// on the CPU, one a thread, each running every operation on one thread (a rayon pool of
    /// one, an OpenMP team of one); else one, each operation on all threads. A decoding step's
    /// operations are too small for a second thread to pay inside them, at batch 1 and at
    /// batch 32 alike, and flex runs its elementwise work on one thread anyway
    /// (`BENCHMARKS.md`: greedy at batch 32 on flex, 63 sentences/s on two threads inside each
    /// operation against 116 with a batch a thread; on tch 1.4× at beam 4, 1.65× greedy), so
    /// the threads take a batch each instead; the price is one batch's memory per thread.
    fn batch_workers(&self, batches: usize) -> usize {
        let threads = match self.backend {
            Backend::Flex | Backend::Tch => self.backend.cpu_threads().unwrap_or(1),
            Backend::Wgpu | Backend::Ndarray => 1,
        };
        threads.min(batches).max(1)
    }

    /// The translations of the sentences `chunk` (indices into `sources`), decoded as one
    /// batch of at most `max_tokens` tokens, each with its index.
    fn translate_batch(
        &self,
        chunk: &[usize],
        sources: &[Vec<u32>],
        settings: &SearchSettings,
        max_tokens: usize,
    ) -> anyhow::Result<Vec<(usize, Vec<Translation>)>> {
        let (empty, nonempty): (Vec<usize>, Vec<usize>) =
            chunk.iter().partition(|&&i| sources[i].is_empty());
        let mut results: Vec<(usize, Vec<Translation>)> = empty
            .into_iter()
            .map(|i| (i, vec![Translation::default()]))
            .collect();
        if nonempty.is_empty() {
            return Ok(results);
        }
        let rows: Vec<Vec<u32>> = nonempty.iter().map(|&i| sources[i].clone()).collect();
        let max_tokens: Vec<usize> = rows
            .iter()
            .map(|row| max_tokens.min(output_limit(row.len())))
            .collect();
        let src = padded(&rows, &self.device);
        let model = self.model_in(settings.precision);
        let found: Vec<Vec<Hypothesis>> = if settings.beam <= 1 {
            greedy(
                model,
                src,
                0,
                &max_tokens,
                settings.no_repeat_ngram,
                settings.decoding,
            )
            .into_iter()
            .map(|h| vec![h])
            .collect()
        } else {
            let options = BeamOptions {
                beam: settings.beam,
                alpha: settings.alpha,
                n_best: settings.n_best,
                no_repeat_ngram: settings.no_repeat_ngram,
                normalise_on_host: matches!(self.backend, Backend::Flex | Backend::Ndarray),
            };
            beam_search(model, src, options, &max_tokens, settings.decoding)
        };
        for (&i, hypotheses) in nonempty.iter().zip(found) {
            let translations = hypotheses
                .into_iter()
                .map(|h| self.detokenize(h))
                .collect::<anyhow::Result<_>>()?;
            results.push((i, translations));
        }
        Ok(results)
    }

    /// [`translate`](Self::translate) with a progress bar on standard error when it is a
    /// terminal.
    pub fn translate_showing_progress(
        &self,
        sources: &[Vec<u32>],
        settings: &SearchSettings,
    ) -> anyhow::Result<Vec<Vec<Translation>>> {
        let bar = if std::io::stderr().is_terminal() {
            let bar = ProgressBar::new(sources.len() as u64);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {pos}/{len} sentences, {per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        } else {
            ProgressBar::hidden()
        };
        let translations = self.translate(sources, settings, |done| bar.inc(done as u64))?;
        bar.finish_and_clear();
        Ok(translations)
    }

    fn detokenize(&self, hypothesis: Hypothesis) -> anyhow::Result<Translation> {
        let text = self
            .vocabularies
            .target
            .decode(&hypothesis.tokens)
            .context("cannot detokenize a translation")?;
        Ok(Translation {
            text,
            score: hypothesis.score,
            tokens: hypothesis.tokens,
        })
    }
}
