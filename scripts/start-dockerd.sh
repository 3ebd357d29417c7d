#!/usr/bin/env bash
# Start a Docker engine for builds and tests, if none answers yet.
#
# Usage: scripts/start-dockerd.sh [STATE_DIR]
#   STATE_DIR (default $JH_DOCKERD_STATE_DIR or /var/tmp/jh-dockerd) receives dockerd.log and dockerd.pid.
#   DOCKERD_DATA_ROOT  (default /var/lib/docker) where images live; kept so later sessions reuse them.
#   DOCKERD_TIMEOUT    seconds to wait for `docker info` (default 60).
#   DOCKERD_SOCKET     (default unix:///var/run/docker.sock) where it listens. Any other socket is a
#                      private engine beside the machine's (bench/bench_image.py's empty runner): its
#                      pid file and exec root then live in STATE_DIR too.
# Stdout: the PID of the dockerd this call started, or nothing when an engine already answered
# (so a caller knows whether it owns the daemon and must stop it).
#
# The flags are fixed on purpose: this machine (and CI) must never get a docker0 bridge, NAT
# rules or masquerading; every build and container uses host networking instead.
set -euo pipefail

STATE_DIR=${1:-${JH_DOCKERD_STATE_DIR:-/var/tmp/jh-dockerd}}
DATA_ROOT=${DOCKERD_DATA_ROOT:-/var/lib/docker}
TIMEOUT=${DOCKERD_TIMEOUT:-60}
DEFAULT_SOCK=unix:///var/run/docker.sock
SOCK=${DOCKERD_SOCKET:-$DEFAULT_SOCK}

log() { echo "start-dockerd: $*" >&2; }

# Idempotent: an engine that already answers (ours from an earlier call, or the machine's) is reused.
if command -v docker >/dev/null 2>&1 && docker -H "$SOCK" info >/dev/null 2>&1; then
    log "a Docker engine already answers; nothing to do"
    exit 0
fi

# Fresh machines (CI, new developer machines) have no engine: Debian's docker.io brings dockerd,
# containerd, runc and a client.
if ! command -v dockerd >/dev/null 2>&1 || ! command -v docker >/dev/null 2>&1; then
    log "installing docker.io"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends docker.io >&2
fi

mkdir -p "$STATE_DIR"
PIDFILE="$STATE_DIR/dockerd.pid"
LOGFILE="$STATE_DIR/dockerd.log"

PRIVATE=()
DAEMON_PIDFILE=/var/run/docker.pid
if [[ "$SOCK" != "$DEFAULT_SOCK" ]]; then
    DAEMON_PIDFILE="$STATE_DIR/docker.pid"
    PRIVATE=(--pidfile "$DAEMON_PIDFILE" --exec-root "$STATE_DIR/exec")
fi
# A pidfile from a dead daemon would make dockerd refuse to start.
rm -f "$DAEMON_PIDFILE"

# setsid: the daemon must outlive this script and not get the caller's Ctrl-C.
setsid dockerd \
    --host "$SOCK" \
    --data-root "$DATA_ROOT" \
    "${PRIVATE[@]}" \
    --bridge=none --iptables=false --ip-masq=false \
    >"$LOGFILE" 2>&1 </dev/null &
PID=$!
echo "$PID" >"$PIDFILE"

deadline=$((SECONDS + TIMEOUT))
until docker -H "$SOCK" info >/dev/null 2>&1; do
    if ! kill -0 "$PID" 2>/dev/null; then
        log "dockerd exited early; last log lines:"
        tail -n 30 "$LOGFILE" >&2 || true
        exit 1
    fi
    if ((SECONDS >= deadline)); then
        log "dockerd did not answer within ${TIMEOUT}s (pid $PID, log $LOGFILE)"
        tail -n 30 "$LOGFILE" >&2 || true
        kill -9 "$PID" 2>/dev/null || true
        exit 1
    fi
    sleep 0.5
done
log "dockerd running (pid $PID, log $LOGFILE)"
echo "$PID"
