#!/usr/bin/env bash
# The training tests with flex's SIMD kernels held to AVX2 (x86-64-v3), as on a processor
# without AVX-512 (the AMD EPYC machines of this project), run on a machine that has it.
#
# flex picks its elementwise and reduction kernels at run time through `macerator`, which
# takes AVX-512 where the processor has it; the order of floating-point sums follows the
# vector width, so a training run's trajectory differs between the two kinds of processor.
# (Its matrix products, `gemm` without the `x86-v4` feature, and ndarray's
# `matrixmultiply` use AVX2 and FMA on both.) This script builds the tests against a copy
# of the locked `macerator` whose AVX-512 level is compiled out, in a target directory of
# its own, and runs the tests that train: the same assertions must hold on both paths.
#
# Usage: bash scripts/test-without-avx512.sh [cargo test arguments, default: --test train]
set -euo pipefail
cd "$(dirname "$0")/.."

version=$(awk '/^name = "macerator"$/ { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
cargo fetch --quiet
source=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "macerator-$version" | head -n 1)
if [ -z "$source" ]; then
    echo "macerator $version not found in Cargo's registry" >&2
    exit 1
fi
target=target/without-avx512
patched=$target/macerator-$version
if [ ! -d "$patched" ]; then
    mkdir -p "$target"
    tmp=$(mktemp -d "$target/macerator.XXXX")
    cp -r "$source"/. "$tmp"
    # `cfg(avx512)` guards the AVX-512 level of macerator's dispatch: make it never hold.
    sed -i 's/avx512: { all(target_arch = "x86_64", feature = "avx512") }/avx512: { all(target_arch = "x86_64", not(target_arch = "x86_64")) }/' "$tmp/build.rs"
    grep -q 'not(target_arch = "x86_64")' "$tmp/build.rs" || {
        echo "macerator $version: its build.rs changed; update this script" >&2
        exit 1
    }
    mv "$tmp" "$patched"
fi
[ $# -gt 0 ] || set -- --test train
# The patch rewrites Cargo.lock's entry for macerator: put the repository's back afterwards.
cp Cargo.lock "$target/Cargo.lock.orig"
trap 'cp "$target/Cargo.lock.orig" Cargo.lock' EXIT
CARGO_TARGET_DIR=$target cargo test --release \
    --config "patch.crates-io.macerator.path=\"$PWD/$patched\"" "$@"
