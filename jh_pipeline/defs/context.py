"""What the definitions are built from: the catalog and the content hashes, read once at load time."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import Any

from jh_pipeline.catalog import Catalog, ClassSpec, load_catalog
from jh_pipeline.defs.resources import map_channels, parse_channel_map
from jh_pipeline.hashing import env_key, folder_hash, recipe_hash, server_env_key
from jh_pipeline.semester import semester_for
from jh_pipeline.settings import Settings, load_settings

REPO_ROOT = Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    return Path(os.environ.get("JH_REPO_ROOT") or REPO_ROOT)


# step(context, pipeline context, class, force) -> what the asset returns (or yields, for the image).
Step = Callable[[Any, "PipelineContext", ClassSpec, bool], Any]


# common step(context, pipeline context, force) -> what the asset returns (or yields).
CommonStep = Callable[[Any, "PipelineContext", bool], Any]


@dataclass(frozen=True)
class ClassSteps:
    """The bodies of the assets, as plain functions (jh_pipeline.defs.steps holds the real ones;
    tests pass their own). Declared here so that the step modules never import the asset code."""

    conda_env: Step
    julia_env: Step
    image: Step
    release: Step
    server_env: CommonStep
    server_image: CommonStep


@dataclass
class PipelineContext:
    """The repository as the code location sees it."""

    root: Path
    channel_map: dict[str, str] = field(default_factory=dict)
    steps: ClassSteps | None = None  # None: the real bodies (jh_pipeline.defs.steps)
    requirements: Path | None = None  # default: root/requirements
    settings: Settings | None = None  # default: jh_pipeline.yaml at root (or JH_CONFIG)
    # Env keys by class: asked for by several assets at load time and again in runs.
    _env_keys: dict[str, str] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_env(cls) -> PipelineContext:
        requirements = os.environ.get("JH_REQUIREMENTS_DIR")
        return cls(
            repo_root(), parse_channel_map(os.environ.get("JH_CHANNEL_MAP", "")),
            requirements=Path(requirements) if requirements else None,
        )

    @cached_property
    def catalog(self) -> Catalog:
        return load_catalog(self.requirements or self.root / "requirements")

    @cached_property
    def site(self) -> Settings:
        return self.settings or load_settings(self.root)

    @cached_property
    def recipe(self) -> str:
        return recipe_hash(self.root)

    def channels(self, spec: ClassSpec) -> tuple[str, ...]:
        return map_channels(spec.channels, self.channel_map)

    def env_key(self, spec: ClassSpec) -> str:
        if spec.key not in self._env_keys:
            self._env_keys[spec.key] = env_key(self.catalog.common, spec, self.channels(spec))
        return self._env_keys[spec.key]

    def server_channels(self) -> tuple[str, ...]:
        """The server env's channels: conda-forge (after the channel map, like a class's)."""
        return map_channels(("conda-forge",), self.channel_map)

    @cached_property
    def server_env_key(self) -> str:
        return server_env_key(self.catalog.common, self.site.server, self.server_channels())

    def run_semester(self, today: date | None = None) -> str:
        """The semester of the shared server env and image: the date's."""
        return semester_for(today or date.today())

    def semester(self, spec: ClassSpec, today: date | None = None) -> str:
        if spec.config and spec.config.semester:
            return spec.config.semester
        return semester_for(today or date.today())

    def class_hash(self, spec: ClassSpec) -> str:
        return folder_hash(spec.folder)

    def common_hash(self) -> str:
        return folder_hash(self.catalog.common.folder)
