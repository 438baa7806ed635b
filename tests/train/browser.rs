//! The page of `serve` in headless Chromium, driven as a user would through WebDriver
//! (`chromedriver`, spoken to over HTTP): type a sentence, press Translate, read the
//! translation and the heatmap, switch to the decoder's masked self-attention. Needs Debian's
//! `chromium` and `chromium-driver`, which `scripts/test.sh` installs.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine;
use serde_json::{Value, json};

use super::serve::{Server, client, post_json};

/// A `chromedriver` on a free port, killed when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Driver {
    fn start() -> Self {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let child = Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver runs: install Debian's chromium and chromium-driver (scripts/test.sh does)");
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while client().get(&format!("{url}/status")).call().is_err() {
            assert!(Instant::now() < deadline, "chromedriver did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
        Self { child, url }
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A headless Chromium session.
struct Browser<'a> {
    driver: &'a Driver,
    session: String,
}

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

impl<'a> Browser<'a> {
    fn open(driver: &'a Driver) -> Self {
        let (status, answer) = post_json(
            &format!("{}/session", driver.url),
            &json!({"capabilities": {"alwaysMatch": {
                "browserName": "chrome",
                "goog:chromeOptions": {
                    "binary": "/usr/bin/chromium",
                    // No background traffic: a closed network refuses it, many connections
                    // at a time.
                    "args": [
                        "--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1200,1000",
                        "--disable-quic", "--no-first-run", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync"
                    ]
                }
            }}}),
        );
        assert_eq!(status, 200, "{answer}");
        let session = answer["value"]["sessionId"]
            .as_str()
            .expect("a session")
            .to_string();
        Self { driver, session }
    }

    /// `POST /session/ID/PATH` with `body`: the answer's value.
    fn post(&self, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}/{path}", self.driver.url, self.session);
        let (status, answer) = post_json(&url, &body);
        assert_eq!(status, 200, "{path}: {answer}");
        answer["value"].clone()
    }

    fn get(&self, path: &str) -> Value {
        let url = format!("{}/session/{}/{path}", self.driver.url, self.session);
        let mut response = client().get(&url).call().expect("chromedriver answers");
        let text = response.body_mut().read_to_string().expect("a body");
        let answer: Value = serde_json::from_str(&text).expect("JSON");
        answer["value"].clone()
    }

    fn find(&self, css: &str) -> String {
        let found = self.post("element", json!({"using": "css selector", "value": css}));
        found[ELEMENT].as_str().expect("an element").to_string()
    }

    /// Runs `script` in the page; its return value.
    fn script(&self, script: &str) -> Value {
        self.post("execute/sync", json!({"script": script, "args": []}))
    }

    /// Waits until `script` returns something truthy.
    fn wait_for(&self, script: &str) {
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            let value = self.script(script);
            if value.as_bool() == Some(true) {
                return;
            }
            assert!(Instant::now() < deadline, "never true: {script}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Browser<'_> {
    fn drop(&mut self) {
        let url = format!("{}/session/{}", self.driver.url, self.session);
        let _ = client().delete(&url).call();
    }
}

/// The `(title, weight)` of every heatmap cell, row by row.
fn cells(browser: &Browser) -> Vec<(String, Option<f64>)> {
    let cells = browser.script(
        "return [...document.querySelectorAll('td.cell')].map(c => [c.title, c.dataset.weight ?? null]);",
    );
    cells
        .as_array()
        .expect("cells")
        .iter()
        .map(|cell| {
            let weight = cell[1].as_str().map(|w| w.parse().expect("a number"));
            (cell[0].as_str().expect("a title").to_string(), weight)
        })
        .collect()
}

/// The mean over the heads of `layer`, `[head][query][key]`.
fn mean_of_heads(layer: &Value) -> Vec<Vec<f64>> {
    let heads = layer.as_array().expect("heads");
    let rows = heads[0].as_array().expect("rows").len();
    let cols = heads[0][0].as_array().expect("a row").len();
    (0..rows)
        .map(|q| {
            (0..cols)
                .map(|k| {
                    heads
                        .iter()
                        .map(|h| h[q][k].as_f64().expect("a weight"))
                        .sum::<f64>()
                        / heads.len() as f64
                })
                .collect()
        })
        .collect()
}

#[test]
fn the_page_translates_and_draws_the_attention_of_the_shipped_model() {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("models/eng-por");
    let server = Server::start(&shipped, &[]);
    let driver = Driver::start();
    let browser = Browser::open(&driver);
    browser.post("url", json!({"url": format!("{}/", server.url)}));

    let sentence = "She doesn't want to go to school tomorrow.";
    let text = browser.find("#text");
    browser.post(&format!("element/{text}/clear"), json!({}));
    browser.post(&format!("element/{text}/value"), json!({"text": sentence}));
    let translate = browser.find("#translate");
    browser.post(&format!("element/{translate}/click"), json!({}));
    browser.wait_for("return document.querySelectorAll('td.cell').length > 0;");

    // The translation shown is the API's, and the heatmap is the API's attention: by default
    // the encoder-decoder attention of the last layer, averaged over the heads.
    let (status, expected) = post_json(
        &format!("{}/v1/translate", server.url),
        &json!({"text": [sentence], "beam": 4}),
    );
    assert_eq!(status, 200);
    let shown = browser
        .script("return document.querySelector('#translations .translation .text').textContent;");
    assert_eq!(shown, expected["translations"][0]);
    let (status, attention) = post_json(
        &format!("{}/v1/attention", server.url),
        &json!({"text": sentence, "beam": 4}),
    );
    assert_eq!(status, 200);
    let sources = attention["source_tokens"].as_array().expect("tokens");
    let targets = attention["target_tokens"].as_array().expect("tokens");
    let layers = attention["decoder_cross"].as_array().expect("layers");
    let mean = mean_of_heads(layers.last().expect("a layer"));
    let drawn = cells(&browser);
    assert_eq!(
        drawn.len(),
        targets.len() * sources.len(),
        "a cell per token pair"
    );
    for (i, (title, weight)) in drawn.iter().enumerate() {
        let (q, k) = (i / sources.len(), i % sources.len());
        let prefix = format!(
            "{} → {}: ",
            targets[q].as_str().expect("a token"),
            sources[k].as_str().expect("a token")
        );
        assert!(title.starts_with(&prefix), "{title:?} is not {prefix:?}…");
        let weight = weight.expect("a weight");
        assert!(
            (weight - mean[q][k]).abs() < 1e-5,
            "cell {q},{k}: {weight} vs {}",
            mean[q][k]
        );
        let in_title: f64 = title[prefix.len()..]
            .parse()
            .expect("a weight in the title");
        assert!((in_title - mean[q][k]).abs() < 1e-4, "{title}");
    }

    // The decoder's masked self-attention: the upper triangle is empty.
    let kind = browser.find("#kind option[value=decoder_self]");
    browser.post(&format!("element/{kind}/click"), json!({}));
    let drawn = cells(&browser);
    let n = targets.len();
    assert_eq!(drawn.len(), n * n);
    for (i, (title, weight)) in drawn.iter().enumerate() {
        let (q, k) = (i / n, i % n);
        assert_eq!(weight.is_none(), k > q, "cell {q},{k}: {title}");
        assert_eq!(title.ends_with(": masked"), k > q, "cell {q},{k}: {title}");
    }

    // The README's picture: `TRANSFORMER_MT_SCREENSHOT=docs/serve.png` writes it.
    let cross = browser.find("#kind option[value=decoder_cross]");
    browser.post(&format!("element/{cross}/click"), json!({}));
    let png = browser.get("screenshot");
    let png = base64::engine::general_purpose::STANDARD
        .decode(png.as_str().expect("base64"))
        .expect("a screenshot");
    assert!(png.starts_with(b"\x89PNG"));
    if let Ok(path) = std::env::var("TRANSFORMER_MT_SCREENSHOT") {
        std::fs::write(&path, png).expect("the screenshot is written");
    }
}
