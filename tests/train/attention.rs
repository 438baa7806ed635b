//! `transformer-mt attention`: the pictures are read back, pixel by pixel where it matters.

use std::path::Path;

use serde_json::Value;
use transformer_mt::plot::heatmap::{BACKGROUND, Palette};

use super::common::*;

/// A decoded PNG: width, height and RGB bytes.
struct Image {
    width: u32,
    height: u32,
    rgb: Vec<u8>,
}

impl Image {
    fn read(path: &Path) -> Image {
        let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let mut reader = png::Decoder::new(std::io::BufReader::new(file))
            .read_info()
            .expect("a PNG");
        let mut rgb = vec![0; reader.output_buffer_size().expect("a size")];
        let info = reader.next_frame(&mut rgb).expect("pixels");
        assert_eq!(info.color_type, png::ColorType::Rgb, "{}", path.display());
        rgb.truncate(info.buffer_size());
        Image {
            width: info.width,
            height: info.height,
            rgb,
        }
    }

    fn pixel(&self, x: u32, y: u32) -> [u8; 3] {
        let i = ((y * self.width + x) * 3) as usize;
        [self.rgb[i], self.rgb[i + 1], self.rgb[i + 2]]
    }

    /// Share of the pixels that are not the background.
    fn ink(&self) -> f64 {
        let white = [BACKGROUND.0, BACKGROUND.1, BACKGROUND.2];
        let inked = self.rgb.chunks(3).filter(|p| *p != white).count();
        inked as f64 / (self.width * self.height) as f64
    }
}

fn u32_of(value: &Value) -> u32 {
    value.as_u64().expect("a number") as u32
}

fn json(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).expect("JSON")
}

fn colour(palette: Palette, value: f32) -> [u8; 3] {
    let c = palette.colour(value);
    [c.0, c.1, c.2]
}

/// Checks one picture against the weights it shows: its size, ink, the SVG twin, and every
/// cell: the colour of its weight at its centre, or, above the diagonal of the masked
/// self-attention, nothing at all (every pixel of the cell is the background).
fn check_picture(picture: &Value, rows: &[String], cols: &[String], heads: usize) {
    let name = picture["png"].as_str().expect("png path");
    let image = Image::read(Path::new(name));
    let geometry = &picture["geometry"];
    assert_eq!(image.width, u32_of(&geometry["width"]), "{name}");
    assert_eq!(image.height, u32_of(&geometry["height"]), "{name}");
    assert!(
        image.ink() > 0.05,
        "{name}: {:.3} of the pixels drawn",
        image.ink()
    );
    let causal = picture["kind"] == "decoder-self";
    let weights = picture["weights"].as_array().expect("weights");
    let panels = geometry["panels"].as_array().expect("panels");
    assert_eq!(weights.len(), heads, "{name}: one panel per head");
    assert_eq!(panels.len(), heads, "{name}");
    let white = [BACKGROUND.0, BACKGROUND.1, BACKGROUND.2];
    for (head, (matrix, panel)) in weights.iter().zip(panels).enumerate() {
        let matrix = matrix.as_array().expect("rows");
        assert_eq!(matrix.len(), rows.len(), "{name} head {head}: rows");
        let (x0, y0) = (u32_of(&panel["x"]), u32_of(&panel["y"]));
        let (w, h) = (u32_of(&panel["cell_width"]), u32_of(&panel["cell_height"]));
        assert!(w >= 4 && h >= 4, "{name}: cells of {w}×{h} pixels");
        for (row, values) in matrix.iter().enumerate() {
            let values: Vec<f32> = values
                .as_array()
                .expect("a row")
                .iter()
                .map(|v| v.as_f64().expect("a weight") as f32)
                .collect();
            assert_eq!(values.len(), cols.len(), "{name} head {head}: columns");
            let sum: f32 = values.iter().sum();
            assert!(
                (sum - 1.0).abs() < 1e-4,
                "{name} head {head} row {row}: sum {sum}"
            );
            for (col, &weight) in values.iter().enumerate() {
                let (x, y) = (x0 + col as u32 * w, y0 + row as u32 * h);
                if causal && col > row {
                    assert_eq!(weight, 0.0, "{name}: a future position has weight");
                    for py in y + 1..y + h - 1 {
                        for px in x + 1..x + w - 1 {
                            assert_eq!(
                                image.pixel(px, py),
                                white,
                                "{name} head {head}: masked cell ({row}, {col}) drawn"
                            );
                        }
                    }
                } else {
                    let centre = image.pixel(x + w / 2, y + h / 2);
                    assert_eq!(
                        centre,
                        colour(Palette::Weights, weight),
                        "{name} head {head}: cell ({row}, {col}) of weight {weight}"
                    );
                    assert_ne!(centre, white);
                }
            }
        }
    }
    let svg_path = picture["svg"].as_str().expect("svg path");
    let svg = std::fs::read_to_string(svg_path).expect("the SVG");
    assert!(svg.trim_start().starts_with("<svg"), "{svg_path}");
    assert!(
        svg.contains(&format!(
            "width=\"{}\" height=\"{}\"",
            image.width, image.height
        )),
        "{svg_path}: not the PNG's size"
    );
    for label in rows.iter().chain(cols).filter(|l| !l.starts_with('<')) {
        let text = label.trim_start_matches('▁');
        assert!(svg.contains(text), "{svg_path}: label {label:?} missing");
    }
    assert!(svg.contains(&format!("head {heads}")), "{svg_path}");
}

/// Every layer's encoder self-attention, decoder masked self-attention (upper triangle
/// empty) and encoder–decoder attention of the 10-epoch model, each head a panel showing
/// exactly its weights, and the positional encoding against the sinusoid formula.
#[test]
fn attention_pictures_show_every_head_and_the_mask() {
    let trained = trained_numbers();
    let out = tempfile::tempdir().expect("temporary directory");
    let sentence = "three hundred forty-five thousand";
    let output = run_in(
        out.path(),
        &[
            "attention",
            "--run",
            trained.run.to_str().expect("UTF-8"),
            "--output",
            out.path().to_str().expect("UTF-8"),
            "--beam",
            "1",
            "--positional",
            sentence,
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));

    let report = json(&out.path().join("attention.json"));
    assert_eq!(report["source"], sentence);
    let text = stdout(&output);
    let translation = report["translation"].as_str().expect("translation");
    assert!(
        text.starts_with(&format!("{sentence}\n→ {translation}\n")),
        "{text}"
    );
    assert!(!translation.is_empty());
    let tokens = |key: &str| -> Vec<String> {
        report[key]
            .as_array()
            .expect("tokens")
            .iter()
            .map(|t| t.as_str().expect("a token").to_string())
            .collect()
    };
    let (source, target) = (tokens("source_tokens"), tokens("target_tokens"));
    assert_eq!(target[0], "<s>");
    assert!(source.iter().any(|t| t.contains("thousand")), "{source:?}");

    let pictures = report["pictures"].as_array().expect("pictures");
    let kinds: Vec<(&str, u64)> = pictures
        .iter()
        .map(|p| {
            (
                p["kind"].as_str().expect("kind"),
                p["layer"].as_u64().expect("layer"),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ("encoder-self", 1),
            ("encoder-self", 2),
            ("decoder-self", 1),
            ("decoder-self", 2),
            ("decoder-cross", 1),
            ("decoder-cross", 2)
        ],
        "config/tiny.json has 2 encoder and 2 decoder layers"
    );
    for picture in pictures {
        let (rows, cols) = match picture["kind"].as_str().expect("kind") {
            "encoder-self" => (&source, &source),
            "decoder-self" => (&target, &target),
            _ => (&target, &source),
        };
        check_picture(picture, rows, cols, 4);
    }

    let positional = json(&out.path().join("positional.json"));
    let (d_model, positions) = (
        positional["d_model"].as_u64().expect("d_model") as usize,
        positional["positions"].as_u64().expect("positions") as usize,
    );
    assert_eq!(
        (d_model, positions),
        (64, 64),
        "tiny.json: d_model 64, max_len 64"
    );
    let image = Image::read(Path::new(positional["png"].as_str().expect("png")));
    let panel = &positional["geometry"]["panels"][0];
    let (x0, y0) = (u32_of(&panel["x"]), u32_of(&panel["y"]));
    let (w, h) = (u32_of(&panel["cell_width"]), u32_of(&panel["cell_height"]));
    for (pos, i) in [(0, 0), (0, 1), (1, 0), (5, 2), (40, 7), (63, 62), (63, 63)] {
        // PE(pos, 2k) = sin(pos / 10000^(2k/d_model)), PE(pos, 2k+1) = cos(...), by hand.
        let angle = pos as f64 / 10000f64.powf((i - i % 2) as f64 / d_model as f64);
        let value = if i % 2 == 0 { angle.sin() } else { angle.cos() };
        let found = image.pixel(x0 + i as u32 * w + w / 2, y0 + pos as u32 * h + h / 2);
        let wanted = colour(Palette::Signed, value as f32);
        let off = found
            .iter()
            .zip(wanted)
            .map(|(a, b)| a.abs_diff(b))
            .max()
            .unwrap_or(0);
        assert!(
            off <= 1,
            "PE({pos}, {i}) = {value}: {found:?}, wanted {wanted:?}"
        );
    }
}
