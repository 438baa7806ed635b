"""Issues #7 and #15: `transformer-mt bench` against the same model in eager PyTorch.

    bash scripts/setup-pytorch.sh                     # once: makes .venv-bench/
    python3 benches/compare.py                        # cargo run --release -- bench --json, then PyTorch
    python3 benches/compare.py --features tch         # with the tch backend compiled in
    python3 benches/compare.py --rust-cmd "target/release/transformer-mt bench --json" --json

Runs the Rust benchmark, then benches/pytorch_transformer.py with the venv's python (one after
the other, never together), and prints for each Rust backend the ratios to PyTorch with issue
#15's targets: training tokens/s ≥ 1.2 × PyTorch's on tch, ≥ 1.0 × on flex; cached greedy
≥ 5 × PyTorch's naive loop at batch 1 and at batch 32; peak memory ≤ 1.5 GiB. `--json` prints
the raw results and the ratios instead.
"""
import argparse
import datetime
import json
import os
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MEMORY_LIMIT_MIB = 1536
# Issue #15's training targets, as a multiple of PyTorch's tokens/s, for the backends that have one.
TRAINING_TARGETS = {"tch": 1.2, "flex": 1.0}
GREEDY_TARGET = 5


def run_json(cmd):
    print("$", shlex.join(cmd), file=sys.stderr)
    out = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=True).stdout
    return json.loads(out[out.index("{"):])  # anything printed before the object is ignored


def machine():
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return {"cpu": cpu, "cores": os.cpu_count()}


def ratio(ours, theirs):
    return ours / theirs if ours is not None and theirs else None


def comparisons(backend_name, backend, torch):
    """Rows (name, ours, PyTorch's, ratio ours/PyTorch, target, passed) for the Rust backend `backend_name`."""
    def greedy(figures, batch, kind):
        return figures.get("greedy", {}).get(f"batch_{batch}", {}).get(f"{kind}_tokens_per_second")

    rows = []
    def row(name, ours, theirs, target=None, at_most=None):
        r = ratio(ours, theirs)
        if target is not None:
            passed = None if r is None else r >= target
        elif at_most is not None:
            passed = None if ours is None else ours <= at_most
        else:
            passed = None
        rows.append({"name": name, "ours": ours, "pytorch": theirs, "ratio": r,
                     "target": f">= {target}x" if target else f"<= {at_most}" if at_most else None, "pass": passed})

    row("training tokens/s", backend["train"]["tokens_per_second"], torch["train"]["tokens_per_second"],
        target=TRAINING_TARGETS.get(backend_name))
    row("training GFLOP/s", backend["train"].get("gflops"), torch["train"].get("gflops"))
    for batch in (1, 32):
        naive = greedy(torch, batch, "uncached")
        row(f"greedy b{batch} tokens/s: ours cached / PyTorch naive", greedy(backend, batch, "cached"), naive,
            target=GREEDY_TARGET)
        row(f"greedy b{batch} tokens/s: ours uncached / PyTorch naive", greedy(backend, batch, "uncached"), naive)
        row(f"greedy b{batch} tokens/s: ours cached bf16 / PyTorch naive",
            greedy(backend, batch, "cached_bf16"), naive)
    row("peak memory MiB", backend.get("peak_rss_mib"), torch.get("peak_rss_mib"), at_most=MEMORY_LIMIT_MIB)
    return rows


def table(name, rows):
    fmt = lambda x, spec: "-" if x is None else format(x, spec)
    mark = {True: "pass", False: "FAIL", None: ""}
    lines = [f"\nRust backend `{name}` against PyTorch", "",
             "| measure | ours | PyTorch | ours / PyTorch | target | |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['name']} | {fmt(r['ours'], '.0f')} | {fmt(r['pytorch'], '.0f')} | "
                     f"{fmt(r['ratio'], '.2f')} | {r['target'] or ''} | {mark[r['pass']]} |")
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--features", default="", help="cargo features for the Rust build (default: the default ones)")
    p.add_argument("--rust-cmd", help='the Rust command instead of cargo run, e.g. "target/release/transformer-mt bench --json"')
    p.add_argument("--rust-json", help="read the Rust results from this file instead of running anything")
    p.add_argument("--python", default=os.path.join(ROOT, ".venv-bench/bin/python"), help="python with torch")
    p.add_argument("--pytorch-args", default="", help='extra arguments, e.g. "--train-runs 3 --decode-runs 2"')
    p.add_argument("--pytorch-json", help="read the PyTorch results from this file instead of running it")
    p.add_argument("--json", action="store_true", help="print raw results and ratios as one JSON object")
    args = p.parse_args()

    if args.rust_json:
        with open(args.rust_json) as f:
            rust = json.load(f)
    else:
        cmd = shlex.split(args.rust_cmd) if args.rust_cmd else (
            ["cargo", "run", "--release"] + (["--features", args.features] if args.features else [])
            + ["--", "bench", "--json"])
        rust = run_json(cmd)
    if args.pytorch_json:
        with open(args.pytorch_json) as f:
            torch = json.load(f)
    else:
        torch = run_json([args.python, os.path.join(ROOT, "benches/pytorch_transformer.py"), "--json"]
                         + shlex.split(args.pytorch_args))

    result = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "machine": machine(),
              "rust": rust, "pytorch": torch,
              "comparisons": {name: comparisons(name, figures, torch) for name, figures in rust["backends"].items()}}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    m = result["machine"]
    print(f"{result['date']}, {m['cpu']}, {m['cores']} cores; PyTorch {torch['version']} eager with "
          f"{torch['threads']} threads; d_model 256, 3 + 3 layers, vocabulary 8000, "
          f"training 64 x 24 tokens, greedy 24 new tokens")
    for name, rows in result["comparisons"].items():
        print(table(name, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
