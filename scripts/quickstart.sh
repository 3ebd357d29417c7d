#!/usr/bin/env bash
# The main job on a fresh machine: set up, then build one example class end to end
# (validate, env files, image, smoke checks, release) on the embedded defaults.
# Arguments go to `jh-pipeline quickstart` (--class NAME, --offline, --online).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/jh-pipeline quickstart "$@"
