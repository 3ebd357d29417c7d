"""A real JupyterHub for tests: hub + configurable-http-proxy + DockerSpawner on host networking.

Import the fixtures into a directory's conftest (``from tests.support.hub import hub, serve_git_repo``)
or use the helpers directly:

- ``Hub``: JupyterHub (the .venv's ``jupyterhub``) as a subprocess on 127.0.0.1 with a free port,
  ``node_modules/.bin/configurable-http-proxy``, the DummyAuthenticator, an admin API token (a
  service), sqlite in a temporary directory and ``HostNetworkDockerSpawner``. Its config is
  scripts/hub/jupyterhub_config.py, fed through ``JH_HUB_*`` environment variables.
  ``spawn(user, image)`` starts a server through the REST API; ``api()``, ``get()``,
  ``run_in_kernel()``, ``run_in_session()``, ``run_in_terminal()``, ``login()``,
  ``lab_page_config()``, ``follow_nbgitpuller_link()``,
  ``log_text()``, ``hub_version``, ``singleuser_version()``.
  ``stop()`` ends the hub and the proxy by PID (SIGTERM, then SIGKILL) and force-removes every
  container this hub created (they carry the hub's label and name prefix).
- ``LessonRepo`` / ``serve_git_repo``: a git repository served by ``git daemon`` on 127.0.0.1
  (scripts/hub/serve-git.sh); git:// supports the shallow clones nbgitpuller makes.
- ``configured_hub_series()``: ``server.hub_version`` of jh_pipeline.yaml at the repository root,
  else ``DEFAULT_HUB_SERIES``.

Everything listens on 127.0.0.1; single-user containers run on the host network.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote, unquote, urlencode

import docker
import pytest
import requests
import yaml
from dockerspawner import DockerSpawner
from tornado.httpclient import HTTPRequest
from tornado.websocket import websocket_connect
from traitlets import default

from tests.support.docker import HOST, REPO_ROOT, SCRIPTS, _alive, free_port, kill_pid, run_script

DEFAULT_HUB_SERIES = "6.1"
HUB_CONFIG = SCRIPTS / "hub" / "jupyterhub_config.py"
CHP = REPO_ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
LABEL = "org.jh-pipeline.test-hub"  # every container a harness hub creates carries it (value: hub id)
USER_LABEL = "org.jh-pipeline.test-hub.user"  # ... and this one (value: the user's name)
# The hub logs this at every spawn when jupyterhub-singleuser's major version differs from its own.
MISMATCH_WARNING = "jupyterhub-singleuser version"

START_TIMEOUT = float(os.environ.get("JH_HUB_START_TIMEOUT", "120"))
SPAWN_TIMEOUT = float(os.environ.get("JH_HUB_SPAWN_TIMEOUT", "240"))


def configured_hub_series(root: Path = REPO_ROOT) -> str:
    """The JupyterHub series the site runs (jh_pipeline.yaml ``server.hub_version``)."""
    path = root / "jh_pipeline.yaml"
    if path.is_file():
        data = yaml.safe_load(path.read_text()) or {}
        value = (data.get("server") or {}).get("hub_version")
        if value:
            return str(value)
    return DEFAULT_HUB_SERIES


class HostNetworkDockerSpawner(DockerSpawner):
    """DockerSpawner for ``dockerd --bridge=none``: the container shares the host network.

    With ``use_internal_ip`` DockerSpawner makes no port bindings (docker-py rejects them on the
    host network); the server listens on 127.0.0.1 at a free port of its own, which is also where
    the hub and the proxy find it.
    """

    @default("network_name")
    def _default_network_name(self) -> str:
        return "host"

    @default("use_internal_ip")
    def _default_use_internal_ip(self) -> bool:
        return True

    @default("host_ip")
    def _default_host_ip(self) -> str:
        return HOST

    @default("ip")
    def _default_ip(self) -> str:
        return HOST

    @default("remove")
    def _default_remove(self) -> bool:
        return True

    @default("port")
    def _default_port(self) -> int:
        return free_port()

    @default("apply_user_options")
    def _default_apply_user_options(self) -> Any:
        # DockerSpawner.start() applies `image` itself (checked against allowed_images); without a
        # hook the hub would warn that the option is unhandled.
        def apply(spawner: DockerSpawner, user_options: dict[str, Any]) -> None:
            unknown = sorted(set(user_options) - {"image"})
            if unknown:
                spawner.log.warning("ignoring user_options %s for %s", unknown, spawner.user.name)

        return apply

    async def start(self) -> Any:
        # A new port per start: the previous one may have been taken since (all users share the host).
        self.port = free_port()
        return await super().start()

    async def get_ip_and_port(self) -> tuple[str, int]:
        return self.host_ip, self.port


class HubError(RuntimeError):
    pass


@dataclass
class Hub:
    """A running JupyterHub; see the module docstring."""

    state: Path
    hub_id: str = field(default_factory=lambda: secrets.token_hex(4))
    image: str = ""  # default image for spawn() when none is given
    port: int = field(default_factory=free_port)
    hub_port: int = field(default_factory=free_port)
    proxy_api_port: int = field(default_factory=free_port)
    admin_token: str = field(default_factory=lambda: secrets.token_hex(24))
    proc: subprocess.Popen[bytes] | None = None
    _tokens: dict[str, str] = field(default_factory=dict)
    _servers: dict[str, str] = field(default_factory=dict)
    _hub_version: str | None = None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.state / "jupyterhub.log"

    @property
    def container_prefix(self) -> str:
        return f"jhtest-{self.hub_id}"

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, timeout: float = START_TIMEOUT) -> Hub:
        jupyterhub = Path(sys.prefix) / "bin" / "jupyterhub"
        if not jupyterhub.exists():
            jupyterhub = REPO_ROOT / ".venv" / "bin" / "jupyterhub"
        if not CHP.exists():
            raise HubError(f"{CHP} missing: run `npm ci` at the repository root")
        self.state.mkdir(parents=True, exist_ok=True)
        env = {
            **os.environ,
            # The config names the spawner class by its import path in this repository.
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), os.environ.get("PYTHONPATH")])),
            "JH_HUB_STATE": str(self.state),
            "JH_HUB_PORT": str(self.port),
            "JH_HUB_API_PORT": str(self.hub_port),
            "JH_HUB_PROXY_API_PORT": str(self.proxy_api_port),
            "JH_HUB_CHP": str(CHP),
            "JH_HUB_ADMIN_TOKEN": self.admin_token,
            "JH_HUB_ID": self.hub_id,
            "JH_HUB_CONTAINER_PREFIX": self.container_prefix,
            "JH_HUB_LABEL": LABEL,
            "JH_HUB_USER_LABEL": USER_LABEL,
            "JH_HUB_IMAGE": self.image,
            "CONFIGPROXY_AUTH_TOKEN": secrets.token_hex(24),
        }
        with self.log_path.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(jupyterhub), "-f", str(HUB_CONFIG)], cwd=self.state, env=env,
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise HubError(f"jupyterhub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                # Through the proxy: proves hub, proxy and the hub's route are all up.
                resp = requests.get(f"{self.url}/hub/api/", timeout=5)
                if resp.status_code == 200:
                    self._hub_version = resp.json()["version"]
                    return self
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise HubError(f"hub not up at {self.url} after {timeout:.0f}s:\n{self.log_tail()}")
            time.sleep(0.5)

    def stop(self) -> None:
        try:
            self.save_server_logs()
        except docker.errors.DockerException:
            pass  # best effort: stopping matters more than the logs
        if self.proc is not None and self.proc.poll() is None:
            # The hub stops its servers (cleanup_servers) and its proxy on SIGTERM; give it time.
            kill_pid(self.proc.pid, grace=60)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
        proxy_pid = self._read_pid(self.state / "proxy.pid")
        if proxy_pid is not None and _alive(proxy_pid):
            kill_pid(proxy_pid, grace=5)
        self.remove_containers()

    def remove_containers(self) -> list[str]:
        """Force-remove the containers this hub created (by its label); returns their names."""
        removed = []
        for container in self.containers():
            try:
                container.remove(force=True)
                removed.append(container.name)
            except docker.errors.NotFound:  # auto-removed meanwhile
                pass
        return removed

    @staticmethod
    def _read_pid(path: Path) -> int | None:
        try:
            text = path.read_text().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    # -- logs and versions -----------------------------------------------------------------
    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def log_tail(self, lines: int = 80) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])

    @property
    def hub_version(self) -> str:
        """The running hub's version, as its REST API reports it."""
        if self._hub_version is None:
            self._hub_version = self.api("GET", "/").json()["version"]
        return self._hub_version

    def singleuser_version(self, user: str) -> str:
        """jupyterhub-singleuser's version in the user's server (its X-JupyterHub-Version header)."""
        resp = self.get(f"{self.server_path(user)}api/status", user=user)
        resp.raise_for_status()
        return resp.headers["X-JupyterHub-Version"]

    def mismatch_warnings(self) -> list[str]:
        return [line for line in self.log_text().splitlines() if MISMATCH_WARNING in line]

    # -- REST API --------------------------------------------------------------------------
    def api(self, method: str, path: str, *, token: str | None = None, ok: tuple[int, ...] = (),
            **kwargs: Any) -> requests.Response:
        """Call the hub's REST API (``/hub/api`` + path) with the admin token (or `token`).

        Raises HubError when the status is >= 400 and not in `ok`.
        """
        headers = {"Authorization": f"token {token or self.admin_token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 60)
        resp = requests.request(method, f"{self.url}/hub/api{path}", headers=headers, **kwargs)
        if resp.status_code >= 400 and resp.status_code not in ok:
            raise HubError(f"{method} /hub/api{path}: {resp.status_code} {resp.text[:2000]}\n{self.log_tail()}")
        return resp

    def ensure_user(self, user: str) -> dict[str, Any]:
        resp = self.api("GET", f"/users/{quote(user)}", ok=(404,))
        if resp.status_code == 404:
            resp = self.api("POST", f"/users/{quote(user)}")
        model: dict[str, Any] = resp.json()
        return model

    def token(self, user: str) -> str:
        """An API token of `user` (created once through the admin token)."""
        if user not in self._tokens:
            self.ensure_user(user)
            resp = self.api("POST", f"/users/{quote(user)}/tokens",
                            json={"note": "test harness", "expires_in": 3600})
            self._tokens[user] = resp.json()["token"]
        return self._tokens[user]

    def spawn(self, user: str, image: str | None = None, timeout: float = SPAWN_TIMEOUT) -> str:
        """Start `user`'s server from `image` through the REST API; return its URL (ends with /)."""
        image = image or self.image
        if not image:
            raise ValueError("no image given and the hub has no default image")
        self.ensure_user(user)
        self.api("POST", f"/users/{quote(user)}/server", json={"image": image})
        deadline = time.monotonic() + timeout
        while True:
            model = self.api("GET", f"/users/{quote(user)}").json()
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                self._servers[user] = server["url"]
                return f"{self.url}{server['url']}"
            if not server or not server.get("pending"):
                raise HubError(f"{user}'s server failed to start:\n{self.log_tail()}\n"
                               f"--- server log (saved ones are in {self.state}) ---\n{self.server_log(user)[-4000:]}")
            if time.monotonic() > deadline:
                raise HubError(f"{user}'s server not ready after {timeout:.0f}s:\n{self.log_tail()}\n"
                               f"--- server log ---\n{self.server_log(user)[-4000:]}")
            time.sleep(1)

    def stop_server(self, user: str) -> None:
        self.save_server_logs(user)  # the container is removed when it stops
        self.api("DELETE", f"/users/{quote(user)}/server", ok=(204, 202))
        self._servers.pop(user, None)

    def containers(self, user: str | None = None) -> list[Any]:
        """This hub's server containers (all of them, or `user`'s), found by the harness's labels."""
        labels = [f"{LABEL}={self.hub_id}"] + ([f"{USER_LABEL}={user}"] if user else [])
        client = docker.from_env(timeout=120)
        try:
            return [c for c in client.containers.list(all=True, filters={"label": labels})
                    if c.name.startswith(self.container_prefix)]
        finally:
            client.close()

    def server_log(self, user: str) -> str:
        """The single-user server's output (its container's log; a saved copy once it is gone)."""
        texts = []
        for container in self.containers(user):
            try:
                texts.append(container.logs().decode(errors="replace"))
            except docker.errors.NotFound:
                pass
        if not texts:
            texts = [p.read_text(errors="replace") for p in sorted(self.state.glob(f"server-{user}*.log"))]
        return "\n".join(texts)

    def save_server_logs(self, user: str | None = None) -> None:
        """Copy the server containers' logs to <state>/server-<user>-<container>.log."""
        for container in self.containers(user):
            owner = container.labels.get(USER_LABEL, "unknown")
            try:
                (self.state / f"server-{owner}-{container.name}.log").write_bytes(container.logs())
            except docker.errors.NotFound:
                pass

    def server_path(self, user: str) -> str:
        """``/user/<name>/`` of a spawned server."""
        if user not in self._servers:
            raise HubError(f"{user} has no server (spawn first)")
        return self._servers[user]

    def get(self, path: str, *, user: str | None = None, **kwargs: Any) -> requests.Response:
        """GET `path` (absolute path on the hub's public URL) through the proxy with `user`'s token
        (the admin token when no user is given)."""
        token = self.token(user) if user else self.admin_token
        headers = {"Authorization": f"token {token}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 60)
        return requests.get(f"{self.url}{path}", headers=headers, **kwargs)

    def server_api(self, user: str, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Call the single-user server's REST API (``/user/<name>/api/`` + path) with the user's token."""
        headers = {"Authorization": f"token {self.token(user)}", **kwargs.pop("headers", {})}
        kwargs.setdefault("timeout", 60)
        url = f"{self.url}{self.server_path(user)}api/{path.lstrip('/')}"
        resp = requests.request(method, url, headers=headers, **kwargs)
        if resp.status_code >= 400:
            raise HubError(f"{method} {url}: {resp.status_code} {resp.text[:2000]}")
        return resp

    def contents(self, user: str, path: str = "") -> dict[str, Any]:
        """The contents API model of `path` in the user's home (a directory lists its entries)."""
        result: dict[str, Any] = self.server_api(user, "GET", f"contents/{quote(path)}").json()
        return result

    # -- kernels ---------------------------------------------------------------------------
    def run_in_kernel(self, user: str, kernel_name: str, code: str, timeout: float = 120) -> str:
        """Start kernel `kernel_name` in the user's server, run `code`, return its stdout."""
        kernel = self.server_api(user, "POST", "kernels", json={"name": kernel_name}).json()
        try:
            return self.execute(user, kernel["id"], code, timeout=timeout)
        finally:
            self.server_api(user, "DELETE", f"kernels/{kernel['id']}")

    def open_session(self, user: str, path: str, kernel_name: str | None = None) -> dict[str, Any]:
        """Open a notebook session as JupyterLab does; kernel_name=None takes the notebook's metadata."""
        if kernel_name is None:
            nb = self.contents(user, path)["content"]
            kernel_name = nb["metadata"]["kernelspec"]["name"]
        body = {"path": path, "name": Path(path).name, "type": "notebook", "kernel": {"name": kernel_name}}
        session: dict[str, Any] = self.server_api(user, "POST", "sessions", json=body).json()
        return session

    def run_in_session(self, user: str, path: str, code: str, kernel_name: str | None = None,
                       timeout: float = 120) -> tuple[str, dict[str, Any]]:
        """Open a session for notebook `path`, run `code` in its kernel; return (stdout, session)."""
        session = self.open_session(user, path, kernel_name)
        try:
            return self.execute(user, session["kernel"]["id"], code, timeout=timeout), session
        finally:
            self.server_api(user, "DELETE", f"sessions/{session['id']}")

    def execute(self, user: str, kernel_id: str, code: str, timeout: float = 120) -> str:
        """Run `code` in a running kernel over its websocket (through the proxy); return stdout."""
        session_id = uuid.uuid4().hex
        url = (f"ws://{HOST}:{self.port}{self.server_path(user)}api/kernels/{kernel_id}/channels"
               f"?session_id={session_id}")
        headers = {"Authorization": f"token {self.token(user)}"}
        return asyncio.run(_execute(url, headers, user, session_id, code, timeout))

    # -- terminals -------------------------------------------------------------------------
    def run_in_terminal(self, user: str, command: str, timeout: float = 60) -> str:
        """Open a terminal as JupyterLab does (REST API + terminado websocket through the proxy), type
        `command` and return what the terminal showed until it ended (colour codes removed).

        Raises HubError when the command's exit status is not 0. The terminal is deleted afterwards.
        """
        name = self.server_api(user, "POST", "terminals").json()["name"]
        url = f"ws://{HOST}:{self.port}{self.server_path(user)}terminals/websocket/{name}"
        headers = {"Authorization": f"token {self.token(user)}"}
        try:
            return asyncio.run(_type_in_terminal(url, headers, command, timeout))
        finally:
            self.server_api(user, "DELETE", f"terminals/{name}")

    # -- browser and nbgitpuller -----------------------------------------------------------
    def login(self, user: str) -> requests.Session:
        """A browser-like session logged in to the hub (DummyAuthenticator form + cookies)."""
        session = requests.Session()
        session.get(f"{self.url}/hub/login", timeout=60).raise_for_status()
        xsrf = session.cookies.get("_xsrf", path="/hub/") or session.cookies.get("_xsrf") or ""
        resp = session.post(f"{self.url}/hub/login", timeout=60,
                            data={"username": user, "password": "test", "_xsrf": xsrf})
        resp.raise_for_status()
        if not any(c.name.startswith("jupyterhub-session") for c in session.cookies):
            raise HubError(f"login as {user} set no session cookie:\n{self.log_tail()}")
        return session

    def lab_page_config(self, session: requests.Session, user: str) -> dict[str, Any]:
        """JupyterLab's page config as the browser gets it: the ``jupyter-config-data`` JSON of
        ``/user/<name>/lab`` (the extensions the page loads, their URLs, the disabled ones)."""
        page = session.get(f"{self.url}{self.server_path(user)}lab", timeout=60)
        found = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>',
                          page.text, re.DOTALL)
        if page.status_code != 200 or found is None:
            raise HubError(f"{page.url} ({page.status_code}) has no JupyterLab page config:\n{page.text[:2000]}")
        config: dict[str, Any] = json.loads(found.group(1))
        return config

    def follow_nbgitpuller_link(self, session: requests.Session, link: str,
                                timeout: float = 180) -> GitPullResult:
        """Follow an nbgitpuller link (path + query on the hub) as a browser does.

        The redirects (user-redirect, the server's OAuth login) lead to nbgitpuller's status page.
        That page only shows progress: its script reads the parameters from the page's ``data-*``
        attributes, runs the clone through the ``git-pull/api`` event stream and then opens the
        link's ``urlpath``. This does the same; raises HubError on an error event.
        """
        page = session.get(f"{self.url}{link}", timeout=60)
        if page.status_code != 200 or "git-pull" not in page.url:
            raise HubError(f"{link} ended at {page.url} ({page.status_code}):\n{page.text[:2000]}")
        body = re.search(r"<body([^>]*)>", page.text, re.DOTALL)
        data = {k: unquote(v) for k, v in re.findall(r'data-([a-z-]+)="([^"]*)"', body.group(1) if body else "")}
        params = {"_xsrf": data.get("xsrf", ""), "repo": data["repo"], "targetpath": data["targetpath"]}
        params.update({k: data[k] for k in ("depth", "branch", "backup") if k in data})
        events: list[dict[str, Any]] = []
        api = f"{self.url}{data['base-url']}git-pull/api?{urlencode(params)}"
        with session.get(api, stream=True, timeout=timeout) as resp:
            resp.raise_for_status()
            for line in resp.iter_lines(decode_unicode=True):
                if not line or not line.startswith("data:"):
                    continue
                event = json.loads(line[len("data:"):])
                events.append(event)
                if event.get("phase") in ("finished", "error"):
                    break
        if not events or events[-1].get("phase") != "finished":
            raise HubError(f"nbgitpuller did not finish: {json.dumps(events, indent=1)[-4000:]}")
        final = session.get(f"{self.url}{data['base-url']}{data['path']}", timeout=60)
        return GitPullResult(page_url=page.url, targetpath=data["targetpath"], events=events,
                             redirect_url=final.url, redirect_status=final.status_code)


@dataclass(frozen=True)
class GitPullResult:
    page_url: str  # nbgitpuller's status page the link led to
    targetpath: str  # the clone's directory, relative to the server's root (the user's home)
    events: list[dict[str, Any]]  # the event stream, ending with phase "finished"
    redirect_url: str  # where the page sends the browser afterwards (the link's urlpath)
    redirect_status: int


async def _execute(url: str, headers: dict[str, str], user: str, session_id: str, code: str,
                   timeout: float) -> str:
    conn = await asyncio.wait_for(websocket_connect(HTTPRequest(url, headers=headers)), timeout)
    msg_id = uuid.uuid4().hex
    request = {
        "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": user,
                   "session": session_id, "date": datetime.now(UTC).isoformat(),
                   "version": "5.3"},
        "parent_header": {}, "metadata": {}, "buffers": [], "channel": "shell",
        "content": {"code": code, "silent": False, "store_history": False, "user_expressions": {},
                    "allow_stdin": False, "stop_on_error": True},
    }
    stdout: list[str] = []
    errors: list[str] = []
    idle = replied = False
    try:
        await conn.write_message(json.dumps(request))
        deadline = time.monotonic() + timeout
        while not (idle and replied):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HubError(f"no reply from the kernel within {timeout:.0f}s; stdout so far: {''.join(stdout)!r}")
            raw = await asyncio.wait_for(conn.read_message(), remaining)
            if raw is None:
                raise HubError("kernel websocket closed before the cell finished")
            if isinstance(raw, bytes):  # binary frames carry buffers we never ask for
                continue
            msg = json.loads(raw)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content.get("name") == "stdout":
                stdout.append(content["text"])
            elif kind == "error":
                errors.append("\n".join(content.get("traceback") or [f"{content.get('ename')}: {content.get('evalue')}"]))
            elif kind == "status" and content.get("execution_state") == "idle":
                idle = True
            elif kind == "execute_reply":
                replied = True
    finally:
        conn.close()
    if errors:
        raise HubError("the cell raised:\n" + "\n".join(errors))
    return "".join(stdout)


ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07]*\x07|\x1b[=>]")


async def _type_in_terminal(url: str, headers: dict[str, str], command: str, timeout: float) -> str:
    # The typed line is echoed back: `END-<id>-$?` only matches the pattern once the shell ran it.
    marker = f"END-{uuid.uuid4().hex}-"
    ended = re.compile(re.escape(marker) + r"(\d+)")
    conn = await asyncio.wait_for(websocket_connect(HTTPRequest(url, headers=headers)), timeout)
    shown: list[str] = []
    try:
        await conn.write_message(json.dumps(["set_size", 50, 250, 800, 1600]))  # no wrapped lines
        await conn.write_message(json.dumps(["stdin", f"{command}; echo {marker}$?\r"]))
        deadline = time.monotonic() + timeout
        while True:
            text = ANSI.sub("", "".join(shown)).replace("\r", "")
            status = ended.search(text)
            if status:
                if status.group(1) != "0":
                    raise HubError(f"terminal command exited with {status.group(1)}:\n{text[-3000:]}")
                return text[:status.start()]
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise HubError(f"terminal command not done within {timeout:.0f}s:\n{text[-3000:]}")
            raw = await asyncio.wait_for(conn.read_message(), remaining)
            if raw is None:
                raise HubError(f"terminal websocket closed:\n{text[-3000:]}")
            kind, *rest = json.loads(raw)
            if kind == "stdout":
                shown.append(rest[0])
            elif kind == "disconnect":
                raise HubError(f"the terminal's shell exited:\n{text[-3000:]}")
    finally:
        conn.close()


@dataclass(frozen=True)
class ClassImage:
    """A class image for the hub to spawn, and what a student should find in it."""

    ref: str  # in the local engine
    class_name: str
    display_name: str  # what the launcher calls the default kernel
    packages: tuple[str, ...]  # modules the class env must import
    extra_kernels: tuple[str, ...]  # registered next to python3 (e.g. xsqlite for sqlite: true)
    r_packages: tuple[str, ...] = ()  # R packages the `ir` kernel must load (an R class's packages.R)

    @property
    def class_env(self) -> str:
        return f"/opt/envs/{self.class_name}"


@dataclass(frozen=True)
class LessonRepo:
    url: str  # git://127.0.0.1:<port>/<name>
    name: str  # also the directory nbgitpuller clones into by default
    branch: str
    files: tuple[str, ...]


def lesson_notebook(first_cell: str, kernel_name: str = "python3") -> dict[str, Any]:
    """A notebook whose metadata names `kernel_name`, as course material usually does."""
    return {
        "nbformat": 4, "nbformat_minor": 5,
        "metadata": {
            "kernelspec": {"name": kernel_name, "display_name": "Python 3", "language": "python"},
            "language_info": {"name": "python"},
        },
        "cells": [{"cell_type": "code", "id": "first", "metadata": {}, "execution_count": None,
                   "outputs": [], "source": first_cell}],
    }


@pytest.fixture(scope="session")
def serve_git_repo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """A factory: serve_git_repo(files: {path: text}, name) -> LessonRepo on git://127.0.0.1."""
    pids: list[int] = []

    def serve(files: Mapping[str, str], name: str = "lesson-material", branch: str = "main") -> LessonRepo:
        root = tmp_path_factory.mktemp(f"git-{name}")
        src = root / "src"
        for rel, text in files.items():
            (src / rel).parent.mkdir(parents=True, exist_ok=True)
            (src / rel).write_text(text)
        port = free_port()
        out = run_script("hub/serve-git.sh", str(src), str(root / "served"), str(port), name, branch,
                         timeout=60)
        pid = int(out.strip().splitlines()[-1])
        pids.append(pid)
        _wait_for_port(port, pid, root / "served" / "git-daemon.log")
        return LessonRepo(url=f"git://{HOST}:{port}/{name}", name=name, branch=branch,
                          files=tuple(sorted(files)))

    try:
        yield serve
    finally:
        for pid in pids:
            kill_pid(pid, grace=5)


def _wait_for_port(port: int, pid: int, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            raise HubError(f"git daemon exited:\n{log.read_text() if log.exists() else ''}")
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.2)
    raise HubError(f"git daemon not listening on {HOST}:{port} after {timeout:.0f}s")


@pytest.fixture(scope="session")
def hub(docker_engine: docker.DockerClient, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    """A running JupyterHub for the session; stopped (with its proxy and containers) at the end."""
    running = Hub(state=tmp_path_factory.mktemp("jupyterhub"))
    try:
        running.start()
        yield running
    finally:
        running.stop()
