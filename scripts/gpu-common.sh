# Shared by scripts/gpu-check.sh and scripts/gpu-train.sh (sourced, with `bundle`, `work`,
# `repo` and `bin` set): the layout both run in, and the bundle's unpacking.

# WORK/main holds links to the repository's configurations and models, WORK/shared/data the
# corpora: a layout in which the configurations' `../shared/data/...` paths resolve.
gpu_layout() {
    mkdir -p "$work/main" "$work/shared/data"
    ln -s "$repo/config" "$work/main/config"
    ln -s "$repo/models" "$work/main/models"
    export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$work}
    # This machine's Vulkan loader first; the bundle's where there is none.
    export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:+$LD_LIBRARY_PATH:}$bundle/lib"
}

# Checks the bundle against its MANIFEST and unpacks the binary and the corpora.
unpack() {
    set -e
    (cd "$bundle" && sed -n '3,$p' MANIFEST | while read -r size sum file; do
        echo "$sum  $file"
    done | sha256sum --check --quiet)
    xz -dc "$bundle/transformer-mt.xz" > "$bin"
    chmod +x "$bin"
    for file in "$bundle"/data/*.tsv.xz; do
        name=$(basename "$file" .xz)
        xz -dc "$file" > "$work/shared/data/$name"
    done
    cp "$bundle/data/tatoeba-test.tsv" "$work/tatoeba-test.tsv"
    echo "result: $(du -sh "$work" | cut -f1) unpacked, checksums match"
}
