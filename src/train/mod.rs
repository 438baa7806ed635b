//! Training with Burn's learner: Adam and the warm-up schedule of paper §5.3, label smoothing
//! (§5.4), metrics, the dashboard, checkpoints, early stopping and resume.
//!
//! [`prepare`] settles where a run starts, prepares its data and builds its model — the
//! translation Transformer, or by the run's `task` a GPT or a BERT on one side of the pairs;
//! [`Session::train`] trains it and exports the best epoch's weights.
//!
//! | part | file |
//! |---|---|
//! | a fresh start, a resume or a start from another run, the effective configuration | [`start`] |
//! | the label-smoothed cross-entropy of §5.4 | [`loss`] |
//! | the loss of a batch, the training and validation steps | [`step`] |
//! | batches in a new seeded order every epoch, resumable | [`loader`] |
//! | the guarded loss, tokens-per-second and validation BLEU metrics | [`metrics`] |
//! | Adam, the schedule, checkpoints, early stopping, the renderer | [`learner`] |
//! | the dashboard, the plain lines and the log file | [`renderer`] |
//! | the mean of a run's checkpoints, as a new model | [`average`] |

pub mod average;
pub mod learner;
pub mod loader;
pub mod loss;
pub mod metrics;
pub mod renderer;
pub mod start;
pub mod step;

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail};
use burn::module::Module;
use burn::tensor::Device;
use burn::train::metric::store::Direction;
use burn::train::{Interrupter, Learner, LearningResult, SupervisedTraining};

use crate::backend::Backend;
use crate::data::concat::Concatenator;
use crate::data::draw::EpochDraw;
use crate::data::masking::Masking;
use crate::data::names::NameSwapper;
use crate::data::tokenizer::MASK_TOKEN;
use crate::data::{self, Prepared, Text, Vocabularies};
use crate::run::config::Task;
use crate::run::weights::{self, Precision};
use crate::run::{RunConfig, RunDir, RunLock, Selection};
use loader::EpochLoader;
use metrics::{OfSet, Perplexity, ValidationBleu};
pub use start::Start;
use step::TrainingModel;

/// What `transformer-mt train` was asked to do.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The configuration file; `None`: the run's own when resuming, else the default.
    pub config: Option<PathBuf>,
    /// Pair files instead of the configuration's `data.files`.
    pub data: Vec<PathBuf>,
    /// Pair files validated whole instead of the configuration's `data.valid`.
    pub valid: Vec<PathBuf>,
    /// The run: a name under `artifacts/`, or a directory.
    pub run: PathBuf,
    /// Overrides `training.epochs`.
    pub epochs: Option<usize>,
    /// Continue the run from its newest complete checkpoint.
    pub resume: bool,
    /// Start from this trained run's weights and tokenizer (overrides `training.init_from`).
    pub init_from: Option<PathBuf>,
    /// Where the model trains.
    pub backend: Backend,
    /// How many devices of `backend` train it, data-parallel (1: one device).
    pub devices: usize,
}

/// What a training run reached.
#[derive(Clone, Debug)]
pub struct TrainReport {
    /// The run directory.
    pub run: RunDir,
    /// Epochs trained by this invocation.
    pub epochs_run: usize,
    /// Wall time of those epochs, validation included.
    pub elapsed: Duration,
    /// The epoch whose weights are in `model.bpk`, with its validation metrics.
    pub best: Option<Best>,
    /// How the run ended before its last epoch, if it did.
    pub stop: Option<Stop>,
    /// The metric that picked the best epoch and that early stopping watched.
    pub selected_by: Selection,
    /// The schedule's step after the last checkpointed epoch: `training.start_step` and the
    /// steps of the epochs checkpointed, for a run continued from this one.
    pub schedule_step: usize,
}

/// The best epoch and its validation metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct Best {
    /// The epoch, 1-based.
    pub epoch: usize,
    /// Its value of the metric that selected it (`training.select_by`: a set's, when it
    /// names one).
    pub selected: f64,
    /// Its validation loss.
    pub loss: Option<f64>,
    /// Its validation token accuracy, percent.
    pub accuracy: Option<f64>,
    /// Its validation BLEU, when the run computes it.
    pub bleu: Option<f64>,
}

/// Why a run ended before `training.epochs`.
#[derive(Clone, Debug, PartialEq)]
pub enum Stop {
    /// Stopped by the user (`q` on the dashboard) during this epoch, before its checkpoint.
    Interrupted(usize),
    /// Early stopping: no better validation metric (`training.select_by`) for
    /// `training.patience` epochs.
    Early(usize),
}

/// A run ready to train: its directory locked for this process, its configuration
/// settled, its data prepared and its model built.
pub struct Session {
    /// The run directory.
    pub run: RunDir,
    /// The effective configuration, saved as the run's `config.json`.
    pub config: RunConfig,
    /// How this invocation starts the run.
    pub start: Start,
    /// The corpus read, split, tokenized and encoded.
    pub data: Prepared,
    /// The model's number of parameters.
    pub parameters: usize,
    /// Where it trains.
    pub backend: Backend,
    /// The devices it trains on: the first holds the model, the optimiser and validation.
    pub devices: Vec<Device>,
    model: TrainingModel,
    _lock: RunLock,
}

/// Gets a run ready as `options` say: refuses what cannot be done before writing anything,
/// then locks the run, prepares the data, builds the model, and writes the run's
/// configuration, model configuration and test pairs. `notify` hears of a corpus fallback.
pub fn prepare(options: &TrainOptions, notify: &mut dyn FnMut(&str)) -> anyhow::Result<Session> {
    let run = RunDir::from_arg(&options.run);
    run.ensure_directory()?;
    let config = start::effective_config(options, &run)?;
    // A new run's source is checked before the run directory is created; a resume's, only
    // when it starts again from the beginning.
    let init = match options.resume {
        false => start::init_source(&config)?,
        true => None,
    };
    let lock = run.lock()?;
    let start = start::start(&run, options.resume)?;
    let init = match start {
        Start::Again => start::init_source(&config)?,
        _ => init,
    };
    let done = start.done();
    // A run killed after its last checkpoint and before its weights were exported has
    // nothing left to train, only its export (see `Session::train`).
    if done >= config.training.epochs && run.weights_path().exists() {
        bail!(
            "{} has already trained {done} epochs of the {} asked: raise --epochs to go on",
            run.path().display(),
            config.training.epochs
        );
    }
    let files = data::corpus_files(&config.data, &options.data, notify)?;
    let sets = data::set_names(files.iter().chain(&config.data.valid));
    check_selected_set(&config, &sets)?;
    let vocabularies = match (&start, &init) {
        (Start::After(_), _) => Some(Vocabularies::load(run.path())?),
        (_, Some((_, vocabularies))) => Some(vocabularies.clone()),
        _ => None,
    };
    let text = match config.task {
        Task::Translate => Text::Pairs,
        Task::Lm => Text::Target,
        Task::Mlm => Text::Masked,
    };
    let prepared = data::prepare_text(&config.data, &files, vocabularies, run.path(), text)?;
    if prepared.valid.is_empty() {
        bail!("no validation pairs: raise `data.split.valid_fraction` or give a larger corpus");
    }
    let kept: Vec<String> = prepared.valid.iter().map(|set| set.name.clone()).collect();
    check_selected_set(&config, &kept)?;
    let devices = options.backend.training_devices(options.devices)?;
    let device = devices[0].clone();
    device.seed(config.training.seed);
    let from = init.as_ref().map(|(source, _)| source.weights_path());
    let label_smoothing = config.training.label_smoothing;
    let vocab_sizes = [
        prepared.vocabularies.source.vocab_size(),
        prepared.vocabularies.target.vocab_size(),
    ];
    let model = match config.task {
        Task::Translate => {
            let model_config = config.transformer(vocab_sizes[0], vocab_sizes[1]);
            let transformer = from_init(model_config.init(&device)?, from.as_deref())?;
            run.write_model_config(&model_config)?;
            TrainingModel::new(transformer, label_smoothing)
        }
        Task::Lm => {
            let model_config = config.gpt(vocab_sizes[1]);
            let gpt = from_init(model_config.init(&device)?, from.as_deref())?;
            run.write_gpt_config(&model_config)?;
            TrainingModel::language(gpt, label_smoothing)
        }
        Task::Mlm => {
            let model_config = config.bert(vocab_sizes[1]);
            let bert = from_init(model_config.init(&device)?, from.as_deref())?;
            run.write_bert_config(&model_config)?;
            TrainingModel::masked(bert, label_smoothing)
        }
    };
    if let Some((_, vocabularies)) = &init {
        vocabularies.save(run.path())?;
    }
    if let Start::After(epoch) = start {
        start::check_checkpoint(&run, &model, epoch)?;
        run.forget_after(epoch)?;
    }
    run.write_config(&config)?;
    if done == 0 {
        run.write_test_pairs(&prepared.splits.test)?;
    }
    Ok(Session {
        run,
        config,
        start,
        data: prepared,
        parameters: model.num_params(),
        backend: options.backend,
        devices,
        model,
        _lock: lock,
    })
}

impl Session {
    /// Trains the run to `training.epochs` (or an early stop, or the user's), then exports the
    /// best epoch's weights to `model.bpk`.
    pub fn train(mut self) -> anyhow::Result<TrainReport> {
        let training = &self.config.training;
        if self.start.done() >= training.epochs {
            let best = export_best(&self.run, self.model, &training.select_by)?;
            return Ok(TrainReport {
                epochs_run: 0,
                elapsed: Duration::ZERO,
                best,
                stop: None,
                selected_by: training.select_by.clone(),
                schedule_step: schedule_step(&self.run, training.start_step),
                run: self.run,
            });
        }
        let interrupter = Interrupter::new();
        let failure = Arc::new(Mutex::new(None));
        let supervised = self.supervised(&interrupter, &failure)?;
        let training = &self.config.training;
        let learner = Learner::new(
            self.model.clone(),
            learner::adam(training),
            learner::noam_schedule(training, self.config.model.d_model)?,
        );
        let clock = Instant::now();
        let LearningResult { error, .. } = supervised.launch(learner);
        let elapsed = clock.elapsed();

        let exported = export_best(&self.run, self.model, &training.select_by);
        if let Some(message) = failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
            return Err(diverged(&self.run, &message, exported?.as_ref()));
        }
        // The learner's error first: a write that failed a checkpoint (a full disk) fails the
        // export after it too, and the export's error would hide where it began.
        if let Some(error) = error {
            bail!("training failed: {error}");
        }
        let best = exported?;
        let finished = self.run.logged_epochs().len();
        Ok(TrainReport {
            epochs_run: finished.saturating_sub(self.start.done()),
            elapsed,
            best,
            stop: stop(&self.run, finished, training.epochs),
            selected_by: training.select_by.clone(),
            schedule_step: schedule_step(&self.run, training.start_step),
            run: self.run,
        })
    }

    /// Burn's supervised training of the run: its loaders, metrics, checkpoints, early
    /// stopping and renderer, resuming from the start's checkpoint. The encoded pairs move
    /// into the loaders.
    fn supervised(
        &mut self,
        interrupter: &Interrupter,
        failure: &Arc<Mutex<Option<String>>>,
    ) -> anyhow::Result<SupervisedTraining<TrainingModel>> {
        let masking = self.masking()?;
        let draw = self.draw();
        let (concatenator, names) = self.augmentation(draw.as_ref());
        let training = &self.config.training;
        let max_tokens = self.config.data.max_tokens;
        let done = self.start.done();
        let device = &self.devices[0];
        let length_multiple = if self.backend.on_gpu() { 8 } else { 1 };
        let train_loader = EpochLoader::training(
            std::mem::take(&mut self.data.train),
            max_tokens,
            training.seed,
            done + 1,
            device,
        )
        .drawing(draw, concatenator, names)
        .with_length_multiple(length_multiple)
        .masking(masking.clone());
        let (sets, valid): (Vec<String>, Vec<_>) = std::mem::take(&mut self.data.valid)
            .into_iter()
            .map(|set| (set.name, set.pairs))
            .unzip();
        let valid_loader = EpochLoader::validation(
            valid,
            max_tokens,
            training.seed,
            training.bleu_sample,
            device,
        )
        .with_length_multiple(length_multiple)
        .masking(masking);
        let resumed = (done > 0).then_some(done);
        let bleu = ValidationBleu::new(Arc::new(self.data.vocabularies.target.clone()));
        let mut supervised = SupervisedTraining::new(
            self.run.path(),
            Arc::new(train_loader),
            Arc::new(valid_loader),
        )
        .num_epochs(training.epochs)
        .with_training_strategy(learner::execution(&self.devices).into())
        .with_interrupter(interrupter.clone())
        .renderer(learner::renderer(&self.run, interrupter, resumed)?);
        supervised = learner::with_metrics(supervised, interrupter, failure);
        if training.bleu_sample > 0 {
            supervised = supervised.metric_valid_numeric(bleu.clone());
        }
        for (index, name) in sets.iter().enumerate() {
            supervised =
                supervised.metric_valid_numeric(OfSet::new(Perplexity::default(), index, name));
            if training.bleu_sample > 0 {
                supervised = supervised.metric_valid_numeric(OfSet::new(bleu.clone(), index, name));
            }
        }
        supervised = learner::with_checkpoints(supervised, training, &bleu, &sets);
        if let Some(epoch) = resumed {
            supervised = supervised.checkpoint(epoch);
        }
        Ok(supervised)
    }
}

impl Session {
    /// BERT's corruption of the batches, for a masked language model.
    fn masking(&self) -> anyhow::Result<Option<Masking>> {
        if self.config.task != Task::Mlm {
            return Ok(None);
        }
        let tokenizer = &self.data.vocabularies.target;
        let Some(mask_id) = tokenizer.token_id(MASK_TOKEN) else {
            bail!(
                "{}: the tokenizer has no {MASK_TOKEN} token, which a masked language model needs",
                self.run.path().display()
            );
        };
        Ok(Some(Masking::bert(mask_id, tokenizer.vocab_size() as u32)))
    }

    /// How each epoch's pairs are drawn, when `data.epoch_pairs` asks: by `data.weights`.
    pub fn draw(&self) -> Option<EpochDraw> {
        let config = &self.config.data;
        let weights: Vec<f64> = self
            .data
            .files
            .iter()
            .map(|file| config.weights.get(file).copied().unwrap_or(1.0))
            .collect();
        config.epoch_pairs.map(|pairs| {
            EpochDraw::new(
                self.data.train_by_file.clone(),
                &weights,
                pairs,
                self.config.training.seed,
            )
        })
    }

    /// The pairs each epoch adds: joined ones, when `data.concatenate` asks, from each file
    /// in proportion to the pairs it gives an epoch (`draw`'s, else all of its pairs); ones
    /// with invented names, when `data.names` asks. The training text moves into them.
    fn augmentation(
        &mut self,
        draw: Option<&EpochDraw>,
    ) -> (Option<Concatenator>, Option<NameSwapper>) {
        let config = &self.config.data;
        let (joins, names) = (config.concatenate.share > 0.0, config.names.share > 0.0);
        if !joins && !names {
            return (None, None);
        }
        let text = Arc::new(std::mem::take(&mut self.data.splits.train));
        let tags: Vec<Option<String>> = self
            .data
            .files
            .iter()
            .map(|file| config.tag_of(file).map(str::to_string))
            .collect();
        let seed = self.config.training.seed;
        let concatenator = joins.then(|| {
            let shares = match draw {
                Some(draw) => draw.per_epoch.clone(),
                None => self.data.train_by_file.iter().map(|r| r.len()).collect(),
            };
            Concatenator::new(
                text.clone(),
                self.data.text_by_file.clone(),
                &shares,
                config.concatenate.clone(),
                self.data.vocabularies.clone(),
                config.max_len,
                seed,
            )
            .with_tags(tags.clone())
        });
        let names = names.then(|| {
            NameSwapper::new(
                text,
                &self.data.text_by_file,
                config.names.clone(),
                self.data.vocabularies.clone(),
                config.max_len,
                seed,
            )
            .with_tags(tags)
        });
        (concatenator, names)
    }
}

/// `model` with the weights at `from` (`training.init_from`'s `model.bpk`), if any.
fn from_init<M: Module>(model: M, from: Option<&std::path::Path>) -> anyhow::Result<M> {
    match from {
        Some(path) => weights::load(model, path),
        None => Ok(model),
    }
}

/// Refuses a `training.select_by` naming a validation set that is not among `sets`.
fn check_selected_set(config: &RunConfig, sets: &[String]) -> anyhow::Result<()> {
    match &config.training.select_by.set {
        Some(set) if !sets.contains(set) => bail!(
            "`training.select_by` names the validation set `{set}`, which this run does not have \
             (or which has no pair of at most `data.max_len` positions); its sets: {}",
            sets.join(", ")
        ),
        _ => Ok(()),
    }
}

/// The error of a run whose loss stopped being a finite number, saying what was kept.
fn diverged(run: &RunDir, message: &str, best: Option<&Best>) -> anyhow::Error {
    let epoch = run.last_started_epoch();
    let kept = match best {
        Some(Best { epoch: best, .. }) => format!(
            "Model.bpk holds epoch {best}, the best before it; no checkpoint was written from epoch {epoch}"
        ),
        None => "No epoch finished, so no weights were saved".to_string(),
    };
    anyhow!(
        "training stopped in epoch {epoch}: {message}. {kept}. Lower `training.noam_factor` \
         or raise `training.warmup_steps`"
    )
}

/// The schedule's step after `run`'s last complete checkpoint, from `start_step`.
fn schedule_step(run: &RunDir, start_step: usize) -> usize {
    let checkpointed = run.complete_checkpoints().last().copied().unwrap_or(0);
    start_step + run.logged_steps(checkpointed)
}

/// Why a run that ended without error ended before `epochs`, if it did: an epoch started
/// and not checkpointed was interrupted; else fewer epochs than asked is an early stop.
fn stop(run: &RunDir, finished: usize, epochs: usize) -> Option<Stop> {
    let last_started = run.last_started_epoch();
    let checkpointed = run.complete_checkpoints().last().copied().unwrap_or(0);
    if last_started > checkpointed {
        Some(Stop::Interrupted(last_started))
    } else if finished < epochs {
        Some(Stop::Early(finished))
    } else {
        None
    }
}

/// Copies the weights of the best epoch among the complete checkpoints (by a finite value of
/// `selection`'s metric) into `model.bpk`; returns that epoch and its metrics.
fn export_best(
    run: &RunDir,
    model: TrainingModel,
    selection: &Selection,
) -> anyhow::Result<Option<Best>> {
    let best = run
        .complete_checkpoints()
        .into_iter()
        .filter_map(|epoch| {
            let value = run.epoch_metric("valid", epoch, &learner::metric_name(selection))?;
            value.is_finite().then_some((epoch, value))
        })
        .min_by(|a, b| match learner::direction(selection) {
            Direction::Lowest => a.1.total_cmp(&b.1),
            Direction::Highest => b.1.total_cmp(&a.1),
        });
    let Some((epoch, selected)) = best else {
        return Ok(None);
    };
    let path = run.model_checkpoint(epoch);
    let model = model
        .try_load_file(&path)
        .map_err(|e| anyhow!("{}: cannot load: {e:?}", path.display()))?;
    model.save_network(&run.weights_path(), Precision::Full)?;
    Ok(Some(Best {
        epoch,
        selected,
        loss: run.epoch_metric("valid", epoch, "Loss"),
        accuracy: run.epoch_metric("valid", epoch, "Accuracy"),
        bleu: run.epoch_metric("valid", epoch, ValidationBleu::NAME),
    }))
}
