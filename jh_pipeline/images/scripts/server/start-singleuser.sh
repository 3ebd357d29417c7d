#!/bin/bash
# Kept for hub configurations that still call start-singleuser.sh: runs start-singleuser.py with the server
# env's Python (not the first python on PATH, which is the class env's).
exec "${JH_SERVER_ENV:-/opt/jupyter}/bin/python" "$(dirname "${BASH_SOURCE[0]}")/start-singleuser.py" "$@"
