#!/bin/bash
# Stand-in for docker-stacks' start-notebook.sh: JupyterHub spawns set JUPYTERHUB_API_TOKEN and get
# the single-user server; otherwise a plain JupyterLab server. Arguments are passed through.
set -e
if [[ -n "${JUPYTERHUB_API_TOKEN:-}" ]]; then
    exec start-singleuser.sh "$@"
fi
# NOTEBOOK_ARGS is a space-separated string in docker-stacks: word splitting is intended.
# shellcheck disable=SC2086
exec jupyter "${DOCKER_STACKS_JUPYTER_CMD:-lab}" ${NOTEBOOK_ARGS:-} "$@"
