#!/bin/sh
# Installs Debian's Chromium and ChromeDriver for the browser tests (tests/test_web.py) when
# /usr/bin/chromium is missing. Playwright drives that binary: it never downloads a browser.
set -eu
CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"
if [ -x "$CHROMIUM" ]; then
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_browser: $CHROMIUM missing and no apt-get: install Chromium, or set CHROMIUM" >&2
    exit 1
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    SUDO="sudo"
fi
echo "ensure_browser: installing chromium and chromium-driver (Debian packages)" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null
"$CHROMIUM" --version >&2
