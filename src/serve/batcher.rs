//! Dynamic batching: one thread owns the model; the requests that arrive within a short
//! window are decoded together, as one `--input` file would be, so that many small requests
//! cost about what their sentences cost in one batch.

use std::panic::AssertUnwindSafe;
use std::sync::mpsc::{Receiver, RecvTimeoutError, Sender};
use std::time::{Duration, Instant};

use anyhow::anyhow;
use tokio::sync::oneshot;

use crate::plot::{SentenceAttention, sentence_weights};
use crate::translate::{SearchSettings, Translation, Translator};

/// The translations of one request's sentences, each `n_best` long, and which sentences
/// were cut to the model's positions.
#[derive(Debug)]
pub struct Translated {
    /// Per sentence, best first.
    pub translations: Vec<Vec<Translation>>,
    /// The indices of the sentences that were cut.
    pub cut: Vec<usize>,
    /// "warning: …" when some sentences were cut.
    pub warning: Option<String>,
}

/// What the model thread is asked to do.
enum Job {
    Translate {
        sentences: Vec<String>,
        settings: SearchSettings,
        split: bool,
        reply: oneshot::Sender<anyhow::Result<Translated>>,
    },
    Attention {
        sentence: String,
        settings: SearchSettings,
        reply: oneshot::Sender<anyhow::Result<SentenceAttention>>,
    },
}

impl Job {
    fn sentences(&self) -> usize {
        match self {
            Job::Translate { sentences, .. } => sentences.len(),
            Job::Attention { .. } => 1,
        }
    }
}

/// How requests are gathered.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// How long the first request of a batch waits for others to arrive; with zero, a batch
    /// holds the requests already waiting.
    pub window: Duration,
    /// A batch closes once it holds this many sentences; 1 decodes each request alone.
    pub max_sentences: usize,
}

/// The handle the request handlers hold: sends jobs to the model thread.
#[derive(Clone)]
pub struct Batcher {
    jobs: Sender<Job>,
}

impl Batcher {
    /// Starts the model thread with `translator`; it ends when every handle is dropped.
    pub fn start(translator: Translator, batching: Batching) -> Self {
        let (jobs, queue) = std::sync::mpsc::channel();
        std::thread::Builder::new()
            .name("model".to_string())
            .spawn(move || work(&translator, &queue, batching))
            .expect("a thread can be spawned");
        Self { jobs }
    }

    /// Translates `texts` as `settings` say, in a batch with whatever else arrives; with
    /// `split`, each text sentence by sentence ([`crate::translate::segment`]).
    pub async fn translate(
        &self,
        texts: Vec<String>,
        settings: SearchSettings,
        split: bool,
    ) -> anyhow::Result<Translated> {
        self.ask(|reply| Job::Translate {
            sentences: texts,
            settings,
            split,
            reply,
        })
        .await
    }

    /// The translation of `sentence` and every attention weight between the two.
    pub async fn attention(
        &self,
        sentence: String,
        settings: SearchSettings,
    ) -> anyhow::Result<SentenceAttention> {
        self.ask(|reply| Job::Attention {
            sentence,
            settings,
            reply,
        })
        .await
    }

    /// Sends the job `make` builds around a reply channel, and waits for the reply.
    async fn ask<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<anyhow::Result<T>>) -> Job,
    ) -> anyhow::Result<T> {
        let (reply, answer) = oneshot::channel();
        self.jobs
            .send(make(reply))
            .map_err(|_| anyhow!("the model thread ended"))?;
        answer
            .await
            .map_err(|_| anyhow!("the model failed on this batch: the server's log says how"))?
    }
}

/// The model thread: waits for a job, takes those already queued behind it (they arrived
/// while the last batch was decoded) and those that arrive within the window, up to the
/// batch's sentences, and runs them.
fn work(translator: &Translator, queue: &Receiver<Job>, batching: Batching) {
    while let Ok(first) = queue.recv() {
        let deadline = Instant::now() + batching.window;
        let mut sentences = first.sentences();
        let mut jobs = vec![first];
        while sentences < batching.max_sentences {
            let left = deadline.saturating_duration_since(Instant::now());
            match queue.recv_timeout(left) {
                Ok(job) => {
                    sentences += job.sentences();
                    jobs.push(job);
                }
                Err(RecvTimeoutError::Timeout | RecvTimeoutError::Disconnected) => break,
            }
        }
        tracing::info!(
            "decoding a batch: {sentences} sentences from {} requests",
            jobs.len()
        );
        // A panic in the model fails this batch's requests (their reply channels are
        // dropped, and the default hook logs it), not the server.
        let _ = std::panic::catch_unwind(AssertUnwindSafe(|| run(translator, jobs)));
    }
}

/// One translation request of a batch: its texts, whether they are split into sentences, and
/// where its answer goes.
type Request = (
    Vec<String>,
    bool,
    oneshot::Sender<anyhow::Result<Translated>>,
);

/// Runs a batch: attention jobs one by one; translation jobs together, one decoding per set
/// of search settings.
fn run(translator: &Translator, jobs: Vec<Job>) {
    let mut groups: Vec<(SearchSettings, Vec<Request>)> = Vec::new();
    for job in jobs {
        match job {
            Job::Attention {
                sentence,
                settings,
                reply,
            } => {
                let _ = reply.send(sentence_weights(translator, &sentence, &settings));
            }
            Job::Translate {
                sentences,
                settings,
                split,
                reply,
            } => match groups.iter_mut().find(|(s, _)| *s == settings) {
                Some((_, requests)) => requests.push((sentences, split, reply)),
                None => groups.push((settings, vec![(sentences, split, reply)])),
            },
        }
    }
    for (settings, requests) in groups {
        translate_together(translator, &settings, requests);
    }
}

/// Decodes the sentences of every request in one call, and gives each request its own.
fn translate_together(translator: &Translator, settings: &SearchSettings, requests: Vec<Request>) {
    let mut ids = Vec::new();
    let mut encoded = Vec::with_capacity(requests.len());
    for (texts, split, reply) in requests {
        match translator.encode_lines(&texts, split) {
            Ok(sources) => {
                let warning = sources.warning(None);
                ids.extend(sources.ids.iter().cloned());
                encoded.push((sources, warning, reply));
            }
            Err(error) => {
                let _ = reply.send(Err(error));
            }
        }
    }
    match translator.translate(&ids, settings, |_| {}) {
        Ok(translations) => {
            let mut translations = translations.into_iter();
            for (sources, warning, reply) in encoded {
                let mine = translations.by_ref().take(sources.ids.len()).collect();
                let _ = reply.send(Ok(Translated {
                    translations: sources.join(mine),
                    cut: sources.cut,
                    warning,
                }));
            }
        }
        Err(error) => {
            let message = format!("{error:#}");
            for (_, _, reply) in encoded {
                let _ = reply.send(Err(anyhow!("{message}")));
            }
        }
    }
}
