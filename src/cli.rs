//! The command line: `transformer-mt [--backend NAME] <train | infer | generate | fill-mask | eval | attention | serve | ...>`.

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};

use crate::backend::{self, Backend, BackendError};
use crate::bench::{self, Runs};
use crate::data::{self, batch, corpus, fetch, split, synthetic};
use crate::eval::{EvalOptions, eval};
use crate::fill_mask::MaskedModel;
use crate::generate::{LanguageModel, Sampling};
use crate::plot::{AttentionOptions, attention, curves};
use crate::run::RunConfig;
use crate::run::RunDir;
use crate::run::dir::DEFAULT_RUN;
use crate::run::weights::Precision;
use crate::serve::{self, ServeOptions, batcher::Batching};
use crate::train::average::{self, AverageOptions};
use crate::train::{Session, Start, Stop, TrainOptions, TrainReport};
use crate::translate::command::{InferOptions, infer};
use crate::translate::search::Decoding;
use crate::translate::{self, SearchSettings};

/// The Transformer of "Attention Is All You Need", learning English → Portuguese translation.
#[derive(Debug, Parser)]
#[command(name = "transformer-mt", version)]
pub struct Cli {
    /// Compute backend (the full help lists this build's).
    #[arg(
        long,
        global = true,
        env = "TRANSFORMER_MT_BACKEND",
        default_value = "auto",
        value_name = "NAME"
    )]
    pub backend: String,

    /// CPU threads the backends compute with [default: all cores]: libtorch's, flex's and
    /// ndarray's. Give each of two trainings on one machine its share: libtorch's threads
    /// wait on one another when two processes each take every core.
    #[arg(
        long,
        global = true,
        env = "TRANSFORMER_MT_THREADS",
        value_name = "N",
        value_parser = clap::value_parser!(u16).range(1..)
    )]
    pub threads: Option<u16>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Train a model on an English–Portuguese corpus: live dashboard, checkpoints, resume.
    Train(TrainArgs),
    /// Translate English sentences with a trained model.
    Infer(InferArgs),
    /// Continue prompts with a trained language model (a run of `task` "lm"): greedy, or
    /// sampled with a temperature, top-k and top-p from a seed.
    Generate(GenerateArgs),
    /// Fill in each [MASK] of sentences with a trained masked language model (a run of
    /// `task` "mlm"): its most probable tokens there, with their probabilities.
    FillMask(FillMaskArgs),
    /// Score translations with BLEU and chrF exactly as sacreBLEU does: a run's test pairs, or
    /// any hypothesis file against references.
    Eval(EvalArgs),
    /// Draw a sentence's attention weights (every layer and head) or the positional encoding
    /// as heatmaps, PNG and SVG.
    Attention(AttentionArgs),
    /// Draw the learning curves of runs (validation BLEU and loss against hours of training)
    /// as PNG and SVG, and print them as a Markdown table.
    Curves(CurvesArgs),
    /// Average the weights of a run's last checkpoints (or those named) into a new model
    /// directory, optionally stored in half precision.
    Average(AverageArgs),
    /// Get, make and inspect corpora: download, synthetic numbers, tokenizer and batches.
    #[command(subcommand)]
    Data(DataCommand),
    /// Measure training and translation speed and memory on a fixed shape, on every backend of
    /// this build (or the one --backend names), for comparison with PyTorch.
    Bench(BenchArgs),
    /// Serve the model over HTTP: a JSON API that batches concurrent requests, and a web page
    /// that translates and shows the attention.
    Serve(ServeArgs),
    /// List this build's backends and what each runs on here: wgpu's graphics adapters (type,
    /// API, driver), libtorch's CUDA devices, and the backend `auto` takes.
    Backends,
}

/// The arguments of `serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The trained run [default: artifacts/default once trained, else the shipped model,
    /// models/eng-por].
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Address and port to listen on; port 0 takes a free one.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub addr: std::net::SocketAddr,
    /// How long the first request of a batch waits for others, in milliseconds; with 0, a batch
    /// holds the requests that queued while the last one was decoded.
    #[arg(long, default_value_t = serve::DEFAULT_BATCH_WINDOW.as_millis() as u64, value_name = "MS")]
    pub batch_window: u64,
    /// Most sentences decoded together; 1 decodes each request alone (no batching).
    #[arg(long, default_value_t = serve::DEFAULT_MAX_BATCH, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_batch: u64,
    /// Largest request body, in bytes.
    #[arg(long, default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// Most sentences in one request.
    #[arg(long, default_value_t = 256, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_sentences: u64,
    /// Largest beam a request may ask.
    #[arg(long, default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_beam: u64,
    /// The number format of the products by the model's weight matrices (as `infer`'s).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
}

/// `transformer-mt data ...`
#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Download the Tatoeba English–Portuguese pairs (ManyThings.org export) into a file.
    Fetch {
        /// Address of a zip archive or a tab-separated file of pairs.
        #[arg(long, default_value = fetch::DEFAULT_URL)]
        url: String,
        /// Where to write the pairs.
        #[arg(long, default_value = fetch::DEFAULT_OUTPUT)]
        output: PathBuf,
    },
    /// Write a synthetic corpus: numbers up to a million in English and Portuguese words, or
    /// counts in both (--counting).
    Synthetic {
        /// Where to write the pairs.
        #[arg(long)]
        output: PathBuf,
        /// How many pairs: distinct numbers (at most 1,000,001: every number from 0 to a
        /// million), or counts.
        #[arg(long, default_value_t = 20_000)]
        pairs: usize,
        /// Seed of the numbers drawn.
        #[arg(long, default_value_t = 0)]
        seed: u64,
        /// Counts instead of numbers ("five, seven, nine" → "cinco, sete, nove"), --pairs of
        /// them: the corpus of config/gpt-tiny.json (its Portuguese side) and
        /// config/bert-tiny.json (its English side).
        #[arg(long)]
        counting: bool,
    },
    /// Read, split and tokenize a corpus as training would; save the tokenizer; report counts,
    /// batches and padding.
    Prepare(RunArgs),
    /// Write one part (train, valid or test) of pair files as a configuration's split cuts
    /// them: the held-out pairs of one corpus file, to score a model on with `eval --test`.
    Split {
        /// The configuration whose `data` section decides the split (a run's or a model's
        /// config.json will do) [default: config/default.json when present].
        #[arg(long)]
        config: Option<PathBuf>,
        /// Pair files, instead of the configuration's `data.files`.
        #[arg(long, num_args = 1..)]
        data: Vec<PathBuf>,
        /// The part to write.
        #[arg(long, value_enum, default_value_t = PartArg::Test)]
        part: PartArg,
        /// Where to write its pairs.
        #[arg(long)]
        output: PathBuf,
    },
}

/// A part of the split, as `data split --part` names it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PartArg {
    /// The training pairs.
    Train,
    /// The validation pairs.
    Valid,
    /// The test pairs.
    Test,
}

impl From<PartArg> for split::Part {
    fn from(part: PartArg) -> Self {
        match part {
            PartArg::Train => split::Part::Train,
            PartArg::Valid => split::Part::Valid,
            PartArg::Test => split::Part::Test,
        }
    }
}

/// The arguments of `train`.
#[derive(Debug, Args)]
pub struct TrainArgs {
    /// The configuration, the corpus and the run.
    #[command(flatten)]
    pub run: RunArgs,
    /// Number of epochs, overriding the configuration's `training.epochs`.
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Continue the run from its newest complete checkpoint, with its own configuration
    /// unless --config is given.
    #[arg(long)]
    pub resume: bool,
    /// Start from the weights and tokenizer of this trained run (a name under artifacts/, or
    /// a directory such as models/eng-por), with a fresh optimiser, the schedule starting at
    /// `training.start_step`: the same model shape is needed. Overrides the configuration's
    /// `training.init_from`.
    #[arg(long, value_name = "RUN", conflicts_with = "resume")]
    pub init_from: Option<PathBuf>,
    /// Train data-parallel on this many devices of the backend: its first N GPUs (CUDA,
    /// wgpu, libtorch with CUDA); on a CPU backend, N workers sharing the CPU, which tests
    /// the engine but is no faster. Each step takes one batch per device.
    #[arg(long, default_value_t = 1, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub devices: u16,
    /// Pair files validated whole after every epoch, each a validation set of its own beside
    /// the held-out part of each corpus file (e.g. ../shared/data/ntrex128.eng-por.dev.tsv);
    /// instead of the configuration's `data.valid`.
    #[arg(long, value_name = "FILE", num_args = 1..)]
    pub valid: Vec<PathBuf>,
}

/// The arguments of `curves`.
#[derive(Debug, Args)]
pub struct CurvesArgs {
    /// The runs: names (under artifacts/) or directories.
    #[arg(long, num_args = 1.., required = true)]
    pub run: Vec<PathBuf>,
    /// Where the figure goes: OUTPUT.png and OUTPUT.svg.
    #[arg(long, default_value = "curves")]
    pub output: PathBuf,
}

/// The arguments of `average`.
#[derive(Debug, Args)]
pub struct AverageArgs {
    /// The run whose checkpoints are averaged: a name (under artifacts/) or a directory.
    #[arg(long, default_value = DEFAULT_RUN)]
    pub run: PathBuf,
    /// Average the newest N complete checkpoints [default: all the run kept].
    #[arg(long, value_name = "N", conflicts_with = "epochs")]
    pub last: Option<usize>,
    /// Average the checkpoints of these epochs.
    #[arg(long, value_name = "EPOCH", num_args = 1.., value_delimiter = ',')]
    pub epochs: Vec<usize>,
    /// The new model directory (must not exist, or be empty).
    #[arg(long)]
    pub output: PathBuf,
    /// Store the weights as 16-bit floats: half the size, loaded back as 32-bit.
    #[arg(long)]
    pub half: bool,
}

/// How translations are searched for: shared by `infer`, `eval` and `attention`.
#[derive(Debug, Args)]
pub struct SearchArgs {
    /// Beam size; 1 is greedy search.
    #[arg(long, default_value_t = SearchSettings::DEFAULT_BEAM)]
    pub beam: usize,
    /// α of the length penalty ((5 + length) / 6)^α; 0 ranks by log-probability alone.
    #[arg(long, default_value_t = SearchSettings::DEFAULT_ALPHA)]
    pub length_penalty: f64,
    /// Never the same N target tokens twice in a translation: a token that would repeat an
    /// N-gram is left out of the choices; 0 allows any repetition.
    #[arg(long, value_name = "N", default_value_t = SearchSettings::DEFAULT_NO_REPEAT_NGRAM)]
    pub no_repeat_ngram: usize,
    /// Longest translation in tokens (at most twice the model's max_len, less one).
    #[arg(long)]
    pub max_len: Option<usize>,
    /// Sentences decoded together.
    #[arg(long, default_value_t = SearchSettings::DEFAULT_BATCH_SIZE)]
    pub batch_size: usize,
    /// Recompute the whole prefix at every step instead of caching keys and values.
    #[arg(long)]
    pub no_cache: bool,
    /// The domain tag the sources are translated with (`doc`, `ui`, `ev`), one the model
    /// trained with (its configuration's `data.tags`) [default: its `data.default_tag`].
    #[arg(long, value_name = "TAG")]
    pub tag: Option<String>,
    /// The number format of the products by the model's weight matrices: bf16 rounds each
    /// matrix and its input to bfloat16 and sums in float32 (faster; translations may differ
    /// from f32's).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
}

/// A number format, as `--precision` names it.
#[derive(Clone, Copy, Debug, clap::ValueEnum)]
pub enum PrecisionArg {
    /// float32.
    F32,
    /// bfloat16 weights and inputs, float32 sums.
    Bf16,
}

impl From<PrecisionArg> for translate::Precision {
    fn from(precision: PrecisionArg) -> Self {
        match precision {
            PrecisionArg::F32 => Self::F32,
            PrecisionArg::Bf16 => Self::Bf16,
        }
    }
}

impl SearchArgs {
    fn settings(&self, n_best: usize) -> anyhow::Result<SearchSettings> {
        let settings = SearchSettings {
            beam: self.beam,
            alpha: self.length_penalty,
            no_repeat_ngram: self.no_repeat_ngram,
            n_best,
            max_tokens: self.max_len.unwrap_or(usize::MAX),
            decoding: if self.no_cache {
                Decoding::Recompute
            } else {
                Decoding::Cached
            },
            batch_size: self.batch_size,
            precision: self.precision.into(),
        };
        settings.validate()?;
        Ok(settings)
    }
}

/// The arguments of `infer`.
#[derive(Debug, Args)]
pub struct InferArgs {
    /// The trained run: a name (under artifacts/) or a directory [default: artifacts/default
    /// once trained, else the shipped model, models/eng-por].
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// How translations are searched for.
    #[command(flatten)]
    pub search: SearchArgs,
    /// Print the N best translations of each sentence, as `index<TAB>score<TAB>translation`.
    #[arg(long, default_value_t = 1)]
    pub n_best: usize,
    /// Translate each line whole, as one sentence, instead of sentence by sentence (a line is
    /// cut into sentences after `.`, `!`, `?` or `…` before a capital, as Moses' splitter does).
    #[arg(long)]
    pub whole_lines: bool,
    /// Translate this file, a sentence a line.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Write the translations of --input here instead of the standard output.
    #[arg(long, requires = "input")]
    pub output: Option<PathBuf>,
    /// Sentences to translate; without them, --input or the standard input (a prompt on a
    /// terminal).
    pub text: Vec<String>,
}

/// The arguments of `generate`.
#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// The language model run: a name (under artifacts/) or a directory.
    #[arg(long, default_value = "gpt")]
    pub run: PathBuf,
    /// Most tokens written after each prompt (the model's positions permitting).
    #[arg(long, default_value_t = 60)]
    pub max_tokens: usize,
    /// Divides the logits before the softmax: below 1 sharpens, above 1 flattens; 0 takes
    /// the most probable token (greedy).
    #[arg(long, default_value_t = 0.8)]
    pub temperature: f64,
    /// Draw only among the K most probable tokens; 0 keeps them all.
    #[arg(long, default_value_t = 0, value_name = "K")]
    pub top_k: usize,
    /// Draw only among the fewest most probable tokens whose probabilities sum to P.
    #[arg(long, default_value_t = 0.95, value_name = "P")]
    pub top_p: f64,
    /// Seed of the draws: a seed gives the same text on every backend; the n-th prompt
    /// (from 0) draws with SEED + n.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// The number format of the products by the model's weight matrices (as `infer`'s).
    #[arg(long, value_enum, default_value_t = PrecisionArg::F32)]
    pub precision: PrecisionArg,
    /// Prompts; without them, the standard input, a prompt a line (an empty line: the model
    /// starts from nothing).
    pub prompt: Vec<String>,
}

/// The arguments of `fill-mask`.
#[derive(Debug, Args)]
pub struct FillMaskArgs {
    /// The masked language model run: a name (under artifacts/) or a directory.
    #[arg(long, default_value = "bert")]
    pub run: PathBuf,
    /// How many fillers of each [MASK] to print.
    #[arg(long, default_value_t = 5, value_name = "K")]
    pub top_k: usize,
    /// Sentences with one or more [MASK]; without them, the standard input, a sentence a line.
    pub text: Vec<String>,
}

/// The arguments of `eval`.
#[derive(Debug, Args)]
pub struct EvalArgs {
    /// The trained run: its test pairs are translated and scored [default: artifacts/default
    /// once trained, else the shipped model, models/eng-por].
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Pairs (`english<TAB>portuguese` lines) to translate and score instead of the run's
    /// held-out test.tsv.
    #[arg(long, conflicts_with = "hyp")]
    pub test: Option<PathBuf>,
    /// Where the translated test set goes, as STEM.src, STEM.ref and STEM.hyp (default:
    /// <run>/eval); a directory of one's own for a run one may not write into.
    #[arg(long, conflicts_with = "hyp")]
    pub output: Option<PathBuf>,
    /// Score this file of translations (a line each) instead of translating: no model needed.
    #[arg(long, requires = "reference")]
    pub hyp: Option<PathBuf>,
    /// The reference translations of --hyp, a line each; repeat for several references.
    #[arg(long = "ref", id = "reference", requires = "hyp", num_args = 1..)]
    pub references: Vec<PathBuf>,
    /// How translations are searched for.
    #[command(flatten)]
    pub search: SearchArgs,
    /// Translate each line whole, as one sentence, instead of sentence by sentence (a line is
    /// cut into sentences after `.`, `!`, `?` or `…` before a capital, as Moses' splitter does).
    #[arg(long)]
    pub whole_lines: bool,
    /// Print one JSON object instead of sacreBLEU-style text lines.
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `attention`.
#[derive(Debug, Args)]
pub struct AttentionArgs {
    /// The trained run [default: artifacts/default once trained, else the shipped model,
    /// models/eng-por].
    #[arg(long)]
    pub run: Option<PathBuf>,
    /// Where the pictures go (default: <run>/attention).
    #[arg(long)]
    pub output: Option<PathBuf>,
    /// Draw the positional-encoding matrix of the run's model (the sinusoids).
    #[arg(long)]
    pub positional: bool,
    /// Positions drawn by --positional (default: the model's max_len, at most 100).
    #[arg(long, requires = "positional")]
    pub positions: Option<usize>,
    /// How the translation is searched for.
    #[command(flatten)]
    pub search: SearchArgs,
    /// The English sentence whose attention weights are drawn.
    pub sentence: Option<String>,
}

/// The arguments of `bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Print one JSON object instead of a table.
    #[arg(long)]
    pub json: bool,
    /// Untimed runs before the timed ones.
    #[arg(long, default_value_t = 2)]
    pub warmup: usize,
    /// Timed training steps (the median is reported).
    #[arg(long, default_value_t = 10)]
    pub train_runs: usize,
    /// Timed runs of each decoding (the median is reported).
    #[arg(long, default_value_t = 5)]
    pub decode_runs: usize,
}

/// What a run reads and where it writes: shared by `train` and `data prepare`.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Configuration file (default: config/default.json when present, else built-in defaults).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Pair files, instead of the configuration's `data.files`.
    #[arg(long, num_args = 1..)]
    pub data: Vec<PathBuf>,
    /// The run: a name (under artifacts/) or a directory.
    #[arg(long, default_value = "default")]
    pub run: PathBuf,
}

/// Parses the process arguments; `--help` names the backends of this build.
pub fn parse() -> Cli {
    let command = Cli::command().mut_arg("backend", |arg| arg.help(backend::help()));
    Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit())
}

/// Runs one command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    let auto = cli.backend.trim().eq_ignore_ascii_case("auto");
    // A backend named is checked at once; only the commands that compute look for one
    // (probing the GPUs) or start it.
    if !auto {
        Backend::from_name(&cli.backend)?;
    }
    if let Some(threads) = cli.threads {
        backend::set_cpu_threads(usize::from(threads))?;
    }
    let backend = || Backend::select(&cli.backend, &mut notice);
    match cli.command {
        Command::Backends => {
            println!("{}", backend::describe());
            Ok(())
        }
        Command::Bench(args) => bench(args, auto, &backend),
        Command::Data(command) => run_data(command),
        Command::Curves(args) => draw_curves(args),
        Command::Average(args) => average(args, &backend),
        Command::Train(args) => train(args, backend()?),
        Command::Serve(args) => serve(args, &backend),
        Command::Infer(args) => translate(args, &backend),
        Command::Generate(args) => generate(args, &backend),
        Command::FillMask(args) => fill_mask(args, &backend),
        Command::Eval(args) => evaluate(args, &backend),
        Command::Attention(args) => draw_attention(args, &backend),
    }
}

/// The backend a command computes on, looked for only when the command needs it.
type SelectBackend<'a> = dyn Fn() -> Result<Backend, BackendError> + 'a;

fn bench(args: BenchArgs, auto: bool, backend: &SelectBackend) -> anyhow::Result<()> {
    let backends = if auto {
        Backend::runnable()
    } else {
        vec![backend()?]
    };
    let runs = Runs {
        warmup: args.warmup,
        train: args.train_runs,
        decode: args.decode_runs,
    };
    let report = bench::run(&backends, runs, &mut |message| {
        if !args.json {
            notice(message);
        }
    })?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        print!("{}", bench::table(&report));
    }
    Ok(())
}

fn draw_curves(args: CurvesArgs) -> anyhow::Result<()> {
    let curves = args
        .run
        .iter()
        .map(|run| curves::curve(&RunDir::from_arg(run)))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let written = curves::draw(&curves, &args.output)?;
    print!("{}", curves::table(&curves));
    for path in written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn average(args: AverageArgs, backend: &SelectBackend) -> anyhow::Result<()> {
    let averaged = average::average(&AverageOptions {
        run: args.run,
        last: args.last,
        epochs: args.epochs,
        output: args.output,
        precision: if args.half {
            Precision::Half
        } else {
            Precision::Full
        },
        backend: backend()?,
    })?;
    let epochs: Vec<String> = averaged.epochs.iter().map(usize::to_string).collect();
    let epochs = match epochs.as_slice() {
        [one] => format!("the checkpoint of epoch {one}"),
        _ => format!("the checkpoints of epochs {}", epochs.join(", ")),
    };
    println!(
        "averaged {epochs} into {} ({:.1} MB of weights)",
        averaged.output.path().display(),
        averaged.weights_bytes as f64 / 1e6
    );
    Ok(())
}

fn serve(args: ServeArgs, backend: &SelectBackend) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    let options = ServeOptions {
        run: model_to_use(args.run),
        backend: backend()?,
        addr: args.addr,
        batching: Batching {
            window: std::time::Duration::from_millis(args.batch_window),
            max_sentences: args.max_batch as usize,
        },
        max_body_bytes: args.max_body_bytes,
        max_sentences: args.max_sentences as usize,
        max_beam: args.max_beam as usize,
        precision: args.precision.into(),
    };
    serve::serve(&options, &mut |addr| {
        println!(
            "serving {} on http://{addr}/ (Ctrl-C stops)",
            options.run.display()
        );
        let _ = std::io::Write::flush(&mut std::io::stdout());
    })
}

fn translate(args: InferArgs, backend: &SelectBackend) -> anyhow::Result<()> {
    infer(
        &InferOptions {
            tag: args.search.tag.clone(),
            split: !args.whole_lines,
            settings: args.search.settings(args.n_best)?,
            run: model_to_use(args.run),
            backend: backend()?,
            input: args.input,
            output: args.output,
            text: args.text,
        },
        &mut notice,
    )
}

/// `generate`: each prompt and its continuation, a line each, in the order given.
fn generate(args: GenerateArgs, backend: &SelectBackend) -> anyhow::Result<()> {
    let sampling = Sampling {
        temperature: args.temperature,
        top_k: args.top_k,
        top_p: args.top_p,
        seed: args.seed,
    };
    sampling.validate()?;
    let model = LanguageModel::load(&RunDir::from_arg(&args.run), backend()?)?
        .with_precision(args.precision.into());
    let write = |index: usize, prompt: &str| -> anyhow::Result<()> {
        let sampling = Sampling {
            seed: sampling.seed.wrapping_add(index as u64),
            ..sampling.clone()
        };
        println!("{}", model.write(prompt, args.max_tokens, &sampling)?);
        Ok(())
    };
    if !args.prompt.is_empty() {
        for (index, prompt) in args.prompt.iter().enumerate() {
            write(index, prompt)?;
        }
        return Ok(());
    }
    for (index, line) in std::io::stdin().lines().enumerate() {
        write(
            index,
            line.context("reading the prompts from standard input")?
                .trim(),
        )?;
    }
    Ok(())
}

/// `fill-mask`: for each sentence and each of its [MASK]s, `probability<TAB>token<TAB>the
/// sentence so filled`, most probable first; an empty line after each [MASK]'s fillers.
fn fill_mask(args: FillMaskArgs, backend: &SelectBackend) -> anyhow::Result<()> {
    let model = MaskedModel::load(&RunDir::from_arg(&args.run), backend()?)?;
    let fill = |text: &str| -> anyhow::Result<()> {
        for fillers in model.fill(text, args.top_k)? {
            for filler in fillers {
                println!(
                    "{:.4}\t{}\t{}",
                    filler.probability, filler.token, filler.sentence
                );
            }
            println!();
        }
        Ok(())
    };
    if !args.text.is_empty() {
        return args.text.iter().try_for_each(|text| fill(text));
    }
    for line in std::io::stdin().lines() {
        fill(
            line.context("reading the sentences from standard input")?
                .trim(),
        )?;
    }
    Ok(())
}

fn evaluate(args: EvalArgs, backend: &SelectBackend) -> anyhow::Result<()> {
    let scores = eval(
        &EvalOptions {
            tag: args.search.tag.clone(),
            split: !args.whole_lines,
            settings: args.search.settings(1)?,
            run: match args.hyp {
                Some(_) => args.run.unwrap_or_default(),
                None => model_to_use(args.run),
            },
            backend: match args.hyp {
                Some(_) => None,
                None => Some(backend()?),
            },
            test: args.test,
            output: args.output,
            hypotheses: args.hyp,
            references: args.references,
            json: args.json,
        },
        &mut notice,
    )?;
    print!("{scores}");
    Ok(())
}

fn draw_attention(args: AttentionArgs, backend: &SelectBackend) -> anyhow::Result<()> {
    let drawn = attention(
        &AttentionOptions {
            tag: args.search.tag.clone(),
            settings: args.search.settings(1)?,
            run: model_to_use(args.run),
            backend: backend()?,
            sentence: args.sentence,
            positional: args.positional,
            positions: args.positions,
            output: args.output,
        },
        &mut notice,
    )?;
    if let Some((source, translation)) = drawn.translation {
        println!("{source}\n→ {translation}");
    }
    for path in drawn.written {
        println!("wrote {}", path.display());
    }
    Ok(())
}

/// The one channel of the library's notices (fallbacks taken, lines skipped or cut, files
/// written beside the result): standard error, a line each, so that standard output holds
/// only results.
fn notice(message: &str) {
    eprintln!("{message}");
}

fn train(args: TrainArgs, backend: Backend) -> anyhow::Result<()> {
    let session = crate::train::prepare(
        &TrainOptions {
            config: args.run.config,
            data: args.run.data,
            valid: args.valid,
            run: args.run.run,
            epochs: args.epochs,
            resume: args.resume,
            init_from: args.init_from,
            backend,
            devices: usize::from(args.devices),
        },
        &mut notice,
    )?;
    print_session(&session)?;
    print_training(&session.train()?);
    Ok(())
}

/// The run `infer`, `eval` or `attention` translates with (see [`RunDir::model_to_use`]),
/// saying on standard error when it is the shipped model.
fn model_to_use(run: Option<PathBuf>) -> PathBuf {
    let (run, shipped) = RunDir::model_to_use(run.as_deref());
    if shipped {
        notice(&format!(
            "using the shipped model {} (artifacts/{DEFAULT_RUN} holds no trained model; choose another with --run)",
            run.path().display()
        ));
    }
    run.path().to_path_buf()
}

/// What `train` settled before training: how the run starts, its configuration, data and
/// model.
fn print_session(session: &Session) -> anyhow::Result<()> {
    let run = session.run.path().display();
    match session.start {
        Start::Afresh => println!("{run}: an earlier start saved no epoch: starting afresh"),
        Start::Again => println!(
            "{run}: no epoch was saved before the run stopped: training it again from the beginning"
        ),
        Start::Fresh | Start::After(_) => {}
    }
    let config = &session.config;
    println!("configuration:\n{}", serde_json::to_string_pretty(config)?);
    let data = &session.data;
    println!("{}", data.report);
    println!(
        "split: {} train, {} valid, {} test pairs; {} dropped for needing over {} positions",
        data.splits.train.len(),
        data.splits.valid.len(),
        data.splits.test.len(),
        data.dropped_long,
        config.data.max_len
    );
    let sets: Vec<String> = data
        .valid
        .iter()
        .map(|set| format!("{} {}", set.name, set.pairs.len()))
        .collect();
    println!("validation sets (pairs): {}", sets.join(", "));
    if data.oversampled > 0 {
        let files: Vec<String> = config
            .data
            .oversample
            .iter()
            .filter(|(file, _)| config.data.files.contains(file))
            .map(|(file, times)| format!("{} ×{times}", file.display()))
            .collect();
        println!(
            "oversampled: {} training pairs an epoch, {} of them repeats ({})",
            data.train.len(),
            data.oversampled,
            files.join(", ")
        );
    }
    if let Some(draw) = session.draw() {
        let shares: Vec<String> = data
            .files
            .iter()
            .zip(draw.per_epoch.iter().zip(&draw.files))
            .map(|(file, (drawn, all))| format!("{} {drawn} of {}", file.display(), all.len()))
            .collect();
        println!(
            "each epoch draws {} training pairs: {}",
            draw.per_epoch.iter().sum::<usize>(),
            shares.join(", ")
        );
    }
    let concatenate = &config.data.concatenate;
    if concatenate.share > 0.0 {
        println!(
            "each epoch adds {:.0} % joined pairs of 2 to {} pairs of one file",
            100.0 * concatenate.share,
            concatenate.max_pairs
        );
    }
    if config.data.names.share > 0.0 {
        println!(
            "each epoch adds {:.0} % pairs whose carried-over names are replaced by invented ones",
            100.0 * config.data.names.share
        );
    }
    let devices = match session.devices.len() {
        1 => String::new(),
        n => format!(" ({n} devices, data-parallel)"),
    };
    let threads = match session.backend.cpu_threads() {
        Some(1) => ", 1 CPU thread".to_string(),
        Some(n) => format!(", {n} CPU threads"),
        None => String::new(),
    };
    println!(
        "model: {} parameters on {}{devices}{threads}; run directory {run}",
        session.parameters, session.backend
    );
    if let Start::After(epoch) = session.start {
        println!("resuming after epoch {epoch}");
    } else if let Some(source) = &config.training.init_from {
        let schedule = match config.training.start_step {
            0 => "schedule".to_string(),
            step => format!("schedule from step {step}"),
        };
        println!(
            "starting from the weights and tokenizer of {} (fresh optimiser, {schedule})",
            RunDir::from_arg(source).path().display()
        );
    }
    Ok(())
}

/// What a training run reached.
fn print_training(report: &TrainReport) {
    let per_epoch = report.elapsed.as_secs_f64() / report.epochs_run.max(1) as f64;
    let epochs = match report.epochs_run {
        0 => None,
        1 => Some("1 epoch".to_string()),
        n => Some(format!("{n} epochs")),
    };
    match epochs {
        Some(epochs) => println!(
            "trained {epochs} in {:.1} s ({per_epoch:.1} s per epoch, validation included)",
            report.elapsed.as_secs_f64()
        ),
        None => println!("no epoch left to train: every epoch was checkpointed"),
    }
    match &report.best {
        Some(best) => {
            let mut metrics = Vec::new();
            if let Some(loss) = best.loss {
                metrics.push(format!("validation loss {loss:.4}"));
            }
            if let Some(accuracy) = best.accuracy {
                metrics.push(format!("token accuracy {accuracy:.2} %"));
            }
            if let Some(bleu) = best.bleu {
                metrics.push(format!("BLEU {bleu:.2}"));
            }
            println!(
                "best epoch {} (by {} {:.4}): {}; weights in {}",
                best.epoch,
                report.selected_by.name(),
                best.selected,
                metrics.join(", "),
                report.run.weights_path().display()
            );
        }
        None => println!("no epoch finished: no weights were saved"),
    }
    if report.schedule_step > 0 {
        println!(
            "schedule at step {}: a run continued from this one with --init-from takes `training.start_step` {}",
            report.schedule_step, report.schedule_step
        );
    }
    match report.stop {
        Some(Stop::Interrupted(epoch)) => println!(
            "stopped during epoch {epoch}, before it was saved; `transformer-mt train --run {} --resume` continues it",
            report.run.path().display()
        ),
        Some(Stop::Early(epoch)) => println!(
            "stopped early after epoch {epoch}: the validation {} stopped improving (training.patience)",
            report.selected_by.name()
        ),
        None => {}
    }
}

fn run_data(command: DataCommand) -> anyhow::Result<()> {
    match command {
        DataCommand::Fetch { url, output } => {
            let bytes = fetch::fetch(&url, &output)?;
            println!("wrote {} ({bytes} bytes) from {url}", output.display());
        }
        DataCommand::Synthetic {
            output,
            pairs,
            seed,
            counting,
        } => {
            let pairs = match counting {
                true => synthetic::counting_pairs(pairs, seed),
                false => synthetic::number_pairs(pairs, seed),
            };
            corpus::write_pairs(&output, &pairs)
                .with_context(|| format!("{}: cannot write", output.display()))?;
            println!(
                "wrote {} synthetic pairs to {}",
                pairs.len(),
                output.display()
            );
        }
        DataCommand::Prepare(args) => prepare(args)?,
        DataCommand::Split {
            config,
            data: given,
            part,
            output,
        } => {
            let config = RunConfig::load_or_default(config.as_ref())?.data;
            let files = data::corpus_files(&config, &given, &mut notice)?;
            let (pairs, _) = corpus::read_corpus(&files, config.read_options())?;
            let splits = split::split(pairs, &config.split);
            let pairs = splits.part(part.into());
            corpus::write_pairs(&output, pairs)
                .with_context(|| format!("{}: cannot write", output.display()))?;
            println!(
                "wrote the {} {} pairs of {} to {}",
                pairs.len(),
                part.to_possible_value()
                    .map(|v| v.get_name().to_string())
                    .unwrap_or_default(),
                files
                    .iter()
                    .map(|f| f.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
                output.display()
            );
        }
    }
    Ok(())
}

fn prepare(args: RunArgs) -> anyhow::Result<()> {
    let config = RunConfig::load_or_default(args.config.as_ref())?.data;
    let run = RunDir::from_arg(&args.run);
    // A run being trained exists and holds its lock; a missing directory is created only
    // once the corpus has been read, so that bad input writes nothing.
    let _lock = run.path().exists().then(|| run.lock()).transpose()?;
    run.ensure_fresh()?;
    let files = data::corpus_files(&config, &args.data, &mut notice)?;
    let prepared = data::prepare(&config, &files, None, run.path())?;
    let splits = &prepared.splits;
    println!("{}", prepared.report);
    println!(
        "removed {} duplicate pairs; split: {} train, {} valid, {} test",
        splits.duplicates,
        splits.train.len(),
        splits.valid.len(),
        splits.test.len()
    );
    let vocabularies = &prepared.vocabularies;
    let sizes = if vocabularies.shared {
        format!(
            "one shared vocabulary of {}",
            vocabularies.source.vocab_size()
        )
    } else {
        format!(
            "vocabularies of {} (source) and {} (target)",
            vocabularies.source.vocab_size(),
            vocabularies.target.vocab_size()
        )
    };
    println!(
        "tokenizer: byte-level BPE, {sizes} tokens, saved in {}",
        run.path().display()
    );
    println!(
        "dropped {} train/valid pairs longer than {} positions",
        prepared.dropped_long, config.max_len
    );
    let batches = batch::token_budget_batches(&prepared.train, config.max_tokens, config.seed);
    println!(
        "train: {} pairs in {} batches of at most {} tokens, padding {:.1} %",
        prepared.train.len(),
        batches.len(),
        config.max_tokens,
        100.0 * batch::padding_ratio(&prepared.train, &batches)
    );
    let timings: Vec<String> = prepared
        .timings
        .iter()
        .map(|(stage, time)| format!("{stage} {:.2} s", time.as_secs_f64()))
        .collect();
    println!("times: {}", timings.join(", "));
    Ok(())
}
