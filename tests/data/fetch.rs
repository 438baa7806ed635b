//! Downloading the corpus, against a local HTTP server: no test needs the internet.

use std::io::{Cursor, Read, Write};
use std::net::TcpListener;
use std::thread;

use transformer_mt::data::corpus::{Direction, ReadOptions, read_corpus};
use transformer_mt::data::fetch::fetch;
use transformer_mt::data::{DataConfig, corpus_files};
use zip::write::SimpleFileOptions;

use super::common::{run_in, stderr, stdout};

const POR_TXT: &str = "Go.\tVai.\tCC-BY 2.0 (France) Attribution: tatoeba.org #2877272 (CM) & #872851 (alexmarcelo)\n\
Hi.\tOi.\tCC-BY 2.0 (France) Attribution: tatoeba.org #538123 (CM) & #872856 (alexmarcelo)\n";

/// The ManyThings layout: `por.txt` and a short `_about.txt`.
fn manythings_zip() -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default();
    zip.start_file("_about.txt", options).expect("zip");
    zip.write_all(b"Tab-delimited Bilingual Sentence Pairs")
        .expect("zip");
    zip.start_file("por.txt", options).expect("zip");
    zip.write_all(POR_TXT.as_bytes()).expect("zip");
    zip.finish().expect("zip").into_inner()
}

/// Serves `responses` (status, body) to as many requests, in order, on a loopback port;
/// returns the base address.
fn serve(responses: Vec<(u16, Vec<u8>)>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("loopback port");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    thread::spawn(move || {
        for (status, body) in responses {
            let Ok((mut stream, _)) = listener.accept() else {
                return;
            };
            let mut request = Vec::new();
            let mut byte = [0u8; 1];
            while !request.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                request.push(byte[0]);
            }
            let head = format!(
                "HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            let _ = stream.write_all(head.as_bytes());
            let _ = stream.write_all(&body);
        }
    });
    address
}

/// A loopback address where nothing listens.
fn closed_port() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("loopback port");
    let address = format!(
        "http://{}/por-eng.zip",
        listener.local_addr().expect("address")
    );
    drop(listener);
    address
}

#[test]
fn a_zip_archive_is_unpacked_into_a_readable_corpus() {
    let url = format!("{}/por-eng.zip", serve(vec![(200, manythings_zip())]));
    let dir = tempfile::tempdir().expect("temporary directory");
    let destination = dir.path().join("data/eng-por.tsv");
    let bytes = fetch(&url, &destination).expect("downloads");
    assert_eq!(bytes, POR_TXT.len() as u64);
    assert_eq!(
        std::fs::read_to_string(&destination).expect("written"),
        POR_TXT
    );
    let options = ReadOptions {
        direction: Direction::EnPt,
        max_chars: 1000,
        plain_text: false,
    };
    let (pairs, _) = read_corpus(&[destination], options).expect("readable");
    assert_eq!(pairs.len(), 2);
    let names: Vec<_> = std::fs::read_dir(dir.path().join("data"))
        .expect("listable")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["eng-por.tsv"], "no temporary file is left behind");
}

#[test]
fn a_plain_tsv_is_written_as_is() {
    let body = b"Thank you.\tObrigado.\n".to_vec();
    let url = format!("{}/pairs.tsv", serve(vec![(200, body.clone())]));
    let dir = tempfile::tempdir().expect("temporary directory");
    let destination = dir.path().join("pairs.tsv");
    fetch(&url, &destination).expect("downloads");
    assert_eq!(std::fs::read(&destination).expect("written"), body);
}

#[test]
fn a_failed_download_leaves_the_old_file_untouched() {
    let url = format!("{}/missing.zip", serve(vec![(404, b"not found".to_vec())]));
    let dir = tempfile::tempdir().expect("temporary directory");
    let destination = dir.path().join("eng-por.tsv");
    std::fs::write(&destination, "old\tvelho\n").expect("writable");
    let error = fetch(&url, &destination).expect_err("404");
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot download {url}")),
        "{error}"
    );
    assert!(error.to_string().contains("404"), "{error}");
    assert_eq!(
        std::fs::read_to_string(&destination).expect("kept"),
        "old\tvelho\n"
    );
}

#[test]
fn a_missing_default_corpus_is_fetched_from_the_configured_address() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let first = dir.path().join("data/eng-por.tsv");
    let config = DataConfig {
        files: vec![dir.path().join("absent.tsv")],
        url: format!("{}/por-eng.zip", serve(vec![(200, manythings_zip())])),
        download_to: first.clone(),
        ..DataConfig::default()
    };
    let mut notices = Vec::new();
    let mut notify = |message: &str| notices.push(message.to_string());
    assert_eq!(
        corpus_files(&config, &[], &mut notify).expect("fetched"),
        vec![first.clone()]
    );
    assert_eq!(std::fs::read_to_string(&first).expect("written"), POR_TXT);
    // Files given on the command line win, and an existing file is not fetched again.
    let given = vec![dir.path().join("mine.tsv")];
    assert_eq!(
        corpus_files(&config, &given, &mut notify).expect("given"),
        given
    );
    let offline = DataConfig {
        url: closed_port(),
        ..config
    };
    assert_eq!(
        corpus_files(&offline, &[], &mut notify).expect("present"),
        vec![first.clone()]
    );
    // The notices say what was done, in order: the download announced before it happens.
    assert_eq!(notices.len(), 3, "{notices:?}");
    assert!(notices[0].contains("not found: downloading"), "{notices:?}");
    assert!(
        notices[1].starts_with(&format!("wrote {}", first.display())),
        "{notices:?}"
    );
    assert!(notices[2].contains("not found: reading"), "{notices:?}");
}

#[test]
fn offline_without_data_says_how_to_provide_it() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = serde_json::json!({ "data": { "url": closed_port() } });
    std::fs::write(dir.path().join("offline.json"), config.to_string()).expect("writable");
    let output = run_in(dir.path(), &["data", "prepare", "--config", "offline.json"]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    let last = message.lines().last().expect("a message");
    assert!(
        last.starts_with("error: no corpus: data/eng-por.tsv does not exist"),
        "{message}"
    );
    assert!(last.contains("--data FILE..."), "{message}");
    assert!(last.contains("transformer-mt data fetch"), "{message}");
    assert!(!dir.path().join("data/eng-por.tsv").exists());
    assert!(stdout(&output).is_empty());
}

#[test]
fn data_fetch_command_downloads_to_the_output() {
    let url = format!("{}/por-eng.zip", serve(vec![(200, manythings_zip())]));
    let dir = tempfile::tempdir().expect("temporary directory");
    let output = run_in(
        dir.path(),
        &["data", "fetch", "--url", &url, "--output", "pairs.tsv"],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        std::fs::read_to_string(dir.path().join("pairs.tsv")).expect("written"),
        POR_TXT
    );
}
