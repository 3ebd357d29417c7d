"""The foundation image honours the docker-stacks-foundation contract the main Dockerfile builds on.

User, paths and entrypoint; conda/mamba on a Python venv and no notebook server (the `server` stage
adds it); what start.sh needs (sudo, tini, a group-writable passwd). The start-up options themselves
are tested on the server image (test_startup_contract.py).
"""

from __future__ import annotations

import json
import urllib.request

import docker
import pytest

from tests.support.docker import BASE_IMAGE

pytestmark = pytest.mark.docker


def run(client: docker.DockerClient, image: str, *cmd: str, user: str | None = None) -> str:
    out: bytes = client.containers.run(image, list(cmd), network_mode="host", remove=True,
                                       stdout=True, stderr=False, user=user)
    return out.decode().strip()


def test_runs_as_the_notebook_user(docker_engine: docker.DockerClient, foundation_image: str) -> None:
    out = run(docker_engine, foundation_image, "bash", "-c",
              'echo "$(id -u) $(id -g) $(id -un) $HOME $NB_USER $NB_UID $NB_GID $CONDA_DIR $PWD"')
    assert out == "1000 100 jovyan /home/jovyan jovyan 1000 100 /opt/conda /home/jovyan"
    config = docker_engine.images.get(foundation_image).attrs["Config"]
    assert config["User"] == "1000"
    assert config["Entrypoint"] == ["tini", "-g", "--", "start.sh"]
    path = next(e for e in config["Env"] if e.startswith("PATH=")).split("=", 1)[1].split(":")
    assert path[0] == "/opt/conda/bin"


def test_conda_dir_has_python_conda_and_mamba_but_no_server(docker_engine: docker.DockerClient,
                                                           foundation_image: str) -> None:
    out = run(docker_engine, foundation_image, "bash", "-c",
              "command -v python pip conda mamba start.sh run-hooks.sh fix-permissions tini sudo ps less openssl;"
              " python -c 'import sys, rattler; print(sys.prefix, sys.version_info[:2])';"
              " test -x /usr/bin/python3.11 && echo debian-python;"
              " conda --version; mamba --version; mamba env list | grep -c '^base ';"
              " command -v jupyter jupyter-lab jupyterhub-singleuser || echo no-server;"
              " python -c 'import jupyterlab' 2>/dev/null || echo no-jupyterlab")
    lines = out.splitlines()
    assert lines[:12] == ["/opt/conda/bin/python", "/opt/conda/bin/pip", "/opt/conda/bin/conda",
                          "/opt/conda/bin/mamba", "/usr/local/bin/start.sh", "/usr/local/bin/run-hooks.sh",
                          "/usr/local/bin/fix-permissions", "/usr/bin/tini", "/usr/bin/sudo", "/usr/bin/ps",
                          "/usr/bin/less", "/usr/bin/openssl"]
    assert lines[12:14] == ["/opt/conda (3, 11)", "debian-python"]
    assert lines[14].startswith("conda ") and lines[15].startswith("mamba ")
    assert lines[16:] == ["1", "no-server", "no-jupyterlab"]


def test_start_up_prerequisites(docker_engine: docker.DockerClient, foundation_image: str) -> None:
    out = run(docker_engine, foundation_image, "bash", "-c",
              "stat -c '%A %U:%G %n' /etc/passwd /etc/group /opt/conda;"
              " ls /etc/sudoers.d; sudo -n true 2>/dev/null || echo no-sudo;"
              " ls -d /usr/local/bin/start-notebook.d /usr/local/bin/before-notebook.d")
    assert out.splitlines() == [
        "-rw-rw-r-- root:root /etc/passwd", "-rw-rw-r-- root:root /etc/group",
        "drwxrwsr-x jovyan:users /opt/conda",
        "README", "path", "no-sudo",
        "/usr/local/bin/before-notebook.d", "/usr/local/bin/start-notebook.d",
    ]


def test_start_sh_logs_and_runs_the_command(docker_engine: docker.DockerClient, foundation_image: str) -> None:
    container = docker_engine.containers.run(foundation_image, ["echo", "hello"], network_mode="host", detach=True)
    try:
        assert container.wait(timeout=60)["StatusCode"] == 0
        assert container.logs(stderr=False).decode().strip() == "hello"
        assert "Entered start.sh with args: echo hello" in container.logs(stdout=False).decode()
    finally:
        container.remove(force=True)


def test_no_build_leftovers(docker_engine: docker.DockerClient, foundation_image: str) -> None:
    # As root, so /root is readable too. Apt lists, pip caches and the build-only CA bundle must be gone.
    out = run(docker_engine, foundation_image, "bash", "-c",
              "find /var/lib/apt/lists /var/cache/apt/archives /root/.cache /home/jovyan/.cache"
              " /usr/local/share/jh-build-ca /tmp -mindepth 1 ! -type d ! -name lock 2>/dev/null;"
              " test -e /etc/pip.conf && echo /etc/pip.conf; true", user="0")
    assert out == ""


def test_registry_takes_a_push(docker_engine: docker.DockerClient, registry: str, foundation_image: str) -> None:
    # The smallest local image is enough to prove push + manifest lookup against the loopback registry.
    ref = f"{registry}/jh-smoke/debian"
    image = docker_engine.images.get(BASE_IMAGE)
    image.tag(ref, "t1")
    try:
        for chunk in docker_engine.api.push(ref, tag="t1", stream=True, decode=True):
            assert "error" not in chunk, chunk
        with urllib.request.urlopen(f"http://{registry}/v2/jh-smoke/debian/tags/list", timeout=10) as resp:
            assert json.load(resp)["tags"] == ["t1"]
        assert docker_engine.api.inspect_distribution(f"{ref}:t1")["Descriptor"]["digest"].startswith("sha256:")
    finally:
        docker_engine.images.remove(f"{ref}:t1")
