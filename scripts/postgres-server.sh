#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests, everything under one directory.
#
#   postgres-server.sh start DIR PORT   initdb in DIR (owned by the postgres system user, since
#                                       initdb and postgres refuse to run as root), listen on
#                                       127.0.0.1:PORT only (unix socket in DIR), fsync on; create
#                                       the user and database `registry`. Prints one line
#                                       postgres=postgres://registry:PASSWORD@127.0.0.1:PORT/registry
#                                       and writes DIR/env (PG_HOST PG_PORT PG_USER PG_PASSWORD PG_DATABASE).
#   postgres-server.sh stop DIR         pg_ctl stop -m immediate, then remove DIR.
#
# The `registry` user may create databases (CREATEDB), so tests can make one per test case.
set -euo pipefail

MARKER=.postgres-server
say() { echo "postgres-server: $*" >&2; }
die() { say "$*"; exit 1; }

require_root() { [ "$(id -u)" = 0 ] || die "must run as root (it installs packages and switches to the postgres user)"; }

pg_bin() { # the newest /usr/lib/postgresql/*/bin holding pg_ctl
  local d best=
  for d in /usr/lib/postgresql/*/bin; do [ -x "$d/pg_ctl" ] && best=$d; done
  [ -n "$best" ] && echo "$best"
}

ensure_postgres() {
  [ -n "$(pg_bin)" ] && id postgres >/dev/null 2>&1 && return 0
  command -v apt-get >/dev/null || die "PostgreSQL is missing and there is no apt-get"
  (
    flock -w 900 9 || die "timed out waiting for another postgres-server.sh package install"
    [ -n "$(pg_bin)" ] && exit 0
    say "installing postgresql (first use only)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=300 postgresql
  ) 9>/var/lock/postgres-server-apt.lock
  [ -n "$(pg_bin)" ] || die "could not install postgresql"
  id postgres >/dev/null 2>&1 || die "no postgres system user after installing postgresql"
}

as_postgres() { runuser -u postgres -- "$@"; }

port_free() {
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}

STARTING=
on_exit() {
  local rc=$?
  if [ "$rc" -ne 0 ] && [ -n "$STARTING" ] && [ -d "$STARTING" ]; then
    say "start failed; server log:"
    [ -f "$STARTING/log/postgres.log" ] && tail -n 20 "$STARTING/log/postgres.log" >&2
    stop_dir "$STARTING" >/dev/null 2>&1 || true
  fi
}

stop_dir() {
  local dir=$1 bin
  if [ ! -d "$dir" ]; then say "$dir: nothing to stop"; return 0; fi
  if [ ! -e "$dir/$MARKER" ]; then
    [ -z "$(ls -A "$dir")" ] && { rmdir "$dir"; return 0; }
    die "refusing to touch $dir: not made by postgres-server.sh (no $MARKER)"
  fi
  bin=$(pg_bin || true)
  if [ -n "$bin" ] && [ -f "$dir/data/postmaster.pid" ]; then
    as_postgres "$bin/pg_ctl" -D "$dir/data" stop -m immediate -w -t 30 >/dev/null 2>&1 || true
  fi
  rm -rf "$dir"
  say "stopped, removed $dir"
}

start_dir() {
  local dir=$1 port=$2 bin password
  [[ "$port" =~ ^[0-9]+$ ]] && [ "$port" -ge 1 ] && [ "$port" -le 65535 ] || die "bad PORT '$port'"
  require_root
  ensure_postgres
  bin=$(pg_bin)
  if [ -e "$dir/$MARKER" ]; then
    say "$dir exists from an earlier start, rebuilding"
    stop_dir "$dir"
  elif [ -d "$dir" ] && [ -n "$(ls -A "$dir")" ]; then
    die "$dir exists, is not empty and was not made by postgres-server.sh"
  fi
  port_free "$port" || die "port $port on 127.0.0.1 is already in use"

  mkdir -p "$dir"; touch "$dir/$MARKER"; STARTING=$dir
  mkdir -p "$dir/data" "$dir/log" "$dir/run"
  chown -R postgres:postgres "$dir"
  chmod 700 "$dir/data"
  password=$(python3 -c 'import secrets; print(secrets.token_hex(16))')

  as_postgres "$bin/initdb" -D "$dir/data" --username=postgres --auth-local=trust --auth-host=scram-sha-256 \
    --encoding=UTF8 --locale=C.UTF-8 >"$dir/log/initdb.log" 2>&1 || { cat "$dir/log/initdb.log" >&2; die "initdb failed"; }
  cat >> "$dir/data/postgresql.conf" <<EOF
# written by postgres-server.sh
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir/run'
fsync = on
synchronous_commit = on
max_connections = 200
log_destination = 'stderr'
logging_collector = off
EOF
  as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/log/postgres.log" -w -t 60 start >/dev/null \
    || die "pg_ctl start failed"
  as_postgres "$bin/psql" -h "$dir/run" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -q \
    -v pw="$password" >/dev/null <<'EOF' || die "creating the registry user and database failed"
CREATE ROLE registry LOGIN CREATEDB PASSWORD :'pw';
CREATE DATABASE registry OWNER registry;
EOF
  {
    echo "PG_HOST=127.0.0.1"
    echo "PG_PORT=$port"
    echo "PG_USER=registry"
    echo "PG_PASSWORD=$password"
    echo "PG_DATABASE=registry"
  } > "$dir/env"
  STARTING=
  say "PostgreSQL ready on 127.0.0.1:$port"
  echo "postgres=postgres://registry:$password@127.0.0.1:$port/registry"
}

usage() { die "usage: $0 start DIR PORT | $0 stop DIR"; }

main() {
  local action=${1:-}
  [ $# -ge 1 ] && shift
  case $action in
    start)
      [ $# -eq 2 ] || usage
      trap on_exit EXIT
      trap 'exit 130' INT TERM
      start_dir "$(realpath -m "$1")" "$2" ;;
    stop)
      [ $# -eq 1 ] || usage
      require_root
      stop_dir "$(realpath -m "$1")" ;;
    *) usage ;;
  esac
}

main "$@"
