#!/bin/sh
# ensure_debian_packages.sh PATH PACKAGE...: installs Debian's PACKAGEs when PATH (a program or a
# file they install) is missing. `make test` uses it for the browser tests (/usr/bin/chromium: chromium,
# chromium-driver, and libatomic1 for Playwright's driver; it never downloads a browser) and the front's tests
# (/usr/sbin/nginx: nginx-light; the tests run their own nginx on free loopback ports).
set -eu
program=$1
shift
[ -e "$program" ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_debian_packages: $program missing and no apt-get: install $*" >&2
    exit 1
fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO="sudo"
echo "ensure_debian_packages: $program missing: installing $* (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "$@" >/dev/null
[ -e "$program" ] || { echo "ensure_debian_packages: still no $program" >&2; exit 1; }
