//! Inputs and outputs in the places a user puts them: a run one may only read, paths with
//! spaces and accents, runs reached through symbolic links, a corpus on the standard input
//! or in a named pipe, a file that is a gigabyte long, a sentence that is a megabyte long.

use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use super::common::{
    Setup, command, copy_model, path, run_in, setup, small_run, stderr, stdout, train, train_args,
};

/// `command` run with the standard input `input`.
fn with_stdin(mut command: Command, input: &[u8]) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    let mut stdin = child.stdin.take().expect("piped");
    let input = input.to_vec();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let output = child.wait_with_output().expect("finished");
    writer.join().expect("the writer ends").expect("written");
    output
}

/// Whether this process may write where permission bits say no (root, or CAP_DAC_OVERRIDE).
fn ignores_permissions(dir: &Path) -> bool {
    let probe = dir.join("probe");
    std::fs::write(&probe, "").expect("written");
    set_mode(&probe, 0o444);
    let writable = std::fs::OpenOptions::new().write(true).open(&probe).is_ok();
    std::fs::remove_file(&probe).expect("removed");
    writable
}

fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

/// Makes `dir` and the files in it read-only, and writable again when dropped.
struct ReadOnly<'a>(&'a Path);

impl<'a> ReadOnly<'a> {
    fn new(dir: &'a Path) -> Self {
        for entry in std::fs::read_dir(dir).expect("readable").flatten() {
            set_mode(&entry.path(), 0o444);
        }
        set_mode(dir, 0o555);
        Self(dir)
    }
}

impl Drop for ReadOnly<'_> {
    fn drop(&mut self) {
        set_mode(self.0, 0o755);
        for entry in std::fs::read_dir(self.0).expect("readable").flatten() {
            set_mode(&entry.path(), 0o644);
        }
    }
}

#[test]
fn a_run_one_may_only_read_translates_and_writes_where_it_is_told() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let run = dir.path().join("shared run");
    copy_model(small_run(), &run);
    // Root writes through permission bits; dropping the capability that lets it (as
    // `setpriv` does for the child alone) makes the run read-only for root too.
    let as_user = ignores_permissions(dir.path());
    let run_binary = |args: &[&str]| -> Output {
        let mut child = if as_user {
            let mut setpriv = Command::new("setpriv");
            setpriv
                .args(["--bounding-set=-dac_override,-dac_read_search", "--"])
                .arg(env!("CARGO_BIN_EXE_transformer-mt"))
                .args(args)
                .current_dir(dir.path())
                .env(
                    "TRANSFORMER_MT_BACKEND",
                    crate::shared::cpu_backend().name(),
                );
            setpriv
        } else {
            command(dir.path(), args)
        };
        child.output().expect("the binary runs")
    };
    let _read_only = ReadOnly::new(&run);

    let output = run_binary(&["infer", "--run", path(&run), "--beam", "1", "seven"]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(stdout(&output).lines().count(), 1);

    // What eval and attention write goes into the run unless told otherwise: refused, with
    // the directory named.
    for (args, refused) in [
        (vec!["eval", "--run", path(&run), "--beam", "1"], "eval"),
        (vec!["attention", "--run", path(&run), "seven"], "attention"),
    ] {
        let output = run_binary(&args);
        assert!(
            !output.status.success(),
            "{args:?} wrote into a read-only run"
        );
        let message = stderr(&output);
        let expected = format!(
            "{}: cannot create the directory",
            run.join(refused).display()
        );
        assert!(message.contains(&expected), "{message}");
        assert_eq!(message.lines().count(), 1, "{message}");
    }

    let scores = dir.path().join("my scores");
    let output = run_binary(&[
        "eval",
        "--run",
        path(&run),
        "--beam",
        "1",
        "--output",
        path(&scores),
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    let tested = std::fs::read_to_string(run.join("test.tsv")).expect("test pairs");
    for suffix in ["src", "ref", "hyp"] {
        let written = std::fs::read_to_string(scores.join(format!("test.{suffix}")))
            .expect("eval --output wrote the test set");
        assert_eq!(written.lines().count(), tested.lines().count(), "{suffix}");
    }

    let pictures = dir.path().join("my pictures");
    let output = run_binary(&[
        "attention",
        "--run",
        path(&run),
        "--output",
        path(&pictures),
        "seven",
    ]);
    assert!(output.status.success(), "{}", stderr(&output));
    assert!(pictures.join("attention.json").is_file());
    assert!(!run.join("eval").exists() && !run.join("attention").exists());
}

#[test]
fn paths_with_spaces_and_accents_and_runs_behind_symbolic_links() {
    let Setup { dir, data, config } = setup(300, 512);
    let home = dir
        .path()
        .join("traduções de teste")
        .join("ümlaut & spaces");
    std::fs::create_dir_all(&home).expect("created");
    let pairs = home.join("pares de números.tsv");
    std::fs::rename(&data, &pairs).expect("moved");
    let run = home.join("execução nº 1");
    train(dir.path(), &config, &pairs, &run, &["--epochs", "1"]);

    // The run reached through a link: resumed, translated, evaluated, drawn.
    let link = dir.path().join("ligação");
    std::os::unix::fs::symlink(&run, &link).expect("linked");
    train(
        dir.path(),
        &config,
        &pairs,
        &link,
        &["--epochs", "2", "--resume"],
    );
    assert!(run.join("checkpoint").join("model-2.bpk").is_file());
    for args in [
        vec!["infer", "--run", path(&link), "--beam", "1", "seven"],
        vec!["eval", "--run", path(&link), "--beam", "1"],
        vec!["attention", "--run", path(&link), "seven"],
    ] {
        let output = run_in(dir.path(), &args);
        assert!(output.status.success(), "{args:?}: {}", stderr(&output));
    }
    assert!(run.join("eval").join("test.hyp").is_file());
    assert!(run.join("attention").join("attention.json").is_file());

    // A file given where a run directory belongs is one error naming it, from every command.
    let file = home.join("not a run.txt");
    std::fs::write(&file, "text\n").expect("written");
    let expected = format!("error: {}: not a directory", file.display());
    for args in [
        vec!["infer", "--run", path(&file), "seven"],
        vec!["eval", "--run", path(&file)],
        vec!["attention", "--run", path(&file), "seven"],
        vec!["average", "--run", path(&file), "--output", "averaged"],
        train_args(
            &config,
            &pairs,
            &home.join("tuned"),
            &["--init-from", path(&file)],
        ),
        train_args(&config, &pairs, &file, &["--epochs", "1"]),
    ] {
        let output = run_in(dir.path(), &args);
        assert!(
            !output.status.success(),
            "{args:?} accepted a file as a run"
        );
        let message = stderr(&output);
        assert!(message.starts_with(&expected), "{args:?}: {message}");
        assert_eq!(message.lines().count(), 1, "{args:?}: {message}");
    }
    assert_eq!(std::fs::read_to_string(&file).expect("kept"), "text\n");
}

#[test]
fn a_corpus_on_the_standard_input_or_in_a_named_pipe() {
    let Setup { dir, data, config } = setup(300, 512);
    let pairs = std::fs::read(&data).expect("pairs");
    let stdin = Path::new("-");

    let piped = dir.path().join("from stdin");
    let output = with_stdin(
        command(
            dir.path(),
            &train_args(&config, stdin, &piped, &["--epochs", "1"]),
        ),
        &pairs,
    );
    assert!(output.status.success(), "{}", stderr(&output));

    let fifo = dir.path().join("pairs.fifo");
    let status = Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .expect("mkfifo runs");
    assert!(status.success());
    let writer = {
        let (fifo, pairs) = (fifo.clone(), pairs.clone());
        std::thread::spawn(move || std::fs::write(fifo, pairs))
    };
    let from_fifo = dir.path().join("from fifo");
    train(dir.path(), &config, &fifo, &from_fifo, &["--epochs", "1"]);
    writer.join().expect("the writer ends").expect("written");

    // The same pairs, whichever way they came: the same vocabulary and the same held-out split.
    let from_file = dir.path().join("from file");
    train(dir.path(), &config, &data, &from_file, &["--epochs", "1"]);
    for run in [&piped, &from_fifo] {
        for name in ["tokenizer.json", "test.tsv"] {
            assert_eq!(
                std::fs::read(run.join(name)).expect("written"),
                std::fs::read(from_file.join(name)).expect("written"),
                "{name} of {}",
                run.display()
            );
        }
    }

    // eval reads its test pairs from the standard input too, and names what it writes
    // `stdin.*`.
    let test = std::fs::read(from_file.join("test.tsv")).expect("test pairs");
    let output = with_stdin(
        command(
            dir.path(),
            &[
                "eval",
                "--run",
                path(&from_file),
                "--test",
                "-",
                "--beam",
                "1",
            ],
        ),
        &test,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let hyp = std::fs::read_to_string(from_file.join("eval").join("stdin.hyp")).expect("written");
    assert_eq!(hyp.lines().count(), test.split(|&b| b == b'\n').count() - 1);
}

/// Peak resident memory of a running process, from /proc.
#[cfg(target_os = "linux")]
fn peak_resident_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("/proc");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .expect("VmHWM");
    let kib: u64 = line
        .trim_start_matches("VmHWM:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .expect("a number of kB");
    kib * 1024
}

#[cfg(target_os = "linux")]
#[test]
fn a_gigabyte_file_is_translated_as_it_is_read() {
    const GIB: u64 = 1 << 30;
    let dir = tempfile::tempdir().expect("temporary directory");
    let input = dir.path().join("big.txt");
    let line = b"two thousand and six\n";
    let mut file = std::io::BufWriter::new(std::fs::File::create(&input).expect("created"));
    let block = line.repeat(1 << 16);
    let mut written = 0;
    while written < GIB {
        file.write_all(&block).expect("written");
        written += block.len() as u64;
    }
    file.flush().expect("flushed");
    drop(file);

    let mut child = command(
        dir.path(),
        &[
            "infer",
            "--run",
            path(small_run()),
            "--beam",
            "1",
            "--input",
            path(&input),
        ],
    )
    .stdout(Stdio::piped())
    .stderr(Stdio::null())
    .spawn()
    .expect("the binary starts");
    // Three blocks of translations arrive while the file is still being read: it is never
    // held whole in memory.
    let mut lines = BufReader::new(child.stdout.take().expect("piped")).lines();
    let first = lines.next().expect("a translation").expect("UTF-8");
    for _ in 1..3 * 4096 {
        assert_eq!(lines.next().expect("a translation").expect("UTF-8"), first);
    }
    let peak = peak_resident_bytes(child.id());
    child.kill().expect("killed");
    child.wait().expect("ended");
    assert!(peak < 256 << 20, "{} MiB resident", peak >> 20);
}

#[test]
fn a_megabyte_sentence_is_cut_with_one_warning() {
    let huge = "seven hundred ".repeat(75_000);
    let mut input = huge.into_bytes();
    input.extend_from_slice(b"\nnine\n");
    let output = with_stdin(
        command(
            small_run(),
            &["infer", "--run", path(small_run()), "--beam", "1"],
        ),
        &input,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("line 1 is longer than"), "{message}");
    assert_eq!(stdout(&output).lines().count(), 2);
}
