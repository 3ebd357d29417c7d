# Server defaults of the server image (/etc/jupyter/jupyter_server_config.py, where docker-stacks has
# theirs), read by every server the image starts: jupyter lab/server/notebook and jupyterhub-singleuser.
#   JUPYTER_PORT (default 8888), JUPYTER_SERVER_IP (default 0.0.0.0, the container's every address;
#   tests with host networking pass 127.0.0.1). Under a hub (JUPYTERHUB_SERVICE_URL set) and without
#   these variables, the single-user server takes both from the URL the spawner chose.
#   GEN_CERT=yes: serve https with a self-signed certificate (made once, kept in the home).
#   NB_UMASK: the umask of the server and everything it starts.
# Standard library only.
import os
import stat
import subprocess
from pathlib import Path

c = get_config()  # noqa: F821  (provided by traitlets when the file is loaded)

under_hub = bool(os.environ.get("JUPYTERHUB_SERVICE_URL"))
if os.environ.get("JUPYTER_PORT") or not under_hub:
    c.ServerApp.port = int(os.environ.get("JUPYTER_PORT") or 8888)
if os.environ.get("JUPYTER_SERVER_IP") or not under_hub:
    c.ServerApp.ip = os.environ.get("JUPYTER_SERVER_IP") or "0.0.0.0"
c.ServerApp.open_browser = False
# Only the registered kernels (the class env's python3, ...), never the server env's own Python.
c.KernelSpecManager.ensure_native_kernel = False
# Containers have no desktop trash: deleting must delete.
c.FileContentsManager.delete_to_trash = False

if os.environ.get("NB_UMASK"):
    os.umask(int(os.environ["NB_UMASK"], 8))

if os.environ.get("GEN_CERT", "").lower() not in ("", "0", "no", "false"):
    pem = Path.home() / ".local" / "share" / "jupyter" / "notebook.pem"
    if not pem.exists():
        pem.parent.mkdir(parents=True, exist_ok=True)
        openssl = "/usr/bin/openssl" if os.path.exists("/usr/bin/openssl") else "openssl"
        subprocess.run(
            [openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "365",
             "-subj", "/O=Jupyter server (self-signed)/CN=localhost",
             "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
             "-keyout", str(pem), "-out", str(pem)],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        pem.chmod(stat.S_IRUSR | stat.S_IWUSR)
    c.ServerApp.certfile = str(pem)
