#!/usr/bin/env python3
"""Start the notebook server: docker-stacks' start-notebook contract, run from the server env.

    JUPYTERHUB_API_TOKEN set     a hub spawned this container: start-singleuser.py takes over
    DOCKER_STACKS_JUPYTER_CMD    the jupyter subcommand (default `lab`; e.g. `server`, `notebook`)
    NOTEBOOK_ARGS                extra server arguments (shell-quoted), before the command line's
    RESTARTABLE=yes              start the server again whenever it exits (stop the container to end)
    JUPYTER_PORT, GEN_CERT, ...  read by /etc/jupyter/jupyter_server_config.py

The server env's own `jupyter` runs (${JH_SERVER_ENV:-/opt/jupyter}/bin), never the first one on PATH:
class envs come first on PATH. Standard library only, Python >= 3.8.
"""

import os
import shlex
import signal
import subprocess
import sys
import time

SERVER_ENV = os.environ.get("JH_SERVER_ENV") or "/opt/jupyter"


def log(message):
    print("start-notebook.py: " + message, file=sys.stderr, flush=True)


def run_forever(command):
    """Run `command` again each time it exits, until this process is asked to stop."""
    state = {"child": None, "stopping": False}

    def forward(signum, _frame):
        state["stopping"] = True
        if state["child"] is not None:
            state["child"].send_signal(signum)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, forward)
    while True:
        state["child"] = subprocess.Popen(command)
        code = state["child"].wait()
        if state["stopping"]:
            return code
        log(f"the server exited with code {code}; RESTARTABLE=yes: starting it again")
        time.sleep(1)


def main(argv):
    here = os.path.dirname(os.path.abspath(__file__))
    if os.environ.get("JUPYTERHUB_API_TOKEN"):
        log("JUPYTERHUB_API_TOKEN is set: handing over to start-singleuser.py")
        script = os.path.join(here, "start-singleuser.py")
        os.execv(sys.executable, [sys.executable, script] + argv)
    command = [
        os.path.join(SERVER_ENV, "bin", "jupyter"),
        os.environ.get("DOCKER_STACKS_JUPYTER_CMD") or "lab",
    ]
    command += shlex.split(os.environ.get("NOTEBOOK_ARGS", "")) + argv
    log("running " + " ".join(shlex.quote(part) for part in command))
    if os.environ.get("RESTARTABLE") == "yes":
        return run_forever(command)
    os.execv(command[0], command)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
