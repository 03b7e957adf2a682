#!/usr/bin/env bash
# Runs a command inside a private D-Bus session with an unlocked, throwaway
# gnome-keyring (Secret Service), so tests can store and read real keychain
# entries without touching the user's own keyring.
#
#   .ci/with-keyring.sh CMD [ARG...]
#
# Starts `dbus-run-session` with fresh XDG_DATA_HOME (where the keyring file
# lives), XDG_RUNTIME_DIR (mode 0700, the daemon's control socket) and
# XDG_CONFIG_HOME in a temporary directory, starts gnome-keyring-daemon with
# only the secrets component and unlocks a new login keyring with a throwaway
# password, then runs CMD with
#
#   DEVAUTH_KEYRING_SESSION=1
#
# and always deletes the directory afterwards. Exits with CMD's status. The
# daemon and the bus end with the session. No display is needed (and none is
# used: with DISPLAY unset the keyring can never wait on an unlock prompt).
#
# Packages: gnome-keyring, libsecret-tools (secret-tool), dbus-x11 (brings
# dbus-run-session). `.ci/install-deps.sh keyring` installs them.
set -euo pipefail

prog=with-keyring
# shellcheck source=.ci/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -gt 0 ] || {
  echo "usage: $0 CMD [ARG...]" >&2
  exit 2
}

# Inside the session: start and unlock the keyring, check it, run CMD.
if [ "${1:-}" = "--inside-session" ]; then
  shift
  # The daemon prints GNOME_KEYRING_CONTROL=…; it registers on the session
  # bus itself, which is all libsecret and the keyring crate need.
  control="$(printf '%s' "$WITH_KEYRING_PASSWORD" \
    | gnome-keyring-daemon --unlock --components=secrets)" \
    || die "gnome-keyring-daemon did not start"
  unset WITH_KEYRING_PASSWORD
  while IFS= read -r line; do
    case "$line" in
      GNOME_KEYRING_CONTROL=*) export "${line?}" ;;
    esac
  done <<<"$control"
  # The daemon claims its bus name shortly after printing; a client asking
  # before then would have D-Bus start a second daemon.
  for _attempt in $(seq 50); do
    dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
      org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
      | grep -q 'boolean true' && break
    sleep 0.1
  done
  # Fail here, clearly, rather than in every test: store, read back, delete.
  probe="with-keyring-probe-$$"
  ok=""
  for _attempt in 1 2 3 4 5 6 7 8 9 10; do
    if printf '%s' "$probe" | secret-tool store --label='with-keyring probe' service with-keyring username probe 2>/dev/null \
      && [ "$(secret-tool lookup service with-keyring username probe 2>/dev/null)" = "$probe" ]; then
      secret-tool clear service with-keyring username probe 2>/dev/null || true
      ok=1
      break
    fi
    sleep 0.2
  done
  [ -n "$ok" ] || die "the keyring does not accept secrets (is gnome-keyring installed?)"
  export DEVAUTH_KEYRING_SESSION=1
  # The keyring started without a display (it can never wait on a prompt);
  # CMD gets the caller's display back, e.g. the desktop tests' Xvfb.
  if [ -n "${WITH_KEYRING_DISPLAY:-}" ]; then
    export DISPLAY="$WITH_KEYRING_DISPLAY"
  fi
  unset WITH_KEYRING_DISPLAY
  echo "with-keyring: gnome-keyring $(gnome-keyring-daemon --version 2>/dev/null | head -n 1 | awk '{print $2}') unlocked on ${DBUS_SESSION_BUS_ADDRESS%%,*}" >&2
  exec "$@"
fi

for tool in dbus-run-session gnome-keyring-daemon secret-tool; do
  command -v "$tool" >/dev/null 2>&1 \
    || die "$tool not found. Install it with: .ci/install-deps.sh keyring   (Debian packages gnome-keyring, libsecret-tools, dbus-x11)"
done

dir=""
# shellcheck disable=SC2317 # called by the traps below
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [ -n "$dir" ]; then
    # GTK programs run under CMD (the desktop tests) may have mounted a
    # document portal in it.
    remove_session_dir "$dir"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

dir="$(mktemp -d "${TMPDIR:-/tmp}/devauth-keyring.XXXXXX")"
mkdir -p "$dir/data" "$dir/config" "$dir/runtime"
chmod 0700 "$dir" "$dir/runtime"

# A fresh random password per run; nothing outside this run ever sees it.
password="$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')"

status=0
env \
  -u DISPLAY -u WAYLAND_DISPLAY -u GNOME_KEYRING_CONTROL -u DBUS_SESSION_BUS_ADDRESS \
  XDG_DATA_HOME="$dir/data" \
  XDG_CONFIG_HOME="$dir/config" \
  XDG_RUNTIME_DIR="$dir/runtime" \
  WITH_KEYRING_PASSWORD="$password" \
  WITH_KEYRING_DISPLAY="${DISPLAY:-}" \
  dbus-run-session -- "$0" --inside-session "$@" || status=$?
exit "$status"
