#!/usr/bin/env bash
# Reproduces the README's performance figures: builds the release CLI and the benchmark
# runners, then, in a private D-Bus session with an unlocked keyring, starts the test bed
# behind a latency proxy and prints Markdown tables.
#
#   tests/bench/run.sh          # the bench table at 0 and 20 ms round trip
#   tests/bench/run.sh many     # 1,000 watched accounts within 50 sessions (about 8 minutes)
#   tests/bench/run.sh push     # 1,000 watched accounts, each idling on its own session
#   tests/bench/run.sh junk     # APPEND to code for junk in each way of watching it, and the inbox
#   tests/bench/run.sh send     # sending over a reused SMTP connection against a new one
#   tests/bench/run.sh api      # the local API: stream latency, memory, cached GETs, waits
set -euo pipefail
cd "$(dirname "$0")/../.."
what="${1:-table}"
if [[ "$what" == api ]]; then
  cargo build --release -p mailwatch-cli --bin mailwatch-cli >&2
  cargo build --release -p mailwatch-api --example bench-api >&2
else
  example="bench-$what"
  [ "$what" = push ] || [ "$what" = junk ] && example=bench-many
  cargo build --release -p mailwatch-cli --bin mailwatch-cli --example "$example" >&2
fi
target="${CARGO_TARGET_DIR:-target}/release"
case "$what" in
  table) exec tests/testbed/with-session.sh "$target/examples/bench-table" "$target/mailwatch-cli" ;;
  many) exec tests/testbed/with-session.sh "$target/examples/bench-many" ;;
  push) MODE=push exec tests/testbed/with-session.sh "$target/examples/bench-many" ;;
  junk) MODE=junk exec tests/testbed/with-session.sh "$target/examples/bench-many" ;;
  send) exec tests/testbed/with-session.sh "$target/examples/bench-send" "$target/mailwatch-cli" ;;
  api) exec tests/testbed/with-session.sh "$target/examples/bench-api" "$target/mailwatch-cli" ;;
  *) echo "usage: $0 [table|many|push|junk|send|api]" >&2; exit 2 ;;
esac
