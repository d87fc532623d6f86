#!/usr/bin/env bash
# A longer fuzz campaign than CI's short run, for a developer's machine: each target fuzzes
# for the given time (default 10 minutes), then a summary per target: executions, executions
# per second, coverage (libFuzzer's cov: and ft: at the end), the corpus, and the crashes.
#
# The corpus of each target stays in its fuzz crate (fuzz/corpus/TARGET, ignored by git) and
# grows from one campaign to the next; it starts from the same seeds as CI's short run. A
# crash does not end a target's time: its input is kept in fuzz/artifacts/TARGET (and taken
# out of the corpus if it was there), and fuzzing starts again for the time left, at most 20
# runs a target. Each run's libFuzzer output is kept in a log folder, printed at the end.
# Exits 1 if any target crashed.
#
# Needs cargo-fuzz (cargo install cargo-fuzz --locked); with only a stable toolchain,
# RUSTC_BOOTSTRAP=1 lets stable rustc accept its nightly-only flags.
#
# Usage: tests/fuzz/campaign.sh [SECONDS_PER_TARGET] [TARGET...]   (targets: extract import)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
SECONDS_PER_TARGET="${1:-600}"
shift || true
TARGETS=("$@")
[ "${#TARGETS[@]}" -gt 0 ] || TARGETS=(extract import)
# The fuzz crates share one target dir, so what they have in common is built once.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$ROOT/target/fuzz}"
export RUSTC_BOOTSTRAP=1

case "$SECONDS_PER_TARGET" in
    '' | *[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET] [TARGET...]" >&2; exit 2 ;;
esac
if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "cargo-fuzz is missing: cargo install cargo-fuzz --locked" >&2
    exit 2
fi

# Where each target lives, how its seeds are made, and its libFuzzer options.
crate_of() {
    case "$1" in
        extract) echo "$ROOT/src-tauri/extract/fuzz" ;;
        import) echo "$ROOT/src-tauri/engine/fuzz" ;;
        *) echo "unknown target $1: use extract or import" >&2; exit 2 ;;
    esac
}
seed() {
    local corpus="$2"
    mkdir -p "$corpus"
    case "$1" in
        extract) cp "$ROOT"/tests/corpus/*.eml "$corpus"/ 2>/dev/null || true ;;
        import) sh "$ROOT/src-tauri/engine/fuzz/seed.sh" "$corpus" ;;
    esac
}
options_of() {
    case "$1" in
        extract) echo "-max_len=262144" ;;
        import) echo "-max_len=65536" ;;
    esac
}

LOGS="$(mktemp -d "${TMPDIR:-/tmp}/mailwatch-fuzz.XXXXXX")"
summary=()
crashed=0

for target in "${TARGETS[@]}"; do
    crate="$(crate_of "$target")"
    corpus="$crate/corpus/$target"
    seed "$target" "$corpus"
    echo "== $target: building"
    (cd "$crate/.." && cargo fuzz build "$target" --fuzz-dir fuzz)

    echo "== $target: fuzzing for $SECONDS_PER_TARGET s (logs in $LOGS)"
    start=$(date +%s)
    runs=0
    crashes=()
    while :; do
        left=$((SECONDS_PER_TARGET - ($(date +%s) - start)))
        [ "$left" -gt 0 ] && [ "$runs" -lt 20 ] || break
        runs=$((runs + 1))
        log="$LOGS/$target-$runs.log"
        # shellcheck disable=SC2046 # the options are words
        if (cd "$crate/.." && cargo fuzz run "$target" --fuzz-dir fuzz "$corpus" -- \
            -max_total_time="$left" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
            $(options_of "$target")) >"$log" 2>&1; then
            break
        fi
        found=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | grep -v '/slow-unit-' || true)
        if [ -z "$found" ]; then
            echo "$target: libFuzzer stopped without a crash input; see $log" >&2
            tail -n 20 "$log" >&2
            crashes+=("(no input written: see $log)")
            break
        fi
        while IFS= read -r path; do
            case "$path" in /*) ;; *) path="$crate/../$path" ;; esac
            path="$(cd "$(dirname "$path")" && pwd)/$(basename "$path")"
            # An input of the corpus that crashes would end every run as it starts: it goes,
            # found by its content (seeds are not named by their hash as other inputs are).
            find "$corpus" -type f -size "$(wc -c <"$path")c" -exec cmp -s "$path" {} \; -delete
            case " ${crashes[*]-} " in *" $path "*) continue ;; esac
            crashes+=("$path")
            echo "$target: crash, input kept in $path"
        done <<<"$found"
    done
    elapsed=$(($(date +%s) - start))

    # Executions and time fuzzing, summed over the runs; cov and ft from the last status line.
    read -r execs rate < <(cat "$LOGS/$target"-*.log | awk '
        /^stat::number_of_executed_units:/ { n = $2; total += n }
        /^stat::average_exec_per_sec:/ { if ($2 > 0) secs += n / $2 }
        END { printf "%d %d\n", total, (secs > 0 ? total / secs : 0) }')
    status=""
    for ((n = runs; n > 0 && ${#status} == 0; n--)); do
        status=$(grep -h -E '^#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$LOGS/$target-$n.log" | tail -n 1 || true)
    done
    cov=$(sed -n 's/.* cov: \([0-9]*\) .*/\1/p' <<<"$status")
    ft=$(sed -n 's/.* ft: \([0-9]*\) .*/\1/p' <<<"$status")
    files=$(find "$corpus" -type f | wc -l)
    kib=$(find "$corpus" -type f -printf '%s\n' | awk '{ s += $1 } END { printf "%d", s / 1024 }')
    [ "${#crashes[@]}" -eq 0 ] || crashed=1

    summary+=("== $target ($SECONDS_PER_TARGET s asked, ${elapsed} s spent in $runs run(s))")
    summary+=("executions: $execs ($rate/s)")
    summary+=("coverage: cov ${cov:-?}, ft ${ft:-?}")
    summary+=("corpus: $files files, $kib KiB in ${corpus#"$ROOT"/}")
    if [ "${#crashes[@]}" -eq 0 ]; then
        summary+=("crashes: none")
    else
        summary+=("crashes: ${#crashes[@]}")
        for c in "${crashes[@]}"; do summary+=("  $c"); done
    fi
done

echo
printf '%s\n' "${summary[@]}"
echo "logs: $LOGS"
exit "$crashed"
