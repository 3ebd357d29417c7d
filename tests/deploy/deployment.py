"""The deployment of deploy/, started for real on this machine (tests/deploy/test_deployment.py).

PostgreSQL (Debian's server, scripts/deploy/start-postgres.sh), the code location (`dagster
code-server start`, as in docker-compose.yml), the webserver and the daemon run on the host with
deploy/dagster.yaml (written by scripts/deploy/render_instance.py, as the image's entrypoint does);
DockerRunLauncher starts every run as a container of the deployment image (deploy/Dockerfile on the
offline foundation image, scripts/deploy/build-image.sh). Host networking throughout
(JH_RUN_NETWORK=host): the runs reach PostgreSQL, the session registry and the conda channel on
127.0.0.1. The code location's container context mounts what the runs need at the host's paths.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from jh_pipeline.processes import kill_pid
from tests.support.docker import free_port, run_script
from tests.support.common import HOST_CA

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
IMAGE = "jh-local/deploy:test"
LOCATION = "jh_pipeline"
PG = {"DAGSTER_POSTGRES_USER": "dagster", "DAGSTER_POSTGRES_PASSWORD": "deploy-test", "DAGSTER_POSTGRES_DB": "dagster"}

T = TypeVar("T")

RUN_FIELDS = "runId status tags { key value } assetSelection { path } startTime endTime runConfigYaml"


def build_image(foundation: str, log: Path) -> str:
    """The deployment image, on the foundation image; pip trusts the host CA during the build only."""
    run_script("deploy/build-image.sh", IMAGE, "--base", foundation, "--ca", HOST_CA, timeout=1800, log=log)
    return IMAGE


def wait_for(what: str, probe: Callable[[], T | None], timeout: float, every: float = 1.0,
             on_timeout: Callable[[], str] = lambda: "") -> T:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}\n{on_timeout()}")
        time.sleep(every)


@dataclass
class Run:
    run_id: str
    status: str
    tags: dict[str, str]
    assets: set[str]
    start: float | None
    end: float | None
    run_config: dict[str, Any]

    @classmethod
    def of(cls, node: Mapping[str, Any]) -> Run:
        return cls(node["runId"], node["status"], {t["key"]: t["value"] for t in node["tags"]},
                   {"/".join(a["path"]) for a in node["assetSelection"] or []}, node["startTime"], node["endTime"],
                   yaml.safe_load(node.get("runConfigYaml") or "") or {})

    @property
    def running(self) -> bool:
        return self.status in ("STARTING", "STARTED", "CANCELING")

    @property
    def done(self) -> bool:
        return self.status in ("SUCCESS", "FAILURE", "CANCELED")


@dataclass
class Deployment:
    root: Path
    repo: Path
    store: Path
    env: dict[str, str]
    webserver_port: int
    code_port: int
    procs: dict[str, subprocess.Popen[bytes]] = field(default_factory=dict)
    postgres_pid: int | None = None

    # --- processes ------------------------------------------------------------------------------

    def _start(self, name: str, cmd: list[str], env: Mapping[str, str] | None = None) -> subprocess.Popen[bytes]:
        log = (self.root / "logs" / f"{name}.log").open("ab")
        proc = subprocess.Popen(cmd, cwd=self.root, env={**self.env, **(env or {})}, stdout=log,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        log.close()
        self.procs[name] = proc
        return proc

    def start_code_server(self, **extra: str) -> None:
        # As docker-compose.yml runs it; the container context says what run containers mount.
        self._start("codelocation", [str(BIN / "dagster"), "code-server", "start", "-h", "127.0.0.1",
                                     "-p", str(self.code_port), "-m", "jh_pipeline.definitions",
                                     "--location-name", LOCATION], extra)
        wait_for("the code location", self._code_server_answers, 120, 1.0, lambda: self.log_tail("codelocation"))

    def _code_server_answers(self) -> bool:
        proc = subprocess.run([str(BIN / "dagster"), "api", "grpc-health-check", "-p", str(self.code_port),
                               "-h", "127.0.0.1"], capture_output=True, env=self.env, timeout=30)
        return proc.returncode == 0

    def start_webserver(self) -> None:
        self._start("webserver", [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(self.webserver_port),
                                  "-w", str(self.root / "workspace.yaml")])
        wait_for("the webserver", self._webserver_answers, 120, 0.5, lambda: self.log_tail("webserver"))

    def _webserver_answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.webserver_port}/server_info", timeout=2):
                return True
        except OSError:
            return False

    def start_daemon(self) -> None:
        self._start("daemon", [str(BIN / "dagster-daemon"), "run", "-w", str(self.root / "workspace.yaml")])

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        """`sig` to the process we started (its own process group: the code server's child too)."""
        proc = self.procs.pop(name)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)

    def stop(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        if self.postgres_pid is not None:
            kill_pid(self.postgres_pid)
            self.postgres_pid = None

    def log_tail(self, name: str, lines: int = 60) -> str:
        path = self.root / "logs" / f"{name}.log"
        text = path.read_text(errors="replace") if path.exists() else ""
        return f"--- {name}.log\n" + "\n".join(text.splitlines()[-lines:])

    def logs(self) -> str:
        return "\n".join(self.log_tail(n, 40) for n in ("daemon", "codelocation", "webserver"))

    # --- the webserver's GraphQL API ------------------------------------------------------------

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> dict[str, Any]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.webserver_port}/graphql",
            json.dumps({"query": query, "variables": dict(variables or {})}).encode(),
            {"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
        assert not body.get("errors"), body["errors"]
        return body["data"]

    def launch(self, assets: list[str], tags: Mapping[str, str] | None = None) -> str:
        """What the UI's Materialize button sends: the implicit asset job with an asset selection."""
        data = self.graphql(
            """mutation($params: ExecutionParams!) { launchPipelineExecution(executionParams: $params) {
                 __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message }
                 ... on InvalidSubsetError { message } ... on RunConfigValidationInvalid { errors { message } } } }""",
            {"params": {
                "selector": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__",
                             "pipelineName": "__ASSET_JOB", "assetSelection": [{"path": a.split("/")} for a in assets]},
                "mode": "default", "runConfigData": {},
                "executionMetadata": {"tags": [{"key": k, "value": v} for k, v in (tags or {}).items()]},
            }},
        )["launchPipelineExecution"]
        assert data["__typename"] == "LaunchRunSuccess", data
        return str(data["run"]["runId"])

    def runs(self) -> list[Run]:
        data = self.graphql(f"{{ runsOrError(limit: 200) {{ ... on Runs {{ results {{ {RUN_FIELDS} }} }} }} }}")
        return [Run.of(node) for node in data["runsOrError"]["results"]]

    def run(self, run_id: str) -> Run:
        [found] = [r for r in self.runs() if r.run_id == run_id]
        return found

    def engine_messages(self, run_id: str) -> list[str]:
        data = self.graphql(
            """query($id: ID!) { runOrError(runId: $id) { ... on Run { eventConnection(afterCursor: null) {
                 events { __typename ... on MessageEvent { message } } } } } }""", {"id": run_id})
        return [e.get("message", "") for e in data["runOrError"]["eventConnection"]["events"]]

    def observed_at(self, asset: str) -> float | None:
        """When the observable source asset `asset` (`common/requirements`) was last observed, in seconds."""
        data = self.graphql(
            """query($key: AssetKeyInput!) { assetOrError(assetKey: $key) { ... on Asset {
                 assetObservations(limit: 1) { timestamp } } } }""", {"key": {"path": asset.split("/")}})
        found = data["assetOrError"].get("assetObservations") or []
        return int(found[0]["timestamp"]) / 1000 if found else None

    def last_tick(self, sensor: str) -> float | None:
        """When the sensor last ended an evaluation (any outcome), in seconds."""
        data = self.graphql(
            """query($s: SensorSelector!) { sensorOrError(sensorSelector: $s) { ... on Sensor {
                 sensorState { ticks(limit: 1, statuses: [SUCCESS, SKIPPED, FAILURE]) { timestamp } } } } }""",
            {"s": {"repositoryLocationName": LOCATION, "repositoryName": "__repository__", "sensorName": sensor}})
        ticks = data["sensorOrError"]["sensorState"]["ticks"]
        return float(ticks[0]["timestamp"]) if ticks else None

    def wait_done(self, run_id: str, timeout: float) -> Run:
        return wait_for(f"run {run_id} to end", lambda: (r := self.run(run_id)).done and r, timeout, 2.0, self.logs)


def write_workspace(root: Path, port: int) -> None:
    """deploy/workspace.yaml with this host's address of the code location."""
    workspace = yaml.safe_load((REPO / "deploy" / "workspace.yaml").read_text())
    [entry] = workspace["load_from"]
    entry["grpc_server"].update(host="127.0.0.1", port=port)
    (root / "workspace.yaml").write_text(yaml.safe_dump(workspace))


def render_instance(home: Path, env: Mapping[str, str]) -> None:
    home.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(REPO / "scripts" / "deploy" / "render_instance.py"),
                    str(REPO / "deploy" / "dagster.yaml"), str(home / "dagster.yaml")],
                   env={**os.environ, **env}, check=True, capture_output=True, timeout=60)


def forwarded_vars() -> list[str]:
    return list(yaml.safe_load((REPO / "deploy" / "dagster.yaml").read_text())["run_launcher"]["config"]["env_vars"])


@dataclass(frozen=True)
class Settings:
    registry: str
    channel_url: str
    foundation: str
    image: str
    max_runs: int = 2
    monitor_poll: int = 3


def deployment_env(root: Path, repo: Path, store: Path, pg_port: int, s: Settings) -> dict[str, str]:
    """The settings of every service (a deploy/.env on this machine) and of the run containers."""
    logs = root / "compute_logs"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JH_", "DAGSTER_"))}
    env.update({name: "" for name in forwarded_vars()})  # every forwarded name set, as in compose
    env.update(PG)
    env.update({
        "DAGSTER_HOME": str(root / "dagster_home"),
        "DAGSTER_POSTGRES_HOST": "127.0.0.1", "DAGSTER_POSTGRES_PORT": str(pg_port),
        "DAGSTER_COMPUTE_LOG_DIR": str(logs),
        "DAGSTER_CURRENT_IMAGE": s.image,
        "JH_RUN_NETWORK": "host",
        "JH_MAX_CONCURRENT_RUNS": str(s.max_runs),
        "JH_RUN_MONITOR_POLL_SECONDS": str(s.monitor_poll),
        "JH_RUN_START_TIMEOUT_SECONDS": "180",
        "JH_RUN_MAX_RETRIES": "1",
        "JH_SENSOR_INTERVAL_SECONDS": "5",
        "JH_OBSERVE_CRON": "* * * * *",
        "JH_TIMEZONE": "UTC",
        # The offline profile, as tests/defs/e2e.py wires it (there as resources, here as settings).
        "JH_STORE_BACKEND": "local", "JH_STORE_DIR": str(store),
        "JH_REPO_ROOT": str(repo), "JH_REQUIREMENTS_DIR": str(repo / "requirements"),
        "JH_REGISTRY": s.registry,
        "JH_CHANNEL_MAP": f"conda-forge={s.channel_url}",
        "JH_BASE_IMAGE": s.foundation,
        "JH_EXTRA_CA_BUNDLE": HOST_CA,
    })
    # What run containers mount and get besides the forwarded settings: the code location's
    # container context (docker-compose.yml sets the production one).
    context = {"docker": {
        "env_vars": [f"JH_STORE_DIR={store}", f"JH_REPO_ROOT={repo}", f"JH_REQUIREMENTS_DIR={repo / 'requirements'}"],
        "container_kwargs": {"volumes": [
            "/var/run/docker.sock:/var/run/docker.sock",
            f"{repo}:{repo}", f"{store}:{store}", f"{logs}:{logs}",
            f"{HOST_CA}:{HOST_CA}:ro",  # what the host trusts (pip behind this site's TLS proxy)
        ]},
    }}
    env["DAGSTER_CONTAINER_CONTEXT"] = json.dumps(context)
    logs.mkdir(parents=True, exist_ok=True)
    return env


def start_postgres(root: Path) -> tuple[int, int]:
    port = free_port()
    out = run_script("deploy/start-postgres.sh", str(root / "postgres"), str(port), PG["DAGSTER_POSTGRES_USER"],
                     PG["DAGSTER_POSTGRES_PASSWORD"], PG["DAGSTER_POSTGRES_DB"], timeout=120)
    pid = int(out.strip().splitlines()[-1])
    return pid, port


def deployment_root() -> Path:
    # Not under pytest's tmp dir: that is private to root, and PostgreSQL runs as `postgres`.
    root = Path(tempfile.mkdtemp(prefix="jh-deploy-", dir="/tmp"))
    root.chmod(0o755)
    (root / "logs").mkdir()
    return root


def start(root: Path, repo: Path, store: Path, settings: Settings) -> Iterator[Deployment]:
    pid, pg_port = start_postgres(root)
    env = deployment_env(root, repo, store, pg_port, settings)
    render_instance(root / "dagster_home", env)
    code_port, web_port = free_port(), free_port()
    write_workspace(root, code_port)
    dep = Deployment(root, repo, store, env, web_port, code_port, postgres_pid=pid)
    try:
        dep.start_code_server()
        dep.start_webserver()
        dep.start_daemon()
        yield dep
    finally:
        dep.stop()
        if not os.environ.get("JH_KEEP_DEPLOY_DIR"):  # set it to read the logs after a failure
            shutil.rmtree(root, ignore_errors=True)
