#!/usr/bin/env bash
# The training tests with flex's SIMD kernels held to AVX2 (x86-64-v3), as on a processor
# without AVX-512 (the AMD EPYC machines of this project), run on a machine that has it.
#
# flex picks its kernels at run time: its elementwise and reduction kernels through
# `macerator`, its matrix products through `gemm` (built with `x86-v4`, see Cargo.toml), and
# both take AVX-512 where the processor has it. The order of floating-point sums follows the
# vector width, so a training run's trajectory differs between the two kinds of processor.
# (ndarray's `matrixmultiply` uses AVX2 and FMA on both.) This script builds the tests against
# copies of the locked `macerator` and `gemm-common` whose AVX-512 level never holds, in a
# target directory of its own, and runs the tests that train: the same assertions must hold
# on both paths.
#
# Usage: bash scripts/test-without-avx512.sh [cargo test arguments, default: -- train::]
set -euo pipefail
cd "$(dirname "$0")/.."

cargo fetch --quiet
target=target/without-avx512
mkdir -p "$target"

# patched CRATE FILE SED_EXPRESSION COUNT: the path of a copy of the locked CRATE, made once,
# in which SED_EXPRESSION rewrote FILE and left COUNT lines marked `never-avx512`.
patched() {
    local crate=$1 file=$2 expression=$3 count=$4
    local version source copy tmp
    version=$(awk -v name="name = \"$crate\"" '$0 == name { getline; gsub(/version = |"/, ""); print; exit }' Cargo.lock)
    copy=$target/$crate-$version
    if [ ! -d "$copy" ]; then
        source=$(find "${CARGO_HOME:-$HOME/.cargo}/registry/src" -maxdepth 2 -type d -name "$crate-$version" | head -n 1)
        if [ -z "$source" ]; then
            echo "$crate $version not found in Cargo's registry" >&2
            exit 1
        fi
        tmp=$(mktemp -d "$target/$crate.XXXX")
        cp -r "$source"/. "$tmp"
        sed -i "$expression" "$tmp/$file"
        if [ "$(grep -c 'never-avx512' "$tmp/$file")" -ne "$count" ]; then
            echo "$crate $version: $file changed; update this script" >&2
            exit 1
        fi
        mv "$tmp" "$copy"
    fi
    echo "$PWD/$copy"
}

# `cfg(avx512)` guards the AVX-512 level of macerator's dispatch: make it never hold.
macerator=$(patched macerator build.rs \
    's/avx512: { all(target_arch = "x86_64", feature = "avx512") },/avx512: { all(target_arch = "x86_64", not(target_arch = "x86_64")) }, \/\/ never-avx512/' 1)
# gemm chooses its real and complex AVX-512 kernels where the processor reports `avx512f`.
gemm_common=$(patched gemm-common src/gemm.rs \
    's/if $crate::feature_detected!("avx512f") {/if false { \/\/ never-avx512/' 2)

[ $# -gt 0 ] || set -- -- train::
# The patches rewrite Cargo.lock's entries: put the repository's back afterwards.
cp Cargo.lock "$target/Cargo.lock.orig"
trap 'cp "$target/Cargo.lock.orig" Cargo.lock' EXIT
CARGO_TARGET_DIR=$target cargo test --release \
    --config "patch.crates-io.macerator.path=\"$macerator\"" \
    --config "patch.crates-io.gemm-common.path=\"$gemm_common\"" "$@"
