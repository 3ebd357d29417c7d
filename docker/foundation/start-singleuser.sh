#!/bin/bash
# Stand-in for docker-stacks' start-singleuser.sh: the JupyterHub single-user server, args passed through.
set -e
# shellcheck disable=SC2086
exec jupyterhub-singleuser ${NOTEBOOK_ARGS:-} "$@"
