//! How training shows its progress: Burn's TUI dashboard on a terminal, plain lines
//! elsewhere, and plain lines in the run's `train.log` either way.

use std::collections::HashMap;
use std::io::Write;
use std::time::{Duration, Instant};

use burn::train::LearnerSummary;
use burn::train::logger::{EvaluationProgressLogger, TrainingProgressLogger};
use burn::train::metric::{MetricAttributes, MetricDefinition, MetricId, NumericEntry};
use burn::train::renderer::{
    EvaluationName, MetricState, MetricsRenderer, MetricsRendererEvaluation,
    MetricsRendererTraining,
};

/// A metric's values over the current split.
#[derive(Default)]
struct Values {
    /// Sum and weight of the per-batch values, for the running mean.
    sum: f64,
    weight: f64,
    /// The last value reported.
    last: Option<f64>,
    /// The epoch's value, once the split is over.
    epoch: Option<f64>,
}

/// The longest silence between two progress lines, for slow backends and long epochs.
const QUIET: Duration = Duration::from_secs(60);

/// Writes one line after the first batch of each split, one per tenth of it (and at least one
/// a minute), and one when it is over, to every sink.
pub struct PlainRenderer {
    sinks: Vec<Box<dyn Write + Send + Sync>>,
    metrics: Vec<(MetricId, String, Option<String>)>,
    values: HashMap<MetricId, Values>,
    epoch: usize,
    total_epochs: usize,
    split: String,
    total: usize,
    tenths: usize,
    last_line: Instant,
}

impl PlainRenderer {
    /// A renderer writing to `sinks` (the standard output, a log file, or both).
    pub fn new(sinks: Vec<Box<dyn Write + Send + Sync>>) -> Self {
        Self {
            sinks,
            metrics: Vec::new(),
            values: HashMap::new(),
            epoch: 1,
            total_epochs: 1,
            split: String::new(),
            total: 0,
            tenths: 0,
            last_line: Instant::now(),
        }
    }

    fn line(&mut self, text: &str) {
        self.last_line = Instant::now();
        for sink in &mut self.sinks {
            // A log line that cannot be written must not stop the training it describes.
            let _ = writeln!(sink, "{text}").and_then(|()| sink.flush());
        }
    }

    fn update(&mut self, state: MetricState) {
        let MetricState::Numeric(entry, Some(value)) = state else {
            return;
        };
        let values = self.values.entry(entry.metric_id).or_default();
        match value {
            NumericEntry::Value(v) => values.last = Some(v),
            NumericEntry::Aggregated {
                aggregated_value,
                count,
            } => {
                values.sum += aggregated_value * count as f64;
                values.weight += count as f64;
                values.last = Some(aggregated_value);
            }
            NumericEntry::Final(v) => values.epoch = Some(v),
        }
    }

    /// `loss 2.3456 · accuracy 41.20 % · ...`: each metric's epoch value when the split is
    /// over, else its running mean (rates and the learning rate: their last value).
    fn summary(&self) -> String {
        let mut parts = Vec::new();
        for (id, name, unit) in &self.metrics {
            let Some(values) = self.values.get(id) else {
                continue;
            };
            let running = (values.weight > 0.0 && name != "learning rate")
                .then(|| values.sum / values.weight);
            if let Some(value) = values.epoch.or(running).or(values.last) {
                let unit = unit.as_deref().map(|u| format!(" {u}")).unwrap_or_default();
                parts.push(format!("{name} {}{unit}", number(value)));
            }
        }
        parts.join(" · ")
    }
}

/// A number with about four significant digits, in scientific notation when small.
fn number(value: f64) -> String {
    let magnitude = value.abs();
    if magnitude >= 1e6 {
        format!("{value:.3e}")
    } else if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 100.0 {
        format!("{value:.1}")
    } else if magnitude >= 0.01 || magnitude == 0.0 {
        format!("{value:.4}")
    } else {
        format!("{value:.3e}")
    }
}

impl MetricsRendererTraining for PlainRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.update(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.update(state);
    }

    fn on_train_end(
        &mut self,
        _summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        Ok(())
    }
}

impl MetricsRendererEvaluation for PlainRenderer {
    fn update_test(&mut self, _name: EvaluationName, _state: MetricState) {}
}

impl TrainingProgressLogger for PlainRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        _total_items: Option<usize>,
        _label: Option<&str>,
    ) {
        self.epoch = starting_epoch;
        self.total_epochs = total_epochs;
        self.line(&format!(
            "training epochs {starting_epoch} to {total_epochs}"
        ));
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.epoch = epoch + 1;
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.split = split.to_string();
        self.total = total_items;
        self.tenths = 0;
        self.values.clear();
    }

    fn update_split(&mut self, items_processed: usize) {
        let tenths = (10 * items_processed).checked_div(self.total).unwrap_or(10);
        // The first batch too: the first sign that a run has started, and its speed.
        let due = items_processed == 1 || tenths > self.tenths || self.last_line.elapsed() >= QUIET;
        if due && items_processed < self.total {
            self.tenths = tenths;
            let line = format!(
                "epoch {}/{} · {} {:>3} % ({items_processed}/{} batches) · {}",
                self.epoch,
                self.total_epochs,
                self.split,
                100 * items_processed / self.total,
                self.total,
                self.summary()
            );
            self.line(&line);
        }
    }

    fn end_split(&mut self) {
        let line = format!(
            "epoch {}/{} · {} done ({} batches) · {}",
            self.epoch,
            self.total_epochs,
            self.split,
            self.total,
            self.summary()
        );
        self.line(&line);
    }

    fn end(&mut self) {
        self.line("training ended");
    }

    fn log_event_training(&mut self, _event: String) {}
}

impl EvaluationProgressLogger for PlainRenderer {
    fn start_global_progress(&mut self, _total_tests: usize) {}
    fn start_test(&mut self, _name: &str, _total_items: usize) {}
    fn update_test_progress(&mut self, _items_processed: usize) {}
    fn end_test(&mut self) {}
    fn end_global_progress(&mut self) {}
    fn log_event_evaluation(&mut self, _event: String) {}
}

impl MetricsRenderer for PlainRenderer {
    fn manual_close(&mut self) {}

    fn register_metric(&mut self, definition: MetricDefinition) {
        let unit = match &definition.attributes {
            MetricAttributes::Numeric(attributes) => attributes.unit.clone(),
            _ => None,
        };
        if !self
            .metrics
            .iter()
            .any(|(id, ..)| *id == definition.metric_id)
        {
            self.metrics
                .push((definition.metric_id, definition.name.to_lowercase(), unit));
        }
    }
}

/// Two renderers fed the same events: the dashboard on screen, the plain log in a file.
pub struct TeeRenderer {
    screen: Box<dyn MetricsRenderer>,
    log: PlainRenderer,
}

impl TeeRenderer {
    /// Shows progress on `screen` and writes it to `log`.
    pub fn new(screen: Box<dyn MetricsRenderer>, log: PlainRenderer) -> Self {
        Self { screen, log }
    }
}

/// A copy of a metric state for the second renderer (`MetricState` is not `Clone`).
fn copy(state: &MetricState) -> MetricState {
    match state {
        MetricState::Generic(entry) => MetricState::Generic(entry.clone()),
        MetricState::Numeric(entry, value) => MetricState::Numeric(entry.clone(), value.clone()),
    }
}

impl MetricsRendererTraining for TeeRenderer {
    fn update_train(&mut self, state: MetricState) {
        self.log.update_train(copy(&state));
        self.screen.update_train(state);
    }

    fn update_valid(&mut self, state: MetricState) {
        self.log.update_valid(copy(&state));
        self.screen.update_valid(state);
    }

    fn on_train_end(
        &mut self,
        summary: Option<LearnerSummary>,
    ) -> Result<(), Box<dyn std::error::Error>> {
        self.screen.on_train_end(summary)
    }
}

impl MetricsRendererEvaluation for TeeRenderer {
    fn update_test(&mut self, name: EvaluationName, state: MetricState) {
        self.screen.update_test(name, state);
    }
}

impl TrainingProgressLogger for TeeRenderer {
    fn start(
        &mut self,
        total_epochs: usize,
        starting_epoch: usize,
        total_items: Option<usize>,
        label: Option<&str>,
    ) {
        self.log
            .start(total_epochs, starting_epoch, total_items, label);
        self.screen
            .start(total_epochs, starting_epoch, total_items, label);
    }

    fn update_epoch(&mut self, epoch: usize) {
        self.log.update_epoch(epoch);
        self.screen.update_epoch(epoch);
    }

    fn start_split(&mut self, split: &str, total_items: usize) {
        self.log.start_split(split, total_items);
        self.screen.start_split(split, total_items);
    }

    fn update_split(&mut self, items_processed: usize) {
        self.log.update_split(items_processed);
        self.screen.update_split(items_processed);
    }

    fn end_split(&mut self) {
        self.log.end_split();
        self.screen.end_split();
    }

    fn end(&mut self) {
        self.log.end();
        self.screen.end();
    }

    fn log_event_training(&mut self, event: String) {
        self.screen.log_event_training(event);
    }
}

impl EvaluationProgressLogger for TeeRenderer {
    fn start_global_progress(&mut self, total_tests: usize) {
        self.screen.start_global_progress(total_tests);
    }
    fn start_test(&mut self, name: &str, total_items: usize) {
        self.screen.start_test(name, total_items);
    }
    fn update_test_progress(&mut self, items_processed: usize) {
        self.screen.update_test_progress(items_processed);
    }
    fn end_test(&mut self) {
        self.screen.end_test();
    }
    fn end_global_progress(&mut self) {
        self.screen.end_global_progress();
    }
    fn log_event_evaluation(&mut self, event: String) {
        self.screen.log_event_evaluation(event);
    }
}

impl MetricsRenderer for TeeRenderer {
    fn manual_close(&mut self) {
        self.screen.manual_close();
    }

    fn register_metric(&mut self, definition: MetricDefinition) {
        self.log.register_metric(definition.clone());
        self.screen.register_metric(definition);
    }
}
