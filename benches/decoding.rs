//! Translation speed: greedy and beam search, cached and recomputed decoding, one sentence or
//! a batch of 64, on each CPU backend compiled in.
//!
//! `cargo bench --all-features --bench decoding`. The model has the shape of
//! `config/default.json` (d_model 256, 8 heads, d_ff 1024, 3 + 3 layers, shared vocabulary of
//! 8000) with its initial weights: speed does not depend on what the weights learned, and
//! an untrained model almost never ends a sentence early, so every search produces its 24
//! tokens. Sources are 24 tokens. Prints the median of 3 timed runs after one warm-up.

use burn::tensor::{Int, Tensor};
use transformer_mt::backend::Backend;
use transformer_mt::model::Transformer;
use transformer_mt::translate::search::{BeamOptions, Decoding, beam_search, greedy};

use transformer_mt::bench::{median_seconds, model, tokens};

const SRC_LEN: usize = 24;
const NEW_TOKENS: usize = 24;

fn search(model: &Transformer, src: Tensor<2, Int>, beam: usize, decoding: Decoding) -> usize {
    let [batch, _] = src.dims();
    let limits = vec![NEW_TOKENS; batch];
    if beam == 1 {
        return greedy(model, src, NEW_TOKENS, &limits, 0, decoding)
            .iter()
            .map(|h| h.tokens.len())
            .sum();
    }
    let options = BeamOptions {
        beam,
        alpha: 0.6,
        n_best: 1,
        no_repeat_ngram: 0,
        normalise_on_host: false,
    };
    beam_search(model, src, options, &limits, decoding)
        .iter()
        .map(|n_best| n_best[0].tokens.len())
        .sum()
}

fn main() {
    println!("| backend | batch | search | decoding | sentences/s | tokens/s |");
    println!("|---|---|---|---|---|---|");
    for backend in [Backend::Tch, Backend::Flex, Backend::Ndarray] {
        if !backend.is_compiled() {
            continue;
        }
        let device = backend.device().expect("a compiled-in backend");
        device.seed(0);
        let model = model(&device);
        for batch in [1, 64] {
            for (beam, name) in [(1, "greedy"), (4, "beam 4")] {
                for (decoding, how) in [
                    (Decoding::Cached, "cached"),
                    (Decoding::Recompute, "recomputed"),
                ] {
                    let src = tokens(batch, SRC_LEN, &device);
                    let produced = search(&model, src.clone(), beam, decoding);
                    let seconds = median_seconds(1, 3, || {
                        search(&model, src.clone(), beam, decoding);
                    });
                    println!(
                        "| {backend} | {batch} | {name} | {how} | {:.2} | {:.0} |",
                        batch as f64 / seconds,
                        produced as f64 / seconds
                    );
                }
            }
        }
    }
}
