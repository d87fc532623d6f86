#!/bin/sh
# A short, bounded fuzz run of the account-file import that CI can afford (default 30 s of
# fuzzing, after the build).
#
# cargo fuzz needs nightly-only compiler flags. With only a stable toolchain, RUSTC_BOOTSTRAP=1
# lets stable rustc accept them. The run starts from the seed files that seed.sh writes into
# fuzz/corpus/import (ignored by git) and fails on any crash, leaving the input in
# fuzz/artifacts/import; cargo fuzz prints its path and how to reproduce it.
#
# Usage: src-tauri/engine/fuzz/run-short.sh [SECONDS]
set -eu
SECONDS_TO_RUN="${1:-30}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
# The fuzz crates share one target dir, so what they have in common is built once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/fuzz}"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

SEEDS="$HERE/corpus/import"
sh "$HERE/seed.sh" "$SEEDS"

cd "$HERE/.."
RUSTC_BOOTSTRAP=1 cargo fuzz run import --fuzz-dir fuzz "$SEEDS" -- \
    -max_total_time="$SECONDS_TO_RUN" -max_len=65536 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
