#!/usr/bin/env bash
# The README's two commands on a bare Debian machine: a container from the stand-in Debian base
# image (debootstrap minbase bookworm + python3, python3-venv) with only make added, holding a
# clean copy of HEAD and no ../shared data. Inside: `make test`, then `make run` in the
# background, /ready and one page through it. Needs a Docker engine (scripts/docker_engine.sh).
#   scripts/bare_machine_test.sh [make-test|make-run|both]   (default: both)
# Scratch space: SCRATCH_DIR (default /var/tmp).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
what=${1:-both}
BASE_IMAGE=${STANDIN_BASE_IMAGE:-ddd-standin/base:bookworm}
export DOCKER_BUILDKIT=0

scripts/docker_engine.sh
docker image inspect "$BASE_IMAGE" >/dev/null 2>&1 || docker/standins/base/build.sh
work=$(mktemp -d "${SCRATCH_DIR:-/var/tmp}/ddd-bare.XXXXXX")  # disk-backed, not a small /tmp
trap 'rm -rf "$work"' EXIT
git archive --format=tar --prefix=project/ HEAD | tar -x -C "$work"
cat >"$work/Dockerfile" <<DOCKERFILE
FROM $BASE_IMAGE
RUN apt-get update -qq && apt-get install -y -qq --no-install-recommends make >/dev/null
COPY project /srv/project
WORKDIR /srv/project
DOCKERFILE
docker build -q --network host -t ddd-bare:test "$work" >/dev/null

script='set -e; python3 --version; make --version | head -1'
case $what in
  make-test|both) script="$script; time make test" ;;
esac
case $what in
  make-run|both) script="$script; (make run >/tmp/run.log 2>&1 &);
    for i in \$(seq 1 600); do
      .venv/bin/python -c 'import urllib.request as u; u.urlopen(\"http://127.0.0.1:3030/ready\")' \
        2>/dev/null && break; sleep 1; done;
    tail -n 15 /tmp/run.log;
    .venv/bin/python -c '
import base64, io, json, urllib.request
from PIL import Image
buf = io.BytesIO(); Image.new(\"L\", (540, 420), 200).save(buf, \"PNG\")
body = json.dumps({\"imgb64_dirty\": base64.b64encode(buf.getvalue()).decode()}).encode()
req = urllib.request.Request(\"http://127.0.0.1:3030/remove_background\", body, {\"Content-Type\": \"application/json\"})
answer = json.loads(urllib.request.urlopen(req, timeout=300).read())
print(\"make run answered code\", answer[\"codigo_retorno\"], answer[\"mensagem\"])
assert answer[\"codigo_retorno\"] == 0'" ;;
esac
# Docker's default bridge: the container's own loopback (no host MariaDB on 127.0.0.1:3306, so
# the scripts must install one), and the package registries through NAT.
docker run --rm -e DDD_DATA=/nonexistent ddd-bare:test bash -c "$script"
