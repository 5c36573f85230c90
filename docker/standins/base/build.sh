#!/usr/bin/env bash
# Builds the stand-in base image ddd-standin/base:bookworm from Debian's packages:
# `debootstrap --variant=minbase bookworm` with python3 and python3-venv, this machine's CA bundle
# (so pip and apt work through this network), imported with `docker import`.
# Skips the build when the image exists, unless FORCE=1. Needs root and a running engine.
# Scratch space: SCRATCH_DIR (default /var/tmp).
set -euo pipefail

IMAGE=${STANDIN_BASE_IMAGE:-ddd-standin/base:bookworm}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR:-http://deb.debian.org/debian-security}
CA_BUNDLE=${CA_BUNDLE:-/etc/ssl/certs/ca-certificates.crt}

log() { printf '[standin-base] %s\n' "$*" >&2; }

if [ "${FORCE:-0}" != 1 ] && docker image inspect "$IMAGE" >/dev/null 2>&1; then
  log "$IMAGE exists: not rebuilt (FORCE=1 rebuilds it)"
  exit 0
fi
[ -r "$CA_BUNDLE" ] || { log "ERROR: CA bundle $CA_BUNDLE not readable"; exit 1; }

# a disk-backed scratch folder (a root file system does not fit a small /tmp tmpfs)
work=$(mktemp -d "${SCRATCH_DIR:-/var/tmp}/ddd-standin-base.XXXXXX")
trap 'rm -rf "$work"' EXIT
rootfs=$work/rootfs

log "debootstrap --variant=minbase bookworm from $MIRROR (log: $work/debootstrap.log)"
if ! debootstrap --variant=minbase --include=python3,python3-venv \
    bookworm "$rootfs" "$MIRROR" >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  log "ERROR: debootstrap failed"
  exit 1
fi

cat >"$rootfs/etc/apt/sources.list" <<SOURCES
deb $MIRROR bookworm main
deb $MIRROR bookworm-updates main
deb $SECURITY_MIRROR bookworm-security main
SOURCES
# Slim like Debian's own container images: no recommends, no docs, man pages or translations.
cat >"$rootfs/etc/apt/apt.conf.d/90ddd-standin" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
APT
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90ddd-standin" <<'DPKG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/info/*
DPKG
# This machine's CA bundle, also where update-ca-certificates picks it up again after an upgrade.
install -m 0644 "$CA_BUNDLE" "$rootfs/etc/ssl/certs/ca-certificates.crt"
install -d "$rootfs/usr/local/share/ca-certificates"
install -m 0644 "$CA_BUNDLE" "$rootfs/usr/local/share/ca-certificates/ddd-host-bundle.crt"

rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/* "$rootfs"/usr/share/info/* \
  "$rootfs"/var/log/*.log "$rootfs"/var/cache/debconf/*-old
find "$rootfs/usr/share/doc" -mindepth 2 ! -name copyright -delete 2>/dev/null || true
: >"$rootfs/etc/hostname"

ca=/etc/ssl/certs/ca-certificates.crt
log "importing the root file system as $IMAGE"
tar --numeric-owner -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV LANG=C.UTF-8' \
  --change "ENV SSL_CERT_FILE=$ca PIP_CERT=$ca REQUESTS_CA_BUNDLE=$ca" \
  --change 'CMD ["/bin/bash"]' \
  --message "stand-in base: debootstrap minbase bookworm + python3, python3-venv" \
  - "$IMAGE" >/dev/null
docker image ls "$IMAGE" >&2
