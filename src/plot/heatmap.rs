//! Heatmap figures: a grid of panels of the same rows and columns, each cell coloured by its
//! value, labelled along both axes, written as PNG and SVG with `plotters`.
//!
//! The geometry is computed before drawing and returned, so that a reader of the image (a
//! test, a notebook) knows which pixels show which cell.

use std::path::{Path, PathBuf};
use std::sync::Once;

use anyhow::{Context, anyhow};
use plotters::backend::{BitMapBackend, DrawingBackend, SVGBackend};
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use plotters::style::{FontStyle, FontTransform, register_font};
use serde::Serialize;

use crate::fs::write_atomic;

/// The family every text is drawn in: DejaVu Sans, compiled into the program so that
/// drawing needs no system fonts.
pub(super) const FONT: &str = "sans-serif";
const LABEL_SIZE: f64 = 12.0;
const TITLE_SIZE: f64 = 16.0;
const MARGIN: u32 = 16;
const GAP: u32 = 24;
const PANELS_PER_ROW: usize = 4;
const COLOUR_BAR_WIDTH: u32 = 16;
const COLOUR_BAR_AREA: u32 = 72;
/// The background: white. No cell colour is white, so an undrawn (masked) cell stands out.
pub const BACKGROUND: RGBColor = WHITE;

/// How values map to colours.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Palette {
    /// 0 to 1, pale yellow to dark blue (ColorBrewer YlGnBu): attention weights.
    Weights,
    /// −1 to 1, blue through light grey to red (ColorBrewer RdBu reversed): sinusoids.
    Signed,
}

impl Palette {
    fn anchors(self) -> &'static [(u8, u8, u8)] {
        match self {
            Palette::Weights => &[
                (255, 255, 217),
                (237, 248, 177),
                (199, 233, 180),
                (127, 205, 187),
                (65, 182, 196),
                (29, 145, 192),
                (34, 94, 168),
                (37, 52, 148),
                (8, 29, 88),
            ],
            Palette::Signed => &[
                (5, 48, 97),
                (33, 102, 172),
                (67, 147, 195),
                (146, 197, 222),
                (209, 229, 240),
                (247, 247, 247),
                (253, 219, 199),
                (244, 165, 130),
                (214, 96, 77),
                (178, 24, 43),
                (103, 0, 31),
            ],
        }
    }

    fn range(self) -> (f32, f32) {
        match self {
            Palette::Weights => (0.0, 1.0),
            Palette::Signed => (-1.0, 1.0),
        }
    }

    /// The colour of `value`, linearly interpolated between the anchors; values outside the
    /// range take the end colours.
    pub fn colour(self, value: f32) -> RGBColor {
        let (low, high) = self.range();
        let anchors = self.anchors();
        let t = ((value - low) / (high - low)).clamp(0.0, 1.0) * (anchors.len() - 1) as f32;
        let i = (t.floor() as usize).min(anchors.len() - 2);
        let f = t - i as f32;
        let mix = |a: u8, b: u8| (a as f32 + (b as f32 - a as f32) * f).round() as u8;
        let (a, b) = (anchors[i], anchors[i + 1]);
        RGBColor(mix(a.0, b.0), mix(a.1, b.1), mix(a.2, b.2))
    }
}

/// One panel: a title and a matrix of values, `values[row][column]`.
#[derive(Clone, Debug)]
pub struct Panel {
    /// Drawn above the panel.
    pub title: String,
    /// Every row the same length.
    pub values: Vec<Vec<f32>>,
}

/// A figure: panels sharing their row and column labels.
#[derive(Clone, Debug)]
pub struct Figure {
    /// Lines drawn at the top.
    pub title: Vec<String>,
    /// One label per row (the queries), drawn at the left of each panel.
    pub row_labels: Vec<String>,
    /// One label per column (the keys), drawn below each panel, turned a quarter.
    pub col_labels: Vec<String>,
    /// The panels, laid out four to a row.
    pub panels: Vec<Panel>,
    /// The colours.
    pub palette: Palette,
    /// Cells above the diagonal (column > row) are masked: left undrawn, background-white.
    pub causal: bool,
    /// Size of the drawing area of one panel, in pixels, that the cells are fitted to.
    pub panel_size: (u32, u32),
}

/// Where a panel's cells are: cell `(row, col)` covers `x + col·cell_width ..` and
/// `y + row·cell_height ..`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct PanelGeometry {
    /// Left edge of the first column, pixels from the image's left.
    pub x: u32,
    /// Top edge of the first row, pixels from the image's top.
    pub y: u32,
    /// Width of a cell.
    pub cell_width: u32,
    /// Height of a cell.
    pub cell_height: u32,
    /// Rows of cells.
    pub rows: usize,
    /// Columns of cells.
    pub cols: usize,
}

/// The size of an image and the place of each panel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Geometry {
    /// Image width in pixels.
    pub width: u32,
    /// Image height in pixels.
    pub height: u32,
    /// One per panel, in the figure's order.
    pub panels: Vec<PanelGeometry>,
}

pub(super) fn register_fonts() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        // The font is a valid TrueType file compiled in; registering it cannot fail.
        let _ = register_font(FONT, FontStyle::Normal, dejavu::sans::regular());
    });
}

fn text_width(text: &str, size: f64) -> u32 {
    (FONT, size)
        .into_font()
        .box_size(text)
        .map(|(w, _)| w)
        .unwrap_or((text.chars().count() as f64 * size * 0.6) as u32)
}

/// Every `step`-th label is drawn, so that labels never overlap their neighbours.
fn label_step(cell: u32) -> usize {
    (LABEL_SIZE as u32 + 2).div_ceil(cell.max(1)) as usize
}

impl Figure {
    fn rows(&self) -> usize {
        self.row_labels.len()
    }

    fn cols(&self) -> usize {
        self.col_labels.len()
    }

    /// The size of a cell: the panel area over the cell counts, square for square panels.
    fn cell_size(&self) -> (u32, u32) {
        let (width, height) = self.panel_size;
        let w = (width / self.cols().max(1) as u32).max(1);
        let h = (height / self.rows().max(1) as u32).max(1);
        if width == height {
            let side = w.min(h).min(32);
            (side, side)
        } else {
            (w, h)
        }
    }

    fn label_extent(labels: &[String]) -> u32 {
        labels
            .iter()
            .map(|l| text_width(l, LABEL_SIZE))
            .max()
            .unwrap_or(0)
            + 6
    }

    /// The image size and the place of every panel.
    pub fn geometry(&self) -> Geometry {
        register_fonts();
        let (cell_w, cell_h) = self.cell_size();
        let left = Self::label_extent(&self.row_labels);
        let below = Self::label_extent(&self.col_labels);
        let heat_w = cell_w * self.cols() as u32;
        let heat_h = cell_h * self.rows() as u32;
        let panel_title = TITLE_SIZE as u32 + 8;
        let panel_w = left + heat_w;
        let panel_h = panel_title + heat_h + below;
        let title_h = self.title.len() as u32 * (TITLE_SIZE as u32 + 6) + 8;
        let per_row = PANELS_PER_ROW.min(self.panels.len()).max(1);
        let grid_rows = self.panels.len().div_ceil(per_row) as u32;
        let panels = (0..self.panels.len())
            .map(|i| {
                let (r, c) = ((i / per_row) as u32, (i % per_row) as u32);
                PanelGeometry {
                    x: MARGIN + c * (panel_w + GAP) + left,
                    y: MARGIN + title_h + r * (panel_h + GAP) + panel_title,
                    cell_width: cell_w,
                    cell_height: cell_h,
                    rows: self.rows(),
                    cols: self.cols(),
                }
            })
            .collect();
        let grid_w = per_row as u32 * panel_w + (per_row as u32 - 1) * GAP;
        let title_w = self
            .title
            .iter()
            .map(|t| text_width(t, TITLE_SIZE))
            .max()
            .unwrap_or(0);
        Geometry {
            width: 2 * MARGIN + grid_w.max(title_w) + COLOUR_BAR_AREA,
            height: 2 * MARGIN + title_h + grid_rows * panel_h + (grid_rows - 1) * GAP,
            panels,
        }
    }

    /// Writes `<stem>.png` and `<stem>.svg`, each atomically; returns the geometry of both.
    pub fn write(&self, stem: &Path) -> anyhow::Result<(Geometry, [PathBuf; 2])> {
        let geometry = self.geometry();
        let size = (geometry.width, geometry.height);
        let png = stem.with_extension("png");
        let svg = stem.with_extension("svg");

        let mut pixels = vec![0u8; (size.0 * size.1 * 3) as usize];
        {
            let area = BitMapBackend::with_buffer(&mut pixels, size).into_drawing_area();
            self.draw(&area, &geometry)
                .map_err(|e| anyhow!("{}: cannot draw: {e}", png.display()))?;
        }
        write_atomic(&png, &encode_png(&pixels, size)?)
            .with_context(|| format!("{}: cannot write", png.display()))?;

        let mut text = String::new();
        {
            let area = SVGBackend::with_string(&mut text, size).into_drawing_area();
            self.draw(&area, &geometry)
                .map_err(|e| anyhow!("{}: cannot draw: {e}", svg.display()))?;
        }
        write_atomic(&svg, text.as_bytes())
            .with_context(|| format!("{}: cannot write", svg.display()))?;
        Ok((geometry, [png, svg]))
    }

    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        geometry: &Geometry,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        area.fill(&BACKGROUND)?;
        let title = TextStyle::from((FONT, TITLE_SIZE).into_font()).color(&BLACK);
        let label = TextStyle::from((FONT, LABEL_SIZE).into_font()).color(&BLACK);
        for (i, line) in self.title.iter().enumerate() {
            let y = MARGIN + i as u32 * (TITLE_SIZE as u32 + 6);
            area.draw_text(line, &title, (MARGIN as i32, y as i32))?;
        }
        let (low, high) = self.palette.range();
        for (panel, place) in self.panels.iter().zip(&geometry.panels) {
            let (x0, y0) = (place.x as i32, place.y as i32);
            let (cw, ch) = (place.cell_width as i32, place.cell_height as i32);
            area.draw_text(&panel.title, &title, (x0, y0 - TITLE_SIZE as i32 - 6))?;
            for (row, values) in panel.values.iter().enumerate() {
                for (col, &value) in values.iter().enumerate() {
                    if self.causal && col > row {
                        continue;
                    }
                    let (x, y) = (x0 + col as i32 * cw, y0 + row as i32 * ch);
                    area.draw(&Rectangle::new(
                        [(x, y), (x + cw, y + ch)],
                        self.palette.colour(value).filled(),
                    ))?;
                }
            }
            let (w, h) = (cw * place.cols as i32, ch * place.rows as i32);
            area.draw(&Rectangle::new([(x0 - 1, y0 - 1), (x0 + w, y0 + h)], BLACK))?;
            let row_label = label.pos(Pos::new(HPos::Right, VPos::Center));
            for (row, text) in self
                .row_labels
                .iter()
                .enumerate()
                .step_by(label_step(place.cell_height))
            {
                area.draw_text(text, &row_label, (x0 - 4, y0 + row as i32 * ch + ch / 2))?;
            }
            // Turned a quarter clockwise: the label runs down from its anchor, centred on it.
            let col_label = label
                .transform(FontTransform::Rotate90)
                .pos(Pos::new(HPos::Left, VPos::Center));
            for (col, text) in self
                .col_labels
                .iter()
                .enumerate()
                .step_by(label_step(place.cell_width))
            {
                area.draw_text(
                    text,
                    &col_label,
                    (x0 + col as i32 * cw + cw / 2, y0 + h + 4),
                )?;
            }
        }
        self.draw_colour_bar(area, geometry, low, high, &label)
    }

    /// The scale at the right: the palette from `low` (bottom) to `high` (top).
    fn draw_colour_bar<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
        geometry: &Geometry,
        low: f32,
        high: f32,
        label: &TextStyle,
    ) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
        let Some(first) = geometry.panels.first() else {
            return Ok(());
        };
        let x = (geometry.width - MARGIN - COLOUR_BAR_AREA + 12) as i32;
        let top = first.y as i32;
        let height = (first.cell_height as usize * first.rows).max(60) as i32;
        for step in 0..height {
            let value = high - (high - low) * step as f32 / (height - 1).max(1) as f32;
            area.draw(&Rectangle::new(
                [
                    (x, top + step),
                    (x + COLOUR_BAR_WIDTH as i32, top + step + 1),
                ],
                self.palette.colour(value).filled(),
            ))?;
        }
        area.draw(&Rectangle::new(
            [
                (x - 1, top - 1),
                (x + COLOUR_BAR_WIDTH as i32, top + height),
            ],
            BLACK,
        ))?;
        let end = label.pos(Pos::new(HPos::Left, VPos::Center));
        let tx = x + COLOUR_BAR_WIDTH as i32 + 4;
        area.draw_text(&format!("{high}"), &end, (tx, top))?;
        area.draw_text(&format!("{low}"), &end, (tx, top + height - 1))?;
        Ok(())
    }
}

/// An RGB buffer as PNG bytes.
pub(super) fn encode_png(pixels: &[u8], (width, height): (u32, u32)) -> anyhow::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    let mut encoder = png::Encoder::new(&mut bytes, width, height);
    encoder.set_color(png::ColorType::Rgb);
    encoder.set_depth(png::BitDepth::Eight);
    let mut writer = encoder
        .write_header()
        .context("cannot encode a PNG header")?;
    writer
        .write_image_data(pixels)
        .context("cannot encode the PNG pixels")?;
    writer.finish().context("cannot finish the PNG")?;
    Ok(bytes)
}
