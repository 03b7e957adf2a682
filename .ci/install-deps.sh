#!/usr/bin/env bash
# Installs the system packages and tools devauth needs, only those missing.
#
#   .ci/install-deps.sh PROFILE...
#
#   server   build tools, OpenSSL's headers, PostgreSQL (for the test suite), Rust with rustfmt and
#            clippy, cargo-nextest
#   browser  headless Chromium and chromedriver (browser page tests), and
#            axe-core (npm, pinned) for their accessibility checks, in
#            $DEVAUTH_AXE_DIR (default ~/.cache/devauth-axe); node's
#            oidc-provider (npm, pinned), the single sign-on tests' identity
#            provider, in $OIDC_PROVIDER_DIR (default
#            ~/.cache/devauth-bench/oidc-provider-VERSION, shared with make bench)
#   desktop  WebKitGTK and friends for the Tauri app, Xvfb, a keyring, D-Bus
#   keyring  gnome-keyring, secret-tool and dbus-run-session, for the CLI's
#            keychain tests (.ci/with-keyring.sh); no display needed
#   python   a Python virtualenv ($DEVAUTH_PY_VENV, default ~/.cache/devauth-py)
#            with the tools the tests run: openapi-spec-validator (the OpenAPI
#            document test), schemathesis, aiosmtpd (the mail tests' SMTP
#            server), at pinned versions
#
# Idempotent, and quiet and quick when everything is present: it only asks
# dpkg-query and PATH, and runs `apt-get update` only when something is
# missing. Prints one line per thing it installs. Uses sudo when not root.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

prog=install-deps
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

usage() {
  echo "usage: $0 PROFILE... (profiles: server, browser, desktop, keyring, python)" >&2
  exit 2
}

[ $# -gt 0 ] || usage

wanted=()
want_rust=""
want_python=""
want_axe=""
for profile in "$@"; do
  case "$profile" in
    server)
      # libssl-dev: webauthn-rs (passkeys) links OpenSSL.
      wanted+=(build-essential pkg-config libssl-dev postgresql)
      # A fresh machine without Rust: rustup's installer needs curl.
      command -v cargo >/dev/null 2>&1 || wanted+=(curl ca-certificates)
      want_rust=1
      ;;
    browser)
      wanted+=(chromium chromium-driver)
      command -v npm >/dev/null 2>&1 || wanted+=(nodejs npm)
      want_axe=1
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
    python)
      want_python=1
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
  apt_install "${missing[@]}"
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

# --- Python tools --------------------------------------------------------------
if [ -n "$want_python" ]; then
  venv="${DEVAUTH_PY_VENV:-$HOME/.cache/devauth-py}"
  # name==version of each tool, and the command that proves it is there.
  # schemathesis: the HTTP fuzzing run against the OpenAPI document.
  # aiosmtpd: the local SMTP server the mail tests start.
  py_tools=("openapi-spec-validator==0.9.0" "schemathesis==4.32.5" "aiosmtpd==1.4.6")
  if ! "$venv/bin/python" -c 'import openapi_spec_validator, schemathesis, aiosmtpd' >/dev/null 2>&1; then
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
      pkg_installed python3-venv || apt_install python3-venv
    fi
    echo "install-deps: installing ${py_tools[*]} into $venv (pip)"
    quietly python3 -m venv "$venv"
    quietly "$venv/bin/pip" install --disable-pip-version-check -q "${py_tools[@]}"
    "$venv/bin/python" -c 'import openapi_spec_validator, schemathesis, aiosmtpd' >/dev/null 2>&1 \
      || die "pip finished but ${py_tools[*]} are not all in $venv"
    echo "installed ${py_tools[*]}"
  fi
fi

# --- npm packages the browser tests use, pinned, outside the repository -------
# npm_pinned PACKAGE VERSION DIR: installs PACKAGE@VERSION into DIR unless it
# is there (a package.json of its own, so npm installs there and not in a
# parent project).
npm_pinned() {
  local package="$1" version="$2" dir="$3" installed
  installed="$(node -e 'try { console.log(require(process.argv[1]).version) } catch { }' \
    "$dir/node_modules/$package/package.json" 2>/dev/null || true)"
  [ "$installed" = "$version" ] && return 0
  echo "install-deps: installing $package@$version into $dir (npm)"
  rm -rf "$dir"
  mkdir -p "$dir"
  echo "{\"name\": \"devauth-$package\", \"private\": true}" >"$dir/package.json"
  quietly npm install --prefix "$dir" --no-save --no-package-lock --ignore-scripts \
    --no-audit --no-fund "$package@$version"
  installed="$(node -e 'try { console.log(require(process.argv[1]).version) } catch { }' \
    "$dir/node_modules/$package/package.json" 2>/dev/null || true)"
  [ "$installed" = "$version" ] || die "npm finished but $package $version is not in $dir"
  echo "installed $package $version"
}
if [ -n "$want_axe" ]; then
  # axe-core: the accessibility checks of the browser tests.
  npm_pinned axe-core 4.14.1 "${DEVAUTH_AXE_DIR:-$HOME/.cache/devauth-axe}"
  # oidc-provider: the single sign-on tests' identity provider (the version
  # .ci/bench.sh pins; tests/src/idp.rs looks in the same place).
  npm_pinned oidc-provider 9.13.3 \
    "${OIDC_PROVIDER_DIR:-$HOME/.cache/devauth-bench/oidc-provider-9.13.3}"
fi
