"""The code location: `dagster dev` (workspace.yaml) and `dagster asset materialize -m jh_pipeline.definitions`."""

from __future__ import annotations

import os
import warnings

import dagster as dg

from jh_pipeline.defs.automation import automation_sensor, build_all_job, observe_cron, semester_schedule
from jh_pipeline.defs.class_assets import all_class_assets
from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.resources import resources_from_env


# observable_source_asset and include_sources are "beta"; the warnings would fill every CLI call.
warnings.filterwarnings("ignore", category=dg.BetaWarning)


def executor_from_env() -> dg.ExecutorDefinition:
    """JH_EXECUTOR: `in_process` (default) or `multiprocess`.

    In-process: a run loads the code once, so a CI run over unchanged classes takes seconds; image
    builds happen in the Docker engine anyway. Multiprocess runs steps (solves) side by side.
    """
    name = os.environ.get("JH_EXECUTOR", "in_process")
    executors = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}
    if name not in executors:
        raise ValueError(f"JH_EXECUTOR={name!r}: use one of {', '.join(executors)}")
    return executors[name]


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
        executor=executor_from_env(),
    )


defs = build_definitions()
