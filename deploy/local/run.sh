#!/usr/bin/env bash
# Brings the whole system up in the foreground: NATS and PostgreSQL (started here when
# NATS_URL / DATABASE_URL name none that answers), the four services and the gateway.
# Prints the gateway URL once everything is ready; Ctrl-C or SIGTERM stops all it started.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
profile=${CCHC_PROFILE:-debug}
bin="${CARGO_TARGET_DIR:-$root/target}/$profile"
logs="$root/.data/logs"
mkdir -p "$logs"
pids=()

stop_all() {
  trap - INT TERM EXIT
  echo "stopping ..." >&2
  # The services first, NATS after them, so they can flush on the way out.
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  if [ -n "${nats_pid:-}" ]; then kill -TERM "$nats_pid" 2>/dev/null || true; wait "$nats_pid" 2>/dev/null || true; fi
  if [ "${started_pg:-0}" = 1 ]; then "$root/deploy/local/postgres.sh" stop || true; fi
  echo "stopped" >&2
}
trap stop_all EXIT
trap 'stop_all; exit 0' INT TERM

# NATS: the configured server, or a private one with JetStream on its own port and store.
if [ -z "${NATS_URL:-}" ]; then
  "$root/deploy/local/tools.sh"
  nats_port=${CCHC_NATS_PORT:-4222}
  mkdir -p "$root/.data/nats"
  "$root/.tools/bin/nats-server" -js -a 127.0.0.1 -p "$nats_port" -sd "$root/.data/nats" >"$logs/nats.log" 2>&1 &
  nats_pid=$!
  export NATS_URL="nats://127.0.0.1:$nats_port"
fi

# PostgreSQL: DATABASE_URL when it answers, else a private cluster under .data/.
if [ -z "${DATABASE_URL:-}" ]; then started_pg=1; fi
DATABASE_URL=$("$root/deploy/local/postgres.sh" start)
export DATABASE_URL

# The first office key comes from the operator; when none is set, make one and keep it.
if [ -z "${CCHC_BOOTSTRAP_TOKEN:-}" ]; then
  token_file="$root/.cchc-bootstrap-token"
  if [ ! -s "$token_file" ]; then
    (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' | sed 's/^/cchc_/' >"$token_file")
  fi
  CCHC_BOOTSTRAP_TOKEN=$(cat "$token_file")
fi
export CCHC_BOOTSTRAP_TOKEN
# The gateway signs callers for the services with this; it never leaves this machine.
export CCHC_INTERNAL_TOKEN=${CCHC_INTERNAL_TOKEN:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}

if [ "$profile" = release ]; then cargo build --release --bins; else cargo build --bins; fi

port=${CCHC_GATEWAY_PORT:-8080}
start() { # name grpc-port http-port
  CCHC_GRPC_ADDR="127.0.0.1:$2" CCHC_HTTP_ADDR="127.0.0.1:$3" "$bin/cchc-$1" >"$logs/$1.log" 2>&1 &
  pids+=($!)
}
start catalogue 50051 51051
start activity 50052 51052
start notification 50053 51053
start reporting 50054 51054
CCHC_GATEWAY_ADDR="127.0.0.1:$port" "$bin/cchc-gateway" >"$logs/gateway.log" 2>&1 &
pids+=($!)

echo "waiting for every service to be ready (logs in .data/logs/) ..." >&2
for i in $(seq 1 120); do
  if curl -fsS "http://127.0.0.1:$port/readyz" >/dev/null 2>&1; then
    cat <<MSG

cchc is up.
  gateway:      http://127.0.0.1:$port   (/healthz, /readyz)
  office key:   $CCHC_BOOTSTRAP_TOKEN
  try:          curl -H "Authorization: Bearer \$KEY" http://127.0.0.1:$port/v1/units
  logs:         .data/logs/
Press Ctrl-C to stop.
MSG
    # Stay in the foreground until a process dies or a signal arrives.
    wait -n "${pids[@]}" ${nats_pid:+"$nats_pid"} || true
    echo "a process stopped; see .data/logs/" >&2
    exit 1
  fi
  for pid in "${pids[@]}"; do
    kill -0 "$pid" 2>/dev/null || { echo "a process failed to start; see .data/logs/" >&2; tail -n 5 "$logs"/*.log >&2; exit 1; }
  done
  sleep 1
done
echo "the system did not become ready in 120 s; see .data/logs/" >&2
curl -sS "http://127.0.0.1:$port/readyz" >&2 || true
exit 1
