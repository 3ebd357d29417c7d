"""What the deployment's daemon launches (jh_pipeline/defs/automation.py), evaluated in-process on a
real instance: the observing sensor, the per-class automation sensors, the semester schedule and the
per-class runs after it, the production-tag exclusion and the coordinator's class tag.

tests/deploy/test_deployment.py shows the same with the real daemon, queue and run containers.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import dagster as dg
import pytest
from dagster._core.events import DagsterEvent, DagsterEventType
from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
from dagster._core.run_coordinator import SubmitRunContext
from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

from jh_pipeline.defs.automation import (
    CLASS_TAG, SEMESTER_TAG, ClassQueuedRunCoordinator, class_sensor_name, cron_passed, run_class, targets_of,
)
from jh_pipeline.defs.resources import force_run_config
from jh_pipeline.defs.keys import COMMON_SET, PRODUCTION_ROLE, ROLE_TAG, SERVER_ENV_KEY, SERVER_IMAGE_KEY
from tests.defs.conftest import Tree

CLASSES = ("apma0365", "biol1435", "ccv_bootcamp", "eeps1430", "mpa2065", "neur1630", "php1560", "php2560",
           "php2650", "php2691")


def _due(cursor: str | None) -> str:
    """The sensor's cursor as if its last observation were before the last JH_OBSERVE_CRON tick."""
    return json.dumps({**json.loads(cursor or "{}"), "at": 0})


def _keys(result: Any, defs: dg.Definitions) -> set[str]:
    graph = defs.resolve_asset_graph()
    return {k.to_user_string() for k in graph.get_all_asset_keys() if result.get_num_requested(k)}


def _requested_by(defs: dg.Definitions, instance: dg.DagsterInstance, sensor: str, cursor: Any = None) -> Any:
    target = defs.resolve_sensor_def(sensor).asset_selection
    return dg.evaluate_automation_conditions(defs=defs, instance=instance, asset_selection=target, cursor=cursor)


def test_the_observing_sensor_records_changed_folders_and_only_that_class_is_requested(
    tree: Tree, resources: dict[str, Any],
) -> None:
    instance = dg.DagsterInstance.ephemeral()
    defs = tree.defs()
    sensor = defs.resolve_sensor_def("classes_on_change")
    # The first evaluation only notes the time: folders are hashed from the next JH_OBSERVE_CRON tick on.
    start = sensor(dg.build_sensor_context(instance=instance))
    assert start.asset_events == [] and start.skip_reason is not None
    assert sensor(dg.build_sensor_context(instance=instance, cursor=start.cursor)).asset_events == []
    first = sensor(dg.build_sensor_context(instance=instance, cursor=_due(start.cursor)))
    assert {e.asset_key.to_user_string() for e in first.asset_events} == {
        "common/requirements", *(f"{c}/requirements" for c in CLASSES)}
    for event in first.asset_events:
        instance.report_runless_asset_event(event)
    # Built once (as a deployment would have), then nothing is requested.
    assets = list(defs.assets or [])
    built = targets_of(assets).built
    result = dg.materialize(assets, instance=instance, resources=resources,
                            selection=dg.AssetSelection.assets(*[k for keys in built.values() for k in keys]))
    assert result.success
    cursors = {name: _requested_by(defs, instance, class_sensor_name(name)) for name in ("apma0365", "neur1630")}
    assert sensor(dg.build_sensor_context(instance=instance, cursor=_due(first.cursor))).asset_events == []

    path = tree.root / "requirements/classes/apma0365/requirements.pip.txt"
    path.write_text(path.read_text() + "tabulate\n")
    second = sensor(dg.build_sensor_context(instance=instance, cursor=_due(first.cursor)))
    assert [e.asset_key.to_user_string() for e in second.asset_events] == ["apma0365/requirements"]
    for event in second.asset_events:
        instance.report_runless_asset_event(event)
    defs = tree.defs()
    changed = _requested_by(defs, instance, class_sensor_name("apma0365"), cursors["apma0365"].cursor)
    # The env and what follows from it, in one run (eager: parents requested in the same tick).
    assert _keys(changed, defs) == {"apma0365/conda_env", "apma0365/image", "apma0365/release"}
    other = _requested_by(defs, instance, class_sensor_name("neur1630"), cursors["neur1630"].cursor)
    assert _keys(other, defs) == set()
    # Its runs carry the class tag the run queue limits.
    assert defs.resolve_sensor_def(class_sensor_name("apma0365")).run_tags == {CLASS_TAG: "apma0365"}


def test_every_automated_asset_has_one_sensor_and_no_production_asset_has_any(tree: Tree) -> None:
    defs = tree.defs()
    graph = defs.resolve_asset_graph()
    targeted: list[dg.AssetKey] = []
    for name in [class_sensor_name(COMMON_SET), *(class_sensor_name(c) for c in CLASSES)]:
        targeted += list(defs.resolve_sensor_def(name).asset_selection.resolve(graph))
    assert len(targeted) == len(set(targeted))
    materializable = {k for k in graph.get_all_asset_keys() if graph.get(k).is_materializable}
    production = {k for k in materializable if graph.get(k).tags.get(ROLE_TAG) == PRODUCTION_ROLE}
    assert production == {dg.AssetKey([c, "production"]) for c in CLASSES}
    assert set(targeted) == materializable - production
    assert {k for k in targeted if k.path[0] == COMMON_SET} == {SERVER_ENV_KEY, SERVER_IMAGE_KEY}


def test_production_assets_are_left_out_of_the_schedule_and_the_sensors() -> None:
    @dg.asset(key=["demo", "conda_env"], tags={CLASS_TAG: "demo"})
    def env() -> None: ...

    @dg.asset(key=["demo", "promote"], deps=[env], tags={CLASS_TAG: "demo", "jh_pipeline/role": "production"})
    def promote() -> None: ...

    @dg.asset(key=["common", "server_env"])
    def server() -> None: ...

    targets = targets_of([env, promote, server])
    assert targets.built == {"demo": (dg.AssetKey(["demo", "conda_env"]),), COMMON_SET: (SERVER_ENV_KEY,)}
    assert targets.classes == ["demo"]
    from jh_pipeline.defs.automation import build_all_job

    defs = dg.Definitions(assets=[env, promote, server], jobs=[build_all_job()])
    job = defs.resolve_job_def("semester_rebuild")
    assert dg.AssetKey(["demo", "promote"]) not in job.asset_layer.executable_asset_keys
    assert dg.AssetKey(["demo", "conda_env"]) in job.asset_layer.executable_asset_keys


def test_a_semester_tick_is_the_shared_run_then_one_run_per_class(tree: Tree) -> None:
    defs = tree.defs()
    tick = defs.resolve_schedule_def("semester_rebuild_schedule").evaluate_tick(
        dg.build_schedule_context(scheduled_execution_time=datetime(2027, 1, 2, 3)))
    [common] = tick.run_requests or []
    assert common.run_key == "spring-2027:common"
    assert set(common.asset_selection or []) == {SERVER_ENV_KEY, SERVER_IMAGE_KEY}
    assert common.tags[CLASS_TAG] == COMMON_SET and common.run_config == force_run_config()
    assert common.tags[SEMESTER_TAG] == "spring-2027"

    instance = dg.DagsterInstance.ephemeral()
    sensor = defs.resolve_sensor_def("semester_rebuild_classes")
    job = defs.resolve_job_def("semester_rebuild")

    def after(tags: dict[str, str]) -> Any:
        run = instance.create_run_for_job(job, tags=tags, status=dg.DagsterRunStatus.SUCCESS)
        event = DagsterEvent(DagsterEventType.RUN_SUCCESS.value, job_name=job.name)
        context = dg.build_run_status_sensor_context(sensor_name=sensor.name, dagster_event=event,
                                                     dagster_instance=instance, dagster_run=run)
        return sensor(context)

    requests = after(dict(common.tags))
    assert sorted(r.tags[CLASS_TAG] for r in requests) == sorted(CLASSES)
    for request in requests:
        key = request.tags[CLASS_TAG]
        assert request.run_key == f"spring-2027:{key}"
        assert request.run_config == force_run_config() and request.tags[SEMESTER_TAG] == "spring-2027"
        assert {k.path[0] for k in request.asset_selection or []} == {key}
        assert dg.AssetKey([key, "release"]) in (request.asset_selection or [])
        assert dg.AssetKey([key, "requirements"]) not in (request.asset_selection or [])
    assert dg.AssetKey(["php2650", "julia_env"]) in next(r.asset_selection for r in requests
                                                         if r.tags[CLASS_TAG] == "php2650")
    # A class run's success (or any other run's) requests nothing more.
    assert isinstance(after({CLASS_TAG: "php2650", SEMESTER_TAG: "spring-2027"}), dg.SkipReason)
    assert isinstance(after({CLASS_TAG: COMMON_SET}), dg.SkipReason)


def test_cron_passed() -> None:
    start = datetime(2026, 11, 29, 9, 0, 30).timestamp()
    assert not cron_passed("* * * * *", start, start + 20, "UTC")
    assert cron_passed("* * * * *", start, start + 30, "UTC")
    assert not cron_passed("0 0 1 1 *", start, start + 86400, "UTC")


@pytest.mark.parametrize(("keys", "expected"), [
    ([["demo", "conda_env"], ["demo", "image"]], "demo"),
    ([["common", "server_env"], ["demo", "image"]], "demo"),
    ([["common", "server_env"], ["common", "server_image"]], "common"),
    ([["a", "image"], ["b", "image"]], None),
    ([], None),
])
def test_run_class(keys: list[list[str]], expected: str | None) -> None:
    assert run_class([dg.AssetKey(k) for k in keys]) == expected


# Where a queued run says its job comes from (never loaded here).
ORIGIN = RemoteJobOrigin(RemoteRepositoryOrigin(
    InProcessCodeLocationOrigin(LoadableTargetOrigin(python_file=__file__)), "__repository__"), "__ASSET_JOB")


def test_the_coordinator_tags_a_ui_run_of_one_class() -> None:
    with dg.instance_for_test(overrides={"run_coordinator": {
            "module": "jh_pipeline.defs.automation", "class": "ClassQueuedRunCoordinator",
            "config": {"max_concurrent_runs": 1}}}) as instance:
        assert isinstance(instance.run_coordinator, ClassQueuedRunCoordinator)
        one = instance.create_run_for_job(_job(), asset_selection={dg.AssetKey(["demo", "image"])},
                                          remote_job_origin=ORIGIN)
        tagged = instance.run_coordinator.submit_run(SubmitRunContext(one, workspace=None))  # type: ignore[arg-type]
        assert tagged.tags[CLASS_TAG] == "demo" and tagged.status == dg.DagsterRunStatus.QUEUED
        given = instance.create_run_for_job(_job(), tags={CLASS_TAG: "other"}, remote_job_origin=ORIGIN,
                                            asset_selection={dg.AssetKey(["demo", "image"])})
        kept = instance.run_coordinator.submit_run(SubmitRunContext(given, workspace=None))  # type: ignore[arg-type]
        assert kept.tags[CLASS_TAG] == "other"


def _job() -> dg.JobDefinition:
    @dg.asset(key=["demo", "image"])
    def image() -> None: ...

    return dg.Definitions(assets=[image]).resolve_implicit_global_asset_job_def()
