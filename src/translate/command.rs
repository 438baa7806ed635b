//! `transformer-mt infer`: sentences from the command line, a file, a pipe or a prompt.

use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{Context, bail};

use super::{SearchSettings, Translation, Translator};
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
    let translator = Translator::load(&RunDir::from_arg(&options.run), options.backend)?;
    if let Some(input) = &options.input {
        let text = std::fs::read_to_string(input)
            .with_context(|| format!("{}: cannot read", input.display()))?;
        let lines: Vec<String> = text.lines().map(str::to_string).collect();
        let output = translate_lines(&translator, &lines, 0, &options.settings, true, notify)?;
        return match &options.output {
            Some(path) => crate::fs::write_atomic(path, output.as_bytes())
                .with_context(|| format!("{}: cannot write", path.display())),
            None => {
                print!("{output}");
                Ok(())
            }
        };
    }
    if !options.text.is_empty() {
        print!(
            "{}",
            translate_lines(
                &translator,
                &options.text,
                0,
                &options.settings,
                false,
                notify
            )?
        );
        return Ok(());
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
        let output = translate_lines(
            &translator,
            &[line],
            index,
            &options.settings,
            false,
            notify,
        )?;
        stdout
            .write_all(output.as_bytes())
            .and_then(|()| stdout.flush())
            .context("cannot write the standard output")?;
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
    settings: &SearchSettings,
    show_progress: bool,
    notify: &mut dyn FnMut(&str),
) -> anyhow::Result<String> {
    let sources = translator.encode(lines)?;
    if let Some(warning) = sources.warning(Some(first_index)) {
        notify(&warning);
    }
    let translations = if show_progress {
        translator.translate_showing_progress(&sources.ids, settings)?
    } else {
        translator.translate(&sources.ids, settings, |_| {})?
    };
    Ok(format_translations(
        &translations,
        first_index,
        settings.n_best,
    ))
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
