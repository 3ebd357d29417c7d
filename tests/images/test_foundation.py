"""The foundation image honours the base-notebook contract the class Dockerfile relies on."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request

import docker
import pytest

from tests.support.docker import BASE_IMAGE, HOST, free_port

pytestmark = pytest.mark.docker


def run(client: docker.DockerClient, image: str, *cmd: str, user: str | None = None) -> str:
    out: bytes = client.containers.run(image, list(cmd), network_mode="host", remove=True,
                                       stdout=True, stderr=True, user=user)
    return out.decode().strip()


def test_runs_as_the_notebook_user(docker_engine: docker.DockerClient, foundation_image: str) -> None:
    out = run(docker_engine, foundation_image, "bash", "-c",
              'echo "$(id -u) $(id -g) $(id -un) $HOME $NB_USER $NB_UID $PWD"')
    assert out == "1000 100 jovyan /home/jovyan jovyan 1000 /home/jovyan"
    config = docker_engine.images.get(foundation_image).attrs["Config"]
    assert config["User"] == "1000"
    assert config["Cmd"] == ["start-notebook.sh"]
    assert "/opt/conda/bin" in next(e for e in config["Env"] if e.startswith("PATH=")).split("=", 1)[1].split(":")[0]


def test_singleuser_server_runs(docker_engine: docker.DockerClient, foundation_image: str) -> None:
    out = run(docker_engine, foundation_image, "jupyterhub-singleuser", "--version")
    assert out.split(".")[0].isdigit(), out


def test_start_scripts_and_pythons(docker_engine: docker.DockerClient, foundation_image: str) -> None:
    out = run(docker_engine, foundation_image, "bash", "-c",
              "command -v start-notebook.sh start-singleuser.sh python pip jupyter;"
              " test -x /usr/bin/python3.11 && echo debian-python;"
              " python -c 'import sys; print(sys.prefix, sys.version_info[:2])';"
              " python -c 'import notebook, jupyterlab, nbconvert, ipykernel; print(\"stack\")'")
    lines = out.splitlines()
    assert lines[:5] == ["/usr/local/bin/start-notebook.sh", "/usr/local/bin/start-singleuser.sh",
                         "/opt/conda/bin/python", "/opt/conda/bin/pip", "/opt/conda/bin/jupyter"]
    assert lines[5:] == ["debian-python", "/opt/conda (3, 11)", "stack"]


def test_no_build_leftovers(docker_engine: docker.DockerClient, foundation_image: str) -> None:
    # As root, so /root is readable too. Apt lists, pip caches and the build-only CA bundle must be gone.
    out = run(docker_engine, foundation_image, "bash", "-c",
              "find /var/lib/apt/lists /var/cache/apt/archives /root/.cache /home/jovyan/.cache"
              " /usr/local/share/jh-build-ca /tmp -mindepth 1 ! -type d ! -name lock 2>/dev/null;"
              " test -e /etc/pip.conf && echo /etc/pip.conf; true", user="0")
    assert out == ""


def test_notebook_server_answers(docker_engine: docker.DockerClient, foundation_image: str) -> None:
    port = free_port()
    container = docker_engine.containers.run(
        foundation_image,
        ["start-notebook.sh", "--ip", HOST, "--port", str(port), "--ServerApp.token="],
        network_mode="host", detach=True,
    )
    try:
        url = f"http://{HOST}:{port}/api"
        deadline = time.monotonic() + 90
        body = b""
        while time.monotonic() < deadline:
            container.reload()
            if container.status == "exited":
                pytest.fail(f"notebook server exited:\n{container.logs().decode()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as resp:
                    body = resp.read()
                    break
            except (urllib.error.URLError, OSError):
                time.sleep(0.5)
        else:
            pytest.fail(f"no answer on {url}:\n{container.logs().decode()[-3000:]}")
        assert b'"version"' in body
    finally:
        container.remove(force=True)


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
