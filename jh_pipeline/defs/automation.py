"""When classes are (re)built: on change (automation sensor) and every semester (schedule)."""

from __future__ import annotations

import os

import dagster as dg

from jh_pipeline.defs.keys import FORCE_TAG

# Early January and early August: before spring and fall terms. Override with JH_SEMESTER_CRON.
DEFAULT_SEMESTER_CRON = "0 3 2 1,8 *"
# How often the requirements folders are hashed (observed) in a long-running deployment.
DEFAULT_OBSERVE_CRON = "*/5 * * * *"


def semester_cron() -> str:
    return os.environ.get("JH_SEMESTER_CRON") or DEFAULT_SEMESTER_CRON


def observe_cron() -> str:
    return os.environ.get("JH_OBSERVE_CRON") or DEFAULT_OBSERVE_CRON


def build_all_job() -> dg.UnresolvedAssetJobDefinition:
    # all() leaves out the observable source assets: they are observed, not built. (Groups are per
    # class, nested under classes/, which AssetSelection.groups("classes") would not match.)
    return dg.define_asset_job(
        "semester_rebuild",
        selection=dg.AssetSelection.all(),
        tags={FORCE_TAG: "true"},
        description="Re-solve and rebuild every class with the newest package versions, then release.",
    )


def semester_schedule(job: dg.UnresolvedAssetJobDefinition) -> dg.ScheduleDefinition:
    # A schedule, not AutomationCondition.on_cron: on_cron never fires while observed inputs are unchanged.
    return dg.ScheduleDefinition(
        name="semester_rebuild_schedule",
        job=job,
        cron_schedule=semester_cron(),
        execution_timezone=os.environ.get("JH_TIMEZONE", "UTC"),
        default_status=dg.DefaultScheduleStatus.RUNNING,
        description="Semester rebuild (JH_SEMESTER_CRON; default early January and early August).",
    )


def automation_sensor() -> dg.AutomationConditionSensorDefinition:
    return dg.AutomationConditionSensorDefinition(
        "classes_on_change",
        target=dg.AssetSelection.all(include_sources=True),
        default_status=dg.DefaultSensorStatus.RUNNING,
        minimum_interval_seconds=60,
        description="Observes requirements folders and materializes only the classes whose inputs changed.",
    )
