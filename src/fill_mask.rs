//! Filling in with a BERT: the most probable tokens at each `[MASK]` of a sentence, with
//! their probabilities, from one pass of the whole sentence (every position sees every
//! other).

use anyhow::{anyhow, bail};
use burn::tensor::activation::softmax;
use burn::tensor::{Bool, Device, Int, Tensor, TensorData};

use crate::backend::Backend;
use crate::data::tokenizer::{BOS_ID, EOS_ID, MASK_TOKEN, SubwordTokenizer};
use crate::model::Bert;
use crate::run::RunDir;
use crate::run::weights;

/// A run's trained masked language model and its tokenizer.
pub struct MaskedModel {
    /// The model, its best weights loaded.
    pub bert: Bert,
    /// The tokenizer it was trained with.
    pub tokenizer: SubwordTokenizer,
    /// The id of `[MASK]`; it and every id below (the special tokens) are never a filler.
    mask_id: u32,
    device: Device,
}

/// One candidate for a `[MASK]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Filler {
    /// The token, as text, without the space that starts a word.
    pub token: String,
    /// Its probability there, in `[0, 1]`.
    pub probability: f64,
    /// The sentence with this token at the `[MASK]` (any other `[MASK]` left as it is).
    pub sentence: String,
}

impl MaskedModel {
    /// Loads a masked language model run's `bert.json`, tokenizer and `model.bpk` on
    /// `backend`.
    pub fn load(run: &RunDir, backend: Backend) -> anyhow::Result<Self> {
        run.ensure_directory()?;
        let config = run.bert_config()?;
        let weights = run.trained_weights()?;
        let tokenizer = run.language_tokenizer(config.vocab_size, "bert.json")?;
        let Some(mask_id) = tokenizer.token_id(MASK_TOKEN) else {
            bail!(
                "{}: the tokenizer has no {MASK_TOKEN} token",
                run.path().display()
            );
        };
        let device = backend.device()?;
        let bert = config
            .init(&device)
            .map_err(|e| anyhow!("{}: {e}", run.bert_config_path().display()))?;
        Ok(Self {
            bert: weights::load(bert, &weights)?,
            tokenizer,
            mask_id,
            device,
        })
    }

    /// The `top_k` most probable fillers of each `[MASK]` of `text`, most probable first, the
    /// masks in order.
    pub fn fill(&self, text: &str, top_k: usize) -> anyhow::Result<Vec<Vec<Filler>>> {
        let ids = self.tokenizer.encode(text)?;
        let masks: Vec<usize> = (0..ids.len()).filter(|&i| ids[i] == self.mask_id).collect();
        if masks.is_empty() {
            bail!("{text:?} has no {MASK_TOKEN}: write it where a word is to be filled in");
        }
        // `[CLS]`, the sentence, `[SEP]`.
        let len = ids.len() + 2;
        if len > self.bert.max_len() {
            bail!(
                "{text:?} takes {} tokens; the model has positions for {}",
                ids.len(),
                self.bert.max_len() - 2
            );
        }
        let input: Vec<i64> = std::iter::once(BOS_ID)
            .chain(ids.iter().copied())
            .chain(std::iter::once(EOS_ID))
            .map(i64::from)
            .collect();
        let tokens = Tensor::<2, Int>::from_data(TensorData::new(input, [1, len]), &self.device);
        let padding =
            Tensor::<2, Bool>::from_data(TensorData::new(vec![false; len], [1, len]), &self.device);
        let logits = self.bert.forward(tokens, padding);
        let [_, _, vocab] = logits.dims();
        // Only the `[MASK]` rows go through the softmax and back to the host.
        let rows: Vec<i64> = masks.iter().map(|&mask| mask as i64 + 1).collect();
        let rows = Tensor::<1, Int>::from_data(TensorData::new(rows, [masks.len()]), &self.device);
        let probabilities = softmax(logits.reshape([len, vocab]).select(0, rows), 1)
            .into_data()
            .convert::<f32>()
            .try_into_vec::<f32>()
            .map_err(|e| anyhow!("reading the probabilities: {e:?}"))?;
        // Where each `[MASK]` is in `text`, with the spaces before it that it took.
        let mut spans = Vec::with_capacity(masks.len());
        let mut from = 0;
        while let Some(found) = text[from..].find(MASK_TOKEN) {
            let end = from + found + MASK_TOKEN.len();
            let start = text[..from + found].trim_end().len();
            spans.push(start..end);
            from = end;
        }
        if spans.len() != masks.len() {
            bail!("{text:?}: write {MASK_TOKEN} apart from the letters around it");
        }
        probabilities
            .chunks(vocab)
            .zip(&spans)
            .map(|(row, span)| {
                let mut candidates: Vec<(u32, f32)> = (self.mask_id + 1..vocab as u32)
                    .map(|id| (id, row[id as usize]))
                    .collect();
                candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
                candidates
                    .into_iter()
                    .take(top_k)
                    .map(|(id, probability)| {
                        let piece = self.tokenizer.decode(&[id])?;
                        let before = &text[..span.start];
                        let piece = match before.is_empty() {
                            true => piece.trim_start(),
                            false => piece.as_str(),
                        };
                        Ok(Filler {
                            token: piece.trim().to_string(),
                            probability: f64::from(probability),
                            sentence: format!("{before}{piece}{}", &text[span.end..]),
                        })
                    })
                    .collect()
            })
            .collect()
    }
}
