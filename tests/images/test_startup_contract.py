"""The docker-stacks start-up contract of the server image, in real containers.

Every option documented by docker-stacks that hubs and course instructions rely on: user remapping
as root, sudo, umask, unset variables, an arbitrary uid, the hook folders, start-notebook's
JUPYTER_PORT / RESTARTABLE / GEN_CERT / DOCKER_STACKS_JUPYTER_CMD, the hub hand-over, the
HEALTHCHECK, and `mamba install` from a conda channel. The image comes from the
``server_contract_image`` fixture (tests/images/conftest.py). Every container uses host networking,
listens on 127.0.0.1 only and is removed afterwards.
"""

from __future__ import annotations

import http.server
import json
import ssl
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import docker
import pytest
from docker.models.containers import Container

from tests.support.docker import HOST, free_port

pytestmark = pytest.mark.docker

SERVER_START = 150.0  # seconds; two cores are shared with other work
TOKEN = "contract-token"
UNVERIFIED = ssl.create_default_context()
UNVERIFIED.check_hostname = False
UNVERIFIED.verify_mode = ssl.CERT_NONE
SERVER_PROCESS = r"/bin/(jupyter-lab|jupyter-server|jupyterhub-singleuser)( |$)"


@contextmanager
def started(client: docker.DockerClient, image: str, command: list[str] | None = None, *,
            env: dict[str, str] | None = None, **kwargs: Any) -> Iterator[Container]:
    container = client.containers.run(image, command, environment=env or {}, network_mode="host",
                                      detach=True, **kwargs)
    try:
        yield container
    finally:
        container.remove(force=True)


def server_env(port: int, **extra: str) -> dict[str, str]:
    return {"JUPYTER_SERVER_IP": HOST, "JUPYTER_PORT": str(port), **extra}


def logs(container: Container) -> str:
    return container.logs().decode(errors="replace")


def wait_for_api(container: Container, port: int, scheme: str = "http", path: str = "/api") -> dict[str, Any]:
    url = f"{scheme}://{HOST}:{port}{path}"
    deadline = time.monotonic() + SERVER_START
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            pytest.fail(f"container exited:\n{logs(container)[-4000:]}")
        try:
            with urllib.request.urlopen(url, timeout=3, context=UNVERIFIED) as response:
                body: dict[str, Any] = json.load(response)
                return body
        except (urllib.error.URLError, OSError, ValueError):
            time.sleep(0.5)
    pytest.fail(f"no answer on {url}:\n{logs(container)[-4000:]}")


def run_in(container: Container, *cmd: str, user: str = "", env: dict[str, str] | None = None) -> tuple[int, str]:
    result = container.exec_run(list(cmd), user=user, environment=env)
    return result.exit_code, result.output.decode(errors="replace")


def ok(container: Container, *cmd: str, user: str = "", env: dict[str, str] | None = None) -> str:
    code, out = run_in(container, *cmd, user=user, env=env)
    assert code == 0, f"{cmd} exited {code}:\n{out}"
    return out


def server_pid(container: Container) -> int:
    # pgrep run directly (not via a shell) never matches itself.
    return int(ok(container, "pgrep", "-o", "-f", SERVER_PROCESS).split()[0])


def server_process(container: Container) -> tuple[int, dict[str, str], str]:
    """(pid, environment, command line) of the server process."""
    pid = server_pid(container)
    # Only the process's own uid may read its environment (no CAP_SYS_PTRACE in containers).
    environ = ok(container, "cat", f"/proc/{pid}/environ", user=str(ids_of(container, pid)[0]))
    env = dict(item.split("=", 1) for item in environ.split("\0") if "=" in item)
    cmdline = ok(container, "cat", f"/proc/{pid}/cmdline").replace("\0", " ").strip()
    return pid, env, cmdline


def runs_from_server_env(cmdline: str, program: str) -> bool:
    """The command line is the server env's Python running the server env's `program`."""
    interpreter, script = cmdline.split()[:2]
    return interpreter.startswith("/opt/jupyter/bin/python") and script == f"/opt/jupyter/bin/{program}"


def ids_of(container: Container, pid: int) -> tuple[int, int]:
    status = ok(container, "cat", f"/proc/{pid}/status").splitlines()
    uid = next(line for line in status if line.startswith("Uid:")).split()[1]
    gid = next(line for line in status if line.startswith("Gid:")).split()[1]
    return int(uid), int(gid)


def hook_dir(root: Path, name: str, hooks: dict[str, tuple[str, int]]) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    folder.chmod(0o755)
    for file_name, (text, mode) in hooks.items():
        path = folder / file_name
        path.write_text(text)
        path.chmod(mode)
    return folder


# --------------------------------------------------------------------------- as root


def test_root_remaps_uid_gid_and_chowns_home(docker_engine: docker.DockerClient, server_contract_image: str,
                                             tmp_path: Path) -> None:
    port = free_port()
    before = hook_dir(tmp_path, "before", {"10-whoami.sh": ('id -u > /tmp/jh-before-uid\n', 0o644)})
    env = server_env(port, NB_UID="1010", NB_GID="1020", CHOWN_HOME="yes", CHOWN_HOME_OPTS="-R",
                     CHOWN_EXTRA="/opt/conda")
    with started(docker_engine, server_contract_image, env=env, user="root",
                 volumes={str(before): {"bind": "/usr/local/bin/before-notebook.d", "mode": "ro"}}) as c:
        wait_for_api(c, port)
        pid, server_environ, _ = server_process(c)
        assert ids_of(c, pid) == (1010, 1020)
        assert server_environ["HOME"] == "/home/jovyan"
        assert ok(c, "stat", "-c", "%u:%g", "/home/jovyan", "/home/jovyan/.bashrc", "/opt/conda").split() == \
            ["1010:1020"] * 3
        assert ok(c, "id", "-un", "1010").strip() == "jovyan"
        # before-notebook.d runs as root when the container starts as root.
        assert ok(c, "cat", "/tmp/jh-before-uid").strip() == "0"
        # No sudo rights unless GRANT_SUDO asks for them.
        assert run_in(c, "sudo", "-n", "true", user="1010")[0] != 0
        assert run_in(c, "test", "-e", "/etc/sudoers.d/added-by-start-script")[0] != 0
        text = logs(c)
        assert "Entered start.sh with args: start-notebook.py" in text
        assert "Running as jovyan (1010:1020)" in text


def test_root_renames_user_grants_sudo_and_sets_umask(docker_engine: docker.DockerClient,
                                                       server_contract_image: str) -> None:
    port = free_port()
    env = server_env(port, NB_USER="alice", GRANT_SUDO="yes", NB_UMASK="002",
                     NOTEBOOK_ARGS=f"--IdentityProvider.token={TOKEN}")
    with started(docker_engine, server_contract_image, env=env, user="root") as c:
        wait_for_api(c, port)
        pid, server_environ, _ = server_process(c)
        assert ids_of(c, pid) == (1000, 100)
        assert ok(c, "id", "-un", "1000").strip() == "alice"
        assert server_environ["HOME"] == "/home/alice" and server_environ["USER"] == "alice"
        # The home moved with the name (the server's working directory followed).
        assert ok(c, "readlink", f"/proc/{pid}/cwd", user="alice").strip() == "/home/alice"
        assert ok(c, "readlink", "/home/jovyan").strip() == "/home/alice"
        assert ok(c, "sudo", "-n", "id", "-u", user="alice").strip() == "0"
        # A file the server writes (contents API) is group-writable under NB_UMASK=002.
        request = urllib.request.Request(
            f"http://{HOST}:{port}/api/contents/umask.txt", method="PUT",
            data=json.dumps({"type": "file", "format": "text", "content": "x"}).encode(),
            headers={"Authorization": f"token {TOKEN}", "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status in (200, 201)
        assert ok(c, "stat", "-c", "%a %U", "/home/alice/umask.txt").strip() == "664 alice"


# --------------------------------------------------------------------------- other users


def test_arbitrary_uid_gets_a_passwd_entry_and_warnings(docker_engine: docker.DockerClient,
                                                        server_contract_image: str) -> None:
    with started(docker_engine, server_contract_image, ["bash", "-c", 'id -un; getent passwd "$(id -u)"'],
                 user="1234") as c:
        assert c.wait(timeout=60)["StatusCode"] == 0
        out = c.logs(stderr=False).decode().splitlines()
        err = c.logs(stdout=False).decode()
    assert out[0] == "jovyan"
    assert out[1].startswith("jovyan:x:1234:0:")
    assert "WARNING: uid 1234 has no entry in /etc/passwd" in err
    assert "WARNING: no write access to /home/jovyan" in err
    # In the users group (as docker-stacks advises) the home is writable and the server runs.
    port = free_port()
    with started(docker_engine, server_contract_image, env=server_env(port), user="1234", group_add=["100"]) as c:
        wait_for_api(c, port)
        assert ids_of(c, server_pid(c))[0] == 1234
        assert "no write access" not in logs(c)


def test_hooks_and_unset_variables_reach_the_server(docker_engine: docker.DockerClient,
                                                    server_contract_image: str, tmp_path: Path) -> None:
    port = free_port()
    start_hooks = hook_dir(tmp_path, "start", {
        "10-export.sh": ('export JH_HOOK_VAR="set by start-notebook.d"\n', 0o644),
        # A `jupyter` earlier on PATH (as a class env may have) must not be the one that runs.
        "20-path.sh": (("mkdir -p /tmp/jh-fake-bin\n"
                        "for p in jupyter jupyter-lab; do printf '#!/bin/sh\\nexit 3\\n' > /tmp/jh-fake-bin/$p;"
                        " chmod +x /tmp/jh-fake-bin/$p; done\n"
                        'export PATH="/tmp/jh-fake-bin:$PATH"\n'), 0o644),
        "30-run": ('#!/bin/sh\necho "$JH_HOOK_VAR" > /tmp/jh-exec-hook\n', 0o755),
        "40-not-a-hook": ("touch /tmp/jh-not-a-hook\n", 0o644),
    })
    before_hooks = hook_dir(tmp_path, "before", {
        "10-before.sh": ('echo "$(id -u) $JH_HOOK_VAR $JH_SECRET_A" > /tmp/jh-before-hook\n', 0o644),
    })
    env = server_env(port, JH_SECRET_A="a", JH_SECRET_B="b", JH_KEEP="k",
                     JUPYTER_ENV_VARS_TO_UNSET="JH_SECRET_A,JH_SECRET_B")
    volumes = {str(start_hooks): {"bind": "/usr/local/bin/start-notebook.d", "mode": "ro"},
               str(before_hooks): {"bind": "/usr/local/bin/before-notebook.d", "mode": "ro"}}
    with started(docker_engine, server_contract_image, env=env, volumes=volumes) as c:
        wait_for_api(c, port)
        _, server_environ, cmdline = server_process(c)
        assert server_environ["JH_HOOK_VAR"] == "set by start-notebook.d"
        assert server_environ["PATH"].startswith("/tmp/jh-fake-bin:")
        assert runs_from_server_env(cmdline, "jupyter-lab"), cmdline
        assert server_environ["JH_KEEP"] == "k"
        assert not {"JH_SECRET_A", "JH_SECRET_B", "JUPYTER_ENV_VARS_TO_UNSET"} & set(server_environ)
        assert ok(c, "cat", "/tmp/jh-exec-hook").strip() == "set by start-notebook.d"
        # before-notebook.d runs after start-notebook.d, before the variables are unset.
        assert ok(c, "cat", "/tmp/jh-before-hook").strip() == "1000 set by start-notebook.d a"
        assert run_in(c, "test", "-e", "/tmp/jh-not-a-hook")[0] != 0
        text = logs(c)
        assert "Unsetting JH_SECRET_A (JUPYTER_ENV_VARS_TO_UNSET)" in text
        assert "skipping /usr/local/bin/start-notebook.d/40-not-a-hook" in text


# --------------------------------------------------------------------------- start-notebook.py


def test_jupyter_port_and_jupyter_cmd(docker_engine: docker.DockerClient, server_contract_image: str) -> None:
    port = free_port()
    env = server_env(port, DOCKER_STACKS_JUPYTER_CMD="server")
    with started(docker_engine, server_contract_image, env=env) as c:
        assert "version" in wait_for_api(c, port)
        _, _, cmdline = server_process(c)
        assert runs_from_server_env(cmdline, "jupyter-server"), cmdline


def test_restartable_server_comes_back(docker_engine: docker.DockerClient, server_contract_image: str) -> None:
    port = free_port()
    with started(docker_engine, server_contract_image, env=server_env(port, RESTARTABLE="yes")) as c:
        wait_for_api(c, port)
        first = server_pid(c)
        ok(c, "kill", "-9", str(first), user="0")
        deadline = time.monotonic() + SERVER_START
        while time.monotonic() < deadline:
            code, out = run_in(c, "pgrep", "-o", "-f", SERVER_PROCESS)
            if code == 0 and int(out.split()[0]) != first:
                break
            time.sleep(0.5)
        else:
            pytest.fail(f"the server did not come back:\n{logs(c)[-3000:]}")
        wait_for_api(c, port)
        assert "RESTARTABLE=yes: starting it again" in logs(c)


def test_gen_cert_serves_https(docker_engine: docker.DockerClient, server_contract_image: str) -> None:
    port = free_port()
    with started(docker_engine, server_contract_image, env=server_env(port, GEN_CERT="yes")) as c:
        assert "version" in wait_for_api(c, port, scheme="https")
        assert ok(c, "stat", "-c", "%a", "/home/jovyan/.local/share/jupyter/notebook.pem").strip() == "600"
        # The health check follows the server to https.
        out = ok(c, "/opt/jupyter/bin/python", "/etc/jupyter/docker_healthcheck.py")
        assert out.startswith(f"https://{HOST}:{port}/api:")


class _HubApiStub(http.server.BaseHTTPRequestHandler):
    """Just enough Hub API for a single-user server to start: the version header on every answer."""

    def _answer(self) -> None:
        body = b'{"version": "6.1.1"}'
        self.send_response(200)
        self.send_header("X-JupyterHub-Version", "6.1.1")
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


@pytest.fixture
def hub_api() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer((HOST, 0), _HubApiStub)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/hub/api"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_hub_token_hands_over_to_singleuser(docker_engine: docker.DockerClient, server_contract_image: str,
                                            hub_api: str) -> None:
    # What a spawner sets. No JUPYTER_PORT: address and port come from the service URL.
    port = free_port()
    env = {"JUPYTERHUB_API_TOKEN": "stub-token", "JUPYTERHUB_USER": "jovyan", "JUPYTERHUB_API_URL": hub_api,
           "JUPYTERHUB_SERVICE_URL": f"http://{HOST}:{port}/user/jovyan/",
           "JUPYTERHUB_SERVICE_PREFIX": "/user/jovyan/"}
    with started(docker_engine, server_contract_image, env=env) as c:
        wait_for_api(c, port, path="/user/jovyan/api")
        _, _, cmdline = server_process(c)
        assert runs_from_server_env(cmdline, "jupyterhub-singleuser"), cmdline
        assert "handing over to start-singleuser.py" in logs(c)
        # The health check finds the server under its base URL.
        out = ok(c, "/opt/jupyter/bin/python", "/etc/jupyter/docker_healthcheck.py")
        assert out.startswith(f"http://{HOST}:{port}/user/jovyan/api:")


# --------------------------------------------------------------------------- health


def test_healthcheck_turns_healthy(docker_engine: docker.DockerClient, server_contract_image: str) -> None:
    assert docker_engine.images.get(server_contract_image).attrs["Config"]["Healthcheck"]["Test"]
    # Nothing listening: the check fails.
    with started(docker_engine, server_contract_image,
                 ["/opt/jupyter/bin/python", "/etc/jupyter/docker_healthcheck.py"],
                 env={"JUPYTER_PORT": str(free_port())}) as c:
        assert c.wait(timeout=60)["StatusCode"] == 1
    port = free_port()
    second = 1_000_000_000
    # No `test`: the image's HEALTHCHECK command, checked every second.
    health = {"interval": second, "timeout": 5 * second, "retries": 60, "start_period": 0}
    with started(docker_engine, server_contract_image, env=server_env(port), healthcheck=health) as c:
        deadline = time.monotonic() + SERVER_START
        status = ""
        while time.monotonic() < deadline:
            c.reload()
            status = c.attrs["State"].get("Health", {}).get("Status", "")
            if status == "healthy" or c.status == "exited":
                break
            time.sleep(0.5)
        assert status == "healthy", json.dumps(c.attrs["State"].get("Health"), indent=1)[-3000:] + logs(c)[-2000:]


# --------------------------------------------------------------------------- conda / mamba


def test_mamba_installs_into_the_active_env(docker_engine: docker.DockerClient, server_contract_image: str,
                                            local_channel: Any) -> None:
    condarc = f"channels:\n  - {local_channel.url}\nenvs_dirs:\n  - /home/jovyan/envs\n"
    with started(docker_engine, server_contract_image, ["sleep", "600"]) as c:
        ok(c, "bash", "-c", f"printf '%s' '{condarc}' > /opt/conda/.condarc")
        ok(c, "mamba", "create", "-y", "-n", "demo", "python")
        assert "/home/jovyan/envs/demo" in ok(c, "mamba", "env", "list")
        # The class image way: CONDA_PREFIX names the active env, channels come from the .condarc.
        active = {"CONDA_PREFIX": "/home/jovyan/envs/demo"}
        assert "+ toolz" in ok(c, "mamba", "install", "-y", "toolz", env=active)
        where = ok(c, "/home/jovyan/envs/demo/bin/python", "-c", "import toolz; print(toolz.__file__)")
        assert where.startswith("/home/jovyan/envs/demo/lib/python3.11/site-packages/toolz/")
        listed = ok(c, "conda", "list", "-n", "demo")
        assert any(line.split()[:1] == ["toolz"] for line in listed.splitlines())
        assert any(line.split()[:1] == ["python"] for line in listed.splitlines())
        # Explicit prefix and channel, with the `conda` name; python stays when tabulate is added.
        ok(c, "conda", "create", "-y", "-p", "/tmp/p", "-c", local_channel.url, "python")
        ok(c, "conda", "install", "--yes", "-p", "/tmp/p", "-c", local_channel.url, "tabulate")
        ok(c, "/tmp/p/bin/python", "-c", "import tabulate")
        assert "already installed" in ok(c, "mamba", "install", "-y", "-p", "/tmp/p", "tabulate")
        code, out = run_in(c, "mamba", "frobnicate")
        assert code == 2 and "'frobnicate' is not supported" in out
        assert ok(c, "mamba", "--version").startswith("mamba ")


def test_class_image_mamba_and_pip_user_install_into_the_class_env(
    docker_engine: docker.DockerClient, demo_image: str, tmp_path: Path
) -> None:
    """As course instructions say it: `mamba install -y X` and `pip install --user X` in a terminal."""
    import io
    import tarfile

    from jh_pipeline.offline.channel import offline_cache_dir

    [wheel] = sorted((offline_cache_dir() / "wheels").glob("PyMySQL-*.whl"))[-1:]
    archive = io.BytesIO()
    with tarfile.open(fileobj=archive, mode="w") as tar:
        tar.add(wheel, arcname=wheel.name)
    with started(docker_engine, demo_image, ["sleep", "600"]) as c:
        c.put_archive("/tmp", archive.getvalue())
        # the class's channels are in CONDA_DIR/.condarc; CONDA_PREFIX names the class env
        assert "+ toolz" in ok(c, "bash", "-lc", "mamba install -y toolz")
        where = ok(c, "bash", "-lc", "python -c 'import toolz; print(toolz.__file__)'").strip()
        assert where.startswith("/opt/envs/demo/lib/python3.11/site-packages/toolz/")
        ok(c, "bash", "-lc", f"pip install --user --no-index --no-deps /tmp/{wheel.name}")
        where = ok(c, "bash", "-lc", "python -c 'import pymysql; print(pymysql.__file__)'").strip()
        assert where.startswith("/home/jovyan/.local/lib/python3.11/site-packages/pymysql/")
