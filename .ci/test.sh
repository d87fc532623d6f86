#!/usr/bin/env bash
# Runs every test of Mailwatch: build, the unit and integration tests (inside a private D-Bus
# session with an unlocked gnome-keyring, against Dovecot on loopback), the desktop app's
# smoke test under Xvfb, and a short fuzz run of the extractor. Ends with one summary line.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$HOME/.cargo/bin:$PATH" CARGO_TERM_COLOR=never RUST_BACKTRACE=1
log="$(mktemp)"
trap 'rm -f "$log" "$log.ui"' EXIT
failed_steps=()
step() {
  local name="$1"; shift
  echo "== $name"
  if ! "$@"; then
    failed_steps+=("$name")
  fi
}

step "build" cargo build --workspace --all-targets
# Under Xvfb with dunst, so the app's window tests (tests/app/window.rs) have a display and a
# notification server; the other tests do not notice.
step "tests" bash -c 'MAILWATCH_WITH_X=1 tests/testbed/with-session.sh cargo test --workspace --no-fail-fast 2>&1 | tee "$0"; exit "${PIPESTATUS[0]}"' "$log"
step "ui unit tests" bash -c 'node --test tests/ui 2>&1 | tee "$0.ui"; exit "${PIPESTATUS[0]}"' "$log"
step "app smoke test" env MAILWATCH_WITH_X=0 tests/testbed/with-session.sh tests/app/smoke.sh "${CARGO_TARGET_DIR:-target}/debug/mailwatch"
step "fuzz (short run)" src-tauri/extract/fuzz/run-short.sh "${MAILWATCH_FUZZ_SECONDS:-30}"

passed=$(grep -o 'test result: [a-zA-Z]*\. [0-9]* passed' "$log" | awk '{s += $4} END {print s + 0}')
failed=$(grep -o '; [0-9]* failed' "$log" | awk '{s += $2} END {print s + 0}')
# node's runner ends with "# pass N" and "# fail N".
passed=$((passed + $(awk '/^# pass /{print $3}' "$log.ui" 2>/dev/null | tail -1 || true) + 0))
failed=$((failed + $(awk '/^# fail /{print $3}' "$log.ui" 2>/dev/null | tail -1 || true) + 0))
for s in "app smoke test" "fuzz (short run)"; do
  if printf '%s\n' "${failed_steps[@]}" | grep -qx "$s"; then failed=$((failed + 1)); else passed=$((passed + 1)); fi
done
if [ "${#failed_steps[@]}" -gt 0 ]; then
  echo "failed steps: ${failed_steps[*]}"
  if printf '%s\n' "${failed_steps[@]}" | grep -qx "build"; then failed=$((failed + 1)); fi
fi
echo "mailwatch: $passed passed, $failed failed"
[ "${#failed_steps[@]}" -eq 0 ]
