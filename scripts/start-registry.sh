#!/usr/bin/env bash
# Start a local OCI registry (Debian's docker-registry, i.e. distribution 2.8) on 127.0.0.1.
#
# Usage: PORT=5000 scripts/start-registry.sh [STATE_DIR]
#   STATE_DIR (default $JH_REGISTRY_STATE_DIR or /var/tmp/jh-registry-$PORT) holds config.yml,
#   data/ (the blob storage), registry.log and registry.pid.
#   REGISTRY_TIMEOUT seconds to wait for /v2/ (default 30).
# Stdout: the PID of the registry (of the one already running from this STATE_DIR, if it answers).
#
# We write our own config: the packaged /etc/docker/registry/config.yml wants an htpasswd file and
# listens on all interfaces; tests need neither auth nor anything beyond loopback. Docker treats
# 127.0.0.0/8 registries as insecure by default, so plain HTTP needs no daemon setting.
set -euo pipefail

PORT=${PORT:-5000}
STATE_DIR=${1:-${JH_REGISTRY_STATE_DIR:-/var/tmp/jh-registry-$PORT}}
TIMEOUT=${REGISTRY_TIMEOUT:-30}
URL="http://127.0.0.1:${PORT}/v2/"

log() { echo "start-registry: $*" >&2; }

missing=()
command -v docker-registry >/dev/null 2>&1 || missing+=(docker-registry)
command -v curl >/dev/null 2>&1 || missing+=(curl)
if ((${#missing[@]})); then
    log "installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

mkdir -p "$STATE_DIR/data"
PIDFILE="$STATE_DIR/registry.pid"
LOGFILE="$STATE_DIR/registry.log"
CONFIG="$STATE_DIR/config.yml"

# Idempotent: reuse the registry this state dir already runs.
if [[ -s "$PIDFILE" ]] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null && curl -fsS -o /dev/null "$URL"; then
    log "registry already running on 127.0.0.1:$PORT"
    cat "$PIDFILE"
    exit 0
fi

cat >"$CONFIG" <<YAML
version: 0.1
log:
  level: warn
  fields:
    service: registry
storage:
  filesystem:
    rootdirectory: $STATE_DIR/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$PORT
  headers:
    X-Content-Type-Options: [nosniff]
YAML

setsid docker-registry serve "$CONFIG" >"$LOGFILE" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PIDFILE"

deadline=$((SECONDS + TIMEOUT))
until curl -fs -o /dev/null "$URL"; do
    if ! kill -0 "$PID" 2>/dev/null; then
        log "registry exited early; last log lines:"
        tail -n 30 "$LOGFILE" >&2 || true
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        log "registry did not answer on $URL within ${TIMEOUT}s"
        kill -9 "$PID" 2>/dev/null || true
        exit 1
    fi
    sleep 0.2
done
log "registry running on 127.0.0.1:$PORT (pid $PID, log $LOGFILE)"
echo "$PID"
