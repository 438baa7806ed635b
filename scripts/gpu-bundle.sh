#!/usr/bin/env bash
# Packs, on this CPU machine, what a lent GPU machine needs and may lack into one ignored
# folder (default gpu-bundle/), to be carried there with the working tree (`carry`):
#
#   transformer-mt.xz   a release binary with wgpu and flex (not tch, whose libraries weigh
#                       gigabytes), stripped and compressed
#   data/*.tsv.xz       the corpora of config/default.json and config/prose.json, and the news
#                       dev set (../shared/data does not travel)
#   data/tatoeba-test.tsv  the Tatoeba part of the shipped model's test split
#   lib/libvulkan.so.1  this machine's Vulkan loader (the NVIDIA driver brings its own Vulkan
#                       driver, not always the loader)
#   MANIFEST            each file, its size and SHA-256, and the commit it was built from
#
# The shipped model and the configurations travel with the working tree itself. The folder
# must stay under --limit MiB (default 56: the 64 MiB that travel, with room to spare).
#
# Usage: scripts/gpu-bundle.sh [--output DIR] [--limit MIB] [--skip-build]
# (GPU_BUNDLE_TARGET_DIR: where it builds; GPU_BUNDLE_XZ_LEVEL: xz's level, default 6.)
set -euo pipefail

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

output=gpu-bundle
limit=56
build=1
while [ $# -gt 0 ]; do
    case "$1" in
        --output) output=${2:?--output needs a folder}; shift 2 ;;
        --limit) limit=${2:?--limit needs a number of MiB}; shift 2 ;;
        --skip-build) build=0; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "gpu-bundle.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
case "$limit" in
    ''|*[!0-9]*) echo "gpu-bundle.sh: --limit must be a whole number of MiB, got $limit" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
shared=${SHARED_DATA:-../shared/data}
target=${GPU_BUNDLE_TARGET_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/transformer-mt/target-bundle}
for tool in xz strip sha256sum; do
    command -v "$tool" > /dev/null || { echo "gpu-bundle.sh: needs $tool" >&2; exit 1; }
done
# awk reads to the end: an early `exit` would leave ldconfig writing into a closed pipe, and
# under pipefail its SIGPIPE would end this script without a word.
loader=$(ldconfig -p 2> /dev/null | awk '/libvulkan\.so\.1 .*x86-64/ && !found { print $NF; found = 1 }')
if [ -z "$loader" ] || [ ! -e "$loader" ]; then
    echo "gpu-bundle.sh: no Vulkan loader libvulkan.so.1 here (apt-get install libvulkan1)" >&2
    exit 1
fi
files=(tatoeba software docs help manuals kde)
for name in "${files[@]}"; do
    [ -f "$shared/$name.eng-por.tsv" ] || { echo "gpu-bundle.sh: $shared/$name.eng-por.tsv is missing" >&2; exit 1; }
done
[ -f "$shared/ntrex128.eng-por.dev.tsv" ] || { echo "gpu-bundle.sh: $shared/ntrex128.eng-por.dev.tsv is missing" >&2; exit 1; }

if [ "$build" = 1 ]; then
    # A target directory of its own: these features would otherwise rebuild the main one's.
    CARGO_TARGET_DIR="$target" cargo build --release --no-default-features --features wgpu,flex
fi
binary="$target/release/transformer-mt"
[ -x "$binary" ] || { echo "gpu-bundle.sh: no $binary: run without --skip-build" >&2; exit 1; }

# Built in a temporary folder beside the output, then renamed over it: an interrupted run
# leaves the previous bundle whole.
stage=$(mktemp -d "${output%/}.partial.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/data" "$stage/lib"
level=${GPU_BUNDLE_XZ_LEVEL:-6}
strip -o "$stage/transformer-mt" "$binary"
xz -T0 "-$level" "$stage/transformer-mt"
for name in "${files[@]}"; do
    xz -T0 "-$level" -c "$shared/$name.eng-por.tsv" > "$stage/data/$name.eng-por.tsv.xz"
done
xz -T0 "-$level" -c "$shared/ntrex128.eng-por.dev.tsv" > "$stage/data/ntrex128.eng-por.dev.tsv.xz"
"$binary" data split --config models/eng-por/config.json --data "$shared/tatoeba.eng-por.tsv" \
    --part test --output "$stage/data/tatoeba-test.tsv" > /dev/null
cp -L "$loader" "$stage/lib/libvulkan.so.1"

{
    echo "commit $(git rev-parse HEAD 2> /dev/null || echo unknown)$(git diff --quiet 2> /dev/null || echo ' (with changes)')"
    if [ "$build" = 1 ]; then
        echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m), features wgpu,flex"
    else
        echo "packed $(date -u +%Y-%m-%dT%H:%M:%SZ) on $(uname -m) from $binary, built before"
    fi
    (cd "$stage" && find . -type f ! -name MANIFEST | sort | while read -r f; do
        printf '%s %s %s\n' "$(stat -c %s "$f")" "$(sha256sum "$f" | cut -d' ' -f1)" "${f#./}"
    done)
} > "$stage/MANIFEST"

bytes=$(du -sb "$stage" | cut -f1)
mib=$(( (bytes + 1048575) / 1048576 ))
if [ "$mib" -gt "$limit" ]; then
    echo "gpu-bundle.sh: the bundle is $mib MiB, over the limit of $limit MiB" >&2
    exit 1
fi
rm -rf "$output"
mv "$stage" "$output"
trap - EXIT
echo "$output: $mib MiB ($bytes bytes) of at most $limit; carry it with the working tree: carry [\"$output\"]"
