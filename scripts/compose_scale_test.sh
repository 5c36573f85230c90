#!/usr/bin/env bash
# `make compose-scale-test`: the real docker-compose.yml with two API and two serving replicas
# behind the nginx front (`up --scale api=2 --scale serving=2`), stand-in images as in
# compose-test (docs/deploy.md says what they replace). The API calls serving over gRPC with
# round-robin over the addresses `serving` resolves to (one per replica).
#
# Phases: engine -> images -> up, every replica healthy -> spread: pages through the front, then
# each API replica's /metrics count and the bytes each serving replica received -> one serving
# replica killed (kill -9) during load: only calls in flight fail, each with code 5 and its row,
# later calls all succeed -> one API replica killed during load: the other keeps answering ->
# db stopped, pages answered (rows in the shared spool volume), an API replica killed, db
# started: every answered request has its row -> every row checked in the db -> the retention
# tool service runs as its own user and keeps today's rows -> down -v.
# All traffic goes to 127.0.0.1:$PORT (the front) or stays on the compose network.
#
# Knobs: COMPOSE_SCALE_TEST_PORT (3031), COMPOSE (docker-compose), DDD_DATA, KEEP_STACK=1,
# COMPOSE_TEST_LOCK_WAIT (seconds to wait for another compose test, 1800).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PROJECT=dddscaletest
COMPOSE=${COMPOSE:-docker-compose}
PORT=${COMPOSE_SCALE_TEST_PORT:-3031}
URL=http://127.0.0.1:$PORT
DATA=${DDD_DATA:-$ROOT/../shared/data/noisyoffice-ddd}
PYTHON=${PYTHON:-python3}
MODELS_DIR=${MODELS_DIR:-$ROOT/serving/models}
TEST_NAME=compose-scale-test

log() { printf '\n=== %s\n' "$*"; }
passed=0
# shellcheck source=scripts/compose_lib.sh
. scripts/compose_lib.sh
t0=$(date +%s)
take_lock

log "engine"
start_engine
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
  die "127.0.0.1:$PORT is in use: set COMPOSE_SCALE_TEST_PORT"
fi
compgen -G "$MODELS_DIR/autoencoder/[0-9]*/saved_model.pb" >/dev/null \
  || die "no SavedModel version under $MODELS_DIR/autoencoder"
use_pages

log "images: stand-ins as compose-test builds them, the API from the real Dockerfile"
build_standins

# Fresh secrets for this run only. Serving's published ports are ephemeral (two replicas); the
# API calls serving over gRPC, round robin over the replicas' addresses.
umask 077
cat >"$env_file" <<ENV
MYSQL_ROOT_PASSWORD=$(secret)
MYSQL_PASSWORD=$(secret)
MYSQL_SCHEMA_PASSWORD=$(secret)
FRONT_TOKEN=$(secret)
MYSQL_RETENTION_PASSWORD=$(secret)
MODELS_DIR=$MODELS_DIR
API_PORT=$PORT
FRONT_ADDRESS=127.0.0.1
TF_SERVING_GRPC=serving:8500
TF_SERVING_GRPC_PORT=
TF_SERVING_REST_PORT=
TF_SERVING_TIMEOUT=60
ENV
umask 022
compose build api

log "up: 2 API replicas, 2 serving replicas, the front"
stack_up=1
compose down -v --remove-orphans >/dev/null 2>&1 || true
compose up -d --scale api=2 --scale serving=2
check wait_healthy db 1 180
check wait_healthy serving 2 300
check wait_healthy api 2 180
check $PYTHON scripts/compose_check.py ready "$URL" --expect 200 --wait 60  # through the front
compose ps

replicas() { compose ps -q "$1" | sort; }
pid_of() { docker inspect -f '{{.State.Pid}}' "$1"; }
# kill -9 of a container's first process, returning once it is gone: the kernel then kills the
# rest of the container (gunicorn's workers) before that process is reaped.
kill_cmd() { local pid; pid=$(pid_of "$1"); echo "kill -9 $pid; while kill -0 $pid 2>/dev/null; do sleep 0.02; done"; }
short() { printf '%.12s' "$1"; }
rx_bytes() {  # bytes a container received on its network interface
  awk -F'[: ]+' '/eth0:/ { print $3 }' "/proc/$(pid_of "$1")/net/dev"
}
cpu_seconds() {  # CPU time a container has used (cgroup v1 or v2)
  local v1=/sys/fs/cgroup/cpuacct/docker/$1/cpuacct.usage
  local v2=/sys/fs/cgroup/system.slice/docker-$1.scope/cpu.stat
  if [ -r "$v1" ]; then awk '{ printf "%.1f", $1 / 1e9 }' "$v1"
  else awk '/usage_usec/ { printf "%.1f", $2 / 1e6 }' "$v2"; fi
}
api_requests() {  # the sum of ddd_requests_total on one API replica's /metrics
  docker exec "$1" python -c "import urllib.request as u; print(u.urlopen(\
'http://127.0.0.1:3030/metrics', timeout=10).read().decode())" \
    | $PYTHON scripts/compose_scale_check.py metric ddd_requests_total
}
ledger=$work/requests.jsonl
load() { $PYTHON scripts/compose_scale_check.py load "$URL" "$ledger" --data "$DATA/test" "$@"; }

log "spread: pages through the front reach both API and both serving replicas"
mapfile -t apis < <(replicas api)
mapfile -t servings < <(replicas serving)
declare -A rx0 cpu0
for id in "${servings[@]}"; do rx0[$id]=$(rx_bytes "$id"); cpu0[$id]=$(cpu_seconds "$id"); done
check load --count 40 --threads 4
echo "  requests counted by each API replica's /metrics (ddd_requests_total):"
shares=()
for id in "${apis[@]}"; do shares+=("api-$(short "$id")=$(api_requests "$id")"); done
check $PYTHON scripts/compose_scale_check.py share "${shares[@]}" --total 40
echo "  page bytes received by each serving replica (kB), and its CPU seconds:"
shares=() cpu=()
for id in "${servings[@]}"; do
  shares+=("serving-$(short "$id")=$(( ($(rx_bytes "$id") - rx0[$id]) / 1000 ))")
  cpu+=("serving-$(short "$id")=$(awk -v a="${cpu0[$id]}" -v b="$(cpu_seconds "$id")" \
    'BEGIN { printf "%.1f", b - a }')")
done
check $PYTHON scripts/compose_scale_check.py share "${shares[@]}"
check $PYTHON scripts/compose_scale_check.py share "${cpu[@]}"

log "one serving replica killed (kill -9) during load"
victim=${servings[0]}
check load --count 60 --threads 4 --kill-after 10 --kill "$(kill_cmd "$victim")"
check wait_healthy serving 2 300  # restarted by its restart policy

log "one API replica killed (kill -9) during load"
victim=${apis[0]}
check load --count 60 --threads 4 --kill-after 10 --kill "$(kill_cmd "$victim")"
check wait_healthy api 2 180

log "db stopped: rows wait in the shared spool volume; an API replica killed; db started"
compose stop db
spooled_before=$(compose logs --no-color api | grep -c '"log_row": "spool"' || true)
check load --count 8 --threads 2
spooled=$(( $(compose logs --no-color api | grep -c '"log_row": "spool"' || true) - spooled_before ))
[ "$spooled" -ge 8 ] || die "with db stopped, $spooled rows went to the spool (8 expected)"
echo "  $spooled rows went to the shared spool volume while db was stopped"
passed=$((passed + 1))
mapfile -t apis < <(replicas api)
bash -c "$(kill_cmd "${apis[1]}")"
echo "  API replica $(short "${apis[1]}") killed with rows in the spool"
compose start db
check wait_healthy db 1 180
check wait_healthy api 2 180

log "every answered request has its row"
check_rows() {
  db_rows "request_id, codigo_retorno" | $PYTHON scripts/compose_scale_check.py rows "$ledger"
}
for _ in $(seq 1 30); do  # the spool is replayed every few seconds once MySQL answers
  check_rows >/dev/null 2>&1 && break
  sleep 2
done
check check_rows

log "retention tool service, as docs/deploy.md runs it (every row is from today: none goes)"
retention_run() {  # the purge as its own MySQL user, made by the db's init files
  local out
  out=$(compose run --rm -e RETENTION_DAYS=1 retention "$@" 2>/dev/null | tail -n 1)
  echo "  $out"
  case $out in *'"older_rows": 0'*|*'"rows": 0'*) ;; *) die "retention: $out" ;; esac
}
check retention_run python -m api.log.retention purge --dry-run
check retention_run
check check_rows

log "summary"
echo "total $(( $(date +%s) - t0 )) s"
echo "compose-scale-test: $passed passed, 0 failed"
