//! Subword tokenizer: byte-level BPE, trained with Hugging Face's `tokenizers`.
//!
//! Byte-level BPE (as GPT-2) starts from the 256 byte values, so every string has an encoding
//! (no `<unk>` is ever needed) and decoding gives back the exact text; merges learned on the
//! training split then make frequent words and word pieces single tokens.

use std::path::{Path, PathBuf};

use tokenizers::decoders::DecoderWrapper;
use tokenizers::models::TrainerWrapper;
use tokenizers::models::bpe::{BPE, BpeTrainerBuilder};
use tokenizers::normalizers::{NormalizerWrapper, unicode::NFC};
use tokenizers::pre_tokenizers::PreTokenizerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

/// Id of `<pad>`, the filler of short sentences in a batch.
pub const PAD_ID: u32 = 0;
/// Id of `<unk>`, reserved for tokenizers that can meet unknown symbols.
pub const UNK_ID: u32 = 1;
/// Id of `<s>`, which starts every decoder input.
pub const BOS_ID: u32 = 2;
/// Id of `</s>`, which ends every target.
pub const EOS_ID: u32 = 3;
/// The token a masked language model predicts the hidden token at, kept whole in its
/// vocabulary (written so in the text given to `fill-mask`).
pub const MASK_TOKEN: &str = "[MASK]";
/// The special tokens, in id order.
pub const SPECIAL_TOKENS: [&str; 4] = ["<pad>", "<unk>", "<s>", "</s>"];

/// A tokenizer that cannot be trained, saved or loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenizerError {
    /// Training failed.
    #[error("cannot train the tokenizer: {0}")]
    Train(String),
    /// The file could not be written.
    #[error("{}: cannot save the tokenizer: {message}", path.display())]
    Save {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// The file is missing or not a tokenizer of this program.
    #[error("{}: not a usable tokenizer: {message}", path.display())]
    Load {
        /// The file.
        path: PathBuf,
        /// Why.
        message: String,
    },
    /// Encoding or decoding failed.
    #[error("tokenizer: {0}")]
    Codec(String),
}

/// A byte-level BPE tokenizer with the special tokens at fixed ids.
#[derive(Clone, Debug)]
pub struct SubwordTokenizer {
    inner: Tokenizer,
}

fn byte_level() -> ByteLevel {
    // No space added before the first word, so that decoding gives back the text unchanged.
    ByteLevel::new(false, true, true)
}

impl SubwordTokenizer {
    /// Learns up to `vocab_size` tokens (special tokens and the 256 bytes included) from
    /// `sentences`, in parallel.
    pub fn train<'a>(
        sentences: impl Iterator<Item = &'a str> + Send,
        vocab_size: usize,
    ) -> Result<Self, TokenizerError> {
        Self::train_with(sentences, vocab_size, &[])
    }

    /// [`train`](Self::train), with `extra` tokens (domain tags such as `<doc>`) kept whole
    /// wherever they occur, at the ids after the special tokens, and left out when decoding.
    pub fn train_with<'a>(
        sentences: impl Iterator<Item = &'a str> + Send,
        vocab_size: usize,
        extra: &[String],
    ) -> Result<Self, TokenizerError> {
        let mut tokenizer = Tokenizer::new(BPE::default());
        tokenizer
            .with_normalizer(Some(NormalizerWrapper::from(NFC)))
            .with_pre_tokenizer(Some(PreTokenizerWrapper::from(byte_level())))
            .with_decoder(Some(DecoderWrapper::from(byte_level())));
        let special = SPECIAL_TOKENS
            .iter()
            .copied()
            .chain(extra.iter().map(String::as_str))
            // `[MASK]` takes the space before it, as RoBERTa's `<mask>`: a word's token
            // carries its leading space, so "on the [MASK]." masks " table", not "table".
            .map(|t| AddedToken::from(t, true).lstrip(t == MASK_TOKEN))
            .collect();
        let mut trainer = TrainerWrapper::from(
            BpeTrainerBuilder::new()
                .vocab_size(vocab_size)
                .min_frequency(2)
                .show_progress(false)
                .special_tokens(special)
                .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
                .build(),
        );
        tokenizer
            .train(&mut trainer, sentences)
            .map_err(|e| TokenizerError::Train(e.to_string()))?;
        Self::checked(tokenizer).map_err(TokenizerError::Train)
    }

    /// Loads a tokenizer saved by [`save`](Self::save).
    pub fn load(path: &Path) -> Result<Self, TokenizerError> {
        let load_error = |message: String| TokenizerError::Load {
            path: path.to_path_buf(),
            message,
        };
        let text = std::fs::read_to_string(path).map_err(|e| load_error(e.to_string()))?;
        // `tokenizers` panics (an `expect` on its decoder section) where JSON does not parse,
        // a syntax error or a number out of range, instead of returning the error; parsed as
        // JSON values first, such a file fails here, naming the line, and the tokenizer is
        // read from those values.
        let json: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| load_error(format!("not JSON: {e}")))?;
        let inner: Tokenizer =
            serde_json::from_value(json).map_err(|e| load_error(e.to_string()))?;
        Self::checked(inner).map_err(load_error)
    }

    /// Writes the tokenizer as JSON, atomically (a temporary file, then a rename).
    pub fn save(&self, path: &Path) -> Result<(), TokenizerError> {
        let json = self
            .inner
            .to_string(true)
            .map_err(|e| TokenizerError::Save {
                path: path.to_path_buf(),
                message: e.to_string(),
            })?;
        crate::fs::write_atomic(path, json.as_bytes()).map_err(|e| TokenizerError::Save {
            path: path.to_path_buf(),
            message: e.to_string(),
        })
    }

    /// Whether `token` is one token of the vocabulary (`<doc>`).
    pub fn has_token(&self, token: &str) -> bool {
        self.token_id(token).is_some()
    }

    /// The id of `token`, if it is one token of the vocabulary.
    pub fn token_id(&self, token: &str) -> Option<u32> {
        self.inner.token_to_id(token)
    }

    /// Number of tokens, special tokens included.
    pub fn vocab_size(&self) -> usize {
        self.inner.get_vocab_size(true)
    }

    /// The ids of `text` (no `<s>` or `</s>` added).
    pub fn encode(&self, text: &str) -> Result<Vec<u32>, TokenizerError> {
        let encoding = self
            .inner
            .encode(text, false)
            .map_err(|e| TokenizerError::Codec(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The ids of each of `texts`, encoded in parallel.
    pub fn encode_batch(&self, texts: &[&str]) -> Result<Vec<Vec<u32>>, TokenizerError> {
        let encodings = self
            .inner
            .encode_batch(texts.to_vec(), false)
            .map_err(|e| TokenizerError::Codec(e.to_string()))?;
        Ok(encodings.iter().map(|e| e.get_ids().to_vec()).collect())
    }

    /// The text of `ids`, special tokens left out.
    pub fn decode(&self, ids: &[u32]) -> Result<String, TokenizerError> {
        self.inner
            .decode(ids, true)
            .map_err(|e| TokenizerError::Codec(e.to_string()))
    }

    /// The subword strings of `ids`, for display (byte-level symbols as stored).
    pub fn tokens(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&id| self.inner.id_to_token(id).unwrap_or_default())
            .collect()
    }

    /// How each of `ids` reads on its own, for axis labels: its decoded text, a leading space
    /// shown as `▁` (as SentencePiece writes word starts), special tokens by name.
    pub fn token_labels(&self, ids: &[u32]) -> Vec<String> {
        ids.iter()
            .map(|&id| match SPECIAL_TOKENS.get(id as usize) {
                Some(name) => name.to_string(),
                None => {
                    let text = self.inner.decode(&[id], false).unwrap_or_default();
                    match text.strip_prefix(' ') {
                        Some(rest) => format!("▁{rest}"),
                        None => text,
                    }
                }
            })
            .collect()
    }

    /// Checks that the special tokens sit at their fixed ids.
    fn checked(inner: Tokenizer) -> Result<Self, String> {
        for (id, token) in SPECIAL_TOKENS.iter().enumerate() {
            let found = inner.token_to_id(token);
            if found != Some(id as u32) {
                return Err(format!(
                    "special token {token} should have id {id}, has {found:?}"
                ));
            }
        }
        Ok(Self { inner })
    }
}
