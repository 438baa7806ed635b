//! `benches/ctranslate2.py`'s export: CTranslate2, a Transformer implemented independently of
//! this crate, fed the shipped model's weights, translates exactly as every backend here does.

use std::path::{Path, PathBuf};
use std::process::Command;

#[test]
fn ctranslate2_fed_the_shipped_weights_translates_as_every_backend() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let python = root.join(".venv-ct2/bin/python");
    assert!(
        python.exists(),
        "{} missing: `bash scripts/setup-ctranslate2.sh` makes it (scripts/test.sh runs it)",
        python.display()
    );
    let shared = std::env::var_os("TRANSFORMER_MT_SHARED_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("../shared/data"));
    let output = Command::new(&python)
        .arg(root.join("benches/ctranslate2.py"))
        .args(["--check", "--limit", "40", "--backends", "flex,ndarray,tch"])
        .arg("--binary")
        .arg(env!("CARGO_BIN_EXE_transformer-mt"))
        .arg("--shared")
        .arg(&shared)
        .output()
        .expect("the venv's python runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stdout}\n{stderr}");
    for backend in ["flex", "ndarray", "tch"] {
        assert!(
            stdout.contains(&format!(
                "{backend}: 80 greedy translations compared with CTranslate2 float32's"
            )),
            "{stdout}"
        );
    }
    assert!(stdout.contains("the same translations on every engine"));
}
