#!/usr/bin/env bash
# Builds ./libtorch-cpu from PyTorch's pip wheel: the CPU libtorch that the `tch`
# feature links against (torch-sys 0.22 expects PyTorch 2.9.0). No zip download and
# no Python at build time; `.cargo/config.toml` points LIBTORCH here.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=libtorch-cpu
[ -f "$dest/lib/libtorch_cpu.so" ] && exit 0

wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
python3 -m pip install --quiet --no-deps --target "$wheels" \
    torch==2.9.0 nvidia-cuda-runtime-cu12==12.8.90 nvidia-cuda-cupti-cu12==12.8.90

# Build next to the destination, then rename: an interrupted run leaves no half tree.
tmp=$(mktemp -d "$dest.XXXX")
mkdir -p "$tmp/lib"
cp -r "$wheels/torch/include" "$tmp/include"
torch_lib="$wheels/torch/lib"
cp "$torch_lib"/libtorch_cpu.so "$torch_lib"/libc10.so "$tmp/lib/"
cp "$torch_lib"/libgomp*.so* "$tmp/lib/" 2>/dev/null || true
cp "$wheels"/nvidia/cuda_runtime/lib/libcudart.so.12 "$wheels"/nvidia/cuda_cupti/lib/libcupti.so.12 "$tmp/lib/"
# The real libtorch.so pulls in CUDA; torch-sys only needs the name to link against.
gcc -shared -x c /dev/null -o "$tmp/lib/libtorch.so"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "libtorch (CPU, PyTorch 2.9.0) ready in $dest"
