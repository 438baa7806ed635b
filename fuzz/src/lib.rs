//! The fuzz targets of transformer-mt. Each writes arbitrary bytes to a file and hands it to
//! one of the readers behind the command line, as a user's file would reach it: the corpus
//! reader, the run configuration, `tokenizer.json`, the weights (`.bpk`), a run's
//! `model.json`, and the `eval --hyp/--ref` files. A reader passes when it returns, a value
//! or an error; a panic, an abort, a hang or an allocation without bound is a finding.
//!
//! `fuzz_targets/` runs them coverage-guided under libFuzzer (`cargo fuzz`, see README.md);
//! `tests/fuzz.rs` runs each on seeded mutations of `seeds/` in every test run.

use std::path::PathBuf;
use std::sync::OnceLock;

use transformer_mt::backend::Backend;
use transformer_mt::data::corpus::{Direction, ReadOptions, normalize, read_corpus};
use transformer_mt::data::tokenizer::SubwordTokenizer;
use transformer_mt::eval::score_files;
use transformer_mt::model::{Transformer, TransformerConfig};
use transformer_mt::run::{RunConfig, RunDir, weights};
use transformer_mt::translate::search::Decoding;
use transformer_mt::translate::{Precision, SearchSettings, Translator};

/// A target: bytes in, a panic out when the reader misbehaves.
pub type Target = fn(&[u8]);

/// Every target, by the name of its `fuzz_targets/` file and its `seeds/` folder.
pub const TARGETS: [(&str, Target); 6] = [
    ("corpus", corpus),
    ("config", config),
    ("tokenizer", tokenizer),
    ("weights", weights_file),
    ("model", model),
    ("scores", scores),
];

/// The micro model of the seeds: `seeds/model/model.json`, trained one epoch on 300 number
/// pairs with `seeds/tokenizer/micro.json` as its vocabulary.
const MICRO_MODEL: &[u8] = include_bytes!("../seeds/model/model.json");
const MICRO_TOKENIZER: &[u8] = include_bytes!("../seeds/tokenizer/micro.json");
const MICRO_WEIGHTS: &[u8] = include_bytes!("../seeds/weights/micro.bpk");

/// A file named `name` in this process's scratch directory, holding `bytes`.
fn scratch(name: &str, bytes: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("transformer-mt-fuzz-{}", std::process::id()));
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().expect("under the scratch directory"))
        .and_then(|()| std::fs::write(&path, bytes))
        .expect("a writable temporary directory");
    path
}

/// The backend the models run on: the first pure-Rust CPU backend of the build.
fn cpu() -> Backend {
    [Backend::Flex, Backend::Ndarray]
        .into_iter()
        .find(|backend| backend.is_compiled())
        .expect("a build with flex or ndarray")
}

/// The micro model of the seeds, with its initial weights.
pub fn micro_model() -> Transformer {
    static MODEL: OnceLock<Transformer> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let config: TransformerConfig =
                serde_json::from_slice(MICRO_MODEL).expect("seeds/model/model.json");
            let device = cpu().device().expect("a CPU device");
            config.init(&device).expect("the micro model")
        })
        .clone()
}

/// The corpus reader (`train --data`, `data prepare`, `eval --test`), of pairs and of plain
/// text: every pair it keeps is normalised, with two non-empty sides of at most `max_chars`
/// characters.
pub fn corpus(bytes: &[u8]) {
    let path = scratch("pairs.tsv", bytes);
    for plain_text in [false, true] {
        let options = ReadOptions {
            direction: Direction::EnPt,
            max_chars: 40,
            plain_text,
        };
        if let Ok((pairs, report)) = read_corpus(std::slice::from_ref(&path), options) {
            assert_eq!(report.pairs, pairs.len());
            for pair in &pairs {
                for side in [&pair.source, &pair.target] {
                    assert!(!side.is_empty(), "{pair:?}");
                    assert!(side.chars().count() <= 40, "{pair:?}");
                    assert_eq!(&normalize(side), side, "{pair:?}");
                }
            }
        }
    }
}

/// The run configuration (`train --config`): one that loads serialises and loads back the
/// same.
pub fn config(bytes: &[u8]) {
    let path = scratch("config.json", bytes);
    if let Ok(config) = RunConfig::load(&path) {
        let text = serde_json::to_string(&config).expect("a loaded configuration serialises");
        let again = RunConfig::load(&scratch("config-again.json", text.as_bytes()))
            .expect("a saved configuration loads");
        assert!(config.differences(&again).is_empty(), "{config:?}");
    }
}

/// `tokenizer.json`: one that loads encodes and decodes without panicking, out-of-range ids
/// included.
pub fn tokenizer(bytes: &[u8]) {
    let path = scratch("tokenizer.json", bytes);
    if let Ok(tokenizer) = SubwordTokenizer::load(&path) {
        for text in ["The book is on the table.", "", " ção 🙂\t"] {
            if let Ok(ids) = tokenizer.encode(text) {
                let _ = tokenizer.decode(&ids);
                let _ = tokenizer.tokens(&ids);
            }
        }
        let outside = tokenizer.vocab_size() as u32;
        let _ = tokenizer.decode(&[0, 1, 2, outside, u32::MAX]);
        let _ = tokenizer.tokens(&[outside, u32::MAX]);
    }
}

/// A weights file (`model.bpk`, a checkpoint) loaded into the micro model.
pub fn weights_file(bytes: &[u8]) {
    let path = scratch("model.bpk", bytes);
    let _ = weights::load(micro_model(), &path);
}

/// Weights above this are not built by the `model` target: a valid configuration may ask
/// for gigabytes, which is the user's to ask, not a finding.
const MODEL_TARGET_WEIGHTS: u128 = 4_000_000;

/// A run's `model.json`, beside the micro model's tokenizer and weights: the run loads (or
/// is refused) and, when it loads, translates a sentence greedily and with a beam.
pub fn model(bytes: &[u8]) {
    if let Ok(config) = serde_json::from_slice::<TransformerConfig>(bytes)
        && config.validate().is_ok()
        && config.weight_values() > MODEL_TARGET_WEIGHTS
    {
        return;
    }
    let config = scratch("run/model.json", bytes);
    scratch("run/tokenizer.json", MICRO_TOKENIZER);
    scratch("run/model.bpk", MICRO_WEIGHTS);
    let run = RunDir::from_arg(config.parent().expect("the run directory"));
    let Ok(translator) = Translator::load(&run, cpu()) else {
        return;
    };
    let sources = translator
        .encode(&["three hundred and twelve", ""])
        .expect("the micro tokenizer encodes");
    for beam in [1, 3] {
        let settings = SearchSettings {
            beam,
            alpha: 0.6,
            no_repeat_ngram: 2,
            n_best: 1,
            max_tokens: 8,
            decoding: Decoding::Cached,
            batch_size: 2,
            // Both number formats of the generator's product meet the same weights.
            precision: if beam == 1 {
                Precision::F32
            } else {
                Precision::Bf16
            },
        };
        let _ = translator.translate(&sources.ids, &settings, |_| {});
    }
}

/// `eval --hyp H --ref R`: the bytes before the first NUL are the hypotheses, those after it
/// the references (the same bytes when there is none); scores are within 0 to 100.
pub fn scores(bytes: &[u8]) {
    let (hypotheses, references) = match bytes.iter().position(|&b| b == 0) {
        Some(nul) => (&bytes[..nul], &bytes[nul + 1..]),
        None => (bytes, bytes),
    };
    let hypotheses = scratch("scores.hyp", hypotheses);
    let references = scratch("scores.ref", references);
    if let Ok(scores) = score_files(&hypotheses, &[references]) {
        // A perfect match is exp(Σ log 1)·100 up to rounding, as in sacreBLEU: 100.00000000000004.
        for score in [scores.bleu.score, scores.chrf] {
            assert!((0.0..=100.0 + 1e-9).contains(&score), "{score}");
        }
    }
}
