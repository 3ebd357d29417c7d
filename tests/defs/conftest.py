"""A copy of the repository inputs in tmp_path, and definitions built from it.

The asset bodies are replaced by small steps that return the content hashes the real ones would:
these tests are about the graph, change detection and automation, not about solving or building.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from jh_pipeline.defs.keys import SERVER_CHECK, SMOKE_CHECK
from jh_pipeline.defs.context import ClassSteps, PipelineContext, StepResources
from jh_pipeline.defs.resources import EndpointsResource, RunOptionsResource
from jh_pipeline.definitions import build_definitions
from jh_pipeline.hashing import IMAGE_RECIPE_PATHS
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.defs.resources import ArtifactStoreResource

REPO = Path(__file__).resolve().parents[2]


@dataclass
class RecordingSteps:
    """Records which class bodies ran; returns the content hashes as data versions."""

    calls: list[str] = field(default_factory=list)

    def conda_env(self, context: Any, ctx: PipelineContext, spec: Any, res: StepResources) -> dg.MaterializeResult:
        self.calls.append(f"{spec.key}/conda_env")
        return dg.MaterializeResult(data_version=dg.DataVersion(ctx.env_key(spec)))

    def julia_env(self, context: Any, ctx: PipelineContext, spec: Any, res: StepResources) -> dg.MaterializeResult:
        self.calls.append(f"{spec.key}/julia_env")
        return dg.MaterializeResult(data_version=dg.DataVersion(ctx.env_key(spec)))

    def image(self, context: Any, ctx: PipelineContext, spec: Any, res: StepResources) -> Iterator[Any]:
        self.calls.append(f"{spec.key}/image")
        yield dg.MaterializeResult(data_version=dg.DataVersion(ctx.recipe + ctx.env_key(spec)))
        yield dg.AssetCheckResult(check_name=SMOKE_CHECK, passed=True)

    def release(self, context: Any, ctx: PipelineContext, spec: Any, res: StepResources) -> dg.MaterializeResult:
        self.calls.append(f"{spec.key}/release")
        return dg.MaterializeResult()

    def server_env(self, context: Any, ctx: PipelineContext, res: StepResources) -> dg.MaterializeResult:
        self.calls.append("common/server_env")
        return dg.MaterializeResult(data_version=dg.DataVersion(ctx.server_env_key))

    def server_image(self, context: Any, ctx: PipelineContext, res: StepResources) -> Iterator[Any]:
        self.calls.append("common/server_image")
        yield dg.MaterializeResult(data_version=dg.DataVersion(ctx.recipe + ctx.server_env_key))
        yield dg.AssetCheckResult(check_name=SERVER_CHECK, passed=True)

    def as_steps(self) -> ClassSteps:
        return ClassSteps(self.conda_env, self.julia_env, self.image, self.release, self.server_env, self.server_image)


def copy_inputs(dest: Path) -> Path:
    shutil.copytree(REPO / "requirements", dest / "requirements")
    for rel in IMAGE_RECIPE_PATHS:
        source = REPO / rel
        if source.is_dir():
            shutil.copytree(source, dest / rel)
        elif source.is_file():
            shutil.copy2(source, dest / rel)
    return dest


@dataclass
class Tree:
    root: Path
    steps: RecordingSteps

    def defs(self) -> dg.Definitions:
        # A new context each time, as a reloaded code location would see the files.
        return build_definitions(PipelineContext(self.root, steps=self.steps.as_steps()))


@pytest.fixture
def tree(tmp_path: Path) -> Tree:
    return Tree(copy_inputs(tmp_path / "repo"), RecordingSteps())


@pytest.fixture
def resources(tmp_path: Path) -> dict[str, Any]:
    return {
        "store": ArtifactStoreResource(local_root=str(tmp_path / "store")),
        "endpoints": EndpointsResource(),
        "docker": DockerResource(),
        "run_options": RunOptionsResource(),
    }
