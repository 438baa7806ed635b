//! The scripts that ready a lent GPU machine: `scripts/gpu-bundle.sh` packs what it needs,
//! `scripts/gpu-check.sh` proves the GPU there. Their arguments and the bundle are checked
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

/// Every wrong argument is one line naming it and exit status 2; `--help` prints the usage.
#[test]
fn the_gpu_scripts_name_a_wrong_argument() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let out = dir.path().join("report");
    let out = out.to_str().expect("UTF-8");
    let cases: [(&str, Vec<&str>, &str); 6] = [
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
    for name in ["gpu-check.sh", "gpu-bundle.sh"] {
        let output = run(name, &["--help"], &[]);
        assert!(output.status.success());
        assert!(
            text(&output.stdout).contains(&format!("Usage: scripts/{name}")),
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
    let target = dir.path().join("target");
    std::fs::create_dir_all(target.join("release")).expect("writable");
    std::fs::copy(
        env!("CARGO_BIN_EXE_transformer-mt"),
        target.join("release/transformer-mt"),
    )
    .expect("the binary copies");
    let shared = std::env::var_os("TRANSFORMER_MT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/data"));
    let bundle = dir.path().join("bundle");
    let env = [
        ("GPU_BUNDLE_TARGET_DIR", target.as_path()),
        ("GPU_BUNDLE_XZ_LEVEL", Path::new("0")),
        ("SHARED_DATA", shared.as_path()),
    ];
    let output = run(
        "gpu-bundle.sh",
        &["--skip-build", "--output", bundle.to_str().expect("UTF-8")],
        &env,
    );
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

    let refused = run(
        "gpu-bundle.sh",
        &[
            "--skip-build",
            "--limit",
            "1",
            "--output",
            bundle.to_str().expect("UTF-8"),
        ],
        &env,
    );
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
