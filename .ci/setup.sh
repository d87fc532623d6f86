#!/usr/bin/env bash
# Installs what Mailwatch needs on Debian 12 and is not there yet, and nothing else.
#   .ci/setup.sh --app    what building and running the desktop app needs
#   .ci/setup.sh --test   that, plus the test bed (Dovecot with LMTP, Postfix, gnome-keyring,
#                         microsocks, dante-server and tinyproxy (SOCKS5 and HTTP CONNECT proxies),
#                         Xvfb, dunst, WebKitWebDriver and tauri-driver, node for the UI's
#                         unit tests, cargo-fuzz)
set -euo pipefail
mode="${1:---app}"
case "$mode" in --app | --test) ;; *) echo "usage: $0 [--app|--test]" >&2; exit 2 ;; esac

# fonts-noto-cjk: the window speaks Simplified Chinese, which needs CJK glyphs to show.
app_packages=(build-essential pkg-config curl wget file libssl-dev libwebkit2gtk-4.1-dev
  libxdo-dev libayatana-appindicator3-dev librsvg2-dev fonts-noto-cjk)
test_packages=(dovecot-core dovecot-imapd dovecot-lmtpd postfix gnome-keyring dbus-x11 libsecret-tools xvfb xdotool
  imagemagick webkit2gtk-driver dunst libnotify-bin dbus xclip nodejs microsocks tinyproxy dante-server)

wanted=("${app_packages[@]}")
[ "$mode" = --test ] && wanted+=("${test_packages[@]}")

missing=()
for p in "${wanted[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
if [ "${#missing[@]}" -gt 0 ]; then
  echo "Installing Debian packages: ${missing[*]}"
  new_postfix=no
  if [[ " ${missing[*]} " == *" postfix "* ]]; then
    # The test bed runs its own Postfix per test from a generated config; the package must
    # neither ask questions nor set up a system MTA on port 25.
    new_postfix=yes
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
  fi
  $sudo apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get -o DPkg::Lock::Timeout=600 install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
  if [ "$new_postfix" = yes ] && command -v systemctl >/dev/null 2>&1 \
    && systemctl is-active --quiet postfix 2>/dev/null; then
    echo "Stopping the system Postfix the package started (the tests run their own)"
    $sudo systemctl disable --now postfix >/dev/null 2>&1 || true
  fi
  for service in tinyproxy danted; do
    if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$service" 2>/dev/null; then
      echo "Stopping the system $service the package started (the tests run their own)"
      $sudo systemctl disable --now "$service" >/dev/null 2>&1 || true
    fi
  done
fi

if ! command -v cargo >/dev/null 2>&1; then
  [ -x "$HOME/.cargo/bin/cargo" ] || {
    echo "Installing the Rust toolchain with rustup"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal
  }
  export PATH="$HOME/.cargo/bin:$PATH"
fi

if [ "$mode" = --test ] && ! cargo fuzz --version >/dev/null 2>&1; then
  echo "Installing cargo-fuzz"
  cargo install cargo-fuzz --locked --quiet
fi
if [ "$mode" = --test ] && ! command -v tauri-driver >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/tauri-driver" ]; then
  echo "Installing tauri-driver (WebDriver for the app's window tests)"
  cargo install tauri-driver --locked --quiet
fi
# The test bed's Dovecot runs every IMAP session as one user, and each idling session takes an
# inotify instance; the kernel's usual 128 per user is below the 200 idling accounts of the
# push tests and the 1,000 of the push benchmark (past it Dovecot falls back to looking every
# second, which only slows them).
if [ "$mode" = --test ] && [ -w /proc/sys/fs/inotify/max_user_instances ] \
  && [ "$(cat /proc/sys/fs/inotify/max_user_instances)" -lt 8192 ]; then
  echo "Raising fs.inotify.max_user_instances to 8192 for the test bed's idling sessions"
  echo 8192 | $sudo tee /proc/sys/fs/inotify/max_user_instances >/dev/null || true
fi
echo "setup: everything Mailwatch needs ($mode) is installed"
