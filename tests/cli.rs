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

/// `bench --json` on one backend: one JSON object with the training step, greedy decoding at
/// batch 1 and 32 and the peak memory, every figure consistent with the step time it comes
/// from. The FLOP count of a training step is worked out by hand (B = 64, S = T = 24,
/// d = 256, d_ff = 1024, V = 8000, 3 + 3 layers; 2 FLOPs a multiply-add):
/// encoder layer 4·2BSd² + 2·2BS²d + 2·2BSd·d_ff = 805,306,368 + 37,748,736 + 1,610,612,736;
/// decoder layer adds the encoder–decoder attention 2·2BTd² + 2·2BSd² + 2·2BTSd =
/// 402,653,184 + 402,653,184 + 37,748,736; generator 2BTdV = 6,291,456,000; forward
/// 3·2,453,667,840 + 3·3,296,722,944 + 6,291,456,000 = 23,542,628,352; a step is 3 × that.
#[test]
fn bench_prints_consistent_figures_as_json() {
    let cpu = if cfg!(feature = "flex") {
        "flex"
    } else {
        "ndarray"
    };
    let output = run(
        &[
            "bench",
            "--backend",
            cpu,
            "--json",
            "--warmup",
            "0",
            "--train-runs",
            "1",
            "--decode-runs",
            "1",
        ],
        &[],
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let report: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("one JSON object");
    assert_eq!(report["shape"]["train_flops_per_step"], 70_627_885_056.0);
    let figures = &report["backends"][cpu];
    let number = |value: &serde_json::Value| value.as_f64().expect("a number");
    let step = number(&figures["train"]["step_seconds"]);
    assert!(step > 0.0);
    let tokens = number(&figures["train"]["tokens_per_second"]);
    assert!(
        (tokens * step - 1536.0).abs() < 1e-6,
        "{tokens} tok/s × {step} s"
    );
    let gflops = number(&figures["train"]["gflops"]);
    assert!((gflops * step - 70.627_885_056).abs() < 1e-6);
    for batch in ["batch_1", "batch_32"] {
        for rate in [
            "cached_tokens_per_second",
            "uncached_tokens_per_second",
            "cached_bf16_tokens_per_second",
        ] {
            assert!(
                number(&figures["greedy"][batch][rate]) > 0.0,
                "{batch} {rate}"
            );
        }
    }
    let memory = number(&figures["peak_rss_mib"]);
    assert!(memory > 50.0 && memory < 24_000.0, "{memory} MiB");
}

/// Where wgpu finds only a software renderer (Mesa's lavapipe on a machine without a GPU),
/// `auto` takes the next backend and says so in one line, and a headless machine's Vulkan
/// layer stays quiet; `--backend wgpu` still runs there, with a warning.
#[cfg(feature = "wgpu")]
#[test]
fn auto_passes_over_a_software_gpu_adapter_in_one_line() {
    use transformer_mt::backend::{Backend, Probe};
    let Probe::Software(adapter) = Backend::Wgpu.probe() else {
        // A real GPU (or none at all): nothing to pass over for a software one.
        return;
    };
    let output = Command::new(env!("CARGO_BIN_EXE_transformer-mt"))
        .args(["infer", "The book is on the table."])
        .env_remove("TRANSFORMER_MT_BACKEND")
        .env_remove("XDG_RUNTIME_DIR")
        .output()
        .expect("the binary runs");
    let message = stderr(&output);
    assert!(output.status.success(), "{message}");
    let chosen = Backend::runnable()
        .into_iter()
        .find(|b| *b != Backend::Wgpu)
        .expect("a CPU backend in this build");
    let auto: Vec<&str> = message
        .lines()
        .filter(|l| l.starts_with("backend auto:"))
        .collect();
    assert_eq!(auto.len(), 1, "{message}");
    assert!(
        auto[0].starts_with(&format!(
            "backend auto: {chosen} (wgpu passed over: its only adapter is {adapter}"
        )),
        "{message}"
    );
    assert!(!message.contains("XDG_RUNTIME_DIR"), "{message}");
    assert!(!String::from_utf8_lossy(&output.stdout).trim().is_empty());
}

/// `backends` lists every backend of this build with what it runs on here, wgpu's adapters
/// one a line (a software one typed `Cpu`), and the backend `auto` takes: the one `infer`
/// says it took.
#[test]
fn backends_lists_what_each_runs_on_and_what_auto_takes() {
    use transformer_mt::backend::{Backend, Probe};
    let output = run(&["backends"], &[]);
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(output.status.success(), "{}", stderr(&output));
    for backend in Backend::compiled() {
        assert!(
            text.lines().any(|l| l.starts_with(&format!("{backend} ("))),
            "{backend} missing from:\n{text}"
        );
    }
    let expected = Backend::select("auto", &mut |_| {}).expect("a backend runs here");
    assert!(text.ends_with(&format!("auto: {expected}\n")), "{text}");
    if let Probe::Software(adapter) = Backend::Wgpu.probe() {
        assert!(
            text.contains(&format!(
                "wgpu (GPU, any graphics API): runs on a software adapter only ({adapter})"
            )),
            "{text}"
        );
        let adapters: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("  adapter: "))
            .collect();
        assert!(!adapters.is_empty(), "{text}");
        assert!(adapters.iter().all(|a| a.contains("(Cpu, ")), "{text}");
    }
}

/// `--precision bf16` translates, and asked of decoding without the cache (which it does not
/// apply to) it is one clear error naming the options, with a non-zero exit.
#[test]
fn bfloat16_decoding_translates_and_refuses_recomputed_decoding() {
    let backend = [("TRANSFORMER_MT_BACKEND", "flex")];
    let output = run(
        &[
            "infer",
            "--precision",
            "bf16",
            "--beam",
            "1",
            "The book is on the table.",
        ],
        &backend,
    );
    assert!(output.status.success(), "{}", stderr(&output));
    assert_eq!(
        String::from_utf8_lossy(&output.stdout).trim(),
        "O livro está na mesa."
    );
    let output = run(
        &[
            "infer",
            "--precision",
            "bf16",
            "--no-cache",
            "The book is on the table.",
        ],
        &backend,
    );
    assert_eq!(output.status.code(), Some(1));
    assert!(output.stdout.is_empty());
    let message = stderr(&output);
    assert!(
        message.contains("--precision bf16") && message.contains("--no-cache"),
        "{message}"
    );
    assert_eq!(message.trim().lines().count(), 1, "{message}");
}
