//! Learning curves: the validation BLEU and loss of runs against the hours they trained, side
//! by side in one figure (PNG and SVG), and as a table — to compare recipes.
//!
//! An epoch's time runs from Burn's "Executing training step for epoch N" line in the run's
//! `experiment.log` (the last one, when a resume repeated it) to the last write of its
//! validation loss log, so that time stopped between a kill and a resume is not counted.

use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use anyhow::{Context, anyhow, bail};
use plotters::backend::{BitMapBackend, DrawingBackend, SVGBackend};
use plotters::coord::Shift;
use plotters::prelude::*;
use serde::Serialize;

use super::heatmap::{BACKGROUND, FONT, encode_png, register_fonts};
use crate::fs::write_atomic;
use crate::run::RunDir;

/// Pixels of each of the two charts.
const CHART: (u32, u32) = (640, 420);

/// One run's validation metrics, epoch by epoch.
#[derive(Clone, Debug, Serialize)]
pub struct Curve {
    /// The run's name: its directory's.
    pub run: String,
    /// Its epochs in order.
    pub points: Vec<Point>,
}

/// The validation metrics of one epoch and the training time to its end.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Point {
    /// The epoch, 1-based.
    pub epoch: usize,
    /// Hours of training (validation included) from the run's start to this epoch's end.
    pub hours: f64,
    /// Validation loss.
    pub loss: f64,
    /// Validation BLEU of the run's sample, when the run computes it.
    pub bleu: Option<f64>,
}

/// The curve of `run`: every epoch it logged.
pub fn curve(run: &RunDir) -> anyhow::Result<Curve> {
    let epochs = run.logged_epochs();
    if epochs.is_empty() {
        bail!("{}: no epoch logged: nothing to draw", run.path().display());
    }
    let log_path = run.path().join("experiment.log");
    let log = std::fs::read_to_string(&log_path)
        .with_context(|| format!("{}: cannot read", log_path.display()))?;
    let mut hours = 0.0;
    let mut points = Vec::new();
    for epoch in epochs {
        let marker = format!("Executing training step for epoch {epoch}");
        let start = log
            .lines()
            .rev()
            .find(|line| line.ends_with(&marker))
            .and_then(|line| line.split_whitespace().next())
            .and_then(unix_seconds)
            .ok_or_else(|| anyhow!("{}: no start of epoch {epoch}", log_path.display()))?;
        let loss_log = run
            .path()
            .join("valid")
            .join(format!("epoch-{epoch}"))
            .join("Loss.log");
        let end = std::fs::metadata(&loss_log)
            .and_then(|m| m.modified())
            .with_context(|| format!("{}: cannot read", loss_log.display()))?
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        hours += (end - start).max(0.0) / 3600.0;
        points.push(Point {
            epoch,
            hours,
            loss: run.epoch_metric("valid", epoch, "Loss").unwrap_or(f64::NAN),
            bleu: run.epoch_metric("valid", epoch, "BLEU"),
        });
    }
    let name = run.path().file_name().unwrap_or(run.path().as_os_str());
    Ok(Curve {
        run: name.to_string_lossy().into_owned(),
        points,
    })
}

/// Seconds since 1970 of an RFC 3339 UTC time as Burn's log writes it,
/// `2026-11-30T10:09:17.648081Z`.
pub fn unix_seconds(stamp: &str) -> Option<f64> {
    let (date, time) = stamp.strip_suffix('Z')?.split_once('T')?;
    let mut date = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (year, month, day) = (date.next()??, date.next()??, date.next()??);
    let mut time = time.splitn(3, ':');
    let hour: f64 = time.next()?.parse().ok()?;
    let minute: f64 = time.next()?.parse().ok()?;
    let second: f64 = time.next()?.parse().ok()?;
    // Days from 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days as f64 * 86_400.0 + hour * 3600.0 + minute * 60.0 + second)
}

/// The curves as a Markdown table: a row per run and epoch.
pub fn table(curves: &[Curve]) -> String {
    let mut text = String::from(
        "| run | epoch | hours | validation loss | validation BLEU |\n|---|---|---|---|---|\n",
    );
    for curve in curves {
        for point in &curve.points {
            let bleu = point.bleu.map_or("–".to_string(), |b| format!("{b:.2}"));
            text.push_str(&format!(
                "| {} | {} | {:.2} | {:.4} | {bleu} |\n",
                curve.run, point.epoch, point.hours, point.loss
            ));
        }
    }
    text
}

/// Draws validation BLEU (left) and loss (right) against hours, a line per run, to
/// `<stem>.png` and `<stem>.svg`, each written atomically.
pub fn draw(curves: &[Curve], stem: &Path) -> anyhow::Result<[PathBuf; 2]> {
    register_fonts();
    let size = (2 * CHART.0, CHART.1);
    let png = stem.with_extension("png");
    let svg = stem.with_extension("svg");
    let mut pixels = vec![0u8; (size.0 * size.1 * 3) as usize];
    {
        let area = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
        draw_on(&area, curves).map_err(|e| anyhow!("{}: cannot draw: {e}", png.display()))?;
    }
    write_atomic(&png, &encode_png(&pixels, size)?)
        .with_context(|| format!("{}: cannot write", png.display()))?;
    let mut text = String::new();
    {
        let area = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw_on(&area, curves).map_err(|e| anyhow!("{}: cannot draw: {e}", svg.display()))?;
    }
    write_atomic(&svg, text.as_bytes())
        .with_context(|| format!("{}: cannot write", svg.display()))?;
    Ok([png, svg])
}

fn draw_on<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    curves: &[Curve],
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    area.fill(&BACKGROUND)?;
    let (left, right) = area.split_horizontally(CHART.0);
    let bleu = |p: &Point| p.bleu;
    let loss = |p: &Point| p.loss.is_finite().then_some(p.loss);
    chart(&left, curves, "validation BLEU (sample, greedy)", &bleu)?;
    chart(&right, curves, "validation loss", &loss)
}

fn chart<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    curves: &[Curve],
    title: &str,
    value: &dyn Fn(&Point) -> Option<f64>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    let points = || curves.iter().flat_map(|c| &c.points);
    let hours = points().map(|p| p.hours).fold(0.0, f64::max).max(1e-3);
    let values: Vec<f64> = points().filter_map(value).collect();
    let low = values.iter().copied().fold(f64::INFINITY, f64::min);
    let high = values.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let (low, high) = if values.is_empty() {
        (0.0, 1.0)
    } else {
        let pad = ((high - low) * 0.05).max(0.5);
        (low - pad, high + pad)
    };
    let mut chart = ChartBuilder::on(area)
        .caption(title, (FONT, 18))
        .margin(12)
        .x_label_area_size(36)
        .y_label_area_size(48)
        .build_cartesian_2d(0.0..hours * 1.02, low..high)?;
    chart
        .configure_mesh()
        .x_desc("hours of training")
        .label_style((FONT, 12))
        .axis_desc_style((FONT, 14))
        .draw()?;
    for (index, curve) in curves.iter().enumerate() {
        let colour = Palette99::pick(index).to_rgba();
        let series: Vec<(f64, f64)> = curve
            .points
            .iter()
            .filter_map(|p| Some((p.hours, value(p)?)))
            .collect();
        chart
            .draw_series(LineSeries::new(series.clone(), colour.stroke_width(2)))?
            .label(curve.run.clone())
            .legend(move |(x, y)| PathElement::new([(x, y), (x + 18, y)], colour.stroke_width(2)));
        chart.draw_series(
            series
                .into_iter()
                .map(|p| Circle::new(p, 3, colour.filled())),
        )?;
    }
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT, 12))
        .draw()
}
