#!/usr/bin/env bash
# `make compose-test`: runs the real docker-compose.yml on this machine, with stand-in images for
# the official ones that no registry here can give (docs/deploy.md says what they replace).
#
# Phases: engine (install/start dockerd) -> stand-in images (base from debootstrap, MariaDB,
# TF-Serving-compatible) -> model -> API image from the real Dockerfile -> up and health ->
# real pages, a bad request, the rows in the db container -> the direct client on serving's REST
# and gRPC ports -> the API switched to gRPC, real pages again -> serving paused (timeout path) ->
# serving stopped (HTTP 503, code 5) -> started again (recovers by itself) -> db stopped (rows
# wait in the spool volume) -> started again -> every row in the db -> down -v.
# All test traffic goes to 127.0.0.1:$API_PORT or stays on the compose network.
# Exits non-zero on any failure; fails loudly, never skips, when the engine cannot start.
#
# Knobs: COMPOSE_TEST_PORT (3030), COMPOSE (docker-compose), COMPOSE_TEST_PAGES (6),
# COMPOSE_TEST_TF_TIMEOUT (30: TF_SERVING_TIMEOUT of the API under test, seconds),
# MODELS_DIR (default: ./serving/models when it holds a version, else a tiny model exported now),
# DDD_DATA (the NoisyOffice folder; pages come from its test/), KEEP_STACK=1 (no down -v).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"

PROJECT=dddcomposetest
COMPOSE=${COMPOSE:-docker-compose}
API_PORT=${COMPOSE_TEST_PORT:-3030}
URL=http://127.0.0.1:$API_PORT
PAGES=${COMPOSE_TEST_PAGES:-6}
TF_TIMEOUT=${COMPOSE_TEST_TF_TIMEOUT:-30}
DATA=${DDD_DATA:-$ROOT/../shared/data/noisyoffice-ddd}
PYTHON=${PYTHON:-python3}
TEST_NAME=compose-test

log() { printf '\n=== %s\n' "$*"; }
passed=0
# shellcheck source=scripts/compose_lib.sh
. scripts/compose_lib.sh
ledger=$work/requests.jsonl
get_code() {  # get_code PATH: the HTTP status the front answers
  $PYTHON -c 'import sys, urllib.error, urllib.request as u
try:
    print(u.urlopen(sys.argv[1], timeout=10).status)
except urllib.error.HTTPError as err:
    print(err.code)' "$URL$1"
}

PHASES=()
phase_start=0
phase() {  # phase NAME: closes the running phase, starts NAME
  local now; now=$(date +%s.%N)
  if [ "$phase_start" != 0 ]; then
    PHASES+=("$(awk -v n="$phase_name" -v a="$phase_start" -v b="$now" \
      'BEGIN { printf "%-44s %6.1fs", n, b - a }')")
  fi
  phase_name=$1 phase_start=$now
  [ "$1" = end ] || log "$1"
}
t0=$(date +%s.%N)

take_lock

# --- engine -----------------------------------------------------------------------------------
phase "engine: docker.io + docker-compose, dockerd"
start_engine
$COMPOSE version | sed -n 1p
if (exec 3<>"/dev/tcp/127.0.0.1/$API_PORT") 2>/dev/null; then
  die "127.0.0.1:$API_PORT is already in use: stop that, or set COMPOSE_TEST_PORT"
fi

# --- stand-in images ----------------------------------------------------------------------------
phase "stand-in images: Debian base (debootstrap), MariaDB, TF-Serving, nginx"
build_standins

# --- model --------------------------------------------------------------------------------------
phase "model"
if [ -z "${MODELS_DIR:-}" ]; then
  if compgen -G "serving/models/autoencoder/[0-9]*/saved_model.pb" >/dev/null; then
    MODELS_DIR=$ROOT/serving/models
    echo "the trained model: $(ls -d serving/models/autoencoder/[0-9]* | tr '\n' ' ')"
  else
    MODELS_DIR=$work/models
    echo "serving/models/autoencoder has no version yet: exporting a tiny model to $MODELS_DIR"
    [ -x .venv/bin/python ] || make setup
    TF_CPP_MIN_LOG_LEVEL=3 .venv/bin/python -c "
from tests.conftest import build_tiny_denoiser
from training.export import export_model
export_model(build_tiny_denoiser(), '$MODELS_DIR/autoencoder', multiple=2, margin=8, tile=64,
             version=1)" >"$work/export.log" 2>&1 \
      || { tail -n 20 "$work/export.log"; die "exporting the tiny model failed"; }
  fi
fi
compgen -G "$MODELS_DIR/autoencoder/[0-9]*/saved_model.pb" >/dev/null \
  || die "no SavedModel version under $MODELS_DIR/autoencoder"
use_pages
page=$(ls "$DATA"/test/*.png | sed -n 1p)

# Fresh secrets for this run only; the compose file refuses to start without them.
free_port() { $PYTHON -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
GRPC_PORT=$(free_port)
REST_PORT=$(free_port)
umask 077
cat >"$env_file" <<ENV
MYSQL_ROOT_PASSWORD=$(secret)
MYSQL_PASSWORD=$(secret)
MYSQL_SCHEMA_PASSWORD=$(secret)
FRONT_TOKEN=$(secret)
MODELS_DIR=$MODELS_DIR
API_PORT=$API_PORT
FRONT_ADDRESS=127.0.0.1
TF_SERVING_TIMEOUT=$TF_TIMEOUT
TF_SERVING_GRPC_PORT=$GRPC_PORT
TF_SERVING_REST_PORT=$REST_PORT
ENV
umask 022

# --- API image ----------------------------------------------------------------------------------
phase "API image (real Dockerfile, stand-in base)"
compose build api

# --- up -----------------------------------------------------------------------------------------
phase "up -d and wait for health"
stack_up=1
compose down -v --remove-orphans >/dev/null 2>&1 || true  # leftovers of a run that was killed
compose up -d
check wait_healthy db 1 180
check wait_healthy serving 1 240
check wait_healthy api 1 120
check $PYTHON scripts/compose_check.py ready "$URL" --expect 200 --wait 60  # through the front
compose ps
published=$(docker ps --filter "label=com.docker.compose.project=$PROJECT" \
  --format '{{.Label "com.docker.compose.service"}} {{.Ports}}' | grep -- '->' | cut -d' ' -f1 \
  | sort -u | tr '\n' ' ')
[ "$published" = "front serving " ] \
  || die "published services: '$published' (wanted the front, and serving on loopback only)"
echo "published: $published(serving on 127.0.0.1 only, for direct benchmarks)"
passed=$((passed + 1))

phase "checks: no TensorFlow in the API image, non-root"
if out=$(docker run --rm "$API_IMAGE" python -c "import tensorflow" 2>&1); then
  die "the API image imports tensorflow"
fi
no_tf_proof=$(printf '%s\n' "$out" | tail -n 1)
echo "docker run --rm $API_IMAGE python -c 'import tensorflow' -> $no_tf_proof"
case $no_tf_proof in *"No module named 'tensorflow'"*) ;; *) die "unexpected: $no_tf_proof" ;; esac
passed=$((passed + 1))
api_uid=$(compose exec -T api id -u)
[ "$api_uid" != 0 ] || die "the API runs as root"
echo "api runs as uid $api_uid ($(compose exec -T api id -un))"
passed=$((passed + 1))

# --- traffic ------------------------------------------------------------------------------------
phase "$PAGE_KIND pages to $URL"
check $PYTHON scripts/compose_check.py ready "$URL" --expect 200
check $PYTHON scripts/compose_check.py get "$URL" /health / /static/app.js /openapi.json
[ "$(get_code /metrics)" = 404 ] || die "/metrics answers outside the compose network"
echo "  GET /metrics through the front: 404 (scraped inside the network only)"
passed=$((passed + 1))
check $PYTHON scripts/compose_check.py pages "$URL" "$ledger" --data "$DATA/test" --count "$PAGES"
check $PYTHON scripts/compose_check.py pages "$URL" "$ledger" --data "$DATA/test" --count "$PAGES" \
  --threads 3 --offset 1
check $PYTHON scripts/compose_check.py bad "$URL" "$ledger"
check $PYTHON scripts/compose_check.py oversize "$URL" "$ledger" --bytes $((36 * 1024 * 1024))
api_metrics() {  # the API's own /metrics, from inside its container (both gunicorn workers)
  compose exec -T api python -c \
    'import urllib.request as u; print(u.urlopen("http://127.0.0.1:3030/metrics").read().decode())'
}
check_metrics() { api_metrics | $PYTHON scripts/compose_check.py metrics "$ledger"; }
check check_metrics

phase "slow clients: 64 connections trickling a byte a second while $PAGE_KIND pages are cleaned"
check $PYTHON scripts/compose_check.py trickle "$URL" "$ledger" --data "$DATA/test" \
  --connections 64 --count 6 --factor 2

check_rows() {
  db_rows "request_id, codigo_retorno, largura, altura" \
    | $PYTHON scripts/compose_check.py rows "$ledger"
}
phase "rows in the db container"
check check_rows
# Least privilege: the API's user can add rows, not read, remove or change them, nor the schema.
for statement in "SELECT COUNT(*) FROM ImagensAPi.Imagens" \
    "DELETE FROM ImagensAPi.Imagens" "UPDATE ImagensAPi.Imagens SET altura = 0" \
    "DROP TABLE ImagensAPi.Imagens" \
    "ALTER TABLE ImagensAPi.Imagens ADD COLUMN x INT" "CREATE TABLE mysql.x (i INT)"; do
  if compose exec -T -e "SQL=$statement" db sh -c \
      'mysql -h 127.0.0.1 -u"$MYSQL_API_USER" -p"$MYSQL_API_PASSWORD" -e "$SQL" 2>&1'; then
    die "the API's MySQL user may run: $statement"
  fi
  passed=$((passed + 1))
done
compose exec -T db sh -c 'mysql -h 127.0.0.1 -u"$MYSQL_API_USER" -p"$MYSQL_API_PASSWORD" -N \
  -e "SHOW GRANTS" 2>/dev/null'
# The schema step's user changes the schema; it never deletes rows or drops the table.
for statement in "DELETE FROM ImagensAPi.Imagens" "DROP TABLE ImagensAPi.Imagens"; do
  if compose exec -T -e "SQL=$statement" db sh -c \
      'mysql -h 127.0.0.1 -u"$MYSQL_SCHEMA_USER" -p"$MYSQL_SCHEMA_PASSWORD" -e "$SQL" 2>&1'; then
    die "the schema step's MySQL user may run: $statement"
  fi
  passed=$((passed + 1))
done
migrate_exit=$(docker inspect -f '{{.State.ExitCode}}' "$(compose ps -q migrate)")
[ "$migrate_exit" = 0 ] || die "the migrate service exited with $migrate_exit"
echo "  migrate (python -m api.log.schema as the schema user) exited 0 before the API started"
passed=$((passed + 1))

# --- gRPC ---------------------------------------------------------------------------------------
phase "direct client on serving's published ports: REST and gRPC, both signatures"
[ -x .venv/bin/python ] || make setup
check .venv/bin/python -m bench.direct --rest "http://127.0.0.1:$REST_PORT" \
  --grpc "127.0.0.1:$GRPC_PORT" --model autoencoder --data "$DATA" --sizes 540x420 \
  --concurrency 1 --direct-requests 2

phase "API switched to gRPC (TF_SERVING_GRPC=serving:8500): $PAGE_KIND pages"
echo "TF_SERVING_GRPC=serving:8500" >>"$env_file"
compose up -d --no-deps api
check wait_healthy api 1 120
ready_backend=$(api_metrics | grep '^ddd_model_info')
case $ready_backend in *'backend="tf-serving-grpc"'*) echo "  /metrics names the gRPC backend" ;;
  *) die "the API is not on gRPC: $ready_backend" ;; esac
passed=$((passed + 1))
check $PYTHON scripts/compose_check.py pages "$URL" "$ledger" --data "$DATA/test" --count "$PAGES" \
  --threads 3 --offset 3
check check_rows

# --- outages (the API on gRPC from here on) ------------------------------------------------------
phase "serving paused (hangs): timeout path"
compose pause serving
check $PYTHON scripts/compose_check.py outage "$URL" "$ledger" --page "$page" --timeout "$TF_TIMEOUT" \
  --hang --note "serving paused"
compose unpause serving

phase "serving stopped: HTTP 503, code 5"
compose stop serving
check $PYTHON scripts/compose_check.py outage "$URL" "$ledger" --page "$page" --timeout "$TF_TIMEOUT" \
  --note "serving stopped"
check $PYTHON scripts/compose_check.py ready "$URL" --expect 503 --wait 15

phase "serving started: the API recovers by itself"
compose start serving
check $PYTHON scripts/compose_check.py recover "$URL" "$ledger" --page "$page" --wait 240
check $PYTHON scripts/compose_check.py ready "$URL" --expect 200 --wait 30
check wait_healthy serving 1 60

phase "db stopped: rows wait in the api-spool volume"
compose stop db
check $PYTHON scripts/compose_check.py pages "$URL" "$ledger" --data "$DATA/test" --count 2 \
  --offset 2
# The API's request log says where each row went ("log_row": "db" | "spool").
spooled=$(compose logs --no-color api | grep -c '"log_row": "spool"' || true)
[ "$spooled" -ge 2 ] || die "with db stopped, $spooled rows went to the spool (2 expected)"
echo "  $spooled rows went to the spool volume while db was stopped"
passed=$((passed + 1))
compose start db
check wait_healthy db 1 120

phase "all rows in the db container (spool replayed)"
for _ in $(seq 1 30); do  # the API replays its spool every few seconds once MySQL answers
  check_rows >/dev/null 2>&1 && break
  sleep 2
done
check check_rows

# Old builds of our own images only (a rebuilt stand-in leaves its predecessor untagged).
docker image prune -f --filter label=ddd.standin=true >/dev/null
docker image prune -f --filter label=org.opencontainers.image.title=ddd-serving-api >/dev/null

phase end
log "summary"
printf '%s\n' "${PHASES[@]}"
awk -v a="$t0" -v b="$(date +%s.%N)" \
  'BEGIN { printf "%-44s %6.1fs\n", "total (before down -v)", b - a }'
echo
docker image ls --format '{{.Repository}}:{{.Tag}}\t{{.Size}}' \
  | grep -E "^(ddd-standin|ddd-serving)/" | sort
echo "no TensorFlow in $API_IMAGE: $no_tf_proof"
echo "compose-test: $passed passed, 0 failed"
