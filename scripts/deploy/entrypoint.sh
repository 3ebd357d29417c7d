#!/usr/bin/env bash
# Entrypoint of the deployment image (deploy/Dockerfile): write the instance config, then run the
# command (webserver, daemon, code server, or a run worker started by DockerRunLauncher).
set -euo pipefail
app=${JH_DEPLOY_APP:-/opt/dagster/app}
mkdir -p "$DAGSTER_HOME"
python3 "$app/scripts/deploy/render_instance.py" "$app/deploy/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
exec "$@"
