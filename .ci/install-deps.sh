#!/usr/bin/env bash
# Installs the system packages and tools devauth needs, only those missing.
#
#   .ci/install-deps.sh PROFILE...
#
#   server   build tools, PostgreSQL (for the test suite), Rust with rustfmt and
#            clippy, cargo-nextest
#   browser  headless Chromium and chromedriver (browser page tests)
#   desktop  WebKitGTK and friends for the Tauri app, Xvfb, a keyring, D-Bus
#   keyring  gnome-keyring, secret-tool and dbus-run-session, for the CLI's
#            keychain tests (.ci/with-keyring.sh); no display needed
#
# Idempotent, and quiet and quick when everything is present: it only asks
# dpkg-query and PATH, and runs `apt-get update` only when something is
# missing. Prints one line per thing it installs. Uses sudo when not root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# Where rustup puts cargo; a fresh install is not on PATH yet. Appended, so
# whatever is already on PATH wins.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
  *":$CARGO_BIN:"*) ;;
  *) PATH="$PATH:$CARGO_BIN" ;;
esac
export PATH

usage() {
  echo "usage: $0 PROFILE... (profiles: server, browser, desktop, keyring)" >&2
  exit 2
}

die() {
  echo "install-deps: $*" >&2
  exit 1
}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  else
    sudo "$@"
  fi
}

# Runs a command with its output captured; shows the output only if it fails.
quietly() {
  local log status
  log="$(mktemp)"
  if "$@" >"$log" 2>&1; then
    rm -f "$log"
  else
    status=$?
    cat "$log" >&2
    rm -f "$log"
    echo "install-deps: failed ($status): $*" >&2
    return "$status"
  fi
}

pkg_installed() {
  # shellcheck disable=SC2016 # ${Status} is dpkg-query's, not the shell's
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

[ $# -gt 0 ] || usage

wanted=()
want_rust=""
for profile in "$@"; do
  case "$profile" in
    server)
      wanted+=(build-essential pkg-config postgresql)
      # A fresh machine without Rust: rustup's installer needs curl.
      command -v cargo >/dev/null 2>&1 || wanted+=(curl ca-certificates)
      want_rust=1
      ;;
    browser)
      wanted+=(chromium chromium-driver)
      ;;
    desktop)
      wanted+=(libwebkit2gtk-4.1-dev build-essential libssl-dev
        libayatana-appindicator3-dev librsvg2-dev libxdo-dev pkg-config
        xvfb xauth webkit2gtk-driver gnome-keyring dbus-x11 libsecret-tools
        libdbus-1-dev)
      ;;
    keyring)
      # dbus-x11 brings dbus-daemon (dbus-run-session) and is the session
      # bus gnome-keyring asks for, without systemd's user session.
      wanted+=(gnome-keyring libsecret-tools dbus-x11)
      ;;
    -h | --help) usage ;;
    *)
      echo "install-deps: unknown profile '$profile'" >&2
      usage
      ;;
  esac
done

# --- apt packages -----------------------------------------------------------
missing=()
for pkg in "${wanted[@]}"; do
  pkg_installed "$pkg" && continue
  case " ${missing[*]:-} " in
    *" $pkg "*) ;;
    *) missing+=("$pkg") ;;
  esac
done

if [ "${#missing[@]}" -gt 0 ]; then
  command -v apt-get >/dev/null 2>&1 \
    || die "missing packages (${missing[*]}) and no apt-get: install them by hand"
  [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1 \
    || die "missing packages (${missing[*]}): run as root or install sudo"
  echo "install-deps: installing ${missing[*]} (apt-get)"
  apt_opts=(-q -y -o DPkg::Lock::Timeout=600)
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" \
    install "${missing[@]}"
  for pkg in "${missing[@]}"; do
    pkg_installed "$pkg" || die "apt-get finished but $pkg is not installed"
    echo "installed $pkg"
  done
fi

# --- Rust toolchain and tools -----------------------------------------------
if [ -n "$want_rust" ]; then
  if ! command -v cargo >/dev/null 2>&1; then
    echo "install-deps: installing Rust (rustup, stable, minimal profile)"
    rustup_init="$(mktemp)"
    curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs -o "$rustup_init"
    quietly sh "$rustup_init" -y --no-modify-path --profile minimal \
      --default-toolchain stable --component rustfmt,clippy
    rm -f "$rustup_init"
    command -v cargo >/dev/null 2>&1 || die "rustup finished but cargo is not on PATH ($CARGO_BIN)"
    echo "installed rust ($(rustc --version))"
  fi

  for component in rustfmt clippy; do
    # `cargo fmt` / `cargo clippy` fail when the component is missing.
    subcommand="${component/rustfmt/fmt}"
    cargo "$subcommand" --version >/dev/null 2>&1 && continue
    command -v rustup >/dev/null 2>&1 \
      || die "$component is missing and rustup is not installed: install $component for your Rust toolchain"
    quietly rustup component add "$component"
    echo "installed $component"
  done

  if ! command -v cargo-nextest >/dev/null 2>&1; then
    echo "install-deps: installing cargo-nextest (cargo install, takes a few minutes)"
    if quietly cargo install cargo-nextest --locked; then
      echo "installed cargo-nextest"
    else
      # Not fatal: `make test` falls back to `cargo test`.
      echo "install-deps: warning: could not install cargo-nextest; tests will use cargo test" >&2
    fi
  fi
fi
