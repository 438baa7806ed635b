# Source this (`source scripts/build-env.sh`) before building by hand, as `.ci/run` does:
# it puts the build and libtorch at one fixed place on the machine, outside any clone, so
# that every clone (CI's included) reuses what any other one has compiled. Cargo keys a
# dependency's build on its features and profile, not on the clone it is built for; torch-sys
# also keys on LIBTORCH's value, so libtorch must not move either. Variables already set win.
cache="${XDG_CACHE_HOME:-$HOME/.cache}/transformer-mt"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$cache/target}"
export LIBTORCH="${LIBTORCH:-$cache/libtorch-cpu}"
unset cache
