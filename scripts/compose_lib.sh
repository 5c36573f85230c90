# Sourced by compose_test.sh and compose_scale_test.sh: what both do the same way. The caller
# sets TEST_NAME, PROJECT, COMPOSE, PYTHON and `passed`, and defines log().
# shellcheck shell=bash

export DOCKER_BUILDKIT=0  # the legacy builder: Debian's docker.io has no buildx plugin
BASE_IMAGE=ddd-standin/base:bookworm
MYSQL_STANDIN=ddd-standin/mysql:8.4-mariadb
TF_STANDIN=ddd-standin/tf-serving:2.19.1-py
NGINX_STANDIN=ddd-standin/nginx:1.22-debian
API_IMAGE=ddd-serving/api:standin-base

die() { printf '\n%s FAILED: %s\n' "$TEST_NAME" "$*" >&2; exit 1; }
check() { "$@"; passed=$((passed + 1)); }  # a check that passed is counted; one that fails exits
secret() { head -c 18 /dev/urandom | base64 | tr -d '/+='; }

# One compose test at a time on this machine: image names and ports are shared. A second one
# waits its turn (COMPOSE_TEST_LOCK_WAIT seconds at most).
take_lock() {
  exec 9>/var/lock/ddd-compose-test.lock
  flock -w "${COMPOSE_TEST_LOCK_WAIT:-1800}" 9 \
    || die "another compose test held /var/lock/ddd-compose-test.lock too long"
}

# A fresh work folder with the env file of this run; `compose` runs the real compose file with
# the stand-ins' override, and the EXIT trap takes the stack down (KEEP_STACK=1 keeps it).
work=$(mktemp -d "/var/tmp/$TEST_NAME.XXXXXX")
env_file=$work/compose.env
stack_up=0
compose() { $COMPOSE --env-file "$env_file" -p "$PROJECT" \
  -f docker-compose.yml -f docker-compose.standins.yml "$@"; }
cleanup() {
  local rc=$?
  set +e
  [ "$rc" = 0 ] || printf '%s: %d passed, 1 failed\n' "$TEST_NAME" "$passed"
  if [ "$stack_up" = 1 ]; then
    if [ "$rc" != 0 ]; then
      log "failure: last log lines of each service"
      compose ps
      compose logs --no-color --tail=40
    fi
    if [ "${KEEP_STACK:-0}" = 1 ]; then
      log "KEEP_STACK=1: stack left running (project $PROJECT, env $env_file)"
      return
    fi
    log "down -v"
    compose down -v --remove-orphans
  fi
  rm -rf "$work"
  exit "$rc"
}
trap cleanup EXIT

use_pages() {  # sets DATA (and PAGE_KIND) to the data set, or to synthetic pages when it is absent
  PAGE_KIND=real
  if compgen -G "$DATA/test/*.png" >/dev/null; then
    echo "  pages: $DATA/test"
    return
  fi
  echo "  pages: $DATA/test is missing (set DDD_DATA for the NoisyOffice pages);"
  echo "  using synthetic pages instead (python -m bench.synthetic_pages: rendered text on synthetic backgrounds)"
  [ -x .venv/bin/python ] || make setup
  DATA=$work/pages PAGE_KIND=synthetic
  .venv/bin/python -m bench.synthetic_pages "$DATA" --count 12 || die "writing synthetic pages failed"
}

start_engine() {
  scripts/docker_engine.sh || die "no Docker engine (see the lines above): $TEST_NAME cannot run"
  command -v "${COMPOSE%% *}" >/dev/null || die "$COMPOSE not found"
}

# The stand-ins of the official images, from Debian's packages (docker/standins/).
build_standins() {
  docker/standins/base/build.sh
  docker build -q --network host -t "$MYSQL_STANDIN" docker/standins/mysql
  docker build -q --network host -t "$NGINX_STANDIN" docker/standins/nginx
  docker build -q --network host -f docker/standins/tf-serving/Dockerfile -t "$TF_STANDIN" .
}

wait_healthy() {  # wait_healthy SERVICE COUNT SECONDS: COUNT containers of SERVICE healthy
  local waited=0 healthy ids
  while :; do
    ids=$(compose ps -q "$1")
    healthy=0
    for id in $ids; do
      [ "$(docker inspect -f '{{.State.Health.Status}}' "$id" 2>/dev/null)" = healthy ] \
        && healthy=$((healthy + 1))
    done
    [ "$healthy" -ge "$2" ] && { echo "$1: $healthy healthy after ${waited}s"; return 0; }
    [ "$waited" -ge "$3" ] && die "$1: $healthy of $2 healthy after ${3}s"
    sleep 1; waited=$((waited + 1))
  done
}

db_rows() {  # COLUMNS: the rows as the db container's root sees them, through exec
  compose exec -T -e "COLUMNS_SQL=$1" db sh -c 'mysql -uroot -p"$MYSQL_ROOT_PASSWORD" -N -B -e \
    "SELECT $COLUMNS_SQL FROM ImagensAPi.Imagens" 2>/dev/null'
}
