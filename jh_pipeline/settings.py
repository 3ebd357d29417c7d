"""Every setting of the pipeline, typed, in one model: `PipelineSettings`.

- the site settings from `jh_pipeline.yaml` (repository root, or the file named by JH_CONFIG):
  unknown keys are an error, so a misspelt setting is never silently ignored;
- the endpoints, the artifact store, the Docker engine/registry and the automation from the
  environment: each field's alias is its variable; unset or empty means the default.

Built once (`load_pipeline_settings`) at the edges (code location load, CLI, doctor) and passed
down: nothing below reads `os.environ` for these.
"""

from __future__ import annotations

import importlib.metadata
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

CONFIG_FILE = "jh_pipeline.yaml"
CONFIG_ENV = "JH_CONFIG"


class ServerStack(BaseModel):
    """The notebook server env every class image runs Jupyter from (common/server_env)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    python_version: str = Field("3.11", description="Python of the server env (not of the class envs)")
    hub_version: str = Field(
        "6.1", description="JupyterHub series the site runs: jupyterhub-singleuser is pinned to <hub_version>.*"
    )
    jupyterlab: str = "4.6.*"
    notebook: str = "7.6.*"
    nbconvert: str = ">=7.16.5"  # 7.16.4 with mistune 3.4 breaks HTML export
    ipykernel: str = ""  # empty: any version
    repository: str = Field("jupyter-server", description="image repository of the server image in the registry")

    @field_validator("python_version", "hub_version", mode="before")
    @classmethod
    def _as_text(cls, value: object) -> object:
        # YAML reads 3.10 as the float 3.1: refuse rather than guess.
        if isinstance(value, float):
            raise ValueError(f"quote versions in jh_pipeline.yaml ('{value}' was read as a number)")
        return value

    def conda_specs(self) -> list[str]:
        """MatchSpecs of the stack, in the same names on conda-forge and the hermetic channel."""
        pins = {
            "jupyterlab": self.jupyterlab,
            "notebook": self.notebook,
            "jupyterhub-singleuser": f"{self.hub_version}.*",
            "nbconvert": self.nbconvert,
            "ipykernel": self.ipykernel,
        }
        return [f"{name} {pin}".strip() for name, pin in pins.items()]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    server: ServerStack = Field(default_factory=ServerStack)


class SettingsError(ValueError):
    pass


def config_path(repo_root: Path, environ: Mapping[str, str] | None = None) -> Path:
    env = os.environ if environ is None else environ
    return Path(env.get(CONFIG_ENV) or repo_root / CONFIG_FILE)


def load_settings(repo_root: Path, environ: Mapping[str, str] | None = None) -> Settings:
    """The settings file if it exists, else the defaults; errors name the file."""
    env = os.environ if environ is None else environ
    path = config_path(repo_root, env)
    if not path.is_file():
        if env.get(CONFIG_ENV):
            raise SettingsError(f"{path}: {CONFIG_ENV} names a file that does not exist")
        return Settings()
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise SettingsError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise SettingsError(f"{path}: expected a mapping at the top level")
    # Sections other helpers own (e.g. `catalog:`) are read by their own loaders.
    known = {k: v for k, v in data.items() if k in Settings.model_fields}
    try:
        return Settings.model_validate(known)
    except ValueError as exc:
        raise SettingsError(f"{path}: {exc}") from exc


# --- settings from the environment ----------------------------------------------------------------

# Production defaults: the public endpoints. Each has this one home; the Dockerfile gets them as
# build args.
DEFAULT_CHANNEL_ALIAS = "https://conda.anaconda.org"
DEFAULT_PIP_INDEX_URL = "https://pypi.org/simple"
DEFAULT_CRAN_REPO = "https://cloud.r-project.org"
# docker-stacks-foundation by its dated tag; every build pins it to the digest the tag points at.
# JH_BASE_IMAGE=<image>@sha256:... fixes the digest outright.
DEFAULT_BASE_IMAGE = "quay.io/jupyter/docker-stacks-foundation:2024-12-09"
# The Julia of r_julia images and of the julia_env resolve: the official 1.10 LTS tarball for linux
# x86_64 and its sha256 as published by julialang.org.
DEFAULT_JULIA_VERSION = "1.10.10"
DEFAULT_JULIA_URL = (f"https://julialang-s3.julialang.org/bin/linux/x64/1.10/julia-{DEFAULT_JULIA_VERSION}"
                     "-linux-x86_64.tar.gz")
DEFAULT_JULIA_SHA256 = "6a78a03a71c7ab792e8673dc5cedb918e037f081ceb58b50971dfb7c64c5bf81"
# The images install their conda envs with the py-rattler that solved and locked them.
RATTLER_VERSION = importlib.metadata.version("py-rattler")


def _var(var: str, default: Any, help: str = "") -> Any:
    return Field(default, validation_alias=var, description=f"{var}: {help}" if help else var)


class EnvSection(BaseModel):
    """A group of settings read from environment variables (the fields' aliases)."""

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="ignore")

    @classmethod
    def variables(cls) -> dict[str, str]:
        """field -> environment variable."""
        return {name: str(info.validation_alias) for name, info in cls.model_fields.items()}

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> Self:
        return cls.model_validate({var: environ[var] for var in cls.variables().values() if environ.get(var)})

    def from_environment(self) -> dict[str, str]:
        """field -> variable, for the fields whose value came from the environment."""
        return {name: var for name, var in self.variables().items() if name in self.model_fields_set}


class EndpointSettings(EnvSection):
    """Where packages and base images come from."""

    channel_alias: str = _var("JH_CONDA_CHANNEL_ALIAS", DEFAULT_CHANNEL_ALIAS, "base URL of conda channel names")
    channel_map: str = _var("JH_CHANNEL_MAP", "", "`name=url,...` replaces channels by name (mirrors, offline)")
    pip_index_url: str = _var("JH_PIP_INDEX_URL", "", "empty: pip's default index")
    extra_ca_bundle: str = _var("JH_EXTRA_CA_BUNDLE", "", "PEM file trusted during builds and solves")
    base_image: str = _var("JH_BASE_IMAGE", DEFAULT_BASE_IMAGE)
    cran_repo: str = _var("JH_CRAN_REPO", DEFAULT_CRAN_REPO)
    julia_url: str = _var("JH_JULIA_URL", "", "Julia tarball")
    julia_sha256: str = _var("JH_JULIA_SHA256", "")
    julia_image: str = _var("JH_JULIA_IMAGE", "", "image Julia resolves in when no tarball is set")
    julia_pkg_server: str = _var("JULIA_PKG_SERVER", "", "Julia package server (mirrors)")


class StoreSettings(EnvSection):
    """Where env files are published."""

    backend: str = _var("JH_STORE_BACKEND", "local", "local or gcs")
    local_root: str | None = _var("JH_STORE_DIR", None, "default $DAGSTER_HOME/jh_artifacts, else ./.jh_artifacts")
    bucket: str | None = _var("JH_GCS_BUCKET", None, "required for gcs")
    prefix: str = _var("JH_GCS_PREFIX", "", "object name prefix inside the bucket")
    project: str | None = _var("JH_GCS_PROJECT", None, "default: from the credentials")
    timeout: float = _var("JH_STORE_TIMEOUT", 30.0, "seconds one GCS operation may take, retries included")


class DockerSettings(EnvSection):
    """The Docker engine (DOCKER_HOST or the local socket) and the registry images are pushed to."""

    registry: str = _var("JH_REGISTRY", "127.0.0.1:5000", "images are pushed as <registry>/<class>")
    network_mode: str = _var("JH_DOCKER_NETWORK", "host", "network for builds and test containers")
    registry_username: str = _var("JH_REGISTRY_USERNAME", "", "e.g. _json_key for Artifact Registry")
    registry_password_file: str = _var("JH_REGISTRY_PASSWORD_FILE", "", "file holding the password")
    registry_timeout: int = Field(10, ge=1, validation_alias="JH_REGISTRY_TIMEOUT",
                                  description="JH_REGISTRY_TIMEOUT: seconds a registry may take to answer")
    cache_repository: str = _var("JH_CACHE_REPOSITORY", "", "build-cache images as <this>/<class> (default <registry>/jh-cache)")
    cache_keep: int = Field(3, ge=1, validation_alias="JH_CACHE_KEEP",
                            description="JH_CACHE_KEEP: builds per class whose cache tags are kept")
    # production (default: students get only what an operator promoted) or latest (every checked build).
    hub_tag: Literal["production", "latest"] = _var(
        "JH_HUB_TAG", "production", "which pointer hubs run: production or latest")


class LocationSettings(EnvSection):
    """Where the code location finds its inputs, and how it runs them."""

    repo_root: str = _var("JH_REPO_ROOT", "", "default: the checkout this package is in")
    requirements_dir: str = _var("JH_REQUIREMENTS_DIR", "", "default: <repo_root>/requirements")
    executor: str = _var("JH_EXECUTOR", "in_process", "in_process or multiprocess")
    semester_cron: str = _var("JH_SEMESTER_CRON", "0 3 2 1,8 *", "semester rebuild (early January and August)")
    observe_cron: str = _var("JH_OBSERVE_CRON", "*/5 * * * *", "how often requirements folders are hashed")
    timezone: str = _var("JH_TIMEZONE", "UTC", "of the crons")
    sensor_interval: int = Field(60, ge=1, validation_alias="JH_SENSOR_INTERVAL_SECONDS",
                                 description="JH_SENSOR_INTERVAL_SECONDS: how often the sensors are evaluated")


class PipelineSettings(BaseModel):
    """All settings: the site file and the environment, read once and passed down."""

    model_config = ConfigDict(frozen=True)

    site: Settings = Field(default_factory=Settings)
    endpoints: EndpointSettings = Field(default_factory=EndpointSettings)
    store: StoreSettings = Field(default_factory=StoreSettings)
    docker: DockerSettings = Field(default_factory=DockerSettings)
    location: LocationSettings = Field(default_factory=LocationSettings)


def load_pipeline_settings(repo_root: Path, environ: Mapping[str, str] | None = None) -> PipelineSettings:
    env = os.environ if environ is None else environ
    return PipelineSettings(
        site=load_settings(repo_root, env),
        endpoints=EndpointSettings.from_environ(env),
        store=StoreSettings.from_environ(env),
        docker=DockerSettings.from_environ(env),
        location=LocationSettings.from_environ(env),
    )
