"""Issue #32: our decoding against CTranslate2's, on the same weights, in one run.

    bash scripts/setup-ctranslate2.sh                      # once: makes .venv-ct2/
    .venv-ct2/bin/python benches/ctranslate2.py            # the shipped model; tch and flex if built
    .venv-ct2/bin/python benches/ctranslate2.py --run prose --backends tch --json out.json
    .venv-ct2/bin/python benches/ctranslate2.py --backends flex --precisions f32,bf16

1. Exports a run's model (`model.bpk`, Burn's burnpack format, read here with a small CBOR
   reader) into CTranslate2's `TransformerSpec`: the same layers, heads, pre- or post-norm,
   LayerNorm ε (Burn's 1e-5), the paper's interleaved sinusoids (CTranslate2's own table
   puts all sines before all cosines, so the table is given), embeddings scaled by √d_model,
   the generator tied to the embedding; the tokenizer's ids as the vocabulary.
2. Translates the same sentences — the Tatoeba part of the run's test split and the news dev
   set `ntrex128.eng-por.dev.tsv` — with each engine, each in a process of its own, one after
   the other, with the same number of threads: greedy batch 1, greedy batch 32, beam 4
   batch 32. CTranslate2 runs twice per compute type (`--ct2-layouts`): its threads inside
   each operation (one translator), and across batches (a translator a thread, the batches
   submitted asynchronously), which is how flex spreads its threads. Both sides sort the sentences by length and batch them in that order, decode at
   most `1.5 × len + 10` tokens for the longest source of a batch (`translate::output_limit`),
   and rank beam hypotheses by log-probability alone (length penalty 0: the two engines
   normalise by length differently, so only α = 0 is the same search).
3. Prints sentences/s, target tokens/s (the outputs re-tokenized), peak memory (the process's
   maximum resident set), BLEU and chrF (sacreBLEU) per engine and mode, each engine's ratio
   to CTranslate2 float32, and how many greedy outputs differ from CTranslate2 float32's.
   `--precisions f32,bf16` also runs ours with every weight matrix's product in bfloat16
   (`infer --precision bf16`), beside CTranslate2's int8.

Our timings are the `infer` process's wall time less its start-up (loading the model and
translating one word, the median of three runs); CTranslate2's are timed inside its process
after the model is loaded.
"""
import argparse
import json
import os
import resource
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Run as a script, this file's folder comes first on the path, and this file would be imported
# as `ctranslate2` in place of the package it benchmarks.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != os.path.join(ROOT, "benches")]
# Burn's LayerNorm default, `LayerNormConfig::epsilon`.
LAYER_NORM_EPSILON = 1e-5
# The model reads twice its training length (`translate::POSITIONS_PER_TRAINED`).
POSITIONS_PER_TRAINED = 2
MODES = [("greedy b1", 1, 1), ("greedy b32", 1, 32), ("beam4 b32", 4, 32)]
SPECIAL_TOKENS = ["<pad>", "<unk>", "<s>", "</s>"]


def output_limit(length):
    """`translate::output_limit`: the longest translation searched for a source of `length`."""
    return length + length // 2 + 10


# --- burnpack -------------------------------------------------------------------------------

def cbor_item(buf, i):
    """The CBOR item at `buf[i]` and the offset after it (the subset burnpack writes)."""
    head = buf[i]
    major, info = head >> 5, head & 31
    i += 1
    if info < 24:
        arg = info
    elif info <= 27:
        size = 1 << (info - 24)
        arg = int.from_bytes(buf[i:i + size], "big")
        i += size
    else:
        raise ValueError(f"CBOR item at byte {i - 1}: indefinite lengths are not burnpack's")
    if major == 0:
        return arg, i
    if major == 1:
        return -1 - arg, i
    if major in (2, 3):
        data = bytes(buf[i:i + arg])
        return (data if major == 2 else data.decode()), i + arg
    if major == 4:
        items = []
        for _ in range(arg):
            item, i = cbor_item(buf, i)
            items.append(item)
        return items, i
    if major == 5:
        entries = {}
        for _ in range(arg):
            key, i = cbor_item(buf, i)
            entries[key], i = cbor_item(buf, i)
        return entries, i
    if major == 6:  # a tag: the tagged item itself
        return cbor_item(buf, i)
    if info in (20, 21, 22):
        return {20: False, 21: True, 22: None}[info], i
    if info == 25:
        return struct.unpack(">e", arg.to_bytes(2, "big"))[0], i
    if info == 26:
        return struct.unpack(">f", arg.to_bytes(4, "big"))[0], i
    if info == 27:
        return struct.unpack(">d", arg.to_bytes(8, "big"))[0], i
    return arg, i


def read_burnpack(path):
    """Every tensor of a burnpack file, by name, as float32 NumPy arrays.

    Layout (burn-pack 0.22): magic "NRUB" (0x4255524E little-endian), u16 version, u32
    metadata size, CBOR metadata, then the data section from the next 256-byte boundary.
    """
    import numpy as np

    with open(path, "rb") as f:
        buf = f.read()
    magic, version, size = struct.unpack("<IHI", buf[:10])
    if magic != 0x4255524E:
        sys.exit(f"{path}: not a burnpack file (magic {magic:#x})")
    if version != 1:
        sys.exit(f"{path}: burnpack version {version}, this reader knows 1")
    metadata, _ = cbor_item(buf, 10)
    start = (10 + size + 255) // 256 * 256
    dtypes = {"F32": np.float32, "F16": np.float16}
    tensors = {}
    for name, tensor in metadata["tensors"].items():
        dtype = dtypes.get(tensor["dtype"])
        if dtype is None:
            sys.exit(f"{path}: {name} is {tensor['dtype']}, expected F32 or F16")
        begin, end = tensor["data_offsets"]
        values = np.frombuffer(buf[start + begin:start + end], dtype=dtype)
        tensors[name] = values.astype(np.float32).reshape(tensor["shape"])
    return tensors


# --- the export -----------------------------------------------------------------------------

def sinusoids(positions, d_model):
    """The paper's `PE(t, 2i) = sin(t / 10000^(2i/d))`, `PE(t, 2i+1) = cos(…)`, interleaved."""
    import numpy as np

    t = np.arange(positions, dtype=np.float64)[:, None]
    two_i = np.arange(0, d_model, 2, dtype=np.float64)[None, :]
    angle = t / np.power(10000.0, two_i / d_model)
    table = np.zeros((positions, d_model))
    table[:, 0::2] = np.sin(angle)
    table[:, 1::2] = np.cos(angle)
    return table.astype(np.float32)


def export(run, out_dir, positions):
    """Writes `run`'s model into `out_dir` as a CTranslate2 model with `positions` position
    encodings; returns CTranslate2's version."""
    import ctranslate2
    import numpy as np
    import tokenizers
    from ctranslate2.specs import common_spec, transformer_spec

    with open(os.path.join(run, "config.json")) as f:
        config = json.load(f)
    model = config["model"]
    weights = read_burnpack(os.path.join(run, "model.bpk"))
    tokenizer = tokenizers.Tokenizer.from_file(os.path.join(run, "tokenizer.json"))
    vocab = tokenizer.get_vocab(with_added_tokens=True)
    tokens = [None] * len(vocab)
    for token, index in vocab.items():
        tokens[index] = token
    if tokens[:4] != SPECIAL_TOKENS or None in tokens:
        sys.exit(f"{run}/tokenizer.json: expected {SPECIAL_TOKENS} at ids 0-3 and no gaps")

    pre_norm = model["norm_first"]
    spec = transformer_spec.TransformerSpec.from_config(
        (model["n_encoder_layers"], model["n_decoder_layers"]),
        model["n_heads"],
        pre_norm=pre_norm,
        activation=common_spec.Activation.RELU,
    )

    def linear(target, name):
        # Burn keeps `[d_in, d_out]` and computes x·W; CTranslate2 keeps PyTorch's `[d_out, d_in]`.
        target.weight = weights[f"{name}.weight"].T.copy()
        target.bias = weights[f"{name}.bias"]

    def fused(target, names):
        target.weight = np.concatenate([weights[f"{n}.weight"].T for n in names])
        target.bias = np.concatenate([weights[f"{n}.bias"] for n in names])

    def norm(target, name):
        target.gamma = weights[f"{name}.gamma"]
        target.beta = weights[f"{name}.beta"]

    source_embedding = weights["src_embedding.table.weight"]
    target_embedding = weights.get("tgt_embedding.table.weight", source_embedding)
    # Both sides multiply the embeddings by √d_model (`scale_embeddings`, on by default).
    spec.encoder.embeddings[0].weight = source_embedding
    spec.decoder.embeddings.weight = target_embedding
    spec.encoder.position_encodings.encodings = sinusoids(positions, model["d_model"])
    spec.decoder.position_encodings.encodings = sinusoids(positions, model["d_model"])
    if model["tie_embeddings"]:
        spec.decoder.projection.weight = target_embedding
    else:
        linear(spec.decoder.projection, "generator")

    def self_attention_and_feed_forward(layer, scope):
        # CTranslate2 projects query, key and value of self-attention in one fused matrix.
        attention = f"{scope}.self_attn"
        fused(layer.self_attention.linear[0], [f"{attention}.{p}" for p in ("query", "key", "value")])
        linear(layer.self_attention.linear[1], f"{attention}.output")
        norm(layer.self_attention.layer_norm, f"{scope}.self_attn_norm.norm")
        linear(layer.ffn.linear_0, f"{scope}.feed_forward.w_1")
        linear(layer.ffn.linear_1, f"{scope}.feed_forward.w_2")
        norm(layer.ffn.layer_norm, f"{scope}.feed_forward_norm.norm")

    for i, layer in enumerate(spec.encoder.layer):
        self_attention_and_feed_forward(layer, f"encoder.layers.{i}")
    for i, layer in enumerate(spec.decoder.layer):
        scope = f"decoder.layers.{i}"
        self_attention_and_feed_forward(layer, scope)
        # Encoder–decoder attention: the query alone, key and value fused.
        cross = f"{scope}.cross_attn"
        linear(layer.attention.linear[0], f"{cross}.query")
        fused(layer.attention.linear[1], [f"{cross}.key", f"{cross}.value"])
        linear(layer.attention.linear[2], f"{cross}.output")
        norm(layer.attention.layer_norm, f"{scope}.cross_attn_norm.norm")
    if pre_norm:
        norm(spec.encoder.layer_norm, "encoder.final_norm")
        norm(spec.decoder.layer_norm, "decoder.final_norm")

    spec.config.layer_norm_epsilon = LAYER_NORM_EPSILON
    spec.register_source_vocabulary(tokens)
    spec.register_target_vocabulary(tokens)
    spec.validate()
    os.makedirs(out_dir, exist_ok=True)
    spec.save(out_dir)
    return ctranslate2.__version__


# --- the sentences --------------------------------------------------------------------------

def sentence_sets(binary, run, shared):
    """(name, sources, references) of the Tatoeba test part and the news dev set."""
    sets = []
    with tempfile.TemporaryDirectory() as tmp:
        tatoeba = os.path.join(tmp, "tatoeba-test.tsv")
        subprocess.run(
            [binary, "data", "split", "--config", os.path.join(run, "config.json"),
             "--data", os.path.join(shared, "tatoeba.eng-por.tsv"), "--part", "test",
             "--output", tatoeba],
            check=True, stdout=subprocess.DEVNULL)
        for name, path in (("tatoeba-test", tatoeba),
                           ("ntrex128-dev", os.path.join(shared, "ntrex128.eng-por.dev.tsv"))):
            with open(path, encoding="utf-8") as f:
                pairs = [line.rstrip("\n").split("\t") for line in f if line.strip()]
            sets.append((name, [p[0] for p in pairs], [p[1] for p in pairs]))
    return sets


def source_tokens(tokenizer, sentences, tag):
    """What `Translator::encode` feeds the encoder: the trimmed sentence behind its tag token."""
    prefix = f"<{tag}>" if tag else ""
    return [tokenizer.encode(prefix + s.strip(), add_special_tokens=False).tokens for s in sentences]


# --- the workers: one process per engine and mode -------------------------------------------

def ct2_worker(args):
    """Translates `args.source` with CTranslate2; writes the outputs and the seconds taken."""
    import ctranslate2
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(os.path.join(args.run, "tokenizer.json"))
    with open(args.source, encoding="utf-8") as f:
        sentences = [line.rstrip("\n") for line in f]
    tokens = source_tokens(tokenizer, sentences, args.tag)
    # `--inter-threads` translators side by side, each on its share of the threads: with more
    # than one, the batches are submitted asynchronously and each translator takes the next.
    inter = max(1, args.inter_threads)
    translator = ctranslate2.Translator(
        args.model, device="cpu", compute_type=args.compute_type,
        inter_threads=inter, intra_threads=max(1, args.threads // inter))
    # As `infer` does: shortest first, `batch` at a time. `infer` gives each sentence its own
    # output limit; CTranslate2 takes one a call, so each batch decodes to its longest source's
    # and each translation is cut to its own source's limit after: for greedy search, what a
    # limit of its own gives (beam search may differ where a hypothesis runs past it).
    limit = [min(output_limit(len(t)), args.positions - 1) for t in tokens]
    order = sorted(range(len(tokens)), key=lambda i: len(tokens[i]))
    outputs = [None] * len(tokens)
    started = time.perf_counter()
    submitted = []
    for first in range(0, len(order), args.batch):
        rows = order[first:first + args.batch]
        batch = [tokens[i] for i in rows]
        results = translator.translate_batch(
            batch, beam_size=args.beam, length_penalty=0.0,
            max_decoding_length=max(limit[i] for i in rows),
            min_decoding_length=0, max_input_length=0, asynchronous=inter > 1)
        submitted.append((rows, results))
    for rows, results in submitted:
        for row, result in zip(rows, results):
            outputs[row] = (result.result() if inter > 1 else result).hypotheses[0][:limit[row]]
    seconds = time.perf_counter() - started
    with open(args.output, "w", encoding="utf-8") as f:
        for hypothesis in outputs:
            ids = [tokenizer.token_to_id(t) for t in hypothesis]
            f.write(tokenizer.decode(ids, skip_special_tokens=True) + "\n")
    with open(args.timing, "w") as f:
        json.dump({"seconds": seconds}, f)


def run_measured(cmd, env=None):
    """Runs `cmd`; returns (wall seconds, peak resident MiB) of that process alone."""
    started = time.perf_counter()
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    stderr = process.stderr.read()
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({process.returncode}):\n{stderr.decode(errors='replace')}")
    return wall, usage.ru_maxrss / 1024


def measure_ct2(args, which, beam, batch, source, output):
    compute_type, inter_threads = which
    timing = output + ".timing.json"
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", "--model", args.export,
           "--run", args.run, "--positions", str(args.positions),
           "--compute-type", compute_type, "--inter-threads", str(inter_threads),
           "--beam", str(beam),
           "--batch", str(batch), "--threads", str(args.threads), "--source", source,
           "--output", output, "--timing", timing]
    if args.tag:
        cmd += ["--tag", args.tag]
    env = None
    if args.check:
        # Untimed, and beside whatever else runs (the test suite): CTranslate2's OpenMP threads
        # spin while they wait by default, which starves with more threads than free cores.
        env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE")
    _, peak = run_measured(cmd, env)
    with open(timing) as f:
        return json.load(f)["seconds"], peak


def ours_cmd(backend, binary, precision, args, beam, batch, source, output):
    # --whole-lines: CTranslate2 translates each line as one sentence, and so must we here.
    cmd = [binary, "infer", "--backend", backend, "--run", args.run, "--beam", str(beam),
           "--length-penalty", "0", "--no-repeat-ngram", "0", "--batch-size", str(batch),
           "--whole-lines", "--input", source, "--output", output]
    if precision != "f32":  # a baseline binary may predate --precision
        cmd += ["--precision", precision]
    return cmd + (["--tag", args.tag] if args.tag else [])


def startup(args, backend, binary, precision, tmp):
    """Median wall seconds of `infer` loading the model (and, in bf16, rounding its weights)
    and translating one word."""
    source = os.path.join(tmp, "one-word.txt")
    with open(source, "w") as f:
        f.write("Hello.\n")
    cmd = ours_cmd(backend, binary, precision, args, 1, 1, source,
                   os.path.join(tmp, "one-word.out"))
    return statistics.median(run_measured(cmd, ours_env(args))[0] for _ in range(3))


def ours_env(args):
    env = dict(os.environ)
    # Both engines on the same number of threads: libtorch's and rayon's pools.
    env["OMP_NUM_THREADS"] = env["MKL_NUM_THREADS"] = str(args.threads)
    env["RAYON_NUM_THREADS"] = str(args.threads)
    return env


# --- the report -----------------------------------------------------------------------------

def score(hypotheses, references):
    import sacrebleu

    return (sacrebleu.corpus_bleu(hypotheses, [references]).score,
            sacrebleu.corpus_chrf(hypotheses, [references]).score)


def default_binary():
    """The first release binary of $CARGO_TARGET_DIR, the repository's target/, and
    scripts/build-env.sh's target directory."""
    cache = os.environ.get("XDG_CACHE_HOME", os.path.expanduser("~/.cache"))
    dirs = [os.environ.get("CARGO_TARGET_DIR"), os.path.join(ROOT, "target"),
            os.path.join(cache, "transformer-mt", "target")]
    binaries = [os.path.join(d, "release", "transformer-mt") for d in dirs if d]
    return next((b for b in binaries if os.path.exists(b)), binaries[0])


def built_backends(binary):
    """Which of tch and flex `binary backends` lists as running here."""
    listed = subprocess.run([binary, "backends"], stdout=subprocess.PIPE, text=True).stdout
    lines = listed.splitlines()
    return [b for b in ("tch", "flex")
            if any(line.startswith(f"{b} (") and line.endswith("runs here") for line in lines)]


def machine():
    cpu = "unknown"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {"cpu": cpu, "cores": os.cpu_count()}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", default=os.path.join(ROOT, "models", "eng-por"),
                        help="the trained run whose model.bpk is compared: a name under artifacts/ or a "
                             "directory (default: the shipped model)")
    parser.add_argument("--binary", default=default_binary(),
                        help="the transformer-mt binary (default: release/transformer-mt under "
                             "$CARGO_TARGET_DIR, target/, or where scripts/build-env.sh builds)")
    parser.add_argument("--backends", help="ours, comma-separated (default: those of tch and flex "
                        "the binary has)")
    parser.add_argument("--baseline", help="another transformer-mt binary whose backends are timed "
                        "beside --binary's, as `BACKEND (baseline)`: a lever's before and after")
    parser.add_argument("--compute-types", default="float32,int8", help="CTranslate2's")
    parser.add_argument("--precisions", default="f32",
                        help="ours (`infer --precision`), comma-separated, of: f32, bf16; a backend "
                             "in bf16 is named `BACKEND bf16`")
    parser.add_argument("--ct2-layouts", default="inside,across",
                        help="how CTranslate2 uses the threads, comma-separated: `inside` each "
                             "operation (one translator), `across` batches (a translator a thread, "
                             "the batches submitted asynchronously: what our flex backend does)")
    parser.add_argument("--modes", default=",".join(m[0] for m in MODES),
                        help="comma-separated, of: " + ", ".join(m[0] for m in MODES))
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"),
                        help="the folder of the corpora and the news dev set")
    parser.add_argument("--limit", type=int, help="at most this many sentences of each set")
    parser.add_argument("--tag", help="the domain tag (default: the run's data.default_tag)")
    parser.add_argument("--export", help="write the CTranslate2 model here (default: a temporary folder)")
    parser.add_argument("--json", help="also write the results here as JSON")
    parser.add_argument("--check", action="store_true",
                        help="only prove the models equal: greedy batch 32 on CTranslate2 float32 and "
                             "each backend, every differing line printed, exit status 1 if any; no timing")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--compute-type", help=argparse.SUPPRESS)
    parser.add_argument("--inter-threads", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--beam", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--batch", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--source", help=argparse.SUPPRESS)
    parser.add_argument("--output", help=argparse.SUPPRESS)
    parser.add_argument("--timing", help=argparse.SUPPRESS)
    parser.add_argument("--positions", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    try:
        import ctranslate2  # noqa: F401
        import numpy  # noqa: F401
        import sacrebleu  # noqa: F401
        import tokenizers  # noqa: F401
    except ImportError as error:
        sys.exit(f"benches/ctranslate2.py: {error}: run `bash scripts/setup-ctranslate2.sh`, "
                 "then this script with .venv-ct2/bin/python")
    if args.worker:
        return ct2_worker(args)

    unknown = set(args.modes.split(",")) - {m[0] for m in MODES}
    if unknown:
        sys.exit(f"--modes: unknown {', '.join(sorted(unknown))}")
    unknown = set(args.precisions.split(",")) - {"f32", "bf16", ""}
    if unknown:
        sys.exit(f"--precisions: unknown {', '.join(sorted(unknown))} (f32, bf16)")
    unknown = set(args.ct2_layouts.split(",")) - {"inside", "across", ""}
    if unknown:
        sys.exit(f"--ct2-layouts: unknown {', '.join(sorted(unknown))} (inside, across)")
    if args.check:
        args.modes, args.compute_types, args.ct2_layouts = "greedy b32", "float32", "inside"
        args.precisions = "f32"
    modes = [m for m in MODES if m[0] in args.modes.split(",")]
    for path, what in ((args.binary, "--binary"), (os.path.join(args.run, "model.bpk"), "--run"),
                       (os.path.join(args.shared, "ntrex128.eng-por.dev.tsv"), "--shared")):
        if not os.path.exists(path):
            sys.exit(f"{what}: {path} does not exist")
    if not os.path.isdir(args.run) and os.path.isdir(os.path.join(ROOT, "artifacts", args.run)):
        args.run = os.path.join(ROOT, "artifacts", args.run)  # a run's name, as the CLI takes it
    if args.backends is None:
        args.backends = ",".join(built_backends(args.binary))
    with open(os.path.join(args.run, "config.json")) as f:
        data = json.load(f)["data"]
    if args.tag is None:
        args.tag = data.get("default_tag")
    # Both engines decode at most positions − 1 tokens (`Translator::translate`).
    args.positions = data["max_len"] * POSITIONS_PER_TRAINED

    with tempfile.TemporaryDirectory() as tmp:
        if args.export is None:
            args.export = os.path.join(tmp, "ct2-model")
        version = export(args.run, args.export, args.positions)
        print(f"exported {args.run}/model.bpk to {args.export} (CTranslate2 {version})", file=sys.stderr)
        sets = sentence_sets(args.binary, args.run, args.shared)
        if args.limit:
            sets = [(n, s[:args.limit], r[:args.limit]) for n, s, r in sets]
        sources = [s for _, src, _ in sets for s in src]
        source_file = os.path.join(tmp, "sources.txt")
        with open(source_file, "w", encoding="utf-8") as f:
            f.writelines(s + "\n" for s in sources)

        layouts = {"inside": ("", 1), "across": (" (a batch a thread)", args.threads)}
        engines = [("ctranslate2 " + t + layouts[l][0], "ct2", (t, layouts[l][1]))
                   for t in args.compute_types.split(",") if t
                   for l in args.ct2_layouts.split(",") if l]
        backends = [b for b in args.backends.split(",") if b]
        precisions = [p for p in args.precisions.split(",") if p]
        engines += [(b + ("" if p == "f32" else " " + p), "ours", (b, args.binary, p))
                    for p in precisions for b in backends]
        if args.baseline:
            engines += [(f"{b} (baseline)", "ours", (b, args.baseline, "f32")) for b in backends]
        ours = [(name, which) for name, kind, which in engines if kind == "ours"]
        startups = {} if args.check else {name: startup(args, *which, tmp) for name, which in ours}
        results = []
        for mode, beam, batch in modes:
            for name, kind, which in engines:
                output = os.path.join(tmp, f"{name}-{mode}.txt".replace(" ", "_"))
                print(f"{mode}: {name} …", file=sys.stderr, flush=True)
                if kind == "ct2":
                    seconds, peak = measure_ct2(args, which, beam, batch, source_file, output)
                else:
                    cmd = ours_cmd(*which, args, beam, batch, source_file, output)
                    wall, peak = run_measured(cmd, ours_env(args))
                    seconds = wall - startups.get(name, 0.0)
                with open(output, encoding="utf-8") as f:
                    hypotheses = [line.rstrip("\n") for line in f]
                results.append({"engine": name, "mode": mode, "seconds": seconds,
                                "peak_mib": peak, "hypotheses": hypotheses})
        if args.check:
            return check(sets, results)
        report(args, sets, results, startups, version)


def check(sets, results):
    """Prints every line where an engine's greedy output differs from CTranslate2 float32's;
    exits with status 1 if one does."""
    names = [(name, i) for name, src, _ in sets for i in range(len(src))]
    sources = [s for _, src, _ in sets for s in src]
    reference = results[0]["hypotheses"]
    differing = 0
    for result in results[1:]:
        for (name, i), source, ours, theirs in zip(names, sources, result["hypotheses"], reference):
            if ours != theirs:
                differing += 1
                print(f"{result['engine']}, {name} line {i + 1}: {source!r}\n"
                      f"  ours:        {ours!r}\n  CTranslate2: {theirs!r}")
        print(f"{result['engine']}: {len(sources)} greedy translations compared with CTranslate2 "
              f"float32's")
    if differing:
        sys.exit(f"{differing} translations differ")
    print("the same translations on every engine")


def report(args, sets, results, startups, version):
    import tokenizers

    tokenizer = tokenizers.Tokenizer.from_file(os.path.join(args.run, "tokenizer.json"))
    sentences = sum(len(src) for _, src, _ in sets)
    reference = {r["mode"]: r["hypotheses"] for r in results if r["engine"] == "ctranslate2 float32"}
    rows = []
    for r in results:
        hypotheses = r["hypotheses"]
        tokens = sum(len(e.ids) for e in tokenizer.encode_batch(hypotheses, add_special_tokens=False))
        row = {"engine": r["engine"], "mode": r["mode"], "seconds": round(r["seconds"], 3),
               "sentences_per_second": sentences / r["seconds"],
               "tokens_per_second": tokens / r["seconds"], "peak_mib": round(r["peak_mib"])}
        first = 0
        for name, src, refs in sets:
            bleu, chrf = score(hypotheses[first:first + len(src)], refs)
            row[f"bleu {name}"], row[f"chrf {name}"] = round(bleu, 1), round(chrf, 1)
            first += len(src)
        if r["mode"] in reference:
            row["differ_from_ct2_float32"] = sum(
                a != b for a, b in zip(hypotheses, reference[r["mode"]]))
        rows.append(row)
    for row in rows:
        base = next((x for x in rows if x["mode"] == row["mode"]
                     and x["engine"] == "ctranslate2 float32"), None)
        if base:
            row["vs_ct2_float32"] = round(row["sentences_per_second"] / base["sentences_per_second"], 2)

    names = [n for n, _, _ in sets]
    print(f"{machine()['cpu']}, {args.threads} threads; CTranslate2 {version}; "
          f"{sentences} sentences ({', '.join(f'{n} {len(s)}' for n, s, _ in sets)}); "
          f"run {args.run}" + (f", tag <{args.tag}>" if args.tag else ""))
    print("our start-up, subtracted: " + ", ".join(f"{b} {s:.2f} s" for b, s in startups.items()))
    header = ["mode", "engine", "sent/s", "tok/s", "vs CT2 f32", "differ", "peak MiB"]
    header += [f"BLEU/chrF {n}" for n in names]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        cells = [row["mode"], row["engine"], f"{row['sentences_per_second']:.1f}",
                 f"{row['tokens_per_second']:,.0f}", f"{row.get('vs_ct2_float32', float('nan')):.2f}×",
                 str(row.get("differ_from_ct2_float32", "—")), str(row["peak_mib"])]
        cells += [f"{row[f'bleu {n}']} / {row[f'chrf {n}']}" for n in names]
        print("| " + " | ".join(cells) + " |")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"machine": machine(), "threads": args.threads, "ctranslate2": version,
                       "run": args.run, "tag": args.tag, "sentences": sentences,
                       "startup_seconds": startups, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
