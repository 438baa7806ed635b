//! `transformer-mt infer`: sentences from the command line, a file, a pipe or a prompt.

use std::fs::File;
use std::io::{BufRead, BufReader, IsTerminal, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use indicatif::{ProgressBar, ProgressStyle};

use super::{CutLines, SearchSettings, Translation, Translator};
use crate::backend::Backend;
use crate::run::RunDir;

/// What `infer` was asked to do.
#[derive(Clone, Debug)]
pub struct InferOptions {
    /// The trained run.
    pub run: PathBuf,
    /// Where the model runs.
    pub backend: Backend,
    /// How translations are searched for.
    pub settings: SearchSettings,
    /// The domain tag sources are translated with, instead of the run's default.
    pub tag: Option<String>,
    /// Each line cut into its sentences, translated one by one ([`super::segment`]).
    pub split: bool,
    /// A file of sentences, one a line.
    pub input: Option<PathBuf>,
    /// Where the translations of `input` go.
    pub output: Option<PathBuf>,
    /// Sentences given as arguments.
    pub text: Vec<String>,
}

/// Translates as `options` say, onto the standard output (or `options.output`) as it goes.
/// `notify` hears of sentences cut to the model's length and, on a terminal, the prompt's
/// greeting.
pub fn infer(options: &InferOptions, notify: &mut dyn FnMut(&str)) -> anyhow::Result<()> {
    if !options.text.is_empty() && options.input.is_some() {
        bail!("give sentences either as arguments or with --input, not both");
    }
    if let Some(path) = &options.output {
        crate::fs::ensure_writable_file(path)?;
    }
    let translator = Translator::load(&RunDir::from_arg(&options.run), options.backend)?
        .with_tag(options.tag.as_deref())?;
    if let Some(input) = &options.input {
        let mut translate = |out: &mut dyn Write| -> anyhow::Result<()> {
            translate_file(&translator, input, options, out, notify)
        };
        return match &options.output {
            Some(path) => crate::fs::write_atomic_with(path, translate)
                .with_context(|| format!("{}: not written", path.display())),
            None => translate(&mut std::io::stdout().lock()),
        };
    }
    if !options.text.is_empty() {
        let output = translate_lines(&translator, &options.text, 0, options, notify)?;
        return write_out(&mut std::io::stdout().lock(), &output);
    }
    let stdin = std::io::stdin();
    let interactive = stdin.is_terminal();
    if interactive {
        notify(&format!(
            "English → Portuguese, model of {}; an empty line or Ctrl-D ends.",
            options.run.display()
        ));
    }
    let mut stdout = std::io::stdout().lock();
    let mut lines = stdin.lock().lines().enumerate();
    loop {
        if interactive {
            eprint!("> ");
        }
        let Some((index, line)) = lines.next() else {
            break;
        };
        let line = line.context("cannot read the standard input")?;
        if interactive && line.trim().is_empty() {
            break;
        }
        let output = translate_lines(&translator, &[line], index, options, notify)?;
        write_out(&mut stdout, &output)?;
    }
    Ok(())
}

/// Lines of an `--input` file translated at a time: enough for batches of sentences of similar
/// length, and a memory that stays flat whatever the file's size.
const BLOCK_LINES: usize = 4096;

/// Translates the lines of `input` block by block onto `out` as it goes, with a progress bar
/// over the file's bytes on a terminal, and one warning at the end for the lines cut to the
/// model's length.
fn translate_file(
    translator: &Translator,
    input: &Path,
    options: &InferOptions,
    out: &mut dyn Write,
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<()> {
    let file = File::open(input).with_context(|| format!("{}: cannot read", input.display()))?;
    let size = file
        .metadata()
        .ok()
        .filter(|m| m.is_file())
        .map(|m| m.len());
    let bar = match size {
        Some(size) if std::io::stderr().is_terminal() => {
            let bar = ProgressBar::new(size);
            bar.set_style(
                ProgressStyle::with_template(
                    "{bar:40} {bytes}/{total_bytes} of the input, {bytes_per_sec}, ETA {eta}",
                )
                .unwrap_or_else(|_| ProgressStyle::default_bar()),
            );
            bar
        }
        _ => ProgressBar::hidden(),
    };
    let mut reader = BufReader::new(file);
    let mut cut = CutLines::new(translator.positions());
    let mut block: Vec<String> = Vec::with_capacity(BLOCK_LINES);
    let mut bytes = Vec::new();
    let mut first_index = 0;
    loop {
        block.clear();
        while block.len() < BLOCK_LINES {
            bytes.clear();
            let read = reader
                .read_until(b'\n', &mut bytes)
                .with_context(|| format!("{}: cannot read", input.display()))?;
            if read == 0 {
                break;
            }
            bar.inc(read as u64);
            let line = bytes.strip_suffix(b"\n").unwrap_or(&bytes);
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            let line = std::str::from_utf8(line).map_err(|_| {
                anyhow!(
                    "{}: line {} is not UTF-8 text",
                    input.display(),
                    first_index + block.len() + 1
                )
            })?;
            block.push(line.to_string());
        }
        if block.is_empty() {
            break;
        }
        let sources = translator.encode_lines(&block, options.split)?;
        cut.add(first_index, &sources);
        let translations = translator.translate(&sources.ids, &options.settings, |_| {})?;
        let output = format_translations(
            &sources.join(translations),
            first_index,
            options.settings.n_best,
        );
        out.write_all(output.as_bytes())
            .and_then(|()| out.flush())
            .context("cannot write the translations")?;
        first_index += block.len();
    }
    bar.finish_and_clear();
    if let Some(warning) = cut.warning() {
        notify(&warning);
    }
    Ok(())
}

/// Translates `lines` and formats them: one line per input line, or with `n_best` above 1,
/// `index<TAB>score<TAB>translation` lines, the index of the input line counted from 0 (as
/// Marian's n-best lists) and starting at `first_index`.
fn translate_lines(
    translator: &Translator,
    lines: &[String],
    first_index: usize,
    options: &InferOptions,
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<String> {
    let sources = translator.encode_lines(lines, options.split)?;
    if let Some(warning) = sources.warning(Some(first_index)) {
        notify(&warning);
    }
    let translations = translator.translate(&sources.ids, &options.settings, |_| {})?;
    Ok(format_translations(
        &sources.join(translations),
        first_index,
        options.settings.n_best,
    ))
}

fn write_out(stdout: &mut impl Write, output: &str) -> anyhow::Result<()> {
    stdout
        .write_all(output.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write the standard output")
}

fn format_translations(
    translations: &[Vec<Translation>],
    first_index: usize,
    n_best: usize,
) -> String {
    let mut output = String::new();
    for (index, candidates) in (first_index..).zip(translations) {
        if n_best <= 1 {
            let text = candidates.first().map(|t| t.text.as_str()).unwrap_or("");
            output.push_str(text);
            output.push('\n');
        } else {
            for translation in candidates {
                output.push_str(&format!(
                    "{index}\t{:.4}\t{}\n",
                    translation.score, translation.text
                ));
            }
        }
    }
    output
}
