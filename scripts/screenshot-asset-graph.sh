#!/usr/bin/env bash
# Picture of the asset graph for the README: starts the Dagster UI on a free 127.0.0.1 port with a
# throwaway DAGSTER_HOME, screenshots the lineage of a few classes in headless Chromium, stops the UI.
#
#   bash scripts/screenshot-asset-graph.sh [OUT.png] [CLASS ...]
#   default: docs/asset-graph.png, classes apma0365 biol1435 ccv_bootcamp (one of each target)
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
PY="$ROOT/.venv/bin/python"
OUT="${1:-$ROOT/docs/asset-graph.png}"
shift || true
CLASSES=("$@")
[ ${#CLASSES[@]} -gt 0 ] || CLASSES=(apma0365 biol1435 ccv_bootcamp)
CHROMIUM="${CHROMIUM:-chromium}"

command -v "$CHROMIUM" >/dev/null || { echo "error: $CHROMIUM not found: apt-get install -y chromium" >&2; exit 1; }
[ -x "$ROOT/.venv/bin/dagster-webserver" ] || { echo "error: $ROOT/.venv has no dagster-webserver: run scripts/setup.sh" >&2; exit 1; }

TMP="$(mktemp -d)"
PID=""
stop() {
    # Stop only the webserver we started, by PID; it stops its own code server.
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then
        kill -TERM "$PID" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
        kill -KILL "$PID" 2>/dev/null || true
        wait "$PID" 2>/dev/null || true
    fi
    rm -rf "$TMP"
}
trap stop EXIT

# Air-gapped friendly instance: no telemetry, no "join the community" dialog over the graph.
mkdir -p "$TMP/home"
printf 'telemetry:\n  enabled: false\nnux:\n  enabled: false\n' > "$TMP/home/dagster.yaml"
PORT="$("$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"

(cd "$ROOT" && exec env DAGSTER_HOME="$TMP/home" "$ROOT/.venv/bin/dagster-webserver" \
    -m jh_pipeline.definitions -h 127.0.0.1 -p "$PORT") > "$TMP/webserver.log" 2>&1 &
PID=$!

# Ready means the code location answers with asset nodes, not just that the port is open.
"$PY" - "$BASE" "$PID" <<'EOF' || { tail -30 "$TMP/webserver.log" >&2; exit 1; }
import json, os, sys, time, urllib.request
base, pid = sys.argv[1], int(sys.argv[2])
query = json.dumps({"query": "{ assetNodes { id } }"}).encode()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        sys.exit("error: dagster-webserver exited")
    try:
        req = urllib.request.Request(f"{base}/graphql", query, {"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            if json.load(resp).get("data", {}).get("assetNodes"):
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.5)
sys.exit("error: dagster-webserver did not answer within 60 s")
EOF

# Global lineage filtered to common/requirements + the chosen classes: /asset-groups~<selection>.
SELECTION="$("$PY" -c '
import sys, urllib.parse
terms = [chr(34) + "common/requirements" + chr(34)] + [chr(34) + c + "/*" + chr(34) for c in sys.argv[1:]]
print(urllib.parse.quote(" or ".join("key:" + t for t in terms), safe=""))' "${CLASSES[@]}")"
mkdir -p "$(dirname "$OUT")"
# The UI is a JS app: virtual time lets it fetch, lay out and draw before the screenshot.
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --user-data-dir="$TMP/chromium" --window-size=1400,1000 --hide-scrollbars \
    --virtual-time-budget=15000 --screenshot="$OUT" "$BASE/asset-groups~$SELECTION" \
    > "$TMP/chromium.log" 2>&1 || { tail -20 "$TMP/chromium.log" >&2; exit 1; }
[ -s "$OUT" ] || { echo "error: no screenshot written" >&2; exit 1; }
echo "wrote $OUT ($(stat -c %s "$OUT") bytes)"
