//! The server under load, on loopback: N clients (1, 8, 64) each send one sentence a request,
//! one request after another, for a fixed time; with dynamic batching on (the server's
//! defaults, or `--max-batch N`) and off (`--max-batch 1`). Prints requests/s, sentences/s,
//! p50 and p99 latency, errors, and the server's peak resident memory.
//!
//! `cargo bench --bench serve -- [--run DIR] [--sentences PAIRS.tsv] [--seconds S]
//! [--backend NAME] [--beam K] [--max-batch N] [--clients 1,8,64]`; by default the shipped
//! model, the English side of its `test.tsv` (give `--sentences` for a model without one),
//! 30 s, beam 4, backend auto, the server's own `--max-batch`.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

struct Options {
    run: String,
    sentences: Option<String>,
    seconds: u64,
    backend: String,
    beam: usize,
    max_batch: Option<String>,
    clients: Vec<usize>,
}

fn options() -> Options {
    let mut options = Options {
        run: "models/eng-por".to_string(),
        sentences: None,
        seconds: 30,
        backend: "auto".to_string(),
        beam: 4,
        max_batch: None,
        clients: vec![1, 8, 64],
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_else(|| panic!("{arg} needs a value"));
        match arg.as_str() {
            "--run" => options.run = value(),
            "--sentences" => options.sentences = Some(value()),
            "--seconds" => options.seconds = value().parse().expect("--seconds: a number"),
            "--backend" => options.backend = value(),
            "--beam" => options.beam = value().parse().expect("--beam: a number"),
            "--max-batch" => options.max_batch = Some(value()),
            "--clients" => {
                options.clients = value()
                    .split(',')
                    .map(|n| n.parse().expect("--clients: numbers"))
                    .collect()
            }
            "--bench" => {}
            other => panic!("unknown argument {other}"),
        }
    }
    options
}

/// A started server: the process and its address.
fn start(options: &Options, max_batch: Option<&str>) -> (Child, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_transformer-mt"));
    command
        .args([
            "--backend",
            &options.backend,
            "serve",
            "--run",
            &options.run,
        ])
        .args(["--addr", "127.0.0.1:0"]);
    if let Some(max_batch) = max_batch {
        command.args(["--max-batch", max_batch]);
    }
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .expect("the server's address");
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .trim_end_matches('/')
        .to_string();
    (child, url)
}

fn peak_resident_mib(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

/// One load: `clients` threads sending requests for `seconds`; latencies in seconds and
/// the number of failed requests.
fn load(
    url: &str,
    sentences: &[String],
    clients: usize,
    seconds: u64,
    beam: usize,
) -> (Vec<f64>, usize) {
    let stop = AtomicBool::new(false);
    let translate = format!("{url}/v1/translate");
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..clients)
            .map(|c| {
                let (stop, translate) = (&stop, &translate);
                scope.spawn(move || {
                    let agent: ureq::Agent = ureq::Agent::config_builder()
                        .http_status_as_error(false)
                        .build()
                        .into();
                    let (mut latencies, mut errors) = (Vec::new(), 0);
                    let mut next = c * 7919;
                    while !stop.load(Ordering::Relaxed) {
                        let sentence = &sentences[next % sentences.len()];
                        next += 1;
                        let body =
                            serde_json::json!({"text": [sentence], "beam": beam}).to_string();
                        let start = Instant::now();
                        let ok = agent
                            .post(translate)
                            .content_type("application/json")
                            .send(body)
                            .is_ok_and(|mut r| {
                                r.status() == 200 && r.body_mut().read_to_string().is_ok()
                            });
                        latencies.push(start.elapsed().as_secs_f64());
                        errors += usize::from(!ok);
                    }
                    (latencies, errors)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_secs(seconds));
        stop.store(true, Ordering::Relaxed);
        let mut all = Vec::new();
        let mut errors = 0;
        for worker in workers {
            let (latencies, failed) = worker.join().expect("a client");
            all.extend(latencies);
            errors += failed;
        }
        (all, errors)
    })
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted.get(index).copied().unwrap_or(f64::NAN)
}

fn main() {
    let options = options();
    let file = options
        .sentences
        .clone()
        .unwrap_or_else(|| format!("{}/test.tsv", options.run));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{file}: {e}"));
    let sentences: Vec<String> = text
        .lines()
        .filter_map(|l| l.split('\t').next())
        .filter(|s| !s.trim().is_empty())
        .map(str::to_string)
        .collect();
    assert!(!sentences.is_empty(), "{file}: no sentences");
    println!(
        "{} sentences of {file}, {} s a load, beam {}, model {}",
        sentences.len(),
        options.seconds,
        options.beam,
        options.run
    );
    println!(
        "| batching | clients | requests/s | sentences/s | p50 ms | p99 ms | errors | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for (name, max_batch) in [("on", options.max_batch.as_deref()), ("off", Some("1"))] {
        let (mut server, url) = start(&options, max_batch);
        for &clients in &options.clients {
            let (mut latencies, errors) =
                load(&url, &sentences, clients, options.seconds, options.beam);
            latencies.sort_by(f64::total_cmp);
            let rate = latencies.len() as f64 / options.seconds as f64;
            println!(
                "| {name} | {clients} | {rate:.1} | {rate:.1} | {:.0} | {:.0} | {errors} | {:.0} |",
                percentile(&latencies, 0.5) * 1e3,
                percentile(&latencies, 0.99) * 1e3,
                peak_resident_mib(server.id())
            );
        }
        let _ = server.kill();
        let _ = server.wait();
    }
}
