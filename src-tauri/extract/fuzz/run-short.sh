#!/bin/sh
# A short, bounded fuzz run of the extractor that CI can afford (default 45 s of fuzzing).
#
# cargo fuzz needs nightly-only compiler flags. With only a stable toolchain, RUSTC_BOOTSTRAP=1
# lets stable rustc accept them. The run starts from the golden corpus (copied, so the corpus in
# the repository is never modified) and fails on any crash, leaving the input in fuzz/artifacts.
#
# Usage: src-tauri/extract/fuzz/run-short.sh [SECONDS]
set -eu
SECONDS_TO_RUN="${1:-45}"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

SEEDS="$HERE/corpus/extract"
mkdir -p "$SEEDS"
cp "$ROOT"/tests/corpus/*.eml "$SEEDS"/ 2>/dev/null || true

cd "$HERE/.."
RUSTC_BOOTSTRAP=1 cargo fuzz run extract --fuzz-dir fuzz "$SEEDS" -- \
    -max_total_time="$SECONDS_TO_RUN" -max_len=262144 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
