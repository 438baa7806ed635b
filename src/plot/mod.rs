//! Looking inside a trained model: `transformer-mt attention` draws the attention weights of
//! one sentence and the positional encoding as heatmaps; `transformer-mt curves` draws how
//! runs learned.
//!
//! | part | file |
//! |---|---|
//! | heatmap figures, their geometry, PNG and SVG | [`heatmap`] |
//! | learning curves of runs against training hours | [`curves`] |
//!
//! The weights are those of a teacher-forced pass over the sentence and the translation the
//! model found for it: row `i` of a panel is `softmax(q_i·Kᵀ/√d_k)` after the mask, the
//! weights that query `i` gives every key, for one head of one layer.

pub mod curves;
pub mod heatmap;

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use burn::tensor::Tensor;
use serde::Serialize;

use crate::backend::Backend;
use crate::data::batch::padded;
use crate::data::tokenizer::{BOS_ID, PAD_ID};
use crate::fs::write_atomic;
use crate::model::positional_encoding::sinusoid_table;
use crate::model::{AttentionWeights, PaddingMasks};
use crate::run::RunDir;
use crate::run::dir::lock_directory;
use crate::translate::{SearchSettings, Translator};
use heatmap::{Figure, Geometry, Palette, Panel};

/// Pixels of one attention panel's cell area (square).
const ATTENTION_PANEL: (u32, u32) = (360, 360);
/// Pixels of the positional-encoding panel's cell area.
const POSITIONAL_PANEL: (u32, u32) = (768, 400);

/// What `attention` was asked to draw.
#[derive(Clone, Debug)]
pub struct AttentionOptions {
    /// The trained run.
    pub run: PathBuf,
    /// Where the model runs.
    pub backend: Backend,
    /// The English sentence whose attention is drawn.
    pub sentence: Option<String>,
    /// Also draw the positional encoding of the run's model.
    pub positional: bool,
    /// Positions of the positional-encoding picture.
    pub positions: Option<usize>,
    /// Where the pictures go; default `<run>/attention`.
    pub output: Option<PathBuf>,
    /// How the translation is searched for.
    pub settings: SearchSettings,
    /// The domain tag sources are translated with, instead of the run's default.
    pub tag: Option<String>,
}

/// The three attentions of the Transformer.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    /// Encoder self-attention: source tokens to source tokens.
    EncoderSelf,
    /// Decoder masked self-attention: each target position to itself and those before.
    DecoderSelf,
    /// Encoder–decoder attention: target positions to source tokens.
    DecoderCross,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::EncoderSelf => "encoder-self",
            Kind::DecoderSelf => "decoder-self",
            Kind::DecoderCross => "decoder-cross",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Kind::EncoderSelf => "Encoder self-attention",
            Kind::DecoderSelf => "Decoder masked self-attention",
            Kind::DecoderCross => "Encoder-decoder attention",
        }
    }
}

/// One picture written: a kind of attention in one layer, a panel per head.
#[derive(Clone, Debug, Serialize)]
pub struct AttentionPicture {
    /// Which attention.
    pub kind: Kind,
    /// 1-based layer.
    pub layer: usize,
    /// The PNG file.
    pub png: PathBuf,
    /// The SVG file.
    pub svg: PathBuf,
    /// Image size and where each head's cells are.
    pub geometry: Geometry,
    /// `weights[head][query][key]`.
    pub weights: Vec<Vec<Vec<f32>>>,
}

/// Everything `attention` drew for a sentence, also written as `attention.json`.
#[derive(Clone, Debug, Serialize)]
pub struct AttentionReport {
    /// The English sentence.
    pub source: String,
    /// The model's translation.
    pub translation: String,
    /// The source's subword tokens (the encoder's queries and keys).
    pub source_tokens: Vec<String>,
    /// The decoder's input tokens, `<s>` then the translation's.
    pub target_tokens: Vec<String>,
    /// One per kind and layer.
    pub pictures: Vec<AttentionPicture>,
}

/// The positional-encoding picture, also written as `positional.json`.
#[derive(Clone, Debug, Serialize)]
pub struct PositionalPicture {
    /// Width of the model's vectors: the columns.
    pub d_model: usize,
    /// Positions drawn: the rows.
    pub positions: usize,
    /// The PNG file.
    pub png: PathBuf,
    /// The SVG file.
    pub svg: PathBuf,
    /// Image size and where the cells are.
    pub geometry: Geometry,
}

/// What `attention` did: the sentence translated (when one was given) and the files written.
#[derive(Clone, Debug)]
pub struct Drawn {
    /// The sentence and its translation.
    pub translation: Option<(String, String)>,
    /// The pictures and JSON files.
    pub written: Vec<PathBuf>,
}

/// Draws what `options` ask. `notify` hears of a sentence cut to the model's length.
pub fn attention(
    options: &AttentionOptions,
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<Drawn> {
    if options.sentence.is_none() && !options.positional {
        bail!("give a sentence to draw its attention, or --positional");
    }
    let run = RunDir::from_arg(&options.run);
    let translator = Translator::load(&run, options.backend)?.with_tag(options.tag.as_deref())?;
    let output = options
        .output
        .clone()
        .unwrap_or_else(|| run.path().join("attention"));
    let _lock = lock_directory(&output, "attention.lock", "drawn into")?;
    let mut written = Vec::new();
    let mut translation = None;
    if options.positional {
        written.extend(positional(&translator, options.positions, &output)?);
    }
    if let Some(sentence) = &options.sentence {
        let report = sentence_attention(&translator, sentence, &options.settings, &output, notify)?;
        translation = Some((report.source.clone(), report.translation.clone()));
        let json = output.join("attention.json");
        write_atomic(&json, serde_json::to_string(&report)?.as_bytes())
            .with_context(|| format!("{}: cannot write", json.display()))?;
        for picture in report.pictures {
            written.extend([picture.png, picture.svg]);
        }
        written.push(json);
    }
    Ok(Drawn {
        translation,
        written,
    })
}

/// The sinusoid table `PE[pos, i]` of the run's model: rows are positions, columns the
/// `d_model` dimensions; each column pair oscillates at its own wavelength.
fn positional(
    translator: &Translator,
    positions: Option<usize>,
    output: &Path,
) -> anyhow::Result<[PathBuf; 3]> {
    let max_len = translator.max_len();
    let positions = positions.unwrap_or(max_len.min(100));
    if positions == 0 || positions > max_len {
        bail!("--positions must be between 1 and the model's max_len {max_len}, got {positions}");
    }
    let d_model = translator.d_model();
    let table = sinusoid_table(positions, d_model);
    let figure = Figure {
        title: vec![
            "Sinusoidal positional encoding: PE(pos, 2i) = sin(pos / 10000^(2i/d_model)), \
             PE(pos, 2i+1) = cos(pos / 10000^(2i/d_model))"
                .to_string(),
            format!(
                "rows: positions 0..{}, columns: dimensions 0..{} (d_model = {d_model})",
                positions - 1,
                d_model - 1
            ),
        ],
        row_labels: (0..positions).map(|p| p.to_string()).collect(),
        col_labels: (0..d_model).map(|i| i.to_string()).collect(),
        panels: vec![Panel {
            title: "PE".to_string(),
            values: table.chunks(d_model).map(<[f32]>::to_vec).collect(),
        }],
        palette: Palette::Signed,
        causal: false,
        panel_size: POSITIONAL_PANEL,
    };
    let (geometry, [png, svg]) = figure.write(&output.join("positional"))?;
    let json = output.join("positional.json");
    let picture = PositionalPicture {
        d_model,
        positions,
        png: png.clone(),
        svg: svg.clone(),
        geometry,
    };
    write_atomic(&json, serde_json::to_string(&picture)?.as_bytes())
        .with_context(|| format!("{}: cannot write", json.display()))?;
    Ok([png, svg, json])
}

/// A sentence, its translation, and every attention weight of the model between them.
#[derive(Clone, Debug, Serialize)]
pub struct SentenceAttention {
    /// The English sentence.
    pub source: String,
    /// Its translation.
    pub translation: String,
    /// The source subword tokens (`▁` marks a word's start).
    pub source_tokens: Vec<String>,
    /// `<s>` and the translation's subword tokens: the decoder's input.
    pub target_tokens: Vec<String>,
    /// The warning when the sentence was cut to the model's positions.
    pub warning: Option<String>,
    /// Encoder self-attention, `[layer][head][query][key]` over the source tokens.
    pub encoder_self: Vec<Vec<Vec<Vec<f32>>>>,
    /// Decoder masked self-attention over the target tokens; 0 above the diagonal.
    pub decoder_self: Vec<Vec<Vec<Vec<f32>>>>,
    /// Encoder–decoder attention: target tokens (queries) to source tokens (keys).
    pub decoder_cross: Vec<Vec<Vec<Vec<f32>>>>,
}

/// Translates `sentence` and runs the model teacher-forced over it and its translation,
/// keeping every layer's attention weights: row `i` of a head is `softmax(q_i·Kᵀ/√d_k)`
/// after the mask.
pub fn sentence_weights(
    translator: &Translator,
    sentence: &str,
    settings: &SearchSettings,
) -> anyhow::Result<SentenceAttention> {
    let sources = translator.encode(&[sentence])?;
    let warning = sources.warning(None);
    let source_ids = sources.ids.into_iter().next().unwrap_or_default();
    if source_ids.is_empty() {
        bail!("the sentence is empty: nothing to draw");
    }
    let settings = SearchSettings {
        n_best: 1,
        ..*settings
    };
    let translation = translator
        .translate(std::slice::from_ref(&source_ids), &settings, |_| {})?
        .remove(0)
        .remove(0);
    let mut target_ids = vec![BOS_ID];
    target_ids.extend(&translation.tokens);
    target_ids.truncate(translator.positions());

    let device = translator.device();
    let src = padded(std::slice::from_ref(&source_ids), device);
    let tgt_in = padded(std::slice::from_ref(&target_ids), device);
    let masks = PaddingMasks::from_tokens(src.clone(), tgt_in.clone(), PAD_ID as usize);
    let (_, weights) = translator
        .model()
        .forward_with_attention(src, tgt_in, &masks);
    let AttentionWeights {
        encoder_self,
        decoder_self,
        decoder_cross,
    } = weights;
    let read = |layers: Vec<Tensor<4>>| {
        layers
            .into_iter()
            .map(head_matrices)
            .collect::<anyhow::Result<Vec<_>>>()
    };
    let vocabularies = translator.vocabularies();
    Ok(SentenceAttention {
        source: sentence.to_string(),
        translation: translation.text,
        source_tokens: vocabularies.source.token_labels(&source_ids),
        target_tokens: vocabularies.target.token_labels(&target_ids),
        warning,
        encoder_self: read(encoder_self)?,
        decoder_self: read(decoder_self)?,
        decoder_cross: read(decoder_cross)?,
    })
}

/// Draws every layer's attention of each kind for `sentence` (see [`sentence_weights`]).
fn sentence_attention(
    translator: &Translator,
    sentence: &str,
    settings: &SearchSettings,
    output: &Path,
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<AttentionReport> {
    let attention = sentence_weights(translator, sentence, settings)?;
    if let Some(warning) = &attention.warning {
        notify(warning);
    }
    let caption = format!("\"{sentence}\" → \"{}\"", attention.translation);
    let tokens = [&attention.source_tokens, &attention.target_tokens];
    let mut pictures = Vec::new();
    for (kind, layers) in [
        (Kind::EncoderSelf, attention.encoder_self),
        (Kind::DecoderSelf, attention.decoder_self),
        (Kind::DecoderCross, attention.decoder_cross),
    ] {
        pictures.extend(draw_layers(kind, layers, tokens, &caption, output)?);
    }
    Ok(AttentionReport {
        source: attention.source,
        translation: attention.translation,
        source_tokens: attention.source_tokens,
        target_tokens: attention.target_tokens,
        pictures,
    })
}

/// One picture per layer of attention of `kind`, its rows and columns labelled with the
/// source or target `tokens` it relates.
fn draw_layers(
    kind: Kind,
    layers: Vec<Vec<Vec<Vec<f32>>>>,
    [source_tokens, target_tokens]: [&Vec<String>; 2],
    caption: &str,
    output: &Path,
) -> anyhow::Result<Vec<AttentionPicture>> {
    let (rows, cols) = match kind {
        Kind::EncoderSelf => (source_tokens, source_tokens),
        Kind::DecoderSelf => (target_tokens, target_tokens),
        Kind::DecoderCross => (target_tokens, source_tokens),
    };
    let n_layers = layers.len();
    let mut pictures = Vec::with_capacity(n_layers);
    for (i, weights) in layers.into_iter().enumerate() {
        let figure = Figure {
            title: vec![
                format!(
                    "{} (layer {} of {n_layers}): row = query, column = key",
                    kind.title(),
                    i + 1
                ),
                caption.to_string(),
            ],
            row_labels: rows.clone(),
            col_labels: cols.clone(),
            panels: weights
                .iter()
                .enumerate()
                .map(|(head, values)| Panel {
                    title: format!("head {}", head + 1),
                    values: values.clone(),
                })
                .collect(),
            palette: Palette::Weights,
            causal: kind == Kind::DecoderSelf,
            panel_size: ATTENTION_PANEL,
        };
        let stem = output.join(format!("{}-layer-{}", kind.name(), i + 1));
        let (geometry, [png, svg]) = figure.write(&stem)?;
        pictures.push(AttentionPicture {
            kind,
            layer: i + 1,
            png,
            svg,
            geometry,
            weights,
        });
    }
    Ok(pictures)
}

/// `[1, heads, queries, keys]` weights as `[head][query][key]`.
fn head_matrices(weights: Tensor<4>) -> anyhow::Result<Vec<Vec<Vec<f32>>>> {
    let [_, heads, queries, keys] = weights.dims();
    let values = weights
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("cannot read the attention weights: {e:?}"))?;
    Ok(values
        .chunks(queries * keys)
        .take(heads)
        .map(|head| head.chunks(keys).map(<[f32]>::to_vec).collect())
        .collect())
}
