#!/usr/bin/env bash
# Starts (creating it on first use) the private Postgres cluster that `make run`
# uses when ENGAGED_DATABASE_URL is not set: data under $DATA/pg, reachable only
# through a Unix socket in that directory. Idempotent. Writes the database URL
# to $DATA/pg/database_url, where `engaged serve` and `engaged admin` find it.
#   scripts/pg.sh start|stop [data-dir]
set -euo pipefail
cmd=${1:-start}
data=$(realpath -m "${2:-./data}")
pg="$data/pg"

bindir() {
  if command -v initdb >/dev/null 2>&1; then dirname "$(readlink -f "$(command -v initdb)")"; return; fi
  local d; d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1 || true)
  if [ -n "$d" ]; then echo "$d"; return; fi
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "pg.sh: installing Debian's postgresql (initdb not found)" >&2
    apt-get update -qq >&2 && apt-get install -y -qq postgresql >&2
    d=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n1); echo "$d"; return
  fi
  echo "pg.sh: initdb not found; install postgresql (Debian: apt-get install postgresql) or set ENGAGED_DATABASE_URL" >&2
  exit 1
}
BIN=$(bindir)

# initdb refuses root; run the cluster as the postgres user (or nobody).
as_owner=()
if [ "$(id -u)" = 0 ]; then
  owner=postgres; id -u postgres >/dev/null 2>&1 || owner=nobody
  as_owner=(setpriv --reuid="$(id -u $owner)" --regid="$(id -g $owner)" --clear-groups)
fi

case "$cmd" in
start)
  mkdir -p "$pg"
  if [ ${#as_owner[@]} -gt 0 ]; then
    chown "$owner" "$pg"
    chmod a+x "$data" # the cluster's user must be able to reach $pg
  fi
  if [ ! -f "$pg/data/PG_VERSION" ]; then
    "${as_owner[@]}" "$BIN/initdb" -D "$pg/data" -U postgres -A trust -E UTF8 >"$pg/initdb.log"
  fi
  if ! "${as_owner[@]}" "$BIN/pg_ctl" -D "$pg/data" status >/dev/null 2>&1; then
    "${as_owner[@]}" "$BIN/pg_ctl" -D "$pg/data" -l "$pg/server.log" -w \
      -o "-k $pg -c listen_addresses=" start >/dev/null
  fi
  if ! "${as_owner[@]}" "$BIN/psql" -h "$pg" -U postgres -Atqc "SELECT 1 FROM pg_database WHERE datname='engaged'" postgres | grep -q 1; then
    "${as_owner[@]}" "$BIN/psql" -h "$pg" -U postgres -qc "CREATE DATABASE engaged" postgres
  fi
  echo "postgres://postgres@/engaged?host=$pg" >"$pg/database_url"
  ;;
stop)
  if [ -f "$pg/data/PG_VERSION" ]; then
    "${as_owner[@]}" "$BIN/pg_ctl" -D "$pg/data" -m fast -w stop >/dev/null 2>&1 || true
  fi
  ;;
*) echo "usage: $0 start|stop [data-dir]" >&2; exit 2 ;;
esac
