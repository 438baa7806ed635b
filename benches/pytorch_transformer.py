"""The Rust `bench` (src/bench.rs) in eager PyTorch: the same Transformer, shape and measures.

    bash scripts/setup-pytorch.sh                                  # once: makes .venv-bench/
    .venv-bench/bin/python benches/pytorch_transformer.py          # a table
    .venv-bench/bin/python benches/pytorch_transformer.py --json   # one JSON object

d_model 256, 8 heads, d_ff 1024, 3 + 3 post-norm layers, dropout 0.1, one embedding of 8000
tokens shared by source, target and the (tied) generator. Training step: 64 sentences of 24
source and 24 target random tokens, label smoothing 0.1, Adam. Greedy decoding: the naive
loop of PyTorch's translation tutorial (the decoder reruns over the whole prefix at every
step), exactly 24 new tokens for 24-token sources, at batch 1 and 32. Each figure is the
median of timed runs after warm-up runs.
"""
import argparse
import json
import math
import resource
import statistics
import sys
import time
import warnings

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")  # not installed, not needed
import torch
import torch.nn as nn
import torch.nn.functional as F

VOCAB, D_MODEL, N_HEADS, D_FF, LAYERS, DROPOUT = 8000, 256, 8, 1024, 3, 0.1
BATCH, LEN, NEW_TOKENS, DECODE_BATCHES = 64, 24, 24, (1, 32)
LABEL_SMOOTHING, BOS = 0.1, 2


class Seq2Seq(nn.Module):
    def __init__(self, max_len=128):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, D_MODEL)
        self.transformer = nn.Transformer(
            d_model=D_MODEL, nhead=N_HEADS, num_encoder_layers=LAYERS, num_decoder_layers=LAYERS,
            dim_feedforward=D_FF, dropout=DROPOUT, activation="relu", batch_first=True, norm_first=False)
        self.generator = nn.Linear(D_MODEL, VOCAB)
        self.generator.weight = self.embed.weight  # tied
        self.dropout = nn.Dropout(DROPOUT)
        pos = torch.arange(max_len).unsqueeze(1)
        freq = torch.exp(torch.arange(0, D_MODEL, 2) * (-math.log(10000.0) / D_MODEL))
        pe = torch.zeros(max_len, D_MODEL)
        pe[:, 0::2], pe[:, 1::2] = torch.sin(pos * freq), torch.cos(pos * freq)
        self.register_buffer("pe", pe)

    def embed_tokens(self, tokens):
        return self.dropout(self.embed(tokens) * math.sqrt(D_MODEL) + self.pe[: tokens.size(1)])

    def encode(self, src):
        return self.transformer.encoder(self.embed_tokens(src))

    def decode(self, tgt, memory):
        mask = nn.Transformer.generate_square_subsequent_mask(tgt.size(1))
        return self.transformer.decoder(self.embed_tokens(tgt), memory, tgt_mask=mask, tgt_is_causal=True)

    def forward(self, src, tgt):
        return self.generator(self.decode(tgt, self.encode(src)))


@torch.no_grad()
def greedy(model, src, new_tokens):
    """The tutorial's greedy_decode, batched, never stopping at an end token."""
    memory = model.encode(src)
    ys = torch.full((src.size(0), 1), BOS, dtype=torch.long)
    for _ in range(new_tokens):
        next_token = model.generator(model.decode(ys, memory)[:, -1]).argmax(dim=-1, keepdim=True)
        ys = torch.cat([ys, next_token], dim=1)
    return ys[:, 1:]


def forward_flops(b=BATCH, s=LEN, t=LEN, d=D_MODEL, d_ff=D_FF, v=VOCAB, layers=LAYERS):
    """Matmul FLOPs (multiply-add = 2) of one training forward pass, as src/bench.rs counts them."""
    encoder = 4 * 2 * b * s * d**2 + 2 * 2 * b * s**2 * d + 2 * 2 * b * s * d * d_ff
    decoder = (4 * 2 * b * t * d**2 + 2 * 2 * b * t**2 * d  # self-attention
               + 2 * 2 * b * t * d**2 + 2 * 2 * b * s * d**2 + 2 * 2 * b * t * s * d  # cross-attention
               + 2 * 2 * b * t * d * d_ff)
    return layers * (encoder + decoder) + 2 * b * t * d * v


def median_seconds(fn, warmup, runs):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(max(runs, 1)):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    p.add_argument("--train-warmup", type=int, default=3)
    p.add_argument("--train-runs", type=int, default=10)
    p.add_argument("--decode-warmup", type=int, default=2)
    p.add_argument("--decode-runs", type=int, default=5)
    p.add_argument("--threads", type=int, help="torch.set_num_threads (default: PyTorch's, all cores)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    model = Seq2Seq()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4, betas=(0.9, 0.98), eps=1e-9)
    src = torch.randint(4, VOCAB, (BATCH, LEN))
    tgt = torch.cat([torch.full((BATCH, 1), BOS), torch.randint(4, VOCAB, (BATCH, LEN))], dim=1)
    tgt_in, labels = tgt[:, :-1], tgt[:, 1:]

    def train_step():
        optimizer.zero_grad(set_to_none=True)
        logits = model(src, tgt_in)
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1), label_smoothing=LABEL_SMOOTHING)
        loss.backward()
        optimizer.step()

    model.train()
    step = median_seconds(train_step, args.train_warmup, args.train_runs)
    flops = 3 * forward_flops()
    train = {"step_seconds": step, "tokens_per_second": BATCH * LEN / step, "gflops": flops / step / 1e9,
             "flops_per_step": flops, "peak_rss_mib": peak_rss_mib()}

    model.eval()
    greedy_figures = {}
    for batch in DECODE_BATCHES:
        src_b = torch.randint(4, VOCAB, (batch, LEN))
        seconds = median_seconds(lambda: greedy(model, src_b, NEW_TOKENS), args.decode_warmup, args.decode_runs)
        greedy_figures[f"batch_{batch}"] = {"uncached_tokens_per_second": batch * NEW_TOKENS / seconds}

    report = {
        "framework": "pytorch", "version": torch.__version__.split("+")[0], "threads": torch.get_num_threads(),
        "shape": {"d_model": D_MODEL, "n_heads": N_HEADS, "d_ff": D_FF, "encoder_layers": LAYERS,
                  "decoder_layers": LAYERS, "vocab": VOCAB, "batch": BATCH, "src_len": LEN, "tgt_len": LEN,
                  "dropout": DROPOUT, "label_smoothing": LABEL_SMOOTHING, "optimizer": "adam",
                  "decode_batches": list(DECODE_BATCHES), "new_tokens": NEW_TOKENS, "train_flops_per_step": flops},
        "runs": {k: v for k, v in vars(args).items() if k != "json"},
        "train": train, "greedy": greedy_figures, "peak_rss_mib": peak_rss_mib(),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"PyTorch {torch.__version__}, eager, CPU, {report['threads']} threads "
          f"({torch.backends.mkl.is_available() and 'MKL' or 'no MKL'})")
    print(f"training step, {BATCH} x {LEN} + {LEN} tokens (median of {args.train_runs} after {args.train_warmup} warm-up):")
    print(f"  {step:.3f} s  {train['tokens_per_second']:.0f} target tok/s  "
          f"{train['gflops']:.1f} GFLOP/s ({flops / 1e9:.2f} GFLOP a step)  peak RSS {train['peak_rss_mib']:.0f} MiB")
    print(f"greedy, naive loop, {NEW_TOKENS} new tokens (median of {args.decode_runs} after {args.decode_warmup} warm-up):")
    for name, figures in greedy_figures.items():
        print(f"  {name.replace('_', ' ')}: {figures['uncached_tokens_per_second']:.0f} new tok/s")
    print(f"peak RSS after everything: {report['peak_rss_mib']:.0f} MiB")


if __name__ == "__main__":
    sys.exit(main())
