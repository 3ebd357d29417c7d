#!/usr/bin/env bash
# Build the local stand-in for a public base image: Debian bookworm (minbase) from debootstrap,
# imported as jh-local/debian:bookworm. Needed because Docker Hub/quay.io are unreachable in the
# hermetic profile, while Debian's mirror is.
#
# Usage: scripts/build-local-base.sh
#   DEBIAN_MIRROR           (default http://deb.debian.org/debian)
#   DEBIAN_SECURITY_MIRROR  (default http://deb.debian.org/debian-security; empty = leave out)
#   BASE_TAG                (default jh-local/debian:bookworm)
#   FORCE=1                 rebuild even when the image exists
set -euo pipefail

MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
SECURITY_MIRROR=${DEBIAN_SECURITY_MIRROR-http://deb.debian.org/debian-security}
TAG=${BASE_TAG:-jh-local/debian:bookworm}
SUITE=bookworm

log() { echo "build-local-base: $*" >&2; }

if [[ "${FORCE:-0}" != 1 ]] && docker image inspect "$TAG" >/dev/null 2>&1; then
    log "$TAG exists; skipping (FORCE=1 rebuilds)"
    exit 0
fi

missing=()
command -v debootstrap >/dev/null 2>&1 || missing+=(debootstrap)
[[ -e /usr/share/keyrings/debian-archive-keyring.gpg ]] || missing+=(debian-archive-keyring)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

ROOTFS=$(mktemp -d /var/tmp/jh-rootfs.XXXXXX)
cleanup() {
    # debootstrap may leave proc/sys mounted inside the target after a failure.
    for m in proc sys dev/pts dev; do umount -l "$ROOTFS/$m" 2>/dev/null || true; done
    rm -rf --one-file-system "$ROOTFS"
}
trap cleanup EXIT

# Drop docs, man pages and translations while packages unpack (as Docker's official slim images
# do): smaller image, less to unpack, here and in every image built on top.
mkdir -p "$ROOTFS/etc/dpkg/dpkg.cfg.d"
cat >"$ROOTFS/etc/dpkg/dpkg.cfg.d/01-jh-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG

# minbase = essential + apt: the smallest system that can apt-get install the rest.
log "debootstrap $SUITE from $MIRROR"
start=$SECONDS
debootstrap --variant=minbase --keyring=/usr/share/keyrings/debian-archive-keyring.gpg \
    "$SUITE" "$ROOTFS" "$MIRROR" >&2
log "debootstrap took $((SECONDS - start))s"

# debootstrap's first stage unpacks the essential packages without dpkg, so the excludes above
# did not apply to them: prune the same paths by hand.
find "$ROOTFS/usr/share/doc" -mindepth 1 ! -type d ! -name copyright -delete
find "$ROOTFS/usr/share/doc" -mindepth 1 -type d -empty -delete
rm -rf "$ROOTFS"/usr/share/man/* "$ROOTFS"/usr/share/info/* "$ROOTFS"/usr/share/locale/* \
    "$ROOTFS"/usr/share/lintian/*

# Same apt sources a Debian container image has (updates + security), mirror configurable.
{
    echo "deb $MIRROR $SUITE main"
    echo "deb $MIRROR $SUITE-updates main"
    [[ -n "$SECURITY_MIRROR" ]] && echo "deb $SECURITY_MIRROR $SUITE-security main"
} >"$ROOTFS/etc/apt/sources.list"

# Container-friendly apt: no recommends, no leftover .debs, no services started by postinst.
cat >"$ROOTFS/etc/apt/apt.conf.d/01-jh-docker" <<'CFG'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
CFG
printf '#!/bin/sh\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
chmod +x "$ROOTFS/usr/sbin/policy-rc.d"

# What debootstrap leaves behind is not part of an image: package caches, lists, logs, host files.
rm -rf "$ROOTFS"/var/cache/apt/archives/*.deb "$ROOTFS"/var/cache/apt/*.bin \
    "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/log/*.log "$ROOTFS"/var/log/apt/* \
    "$ROOTFS"/tmp/* "$ROOTFS"/etc/hostname "$ROOTFS"/etc/resolv.conf
: >"$ROOTFS/etc/machine-id"

log "importing as $TAG"
tar --numeric-owner --xattrs -C "$ROOTFS" -c . |
    docker import \
        --change 'ENV LANG=C.UTF-8' \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'CMD ["/bin/bash"]' \
        --message "debootstrap --variant=minbase $SUITE $MIRROR" \
        - "$TAG" >/dev/null
log "built $TAG in $((SECONDS - start))s"
