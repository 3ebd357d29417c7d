"""What the definitions are built from: the catalog and the content hashes, read once at load time."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jh_pipeline.catalog import Catalog, ClassInputs, ClassSpec, class_inputs, load_catalog
from jh_pipeline.defs.resources import map_channels, parse_channel_map
from jh_pipeline.hashing import env_key, folder_hash, recipe_hash, server_env_key
from jh_pipeline.semester import semester_for
from jh_pipeline.settings import PipelineSettings, Settings, load_settings

if TYPE_CHECKING:
    from jh_pipeline.defs.resources import EndpointsResource
    from jh_pipeline.images.resource import DockerResource
    from jh_pipeline.store import ArtifactStore

REPO_ROOT = Path(__file__).resolve().parents[2]


def repo_root() -> Path:
    """The checkout the code location reads (JH_REPO_ROOT): needed before the settings file is found."""
    return Path(os.environ.get("JH_REPO_ROOT") or REPO_ROOT)


def run_date(context: Any) -> date:
    """The day the run was created: every step of one run files its sets under the same semester,
    also a run that crosses midnight on the last day of a term."""
    record = context.instance.get_run_record_by_id(context.run.run_id)
    return record.create_timestamp.date() if record is not None else date.today()


@dataclass(frozen=True)
class StepResources:
    """The resources a step works with, typed. The asset bodies receive them from Dagster (resource
    parameters), so tests swap them by passing other resources."""

    store: ArtifactStore
    docker: DockerResource
    endpoints: EndpointsResource
    force: bool = False  # run_options.force: re-solve and rebuild even when unchanged

    @property
    def extra_ca_bundle(self) -> Path | None:
        """The CA bundle builds trust besides the system's (JH_EXTRA_CA_BUNDLE), when set."""
        return Path(self.endpoints.extra_ca_bundle) if self.endpoints.extra_ca_bundle else None


# step(context, pipeline context, class, resources) -> what the asset returns (or yields, for the image).
Step = Callable[[Any, "PipelineContext", ClassSpec, StepResources], Any]


# common step(context, pipeline context, resources) -> what the asset returns (or yields).
CommonStep = Callable[[Any, "PipelineContext", StepResources], Any]


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
    # Merged inputs by class: asked for by several assets at load time and again in runs.
    _inputs: dict[str, ClassInputs] = field(default_factory=dict, init=False, repr=False)

    @classmethod
    def from_settings(cls, settings: PipelineSettings) -> PipelineContext:
        location = settings.location
        return cls(
            Path(location.repo_root) if location.repo_root else REPO_ROOT,
            parse_channel_map(settings.endpoints.channel_map),
            requirements=Path(location.requirements_dir) if location.requirements_dir else None,
            settings=settings.site,
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

    def inputs(self, spec: ClassSpec) -> ClassInputs:
        """The class's merged lists, built once (raises for a class without a valid config)."""
        if spec.key not in self._inputs:
            self._inputs[spec.key] = class_inputs(self.catalog.common, spec, self.channels(spec))
        return self._inputs[spec.key]

    def env_key(self, spec: ClassSpec) -> str:
        return env_key(self.inputs(spec))

    def server_channels(self) -> tuple[str, ...]:
        """The server env's channels: conda-forge (after the channel map, like a class's)."""
        return map_channels(("conda-forge",), self.channel_map)

    @cached_property
    def server_env_key(self) -> str:
        return server_env_key(self.catalog.common, self.site.server, self.server_channels())

    def run_semester(self, day: date) -> str:
        """The semester of the shared server env and image: the run's (see run_date)."""
        return semester_for(day)

    def semester(self, spec: ClassSpec, day: date) -> str:
        """The class's semester: its class.yaml's, else the run's (steps pass run_date; the CLI, today)."""
        if spec.config and spec.config.semester:
            return spec.config.semester
        return semester_for(day)

    def class_hash(self, spec: ClassSpec) -> str:
        return folder_hash(spec.folder)

    def common_hash(self) -> str:
        return folder_hash(self.catalog.common.folder)
