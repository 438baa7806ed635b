//! `transformer-mt eval`: BLEU and chrF of a run's translations of its held-out test pairs (or
//! of any pair file), or of any hypothesis file against reference files, as sacreBLEU scores
//! them.
//!
//! | part | file |
//! |---|---|
//! | BLEU and chrF exactly as sacreBLEU, signatures | [`sacrebleu`] |

pub mod sacrebleu;

use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};

use crate::backend::Backend;
use crate::data::corpus::{self, Direction, ReadOptions, read_corpus};
use crate::fs::write_atomic;
use crate::run::RunDir;
use crate::run::dir::lock_directory;
use crate::translate::{SearchSettings, Translator};
use sacrebleu::{CorpusScores, corpus_scores, format_json, format_text};

/// What `eval` was asked to score.
#[derive(Clone, Debug)]
pub struct EvalOptions {
    /// The trained run whose translations are scored.
    pub run: PathBuf,
    /// Where the model runs; `None` when scoring `hypotheses`, which runs no model.
    pub backend: Option<Backend>,
    /// Pairs to translate instead of the run's `test.tsv`.
    pub test: Option<PathBuf>,
    /// Where the translated test set is written instead of `<run>/eval`.
    pub output: Option<PathBuf>,
    /// A file of translations to score instead of translating.
    pub hypotheses: Option<PathBuf>,
    /// The reference files of `hypotheses`, each a translation a line.
    pub references: Vec<PathBuf>,
    /// How translations are searched for.
    pub settings: SearchSettings,
    /// The domain tag sources are translated with, instead of the run's default.
    pub tag: Option<String>,
    /// Each source cut into its sentences, translated one by one
    /// ([`crate::translate::segment`]).
    pub split: bool,
    /// Print one JSON object instead of sacreBLEU's text lines.
    pub json: bool,
}

/// Scores as `options` say; returns the scores as sacreBLEU prints them (text or JSON).
/// `notify` hears of skipped or cut lines and of the files written.
pub fn eval(options: &EvalOptions, notify: &mut dyn FnMut(&str)) -> anyhow::Result<String> {
    let scores = match (&options.hypotheses, options.references.is_empty()) {
        (Some(hypotheses), false) => score_files(hypotheses, &options.references)?,
        (None, true) => evaluate_run(options, notify)?,
        (Some(_), true) => bail!("--hyp needs at least one --ref file"),
        (None, false) => bail!("--ref needs a --hyp file to score"),
    };
    Ok(if options.json {
        format_json(&scores)
    } else {
        format_text(&scores)
    })
}

/// Lines of a text file as sacreBLEU's command reads them: split at `\n`, each line's
/// trailing `\r\n` or `\n` removed.
pub fn read_lines(path: &Path) -> anyhow::Result<Vec<String>> {
    let bytes = std::fs::read(path).with_context(|| format!("{}: cannot read", path.display()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        anyhow::anyhow!(
            "{}: not UTF-8 text (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })?;
    Ok(text.lines().map(str::to_string).collect())
}

/// Scores a hypothesis file against reference files of as many lines.
pub fn score_files(hypotheses: &Path, references: &[PathBuf]) -> anyhow::Result<CorpusScores> {
    let hyp_lines = read_lines(hypotheses)?;
    if hyp_lines.is_empty() {
        bail!("{}: no lines to score", hypotheses.display());
    }
    let mut streams = Vec::new();
    for reference in references {
        let lines = read_lines(reference)?;
        if lines.len() != hyp_lines.len() {
            bail!(
                "{}: {} references for the {} hypotheses of {}; a reference file needs a line per hypothesis",
                reference.display(),
                lines.len(),
                hyp_lines.len(),
                hypotheses.display()
            );
        }
        streams.push(lines);
    }
    Ok(corpus_scores(&hyp_lines, &streams))
}

/// Translates the run's test pairs (or `options.test`), writes sources, references and
/// translations side by side under `<run>/eval/` (or `options.output`), and scores them.
fn evaluate_run(
    options: &EvalOptions,
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<CorpusScores> {
    let run = RunDir::from_arg(&options.run);
    run.ensure_directory()?;
    let (file, direction) = match &options.test {
        Some(file) => (file.clone(), run.saved_config()?.data.direction),
        // test.tsv holds the run's pairs already in its direction: source, then target.
        None => (run.test_path(), Direction::EnPt),
    };
    if options.test.is_none() && !file.exists() {
        bail!(
            "{}: no test.tsv: train the run first, or give pairs with --test FILE",
            run.path().display()
        );
    }
    let read = ReadOptions {
        direction,
        max_chars: usize::MAX,
        plain_text: false,
    };
    let (pairs, report) = read_corpus(std::slice::from_ref(&file), read)?;
    if report.total_skipped() > 0 {
        notify(&format!("{}: {report}", file.display()));
    }
    let backend = options
        .backend
        .ok_or_else(|| anyhow!("translating the test pairs needs a backend"))?;
    let translator = Translator::load(&run, backend)?.with_tag(options.tag.as_deref())?;
    let stem = match file.file_stem() {
        _ if file == Path::new(corpus::STDIN) => "stdin".to_string(),
        Some(stem) => stem.to_string_lossy().into_owned(),
        None => "test".to_string(),
    };
    // One process at a time writes the files of one test set; other sets, and the training
    // of the run, go on beside it.
    let eval_dir = match &options.output {
        Some(dir) => dir.clone(),
        None => run.path().join("eval"),
    };
    let _lock = lock_directory(
        &eval_dir,
        &format!("{stem}.lock"),
        &format!("evaluated on {}", file.display()),
    )?;
    let sentences: Vec<&str> = pairs.iter().map(|p| p.source.as_str()).collect();
    let sources = translator.encode_lines(&sentences, options.split)?;
    if let Some(warning) = sources.warning(Some(0)) {
        notify(&warning);
    }
    let translations =
        sources.join(translator.translate_showing_progress(&sources.ids, &options.settings)?);

    let hypotheses: Vec<String> = translations
        .into_iter()
        .map(|mut t| t.swap_remove(0).text)
        .collect();
    let references: Vec<String> = pairs.iter().map(|p| p.target.clone()).collect();
    let written = write_side_by_side(
        &eval_dir.join(&stem),
        [
            sentences,
            references.iter().map(String::as_str).collect(),
            hypotheses.iter().map(String::as_str).collect(),
        ],
    )?;
    notify(&format!(
        "translated {} sentences of {}; wrote {}.{{src,ref,hyp}} (`sacrebleu {} -i {} -m bleu chrf` scores them too)",
        pairs.len(),
        file.display(),
        eval_dir.join(&stem).display(),
        written[1].display(),
        written[2].display()
    ));
    Ok(corpus_scores(&hypotheses, &[references]))
}

/// Writes sources, references and translations, one a line, to `STEM.src`, `STEM.ref` and
/// `STEM.hyp`; returns the three paths.
fn write_side_by_side(stem: &Path, texts: [Vec<&str>; 3]) -> anyhow::Result<[PathBuf; 3]> {
    let path = |extension: &str| {
        let mut name = stem.as_os_str().to_owned();
        name.push(format!(".{extension}"));
        PathBuf::from(name)
    };
    let paths = ["src", "ref", "hyp"].map(path);
    for (path, lines) in paths.iter().zip(texts) {
        let text: String = lines.iter().map(|line| format!("{line}\n")).collect();
        write_atomic(path, text.as_bytes())
            .with_context(|| format!("{}: cannot write", path.display()))?;
    }
    Ok(paths)
}
