#!/usr/bin/env bash
# Runs the cargo-fuzz targets in tests/fuzz, each for a bounded time.
#
#   .ci/fuzz-parsers.sh [TARGET...]     (default: all of them)
#
#   DEVAUTH_FUZZ_SECS   seconds per target (default 60)
#
# cargo-fuzz needs a nightly compiler for its sanitizer flags: the `nightly`
# toolchain when rustup has one, else this toolchain with RUSTC_BOOTSTRAP=1.
# The corpus each target grows is kept in ~/.cache/devauth-fuzz/corpus/TARGET
# so later runs start where the last one stopped; a finding is written to
# ~/.cache/devauth-fuzz/artifacts/TARGET and fails the run, naming the file
# (replay it: cargo +nightly fuzz run --fuzz-dir tests/fuzz TARGET FILE).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

prog=fuzz-parsers
# shellcheck source=.ci/lib.sh
. .ci/lib.sh

secs="${DEVAUTH_FUZZ_SECS:-60}"
case "$secs" in
  '' | *[!0-9]*) die "DEVAUTH_FUZZ_SECS must be a whole number of seconds, not '$secs'" ;;
esac

if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "$prog: installing cargo-fuzz (cargo install, about a minute)"
  quietly cargo install cargo-fuzz --locked
fi

toolchain=()
if rustup run nightly rustc --version >/dev/null 2>&1; then
  toolchain=(+nightly)
else
  export RUSTC_BOOTSTRAP=1
fi

cache="${DEVAUTH_FUZZ_CACHE:-$HOME/.cache/devauth-fuzz}"
export CARGO_TARGET_DIR="${DEVAUTH_FUZZ_TARGET_DIR:-$cache/target}"

mapfile -t all < <(sed -n 's/^name = "\(.*\)"$/\1/p' tests/fuzz/Cargo.toml | grep -v '^devauth-fuzz$')
targets=("$@")
[ "${#targets[@]}" -gt 0 ] || targets=("${all[@]}")

echo "$prog: building ${#targets[@]} targets (the first build takes several minutes)"
cargo "${toolchain[@]}" fuzz build --fuzz-dir tests/fuzz
host="$(rustc -vV | sed -n 's/^host: //p')"

failed=()
for target in "${targets[@]}"; do
  bin="$CARGO_TARGET_DIR/$host/release/$target"
  [ -x "$bin" ] || die "no fuzz target '$target' (built: ${all[*]})"
  corpus="$cache/corpus/$target"
  artifacts="$cache/artifacts/$target/"
  mkdir -p "$corpus" "$artifacts"
  before="$(find "$artifacts" -type f | wc -l)"
  log="$(mktemp)"
  # The binary itself, not `cargo fuzz run`: what was built above is what runs.
  if "$bin" -max_total_time="$secs" -artifact_prefix="$artifacts" "$corpus" >"$log" 2>&1; then
    summary="$(grep -E '^#[0-9]+[[:space:]]+DONE' "$log" | tail -1)"
    runs="$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$summary")"
    printf '%-14s %12s runs in %ss, no finding (corpus: %s inputs)\n' \
      "$target" "$runs" "$secs" "$(find "$corpus" -type f | wc -l)"
  elif [ "$(find "$artifacts" -type f | wc -l)" -gt "$before" ]; then
    grep -E 'panicked|assertion|SUMMARY|Test unit written' "$log" | head -8 >&2
    echo "$prog: $target found an input that breaks its property (above); inputs in $artifacts" >&2
    failed+=("$target")
  else
    tail -20 "$log" >&2
    echo "$prog: $target did not run (above)" >&2
    failed+=("$target")
  fi
  rm -f "$log"
done

[ "${#failed[@]}" -eq 0 ] || die "failed: ${failed[*]}"
