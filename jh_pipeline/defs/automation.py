"""When classes are (re)built: on change (automation sensors) and every semester (schedule).

Every run these launch carries the run tag `class` (`common` for the shared assets), so that the
deployment's run queue (deploy/dagster.yaml, tag_concurrency_limits on `class`) runs at most one
build of a class at a time. Assets tagged `jh_pipeline/role: production` (promotion steps) are
never launched by them: a person does that.
"""

from __future__ import annotations

import datetime
import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import dagster as dg
from dagster._core.definitions.data_version import DATA_VERSION_TAG
from dagster._core.run_coordinator import QueuedRunCoordinator, SubmitRunContext
from dagster._core.storage.dagster_run import DagsterRun
from dagster._utils.schedules import cron_string_iterator

from jh_pipeline.defs.keys import COMMON_SET, PRODUCTION_ROLE, ROLE_TAG
from jh_pipeline.defs.resources import force_run_config
from jh_pipeline.semester import semester_for
from jh_pipeline.settings import LocationSettings

# Run tags: the class a run builds (the assets' own `class` tag; COMMON_SET for the shared assets)
# and the semester of a semester rebuild.
CLASS_TAG = "class"
SEMESTER_TAG = "jh/semester"
# The crons and the sensor interval are settings (settings.LocationSettings): JH_SEMESTER_CRON
# (early January and early August), JH_OBSERVE_CRON (how often the sensor `classes_on_change` hashes
# the requirements folders), JH_SENSOR_INTERVAL_SECONDS, JH_TIMEZONE.

SCHEDULE_NAME = "semester_rebuild_schedule"
JOB_NAME = "semester_rebuild"
# Observes the requirements folders; `classes_on_change__<class>` (and `__common`) materialize.
OBSERVE_SENSOR = "classes_on_change"
CLASSES_AFTER_COMMON_SENSOR = "semester_rebuild_classes"


def class_sensor_name(key: str) -> str:
    return f"{OBSERVE_SENSOR}__{key}"


@dataclass(frozen=True)
class Targets:
    """What the automation launches, per `class` tag (COMMON_SET for the untagged shared assets)."""

    built: Mapping[str, tuple[dg.AssetKey, ...]]  # materializable assets, production ones left out
    observed: Mapping[str, tuple[dg.AssetKey, ...]] = field(default_factory=dict)  # observable sources

    @property
    def classes(self) -> list[str]:
        return sorted(k for k in self.built if k != COMMON_SET)


def targets_of(assets: Iterable[object]) -> Targets:
    """Group the asset keys by their `class` tag (pure: reads the definitions' specs only)."""
    built: dict[str, list[dg.AssetKey]] = {}
    observed: dict[str, list[dg.AssetKey]] = {}
    for asset in assets:
        if isinstance(asset, dg.SourceAsset):
            if asset.is_observable:
                observed.setdefault(asset.tags.get(CLASS_TAG, COMMON_SET) if asset.tags else COMMON_SET, []).append(asset.key)
            continue
        if not isinstance(asset, dg.AssetsDefinition):
            continue
        for spec in asset.specs:
            tags = spec.tags or {}
            if tags.get(ROLE_TAG) == PRODUCTION_ROLE:
                continue
            group = observed if asset.is_observable and not asset.is_materializable else built
            group.setdefault(tags.get(CLASS_TAG, COMMON_SET), []).append(spec.key)
    return Targets({k: tuple(v) for k, v in built.items()}, {k: tuple(v) for k, v in observed.items()})


def build_all_job() -> dg.UnresolvedAssetJobDefinition:
    # all() leaves out the observable source assets: they are observed, not built. (Groups are per
    # class, nested under classes/, which AssetSelection.groups("classes") would not match.)
    return dg.define_asset_job(
        JOB_NAME,
        selection=dg.AssetSelection.all() - dg.AssetSelection.tag(ROLE_TAG, PRODUCTION_ROLE),
        config=force_run_config(),
        description="Re-solve and rebuild with the newest package versions, then release: the shared "
                    "assets first, then one run per class.",
    )


def semester_request(semester: str, key: str, assets: Sequence[dg.AssetKey]) -> dg.RunRequest:
    """One forced run of one class (or of the shared assets); the run key makes a tick idempotent."""
    return dg.RunRequest(
        run_key=f"{semester}:{key}",
        asset_selection=list(assets),
        tags={CLASS_TAG: key, SEMESTER_TAG: semester},
        run_config=force_run_config(),
    )


def semester_schedule(
    job: dg.UnresolvedAssetJobDefinition, targets: Targets, location: LocationSettings
) -> dg.ScheduleDefinition:
    """The tick requests the shared assets (server env and image) in one run; when it succeeds,
    `classes_after_common` requests one run per class, which then build FROM the new server image.

    A schedule, not AutomationCondition.on_cron: on_cron never fires while observed inputs are unchanged.
    """

    @dg.schedule(
        name=SCHEDULE_NAME,
        job=job,
        cron_schedule=location.semester_cron,
        execution_timezone=location.timezone,
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Semester rebuild (JH_SEMESTER_CRON; default early January and early August): the "
                    "shared assets, then one run per class.",
    )
    def _tick(context: dg.ScheduleEvaluationContext) -> dg.RunRequest:
        when = context.scheduled_execution_time
        semester = semester_for(when.date() if when else datetime.date.today())
        return semester_request(semester, COMMON_SET, targets.built.get(COMMON_SET, ()))

    return _tick


def classes_after_common(
    job: dg.UnresolvedAssetJobDefinition, targets: Targets, location: LocationSettings
) -> dg.SensorDefinition:
    """One run per class once the semester's shared run succeeded (its retries included)."""

    @dg.run_status_sensor(
        name=CLASSES_AFTER_COMMON_SENSOR,
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[job],
        request_job=job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=min(location.sensor_interval, 30),
        description="After the semester rebuild of the shared assets: one forced run per class.",
    )
    def _after(context: dg.RunStatusSensorContext) -> list[dg.RunRequest] | dg.SkipReason:
        tags = context.dagster_run.tags
        if tags.get(CLASS_TAG) != COMMON_SET or SEMESTER_TAG not in tags:
            return dg.SkipReason("not the shared run of a semester rebuild")
        return [semester_request(tags[SEMESTER_TAG], key, targets.built[key]) for key in targets.classes]

    return _after


def cron_passed(cron: str, since: float, now: float, timezone: str) -> bool:
    """True when a tick of `cron` falls in (since, now] (pure)."""
    return next(cron_string_iterator(since, cron, timezone)).timestamp() <= now


def observe_sensor(
    observers: Mapping[dg.AssetKey, Callable[[], str]], location: LocationSettings
) -> dg.SensorDefinition:
    """`classes_on_change`: at each JH_OBSERVE_CRON tick, hashes the requirements folders in the code
    location and records the changed ones as observations (their data versions), without a run (a
    run per observation would be a container start per tick in the deployment). The
    `classes_on_change__<class>` sensors then materialize what changed."""
    cron, timezone = location.observe_cron, location.timezone

    @dg.sensor(
        name=OBSERVE_SENSOR,
        minimum_interval_seconds=location.sensor_interval,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Hashes the requirements folders at each JH_OBSERVE_CRON tick and records the changed "
                    "ones; the classes_on_change__<class> sensors then build what changed.",
    )
    def _observe(context: dg.SensorEvaluationContext) -> dg.SensorResult | dg.SkipReason:
        state: dict[str, Any] = json.loads(context.cursor) if context.cursor else {}
        now = time.time()
        if "at" not in state or not cron_passed(cron, state["at"], now, timezone):
            state.setdefault("at", now)  # the first tick after the sensor started counts, as with cron_tick_passed
            return dg.SensorResult(skip_reason=f"next observation at the next tick of {cron!r}",
                                   cursor=json.dumps(state, sort_keys=True))
        seen: dict[str, str] = state.get("seen", {})
        events = []
        for key, version_of in observers.items():
            try:
                version = version_of()
            except OSError as error:  # a folder removed since the code location loaded
                context.log.warning(f"{key.to_user_string()}: not observed ({error})")
                continue
            if seen.get(key.to_user_string()) != version:
                events.append(dg.AssetObservation(key, tags={DATA_VERSION_TAG: version}))
                seen[key.to_user_string()] = version
        return dg.SensorResult(asset_events=events, cursor=json.dumps({"at": now, "seen": seen}, sort_keys=True))

    return _observe


def automation_sensors(targets: Targets, location: LocationSettings) -> list[dg.AutomationConditionSensorDefinition]:
    """`classes_on_change__<class>` (and `__common` for the server env and image) materializes what
    changed, one run per class: one sensor per class because Dagster gives a sensor's runs fixed tags
    only, and the `class` tag is what the run queue limits. (The observable folders are observed by
    `observe_sensor`, not by these: Dagster lists them under its default automation sensor, stopped.)"""
    return [
        dg.AutomationConditionSensorDefinition(
            class_sensor_name(key),
            target=list(targets.built.get(key, ())),
            run_tags={CLASS_TAG: key},
            default_status=dg.DefaultSensorStatus.RUNNING,
            minimum_interval_seconds=location.sensor_interval,
            description=("The server env and image, when requirements/common or the server stack changed."
                         if key == COMMON_SET else f"Materializes what changed in class {key}."),
        )
        for key in [COMMON_SET, *targets.classes]
    ]


def run_class(keys: Iterable[dg.AssetKey]) -> str | None:
    """The `class` tag of a run, from the asset keys it selects (`<class>/<step>`, `common/<step>`):
    its one class (shared assets besides it or not), COMMON_SET when it builds shared assets only,
    None when it spans several classes (pure)."""
    prefixes = {key.path[0] for key in keys if len(key.path) > 1}
    classes = prefixes - {COMMON_SET}
    if len(classes) == 1:
        return classes.pop()
    return COMMON_SET if prefixes == {COMMON_SET} else None


class ClassQueuedRunCoordinator(QueuedRunCoordinator):
    """The queued run coordinator, which also tags every run that builds one class with `class`
    (deploy/dagster.yaml: module jh_pipeline.defs.automation). Runs from the sensors and the
    schedule carry the tag already; this gives it to runs launched from the UI or the CLI, so the
    queue's one-run-per-class limit holds for them too."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        run = context.dagster_run
        key = run_class(run.asset_selection or ()) if CLASS_TAG not in run.tags else None
        if key is not None:
            self._instance.add_run_tags(run.run_id, {CLASS_TAG: key})
            run = self._instance.get_run_by_id(run.run_id) or run
            context = SubmitRunContext(run, context.workspace)
        return super().submit_run(context)
