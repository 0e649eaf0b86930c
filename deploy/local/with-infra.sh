#!/usr/bin/env bash
# Runs a command with what the tests need: the pinned nats-server (tests start their
# own on free ports) and a PostgreSQL server where tests create their databases. A
# private PostgreSQL started here is stopped again afterwards.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
"$root/deploy/local/tools.sh"
export CCHC_NATS_SERVER="$root/.tools/bin/nats-server"
started=0
if [ -n "${DATABASE_URL:-}" ] && pg_isready -q -d "$DATABASE_URL" 2>/dev/null; then
  export CCHC_TEST_DATABASE_URL="$DATABASE_URL"
else
  export CCHC_TEST_DATABASE_URL=$("$root/deploy/local/postgres.sh" start)
  started=1
fi
set +e
"$@"
rc=$?
set -e
if [ "$started" = 1 ] && [ -z "${CCHC_KEEP_POSTGRES:-}" ]; then "$root/deploy/local/postgres.sh" stop || true; fi
exit $rc
