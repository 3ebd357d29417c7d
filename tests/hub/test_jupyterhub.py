"""The class image as students use it: spawned by a real JupyterHub (DockerSpawner, host network).

A student's server is started through the hub's REST API; code runs in the default kernel over the
kernel websocket through the proxy; a JupyterLab terminal (terminado websocket) has the class env's
python and pip; the lab page the browser gets loads every JupyterLab extension of the server env (a
common-list plugin among them), the plugin's server extension answers, and a web app started in the
terminal opens through it (jupyter-server-proxy's /proxy/<port>/); an nbgitpuller link brings
a lesson from a git repository on 127.0.0.1 into the home directory, and the lesson notebook
(metadata kernel `python3`) runs in the class env. An R class's server, on the same hub, has the R
kernel named after the class, loading its packages.R library, and the class env's R in the
terminal. A MySQL class's student starts MariaDB from a terminal (start-mysql.sh), writes a row
from the default kernel with pymysql and reads it back with the terminal's client. The hub is the
configured series and never warns about jupyterhub-singleuser's version.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from urllib.parse import urlencode

import pytest

from tests.defs.e2e import E2E_COMMON
from tests.support.common import free_port
from tests.support.hub import (
    ClassImage,
    MISMATCH_WARNING,
    Hub,
    LessonRepo,
    configured_hub_series,
    lesson_notebook,
)

pytestmark = pytest.mark.docker

STUDENT = "student1"
R_STUDENT = "student2"  # of the R class, on the same hub
MYSQL_STUDENT = "student3"  # of the MySQL class
SERVER_ENV = "/opt/jupyter"
# jupyter-server-proxy of the e2e common list: a server extension plus this JupyterLab extension.
COMMON_PLUGIN, COMMON_LAB_EXTENSION = "jupyter-server-proxy", "@jupyterhub/jupyter-server-proxy"


@dataclass(frozen=True)
class ClassServer:
    hub: Hub
    user: str
    url: str
    image: ClassImage

    @property
    def class_env(self) -> str:
        return self.image.class_env

    @property
    def packages(self) -> tuple[str, ...]:
        return self.image.packages


def _served(hub: Hub, user: str, image: ClassImage) -> Iterator[ClassServer]:
    """`user`'s server of `image`, spawned through the hub and stopped after the module."""
    url = hub.spawn(user, image.ref)
    try:
        yield ClassServer(hub, user, url, image)
    finally:
        hub.stop_server(user)


@pytest.fixture(scope="module")
def class_server(hub: Hub, class_image_for_hub: ClassImage) -> Iterator[ClassServer]:
    yield from _served(hub, STUDENT, class_image_for_hub)


@pytest.fixture(scope="module")
def r_class_server(hub: Hub, r_class_image_for_hub: ClassImage) -> Iterator[ClassServer]:
    yield from _served(hub, R_STUDENT, r_class_image_for_hub)


@pytest.fixture(scope="module")
def mysql_class_server(hub: Hub, mysql_class_image_for_hub: ClassImage) -> Iterator[ClassServer]:
    yield from _served(hub, MYSQL_STUDENT, mysql_class_image_for_hub)


@pytest.fixture(scope="module")
def lesson(serve_git_repo, class_image_for_hub: ClassImage) -> LessonRepo:  # type: ignore[no-untyped-def]
    first_cell = f"import sys\nimport {class_image_for_hub.packages[0]}\nprint(sys.prefix)\n"
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
    assert container.image.tags and class_server.image.ref in container.image.tags
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
    # The launcher's tiles: the class's name on its kernel, and the kernels its settings add.
    assert specs["kernelspecs"]["python3"]["spec"]["display_name"] == class_server.image.display_name
    assert sorted(specs["kernelspecs"]) == sorted(["python3", *class_server.image.extra_kernels])

    imports = "".join(f"import {package}\n" for package in class_server.packages)
    out = hub.run_in_kernel(user, specs["default"], f"import sys\n{imports}print(sys.prefix)\n")
    assert out.strip() == class_server.class_env, out


def test_terminal_has_the_class_env(class_server: ClassServer) -> None:
    hub, user, env = class_server.hub, class_server.user, class_server.class_env
    imports = ", ".join(["sys", *class_server.packages])
    shown = hub.run_in_terminal(user, f"""printf 'python=%s\\n' "$(command -v python)"; """
                                      f"""python -c "import {imports}; print('prefix=' + sys.prefix)"; pip --version""")
    # The typed line is echoed too; these patterns only match what the commands printed.
    assert re.search(rf"^python={re.escape(env)}/bin/python$", shown, re.MULTILINE), shown
    assert re.search(rf"^prefix={re.escape(env)}$", shown, re.MULTILINE), shown
    assert re.search(rf"^pip \S+ from {re.escape(env)}/", shown, re.MULTILINE), shown
    assert hub.server_api(user, "GET", "terminals").json() == []  # deleted again


def _server_env_lab_extensions(class_server: ClassServer) -> set[str]:
    """The JupyterLab extensions installed in the image's server env (by their package.json)."""
    (container,) = class_server.hub.containers(class_server.user)
    root = f"{SERVER_ENV}/share/jupyter/labextensions"
    code, out = container.exec_run(["find", root, "-mindepth", "2", "-maxdepth", "3", "-name", "package.json"])
    assert code == 0, out
    names = set()
    for path in out.decode().split():
        parts = path[len(root) + 1:].split("/")[:-1]
        if len(parts) == 1 and not parts[0].startswith("@") or len(parts) == 2 and parts[0].startswith("@"):
            names.add("/".join(parts))
    return names


def test_jupyterlab_loads_the_server_plugins(class_server: ClassServer) -> None:
    hub, user = class_server.hub, class_server.user
    assert COMMON_PLUGIN in E2E_COMMON["requirements.txt"].split()
    installed = _server_env_lab_extensions(class_server)
    assert COMMON_LAB_EXTENSION in installed, installed

    browser = hub.login(user)
    config = hub.lab_page_config(browser, user)
    federated = {ext["name"]: ext for ext in config["federated_extensions"]}
    assert installed <= set(federated), sorted(installed - set(federated))
    disabled = [d for d in config.get("disabledExtensions", []) if d.split(":")[0] in installed]
    assert disabled == [], disabled
    # What the browser fetches next: each extension's remote entry, through the proxy.
    for name in sorted(installed):
        url = f"{hub.url}{config['fullLabextensionsUrl']}/{name}/{federated[name]['load']}"
        resp = browser.get(url, timeout=60)
        assert resp.status_code == 200 and "javascript" in resp.headers["Content-Type"], (url, resp.status_code)
        assert len(resp.content) > 100, (url, resp.text)

    # The plugin's server side answers what its JupyterLab extension asks for.
    info = browser.get(f"{hub.url}{hub.server_path(user)}server-proxy/servers-info", timeout=60)
    assert info.status_code == 200, (info.status_code, info.text[:500])
    assert "server_processes" in info.json(), info.text[:500]


def test_web_app_started_in_a_terminal_opens_through_server_proxy(class_server: ClassServer) -> None:
    # What a course does with jupyter-server-proxy: start a web app, open /user/<name>/proxy/<port>/.
    hub, user, port = class_server.hub, class_server.user, free_port()
    shown = hub.run_in_terminal(user, f"mkdir -p ~/site && echo hello-from-{port} > ~/site/index.html && "
                                      f"(python -m http.server {port} --bind 127.0.0.1 --directory ~/site "
                                      f">/dev/null 2>&1 & printf 'pid=%s\\n' $!)")
    pid = re.search(r"^pid=(\d+)$", shown, re.MULTILINE)
    assert pid, shown
    try:
        browser = hub.login(user)
        url = f"{hub.url}{hub.server_path(user)}proxy/{port}/index.html"
        deadline = time.monotonic() + 30
        while (resp := browser.get(url, timeout=30)).status_code != 200 and time.monotonic() < deadline:
            time.sleep(0.5)  # the app may still be starting
        assert resp.status_code == 200 and resp.text.strip() == f"hello-from-{port}", (resp.status_code, resp.text[:500])
    finally:
        hub.run_in_terminal(user, f"kill {pid.group(1)}")


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


def test_r_class_kernel_and_terminal_are_the_class_env(r_class_server: ClassServer) -> None:
    hub, user, image = r_class_server.hub, r_class_server.user, r_class_server.image
    env = image.class_env
    specs = hub.server_api(user, "GET", "kernelspecs").json()
    assert specs["default"] == "python3", specs
    assert sorted(specs["kernelspecs"]) == sorted(["python3", *image.extra_kernels]), specs
    ir = specs["kernelspecs"]["ir"]["spec"]
    assert ir["display_name"] == f"R ({image.display_name})", ir

    # The terminal's R is the class env's, its library path starts at the class library.
    shown = hub.run_in_terminal(user, """printf 'R=%s\\n' "$(command -v R)"; """
                                      """Rscript -e 'cat(paste0("lib=", .libPaths()[1], "\\nhome=", R.home()), "\\n")'""")
    assert re.search(rf"^R={re.escape(env)}/bin/R$", shown, re.MULTILINE), shown
    assert re.search(rf"^lib={re.escape(env)}/lib/R/class-library$", shown, re.MULTILINE), shown
    home = re.search(r"^home=(\S+)", shown, re.MULTILINE)
    assert home, shown
    # The kernel runs that same R (its home, not always under the env: the hermetic r-base
    # stand-in's bin/R is Debian's) and loads packages.R's library from the class library.
    assert ir["argv"][0] == f"{home.group(1)}/bin/R", (ir, shown)
    libraries = ", ".join(f'"{name}"' for name in image.r_packages)
    code = (f"cat(R.home(), '\\n')\n"
            f"for (p in c({libraries})) {{ library(p, character.only = TRUE); cat(p, find.package(p), '\\n') }}\n"
            f"cat(jh_hello('students'), '\\n')\n")
    out = hub.run_in_kernel(user, "ir", code).splitlines()
    assert out == [f"{home.group(1)} ", *(f"{name} {env}/lib/R/class-library/{name} " for name in image.r_packages),
                   "hello from jhdemo, students "], out


def test_mysql_class_student_starts_mariadb_in_a_terminal_and_uses_it_from_the_kernel(
    mysql_class_server: ClassServer,
) -> None:
    hub, user = mysql_class_server.hub, mysql_class_server.user
    port = free_port()  # host networking: the server shares the host's loopback
    shown = hub.run_in_terminal(user, f"export MYSQL_PORT={port}; start-mysql.sh", timeout=180)
    assert "MariaDB running (pid " in shown and f"127.0.0.1:{port}" in shown, shown
    try:
        code = (f"import pymysql\n"
                f"db = pymysql.connect(host='127.0.0.1', port={port}, user='root', autocommit=True)\n"
                f"cur = db.cursor()\n"
                f"cur.execute('CREATE DATABASE course')\n"
                f"cur.execute('CREATE TABLE course.grades (student VARCHAR(20), grade INT)')\n"
                f"cur.execute(\"INSERT INTO course.grades VALUES ('{user}', 42)\")\n"
                f"cur.execute('SELECT student, grade FROM course.grades')\n"
                f"print(cur.fetchall())\n")
        assert hub.run_in_kernel(user, "python3", code).strip() == f"(('{user}', 42),)"
        # The terminal's client (the ~/.my.cnf start-mysql.sh wrote) sees the kernel's row.
        shown = hub.run_in_terminal(user, "mariadb -N -B -e 'SELECT student, grade FROM course.grades'")
        assert re.search(rf"^{user}\s+42$", shown, re.MULTILINE), shown
    finally:
        shown = hub.run_in_terminal(user, f"export MYSQL_PORT={port}; start-mysql.sh stop")
    assert "MariaDB stopped" in shown, shown


def test_hub_log_has_no_singleuser_version_warning(hub: Hub, class_server: ClassServer) -> None:
    log = hub.log_text()
    assert "Created container" in log or "Starting container" in log, hub.log_tail()
    assert hub.mismatch_warnings() == []
    # The server checks the hub's version too and would log the same warning.
    server_log = hub.server_log(class_server.user)
    assert "jupyterhub-singleuser" in server_log or "JupyterHub" in server_log, server_log[-2000:]
    assert MISMATCH_WARNING not in server_log, server_log[-2000:]
