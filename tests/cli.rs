//! The command line as a user meets it: help, backend choice, errors.

use std::process::{Command, Output};

fn run(args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_transformer-mt"));
    command.args(args).env_remove("TRANSFORMER_MT_BACKEND");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("the binary runs")
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn help_lists_the_subcommands_and_this_builds_backends() {
    let output = run(&["--help"], &[]);
    assert!(output.status.success());
    let help = String::from_utf8_lossy(&output.stdout);
    for subcommand in ["train", "infer", "eval", "attention"] {
        assert!(
            help.lines().any(|l| l.trim_start().starts_with(subcommand)),
            "`{subcommand}` missing from:\n{help}"
        );
    }
    assert!(help.contains("--backend"));
    assert!(help.contains("TRANSFORMER_MT_BACKEND"));
    #[cfg(feature = "flex")]
    assert!(help.contains("flex"), "{help}");
}

#[test]
fn unknown_backend_is_one_line_and_non_zero() {
    let output = run(&["--backend", "nosuch", "infer"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("error: unknown backend `nosuch`"),
        "{message}"
    );
    assert!(!message.contains("panicked"));
    #[cfg(feature = "ndarray")]
    assert!(message.contains("ndarray"), "{message}");
}

#[test]
fn backend_flag_works_after_the_subcommand_and_from_the_environment() {
    let after = run(&["infer", "--backend", "nosuch"], &[]);
    assert!(stderr(&after).starts_with("error: unknown backend `nosuch`"));
    let from_env = run(&["infer"], &[("TRANSFORMER_MT_BACKEND", "nosuch")]);
    assert!(stderr(&from_env).starts_with("error: unknown backend `nosuch`"));
}

#[cfg(not(feature = "wgpu"))]
#[test]
fn a_backend_not_compiled_in_says_how_to_get_it() {
    let output = run(&["--backend", "wgpu", "train"], &[]);
    assert_eq!(output.status.code(), Some(1));
    let message = stderr(&output);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("not compiled into this build"),
        "{message}"
    );
    assert!(message.contains("--features wgpu"), "{message}");
}

#[test]
fn eval_and_attention_without_a_trained_run_say_what_to_do() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let untrained = dir.path().join("untrained");
    let untrained = untrained.to_str().expect("UTF-8");
    for (args, wanted) in [
        (
            vec!["eval", "--run", untrained],
            "no test.tsv: train the run first",
        ),
        (
            vec!["attention", "--run", untrained, "a sentence"],
            "no model.bpk",
        ),
        (vec!["attention", "--run", untrained], "give a sentence"),
    ] {
        let output = run(&args, &[("TRANSFORMER_MT_BACKEND", "ndarray")]);
        assert_eq!(output.status.code(), Some(1), "{args:?}");
        assert!(output.stdout.is_empty(), "{args:?} printed output");
        let message = stderr(&output);
        assert!(message.contains(wanted), "{args:?}: {message}");
        assert_eq!(message.trim().lines().count(), 1, "{message}");
    }
}

/// Output piped into a reader that has gone away (`| head`) ends the program as it ends other
/// Unix tools: quietly, with no panic.
#[test]
fn a_closed_output_pipe_ends_the_program_quietly() {
    let (reader, writer) = std::io::pipe().expect("a pipe");
    drop(reader);
    let lines = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/eval/fixtures/identical.hyp"
    );
    let output = Command::new(env!("CARGO_BIN_EXE_transformer-mt"))
        .args(["eval", "--hyp", lines, "--ref", lines])
        .stdout(writer)
        .output()
        .expect("the binary runs");
    assert!(!output.status.success());
    assert_eq!(stderr(&output), "");
}
