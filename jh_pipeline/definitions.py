"""The code location: `dagster dev` (workspace.yaml) and `dagster asset materialize -m jh_pipeline.definitions`."""

from __future__ import annotations

import warnings

import dagster as dg

from jh_pipeline.defs.automation import automation_sensor, build_all_job, observe_cron, semester_schedule
from jh_pipeline.defs.class_assets import all_class_assets
from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.resources import resources_from_env


# observable_source_asset and include_sources are "beta"; the warnings would fill every CLI call.
warnings.filterwarnings("ignore", category=dg.BetaWarning)


def build_definitions(ctx: PipelineContext | None = None) -> dg.Definitions:
    """Built at load time from the requirements tree alone: no network call."""
    ctx = ctx or PipelineContext.from_env()
    job = build_all_job()
    return dg.Definitions(
        assets=all_class_assets(ctx, observe_cron()),
        jobs=[job],
        schedules=[semester_schedule(job)],
        sensors=[automation_sensor()],
        resources=resources_from_env(),
    )


defs = build_definitions()
