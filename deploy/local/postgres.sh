#!/usr/bin/env bash
# Makes a PostgreSQL server available and prints its admin URL on stdout.
#   postgres.sh start   use $DATABASE_URL when it answers; otherwise start a private
#                       cluster in the git-ignored .data/postgres (port $CCHC_PG_PORT,
#                       default 55432) with the machine's PostgreSQL binaries
#   postgres.sh stop    stop the private cluster
#   postgres.sh restart restart the private cluster (chaos tests)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
port=${CCHC_PG_PORT:-55432}
data=${CCHC_PG_DATA:-$root/.data/postgres}
# As root, initdb runs as the postgres user, which must reach the folder; a checkout
# under a private home directory is out of its reach, so use a folder it can reach.
if [ -z "${CCHC_PG_DATA:-}" ] && [ "$(id -u)" = 0 ] && id postgres >/dev/null 2>&1; then
  mkdir -p "$root/.data"
  if ! runuser -u postgres -- test -x "$root/.data"; then
    data="/var/tmp/cchc-postgres-$(printf %s "$root" | md5sum | cut -c1-10)"
  fi
fi
url="postgres://postgres@127.0.0.1:$port/postgres?sslmode=disable"

find_bin() {
  if command -v "$1" >/dev/null 2>&1; then command -v "$1"; return; fi
  local b
  b=$(ls -d /usr/lib/postgresql/*/bin/"$1" 2>/dev/null | sort -V | tail -n 1)
  [ -n "$b" ] || { echo "PostgreSQL's $1 was not found (install postgresql)" >&2; exit 1; }
  echo "$b"
}

# initdb and postgres refuse to run as root: run them as the postgres user then.
as_owner() {
  if [ "$(id -u)" = 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

answers() { pg_isready_bin=$(find_bin pg_isready); "$pg_isready_bin" -q -d "$1" 2>/dev/null; }

start() {
  if [ -n "${DATABASE_URL:-}" ] && answers "$DATABASE_URL"; then
    echo "$DATABASE_URL"; return
  fi
  if answers "$url"; then echo "$url"; return; fi
  local initdb pg_ctl
  initdb=$(find_bin initdb); pg_ctl=$(find_bin pg_ctl)
  if [ ! -f "$data/PG_VERSION" ]; then
    mkdir -p "$data"
    if [ "$(id -u)" = 0 ]; then
      chown -R postgres "$data"
      runuser -u postgres -- test -w "$data" ||
        { echo "the postgres user cannot write $data; set CCHC_PG_DATA to a folder it can use" >&2; exit 1; }
    fi
    as_owner "$initdb" -D "$data" -U postgres -A trust -E UTF8 --locale=C.UTF-8 >/dev/null
  fi
  as_owner "$pg_ctl" -D "$data" -l "$data/server.log" -w -t 60 \
    -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=${CCHC_PG_FSYNC:-on}" start >&2
  echo "$url"
}

case "${1:-start}" in
  start) start ;;
  stop) [ -f "$data/PG_VERSION" ] && as_owner "$(find_bin pg_ctl)" -D "$data" -m fast stop >&2 || true ;;
  restart) as_owner "$(find_bin pg_ctl)" -D "$data" -l "$data/server.log" -m fast -w restart \
             -o "-p $port -k $data -c listen_addresses=127.0.0.1 -c max_connections=400" >&2 ;;
  *) echo "usage: $0 start|stop|restart" >&2; exit 2 ;;
esac
