#!/usr/bin/env bash
# The whole test suite on every backend, from a fresh Debian or Ubuntu machine.
#
# Installs what the backends need (Mesa's Vulkan driver, which runs wgpu on the CPU when the
# machine has no GPU; libtorch from PyTorch's pip wheel for tch) and what the test of the web
# page drives (headless Chromium and its WebDriver) and CTranslate2, which the export test
# translates with (scripts/setup-ctranslate2.sh, a venv), then checks formatting, and
# builds every target of the crate once, in release mode with all backend features, with
# Clippy's lints as part of that build; then runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."

# Where the time went, printed at the end whether the run passed or failed.
timings=()
phase_start=$SECONDS
phase_done() {
    timings+=("$(printf '%-9s %5d s' "$1" $((SECONDS - phase_start)))")
    phase_start=$SECONDS
}
report() {
    echo "scripts/test.sh, time by phase:"
    printf '  %s\n' "${timings[@]}"
    echo "  total     $(printf '%5d' "$SECONDS") s"
}
trap report EXIT

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for package in mesa-vulkan-drivers libvulkan1 chromium chromium-driver; do
    installed "$package" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
bash scripts/setup-libtorch.sh
# CTranslate2, the independent reference the export test translates with (benches/ctranslate2.py).
bash scripts/setup-ctranslate2.sh > /dev/null
phase_done installs
# Vulkan's loader wants a runtime directory; a private one keeps it quiet on a headless machine.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
    XDG_RUNTIME_DIR=$(mktemp -d)
    export XDG_RUNTIME_DIR
fi

cargo fmt --check
# `cargo clippy` is `cargo check` with clippy-driver wrapping rustc for this crate only; the
# same wrapper on the test build lints every target while compiling it, so the Burn stack is
# built once instead of once checked for Clippy and once compiled for the tests.
RUSTC_WORKSPACE_WRAPPER=$(command -v clippy-driver)
CLIPPY_ARGS=-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__
export RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS
cargo test --release --all-features --all-targets --no-run
phase_done build
cargo test --release --all-features
phase_done tests
