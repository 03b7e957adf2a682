#!/usr/bin/env bash
# Runs a command next to a throwaway PostgreSQL cluster.
#
#   .ci/with-postgres.sh CMD [ARG...]
#
# Starts a fresh cluster (Debian's PostgreSQL 15 binaries, trust auth, no
# fsync) in a temporary directory under /tmp, listening on a free port on
# 127.0.0.1 only, then runs CMD with
#
#   DEVAUTH_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:PORT/postgres
#   DEVAUTH_REQUIRE_POSTGRES=1
#
# and always stops the cluster and deletes the directory afterwards. Exits
# with CMD's status. PostgreSQL refuses to run as root, so as root the cluster
# runs as the `postgres` user; otherwise as the current user.
#
# PG_BIN overrides the directory holding initdb and pg_ctl.
set -euo pipefail

# runuser lives in /usr/sbin, which is not on every PATH.
PATH="$PATH:/usr/sbin:/sbin"

prog=with-postgres
# shellcheck source=.ci/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

[ $# -gt 0 ] || {
  echo "usage: $0 CMD [ARG...]" >&2
  exit 2
}

# --- find the binaries ------------------------------------------------------
if [ -z "${PG_BIN:-}" ]; then
  PG_BIN=/usr/lib/postgresql/15/bin
  if [ ! -x "$PG_BIN/initdb" ]; then
    # Another Debian major version (e.g. a newer release) will do.
    newest="$(find /usr/lib/postgresql -mindepth 3 -maxdepth 3 -path '*/bin/initdb' 2>/dev/null | sort -V | tail -n 1)"
    if [ -n "$newest" ]; then
      PG_BIN="$(dirname "$newest")"
      echo "with-postgres: PostgreSQL 15 not found, using $PG_BIN" >&2
    fi
  fi
fi
for tool in initdb pg_ctl postgres; do
  [ -x "$PG_BIN/$tool" ] || die "PostgreSQL server binaries not found ($PG_BIN/$tool is missing).
Install them with: .ci/install-deps.sh server   (Debian package 'postgresql'),
or point PG_BIN at a directory holding initdb, pg_ctl and postgres."
done

# --- run PostgreSQL as a non-root user --------------------------------------
if [ "$(id -u)" -eq 0 ]; then
  id -u postgres >/dev/null 2>&1 \
    || die "running as root and there is no 'postgres' user to run PostgreSQL as (install the Debian 'postgresql' package)"
  as_pg() { runuser -u postgres -- "$@"; }
else
  as_pg() { "$@"; }
fi

# --- cleanup, whatever happens ----------------------------------------------
pg_dir=""
pg_started=""
# shellcheck disable=SC2317 # called by the traps below
cleanup() {
  local status=$?
  trap - EXIT INT TERM HUP
  if [ -n "$pg_started" ]; then
    as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate -w -t 30 stop >/dev/null 2>&1 \
      || echo "with-postgres: warning: could not stop the cluster in $pg_dir" >&2
  fi
  if [ -n "$pg_dir" ]; then
    rm -rf "$pg_dir"
  fi
  exit "$status"
}
trap cleanup EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

# Under /tmp (not $TMPDIR) so the postgres user can reach it; short, because
# the Unix socket lives here too.
pg_dir="$(mktemp -d /tmp/devauth-pg.XXXXXX)"
if [ "$(id -u)" -eq 0 ]; then
  chown postgres: "$pg_dir"
fi

if ! as_pg "$PG_BIN/initdb" -D "$pg_dir/data" -U postgres -A trust -E UTF8 --locale=C --no-sync \
  >"$pg_dir/initdb.log" 2>&1; then
  cat "$pg_dir/initdb.log" >&2
  die "initdb failed"
fi

free_port() {
  if command -v python3 >/dev/null 2>&1; then
    python3 -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
  else
    echo $((20000 + RANDOM % 30000))
  fi
}

# The port can be taken between picking and binding: try a few.
port=""
for _attempt in 1 2 3 4 5; do
  candidate="$(free_port)"
  if as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -l "$pg_dir/pg.log" -w -t 30 \
    -o "-k $pg_dir -p $candidate -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300" \
    start >/dev/null 2>&1; then
    port="$candidate"
    pg_started=1
    break
  fi
  # A half-started server would keep the data directory busy.
  as_pg "$PG_BIN/pg_ctl" -D "$pg_dir/data" -m immediate -w stop >/dev/null 2>&1 || true
done
if [ -z "$port" ]; then
  tail -n 20 "$pg_dir/pg.log" >&2 || true
  die "could not start PostgreSQL (log above)"
fi

export DEVAUTH_TEST_POSTGRES_URL="postgres://postgres@127.0.0.1:$port/postgres"
export DEVAUTH_REQUIRE_POSTGRES=1
echo "with-postgres: $("$PG_BIN/postgres" --version) on 127.0.0.1:$port" >&2

# Not exec: the EXIT trap has to stop the cluster after CMD.
status=0
"$@" || status=$?
exit "$status"
