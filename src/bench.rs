//! `transformer-mt bench`: the speed and memory of training and of greedy translation on one
//! fixed shape, on every backend compiled in, to compare with the same model in eager PyTorch
//! (`benches/pytorch_transformer.py`; `benches/compare.py` runs both and prints the ratios).
//!
//! The shape: d_model 256, 8 heads, d_ff 1024, 3 + 3 layers, a shared tied vocabulary of
//! 8000, dropout 0.1; training steps of 64 sentences of 24 source and 24 target tokens (no
//! padding) with label smoothing 0.1 and Adam; greedy decoding of exactly 24 new tokens for
//! 24-token sources, at batch 1 and 32. Every figure is the median of timed runs after
//! warm-up runs.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, bail};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::backend::Backend;
use crate::data::batch::TranslationBatch;
use crate::data::tokenizer::{BOS_ID, PAD_ID};
use crate::model::{PaddingMasks, Transformer, TransformerConfig};
use crate::train::step::{TrainingBatch, TrainingModel};
use crate::translate::search::{Decoding, greedy};

/// Shared vocabulary of the measured model.
pub const VOCAB: usize = 8000;
/// Sentences per training step.
pub const BATCH: usize = 64;
/// Source and target tokens per sentence.
pub const LEN: usize = 24;
/// Tokens each decoding generates.
pub const NEW_TOKENS: usize = 24;
/// Batch sizes of the decoding measurements.
pub const DECODE_BATCHES: [usize; 2] = [1, 32];
const D_MODEL: usize = 256;
const N_HEADS: usize = 8;
const D_FF: usize = 1024;
const LAYERS: usize = 3;
const DROPOUT: f64 = 0.1;
const LABEL_SMOOTHING: f64 = 0.1;
const LEARNING_RATE: f64 = 1e-4;

/// The measured model's configuration.
pub fn model_config() -> TransformerConfig {
    TransformerConfig::new(VOCAB, VOCAB)
        .with_d_model(D_MODEL)
        .with_n_heads(N_HEADS)
        .with_d_ff(D_FF)
        .with_n_encoder_layers(LAYERS)
        .with_n_decoder_layers(LAYERS)
        .with_dropout(DROPOUT)
        .with_tie_embeddings(true)
}

/// The measured model, initialised on `device`.
pub fn model(device: &Device) -> Transformer {
    model_config()
        .init(device)
        .expect("the benchmark's configuration is valid")
}

/// `batch` sentences of `len` ordinary tokens (no special token, no padding), the same on
/// every backend.
pub fn tokens(batch: usize, len: usize, device: &Device) -> Tensor<2, Int> {
    let ids: Vec<i64> = (0..batch * len)
        .map(|i| (i * 37 % (VOCAB - 4) + 4) as i64)
        .collect();
    Tensor::from_data(TensorData::new(ids, [batch, len]), device)
}

/// Median seconds of `runs` calls of `step`, after `warmup` calls.
pub fn median_seconds(warmup: usize, runs: usize, mut step: impl FnMut()) -> f64 {
    for _ in 0..warmup {
        step();
    }
    let mut times: Vec<f64> = (0..runs.max(1))
        .map(|_| {
            let start = Instant::now();
            step();
            start.elapsed().as_secs_f64()
        })
        .collect();
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

/// Multiply-add FLOPs (2 per multiply-add) of the matrix products of one forward pass of the
/// training shape; a training step does about three times as many (the backward pass
/// computes two products per forward one).
///
/// With `B` sentences of `S` source and `T` target tokens: per encoder layer the four
/// projections `4·2BSd²`, `QKᵀ` and the weighted sum `2·2BS²d`, the feed-forward `2·2BSd·d_ff`;
/// per decoder layer the same over `T` for its self-attention and feed-forward, plus the
/// encoder–decoder attention: `Q` and output projections `2·2BTd²`, `K` and `V` `2·2BSd²`,
/// `2·2BTSd`; the generator `2BTd·V`.
pub fn forward_flops() -> f64 {
    let (b, s, t) = (BATCH as f64, LEN as f64, LEN as f64);
    let (d, d_ff, v) = (D_MODEL as f64, D_FF as f64, VOCAB as f64);
    let encoder =
        4.0 * 2.0 * b * s * d * d + 2.0 * 2.0 * b * s * s * d + 2.0 * 2.0 * b * s * d * d_ff;
    let decoder = 4.0 * 2.0 * b * t * d * d
        + 2.0 * 2.0 * b * t * t * d
        + 2.0 * 2.0 * b * t * d * d
        + 2.0 * 2.0 * b * s * d * d
        + 2.0 * 2.0 * b * t * s * d
        + 2.0 * 2.0 * b * t * d * d_ff;
    let generator = 2.0 * b * t * d * v;
    LAYERS as f64 * (encoder + decoder) + generator
}

/// How many runs to time.
#[derive(Clone, Copy, Debug)]
pub struct Runs {
    /// Untimed runs first.
    pub warmup: usize,
    /// Timed runs of a training step.
    pub train: usize,
    /// Timed runs of each decoding.
    pub decode: usize,
}

/// The figures of one training step.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct TrainFigures {
    /// Median seconds of a step: forward, loss, backward, Adam update.
    pub step_seconds: f64,
    /// Target tokens per second.
    pub tokens_per_second: f64,
    /// Matrix-product FLOPs per second (three times [`forward_flops`] a step).
    pub gflops: f64,
}

/// The figures of greedy decoding at one batch size.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct DecodeFigures {
    /// New tokens per second with the key/value cache.
    pub cached_tokens_per_second: f64,
    /// New tokens per second recomputing the whole prefix at every step.
    pub uncached_tokens_per_second: f64,
    /// New tokens per second with the cache and every weight matrix's product in bfloat16
    /// (`--precision bf16`, [`Transformer::with_bf16_weights`]).
    pub cached_bf16_tokens_per_second: f64,
}

/// Everything measured on one backend.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct BackendFigures {
    /// The training step.
    pub train: TrainFigures,
    /// Greedy decoding by batch size, `batch_1` and `batch_32`.
    pub greedy: std::collections::BTreeMap<String, DecodeFigures>,
    /// Peak resident memory of the process that measured, in MiB (Linux).
    pub peak_rss_mib: Option<f64>,
}

/// Measures one training step on `backend`.
pub fn measure_training(backend: Backend, runs: Runs) -> anyhow::Result<TrainFigures> {
    let device = backend.training_device()?;
    device.seed(0);
    let model = TrainingModel::new(model(&device), LABEL_SMOOTHING);
    let mut optimizer = AdamConfig::new()
        .with_beta_2(0.98)
        .with_epsilon(1e-9)
        .init();
    let src = tokens(BATCH, LEN, &device);
    let labels = tokens(BATCH, LEN, &device).flip([1]);
    let bos = Tensor::<2, Int>::full([BATCH, 1], BOS_ID as i64, &device);
    let tgt_in = Tensor::cat(vec![bos, labels.clone().slice([0..BATCH, 0..LEN - 1])], 1);
    let batch = TrainingBatch {
        batch: TranslationBatch {
            masks: PaddingMasks::from_tokens(src.clone(), tgt_in.clone(), PAD_ID as usize),
            src,
            tgt_in,
            labels,
            label_positions: Tensor::arange(0..(BATCH * LEN) as i64, &device),
        },
        target_tokens: BATCH * LEN,
        dropout_seed: None,
        bleu_references: Vec::new(),
        set: 0,
    };
    let mut model = Some(model);
    let mut step = || {
        let current = model
            .take()
            .expect("the model is put back after every step");
        let output = current.forward(batch.clone());
        let gradients = GradientsParams::from_grads(output.loss.backward(), &current);
        model = Some(optimizer.step(LEARNING_RATE, current, gradients));
        device.sync().expect("the device finishes the step");
    };
    let seconds = median_seconds(runs.warmup, runs.train, &mut step);
    Ok(TrainFigures {
        step_seconds: seconds,
        tokens_per_second: (BATCH * LEN) as f64 / seconds,
        gflops: 3.0 * forward_flops() / seconds / 1e9,
    })
}

/// Measures greedy decoding of [`NEW_TOKENS`] tokens for `batch` sentences with `model`, on
/// `device`.
pub fn measure_decoding(
    model: &Transformer,
    device: &Device,
    batch: usize,
    runs: Runs,
) -> DecodeFigures {
    let src = tokens(batch, LEN, device);
    let limits = vec![NEW_TOKENS; batch];
    let rate = |model: &Transformer, decoding| {
        let seconds = median_seconds(runs.warmup, runs.decode, || {
            let found = greedy(model, src.clone(), NEW_TOKENS, &limits, 0, decoding);
            debug_assert!(found.iter().all(|h| h.tokens.len() == NEW_TOKENS));
        });
        (batch * NEW_TOKENS) as f64 / seconds
    };
    DecodeFigures {
        cached_tokens_per_second: rate(model, Decoding::Cached),
        uncached_tokens_per_second: rate(model, Decoding::Recompute),
        cached_bf16_tokens_per_second: rate(&model.clone().with_bf16_weights(), Decoding::Cached),
    }
}

/// Peak resident memory of this process in MiB (`VmHWM`), where the system reports it.
pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// Measures everything on `backend`, in this process.
pub fn measure(backend: Backend, runs: Runs) -> anyhow::Result<BackendFigures> {
    let train = measure_training(backend, runs)?;
    let device = backend.device()?;
    device.seed(0);
    let decoder = model(&device);
    let greedy = DECODE_BATCHES
        .iter()
        .map(|&batch| {
            (
                format!("batch_{batch}"),
                measure_decoding(&decoder, &device, batch, runs),
            )
        })
        .collect();
    Ok(BackendFigures {
        train,
        greedy,
        peak_rss_mib: peak_rss_mib(),
    })
}

/// The whole report: the shape, the machine and each backend's figures.
#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// What was measured.
    pub shape: serde_json::Value,
    /// Where.
    pub machine: serde_json::Value,
    /// Figures by backend name.
    pub backends: std::collections::BTreeMap<String, BackendFigures>,
}

fn shape() -> serde_json::Value {
    serde_json::json!({
        "d_model": D_MODEL, "n_heads": N_HEADS, "d_ff": D_FF,
        "encoder_layers": LAYERS, "decoder_layers": LAYERS, "vocab": VOCAB,
        "batch": BATCH, "src_len": LEN, "tgt_len": LEN, "dropout": DROPOUT,
        "label_smoothing": LABEL_SMOOTHING, "optimizer": "adam",
        "decode_batches": DECODE_BATCHES, "new_tokens": NEW_TOKENS,
        "train_flops_per_step": 3.0 * forward_flops(),
    })
}

fn machine() -> serde_json::Value {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, name)| name.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    serde_json::json!({ "cpu": cpu, "cores": cores, "os": std::env::consts::OS })
}

/// Measures `backends`: one alone in this process, several each in a child process of its
/// own so that each peak memory is that backend's. `notify` hears of each backend as its
/// measurement starts.
pub fn run(
    backends: &[Backend],
    runs: Runs,
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<Report> {
    let mut figures = std::collections::BTreeMap::new();
    if let [backend] = backends {
        figures.insert(backend.name().to_string(), measure(*backend, runs)?);
    } else {
        let exe: PathBuf = std::env::current_exe().context("cannot find this program")?;
        for backend in backends {
            notify(&format!("measuring {backend}..."));
            let output = std::process::Command::new(&exe)
                .args([
                    "bench",
                    "--backend",
                    backend.name(),
                    "--json",
                    "--warmup",
                    &runs.warmup.to_string(),
                    "--train-runs",
                    &runs.train.to_string(),
                    "--decode-runs",
                    &runs.decode.to_string(),
                ])
                .stderr(std::process::Stdio::inherit())
                .output()
                .with_context(|| format!("cannot run {}", exe.display()))?;
            if !output.status.success() {
                bail!("the benchmark on {backend} failed");
            }
            let report: serde_json::Value = serde_json::from_slice(&output.stdout)
                .with_context(|| format!("the benchmark on {backend} printed no report"))?;
            let mine: BackendFigures =
                serde_json::from_value(report["backends"][backend.name()].clone())
                    .with_context(|| format!("the benchmark on {backend} printed no figures"))?;
            figures.insert(backend.name().to_string(), mine);
        }
    }
    Ok(Report {
        shape: shape(),
        machine: machine(),
        backends: figures,
    })
}

/// The report as a table.
pub fn table(report: &Report) -> String {
    let mut out = format!(
        "{} on {} cores; d_model 256, 8 heads, d_ff 1024, 3 + 3 layers, vocabulary 8000\n\
         training step: {BATCH} × {LEN} + {LEN} tokens, Adam; greedy: {NEW_TOKENS} new tokens (median of timed runs)\n\n",
        report.machine["cpu"].as_str().unwrap_or("unknown CPU"),
        report.machine["cores"]
    );
    out.push_str("| backend | step s | train tok/s | GFLOP/s | greedy b1 cached | b1 uncached | b1 cached bf16 | b32 cached | b32 uncached | b32 cached bf16 | peak MiB |\n");
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (name, f) in &report.backends {
        let greedy = |batch: &str, rate: fn(&DecodeFigures) -> f64| {
            f.greedy
                .get(batch)
                .map_or("-".to_string(), |d| format!("{:.0}", rate(d)))
        };
        let cached = |d: &DecodeFigures| d.cached_tokens_per_second;
        let uncached = |d: &DecodeFigures| d.uncached_tokens_per_second;
        let bf16 = |d: &DecodeFigures| d.cached_bf16_tokens_per_second;
        out.push_str(&format!(
            "| {name} | {:.3} | {:.0} | {:.1} | {} | {} | {} | {} | {} | {} | {} |\n",
            f.train.step_seconds,
            f.train.tokens_per_second,
            f.train.gflops,
            greedy("batch_1", cached),
            greedy("batch_1", uncached),
            greedy("batch_1", bf16),
            greedy("batch_32", cached),
            greedy("batch_32", uncached),
            greedy("batch_32", bf16),
            f.peak_rss_mib
                .map_or("-".to_string(), |m| format!("{m:.0}")),
        ));
    }
    out
}
