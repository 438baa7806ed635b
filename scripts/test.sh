#!/usr/bin/env bash
# The whole test suite on every backend, from a fresh Debian or Ubuntu machine.
#
# Installs what the backends need (Mesa's Vulkan driver, which runs wgpu on the CPU when the
# machine has no GPU; libtorch from PyTorch's pip wheel for tch), then checks formatting and
# lints and runs every test in one release build with all backend features.
set -euo pipefail
cd "$(dirname "$0")/.."

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for package in mesa-vulkan-drivers libvulkan1; do
    installed "$package" || missing+=("$package")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
bash scripts/setup-libtorch.sh
# Vulkan's loader wants a runtime directory; a private one keeps it quiet on a headless machine.
if [ -z "${XDG_RUNTIME_DIR:-}" ] || [ ! -d "$XDG_RUNTIME_DIR" ]; then
    XDG_RUNTIME_DIR=$(mktemp -d)
    export XDG_RUNTIME_DIR
fi

cargo fmt --check
cargo clippy --release --all-features --all-targets -- -D warnings
cargo test --release --all-features
