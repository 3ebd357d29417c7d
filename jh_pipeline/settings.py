"""Site settings from `jh_pipeline.yaml` (repository root, or the file named by JH_CONFIG).

Typed with pydantic; read once per code location load and passed down. Unknown keys are an
error, so a misspelt setting is never silently ignored.
"""

from __future__ import annotations

import os
from pathlib import Path

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


def config_path(repo_root: Path) -> Path:
    return Path(os.environ.get(CONFIG_ENV) or repo_root / CONFIG_FILE)


def load_settings(repo_root: Path) -> Settings:
    """The settings file if it exists, else the defaults; errors name the file."""
    path = config_path(repo_root)
    if not path.is_file():
        if os.environ.get(CONFIG_ENV):
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
