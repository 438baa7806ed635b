#!/usr/bin/env bash
# Proves "any GPU" on a lent GPU machine, offline, from gpu-bundle/ (scripts/gpu-bundle.sh)
# carried with the working tree. Writes into --out (there: $OUT) a report, report.md and
# report.json, rewritten after every step so that each result stays even if a later step
# fails or the machine is taken back, and each step's full output as STEP.log:
#
#   system     nvidia-smi, the Vulkan devices, `transformer-mt backends` (auto must take wgpu)
#   translate  the shipped model on the Tatoeba test part, greedy, on the backend and on flex:
#              BLEU of each (equal within 0.1) and the share of lines that differ
#   bench      `bench` on the backend and on flex: training tokens/s, greedy batch 1 and 32
#   tiny       config/tiny.json trained 2 epochs on the backend, resumed to 3: the loss falls
#   slice      config/default.json trained on the backend for a fixed time: its tokens/s
#              (--quick: in batches of 512 tokens)
#   devices    `train --devices 2` needs a second GPU: noted when there is one
#
# Each step has its own time limit, and a step that would start after --budget seconds is
# skipped. --quick (the rehearsal on a CPU machine's software adapter) takes smaller slices.
#
# Usage: scripts/gpu-check.sh --out DIR [--bundle DIR] [--backend NAME] [--budget SECONDS] [--quick]
set -uo pipefail

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

out=
bundle=gpu-bundle
backend=wgpu
budget=480
quick=0
while [ $# -gt 0 ]; do
    case "$1" in
        --out) out=${2:?--out needs a folder}; shift 2 ;;
        --bundle) bundle=${2:?--bundle needs a folder}; shift 2 ;;
        --backend) backend=${2:?--backend needs a name}; shift 2 ;;
        --budget) budget=${2:?--budget needs seconds}; shift 2 ;;
        --quick) quick=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu-check.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
[ -n "$out" ] || { echo "gpu-check.sh: --out DIR is required (see --help)" >&2; exit 2; }
case "$budget" in
    ''|*[!0-9]*) echo "gpu-check.sh: --budget must be a whole number of seconds, got $budget" >&2; exit 2 ;;
esac
repo=$(cd "$(dirname "$0")/.." && pwd)
case "$bundle" in /*) ;; *) bundle="$repo/$bundle" ;; esac
[ -f "$bundle/MANIFEST" ] || { echo "gpu-check.sh: $bundle/MANIFEST not found: make the bundle with scripts/gpu-bundle.sh and carry it" >&2; exit 2; }
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)

started=$(date +%s)
results="$out/results.tsv"
: > "$results"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

bin="$work/transformer-mt"
source "$repo/scripts/gpu-common.sh"
gpu_layout

json_string() {
    printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g; s/\t/\\t/g' | awk 'BEGIN { ORS = "" } NR > 1 { print "\\n" } { print }'
}

# Rewrites report.md and report.json from results.tsv (name, status, seconds, summary).
report() {
    {
        echo "# GPU check, $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo
        echo "bundle: $(head -1 "$bundle/MANIFEST"); backend $backend; quick $quick; budget $budget s"
        echo
        echo "| step | status | seconds | result |"
        echo "|---|---|---|---|"
        while IFS=$'\t' read -r name status seconds summary; do
            echo "| $name | $status | $seconds | $summary |"
        done < "$results"
    } > "$out/report.md.tmp" && mv "$out/report.md.tmp" "$out/report.md"
    {
        printf '{"backend": "%s", "quick": %s, "budget_s": %s, "bundle": "%s", "steps": [' \
            "$(json_string "$backend")" "$quick" "$budget" "$(json_string "$(head -1 "$bundle/MANIFEST")")"
        first=1
        while IFS=$'\t' read -r name status seconds summary; do
            [ "$first" = 1 ] || printf ', '
            first=0
            printf '{"step": "%s", "status": "%s", "seconds": %s, "result": "%s"}' \
                "$(json_string "$name")" "$status" "$seconds" "$(json_string "$summary")"
        done < "$results"
        printf ']}\n'
    } > "$out/report.json.tmp" && mv "$out/report.json.tmp" "$out/report.json"
}

# step NAME LIMIT FUNCTION: runs FUNCTION under LIMIT seconds (a budget left permitting), its
# output in NAME.log; FUNCTION's last line of standard output, prefixed `result: `, is the
# step's result.
step() {
    local name=$1 limit=$2 function=$3 begin status summary
    begin=$(date +%s)
    if [ $((begin - started + limit / 2)) -gt "$budget" ]; then
        printf '%s\tskipped\t0\tno time left in the budget of %s s\n' "$name" "$budget" >> "$results"
        report
        return
    fi
    timeout --kill-after=10 "$limit" bash -c "$(declare -f "$function"); $(declare -p bin backend quick work repo bundle out 2>/dev/null); $function" > "$out/$name.log" 2>&1
    case $? in
        0) status=ok ;;
        124|137) status="timed out after $limit s" ;;
        *) status=failed ;;
    esac
    summary=$(grep '^result: ' "$out/$name.log" | tail -1 | sed 's/^result: //' | tr '\t|' '  ')
    [ -n "$summary" ] || summary=$(tail -1 "$out/$name.log" | tr '\t|' '  ' | cut -c1-200)
    printf '%s\t%s\t%s\t%s\n' "$name" "$status" "$(($(date +%s) - begin))" "$summary" >> "$results"
    report
}

system() {
    if command -v nvidia-smi > /dev/null; then nvidia-smi; else echo "nvidia-smi: not found"; fi
    if command -v vulkaninfo > /dev/null; then vulkaninfo --summary; else echo "vulkaninfo: not installed"; fi
    "$bin" backends || exit 1
    auto=$("$bin" backends | sed -n 's/^auto: //p')
    gpus=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU' || true)
    echo "result: auto takes $auto; $gpus NVIDIA GPU(s); $("$bin" backends | grep -c '^  adapter: ') wgpu adapter(s)"
    [ "$auto" = wgpu ] || [ "$quick" = 1 ]
}

translate() {
    set -e
    cd "$work/main"
    test_file="$work/tatoeba-test.tsv"
    if [ "$quick" = 1 ]; then head -100 "$test_file" > "$work/test-slice.tsv"; test_file="$work/test-slice.tsv"; fi
    for b in "$backend" flex; do
        "$bin" eval --backend "$b" --run models/eng-por --test "$test_file" --beam 1 --json --output "$work/eval-$b" > "$work/eval-$b.json"
        echo "$b: $(cat "$work/eval-$b.json")"
    done
    stem=$(basename "$test_file" .tsv)
    lines=$(wc -l < "$work/eval-flex/$stem.hyp")
    differing=$(paste -d '\n' "$work/eval-$backend/$stem.hyp" "$work/eval-flex/$stem.hyp" | paste - - | awk -F'\t' '$1 != $2' | wc -l)
    # The first score, read to the end of the file (no pipe closed early under pipefail).
    bleu() { awk 'match($0, /"score": *[0-9.]+/) && !found { s = substr($0, RSTART, RLENGTH); sub(/.*: */, "", s); print s; found = 1 }' "$1"; }
    b1=$(bleu "$work/eval-$backend.json"); b2=$(bleu "$work/eval-flex.json")
    equal=$(awk -v a="$b1" -v b="$b2" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d <= 0.1) ? "yes" : "no" }')
    echo "result: BLEU $backend $b1, flex $b2 (within 0.1: $equal); $differing of $lines greedy lines differ"
    [ "$equal" = yes ]
}

bench() {
    set -e
    runs=(--warmup 1 --train-runs 3 --decode-runs 3)
    [ "$quick" = 1 ] && runs=(--warmup 1 --train-runs 1 --decode-runs 1)
    line=""
    for b in "$backend" flex; do
        "$bin" bench --backend "$b" "${runs[@]}" > "$work/bench-$b.txt"
        cat "$work/bench-$b.txt"
        row=$(grep "^| $b |" "$work/bench-$b.txt")
        # | backend | step s | train tok/s | GFLOP/s | b1 cached | b1 uncached | b32 cached | b32 uncached | peak MiB |
        line="$line$b: $(echo "$row" | awk -F'|' '{ gsub(/ /, ""); print "train " $4 " tok/s, greedy b1 " $6 ", b32 " $8 " tok/s" }'); "
    done
    echo "result: $line"
}

tiny() {
    set -e
    cd "$work/main"
    pairs=4000
    [ "$quick" = 1 ] && pairs=300
    "$bin" data synthetic --output "$work/numbers.tsv" --pairs "$pairs" > /dev/null
    "$bin" train --backend "$backend" --config config/tiny.json --data "$work/numbers.tsv" --run "$work/tiny" --epochs 2
    "$bin" train --backend "$backend" --run "$work/tiny" --epochs 3 --resume
    loss() { tail -1 "$work/tiny/valid/epoch-$1/Loss.log" | cut -d, -f1; }
    first=$(loss 1); last=$(loss 3)
    falls=$(awk -v a="$first" -v b="$last" 'BEGIN { print (b < a) ? "yes" : "no" }')
    echo "result: validation loss $first after epoch 1, $last after epoch 3 (resumed after 2): falls $falls"
    [ "$falls" = yes ]
}

slice() {
    cd "$work/main"
    seconds=180
    config=config/default.json
    if [ "$quick" = 1 ]; then
        # A software adapter takes minutes over the first step of 4,096-token batches.
        seconds=150
        config="$work/main/slice.json"
        sed 's/"max_tokens": 4096/"max_tokens": 512/' config/default.json > "$config"
    fi
    timeout "$seconds" "$bin" train --backend "$backend" --config "$config" --run "$work/slice" --epochs 1 > "$work/slice.txt" 2>&1
    cat "$work/slice.txt"
    speed=$(grep ' · train ' "$work/slice.txt" | tail -1 | grep -o 'speed [0-9.]* tok/s' || true)
    progress=$(grep ' · train ' "$work/slice.txt" | tail -1 | grep -o '([0-9]*/[0-9]* batches)' || true)
    echo "result: $(basename "$config") for ${seconds} s on $backend: ${speed:-no training step reached} ${progress}"
    [ -n "$speed" ]
}

devices() {
    gpus=$(nvidia-smi -L 2> /dev/null | grep -c '^GPU' || true)
    if [ "${gpus:-0}" -ge 2 ]; then
        cd "$work/main"
        "$bin" data synthetic --output "$work/numbers.tsv" --pairs 2000 > /dev/null
        "$bin" train --backend "$backend" --devices 2 --config config/tiny.json --data "$work/numbers.tsv" --run "$work/two" --epochs 1
        echo "result: trained an epoch data-parallel on 2 of $gpus GPUs"
    else
        echo "result: not applicable: ${gpus:-0} NVIDIA GPU here, --devices 2 needs two"
    fi
}

step unpack 120 unpack
if ! grep -q $'^unpack\tok' "$results"; then
    echo "gpu-check.sh: the bundle did not unpack: $out/unpack.log" >&2
    exit 1
fi
step system 60 system
step translate 150 translate
step bench 240 bench
step tiny 150 tiny
step slice 240 slice
step devices 60 devices
echo "gpu-check.sh: $(($(date +%s) - started)) s; report in $out/report.md"
cat "$out/report.md"
! grep -qv $'\tok\t' "$results"
