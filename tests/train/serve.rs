//! `transformer-mt serve` through a real HTTP client, on a loopback port: every endpoint,
//! answers checked against `infer` and against what attention weights must be, every bad
//! request with its status and message, and a graceful stop.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::common::{command, path, run_in, small_run, stderr, stdout};

/// A server of a run, on a free loopback port, killed when dropped.
pub struct Server {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub url: String,
}

impl Server {
    /// Starts `serve --run RUN --addr 127.0.0.1:0` and `extra`, and waits for its address.
    pub fn start(run: &Path, extra: &[&str]) -> Self {
        let mut args = vec!["serve", "--run", path(run), "--addr", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = command(run, &args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        let mut first = String::new();
        BufReader::new(child.stdout.take().expect("piped"))
            .read_line(&mut first)
            .expect("a line");
        let url = first
            .split_whitespace()
            .find(|word| word.starts_with("http://"))
            .unwrap_or_else(|| panic!("no address in {first:?}"))
            .trim_end_matches('/')
            .to_string();
        Self { child, url }
    }

    /// The process id, to signal it.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An HTTP client that returns 4xx and 5xx answers instead of failing on them.
pub fn client() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(300)))
        .build()
        .into()
}

/// `POST url` with `body` as `content_type`: the status and the body as JSON.
pub fn post(url: &str, content_type: &str, body: &str) -> (u16, Value) {
    let mut response = client()
        .post(url)
        .content_type(content_type)
        .send(body)
        .expect("the server answers");
    let status = response.status().as_u16();
    let text = response.body_mut().read_to_string().expect("a body");
    let json = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text:?}"));
    (status, json)
}

/// `POST url` with a JSON body.
pub fn post_json(url: &str, body: &Value) -> (u16, Value) {
    post(url, "application/json", &body.to_string())
}

/// `GET url`: the status and the body.
fn get(url: &str) -> (u16, String) {
    let mut response = client().get(url).call().expect("the server answers");
    let status = response.status().as_u16();
    (
        status,
        response.body_mut().read_to_string().expect("a body"),
    )
}

/// What `infer --beam BEAM --n-best N` prints for `sentences`, a line each.
fn infer(run: &Path, beam: usize, n_best: usize, sentences: &[&str]) -> Vec<String> {
    let (beam, n_best) = (beam.to_string(), n_best.to_string());
    let mut args = vec![
        "infer",
        "--run",
        path(run),
        "--beam",
        &beam,
        "--n-best",
        &n_best,
    ];
    args.extend_from_slice(sentences);
    let output = run_in(run, &args);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output).lines().map(str::to_string).collect()
}

fn strings(value: &Value) -> Vec<String> {
    value
        .as_array()
        .expect("an array")
        .iter()
        .map(|v| v.as_str().expect("a string").to_string())
        .collect()
}

#[test]
fn the_api_translates_as_infer_does_and_describes_the_model() {
    let run = small_run();
    let server = Server::start(run, &[]);
    let (status, body) = get(&format!("{}/v1/health", server.url));
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));

    let (status, body) = get(&format!("{}/v1/model", server.url));
    assert_eq!(status, 200);
    let model: Value = serde_json::from_str(&body).expect("JSON");
    let saved: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("model.json")).expect("model.json"))
            .expect("JSON");
    assert_eq!(model["config"], saved);
    assert_eq!(model["source_vocab_size"], saved["src_vocab_size"]);
    assert_eq!(model["model"], path(run));

    let sentences = ["seven", "three hundred and twelve", "", "forty thousand"];
    let translate = format!("{}/v1/translate", server.url);
    let (status, answer) = post_json(&translate, &json!({"text": sentences, "beam": 1}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        strings(&answer["translations"]),
        infer(run, 1, 1, &sentences)
    );
    assert_eq!(answer["scores"].as_array().expect("scores").len(), 4);
    assert_eq!(answer["model"], path(run));
    assert!(answer.get("n_best").is_none() && answer.get("warning").is_none());
    // As `curl -d` sends it: JSON said to be a form.
    let (status, answer) = post(
        &translate,
        "application/x-www-form-urlencoded",
        r#"{"text": ["seven"], "beam": 1}"#,
    );
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        strings(&answer["translations"]),
        infer(run, 1, 1, &["seven"])
    );

    // n-best lists, as `infer --n-best` prints them: index, score, translation.
    let (status, answer) = post_json(
        &translate,
        &json!({"text": ["seven", "forty thousand"], "beam": 3, "n_best": 2}),
    );
    assert_eq!(status, 200, "{answer}");
    let printed = infer(run, 3, 2, &["seven", "forty thousand"]);
    let mut served = Vec::new();
    for (i, candidates) in answer["n_best"]
        .as_array()
        .expect("n_best")
        .iter()
        .enumerate()
    {
        for candidate in candidates.as_array().expect("candidates") {
            let score = candidate["score"].as_f64().expect("a score");
            served.push(format!(
                "{i}\t{score:.4}\t{}",
                candidate["text"].as_str().expect("text")
            ));
        }
    }
    assert_eq!(served, printed);
    assert_eq!(
        answer["translations"][1], answer["n_best"][1][0]["text"],
        "the best of each list is its translation"
    );

    // A text of two sentences is translated sentence by sentence unless `split` is false, as
    // `infer` does unless `--whole-lines`.
    let text = "Seven. Forty thousand.";
    let (status, answer) = post_json(&translate, &json!({"text": [text], "beam": 1}));
    assert_eq!(status, 200, "{answer}");
    let one_by_one = infer(run, 1, 1, &["Seven.", "Forty thousand."]).join(" ");
    assert_eq!(strings(&answer["translations"]), [one_by_one]);
    let (status, answer) = post_json(
        &translate,
        &json!({"text": [text], "beam": 1, "split": false}),
    );
    assert_eq!(status, 200, "{answer}");
    let output = run_in(
        run,
        &[
            "infer",
            "--run",
            path(run),
            "--beam",
            "1",
            "--whole-lines",
            text,
        ],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        strings(&answer["translations"]),
        [stdout(&output).trim_end()]
    );
}

/// `serve --precision bf16` answers as `infer --precision bf16` does, greedy and beam.
#[test]
fn a_server_in_bfloat16_translates_as_infer_in_bfloat16() {
    let run = small_run();
    let server = Server::start(run, &["--precision", "bf16"]);
    let sentences = ["seven", "three hundred and twelve", "forty thousand"];
    let translate = format!("{}/v1/translate", server.url);
    for beam in ["1", "3"] {
        let (status, answer) = post_json(
            &translate,
            &json!({"text": sentences, "beam": beam.parse::<usize>().expect("a number")}),
        );
        assert_eq!(status, 200, "{answer}");
        let mut args = vec![
            "infer",
            "--run",
            path(run),
            "--beam",
            beam,
            "--precision",
            "bf16",
        ];
        args.extend_from_slice(&sentences);
        let output = run_in(run, &args);
        assert!(output.status.success(), "{}", stderr(&output));
        let expected: Vec<String> = stdout(&output).lines().map(str::to_string).collect();
        assert_eq!(strings(&answer["translations"]), expected, "beam {beam}");
    }
}

#[test]
fn concurrent_requests_are_batched_and_each_gets_its_own_answer() {
    let run = small_run();
    let server = Server::start(run, &["--batch-window", "50"]);
    // Sources of different lengths: this barely trained model runs to each one's output limit
    // (`translate::output_limit`), which is its own in whatever batch its request lands.
    let sentences: Vec<String> = (1..=24)
        .map(|n| format!("{} hundred and {}", n % 9 + 1, n))
        .collect();
    let refs: Vec<&str> = sentences.iter().map(String::as_str).collect();
    let expected = infer(run, 2, 1, &refs);
    let translate = format!("{}/v1/translate", server.url);
    let answers: Vec<Value> = std::thread::scope(|scope| {
        let requests: Vec<_> = sentences
            .iter()
            .map(|sentence| {
                let translate = &translate;
                scope.spawn(move || post_json(translate, &json!({"text": [sentence], "beam": 2})))
            })
            .collect();
        requests
            .into_iter()
            .map(|r| {
                let (status, answer) = r.join().expect("the client thread ends");
                assert_eq!(status, 200, "{answer}");
                answer
            })
            .collect()
    });
    for (answer, expected) in answers.iter().zip(&expected) {
        assert_eq!(
            strings(&answer["translations"]),
            std::slice::from_ref(expected)
        );
    }
}

#[test]
fn attention_weights_are_rows_of_probabilities_masked_above_the_diagonal() {
    let run = small_run();
    let server = Server::start(run, &[]);
    let (status, answer) = post_json(
        &format!("{}/v1/attention", server.url),
        &json!({"text": "three hundred and twelve", "beam": 2}),
    );
    assert_eq!(status, 200, "{answer}");
    let config: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("model.json")).expect("model.json"))
            .expect("JSON");
    assert_eq!(
        answer["translation"].as_str(),
        Some(infer(run, 2, 1, &["three hundred and twelve"])[0].as_str())
    );
    let sources = answer["source_tokens"].as_array().expect("tokens").len();
    let targets = answer["target_tokens"].as_array().expect("tokens").len();
    assert_eq!(answer["target_tokens"][0], "<s>");
    for (kind, layers, rows, cols) in [
        ("encoder_self", "n_encoder_layers", sources, sources),
        ("decoder_self", "n_decoder_layers", targets, targets),
        ("decoder_cross", "n_decoder_layers", targets, sources),
    ] {
        let weights = answer[kind].as_array().expect("layers");
        assert_eq!(
            weights.len() as u64,
            config[layers].as_u64().expect("layers")
        );
        for layer in weights {
            let heads = layer.as_array().expect("heads");
            assert_eq!(
                heads.len() as u64,
                config["n_heads"].as_u64().expect("heads")
            );
            for head in heads {
                let matrix = head.as_array().expect("rows");
                assert_eq!(matrix.len(), rows, "{kind}");
                for (q, row) in matrix.iter().enumerate() {
                    let row: Vec<f64> = row
                        .as_array()
                        .expect("a row")
                        .iter()
                        .map(|w| w.as_f64().expect("a weight"))
                        .collect();
                    assert_eq!(row.len(), cols, "{kind}");
                    let sum: f64 = row.iter().sum();
                    assert!((sum - 1.0).abs() < 1e-4, "{kind} row {q} sums to {sum}");
                    if kind == "decoder_self" {
                        assert!(row[q + 1..].iter().all(|&w| w == 0.0), "{kind} row {q}");
                    }
                }
            }
        }
    }
}

#[test]
fn bad_requests_are_4xx_json_errors_and_the_server_goes_on() {
    let run = small_run();
    let server = Server::start(
        run,
        &[
            "--max-sentences",
            "4",
            "--max-body-bytes",
            "4000",
            "--max-beam",
            "8",
        ],
    );
    let translate = format!("{}/v1/translate", server.url);
    let attention = format!("{}/v1/attention", server.url);
    let json = "application/json";
    let long = "seven ".repeat(2000);
    let cases: [(&str, &str, String, u16, &str); 13] = [
        (
            &translate,
            json,
            "{\"text\": [".into(),
            400,
            "Failed to parse the request body as JSON",
        ),
        (
            &translate,
            json,
            r#"{"text": "seven"}"#.into(),
            422,
            "text: invalid type: string",
        ),
        (
            &translate,
            json,
            r#"{"text": [7]}"#.into(),
            422,
            "invalid type: integer `7`",
        ),
        (
            &translate,
            json,
            r#"{"beam": 2}"#.into(),
            422,
            "missing field `text`",
        ),
        (
            &translate,
            json,
            r#"{"text": ["a"], "bem": 2}"#.into(),
            422,
            "unknown field `bem`",
        ),
        (
            &translate,
            json,
            r#"{"text": []}"#.into(),
            422,
            "text is empty",
        ),
        (
            &translate,
            json,
            json!({"text": vec!["a"; 5]}).to_string(),
            413,
            "5 sentences in one request: at most 4",
        ),
        (
            &translate,
            json,
            json!({"text": [long]}).to_string(),
            413,
            "length limit exceeded",
        ),
        (
            &translate,
            json,
            r#"{"text": ["a"], "beam": 0}"#.into(),
            422,
            "beam must be between 1 and 8, got 0",
        ),
        (
            &translate,
            json,
            r#"{"text": ["a"], "beam": 9}"#.into(),
            422,
            "beam must be between 1 and 8, got 9",
        ),
        (
            &translate,
            json,
            r#"{"text": ["a"], "beam": 2, "n_best": 3}"#.into(),
            422,
            "n_best must be between 1 and beam (2), got 3",
        ),
        (
            &attention,
            json,
            r#"{"text": "  "}"#.into(),
            422,
            "text is empty",
        ),
        (
            &format!("{}/v2/translate", server.url),
            json,
            "{}".into(),
            404,
            "no such endpoint",
        ),
    ];
    for (url, content_type, body, status, message) in &cases {
        let (got, answer) = post(url, content_type, body);
        let error = answer["error"].as_str().unwrap_or_default();
        assert_eq!(got, *status, "{body:.80}: {answer}");
        assert!(
            error.contains(message),
            "{body:.80}: {error:?} lacks {message:?}"
        );
    }

    // A sentence over the model's positions is cut, with a warning, as `infer` does.
    let long = "seven hundred ".repeat(100);
    let (status, answer) = post_json(&translate, &json!({"text": ["nine", long], "beam": 1}));
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["cut"], json!([1]));
    let warning = answer["warning"].as_str().expect("a warning");
    assert!(
        warning.contains("longer than the model's 128 positions"),
        "{warning}"
    );

    let (status, body) = get(&translate);
    assert_eq!(status, 405, "{body}");
    assert!(body.contains(r#""error":"method not allowed"#), "{body}");

    let (status, _) = get(&format!("{}/v1/health", server.url));
    assert_eq!(status, 200);
}

#[cfg(unix)]
#[test]
fn sigterm_finishes_the_requests_in_flight_then_stops() {
    let run = small_run();
    let mut server = Server::start(run, &[]);
    let mut log = BufReader::new(server.child.stderr.take().expect("piped"));
    let translate = format!("{}/v1/translate", server.url);
    let sentences: Vec<String> = (0..200)
        .map(|n| format!("{n} thousand seven hundred and {}", n + 11))
        .collect();
    let answered = AtomicBool::new(false);
    let (status, body) = std::thread::scope(|scope| {
        let request = scope.spawn(|| {
            let answer = post_json(&translate, &json!({"text": sentences, "beam": 8}));
            answered.store(true, Ordering::SeqCst);
            answer
        });
        // The signal comes once the model thread has taken the request: in flight, by the
        // server's own word.
        let mut line = String::new();
        while !line.contains("decoding a batch: 200 sentences") {
            line.clear();
            let read = log.read_line(&mut line).expect("the log");
            assert!(read > 0, "the server's log ended before the batch started");
        }
        // SAFETY: a signal to the child process this test started.
        let sent = unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
        assert_eq!(sent, 0);
        assert!(
            !answered.load(Ordering::SeqCst),
            "answered before the signal: the request must be longer for this test"
        );
        request.join().expect("the client thread ends")
    });
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["translations"].as_array().expect("translations").len(),
        200
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    let exit = loop {
        if let Some(status) = server.child.try_wait().expect("waitable") {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(exit.success(), "{exit:?}");
    let log = std::io::read_to_string(log).expect("the log");
    assert!(
        log.contains("POST /v1/translate 200 sentences=200"),
        "{log}"
    );
    assert!(log.contains("shutting down"), "{log}");
    assert!(client().get(&translate).call().is_err(), "still listening");
}

/// The signal handlers are in place before the server prints its address: SIGTERM as soon as
/// the address is out stops it gracefully, never by the signal's default action. Without
/// them in place this failed about two tries in three, so five tries in a row tell.
#[cfg(unix)]
#[test]
fn sigterm_as_soon_as_the_address_is_printed_stops_the_server_gracefully() {
    let run = small_run();
    for attempt in 0..5 {
        let mut server = Server::start(run, &[]);
        // SAFETY: a signal to the child process this test started.
        let sent = unsafe { libc::kill(server.pid() as i32, libc::SIGTERM) };
        assert_eq!(sent, 0);
        let exit = server.child.wait().expect("waitable");
        let log =
            std::io::read_to_string(server.child.stderr.take().expect("piped")).expect("the log");
        assert!(exit.success(), "attempt {attempt}: {exit:?}\n{log}");
        assert!(log.contains("shutting down"), "attempt {attempt}: {log}");
    }
}
