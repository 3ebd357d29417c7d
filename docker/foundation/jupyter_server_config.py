# Server defaults of the foundation image (docker-stacks ships the same file at the same path).
# Differs on purpose: the address defaults to loopback, because the hermetic test profile runs every
# container with host networking and nothing here may listen beyond 127.0.0.1. Override with
# --ip / --ServerApp.ip (or JUPYTER_SERVER_IP) where a bridge network is used.
import os

c = get_config()  # noqa: F821  (provided by traitlets when the file is loaded)
c.ServerApp.ip = os.environ.get("JUPYTER_SERVER_IP", "127.0.0.1")
c.ServerApp.port = 8888
c.ServerApp.open_browser = False
c.ServerApp.root_dir = os.environ.get("HOME", "/home/jovyan")
