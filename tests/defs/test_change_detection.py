"""Staleness in a long-running instance, and skip-when-exists on a fresh one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import dagster as dg
import pytest
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.definitions.observe import observe
from dagster._core.loader import LoadingContextForTest
from dagster._utils.schedules import cron_string_iterator

from jh_pipeline.defs.keys import SERVER_ENV_KEY, SERVER_IMAGE_KEY
from jh_pipeline.defs.resources import force_run_config
from tests.defs.conftest import Tree

CLASSES = ("apma0365", "neur1630", "php2650")
SERVER = (SERVER_ENV_KEY, SERVER_IMAGE_KEY)


def _observe_and_materialize(defs: dg.Definitions, instance: dg.DagsterInstance, resources: dict[str, Any]) -> None:
    assets = list(defs.assets or [])
    sources = [a for a in assets if isinstance(a, dg.SourceAsset)]
    observe(sources, instance=instance)
    selection = dg.AssetSelection.assets(*[dg.AssetKey([c, n]) for c in CLASSES for n in ("conda_env", "image")])
    selection |= dg.AssetSelection.assets(dg.AssetKey(["php2650", "julia_env"]), *SERVER)
    result = dg.materialize(assets, instance=instance, resources=resources, selection=selection)
    assert result.success


def _stale(defs: dg.Definitions, instance: dg.DagsterInstance) -> set[str]:
    sources = [a for a in defs.assets or [] if isinstance(a, dg.SourceAsset)]
    observe(sources, instance=instance)
    resolver = CachingStaleStatusResolver(instance, defs.resolve_asset_graph(), LoadingContextForTest(instance))
    keys = [dg.AssetKey([c, n]) for c in CLASSES for n in ("conda_env", "image")] + list(SERVER)
    return {k.to_user_string() for k in keys if resolver.get_status(k) == StaleStatus.STALE}


@pytest.fixture
def fresh(tree: Tree, resources: dict[str, Any]) -> tuple[Tree, dg.DagsterInstance]:
    instance = dg.DagsterInstance.ephemeral()
    _observe_and_materialize(tree.defs(), instance, resources)
    assert _stale(tree.defs(), instance) == set()
    return tree, instance


def test_editing_one_class_makes_only_that_class_stale(fresh: tuple[Tree, dg.DagsterInstance]) -> None:
    tree, instance = fresh
    path = tree.root / "requirements/classes/neur1630/requirements.txt"
    path.write_text(path.read_text() + "xarray\n")
    # The image follows once the env is rebuilt (Dagster marks direct causes stale).
    assert _stale(tree.defs(), instance) == {"neur1630/conda_env"}


def test_editing_common_makes_the_server_env_and_every_class_stale(fresh: tuple[Tree, dg.DagsterInstance]) -> None:
    tree, instance = fresh
    path = tree.root / "requirements/common/requirements.txt"
    path.write_text(path.read_text() + "tqdm\n")
    # the server env (then its image, then every class image) and every class env
    assert _stale(tree.defs(), instance) == {f"{c}/conda_env" for c in CLASSES} | {"common/server_env"}


def test_editing_the_server_stack_makes_only_the_server_env_stale(fresh: tuple[Tree, dg.DagsterInstance]) -> None:
    tree, instance = fresh
    (tree.root / "jh_pipeline.yaml").write_text("server:\n  hub_version: '5.3'\n")
    assert _stale(tree.defs(), instance) == {"common/server_env"}


def test_editing_the_dockerfile_makes_images_stale_not_env_files(fresh: tuple[Tree, dg.DagsterInstance]) -> None:
    tree, instance = fresh
    dockerfile = tree.root / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "\n# a change\n")
    assert _stale(tree.defs(), instance) == {f"{c}/image" for c in CLASSES} | {"common/server_image"}


def _requested(defs: dg.Definitions, result: Any) -> set[str]:
    keys = defs.resolve_asset_graph().get_all_asset_keys()
    return {k.to_user_string() for k in keys if result.get_num_requested(k)}


def test_automation_requests_only_the_changed_class(tree: Tree, resources: dict[str, Any]) -> None:
    instance = dg.DagsterInstance.ephemeral()
    _observe_and_materialize(tree.defs(), instance, resources)
    defs = tree.defs()
    selection = dg.AssetSelection.assets(*[dg.AssetKey([c, "conda_env"]) for c in CLASSES])
    first = dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=selection)
    assert _requested(defs, first) == set()

    path = tree.root / "requirements/classes/apma0365/requirements.pip.txt"
    path.write_text(path.read_text() + "tabulate\n")
    defs = tree.defs()
    observe([a for a in defs.assets or [] if isinstance(a, dg.SourceAsset)], instance=instance)
    second = dg.evaluate_automation_conditions(
        defs=defs, instance=instance, asset_selection=selection, cursor=first.cursor
    )
    assert _requested(defs, second) == {"apma0365/conda_env"}


def test_schedule_rebuilds_every_class_forced(tree: Tree) -> None:
    defs = tree.defs()
    schedule = defs.resolve_schedule_def("semester_rebuild_schedule")
    assert schedule.cron_schedule == "0 3 2 1,8 *"
    assert schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    job = defs.resolve_job_def("semester_rebuild")
    assert job.run_config == force_run_config()
    built = {k.to_user_string() for k in job.asset_layer.executable_asset_keys}
    assert "neur1630/conda_env" in built and "php2650/julia_env" in built and "apma0365/release" in built
    assert not any(k.endswith("/requirements") for k in built)

    tick = schedule.evaluate_tick(dg.build_schedule_context(scheduled_execution_time=datetime(2027, 1, 2, 3)))
    assert len(tick.run_requests or []) == 1
    ticks = cron_string_iterator(datetime(2026, 11, 27).timestamp(), schedule.cron_schedule, "UTC")
    assert [next(ticks).strftime("%Y-%m-%d %H:%M") for _ in range(3)] == [
        "2027-01-02 03:00", "2027-08-02 03:00", "2028-01-02 03:00"
    ]
