"""The class image as students use it: spawned by a real JupyterHub (DockerSpawner, host network).

A student's server is started through the hub's REST API; code runs in the default kernel over the
kernel websocket through the proxy; an nbgitpuller link brings a lesson from a git repository on
127.0.0.1 into the home directory, and the lesson notebook (metadata kernel `python3`) runs in the
class env. The hub is the configured series and never warns about jupyterhub-singleuser's version.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from tests.support.hub import (
    MISMATCH_WARNING,
    Hub,
    LessonRepo,
    configured_hub_series,
    lesson_notebook,
)

pytestmark = pytest.mark.docker

STUDENT = "student1"


@dataclass(frozen=True)
class ClassServer:
    hub: Hub
    user: str
    url: str
    image: str
    class_name: str
    packages: list[str]

    @property
    def class_env(self) -> str:
        return f"/opt/envs/{self.class_name}"


@pytest.fixture(scope="module")
def class_server(hub: Hub, class_image_for_hub: tuple[str, str, list[str]]) -> Iterator[ClassServer]:
    image, class_name, packages = class_image_for_hub
    url = hub.spawn(STUDENT, image)
    try:
        yield ClassServer(hub, STUDENT, url, image, class_name, packages)
    finally:
        hub.stop_server(STUDENT)


@pytest.fixture(scope="module")
def lesson(serve_git_repo, class_image_for_hub: tuple[str, str, list[str]]) -> LessonRepo:  # type: ignore[no-untyped-def]
    _, _, packages = class_image_for_hub
    first_cell = f"import sys\nimport {packages[0]}\nprint(sys.prefix)\n"
    files = {
        "lesson.ipynb": json.dumps(lesson_notebook(first_cell, kernel_name="python3"), indent=1),
        "data/README.md": "Course material handed out with nbgitpuller.\n",
    }
    repo: LessonRepo = serve_git_repo(files, name="lesson-material", branch="main")
    return repo


def test_hub_is_the_configured_series(hub: Hub) -> None:
    series = configured_hub_series()
    assert hub.hub_version == series or hub.hub_version.startswith(series + "."), (hub.hub_version, series)


def test_spawned_through_the_rest_api(class_server: ClassServer) -> None:
    hub = class_server.hub
    assert class_server.url == f"{hub.url}/user/{class_server.user}/"
    model = hub.api("GET", f"/users/{class_server.user}").json()
    assert model["servers"][""]["ready"] is True
    # Host network, no port bindings; the server answers on loopback only.
    (container,) = hub.containers(class_server.user)
    assert container.image.tags and class_server.image in container.image.tags
    host_config = container.attrs["HostConfig"]
    assert host_config["NetworkMode"] == "host"
    assert not host_config.get("PortBindings")
    assert "JUPYTERHUB_SERVICE_URL=http://127.0.0.1:" in "\n".join(container.attrs["Config"]["Env"])
    # jupyterhub-singleuser in the image is on the hub's series.
    series = configured_hub_series()
    singleuser = hub.singleuser_version(class_server.user)
    assert singleuser == series or singleuser.startswith(series + "."), (singleuser, series)


def test_default_kernel_is_the_class_env(class_server: ClassServer) -> None:
    hub, user = class_server.hub, class_server.user
    specs = hub.server_api(user, "GET", "kernelspecs").json()
    assert specs["default"] == "python3", specs["default"]
    python_kernels = sorted(name for name, spec in specs["kernelspecs"].items()
                            if spec["spec"]["language"].lower() == "python")
    assert python_kernels == ["python3"], python_kernels

    imports = "".join(f"import {package}\n" for package in class_server.packages)
    out = hub.run_in_kernel(user, specs["default"], f"import sys\n{imports}print(sys.prefix)\n")
    assert out.strip() == class_server.class_env, out


def test_nbgitpuller_link_brings_a_lesson_that_runs_in_the_class_env(
        class_server: ClassServer, lesson: LessonRepo) -> None:
    hub, user = class_server.hub, class_server.user
    notebook = f"{lesson.name}/lesson.ipynb"
    link = "/hub/user-redirect/git-pull?" + urlencode(
        {"repo": lesson.url, "branch": lesson.branch, "urlpath": f"lab/tree/{notebook}"})

    browser = hub.login(user)
    result = hub.follow_nbgitpuller_link(browser, link)
    assert f"/user/{user}/git-pull" in result.page_url
    assert result.targetpath == lesson.name
    assert result.redirect_status == 200 and result.redirect_url.endswith(f"/user/{user}/lab/tree/{notebook}")

    home = {entry["name"] for entry in hub.contents(user)["content"]}
    assert lesson.name in home, home
    pulled = {entry["name"] for entry in hub.contents(user, lesson.name)["content"]}
    assert {"lesson.ipynb", "data"} <= pulled, pulled
    assert {entry["name"] for entry in hub.contents(user, f"{lesson.name}/data")["content"]} == {"README.md"}

    # As JupyterLab opens it: a session with the kernel its metadata names, no kernel prompt.
    nb = hub.contents(user, notebook)["content"]
    kernel_name = nb["metadata"]["kernelspec"]["name"]
    assert kernel_name == "python3"
    out, session = hub.run_in_session(user, notebook, nb["cells"][0]["source"], kernel_name=kernel_name)
    assert session["kernel"]["name"] == "python3"
    assert out.strip() == class_server.class_env, out


def test_hub_log_has_no_singleuser_version_warning(hub: Hub, class_server: ClassServer) -> None:
    log = hub.log_text()
    assert "Created container" in log or "Starting container" in log, hub.log_tail()
    assert hub.mismatch_warnings() == []
    # The server checks the hub's version too and would log the same warning.
    server_log = hub.server_log(class_server.user)
    assert "jupyterhub-singleuser" in server_log or "JupyterHub" in server_log, server_log[-2000:]
    assert MISMATCH_WARNING not in server_log, server_log[-2000:]
