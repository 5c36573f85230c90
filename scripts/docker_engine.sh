#!/usr/bin/env bash
# Makes a Docker engine answer on this machine: installs Debian's docker.io, docker-compose and
# debootstrap when missing, starts dockerd in the background when no daemon answers, waits for it.
# Fails loudly (non-zero, with the reason) when the engine cannot be had; never skips.
set -euo pipefail

log() { printf '[docker_engine] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/ddd-dockerd.log}
DOCKERD_WAIT=${DOCKERD_WAIT:-60}

install_packages() {
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v docker-compose >/dev/null || missing+=(docker-compose)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  [ ${#missing[@]} -eq 0 ] && return 0
  [ "$(id -u)" = 0 ] || die "need root to install ${missing[*]} (apt-get)"
  log "installing ${missing[*]} from Debian's packages"
  apt-get update -qq || die "apt-get update failed"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
}

engine_answers() { docker info >/dev/null 2>&1; }

start_dockerd() {
  [ "$(id -u)" = 0 ] || die "no Docker daemon answers and starting dockerd needs root"
  log "no Docker daemon answers: starting dockerd in the background (log: $DOCKERD_LOG)"
  # A daemon killed with the session before leaves its pid file; dockerd refuses to start while
  # the pid in it belongs to a live process of another name.
  local pid
  pid=$(cat /var/run/docker.pid 2>/dev/null || true)
  if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null)" != dockerd ]; then
    rm -f /var/run/docker.pid
  fi
  # setsid: the daemon outlives this script and is not killed with its process group. It must
  # not inherit the caller's descriptors either: a daemon holding compose-test's lock file
  # would block every later compose-test.
  (
    for fd in /proc/self/fd/*; do
      n=${fd##*/}
      [ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-" 2>/dev/null
    done
    exec setsid nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null
  ) &
  local waited=0
  until engine_answers; do
    if [ "$waited" -ge "$DOCKERD_WAIT" ]; then
      log "last lines of $DOCKERD_LOG:"
      tail -n 20 "$DOCKERD_LOG" >&2 || true
      die "dockerd did not answer within ${DOCKERD_WAIT}s"
    fi
    sleep 1
    waited=$((waited + 1))
  done
  log "dockerd answers after ${waited}s"
}

install_packages
engine_answers || start_dockerd
docker info --format 'engine {{.ServerVersion}}, storage {{.Driver}}' >&2 \
  || die "docker info failed after start"
