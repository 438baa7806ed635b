//! `transformer-mt serve`: the model over HTTP, and a web page that shows its attention.
//!
//! - `POST /v1/translate` `{"text": [...], "beam": 4, "n_best": 1}`: translations and scores;
//! - `POST /v1/attention` `{"text": "..."}`: the tokens and every layer's and head's weights;
//! - `GET /v1/health`, `GET /v1/model`; `GET /` the page.
//!
//! Requests that arrive together are decoded together ([`batcher`]); every bad request is a
//! 4xx with `{"error": "..."}` ([`api`]); SIGINT or SIGTERM stops accepting connections and
//! lets the requests in flight finish.

pub mod api;
pub mod batcher;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::Router;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Value, json};

use crate::backend::Backend;
use crate::plot::SentenceAttention;
use crate::run::RunDir;
use crate::translate::search::Decoding;
use crate::translate::{Precision, SearchSettings, Translator};
use api::{ApiError, ApiJson, AttentionRequest, Candidate, TranslateRequest, TranslateResponse};
use batcher::{Batcher, Batching};

/// The web page: one file, its script and style inline, nothing fetched from elsewhere.
const PAGE: &str = include_str!("page.html");

/// What `serve` serves and how.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The trained run.
    pub run: PathBuf,
    /// Where the model runs.
    pub backend: Backend,
    /// The address to listen on; port 0 takes a free one.
    pub addr: SocketAddr,
    /// How requests are gathered into batches.
    pub batching: Batching,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Most sentences in one request.
    pub max_sentences: usize,
    /// Largest beam a request may ask.
    pub max_beam: usize,
    /// The number format of every request's decoding steps.
    pub precision: Precision,
}

/// What every handler shares.
#[derive(Clone)]
struct Shared {
    batcher: Batcher,
    model: String,
    description: Value,
    max_sentences: usize,
    max_beam: usize,
    precision: Precision,
}

/// Loads the model, listens, and serves until SIGINT or SIGTERM; `ready` hears the address
/// once the socket is bound.
pub fn serve(options: &ServeOptions, ready: &mut dyn FnMut(SocketAddr)) -> anyhow::Result<()> {
    let run = RunDir::from_arg(&options.run);
    let translator = Translator::load(&run, options.backend)?;
    let description = describe(&run, &translator, options.backend)?;
    let shared = Shared {
        batcher: Batcher::start(translator, options.batching),
        model: run.path().display().to_string(),
        description,
        max_sentences: options.max_sentences,
        max_beam: options.max_beam,
        precision: options.precision,
    };
    let app = router(shared, options.max_body_bytes);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the HTTP runtime")?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(options.addr)
            .await
            .with_context(|| format!("{}: cannot listen", options.addr))?;
        let stop = shutdown_signal()?;
        ready(listener.local_addr()?);
        axum::serve(listener, app)
            .with_graceful_shutdown(stop)
            .await
            .context("the server failed")
    })
}

fn router(shared: Shared, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/v1/health", get(health))
        .route("/v1/model", get(model))
        .route("/v1/translate", post(translate))
        .route("/v1/attention", post(attention))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(middleware::from_fn(log_request))
        .with_state(shared)
}

/// The configuration of the model, its vocabulary sizes, and its scores when the model
/// directory has a `scores.json`.
fn describe(run: &RunDir, translator: &Translator, backend: Backend) -> anyhow::Result<Value> {
    let config = run.model_config()?;
    let scores_path = run.path().join("scores.json");
    let scores = match std::fs::read_to_string(&scores_path) {
        Ok(text) => serde_json::from_str::<Value>(&text)
            .with_context(|| format!("{}: not JSON", scores_path.display()))?,
        Err(_) => Value::Null,
    };
    Ok(json!({
        "model": run.path().display().to_string(),
        "backend": backend.name(),
        "config": config,
        "source_vocab_size": translator.vocabularies().source.vocab_size(),
        "target_vocab_size": translator.vocabularies().target.vocab_size(),
        "scores": scores,
    }))
}

/// Listens for SIGINT (Ctrl-C) and SIGTERM from the call on, and resolves on the first to
/// come. The handlers are installed here, before the address is announced, not when the
/// future is first polled: until then a signal has its default action, which kills the
/// process and the requests in flight with it.
fn shutdown_signal() -> anyhow::Result<impl Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("cannot handle SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("cannot handle SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {}
                _ = terminate.recv() => {}
            }
            tracing::info!("shutting down: finishing the requests in flight");
        })
    }
    #[cfg(not(unix))]
    Ok(async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing the requests in flight");
    })
}

/// The number of sentences a request carried, for the request log.
#[derive(Clone, Copy)]
struct Sentences(usize);

/// One log line per request: method, path, status, sentences, milliseconds.
async fn log_request(request: axum::extract::Request, next: Next) -> Response {
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let start = Instant::now();
    let response = next.run(request).await;
    let sentences = response.extensions().get::<Sentences>().map_or(0, |s| s.0);
    tracing::info!(
        "{method} {path} {} sentences={sentences} ms={:.1}",
        response.status().as_u16(),
        start.elapsed().as_secs_f64() * 1e3
    );
    response
}

async fn page() -> Html<&'static str> {
    Html(PAGE)
}

async fn health() -> axum::Json<Value> {
    axum::Json(json!({ "status": "ok" }))
}

async fn model(State(shared): State<Shared>) -> axum::Json<Value> {
    axum::Json(shared.description)
}

async fn not_found() -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: "no such endpoint: see GET /, POST /v1/translate, POST /v1/attention, GET /v1/health, GET /v1/model".to_string(),
    }
}

async fn method_not_allowed() -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: "method not allowed: POST /v1/translate and /v1/attention, GET the others"
            .to_string(),
    }
}

/// The search settings of a request, checked against the server's limits.
fn settings(shared: &Shared, beam: usize, n_best: usize) -> Result<SearchSettings, ApiError> {
    if beam == 0 || beam > shared.max_beam {
        return Err(ApiError::invalid(format!(
            "beam must be between 1 and {}, got {beam}",
            shared.max_beam
        )));
    }
    if n_best == 0 || n_best > beam {
        return Err(ApiError::invalid(format!(
            "n_best must be between 1 and beam ({beam}), got {n_best}"
        )));
    }
    Ok(SearchSettings {
        beam,
        alpha: SearchSettings::DEFAULT_ALPHA,
        no_repeat_ngram: SearchSettings::DEFAULT_NO_REPEAT_NGRAM,
        n_best,
        max_tokens: usize::MAX,
        decoding: Decoding::Cached,
        batch_size: SearchSettings::DEFAULT_BATCH_SIZE,
        precision: shared.precision,
    })
}

async fn translate(
    State(shared): State<Shared>,
    ApiJson(request): ApiJson<TranslateRequest>,
) -> Result<Response, ApiError> {
    let count = request.text.len();
    if count == 0 {
        return Err(ApiError::invalid(
            "text is empty: give at least one sentence",
        ));
    }
    if count > shared.max_sentences {
        return Err(ApiError {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            message: format!(
                "{count} sentences in one request: at most {} (split the request)",
                shared.max_sentences
            ),
        });
    }
    let settings = settings(&shared, request.beam, request.n_best)?;
    let translated = shared
        .batcher
        .translate(request.text, settings, request.split)
        .await
        .map_err(|error| ApiError::internal(&error))?;
    let best = |candidates: &Vec<crate::translate::Translation>| {
        candidates
            .first()
            .map_or((String::new(), 0.0), |t| (t.text.clone(), t.score))
    };
    let (translations, scores) = translated.translations.iter().map(best).unzip();
    let n_best = (request.n_best > 1).then(|| {
        translated
            .translations
            .iter()
            .map(|candidates| {
                candidates
                    .iter()
                    .map(|t| Candidate {
                        text: t.text.clone(),
                        score: t.score,
                    })
                    .collect()
            })
            .collect()
    });
    let answer = TranslateResponse {
        translations,
        scores,
        n_best,
        cut: translated.cut,
        warning: translated.warning,
        model: shared.model.clone(),
    };
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        axum::Extension(Sentences(count)),
        axum::Json(answer),
    )
        .into_response())
}

async fn attention(
    State(shared): State<Shared>,
    ApiJson(request): ApiJson<AttentionRequest>,
) -> Result<Response, ApiError> {
    if request.text.trim().is_empty() {
        return Err(ApiError::invalid("text is empty: give a sentence"));
    }
    let settings = settings(&shared, request.beam, 1)?;
    let weights: SentenceAttention = shared
        .batcher
        .attention(request.text, settings)
        .await
        .map_err(|error| ApiError::internal(&error))?;
    Ok((axum::Extension(Sentences(1)), axum::Json(weights)).into_response())
}

/// The default window of [`Batching`]: none. Under load, requests queue while a batch is
/// decoded and form the next one; a lone request is not kept waiting (BENCHMARKS.md).
pub const DEFAULT_BATCH_WINDOW: Duration = Duration::ZERO;

/// The default sentences of a batch: at 64 concurrent clients, batches of 16 served more
/// sentences a second than batches of 8 or 256 (BENCHMARKS.md).
pub const DEFAULT_MAX_BATCH: u64 = 16;
