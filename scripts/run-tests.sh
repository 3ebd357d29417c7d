#!/usr/bin/env bash
# The test command: set up (idempotent), then run the whole suite.
# The suite starts what it needs itself (Docker engine when none runs, registry, GCS emulator,
# local conda channel) and stops what it started by PID.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# pytest exits 5 when it collected no test: that is a failure here too.
exec .venv/bin/python -m pytest "$@"
