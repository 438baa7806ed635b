#!/usr/bin/env bash
# Makes .venv-bench/: PyTorch 2.9.0 on the CPU, for benches/pytorch_transformer.py (#7).
#
#   bash scripts/setup-pytorch.sh        # idempotent; prints the venv's python at the end
#
# PyPI's Linux x86_64 torch==2.9.0 is the CUDA build: `import torch` links against ~3 GB
# of nvidia-* wheels. Without a GPU none of them is ever called, so this installs torch
# with --no-deps, the pure-Python packages it imports, the real CUDA runtime (1 MB; it
# answers torch.cuda.is_available() with False), and scripts/cuda_stubs.py builds for
# every other CUDA library a small stand-in that aborts if called. Download ~910 MB (the
# torch wheel is 900 MB), 1.9 GB installed. NumPy is left out: torch warns once at import.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=.venv-bench
py=$venv/bin/python

for tool in gcc readelf nm; do
    command -v "$tool" >/dev/null || { echo "setup-pytorch: needs $tool (apt-get install gcc binutils)" >&2; exit 1; }
done
[ -x "$py" ] || python3 -m venv "$venv"
if ! "$py" -c 'import torch' 2>/dev/null; then
    echo "setup-pytorch: installing torch 2.9.0 (a 900 MB download) into $venv" >&2
    "$py" -m pip install --quiet --no-deps \
        torch==2.9.0 nvidia-cuda-runtime-cu12==12.8.90 \
        typing_extensions==4.16.0 sympy==1.14.0 mpmath==1.4.1 filelock==4.3.1 \
        networkx==3.6.1 jinja2==3.1.6 markupsafe==3.0.4 fsspec==2026.9.0
    "$py" scripts/cuda_stubs.py
fi
"$py" -W ignore -c '
import torch
assert (torch.ones(2) @ torch.ones(2)).item() == 2.0 and not torch.cuda.is_available()
print("torch", torch.__version__, "on the CPU")
print(torch.__config__.parallel_info())' >&2
echo "$PWD/$py"
