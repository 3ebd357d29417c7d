#!/bin/bash
# Stand-in for docker-stacks' start.sh (the production image's entrypoint): the foundation image
# already runs as the notebook user, so there is nothing to switch; just run the command.
set -e
if [[ $# -eq 0 ]]; then
    exec start-notebook.sh
fi
exec "$@"
