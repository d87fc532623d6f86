#!/usr/bin/env bash
# Smoke test for the desktop app. Builds nothing: pass the binary as $1, or it uses
# target/debug/mailwatch (build it first with `cargo build -p mailwatch`).
#
#   tests/app/smoke.sh [path/to/mailwatch]
#
# Checks:
#   1. Under a private Xvfb display, with an empty data dir, a window named exactly
#      "Mailwatch" appears within 20 s (MAILWATCH_SMOKE_WINDOW_TIMEOUT) and the app is still
#      running after it has rendered; a screenshot goes to tests/artifacts/app-smoke.png.
#   2. With DISPLAY and WAYLAND_DISPLAY unset, the app prints a clear sentence and exits 1
#      instead of panicking in GTK (exit 101).
#
# Needs: Xvfb, xdotool, ImageMagick's import (apt: xvfb xdotool imagemagick).
set -uo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
bin="${1:-$root/target/debug/mailwatch}"
artifacts="$root/tests/artifacts"
window_timeout=${MAILWATCH_SMOKE_WINDOW_TIMEOUT:-20}
passed=0
failed=0

work="$(mktemp -d)"
xvfb_pid=""
app_pid=""

cleanup() {
  [ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null
  [ -n "$xvfb_pid" ] && kill "$xvfb_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

pass() { passed=$((passed + 1)); echo "ok   - $1"; }
fail() {
  failed=$((failed + 1))
  echo "FAIL - $1"
  shift
  for f in "$@"; do
    [ -s "$f" ] || continue
    echo "  --- $(basename "$f") (last 40 lines) ---"
    tail -n 40 "$f" | sed 's/^/  | /'
  done
}

now_ms() { date +%s%3N; }

for tool in Xvfb xdotool import; do
  if ! command -v "$tool" >/dev/null; then
    echo "app smoke: needs $tool (apt install xvfb xdotool imagemagick)" >&2
    exit 2
  fi
done
if [ ! -x "$bin" ]; then
  echo "app smoke: no app binary at $bin; build it with 'cargo build -p mailwatch' or pass its path" >&2
  exit 2
fi
mkdir -p "$artifacts"

# Runs the app with its own data, cache and config dirs so the test touches nothing of the
# user's and starts from an empty account list.
app_env=(
  MAILWATCH_DATA_DIR="$work/data"
  XDG_DATA_HOME="$work/xdg/data"
  XDG_CONFIG_HOME="$work/xdg/config"
  XDG_CACHE_HOME="$work/xdg/cache"
  RUST_BACKTRACE=1
)
mkdir -p "$work/data" "$work/xdg"

# Every named window on the display, to show what was there instead.
window_names() {
  local id ids
  ids="$(xdotool search --name '.' 2>/dev/null)"
  [ -n "$ids" ] || echo "(no named windows on the display)"
  for id in $ids; do
    echo "window $id: $(xdotool getwindowname "$id" 2>/dev/null)"
  done
}

check_window() {
  # -displayfd: Xvfb picks a free display itself and writes its number once it is ready.
  local display=""
  exec 3>"$work/display"
  Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >"$work/xvfb.log" 2>&1 &
  xvfb_pid=$!
  exec 3>&-
  for _ in $(seq 50); do
    [ -s "$work/display" ] && break
    sleep 0.1
  done
  display="$(tr -d '[:space:]' <"$work/display")"
  if [ -z "$display" ]; then
    fail "window: Xvfb did not start within 5 s" "$work/xvfb.log"
    return
  fi

  local started elapsed
  started="$(now_ms)"
  env -u WAYLAND_DISPLAY DISPLAY=":$display" "${app_env[@]}" "$bin" >"$work/app.out" 2>"$work/app.err" &
  app_pid=$!

  # Poll rather than `xdotool search --sync`, so an app that dies early fails at once.
  local deadline=$((started + window_timeout * 1000))
  until DISPLAY=":$display" xdotool search --name '^Mailwatch$' >"$work/xdotool.out" 2>&1; do
    if ! kill -0 "$app_pid" 2>/dev/null; then
      wait "$app_pid"
      local status=$?
      app_pid=""
      fail "window: the app exited (status $status) before any window appeared" "$work/app.err" "$work/app.out"
      return
    fi
    if [ "$(now_ms)" -ge "$deadline" ]; then
      DISPLAY=":$display" window_names >"$work/windows.txt" 2>&1
      fail "window: no window named \"Mailwatch\" within ${window_timeout}s" \
        "$work/app.err" "$work/app.out" "$work/xdotool.out" "$work/windows.txt"
      return
    fi
    sleep 0.1
  done
  elapsed=$(($(now_ms) - started))
  echo "     window appeared ${elapsed} ms after launch (window id $(head -n1 "$work/xdotool.out"))"

  # Give the page time to load and ask the engine for accounts before the picture.
  sleep 3
  DISPLAY=":$display" import -window root "$artifacts/app-smoke.png" 2>"$work/import.err" \
    || echo "     (screenshot failed: $(cat "$work/import.err"))"

  if ! kill -0 "$app_pid" 2>/dev/null; then
    wait "$app_pid"
    local status=$?
    app_pid=""
    fail "window: the app exited (status $status) after its window appeared" "$work/app.err" "$work/app.out"
    return
  fi

  # Quit: SIGTERM, then wait up to 5 s before forcing it.
  kill "$app_pid" 2>/dev/null
  for _ in $(seq 50); do
    kill -0 "$app_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$app_pid" 2>/dev/null
  wait "$app_pid" 2>/dev/null
  app_pid=""
  kill "$xvfb_pid" 2>/dev/null
  wait "$xvfb_pid" 2>/dev/null
  xvfb_pid=""

  if grep -q "panicked" "$work/app.err"; then
    fail "window: the app panicked while running" "$work/app.err"
    return
  fi
  pass "window \"Mailwatch\" opened and stayed up (screenshot: tests/artifacts/app-smoke.png)"
}

check_no_display() {
  local status
  env -u DISPLAY -u WAYLAND_DISPLAY "${app_env[@]}" timeout 10 "$bin" >"$work/nodisplay.out" 2>"$work/nodisplay.err"
  status=$?
  if [ "$status" -ne 1 ]; then
    fail "no display: expected exit status 1, got $status" "$work/nodisplay.err" "$work/nodisplay.out"
  elif ! grep -q "Mailwatch needs a graphical desktop session" "$work/nodisplay.err"; then
    fail "no display: exit 1 but without the sentence explaining why" "$work/nodisplay.err" "$work/nodisplay.out"
  elif grep -q "panicked" "$work/nodisplay.err"; then
    fail "no display: the app panicked" "$work/nodisplay.err"
  else
    pass "without a display it explains why and exits 1"
  fi
}

check_window
check_no_display

echo "app smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
