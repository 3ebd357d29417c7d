#!/usr/bin/env bash
# The README's picture of the Dagster UI, made by the browser code of tests/test_ui.py: starts
# `jh-pipeline ui --offline` on free 127.0.0.1 ports with a throwaway quickstart folder, materializes
# the example class by clicking in headless Chromium (tests/ui/materialize_class.js), saves the asset
# graph, and stops the UI by PID. Builds the server and class images: a few minutes.
#
#   bash scripts/screenshot-asset-graph.sh [OUT.png]     default: docs/asset-graph.png
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
OUT="${1:-$ROOT/docs/asset-graph.png}"
CLASS=demo
export CHROMIUM="${CHROMIUM:-/usr/bin/chromium}"

[ -x "$CHROMIUM" ] || { echo "error: $CHROMIUM not found: apt-get install -y chromium" >&2; exit 1; }
command -v node >/dev/null || { echo "error: node not found: run scripts/setup.sh" >&2; exit 1; }
[ -d "$ROOT/node_modules/playwright-core" ] || { echo "error: no playwright-core: run npm ci (scripts/setup.sh)" >&2; exit 1; }
[ -x "$ROOT/.venv/bin/jh-pipeline" ] || { echo "error: $ROOT/.venv has no jh-pipeline: run scripts/setup.sh" >&2; exit 1; }

TMP="$(mktemp -d)"
UI_PID=""
REGISTRY_PORT=none
stop() {
    # Only the UI we started, by PID: it stops dagster dev, the channel and the registry it started.
    if [ -n "$UI_PID" ] && kill -0 "$UI_PID" 2>/dev/null; then
        kill -TERM "$UI_PID" 2>/dev/null || true
        for _ in $(seq 600); do kill -0 "$UI_PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$UI_PID" 2>/dev/null || true
    fi
    [ -z "$UI_PID" ] || wait "$UI_PID" 2>/dev/null || true
    # The images built here are tagged for this run's registry port only.
    docker images --format '{{.Repository}}:{{.Tag}}' | grep "^127\.0\.0\.1:$REGISTRY_PORT/" | xargs -r docker rmi >/dev/null || true
    rm -rf "$TMP"
}
trap stop EXIT

free_port() { "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
PORT="$(free_port)"
REGISTRY_PORT="$(free_port)"
BASE="http://127.0.0.1:$PORT"

# Far-away observation cron: the automation sensor must not start the same runs as the clicks.
(cd "$ROOT" && exec env JH_QUICKSTART_DIR="$TMP/quickstart" JH_QUICKSTART_REGISTRY_PORT="$REGISTRY_PORT" \
    JH_OFFLINE_CHANNEL_PORT="$(free_port)" JH_OBSERVE_CRON="0 0 1 1 *" \
    "$ROOT/.venv/bin/jh-pipeline" ui --offline --port "$PORT") > "$TMP/ui.log" 2>&1 &
UI_PID=$!

echo "starting jh-pipeline ui (log $TMP/ui.log)"
for _ in $(seq 900); do
    grep -qF "Dagster UI:   $BASE" "$TMP/ui.log" && break
    kill -0 "$UI_PID" 2>/dev/null || { tail -30 "$TMP/ui.log" >&2; echo "error: jh-pipeline ui exited" >&2; exit 1; }
    sleep 1
done
grep -qF "Dagster UI:   $BASE" "$TMP/ui.log" || { tail -30 "$TMP/ui.log" >&2; echo "error: the UI did not start" >&2; exit 1; }

echo "materializing common and classes/$CLASS by clicking in $BASE"
node "$ROOT/tests/ui/materialize_class.js" "$BASE" "$CLASS" "$TMP/shots" > "$TMP/result.json"
mkdir -p "$(dirname "$OUT")"
cp "$TMP/shots/asset-graph.png" "$OUT"
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)"
