#!/usr/bin/env bash
# Brings the whole system up in the foreground: NATS and PostgreSQL (started here when
# NATS_URL / DATABASE_URL name none that answers), the four services and the gateway.
# Prints the gateway URL once everything is ready; Ctrl-C or SIGTERM stops all it started
# and exits 0, however many signals arrive (make, a supervisor or `timeout` send SIGTERM
# to the whole process group, and make forwards it once more).
#
# Settings (all optional): CCHC_PROFILE (debug|release), CCHC_SKIP_BUILD=1 (use the
# binaries already built, e.g. by `make build`), CCHC_BIN_DIR (where they are),
# CCHC_DATA_DIR (logs, NATS store and credentials; default .data), CCHC_GATEWAY_PORT
# (8080), CCHC_CONSOLE_PORT (8090), CCHC_NATS_PORT (4222), CCHC_GRPC_PORT_BASE (50050: the services listen on
# base+1 .. base+4), CCHC_HEALTH_PORT_BASE (51050), CCHC_PG_PORT / CCHC_PG_DATA (see
# postgres.sh), CCHC_FIRST_USER_EMAIL / CCHC_FIRST_USER_NAME (the first office person,
# vanphong@sgddt.example.vn, "Văn phòng Sở").
#
# Scale (`make cluster`): CCHC_REPLICAS (1) runs that many replicas of every service and
# of the gateway (replica r listens on the ports above + 10 (r-1); gateways on
# CCHC_GATEWAY_PORT + r-1); CCHC_NATS_NODES (1) starts a NATS cluster of that many nodes
# (client ports CCHC_NATS_PORT + i, routes CCHC_NATS_CLUSTER_PORT (6222) + i) whose
# streams keep min(3, nodes) copies. Each service is given every replica's address.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
profile=${CCHC_PROFILE:-debug}
bin=${CCHC_BIN_DIR:-${CARGO_TARGET_DIR:-$root/target}/$profile}
data=${CCHC_DATA_DIR:-$root/.data}
# Each start keeps its own logs ($data/logs/<UTC time>), `latest` the newest: a crash
# is still there to read after the next start.
logs="$data/logs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$logs"
ln -sfn "$(basename "$logs")" "$data/logs/latest"
pids=()
nats_pids=()
stopping=0
replicas=${CCHC_REPLICAS:-1}
nodes=${CCHC_NATS_NODES:-1}

# Stops everything this script started, once. Further INT/TERM are ignored from the
# first moment of stopping: a second signal must not cut the cleanup short and leave
# the private PostgreSQL running (pg_ctl starts it in its own session, so no group
# signal reaches it; only this cleanup stops it).
cleanup() {
  trap '' INT TERM
  if [ "$stopping" = 1 ]; then return; fi
  stopping=1
  echo "stopping ..." >&2
  # The services first, NATS after them, so they can flush on the way out.
  local pid i
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for i in $(seq 1 300); do
    alive=0
    for pid in "${pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive=1; done
    [ "$alive" = 0 ] && break
    sleep 0.1
  done
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  for pid in "${nats_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${nats_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  # In a session of its own: a signal sent to this group while it stops (a supervisor's
  # retry, make forwarding one) would reach runuser, which kills pg_ctl mid-stop and
  # leaves an orphan behind in this group.
  if [ "${started_pg:-0}" = 1 ]; then setsid -w "$root/deploy/local/postgres.sh" stop || true; fi
  echo "stopped" >&2
}
trap cleanup EXIT
trap 'trap "" INT TERM; cleanup; exit 0' INT TERM

# NATS: the configured server, or a private one with JetStream on its own port and
# store, with the users and permissions of deploy/nats/auth.conf and passwords made
# afresh for this run (kept in $data/nats/credentials for the operator's own tools).
nats_url_for() { echo "$NATS_URL"; }
if [ -z "${NATS_URL:-}" ]; then
  "$root/deploy/local/tools.sh"
  nats_port=${CCHC_NATS_PORT:-4222}
  mkdir -p "$data/nats"
  creds="$data/nats/credentials"
  nats_env=()
  (umask 077; : >"$creds")
  echo "# NATS users of the running system (deploy/nats/auth.conf); new passwords every run." >>"$creds"
  for user in admin gateway catalogue activity notification reporting; do
    pw=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n')
    var="CCHC_NATS_$(echo "$user" | tr a-z A-Z)_PASSWORD"
    nats_env+=("$var=$pw")
    printf '%s=%s\n' "$var" "$pw" >>"$creds"
    printf -v "pw_$user" %s "$pw"
  done
  printf 'NATS_ADMIN_URL=nats://admin:%s@127.0.0.1:%s\n' "$pw_admin" "$nats_port" >>"$creds"
  if [ "$nodes" = 1 ]; then
    env "${nats_env[@]}" "$root/.tools/bin/nats-server" -c "$root/deploy/nats/auth.conf" \
      -js -a 127.0.0.1 -p "$nats_port" -sd "$data/nats" >"$logs/nats.log" 2>&1 &
    nats_pids+=($!)
  else
    # A cluster on loopback: every node routes to the others, each keeps its own store.
    route_base=${CCHC_NATS_CLUSTER_PORT:-6222}
    monitor_base=${CCHC_NATS_MONITOR_PORT:-8222}
    for i in $(seq 0 $((nodes - 1))); do
      routes=$(for j in $(seq 0 $((nodes - 1))); do
        [ "$j" = "$i" ] || printf 'nats://127.0.0.1:%s,' $((route_base + j)); done)
      env "${nats_env[@]}" "$root/.tools/bin/nats-server" -c "$root/deploy/nats/auth.conf" \
        -js -a 127.0.0.1 -p $((nats_port + i)) -m $((monitor_base + i)) -n "node-$i" -sd "$data/nats/node-$i" \
        --cluster_name cchc --cluster "nats://127.0.0.1:$((route_base + i))" \
        --routes "${routes%,}" >"$logs/nats-$i.log" 2>&1 &
      nats_pids+=($!)
    done
    export CCHC_STREAM_REPLICAS=$((nodes < 3 ? nodes : 3))
    # The services provision their streams as they start: first the nodes must find
    # each other and elect JetStream's leader (each node's /healthz says so).
    for attempt in $(seq 1 60); do
      healthy=1
      for i in $(seq 0 $((nodes - 1))); do
        curl -fsS "http://127.0.0.1:$((monitor_base + i))/healthz" >/dev/null 2>&1 || healthy=0
      done
      [ "$healthy" = 1 ] && break
      [ "$attempt" = 60 ] && { echo "the NATS cluster did not become healthy in 60 s; see $logs/" >&2; exit 1; }
      sleep 1
    done
  fi
  nats_url_for() {
    local v="pw_$1" i urls=()
    for i in $(seq 0 $((nodes - 1))); do urls+=("nats://$1:${!v}@127.0.0.1:$((nats_port + i))"); done
    (IFS=,; echo "${urls[*]}")
  }
fi

# PostgreSQL: DATABASE_URL when it answers, else a private cluster under .data/.
if [ -z "${DATABASE_URL:-}" ]; then
  started_pg=1
  if command -v pg_isready >/dev/null && pg_isready -q -h 127.0.0.1 -p "${CCHC_PG_PORT:-55432}" 2>/dev/null; then
    echo "note: a PostgreSQL already answers on port ${CCHC_PG_PORT:-55432} (left by an earlier run?); using it, and stopping it at exit" >&2
  fi
fi
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
# And the first operator key (rebuilding read models, resending dead letters), the same way.
if [ -z "${CCHC_OPERATOR_TOKEN:-}" ]; then
  operator_file="$root/.cchc-operator-token"
  if [ ! -s "$operator_file" ]; then
    (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' | sed 's/^/cchc_/' >"$operator_file")
  fi
  CCHC_OPERATOR_TOKEN=$(cat "$operator_file")
fi
export CCHC_OPERATOR_TOKEN
# The gateway signs callers for the services with this; it never leaves this machine.
export CCHC_INTERNAL_TOKEN=${CCHC_INTERNAL_TOKEN:-$(od -An -N32 -tx1 /dev/urandom | tr -d ' \n')}

if [ -z "${CCHC_SKIP_BUILD:-}" ]; then
  if [ "$profile" = release ]; then cargo build --release --bins; else cargo build --bins; fi
fi

port=${CCHC_GATEWAY_PORT:-8080}
grpc_base=${CCHC_GRPC_PORT_BASE:-50050}
health_base=${CCHC_HEALTH_PORT_BASE:-51050}
# Replica r of a process: its log's name, and how far its ports are moved.
declare -A log_for # pid → its log
log_of() { if [ "$replicas" = 1 ]; then echo "$logs/$1.log"; else echo "$logs/$1-$2.log"; fi; }
start() { # name offset replica
  local shift=$((10 * ($3 - 1)))
  NATS_URL=$(nats_url_for "$1") CCHC_GRPC_ADDR="127.0.0.1:$((grpc_base + $2 + shift))" \
    CCHC_HTTP_ADDR="127.0.0.1:$((health_base + $2 + shift))" "$bin/cchc-$1" >"$(log_of "$1" "$3")" 2>&1 &
  pids+=($!)
  log_for[$!]=$(log_of "$1" "$3")
}
# Every replica's gRPC address of the service at `offset`, for its clients.
grpc_urls() {
  local r urls=()
  for r in $(seq 1 "$replicas"); do urls+=("http://127.0.0.1:$((grpc_base + $1 + 10 * (r - 1)))"); done
  (IFS=,; echo "${urls[*]}")
}
for r in $(seq 1 "$replicas"); do
  start catalogue 1 "$r"
  start activity 2 "$r"
  start notification 3 "$r"
  start reporting 4 "$r"
done
console_port=${CCHC_CONSOLE_PORT:-8090}
gateway_env=(
  "NATS_URL=$(nats_url_for gateway)"
  "CCHC_CONSOLE_URL=http://127.0.0.1:$console_port"
  "CCHC_CATALOGUE_URL=$(grpc_urls 1)"
  "CCHC_ACTIVITY_URL=$(grpc_urls 2)"
  "CCHC_NOTIFICATION_URL=$(grpc_urls 3)"
  "CCHC_REPORTING_URL=$(grpc_urls 4)"
  # Each gateway holds its share of the per-key and per-address rate limits.
  "CCHC_GATEWAY_REPLICAS=$replicas"
)
for r in $(seq 1 "$replicas"); do
  env "${gateway_env[@]}" CCHC_GATEWAY_ADDR="127.0.0.1:$((port + r - 1))" \
    CCHC_TRUSTED_PROXIES=127.0.0.1/32 "$bin/cchc-gateway" >"$(log_of gateway "$r")" 2>&1 &
  pids+=($!)
  log_for[$!]=$(log_of gateway "$r")
done
gateway_env+=("CCHC_GATEWAY_ADDR=127.0.0.1:$port")
# The web pages, a client of the gateway's API (which trusts it to name the browser's
# address, so sign-in throttling is per person's address, not the console's).
CCHC_CONSOLE_ADDR="127.0.0.1:$console_port" CCHC_GATEWAY_URL="http://127.0.0.1:$port" \
  "$bin/cchc-console" >"$logs/console.log" 2>&1 &
pids+=($!)
log_for[$!]=$logs/console.log

echo "waiting for every service to be ready (logs in $logs/) ..." >&2
all_ready() {
  local r
  for r in $(seq 1 "$replicas"); do
    curl -fsS "http://127.0.0.1:$((port + r - 1))/readyz" >/dev/null 2>&1 || return 1
  done
  curl -fsS "http://127.0.0.1:$console_port/readyz" >/dev/null 2>&1
}
for i in $(seq 1 120); do
  if all_ready; then
    # The first office person, so a newcomer signs in without SQL: a one-time link
    # while the account is still invited (a new one each start; the old one ends).
    first_email=${CCHC_FIRST_USER_EMAIL:-vanphong@sgddt.example.vn}
    first_link=$(env "${gateway_env[@]}" "$bin/cchc-gateway" first-user --email "$first_email" \
      --name "${CCHC_FIRST_USER_NAME:-Văn phòng Sở}" 2>>"$logs/first-user.log") ||
      { echo "making the first person failed; see $logs/first-user.log" >&2; exit 1; }
    if [ -n "$first_link" ]; then
      first="$first_email: set a password with this one-time link (72 h):
                $first_link"
    else
      first="$first_email is active: sign in with POST /v1/sessions"
    fi
    cat <<MSG

cchc is up.
  console:      http://127.0.0.1:$console_port   (web pages, in Vietnamese)
  gateway:      http://127.0.0.1:$port   (/healthz, /readyz)$([ "$replicas" = 1 ] || echo "; replicas up to port $((port + replicas - 1))")
  NATS:         $nodes node(s)$([ "$nodes" = 1 ] || echo ", streams of ${CCHC_STREAM_REPLICAS:-1} copies"), every service $replicas time(s)
  office key:   $CCHC_BOOTSTRAP_TOKEN
  operator key: $CCHC_OPERATOR_TOKEN
  first person: $first
  try:          curl -H "Authorization: Bearer \$KEY" http://127.0.0.1:$port/v1/units
  logs:         $logs/
Press Ctrl-C to stop.
MSG
    # Stay in the foreground until a process dies or a signal arrives (the trap exits).
    # With replicas, one that dies is what they are for: the others go on (and a test of
    # that kills one) until none of a kind is left.
    while true; do
      alive=()
      for pid in "${pids[@]}" "${nats_pids[@]}"; do kill -0 "$pid" 2>/dev/null && alive+=("$pid"); done
      wait -n "${alive[@]}" || true
      if [ "$replicas" = 1 ] && [ "$nodes" = 1 ]; then break; fi
      echo "a process stopped; its replicas go on (see $logs/)" >&2
      gone=1
      for r in $(seq 1 "$replicas"); do
        curl -fsS "http://127.0.0.1:$((port + r - 1))/healthz" >/dev/null 2>&1 && gone=0
      done
      [ "$gone" = 1 ] && break
    done
    echo "a process stopped; see $logs/" >&2
    exit 1
  fi
  for pid in "${pids[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      # Name the one that died, with its status and its own last words, before the rest.
      status=0
      wait "$pid" || status=$?
      echo "a process failed to start: ${log_for[$pid]} ended with status $status; its last lines:" >&2
      tail -n 40 "${log_for[$pid]}" >&2
      echo "the others' last lines (all logs in $logs/):" >&2
      tail -n 5 "$logs"/*.log >&2
      exit 1
    fi
  done
  sleep 1
done
echo "the system did not become ready in 120 s; see $logs/" >&2
curl -sS "http://127.0.0.1:$port/readyz" >&2 || true
exit 1
