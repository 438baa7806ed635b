//! Training with Burn's learner: Adam and the warm-up schedule of paper §5.3, label smoothing
//! (§5.4), metrics, the dashboard, checkpoints, early stopping and resume.
//!
//! | part | file |
//! |---|---|
//! | the label-smoothed cross-entropy of §5.4 | [`loss`] |
//! | the loss of a batch, the training and validation steps | [`step`] |
//! | batches in a new seeded order every epoch, resumable | [`loader`] |
//! | the guarded loss, tokens-per-second and validation BLEU metrics | [`metrics`] |
//! | the dashboard, the plain lines and the log file | [`renderer`] |
//! | the run directory: config, weights, checkpoints, logs | [`run_dir`] |

pub mod loader;
pub mod loss;
pub mod metrics;
pub mod renderer;
pub mod run_dir;
pub mod step;

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};
use burn::grad_clipping::GradientClippingConfig;
use burn::module::Module;
use burn::optim::lr_scheduler::LrSchedulerRecord;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::lr_scheduler::noam::NoamLrSchedulerConfig;
use burn::optim::{AdamConfig, ModuleOptimizer, OptimizerRecord};
use burn::train::checkpoint::{
    ComposedCheckpointingStrategy, KeepLastNCheckpoints, MetricCheckpointingStrategy,
};
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{
    AccuracyMetric, LearningRateMetric, LossMetric, Metric, PerplexityMetric,
};
use burn::train::renderer::MetricsRenderer;
use burn::train::renderer::tui::TuiMetricsRendererWrapper;
use burn::train::{
    Interrupter, Learner, LearningResult, MetricEarlyStoppingStrategy, StoppingCondition,
    SupervisedTraining,
};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::config::RunConfig;
use crate::data::tokenizer::PAD_ID;
use crate::data::{self, Vocabularies};
use loader::EpochLoader;
use metrics::{GuardedLoss, TokensPerSecond, ValidationBleu};
use renderer::{PlainRenderer, TeeRenderer};
use run_dir::{RunDir, RunState};
use step::TrainingModel;

/// The `training` section of the configuration. Defaults follow the paper (§5.3, §5.4).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrainingConfig {
    /// Passes over the training pairs. Default: 10.
    pub epochs: usize,
    /// Scale of the learning rate `factor · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)`.
    /// Default: 1.0 (the paper's).
    pub noam_factor: f64,
    /// Steps of linear warm-up before the inverse-square-root decay. Default: 4000.
    pub warmup_steps: usize,
    /// Adam's β₁. Default: 0.9.
    pub adam_beta_1: f64,
    /// Adam's β₂. Default: 0.98.
    pub adam_beta_2: f64,
    /// Adam's ε. Default: 1e-9.
    pub adam_epsilon: f64,
    /// ε_ls: the probability mass spread over the whole vocabulary. Default: 0.1.
    pub label_smoothing: f64,
    /// Gradients are rescaled so that each parameter's gradient norm is at most this;
    /// `null` turns clipping off. Default: 1.0.
    pub max_grad_norm: Option<f64>,
    /// Stop after this many epochs without a lower validation loss; `null` never stops
    /// early. Default: 3.
    pub patience: Option<usize>,
    /// Checkpoints of the last epochs kept (the best one is always kept too). Default: 2.
    pub keep_checkpoints: usize,
    /// Seed of the initial weights, of the batch order and of dropout. Default: 0.
    pub seed: u64,
    /// Validation sentences greedy-translated after every epoch for the BLEU metric
    /// (sacreBLEU's, on detokenized text): the first ones of the fixed validation order, so
    /// the same every epoch. 0 turns BLEU off. Default: 200.
    pub bleu_sample: usize,
    /// The validation metric that picks the best checkpoint (exported to `model.bpk`) and
    /// that early stopping watches: `"loss"` (lowest) or `"bleu"` (highest; needs
    /// `bleu_sample`). Default: `"loss"`.
    pub select_by: Selection,
}

/// The validation metric that decides which epoch is best.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Selection {
    /// The lowest validation loss.
    #[default]
    Loss,
    /// The highest validation BLEU.
    Bleu,
}

impl Selection {
    /// How reports name it.
    pub fn name(self) -> &'static str {
        match self {
            Selection::Loss => "loss",
            Selection::Bleu => "BLEU",
        }
    }

    /// The metric's name in Burn's logs.
    fn metric(self) -> &'static str {
        match self {
            Selection::Loss => "Loss",
            Selection::Bleu => ValidationBleu::NAME,
        }
    }

    fn direction(self) -> Direction {
        match self {
            Selection::Loss => Direction::Lowest,
            Selection::Bleu => Direction::Highest,
        }
    }
}

impl Default for TrainingConfig {
    fn default() -> Self {
        Self {
            epochs: 10,
            noam_factor: 1.0,
            warmup_steps: 4000,
            adam_beta_1: 0.9,
            adam_beta_2: 0.98,
            adam_epsilon: 1e-9,
            label_smoothing: 0.1,
            max_grad_norm: Some(1.0),
            patience: Some(3),
            keep_checkpoints: 2,
            seed: 0,
            bleu_sample: 200,
            select_by: Selection::Loss,
        }
    }
}

impl TrainingConfig {
    /// Checks the values; the error names the field.
    pub fn validate(&self) -> anyhow::Result<()> {
        for (name, value) in [
            ("epochs", self.epochs),
            ("warmup_steps", self.warmup_steps),
            ("keep_checkpoints", self.keep_checkpoints),
            ("patience", self.patience.unwrap_or(1)),
        ] {
            if value == 0 {
                bail!("`training.{name}` must be at least 1, got 0");
            }
        }
        let positive = [
            ("noam_factor", self.noam_factor),
            ("adam_epsilon", self.adam_epsilon),
            ("max_grad_norm", self.max_grad_norm.unwrap_or(1.0)),
        ];
        for (name, value) in positive {
            if !(value.is_finite() && value > 0.0) {
                bail!("`training.{name}` must be a positive number, got {value}");
            }
        }
        let fractions = [
            ("adam_beta_1", self.adam_beta_1),
            ("adam_beta_2", self.adam_beta_2),
            ("label_smoothing", self.label_smoothing),
        ];
        for (name, value) in fractions {
            if !(0.0..1.0).contains(&value) {
                bail!("`training.{name}` must be in [0, 1), got {value}");
            }
        }
        if self.select_by == Selection::Bleu && self.bleu_sample == 0 {
            bail!(
                "`training.select_by` is \"bleu\" but `training.bleu_sample` is 0: BLEU needs a sample"
            );
        }
        Ok(())
    }
}

/// The settings of a resume that may differ from the run's saved configuration.
const RESUMABLE_CHANGES: [&str; 2] = ["training.epochs", "training.patience"];

/// What `transformer-mt train` was asked to do.
#[derive(Clone, Debug)]
pub struct TrainOptions {
    /// The configuration file; `None`: the run's own when resuming, else the default.
    pub config: Option<PathBuf>,
    /// Pair files instead of the configuration's `data.files`.
    pub data: Vec<PathBuf>,
    /// The run: a name under `artifacts/`, or a directory.
    pub run: PathBuf,
    /// Overrides `training.epochs`.
    pub epochs: Option<usize>,
    /// Continue the run from its newest complete checkpoint.
    pub resume: bool,
    /// Where the model trains.
    pub backend: Backend,
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
}

/// The best epoch and its validation metrics.
#[derive(Clone, Debug, PartialEq)]
pub struct Best {
    /// The epoch, 1-based.
    pub epoch: usize,
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

/// Trains a model as `options` say; the run directory ends with the best weights.
pub fn train(options: &TrainOptions) -> anyhow::Result<TrainReport> {
    let run = RunDir::from_arg(&options.run);
    let config = effective_config(options, &run)?;
    let _lock = run.lock()?;
    let resume_from = start_point(&run, options.resume)?;
    let done = resume_from.unwrap_or(0);
    if done >= config.training.epochs {
        bail!(
            "{} has already trained {done} epochs of the {} asked: raise --epochs to go on",
            run.path().display(),
            config.training.epochs
        );
    }
    println!("configuration:\n{}", serde_json::to_string_pretty(&config)?);

    let files = data::corpus_files(&config.data, &options.data)?;
    let vocabularies = match resume_from {
        Some(_) => Some(Vocabularies::load(run.path())?),
        None => None,
    };
    let prepared = data::prepare(&config.data, &files, vocabularies, run.path())?;
    let splits = &prepared.splits;
    println!("{}", prepared.report);
    println!(
        "split: {} train, {} valid, {} test pairs; {} dropped for needing over {} positions",
        splits.train.len(),
        splits.valid.len(),
        splits.test.len(),
        prepared.dropped_long,
        config.data.max_len
    );
    if prepared.valid.is_empty() {
        bail!("no validation pairs: raise `data.split.valid_fraction` or give a larger corpus");
    }
    let device = options.backend.training_device()?;
    device.seed(config.training.seed);
    let model_config = config.model.transformer(
        prepared.vocabularies.source.vocab_size(),
        prepared.vocabularies.target.vocab_size(),
        config.data.max_len,
    );
    let model = TrainingModel::new(model_config.init(&device)?, config.training.label_smoothing);
    println!(
        "model: {} parameters on {}; run directory {}",
        model.num_params(),
        options.backend,
        run.path().display()
    );
    if let Some(epoch) = resume_from {
        check_checkpoint(&run, &model, epoch)?;
        run.forget_after(epoch)?;
        println!("resuming after epoch {epoch}");
    }
    run.write_config(&config)?;
    run.write_model_config(&model_config)?;
    if resume_from.is_none() {
        run.write_test_pairs(&splits.test)?;
    }

    let training = &config.training;
    let learner = Learner::new(
        model.clone(),
        adam(training),
        noam_schedule(training, config.model.d_model)?,
    );
    let max_tokens = config.data.max_tokens;
    let train_loader =
        EpochLoader::training(prepared.train, max_tokens, training.seed, done + 1, &device);
    let valid_loader = EpochLoader::validation(
        prepared.valid,
        max_tokens,
        training.seed,
        training.bleu_sample,
        &device,
    );
    let bleu = ValidationBleu::new(Arc::new(prepared.vocabularies.target.clone()));
    let interrupter = Interrupter::new();
    let failure = Arc::new(Mutex::new(None));
    let mut supervised =
        SupervisedTraining::new(run.path(), Arc::new(train_loader), Arc::new(valid_loader))
            .num_epochs(training.epochs)
            .with_interrupter(interrupter.clone())
            .renderer(renderer(&run, &interrupter, resume_from)?);
    supervised = with_metrics(supervised, &interrupter, &failure);
    if training.bleu_sample > 0 {
        supervised = supervised.metric_valid_numeric(bleu.clone());
    }
    supervised = with_checkpoints(supervised, training, &bleu);
    if let Some(epoch) = resume_from {
        supervised = supervised.checkpoint(epoch);
    }

    let clock = Instant::now();
    let LearningResult { error, .. } = supervised.launch(learner);
    let elapsed = clock.elapsed();

    let best = export_best(&run, model, training.select_by)?;
    let finished = run.logged_epochs().len();
    let epochs_run = finished.saturating_sub(done);
    if let Some(message) = failure.lock().unwrap_or_else(|e| e.into_inner()).take() {
        let epoch = run.last_started_epoch();
        let kept = match best {
            Some(Best { epoch: best, .. }) => format!(
                "Model.bpk holds epoch {best}, the best before it; no checkpoint was written from epoch {epoch}"
            ),
            None => "No epoch finished, so no weights were saved".to_string(),
        };
        bail!(
            "training stopped in epoch {epoch}: {message}. {kept}. Lower `training.noam_factor` \
             or raise `training.warmup_steps`"
        );
    }
    if let Some(error) = error {
        bail!("training failed: {error}");
    }
    let last_started = run.last_started_epoch();
    let checkpointed = run.complete_checkpoints().last().copied().unwrap_or(0);
    let stop = if last_started > checkpointed {
        Some(Stop::Interrupted(last_started))
    } else if finished < training.epochs {
        Some(Stop::Early(finished))
    } else {
        None
    };
    Ok(TrainReport {
        run,
        epochs_run,
        elapsed,
        best,
        stop,
        selected_by: training.select_by,
    })
}

/// The epoch a run continues after, `None` for a run that starts from its beginning. A
/// resume continues from the newest complete checkpoint, or starts again when none was
/// saved; a fresh start is refused over a run that saved anything. A run that saved
/// nothing is cleared of what its earlier start left (logs, incomplete checkpoints).
fn start_point(run: &RunDir, resume: bool) -> anyhow::Result<Option<usize>> {
    let path = run.path().display();
    let state = run.state();
    match (resume, state) {
        (true, RunState::Saved(epoch)) => return Ok(Some(epoch)),
        (true, RunState::Trained) => bail!(
            "{path}: model.bpk but no complete checkpoint to continue its training from: choose another `--run`"
        ),
        (true, _) => println!(
            "{path}: no epoch was saved before the run stopped: training it again from the beginning"
        ),
        (false, RunState::Unsaved) => {
            println!("{path}: an earlier start saved no epoch: starting afresh")
        }
        (false, _) => run.ensure_fresh()?,
    }
    if state == RunState::Unsaved {
        run.forget_after(0)?;
    }
    Ok(None)
}

/// Adam with the paper's β₂ = 0.98 and ε = 1e-9 (§5.3), and gradient clipping.
fn adam(training: &TrainingConfig) -> ModuleOptimizer {
    AdamConfig::new()
        .with_beta_1(training.adam_beta_1 as f32)
        .with_beta_2(training.adam_beta_2 as f32)
        .with_epsilon(training.adam_epsilon as f32)
        .with_grad_clipping(
            training
                .max_grad_norm
                .map(|norm| GradientClippingConfig::Norm(norm as f32)),
        )
        .init()
}

/// `lr = factor · d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)` (§5.3, eq. 3).
fn noam_schedule(training: &TrainingConfig, d_model: usize) -> anyhow::Result<ModuleLrScheduler> {
    NoamLrSchedulerConfig::new(training.noam_factor)
        .with_warmup_steps(training.warmup_steps)
        .with_model_size(d_model)
        .init()
        .map_err(|e| anyhow!("invalid learning-rate schedule: {e}"))
}

/// Loss (guarded), token accuracy and perplexity without padding, and speed, on both splits;
/// the learning rate on the training split.
fn with_metrics(
    supervised: SupervisedTraining<TrainingModel>,
    interrupter: &Interrupter,
    failure: &Arc<Mutex<Option<String>>>,
) -> SupervisedTraining<TrainingModel> {
    let pad = PAD_ID as usize;
    supervised
        .metric_train_numeric(GuardedLoss::new(
            "training",
            interrupter.clone(),
            failure.clone(),
        ))
        .metric_valid_numeric(GuardedLoss::new(
            "validation",
            interrupter.clone(),
            failure.clone(),
        ))
        .metrics((
            AccuracyMetric::new().with_pad_token(pad),
            PerplexityMetric::new().with_pad_token(pad),
            TokensPerSecond::default(),
        ))
        .metric_train_numeric(LearningRateMetric::new())
}

/// Checkpoints of the last `keep_checkpoints` epochs and of the best epoch by
/// `training.select_by`, and early stopping on that metric.
fn with_checkpoints(
    supervised: SupervisedTraining<TrainingModel>,
    training: &TrainingConfig,
    bleu: &ValidationBleu,
) -> SupervisedTraining<TrainingModel> {
    match training.select_by {
        Selection::Loss => watching(supervised, training, &LossMetric::new()),
        Selection::Bleu => watching(supervised, training, bleu),
    }
}

/// [`with_checkpoints`] on `metric`, which Burn's strategies find by its name in the logs.
fn watching<M: Metric>(
    supervised: SupervisedTraining<TrainingModel>,
    training: &TrainingConfig,
    metric: &M,
) -> SupervisedTraining<TrainingModel> {
    let direction = training.select_by.direction();
    let supervised = supervised
        .with_default_checkpointers()
        .with_checkpointing_strategy(
            ComposedCheckpointingStrategy::builder()
                .add(KeepLastNCheckpoints::new(training.keep_checkpoints))
                .add(MetricCheckpointingStrategy::new(
                    metric,
                    Aggregate::Mean,
                    direction,
                    Split::Valid,
                ))
                .build(),
        );
    match training.patience {
        Some(patience) => supervised.early_stopping(MetricEarlyStoppingStrategy::new(
            metric,
            Aggregate::Mean,
            direction,
            Split::Valid,
            StoppingCondition::NoImprovementSince { n_epochs: patience },
        )),
        None => supervised,
    }
}

/// The configuration this invocation trains with: the file given (else, when resuming, the
/// run's own; else the default), with the command line's overrides, validated. A resume that
/// differs from the run's saved configuration in anything but [`RESUMABLE_CHANGES`] is
/// refused.
fn effective_config(options: &TrainOptions, run: &RunDir) -> anyhow::Result<RunConfig> {
    let saved = if options.resume {
        if !run.config_path().exists() {
            bail!(
                "{}: nothing to resume: no training run of transformer-mt started here (no config.json); start one without --resume",
                run.path().display()
            );
        }
        Some(run.saved_config()?)
    } else {
        None
    };
    let mut config = match (&options.config, &saved) {
        (Some(path), _) => RunConfig::load(path)?,
        (None, Some(saved)) => saved.clone(),
        (None, None) => RunConfig::load_or_default(None)?,
    };
    if !options.data.is_empty() {
        config.data.files = options.data.clone();
    }
    if let Some(epochs) = options.epochs {
        config.training.epochs = epochs;
    }
    config.validate().context("invalid configuration")?;
    if let Some(saved) = saved {
        let mismatches: Vec<String> = saved
            .differences(&config)
            .into_iter()
            .filter(|field| !RESUMABLE_CHANGES.contains(&field.as_str()))
            .map(|field| describe(&field, &saved, &config))
            .collect();
        if !mismatches.is_empty() {
            bail!(
                "cannot resume {}: the configuration given differs from the run's config.json in {}",
                run.path().display(),
                mismatches.join("; ")
            );
        }
    }
    Ok(config)
}

/// `model.d_model (run: 64, given: 128)`.
fn describe(field: &str, saved: &RunConfig, given: &RunConfig) -> String {
    let pointer = format!("/{}", field.replace('.', "/"));
    let value = |config: &RunConfig| {
        serde_json::to_value(config)
            .ok()
            .and_then(|v| v.pointer(&pointer).cloned())
            .map(|v| v.to_string())
            .unwrap_or_else(|| "absent".to_string())
    };
    format!("{field} (run: {}, given: {})", value(saved), value(given))
}

/// Checks that the checkpoint of `epoch` loads into `model`, so that Burn, which panics on a
/// bad checkpoint, is only handed good ones.
fn check_checkpoint(run: &RunDir, model: &TrainingModel, epoch: usize) -> anyhow::Result<()> {
    let path = run.model_checkpoint(epoch);
    model
        .clone()
        .try_load_file(&path)
        .map_err(|e| anyhow!("{}: does not fit this model: {e:?}", path.display()))?;
    let path = run.checkpoint_path("optim", epoch);
    OptimizerRecord::load(&path)
        .map_err(|e| anyhow!("{}: unreadable optimiser checkpoint: {e:?}", path.display()))?;
    let path = run.checkpoint_path("scheduler", epoch);
    LrSchedulerRecord::load(&path)
        .map_err(|e| anyhow!("{}: unreadable scheduler checkpoint: {e:?}", path.display()))?;
    Ok(())
}

/// Copies the weights of the best epoch among the complete checkpoints (by a finite value of
/// `selection`'s metric) into `model.bpk`; returns that epoch and its metrics.
fn export_best(
    run: &RunDir,
    model: TrainingModel,
    selection: Selection,
) -> anyhow::Result<Option<Best>> {
    let best = run
        .complete_checkpoints()
        .into_iter()
        .filter_map(|epoch| {
            let value = run.epoch_metric("valid", epoch, selection.metric())?;
            value.is_finite().then_some((epoch, value))
        })
        .min_by(|a, b| match selection.direction() {
            Direction::Lowest => a.1.total_cmp(&b.1),
            Direction::Highest => b.1.total_cmp(&a.1),
        });
    let Some((epoch, _)) = best else {
        return Ok(None);
    };
    let path = run.model_checkpoint(epoch);
    let model = model
        .try_load_file(&path)
        .map_err(|e| anyhow!("{}: cannot load: {e:?}", path.display()))?;
    model
        .transformer
        .save_file(run.weights_path())
        .map_err(|e| anyhow!("{}: cannot write: {e:?}", run.weights_path().display()))?;
    Ok(Some(Best {
        epoch,
        loss: run.epoch_metric("valid", epoch, "Loss"),
        accuracy: run.epoch_metric("valid", epoch, "Accuracy"),
        bleu: run.epoch_metric("valid", epoch, ValidationBleu::NAME),
    }))
}

/// The dashboard and the log file on a terminal; plain lines on the standard output and the
/// log file elsewhere.
fn renderer(
    run: &RunDir,
    interrupter: &Interrupter,
    checkpoint: Option<usize>,
) -> anyhow::Result<Box<dyn MetricsRenderer>> {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(run.log_path())
        .with_context(|| format!("{}: cannot open", run.log_path().display()))?;
    let log: Box<dyn Write + Send + Sync> = Box::new(log);
    if std::io::stdout().is_terminal() {
        let screen = TuiMetricsRendererWrapper::new(interrupter.clone(), checkpoint);
        return Ok(Box::new(TeeRenderer::new(
            Box::new(screen),
            PlainRenderer::new(vec![log]),
        )));
    }
    Ok(Box::new(PlainRenderer::new(vec![
        Box::new(std::io::stdout()),
        log,
    ])))
}
