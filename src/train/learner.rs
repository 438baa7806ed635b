//! The parts of Burn's learner: Adam and the warm-up schedule (§5.3), the metrics, the
//! checkpoints and early stopping on the selected metric, the dashboard or plain lines.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};

use anyhow::{Context, anyhow};
use burn::grad_clipping::GradientClippingConfig;
use burn::optim::lr_scheduler::module_lr_scheduler::ModuleLrScheduler;
use burn::optim::lr_scheduler::noam::NoamLrSchedulerConfig;
use burn::optim::{AdamConfig, ModuleOptimizer};
use burn::tensor::Device;
use burn::train::checkpoint::{
    ComposedCheckpointingStrategy, KeepLastNCheckpoints, MetricCheckpointingStrategy,
};
use burn::train::metric::store::{Aggregate, Direction, Split};
use burn::train::metric::{LearningRateMetric, LossMetric, Metric};
use burn::train::renderer::MetricsRenderer;
use burn::train::renderer::tui::TuiMetricsRendererWrapper;
use burn::train::{
    ExecutionStrategy, Interrupter, MetricEarlyStoppingStrategy, MultiDeviceOptim,
    StoppingCondition, SupervisedTraining,
};

use super::metrics::{
    GuardedLoss, OfSet, Perplexity, TokenAccuracy, TokensPerSecond, ValidationBleu,
};
use super::renderer::{PlainRenderer, TeeRenderer};
use super::step::TrainingModel;
use crate::run::{RunDir, Selection, TrainingConfig, Watched};

/// The name of `selection`'s metric in Burn's logs: `Loss`, `BLEU`, `BLEU ntrex128`.
pub fn metric_name(selection: &Selection) -> String {
    let metric = match selection.metric {
        Watched::Loss => "Loss",
        Watched::Perplexity => Perplexity::NAME,
        Watched::Bleu => ValidationBleu::NAME,
    };
    match &selection.set {
        Some(set) => format!("{metric} {set}"),
        None => metric.to_string(),
    }
}

/// Whether `selection`'s metric is better lower or higher.
pub fn direction(selection: &Selection) -> Direction {
    match selection.metric {
        Watched::Loss | Watched::Perplexity => Direction::Lowest,
        Watched::Bleu => Direction::Highest,
    }
}

/// Where Burn's learner trains: one device, or data-parallel over several, each step a batch
/// per device whose gradients are gathered and summed on the first device, which alone steps
/// the optimiser and validates. (Burn's all-reduce engine, `ExecutionStrategy::ddp`, needs
/// NCCL: CUDA only.)
pub fn execution(devices: &[Device]) -> ExecutionStrategy {
    match devices {
        [device] => ExecutionStrategy::single(device.clone()),
        _ => ExecutionStrategy::multi(devices.to_vec(), MultiDeviceOptim::OptimMainDevice),
    }
}

/// Adam with the paper's β₂ = 0.98 and ε = 1e-9 (§5.3), and gradient clipping.
pub fn adam(training: &TrainingConfig) -> ModuleOptimizer {
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

/// `lr = factor · d_model^-0.5 · min(step^-0.5, step · warmup_steps^-1.5)` (§5.3, eq. 3),
/// already `training.start_step` steps along.
pub fn noam_schedule(
    training: &TrainingConfig,
    d_model: usize,
) -> anyhow::Result<ModuleLrScheduler> {
    let mut schedule = NoamLrSchedulerConfig::new(training.noam_factor)
        .with_warmup_steps(training.warmup_steps)
        .with_model_size(d_model)
        .init()
        .map_err(|e| anyhow!("invalid learning-rate schedule: {e}"))?;
    for _ in 0..training.start_step {
        schedule.step();
    }
    Ok(schedule)
}

/// Loss (guarded), token accuracy and perplexity without padding, and speed, on both splits;
/// the learning rate on the training split.
pub fn with_metrics(
    supervised: SupervisedTraining<TrainingModel>,
    interrupter: &Interrupter,
    failure: &Arc<Mutex<Option<String>>>,
) -> SupervisedTraining<TrainingModel> {
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
            TokenAccuracy::default(),
            Perplexity::default(),
            TokensPerSecond::default(),
        ))
        .metric_train_numeric(LearningRateMetric::new())
}

/// Checkpoints of the last `keep_checkpoints` epochs and of the best epoch by
/// `training.select_by`, and early stopping on that metric; `sets` are the validation sets'
/// names, in order.
pub fn with_checkpoints(
    supervised: SupervisedTraining<TrainingModel>,
    training: &TrainingConfig,
    bleu: &ValidationBleu,
    sets: &[String],
) -> SupervisedTraining<TrainingModel> {
    let selection = &training.select_by;
    let set = selection
        .set
        .as_ref()
        .map(|name| (sets.iter().position(|s| s == name).unwrap_or(0), name));
    match (selection.metric, set) {
        (Watched::Loss, _) => watching(supervised, training, &LossMetric::new()),
        (Watched::Perplexity, None) => watching(supervised, training, &Perplexity::default()),
        (Watched::Bleu, None) => watching(supervised, training, bleu),
        (Watched::Perplexity, Some((index, name))) => watching(
            supervised,
            training,
            &OfSet::new(Perplexity::default(), index, name),
        ),
        (Watched::Bleu, Some((index, name))) => {
            watching(supervised, training, &OfSet::new(bleu.clone(), index, name))
        }
    }
}

/// [`with_checkpoints`] on `metric`, which Burn's strategies find by its name in the logs.
fn watching<M: Metric>(
    supervised: SupervisedTraining<TrainingModel>,
    training: &TrainingConfig,
    metric: &M,
) -> SupervisedTraining<TrainingModel> {
    let direction = direction(&training.select_by);
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

/// The dashboard and the log file on a terminal; plain lines on the standard output and the
/// log file elsewhere.
pub fn renderer(
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
