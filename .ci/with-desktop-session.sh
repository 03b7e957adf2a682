#!/usr/bin/env bash
# Runs a command inside a throwaway desktop session, for the desktop app's
# end-to-end tests.
#
#   .ci/with-desktop-session.sh CMD [ARG...]
#
# CMD runs with
#   - an X server: Xvfb on a free display, 1280x1024x24 (xvfb-run -a);
#   - a private D-Bus session bus (dbus-run-session);
#   - gnome-keyring's Secret Service on that bus, with a new login keyring
#     created and unlocked with a throwaway password (a locked keyring under a
#     display would wait forever on an unlock prompt);
#   - throwaway XDG_DATA_HOME, XDG_CONFIG_HOME, XDG_CACHE_HOME and
#     XDG_RUNTIME_DIR (mode 700), so nothing touches the real keyring or
#     settings;
#   - DEVAUTH_DESKTOP_SESSION=1, which tells the desktop tests they may run,
#     and DEVAUTH_KEYRING_SESSION=1, which tells the keychain tests (see
#     .ci/with-keyring.sh) the same: this session has a working keyring.
#
# So .ci/with-keyring.sh is not needed inside it. If it runs there anyway,
# it starts a bus and keyring of its own, and must hand DISPLAY back to CMD.
#
# Everything is removed afterwards; exits with CMD's status. Needs the
# `desktop` profile of .ci/install-deps.sh.
set -euo pipefail

prog=with-desktop-session
# shellcheck source=.ci/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -gt 0 ] || {
  echo "usage: $0 CMD [ARG...]" >&2
  exit 2
}

for tool in xvfb-run xauth dbus-run-session gnome-keyring-daemon; do
  command -v "$tool" >/dev/null 2>&1 \
    || die "$tool is missing; install the desktop packages with: .ci/install-deps.sh desktop"
done

session_dir="$(mktemp -d /tmp/devauth-desktop.XXXXXX)"
# shellcheck disable=SC2317 # called by the traps below
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  remove_session_dir "$session_dir"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -m 700 "$session_dir/runtime"
mkdir -p "$session_dir/data" "$session_dir/config" "$session_dir/cache"
export XDG_RUNTIME_DIR="$session_dir/runtime"
export XDG_DATA_HOME="$session_dir/data"
export XDG_CONFIG_HOME="$session_dir/config"
export XDG_CACHE_HOME="$session_dir/cache"
export DEVAUTH_DESKTOP_SESSION=1
# Keep GTK and GIO quiet about the missing desktop services.
export NO_AT_BRIDGE=1
export GTK_A11Y=none

# Inside the bus: start the keyring (its password is stdin), wait until it
# owns its bus name, check that it stores and returns a secret, then CMD.
# shellcheck disable=SC2016 # expanded by the inner shell
inner='printf %s devauth-test-session | gnome-keyring-daemon --unlock --components=secrets >/dev/null \
  || { echo "with-desktop-session: gnome-keyring-daemon did not start" >&2; exit 1; }
for _ in $(seq 50); do
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.secrets 2>/dev/null \
    | grep -q "boolean true" && break
  sleep 0.1
done
if command -v secret-tool >/dev/null 2>&1; then
  ok=""
  for _ in 1 2 3 4 5 6 7 8 9 10; do
    if printf probe | secret-tool store --label=probe service with-desktop-session username probe 2>/dev/null \
      && [ "$(secret-tool lookup service with-desktop-session username probe 2>/dev/null)" = probe ]; then
      secret-tool clear service with-desktop-session username probe 2>/dev/null || true
      ok=1
      break
    fi
    sleep 0.2
  done
  [ -n "$ok" ] || { echo "with-desktop-session: the keyring does not accept secrets" >&2; exit 1; }
fi
export DEVAUTH_KEYRING_SESSION=1
"$@"'

status=0
xvfb-run -a -s "-screen 0 1280x1024x24 -nolisten tcp" \
  dbus-run-session -- bash -c "$inner" with-desktop-session "$@" || status=$?
exit "$status"
