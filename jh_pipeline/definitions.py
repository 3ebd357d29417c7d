"""The code location: `dagster dev` (workspace.yaml) and `dagster asset materialize -m jh_pipeline.definitions`."""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable

import dagster as dg

from jh_pipeline.defs.automation import (
    automation_sensors, build_all_job, classes_after_common, observe_sensor, semester_schedule, targets_of,
)
from jh_pipeline.defs.class_assets import all_class_assets
from jh_pipeline.defs.context import PipelineContext, repo_root
from jh_pipeline.defs.keys import COMMON_KEY, class_keys
from jh_pipeline.defs.resources import resources_from_settings
from jh_pipeline.settings import PipelineSettings, load_pipeline_settings


# observable_source_asset and include_sources are "beta"; the warnings would fill every CLI call.
warnings.filterwarnings("ignore", category=dg.BetaWarning)


def executor(name: str) -> dg.ExecutorDefinition:
    """JH_EXECUTOR: `in_process` (default) or `multiprocess`.

    In-process: a run loads the code once, so a CI run over unchanged classes takes seconds; image
    builds happen in the Docker engine anyway. Multiprocess runs steps (solves) side by side.
    """
    executors = {"in_process": dg.in_process_executor, "multiprocess": dg.multiprocess_executor}
    if name not in executors:
        raise ValueError(f"JH_EXECUTOR={name!r}: use one of {', '.join(executors)}")
    return executors[name]


def observers(ctx: PipelineContext) -> dict[dg.AssetKey, Callable[[], str]]:
    """The data version of each observable requirements folder, computed afresh at each call."""
    found: dict[dg.AssetKey, Callable[[], str]] = {COMMON_KEY: ctx.common_hash}
    for spec in ctx.catalog.classes.values():
        found[class_keys(spec.key)["requirements"]] = functools.partial(ctx.class_hash, spec)
    return found


def build_definitions(ctx: PipelineContext | None = None, settings: PipelineSettings | None = None) -> dg.Definitions:
    """Built at load time from the requirements tree and the settings alone: no network call."""
    settings = settings or load_pipeline_settings(repo_root())
    ctx = ctx or PipelineContext.from_settings(settings)
    location = settings.location
    assets = all_class_assets(ctx, location.observe_cron)
    targets = targets_of(assets)
    job = build_all_job()
    return dg.Definitions(
        assets=assets,
        jobs=[job],
        schedules=[semester_schedule(job, targets, location)],
        sensors=[
            observe_sensor(observers(ctx), location), *automation_sensors(targets, location),
            classes_after_common(job, targets, location),
        ],
        resources=resources_from_settings(settings),
        executor=executor(settings.location.executor),
    )


defs = build_definitions()
