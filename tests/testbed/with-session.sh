#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked gnome-keyring (Secret
# Service), a throwaway HOME and XDG dirs, and optionally Xvfb + dunst for notifications:
#
#   tests/testbed/with-session.sh cargo test -p mailwatch-engine
#   MAILWATCH_WITH_X=1 tests/testbed/with-session.sh cargo test -p mailwatch
#
# Exits with the command's exit code. Works from a desktop session too: the command gets a
# fresh bus of its own, so nothing touches the user's real keyring. Cargo and rustup keep
# working because CARGO_HOME and RUSTUP_HOME are pinned to the caller's before HOME moves.
# Needs: dbus (dbus-run-session, dbus-send), gnome-keyring; with X: xvfb, dunst.
set -euo pipefail

if [[ $# -eq 0 ]]; then
    echo "usage: $0 COMMAND [ARGS...]" >&2
    exit 2
fi

if [[ "${MAILWATCH_SESSION_INNER:-}" != 1 ]]; then
    for tool in dbus-run-session dbus-send gnome-keyring-daemon; do
        if ! command -v "$tool" >/dev/null; then
            echo "with-session.sh: $tool is missing; apt-get install -y dbus dbus-x11 gnome-keyring libsecret-tools" >&2
            exit 127
        fi
    done
    session_dir=$(mktemp -d "${TMPDIR:-/tmp}/mailwatch-session.XXXXXX")
    trap 'rm -rf "$session_dir"' EXIT
    export CARGO_HOME="${CARGO_HOME:-$HOME/.cargo}"
    export RUSTUP_HOME="${RUSTUP_HOME:-$HOME/.rustup}"
    export MAILWATCH_SESSION_DIR="$session_dir"
    status=0
    # dbus-run-session always prints "Failed to set fd limit"; it is harmless.
    MAILWATCH_SESSION_INNER=1 dbus-run-session -- "$0" "$@" || status=$?
    exit "$status"
fi

# Inside the private session bus from here on.
dir="$MAILWATCH_SESSION_DIR"
mkdir -p "$dir/home" "$dir/data" "$dir/config" "$dir/runtime"
chmod 700 "$dir/runtime"
export HOME="$dir/home" XDG_DATA_HOME="$dir/data" XDG_CONFIG_HOME="$dir/config" XDG_RUNTIME_DIR="$dir/runtime"
unset MAILWATCH_SESSION_INNER MAILWATCH_SESSION_DIR

pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    wait 2>/dev/null || true
}
trap cleanup EXIT

has_owner() {
    dbus-send --session --print-reply --reply-timeout=1000 --dest=org.freedesktop.DBus \
        /org/freedesktop/DBus org.freedesktop.DBus.NameHasOwner "string:$1" 2>/dev/null \
        | grep -q 'boolean true'
}

# --unlock reads the login keyring password from stdin and creates the collection.
printf '%s' "mailwatch-test-keyring" \
    | gnome-keyring-daemon --foreground --unlock --components=secrets >"$dir/keyring.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do
    has_owner org.freedesktop.secrets && break
    sleep 0.05
done
if ! has_owner org.freedesktop.secrets; then
    echo "with-session.sh: gnome-keyring did not take org.freedesktop.secrets within 5 s:" >&2
    cat "$dir/keyring.log" >&2
    exit 1
fi

if [[ "${MAILWATCH_WITH_X:-}" == 1 ]]; then
    for tool in Xvfb dunst; do
        if ! command -v "$tool" >/dev/null; then
            echo "with-session.sh: $tool is missing; apt-get install -y xvfb dunst" >&2
            exit 127
        fi
    done
    # -displayfd makes Xvfb pick a free display and print its number when ready.
    exec 3>"$dir/display"
    Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp >"$dir/xvfb.log" 2>&1 &
    pids+=($!)
    exec 3>&-
    for _ in $(seq 100); do
        [[ -s "$dir/display" ]] && break
        sleep 0.05
    done
    if [[ ! -s "$dir/display" ]]; then
        echo "with-session.sh: Xvfb did not start within 5 s:" >&2
        cat "$dir/xvfb.log" >&2
        exit 1
    fi
    export DISPLAY=":$(tr -d '[:space:]' <"$dir/display")"
    dunst >"$dir/dunst.log" 2>&1 &
    pids+=($!)
    for _ in $(seq 100); do
        has_owner org.freedesktop.Notifications && break
        sleep 0.05
    done
fi

status=0
"$@" || status=$?
exit "$status"
