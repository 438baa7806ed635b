#!/usr/bin/env bash
# Trains on a lent GPU machine, offline, from gpu-bundle/ (scripts/gpu-bundle.sh) carried with
# the working tree, and hands the model back through --out (there: $OUT), of which at most 8
# files of 16 MiB each come back. Then, here, --collect makes a model directory of them.
#
#   there: scripts/gpu-train.sh --out DIR [--config FILE] [--minutes N] [--backend NAME]
#                               [--init-from RUN] [--bundle DIR]
#   here:  scripts/gpu-train.sh --collect DIR --output RUN
#
# There, FILE (default config/prose.json, relative to the repository) trains on the backend
# (default wgpu) for at most N minutes (default 8), then is stopped as Ctrl-C stops it, which
# keeps every complete epoch. The last complete epoch goes to DIR as a model directory whose
# weights (32-bit) are split into parts of 15 MiB, with a MANIFEST of checksums and the
# training's output, train.out: its last line names the schedule's step, which a run continued
# with --init-from takes as `training.start_step`. --init-from starts from a carried run.
# Here, --collect checks the parts against the MANIFEST and joins them into RUN, a new model
# directory that `infer --run`, `eval --run` and `train --init-from` take.
set -uo pipefail

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}
fail() { echo "gpu-train.sh: $1" >&2; exit "${2:-1}"; }

out=
collect=
output=
config=config/prose.json
minutes=8
backend=wgpu
init_from=
bundle=gpu-bundle
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --collect) collect=${2:?--collect needs a folder}; shift 2 ;;
        --output) output=${2:?--output needs a folder}; shift 2 ;;
        --config) config=${2:?--config needs a file}; shift 2 ;;
        --minutes) minutes=${2:?--minutes needs a number}; shift 2 ;;
        --backend) backend=${2:?--backend needs a name}; shift 2 ;;
        --init-from) init_from=${2:?--init-from needs a run}; shift 2 ;;
        --bundle) bundle=${2:?--bundle needs a folder}; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) fail "unknown argument $1 (see --help)" 2 ;;
    esac
done
repo=$(cd "$(dirname "$0")/.." && pwd)
absolute() { case "$1" in /*) echo "$1" ;; *) echo "$repo/$1" ;; esac; }

# Here: the parts back into one model directory.
if [ -n "$collect" ]; then
    [ -n "$output" ] || fail "--collect needs --output RUN, the model directory to make" 2
    [ -f "$collect/MANIFEST" ] || fail "$collect/MANIFEST not found: not what gpu-train.sh --out wrote" 2
    if [ -e "$output" ] && [ -n "$(ls -A "$output" 2>/dev/null)" ]; then
        fail "$output exists and is not empty: name a new model directory" 2
    fi
    (cd "$collect" && grep -E '^[0-9a-f]{64}  ' MANIFEST | grep -v ' model\.bpk$' | sha256sum --check --quiet) \
        || fail "$collect: a file does not match its checksum in MANIFEST"
    partial="$output.partial.$$"
    trap 'rm -rf "$partial"' EXIT
    mkdir -p "$partial"
    cat $(ls "$collect"/model.bpk.part-* | sort -V) > "$partial/model.bpk"
    cp "$collect"/config.json "$collect"/model.json "$collect"/tokenizer.json "$partial/"
    whole=$(grep ' model\.bpk$' "$collect/MANIFEST" | cut -d' ' -f1)
    [ "$(sha256sum "$partial/model.bpk" | cut -d' ' -f1)" = "$whole" ] \
        || fail "$collect: the joined model.bpk does not match its checksum in MANIFEST"
    rmdir "$output" 2>/dev/null
    mv "$partial" "$output" || fail "cannot make $output"
    echo "joined $(ls "$collect"/model.bpk.part-* | wc -l) parts into $output: $(grep -h '^epoch ' "$collect/MANIFEST" || true)"
    grep -h '^schedule at step' "$collect/train.out" 2>/dev/null || true
    exit 0
fi

# There: train, then hand back the last complete epoch.
[ -n "$out" ] || fail "--out DIR or --collect DIR is required (see --help)" 2
case "$minutes" in
    ''|*[!0-9]*|0) fail "--minutes must be a whole number of minutes above 0, got $minutes" 2 ;;
esac
bundle=$(absolute "$bundle")
config=$(absolute "$config")
[ -f "$config" ] || fail "--config: $config not found" 2
init=()
if [ -n "$init_from" ]; then
    init_from=$(absolute "$init_from")
    [ -f "$init_from/model.bpk" ] || fail "--init-from: $init_from/model.bpk not found" 2
    init=(--init-from "$init_from")
fi
[ -f "$bundle/MANIFEST" ] || fail "$bundle/MANIFEST not found: make the bundle with scripts/gpu-bundle.sh and carry it" 2
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
bin="$work/transformer-mt"
source "$repo/scripts/gpu-common.sh"
gpu_layout
(unpack) || fail "the bundle did not unpack"

cd "$work/main"
echo "training $(basename "$config") on $backend for at most $minutes minutes" >&2
timeout --signal=INT --kill-after=120 $((minutes * 60)) \
    "$bin" train --backend "$backend" --config "$config" --run "$work/run" "${init[@]}" \
    > "$out/train.out" 2>&1
last=$(ls "$work/run/checkpoint" 2>/dev/null | sed -n 's/^model-\([0-9]*\)\.bpk$/\1/p' | sort -n | tail -1)
[ -n "$last" ] || fail "no epoch was complete after $minutes minutes: see $out/train.out"
"$bin" average --backend flex --run "$work/run" --epochs "$last" --output "$work/model" >&2 \
    || fail "could not export epoch $last"
split --bytes=15M --numeric-suffixes --suffix-length=1 "$work/model/model.bpk" "$out/model.bpk.part-"
cp "$work/model/config.json" "$work/model/model.json" "$work/model/tokenizer.json" "$out/"
(
    cd "$out"
    sha256sum model.bpk.part-* config.json model.json tokenizer.json
    (cd "$work/model" && sha256sum model.bpk)
) > "$out/MANIFEST.tmp"
echo "epoch $last of $(basename "$config") on $backend" >> "$out/MANIFEST.tmp"
mv "$out/MANIFEST.tmp" "$out/MANIFEST"
echo "gpu-train.sh: epoch $last in $out ($(ls "$out" | wc -l) files); here: scripts/gpu-train.sh --collect DIR --output RUN"
