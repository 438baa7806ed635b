#!/usr/bin/env python3
"""The FreeDict English–Portuguese dictionary as word pairs for training (issue #40, step 4).

    apt-get install dict-freedict-eng-por      # GPL-2+, 15,766 headwords, from Ergane
    python3 scripts/freedict-pairs.py data/freedict.eng-por.tsv

Reads the dictd files the package installs (`/usr/share/dictd/freedict-eng-por.index` and
`.dict.dz`; `--dict STEM` names others) and writes `english<TAB>portuguese` lines: for each
headword, the first rendering of each of its senses ("budget" → "orçamento", "fazer
orçamento"), at most `--senses` of them (default 2), headwords of letters, spaces and
hyphens only. The output is written to a temporary file renamed over OUTPUT once whole; the
corpus stays outside the repository (data/ is ignored), as every corpus here does.
"""
import argparse
import gzip
import os
import re
import sys

# dictd's base64 digits for offsets and lengths in the index.
DIGITS = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def number(text):
    value = 0
    for digit in text:
        value = value * 64 + DIGITS.index(digit)
    return value


def senses(body):
    """The renderings of an entry's body, one list per sense: `1. a, b` lines, or one line."""
    lines = [line.strip() for line in body.splitlines()[1:] if line.strip()]
    numbered = [re.sub(r"^\d+\.\s*", "", line) for line in lines if re.match(r"^\d+\.", line)]
    for sense in numbered or lines[:1]:
        yield [part.strip() for part in sense.split(",") if part.strip()]


def pairs(stem, most):
    with open(stem + ".index", encoding="utf-8") as index:
        entries = [line.rstrip("\n").split("\t") for line in index]
    data = gzip.open(stem + ".dict.dz").read()
    for headword, offset, length in entries:
        if headword.startswith("00-") or not re.fullmatch(r"[A-Za-z][A-Za-z \-]*", headword):
            continue
        start = number(offset)
        body = data[start:start + number(length)].decode("utf-8")
        for sense in list(senses(body))[:most]:
            rendering = sense[0]
            if rendering and "\t" not in rendering and not re.search(r"[<>/()\[\]]", rendering):
                yield headword, rendering


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("output")
    parser.add_argument("--dict", default="/usr/share/dictd/freedict-eng-por")
    parser.add_argument("--senses", type=int, default=2)
    args = parser.parse_args()
    if not os.path.exists(args.dict + ".index"):
        sys.exit(f"{args.dict}.index: not found; install the dictionary: "
                 "apt-get install dict-freedict-eng-por")
    os.makedirs(os.path.dirname(os.path.abspath(args.output)), exist_ok=True)
    temporary = args.output + ".partial"
    count = 0
    with open(temporary, "w", encoding="utf-8") as out:
        for english, portuguese in pairs(args.dict, args.senses):
            out.write(f"{english}\t{portuguese}\n")
            count += 1
    os.replace(temporary, args.output)
    print(f"wrote {count} word pairs to {args.output}")


if __name__ == "__main__":
    main()
