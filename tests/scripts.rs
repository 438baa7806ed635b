//! The scripts that ready a lent GPU machine: `scripts/gpu-bundle.sh` packs what it needs,
//! `scripts/gpu-check.sh` proves the GPU there, `scripts/gpu-train.sh` trains there and hands
//! the model back. Their arguments, the bundle and a training rehearsed on flex are checked
//! here; the GPU only there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn script(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
}

fn run(name: &str, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new("bash");
    command.arg(script(name)).args(args);
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("bash runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Runs gpu-bundle.sh into `dir/bundle` with `args`: this test build's binary, not built
/// again and not compressed, and the shared corpora.
fn pack(dir: &Path, args: &[&str]) -> Output {
    let target = dir.join("target");
    std::fs::create_dir_all(target.join("release")).expect("writable");
    std::fs::copy(
        env!("CARGO_BIN_EXE_transformer-mt"),
        target.join("release/transformer-mt"),
    )
    .expect("the binary copies");
    let shared = std::env::var_os("TRANSFORMER_MT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let bundle = dir.join("bundle");
    let env = [
        ("GPU_BUNDLE_TARGET_DIR", target.as_path()),
        ("GPU_BUNDLE_XZ_LEVEL", Path::new("0")),
        ("SHARED_DATA", shared.as_path()),
    ];
    let mut all = vec!["--skip-build", "--output", bundle.to_str().expect("UTF-8")];
    all.extend_from_slice(args);
    run("gpu-bundle.sh", &all, &env)
}

/// Every wrong argument is one line naming it and exit status 2; `--help` prints the usage.
#[test]
fn the_gpu_scripts_name_a_wrong_argument() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().join("report");
    let out = out.to_str().expect("UTF-8");
    let cases: [(&str, Vec<&str>, &str); 11] = [
        ("gpu-check.sh", vec![], "--out DIR is required"),
        (
            "gpu-check.sh",
            vec!["--out", out, "--budget", "soon"],
            "--budget must be a whole number of seconds, got soon",
        ),
        (
            "gpu-check.sh",
            vec!["--out", out, "--bundle", "/nonexistent"],
            "/nonexistent/MANIFEST not found",
        ),
        (
            "gpu-check.sh",
            vec!["--frobnicate"],
            "unknown argument --frobnicate",
        ),
        (
            "gpu-bundle.sh",
            vec!["--limit", "lots"],
            "--limit must be a whole number of MiB, got lots",
        ),
        ("gpu-bundle.sh", vec!["--bogus"], "unknown argument --bogus"),
        (
            "gpu-train.sh",
            vec![],
            "--out DIR or --collect DIR is required",
        ),
        (
            "gpu-train.sh",
            vec!["--out", out, "--minutes", "0"],
            "--minutes must be a whole number of minutes above 0, got 0",
        ),
        (
            "gpu-train.sh",
            vec!["--out", out, "--config", "/nonexistent.json"],
            "--config: /nonexistent.json not found",
        ),
        (
            "gpu-train.sh",
            vec!["--collect", out],
            "--collect needs --output RUN",
        ),
        (
            "gpu-train.sh",
            vec!["--collect", "/nonexistent", "--output", out],
            "/nonexistent/MANIFEST not found",
        ),
    ];
    for (name, args, message) in cases {
        let output = run(name, &args, &[]);
        assert_eq!(output.status.code(), Some(2), "{name} {args:?}");
        assert!(
            text(&output.stderr).contains(message),
            "{name} {args:?}: {}",
            text(&output.stderr)
        );
    }
    for (name, usage) in [
        ("gpu-check.sh", "Usage: scripts/gpu-check.sh --out DIR"),
        ("gpu-bundle.sh", "Usage: scripts/gpu-bundle.sh"),
        (
            "gpu-train.sh",
            "here:  scripts/gpu-train.sh --collect DIR --output RUN",
        ),
    ] {
        let output = run(name, &["--help"], &[]);
        assert!(output.status.success());
        assert!(
            text(&output.stdout).contains(usage),
            "{}",
            text(&output.stdout)
        );
    }
}

/// The bundle holds the compressed binary (it runs once unpacked), the corpora, the Tatoeba
/// test part and the Vulkan loader, each file's size and SHA-256 as `sha256sum` computes
/// them; over its limit it is refused and the bundle made before stays whole.
#[test]
fn the_bundle_packs_what_the_gpu_machine_lacks_within_its_limit() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let bundle = dir.path().join("bundle");
    let output = pack(dir.path(), &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    assert!(
        text(&output.stdout).contains(" MiB ("),
        "{}",
        text(&output.stdout)
    );

    let manifest = std::fs::read_to_string(bundle.join("MANIFEST")).expect("a manifest");
    let mut listed: Vec<&str> = Vec::new();
    for line in manifest.lines().skip(2) {
        let [size, sum, file] = line.splitn(3, ' ').collect::<Vec<_>>()[..] else {
            panic!("not `size sum file`: {line}");
        };
        let path = bundle.join(file);
        let bytes = std::fs::metadata(&path).expect("a listed file").len();
        assert_eq!(size, bytes.to_string(), "{file}");
        let check = Command::new("sha256sum")
            .arg(&path)
            .output()
            .expect("sha256sum runs");
        assert!(text(&check.stdout).starts_with(sum), "{file}");
        listed.push(file);
    }
    for file in [
        "transformer-mt.xz",
        "lib/libvulkan.so.1",
        "data/tatoeba-test.tsv",
        "data/tatoeba.eng-por.tsv.xz",
        "data/kde.eng-por.tsv.xz",
        "data/ntrex128.eng-por.dev.tsv.xz",
    ] {
        assert!(listed.contains(&file), "{file} missing from {manifest}");
    }
    let test = std::fs::read_to_string(bundle.join("data/tatoeba-test.tsv")).expect("test pairs");
    assert!(test.lines().count() > 100 && test.lines().all(|l| l.contains('\t')));

    let unpacked = dir.path().join("transformer-mt");
    let xz = Command::new("xz")
        .arg("-dc")
        .arg(bundle.join("transformer-mt.xz"))
        .output()
        .expect("xz runs");
    std::fs::write(&unpacked, xz.stdout).expect("writable");
    let status = Command::new("chmod")
        .arg("+x")
        .arg(&unpacked)
        .status()
        .expect("chmod runs");
    assert!(status.success());
    let help = Command::new(&unpacked)
        .arg("--help")
        .output()
        .expect("the unpacked binary runs");
    assert!(help.status.success() && text(&help.stdout).contains("backends"));

    let refused = pack(dir.path(), &["--limit", "1"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("over the limit of 1 MiB"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(
        std::fs::read_to_string(bundle.join("MANIFEST")).expect("kept"),
        manifest
    );
    let leftovers = std::fs::read_dir(dir.path())
        .expect("readable")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().contains(".partial"))
        })
        .count();
    assert_eq!(leftovers, 0);
}

/// A configuration small enough to train two epochs in seconds on a CPU, on the Tatoeba
/// file as the bundle unpacks it.
const SMALL_CONFIG: &str = r#"{
  "data": {
    "files": ["../shared/data/tatoeba.eng-por.tsv"],
    "url": "",
    "split": { "valid_fraction": 0.02, "test_fraction": 0.02, "seed": 0 },
    "vocab_size": 1000,
    "shared_vocab": true,
    "max_len": 64,
    "max_tokens": 4096
  },
  "model": {
    "d_model": 64, "n_heads": 4, "d_ff": 128, "n_encoder_layers": 1, "n_decoder_layers": 1,
    "dropout": 0.1, "norm_first": true, "tie_embeddings": true
  },
  "training": { "epochs": 2, "warmup_steps": 100, "seed": 0 }
}"#;

/// gpu-train.sh rehearsed on flex from a bundle: a small configuration trains to its last
/// epoch, which comes back as files that fit what a lent machine returns (at most 8, 16 MiB
/// each); --collect joins them into a model directory that translates, and refuses a part
/// that does not match its checksum.
#[test]
fn gpu_train_hands_back_its_last_epoch_as_a_model_that_translates() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let packed = pack(dir.path(), &[]);
    assert!(packed.status.success(), "{}", text(&packed.stderr));
    let config = dir.path().join("small.json");
    std::fs::write(&config, SMALL_CONFIG).expect("writable");
    let out = dir.path().join("out");
    let path = |p: &Path| p.to_str().expect("UTF-8").to_string();
    let trained = run(
        "gpu-train.sh",
        &[
            "--out",
            &path(&out),
            "--bundle",
            &path(&dir.path().join("bundle")),
            "--backend",
            "flex",
            "--config",
            &path(&config),
            "--minutes",
            "20",
        ],
        &[],
    );
    assert!(trained.status.success(), "{}", text(&trained.stderr));
    assert!(
        text(&trained.stdout).contains("gpu-train.sh: epoch 2 in"),
        "{}",
        text(&trained.stdout)
    );
    let files: Vec<_> = std::fs::read_dir(&out)
        .expect("the output folder")
        .map(|e| e.expect("an entry"))
        .collect();
    assert!(files.len() <= 8, "{} files", files.len());
    for file in &files {
        let size = file.metadata().expect("metadata").len();
        assert!(size <= 16 << 20, "{:?}: {size} bytes", file.file_name());
    }
    for name in [
        "MANIFEST",
        "model.bpk.part-0",
        "tokenizer.json",
        "train.out",
    ] {
        assert!(out.join(name).exists(), "{name} missing");
    }

    let model = dir.path().join("model");
    let collected = run(
        "gpu-train.sh",
        &["--collect", &path(&out), "--output", &path(&model)],
        &[],
    );
    assert!(collected.status.success(), "{}", text(&collected.stderr));
    assert!(
        text(&collected.stdout).contains("`training.start_step`"),
        "{}",
        text(&collected.stdout)
    );
    let translated = Command::new(env!("CARGO_BIN_EXE_transformer-mt"))
        .args([
            "infer",
            "--backend",
            "flex",
            "--run",
            &path(&model),
            "I like cats.",
        ])
        .output()
        .expect("infer runs");
    assert!(translated.status.success(), "{}", text(&translated.stderr));
    assert!(!text(&translated.stdout).trim().is_empty());

    let part = out.join("model.bpk.part-0");
    let mut bytes = std::fs::read(&part).expect("the part");
    bytes[100] ^= 1;
    std::fs::write(&part, bytes).expect("writable");
    let other = dir.path().join("other");
    let refused = run(
        "gpu-train.sh",
        &["--collect", &path(&out), "--output", &path(&other)],
        &[],
    );
    assert_eq!(refused.status.code(), Some(1));
    assert!(
        text(&refused.stderr).contains("does not match its checksum"),
        "{}",
        text(&refused.stderr)
    );
    assert!(!other.exists());
}
