# Shell helpers for the scripts in .ci/: `source` it after setting `prog` (the
# name messages start with). Not a script of its own.
# shellcheck shell=bash

: "${prog:?set prog before sourcing .ci/lib.sh}"

# Where rustup puts cargo; a fresh install is not on PATH yet. Appended, so
# whatever is already on PATH wins.
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
case ":$PATH:" in
  *":$CARGO_BIN:"*) ;;
  *) PATH="$PATH:$CARGO_BIN" ;;
esac
export PATH

die() {
  echo "$prog: $*" >&2
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
    echo "$prog: failed ($status): $*" >&2
    return "$status"
  fi
}

pkg_installed() {
  # shellcheck disable=SC2016 # ${Status} is dpkg-query's, not the shell's
  [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]
}

# Installs Debian packages with apt-get (through sudo when not root), then
# checks each one landed. One line per package installed.
apt_install() {
  command -v apt-get >/dev/null 2>&1 \
    || die "missing packages ($*) and no apt-get: install them by hand"
  [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null 2>&1 \
    || die "missing packages ($*): run as root or install sudo"
  echo "$prog: installing $* (apt-get)"
  local apt_opts=(-q -y -o DPkg::Lock::Timeout=600) pkg
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" update
  quietly as_root env DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install "$@"
  for pkg in "$@"; do
    pkg_installed "$pkg" || die "apt-get finished but $pkg is not installed"
    echo "installed $pkg"
  done
}

# Removes a session directory whose runtime/ may hold a FUSE mount: GTK
# programs can start xdg-document-portal, which mounts $XDG_RUNTIME_DIR/doc.
# Cleanup trouble is worth a warning, never the command's failure.
remove_session_dir() {
  local dir="$1"
  if grep -qs " $dir/runtime/doc " /proc/mounts; then
    fusermount3 -u -z "$dir/runtime/doc" 2>/dev/null \
      || fusermount -u -z "$dir/runtime/doc" 2>/dev/null \
      || umount -l "$dir/runtime/doc" 2>/dev/null || true
  fi
  rm -rf "$dir" 2>/dev/null || echo "$prog: warning: could not remove $dir" >&2
}
