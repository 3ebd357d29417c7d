"""Shared by the hermetic end-to-end tests: one typed setup, run a class's assets on a fresh instance.

Every e2e module uses the same common lists (E2E_COMMON), so the shared server image is built once
per test session: the first module builds and pushes it, the others find its tag in the session's
registry and skip the build.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.keys import SERVER_ENV_KEY, SERVER_IMAGE_KEY
from jh_pipeline.defs.resources import EndpointsResource, RunOptionsResource
from jh_pipeline.definitions import build_definitions
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.store import LocalStore
from jh_pipeline.defs.resources import ArtifactStoreResource
from tests.catalog.conftest import write_tree
from tests.defs.conftest import copy_inputs
from tests.support.common import HOST_CA

STEPS = ("conda_env", "image", "release")
# The shared lists of every e2e tree: server plugins for the hub test (nbgitpuller; jupyter-server-proxy,
# a server extension with a JupyterLab extension), a package every class env gets too (six), git,
# pandoc and ps in the server image.
E2E_COMMON: Mapping[str, str] = {"requirements.txt": "six\nnbgitpuller\njupyter-server-proxy\n",
                                 "apt.txt": "git\npandoc\nprocps\n"}


@dataclass
class E2E:
    root: Path
    defs: dg.Definitions
    resources: dict[str, Any]
    store: LocalStore
    registry: str


def make_e2e(
    root: Path, classes: Mapping[str, Mapping[str, str]], *, channel_url: str, registry: str, foundation_image: str,
    **endpoints: str,
) -> E2E:
    """A repository with the e2e common lists and `classes`, its definitions and real resources."""
    repo = copy_inputs(root / "repo")
    (repo / "requirements").rename(root / "seeded")  # only the classes given here
    write_tree(repo / "requirements", dict(E2E_COMMON), {k: dict(v) for k, v in classes.items()})
    resources = {
        "store": ArtifactStoreResource(local_root=str(root / "store")),
        "endpoints": EndpointsResource(base_image=foundation_image, extra_ca_bundle=HOST_CA, **endpoints),
        "docker": DockerResource(registry=registry),
        "run_options": RunOptionsResource(),
    }
    defs = build_definitions(PipelineContext(repo, channel_map={"conda-forge": channel_url}))
    return E2E(root, defs, resources, LocalStore(root / "store"), registry)


def run_class(e2e: E2E, cls: str, names: tuple[str, ...] = STEPS) -> dg.ExecuteInProcessResult:
    """Materialize the server env and image (skipped when they exist) and the class's `names`."""
    keys = [SERVER_ENV_KEY, SERVER_IMAGE_KEY, *(dg.AssetKey([cls, name]) for name in names)]
    return dg.materialize(
        list(e2e.defs.assets or []), instance=dg.DagsterInstance.ephemeral(), resources=e2e.resources,
        selection=dg.AssetSelection.assets(*keys), raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    """Metadata of the last materialization of `key` in the run ({} when there was none)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in events[-1].materialization.metadata.items()} if events else {}


def check(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetCheckEvaluation:
    """The one evaluation of the check `name` in the run."""
    [found] = [c for c in result.get_asset_check_evaluations() if c.check_name == name]
    return found
