//! The JSON of the HTTP API: requests, answers, and errors as `{"error": "..."}` with the
//! status that fits (4xx for the request, 5xx only for a failure of the server itself).

use axum::body::Bytes;
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::translate::SearchSettings;
use serde::{Deserialize, Serialize};

/// `POST /v1/translate`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TranslateRequest {
    /// The English texts: each a sentence, or several.
    pub text: Vec<String>,
    /// Translate each text sentence by sentence (`false`: each whole, as one sentence).
    #[serde(default = "default_split")]
    pub split: bool,
    /// Beam size; 1 is greedy search.
    #[serde(default = "default_beam")]
    pub beam: usize,
    /// Translations returned per sentence, at most `beam`.
    #[serde(default = "default_n_best")]
    pub n_best: usize,
}

/// `POST /v1/attention`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttentionRequest {
    /// One English sentence.
    pub text: String,
    /// Beam size of the translation whose attention is shown.
    #[serde(default = "default_beam")]
    pub beam: usize,
}

fn default_beam() -> usize {
    SearchSettings::DEFAULT_BEAM
}

fn default_split() -> bool {
    true
}

fn default_n_best() -> usize {
    1
}

/// One of the `n_best` translations of a sentence.
#[derive(Debug, Serialize)]
pub struct Candidate {
    /// The Portuguese text.
    pub text: String,
    /// Its score: log-probability over the length penalty (beam search), or log-probability.
    pub score: f64,
}

/// The answer to `POST /v1/translate`.
#[derive(Debug, Serialize)]
pub struct TranslateResponse {
    /// The best translation of each sentence, in order.
    pub translations: Vec<String>,
    /// Their scores.
    pub scores: Vec<f64>,
    /// Every sentence's `n_best` translations, best first, when more than one was asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub n_best: Option<Vec<Vec<Candidate>>>,
    /// The indices of the sentences cut to the model's positions, when any were.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cut: Vec<usize>,
    /// Says which were cut and to how many tokens.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
    /// The model directory that translated.
    pub model: String,
}

/// An error answer.
#[derive(Debug)]
pub struct ApiError {
    /// The HTTP status.
    pub status: StatusCode,
    /// What went wrong, for the client.
    pub message: String,
}

impl ApiError {
    /// A 422: the request is well-formed JSON of the right shape but asks something invalid.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: message.into(),
        }
    }

    /// A 500, for a failure of the server; logged, since the client cannot fix it.
    pub fn internal(error: &anyhow::Error) -> Self {
        tracing::error!("internal error: {error:#}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("internal error: {error:#}"),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::json!({ "error": self.message });
        (self.status, axum::Json(body)).into_response()
    }
}

/// A JSON body whose rejections (too large, not JSON, wrong shape) are [`ApiError`]s with
/// axum's status and message. The body is read as JSON whatever its `Content-Type`, so that
/// `curl -d '{...}'` (which says `application/x-www-form-urlencoded`) works as written.
#[derive(Debug)]
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| rejected(rejection.into()))?;
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejected(rejection)),
        }
    }
}

fn rejected(rejection: JsonRejection) -> ApiError {
    ApiError {
        status: rejection.status(),
        message: rejection.body_text(),
    }
}
