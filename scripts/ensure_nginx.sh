#!/bin/sh
# Installs Debian's nginx for the front's tests (tests/test_front.py) when it is missing. The
# tests run their own nginx on free loopback ports; the package's default site is not used.
set -eu
if command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_nginx: nginx missing and no apt-get: install nginx" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "ensure_nginx: installing nginx-light (Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
# The package starts its default site on port 80 where it can; tests never use it.
$SUDO apt-get install -y -qq nginx-light >/dev/null
$SUDO sh -c 'command -v service >/dev/null && service nginx stop >/dev/null 2>&1 || true'
/usr/sbin/nginx -v
