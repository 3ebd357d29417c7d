#!/usr/bin/env python3
"""Start the JupyterHub single-user server (docker-stacks' start-singleuser contract).

Runs ${JH_SERVER_ENV:-/opt/jupyter}/bin/jupyterhub-singleuser (never the first one on PATH) with
NOTEBOOK_ARGS (shell-quoted) and then the command line's arguments. Address and port come from
/etc/jupyter/jupyter_server_config.py. Standard library only, Python >= 3.8.
"""

import os
import shlex
import sys

SERVER_ENV = os.environ.get("JH_SERVER_ENV") or "/opt/jupyter"


def main(argv):
    command = [os.path.join(SERVER_ENV, "bin", "jupyterhub-singleuser")]
    command += shlex.split(os.environ.get("NOTEBOOK_ARGS", "")) + argv
    print("start-singleuser.py: running " + " ".join(shlex.quote(p) for p in command), file=sys.stderr, flush=True)
    os.execv(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
