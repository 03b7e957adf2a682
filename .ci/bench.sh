#!/usr/bin/env bash
# The benchmark suite (`make bench`): installs what it needs, builds the
# release binaries, starts a throwaway PostgreSQL and runs devauth-bench,
# which prints the results table and writes it to tests/bench/results.md.
#
#   .ci/bench.sh [DEVAUTH-BENCH ARGS...]     e.g. --quick, --only 1,3
#
# With arguments the table goes to $TMPDIR/devauth-bench-results.md instead,
# so a partial run never overwrites the committed results.
#
# Needs (installed when missing): wrk (apt), node and npm (apt `nodejs npm`;
# this machine kind ships node 20), and oidc-provider at the version pinned
# below, installed with npm into a cache directory outside the repository
# ($DEVAUTH_BENCH_CACHE, default ~/.cache/devauth-bench); build-essential and
# postgresql (apt) when missing. Rust must be there (.ci/install-deps.sh server).
#
# Every load runs on loopback only and is bounded in time; the run takes about
# three minutes on a 2-core machine, plus the release build.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The comparison server's version: pinned, so runs compare like with like.
OIDC_PROVIDER_VERSION=9.13.3

prog=bench
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

# --- system packages ----------------------------------------------------------
missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# A C compiler for the build and PostgreSQL for .ci/with-postgres.sh (what
# `.ci/install-deps.sh server` would add, without its cargo-nextest install).
if command -v dpkg-query >/dev/null 2>&1; then
  for pkg in build-essential postgresql; do
    pkg_installed "$pkg" || missing+=("$pkg")
  done
fi
if [ "${#missing[@]}" -gt 0 ]; then
  apt_install "${missing[@]}"
fi
for tool in wrk node npm cargo; do
  command -v "$tool" >/dev/null 2>&1 || die "$tool is missing (cargo: run .ci/install-deps.sh server)"
done

# --- oidc-provider, outside the repository --------------------------------------
cache="${DEVAUTH_BENCH_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/devauth-bench}"
oidc_dir="$cache/oidc-provider-$OIDC_PROVIDER_VERSION"
installed_version() {
  node -e 'try { console.log(require(process.argv[1]).version) } catch { }' \
    "$oidc_dir/node_modules/oidc-provider/package.json" 2>/dev/null || true
}
if [ "$(installed_version)" != "$OIDC_PROVIDER_VERSION" ]; then
  echo "bench: installing oidc-provider@$OIDC_PROVIDER_VERSION into $oidc_dir (npm)"
  rm -rf "$oidc_dir"
  mkdir -p "$oidc_dir"
  # A package.json of its own, so npm installs here and not in a parent project.
  echo '{"name": "devauth-bench-oidc-provider", "private": true}' >"$oidc_dir/package.json"
  quietly npm install --prefix "$oidc_dir" --no-save --no-package-lock --ignore-scripts \
    --no-audit --no-fund "oidc-provider@$OIDC_PROVIDER_VERSION"
  [ "$(installed_version)" = "$OIDC_PROVIDER_VERSION" ] || die "npm finished but oidc-provider $OIDC_PROVIDER_VERSION is not in $oidc_dir"
fi
export OIDC_PROVIDER_DIR="$oidc_dir"

# --- build --------------------------------------------------------------------
target_dir="${CARGO_TARGET_DIR:-target}"
echo "bench: building devauth-server and devauth-bench (release)"
cargo build --release -p devauth-server -p devauth-harness \
  --bin devauth-server --bin devauth-bench

# --- run ----------------------------------------------------------------------
# A full run updates the committed results; one with arguments (--quick,
# --only …) writes beside it in /tmp instead.
out=tests/bench/results.md
[ $# -eq 0 ] || out="${TMPDIR:-/tmp}/devauth-bench-results.md"
run=(.ci/with-postgres.sh "$target_dir/release/devauth-bench"
  --server-bin "$target_dir/release/devauth-server"
  --out "$out" "$@")
# The desktop app's start is timed only when someone built it (this script does
# not): then under a throwaway X and D-Bus session, when its tools are here.
if [ -x "$target_dir/release/devauth-desktop" ] && [ -z "${DISPLAY:-}" ]; then
  if command -v xvfb-run >/dev/null 2>&1 && command -v xwininfo >/dev/null 2>&1 \
    && command -v gnome-keyring-daemon >/dev/null 2>&1; then
    run=(.ci/with-desktop-session.sh "${run[@]}")
  else
    echo "bench: the desktop app is built but Xvfb/xwininfo/gnome-keyring are missing (.ci/install-deps.sh desktop): its start is not timed" >&2
  fi
fi
echo "bench: running (about three minutes; progress on stderr, the table on stdout)"
exec "${run[@]}"
