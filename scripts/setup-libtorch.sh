#!/usr/bin/env bash
# Builds libtorch from PyTorch's pip wheel into $LIBTORCH, or ./libtorch-cpu where LIBTORCH is
# unset (where `.cargo/config.toml` points it): the CPU libtorch that the `tch` feature links
# against (torch-sys 0.22 expects PyTorch 2.9.0). No zip download and no Python at build time.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=${LIBTORCH:-libtorch-cpu}
mkdir -p "$(dirname "$dest")"
[ -f "$dest/lib/libtorch_cpu.so" ] && exit 0

wheels=$(mktemp -d)
trap 'rm -rf "$wheels"' EXIT
python3 -m pip download --quiet --no-deps --dest "$wheels" \
    torch==2.9.0 nvidia-cuda-runtime-cu12==12.8.90 nvidia-cuda-cupti-cu12==12.8.90

# Build next to the destination, then rename: an interrupted run leaves no half tree.
# Only libtorch's headers and the libraries torch-sys links against are unpacked (480 MB of
# the 1.7 GB that `pip install` writes): 3 s instead of 19 s.
tmp=$(mktemp -d "$dest.XXXX")
python3 - "$wheels" "$tmp" <<'PY'
import pathlib, shutil, sys, zipfile

wheels, dest = (pathlib.Path(arg) for arg in sys.argv[1:])
libraries = {
    "torch/lib/libtorch_cpu.so",
    "torch/lib/libc10.so",
    "nvidia/cuda_runtime/lib/libcudart.so.12",
    "nvidia/cuda_cupti/lib/libcupti.so.12",
}
for wheel in sorted(wheels.glob("*.whl")):
    with zipfile.ZipFile(wheel) as archive:
        for name in archive.namelist():
            if name.startswith("torch/include/") and not name.endswith("/"):
                target = dest / "include" / name.removeprefix("torch/include/")
            elif name in libraries or name.startswith("torch/lib/libgomp"):
                target = dest / "lib" / pathlib.PurePosixPath(name).name
            else:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            with archive.open(name) as source, open(target, "wb") as copy:
                shutil.copyfileobj(source, copy)
            if target.parent.name == "lib":
                target.chmod(0o755)
PY
# The real libtorch.so pulls in CUDA; torch-sys only needs the name to link against.
gcc -shared -x c /dev/null -o "$tmp/lib/libtorch.so"
rm -rf "$dest"
mv "$tmp" "$dest"
echo "libtorch (CPU, PyTorch 2.9.0) ready in $dest"
