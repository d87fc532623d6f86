#!/usr/bin/env bash
# Figures for the desktop app: cold start to a visible window, and memory, with N accounts
# loaded (10,000 by default). The accounts are written straight into a fresh cache (no
# secrets: the list needs none), so the figure is the app's, not the keyring's.
#
#   cargo build --release -p mailwatch -p mailwatch-cli
#   MAILWATCH_WITH_X=1 tests/testbed/with-session.sh tests/bench/app.sh [target/release] [10000]
#
# Prints the time from launch to the window being shown, and the resident memory of the app
# process and of its webview processes, 5 s after the window shows.
set -euo pipefail
bin_dir="${1:-target/release}"
accounts="${2:-10000}"
work="$(mktemp -d)"
app_pid=""
trap '[ -n "$app_pid" ] && kill "$app_pid" 2>/dev/null; wait 2>/dev/null; rm -rf "$work"' EXIT
[ -n "${DISPLAY:-}" ] || { echo "needs a display: run under MAILWATCH_WITH_X=1 tests/testbed/with-session.sh" >&2; exit 2; }

export MAILWATCH_DATA_DIR="$work/data" XDG_CONFIG_HOME="$work/config" XDG_DATA_HOME="$work/xdg"
"$bin_dir/mailwatch-cli" --data-dir "$work/data" accounts list >/dev/null
python3 - "$work/data/mailwatch.db" "$accounts" <<'PY'
import sqlite3, sys
db, n = sys.argv[1], int(sys.argv[2])
c = sqlite3.connect(db)
c.executemany(
    "INSERT INTO accounts (email, provider, auth, imap_host, imap_port, imap_tls, client_id, token_url, scope, status)"
    " VALUES (?, 'outlook', 'oauth2', 'outlook.office365.com', 993, 'implicit', NULL, NULL, NULL, ?)",
    [(f"user{i:05d}@outlook.com", "needs-reauth" if i % 97 == 0 else "ok") for i in range(n)],
)
c.commit()
PY

now_ms() { date +%s%3N; }
started=$(now_ms)
"$bin_dir/mailwatch" >"$work/app.log" 2>&1 &
app_pid=$!
until xdotool search --onlyvisible --name '^Mailwatch$' >/dev/null 2>&1; do
  kill -0 "$app_pid" 2>/dev/null || { echo "the app exited:"; cat "$work/app.log"; exit 1; }
  [ $(( $(now_ms) - started )) -lt 30000 ] || { echo "no window within 30 s"; exit 1; }
  sleep 0.02
done
shown=$(( $(now_ms) - started ))
sleep 5
rss() { awk '/^VmRSS/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }
descendants() { local p; for p in $(pgrep -P "$1"); do echo "$p"; descendants "$p"; done; }
app_kb=$(rss "$app_pid")
web_kb=0
for p in $(descendants "$app_pid"); do web_kb=$((web_kb + $(rss "$p"))); done
echo "| accounts | window shown | app RSS | webview RSS | total |"
echo "|---:|---:|---:|---:|---:|"
printf '| %s | %s ms | %s MB | %s MB | %s MB |\n' "$accounts" "$shown" $((app_kb / 1024)) $((web_kb / 1024)) $(((app_kb + web_kb) / 1024))
import -window root "${MAILWATCH_BENCH_SCREENSHOT:-/dev/null}" 2>/dev/null || true
