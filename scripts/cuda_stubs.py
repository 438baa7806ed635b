"""Stand-ins for the CUDA libraries that PyPI's CUDA build of `import torch` links against.

Usage (scripts/setup-pytorch.sh runs it): .venv-bench/bin/python scripts/cuda_stubs.py

For each library that torch/_C and the torch/lib libraries it pulls in are linked against
(libcublas.so.12, libcudnn.so.9, libnccl.so.2, ...) and that neither the venv's nvidia/
wheels nor the system have, writes torch/lib/<soname> ($ORIGIN is on torch's RPATH): a
small library with the same name, the same symbol versions and every symbol torch takes
from it, each of which prints its name and aborts if it is ever called. Without a GPU
none of them is: the real CUDA runtime (nvidia-cuda-runtime-cu12) reports no device.
A real nvidia wheel installed later wins: its folder comes before $ORIGIN on the RPATH.
Needs gcc, readelf and nm (binutils).
"""
import glob
import os
import re
import subprocess
import sys
import sysconfig
import tempfile

site = sysconfig.get_paths()["purelib"]
torch_lib = f"{site}/torch/lib"


def run(*cmd):
    return subprocess.run(cmd, capture_output=True, text=True, check=True).stdout


def needed(lib):
    return re.findall(r"\(NEEDED\).*\[(.+)\]", run("readelf", "-dW", lib))


# What `import torch` loads: torch/_C and its NEEDED closure inside torch/lib.
loaded, todo = [], glob.glob(f"{site}/torch/_C*.so")
while todo:
    lib = todo.pop()
    if lib not in loaded:
        loaded.append(lib)
        todo += [f"{torch_lib}/{n}" for n in needed(lib) if os.path.exists(f"{torch_lib}/{n}")]
wheel_libs = glob.glob(f"{site}/nvidia/*/lib/*.so*")
present = {os.path.basename(p) for p in wheel_libs} | set(os.listdir(torch_lib))
system = dict(re.findall(r"^\s+(\S+) \(libc6,x86-64.*=> (\S+)$", run("ldconfig", "-p"), re.M))
all_needed = {n for lib in loaded for n in needed(lib)}
missing = sorted(n for n in all_needed - present if n not in system)
system_libs = [system[n] for n in all_needed if n in system]

# A versioned reference (cublasCreate_v2@libcublas.so.12, nvshmem_malloc@NVSHMEM) names its
# library through the version; the unversioned ones (nccl*, cuFile*) go into every stand-in.
owner = {}  # version name -> library
for lib in loaded:
    for file, names in re.findall(r"File: (\S+)  Cnt: \d+\n((?:.*Name: .*\n)+)", run("readelf", "-VW", lib)):
        if file in missing:
            owner.update((v, file) for v in re.findall(r"Name: (\S+)", names))
defined, versioned, unversioned = set(), {n: {} for n in missing}, set()
for lib in loaded + system_libs + wheel_libs:
    for line in run("nm", "-D", lib).splitlines():
        kind, name = line.split()[-2:]
        sym, ver = name.split("@")[0], name.split("@")[-1] if "@" in name else ""
        if kind not in "Uvw":
            defined.add(sym)
        elif lib in system_libs:
            continue
        elif kind == "U" and ver in owner:
            versioned[owner[ver]].setdefault(ver, set()).add(sym)
        elif kind == "U" and not ver and not sym.startswith(("Py", "_Py")):
            unversioned.add(sym)
unversioned -= defined

with tempfile.TemporaryDirectory() as tmp:
    for soname in missing:
        syms = sorted(unversioned.union(*versioned[soname].values()))
        c = ["#include <stdio.h>", "#include <stdlib.h>",
             'static void die(const char *f) { fprintf(stderr, "%s: a CUDA function was called, but this '
             'PyTorch has CPU-only stand-ins for the CUDA libraries (scripts/setup-pytorch.sh)\\n", f); abort(); }']
        c += [f'void s{i}(void) __asm__("{s}"); void s{i}(void) {{ die("{s}"); }}' for i, s in enumerate(syms)]
        nodes = [f"{v} {{ global: {' '.join(s + ';' for s in sorted(ss))} }};" for v, ss in versioned[soname].items()]
        with open(f"{tmp}/stub.c", "w") as f:
            f.write("\n".join(c) + "\n")
        with open(f"{tmp}/stub.map", "w") as f:
            f.write("\n".join(nodes + ["STUB { global: *; };"]) + "\n")
        run("gcc", "-shared", "-fPIC", "-O1", f"{tmp}/stub.c", f"-Wl,-soname,{soname}",
            f"-Wl,--version-script={tmp}/stub.map", "-o", f"{torch_lib}/{soname}")
        print(f"stand-in {soname}: {len(syms)} symbols", file=sys.stderr)
