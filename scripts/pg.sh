#!/usr/bin/env bash
# A project-private PostgreSQL server, for `make run`, `make test` and friends.
#
#   scripts/pg.sh start DIR   initialise (once) and start a server whose data,
#                             log and Unix socket live under DIR; prints its
#                             admin URL (database `postgres`) on stdout
#   scripts/pg.sh stop DIR    stop it (fast shutdown); no-op if not running
#   scripts/pg.sh url DIR     print the admin URL
#   scripts/pg.sh status DIR  exit 0 if its server is running
#   scripts/pg.sh createdb DIR NAME   create database NAME if missing
#   scripts/pg.sh bindir      print where the server binaries are
#
# The server listens on a Unix socket only (no TCP port), so it can never
# clash with a system server on 5432. Two options, read at the first start
# (initialisation) only:
#
#   PG_TLS_PORT=N|auto  also listen on 127.0.0.1:N with TLS on (a self-signed
#                       certificate made with openssl, or the PEM files
#                       PG_TLS_CERT and PG_TLS_KEY name), for TLS tests;
#                       `pg.sh tls-url DIR` prints that URL
#   PG_PASSWORD=SECRET  the configuration of the CI workflow's service: every
#                       connection (socket or TCP) authenticates with
#                       scram-sha-256 as `postgres` / SECRET, and the server
#                       also listens on 127.0.0.1; the admin URL printed is
#                       the TCP one, password included. SECRET is put in a
#                       URL as it is: letters, digits, '-' and '_' only.
#
# With PG_TLS_PORT=auto or PG_PASSWORD, pg.sh picks the TCP port itself: a
# random one from 20000-59999, and another one if the server cannot bind it
# (someone else holds it), up to ten tries, so no port is "reserved" by
# binding and releasing it first. initdb and postgres refuse to run as
# root: as root, they run as the `postgres` account on a directory it owns.
set -euo pipefail

die() { echo "pg.sh: $*" >&2; exit 1; }

# Where initdb and pg_ctl are, first match wins: PG_BINDIR; the PATH;
# `pg_config --bindir` (the installation whose pg_config is on the PATH);
# Debian's versioned folders; Homebrew's keg-only postgresql@N (never linked
# into the PATH; Apple silicon and Intel prefixes) and Postgres.app, newest
# major first; then the usual prefixes.
find_bindir() {
  if [ -n "${PG_BINDIR:-}" ]; then
    [ -x "$PG_BINDIR/pg_ctl" ] && [ -x "$PG_BINDIR/initdb" ] \
      || die "PG_BINDIR=$PG_BINDIR has no initdb and pg_ctl"
    echo "$PG_BINDIR"; return
  fi
  if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
    dirname "$(command -v pg_ctl)"; return
  fi
  local d
  for d in $(pg_config --bindir 2>/dev/null) \
           $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n -r) \
           $(ls -d /opt/homebrew/opt/postgresql@*/bin /usr/local/opt/postgresql@*/bin 2>/dev/null | sort -t@ -k2 -n -r) \
           /opt/homebrew/opt/postgresql/bin /usr/local/opt/postgresql/bin \
           /Applications/Postgres.app/Contents/Versions/latest/bin \
           /usr/local/pgsql/bin /opt/homebrew/bin /usr/local/bin; do
    if [ -x "$d/pg_ctl" ] && [ -x "$d/initdb" ]; then echo "$d"; return; fi
  done
  die "PostgreSQL server binaries (initdb, pg_ctl) not found; install PostgreSQL, set PG_BINDIR, or set DATABASE_URL to an existing server (or use 'make compose-up')"
}

# psql of the same installation when it has one (a keg-only Homebrew
# PostgreSQL puts none on the PATH), else the PATH's.
psql_bin() {
  local d; d=$(find_bindir 2>/dev/null) || d=
  if [ -n "$d" ] && [ -x "$d/psql" ]; then echo "$d/psql"; else echo psql; fi
}

# C.UTF-8 where the C library has it (glibc, musl); macOS has no such
# locale, so initdb would refuse it there: en_US.UTF-8 instead.
initdb_locale() {
  if locale -a 2>/dev/null | grep -Eiqx 'c\.utf-?8'; then echo C.UTF-8; else echo en_US.UTF-8; fi
}

# Runs a server binary as the account that owns the cluster.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

# The socket directory: inside DIR when its path is short enough for a Unix
# socket (107 bytes), otherwise a short private directory under /tmp.
socket_dir() {
  local dir=$1
  if [ ${#dir} -le 80 ]; then
    echo "$dir/run"
  else
    echo "/tmp/backend-pg-$(printf '%s' "$dir" | cksum | cut -d' ' -f1)"
  fi
}

urlencode_path() { printf '%s' "$1" | sed -e 's/%/%25/g' -e 's|/|%2F|g' -e 's/ /%20/g'; }

port_of() { cat "$1/port" 2>/dev/null || echo 5432; }

admin_url() {
  local sock; sock=$(socket_dir "$1")
  if [ -f "$1/password" ]; then
    echo "postgres://postgres:$(cat "$1/password")@127.0.0.1:$(port_of "$1")/postgres"
  else
    echo "postgres://postgres@$(urlencode_path "$sock"):$(port_of "$1")/postgres"
  fi
}

# A TCP port for the server to try: random, outside the usual ephemeral
# range (32768-60999 on Linux overlaps, hence the retry in start()).
random_port() { echo $((20000 + (RANDOM * 32768 + RANDOM) % 40000)); }

tls_url() {
  echo "postgres://postgres@127.0.0.1:$(port_of "$1")/postgres?sslmode=require"
}

start() {
  local dir=$1 bindir sock
  bindir=$(find_bindir)
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  sock=$(socket_dir "$dir")
  mkdir -p "$sock"
  if [ "$(id -u)" = 0 ]; then
    id postgres >/dev/null 2>&1 || die "running as root needs a 'postgres' account to run the server"
    chown postgres "$dir" "$sock"
    runuser -u postgres -- test -w "$dir" \
      || die "the postgres account cannot write to $dir (is a parent directory private?); set DATABASE_URL instead"
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    local auth=(--auth=trust)
    if [ -n "${PG_PASSWORD:-}" ]; then
      printf '%s' "$PG_PASSWORD" | grep -Eq '^[A-Za-z0-9_-]+$' \
        || die "PG_PASSWORD: letters, digits, '-' and '_' only (it goes into a URL as it is)"
      (umask 077; printf '%s\n' "$PG_PASSWORD" > "$dir/pwfile"; printf '%s' "$PG_PASSWORD" > "$dir/password")
      [ "$(id -u)" = 0 ] && chown postgres "$dir/pwfile"
      auth=(--auth=scram-sha-256 --pwfile="$dir/pwfile")
      echo auto > "$dir/port-auto"
      random_port > "$dir/port"
    fi
    as_owner "$bindir/initdb" -D "$dir/data" -U postgres "${auth[@]}" -E UTF8 \
      --locale="$(initdb_locale)" --no-instructions >"$dir/initdb.log" 2>&1 \
      || { rm -f "$dir/pwfile"; cat "$dir/initdb.log" >&2; die "initdb failed"; }
    rm -f "$dir/pwfile"
    if [ -n "${PG_TLS_PORT:-}" ]; then
      command -v openssl >/dev/null || die "PG_TLS_PORT needs openssl"
      if [ -n "${PG_TLS_CERT:-}" ]; then  # the caller's own (e.g. a test CA's)
        cp "$PG_TLS_CERT" "$dir/data/server.crt" && cp "${PG_TLS_KEY:?PG_TLS_KEY too}" "$dir/data/server.key"
      else openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=localhost" \
        -keyout "$dir/data/server.key" -out "$dir/data/server.crt" >/dev/null 2>&1; fi
      chmod 600 "$dir/data/server.key"
      [ "$(id -u)" = 0 ] && chown postgres "$dir/data/server.key" "$dir/data/server.crt"
      printf "ssl = on\n" >> "$dir/data/postgresql.conf"
      # Over TCP, TLS only: a plaintext connection finds no pg_hba entry.
      # -i with an attached suffix: the one spelling GNU and BSD sed share.
      sed -i.orig 's/^host /hostssl /' "$dir/data/pg_hba.conf" && rm -f "$dir/data/pg_hba.conf.orig"
      if [ "$PG_TLS_PORT" = auto ]; then
        echo auto > "$dir/port-auto"
        random_port > "$dir/port"
      else
        echo "$PG_TLS_PORT" > "$dir/port"
      fi
    fi
  fi
  if as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    admin_url "$dir"; return
  fi
  # No TCP unless TLS was asked for at initialisation (then loopback only).
  local listen="''"
  [ -f "$dir/port" ] && listen=127.0.0.1
  local tries=1
  [ -f "$dir/port-auto" ] && tries=10
  while :; do
    # Durability settings off: this server holds development and test data only.
    if as_owner "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
      -o "-c listen_addresses=$listen -k $sock -p $(port_of "$dir") -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300 -c shared_buffers=128MB" \
      start >/dev/null; then
      break
    fi
    tries=$((tries - 1))
    # A port chosen here and held by someone else: choose another.
    if [ "$tries" -gt 0 ] && tail -20 "$dir/server.log" | grep -q 'could not bind\|could not create any TCP/IP sockets'; then
      random_port > "$dir/port"
      continue
    fi
    tail -20 "$dir/server.log" >&2
    die "the server did not start"
  done
  admin_url "$dir"
}

stop() {
  local dir=$1 bindir
  [ -f "$dir/data/PG_VERSION" ] || return 0
  bindir=$(find_bindir)
  if as_owner "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_owner "$bindir/pg_ctl" -D "$dir/data" -m fast -w -t 30 stop >/dev/null
  fi
}

createdb() {
  local dir=$1 name=$2 sock
  dir=$(cd "$dir" && pwd)
  sock=$(socket_dir "$dir")
  if [ -f "$dir/password" ]; then PGPASSWORD=$(cat "$dir/password"); export PGPASSWORD; fi
  local psql; psql=$(psql_bin)
  if ! "$psql" -h "$sock" -p "$(port_of "$dir")" -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = '$name'" | grep -q 1; then
    "$psql" -h "$sock" -p "$(port_of "$dir")" -U postgres -d postgres -qc "CREATE DATABASE \"$name\"" >/dev/null
  fi
}

status() {
  local dir=$1
  [ -f "$dir/data/PG_VERSION" ] || return 1
  as_owner "$(find_bindir)/pg_ctl" -D "$dir/data" status >/dev/null 2>&1
}

case "${1:-}" in
  bindir) find_bindir ;;
  status) [ $# -eq 2 ] || die "usage: pg.sh status DIR"; status "$2" ;;
  start) [ $# -eq 2 ] || die "usage: pg.sh start DIR"; start "$2" ;;
  stop) [ $# -eq 2 ] || die "usage: pg.sh stop DIR"; stop "$2" ;;
  url) [ $# -eq 2 ] || die "usage: pg.sh url DIR"; admin_url "$(cd "$2" && pwd)" ;;
  tls-url) [ $# -eq 2 ] || die "usage: pg.sh tls-url DIR"; tls_url "$(cd "$2" && pwd)" ;;
  createdb) [ $# -eq 3 ] || die "usage: pg.sh createdb DIR NAME"; createdb "$2" "$3" ;;
  *) die "usage: pg.sh start|stop|url DIR, or createdb DIR NAME" ;;
esac
