"""Per-class assets: requirements (observed) -> conda_env (+ julia_env) -> image (+ checks) -> release.

No `from __future__ import annotations` here: Dagster inspects the context type hints at runtime.
"""


import os
from collections.abc import Iterator, Sequence

import dagster as dg

from jh_pipeline.catalog import ClassSpec
from jh_pipeline.defs.context import PipelineContext

GROUP = "classes"
COMMON_KEY = dg.AssetKey(["common", "requirements"])
# Run tag (and CI variable) that re-solves and rebuilds even when the inputs are unchanged.
FORCE_TAG = "jh/force_resolve"
SMOKE_CHECK = "smoke_tests"
RESOURCES = {"store", "docker", "endpoints"}

# Materialize when inputs changed (observed data versions) or when the content hash moved.
ON_CHANGE = dg.AutomationCondition.eager() | dg.AutomationCondition.code_version_changed()


def forced(context: dg.AssetExecutionContext | dg.OpExecutionContext) -> bool:
    tag = context.run.tags.get(FORCE_TAG, "")
    return tag.lower() in ("1", "true", "yes") or os.environ.get("JH_FORCE_RESOLVE", "").lower() in ("1", "true", "yes")


def class_keys(key: str) -> dict[str, dg.AssetKey]:
    return {name: dg.AssetKey([key, name]) for name in ("requirements", "conda_env", "julia_env", "image", "release")}


def _tags(spec: ClassSpec) -> dict[str, str]:
    assert spec.config is not None
    return {"class": spec.key, "target": spec.config.target.value}


def common_requirements(ctx: PipelineContext, observe_cron: str) -> dg.SourceAsset:
    @dg.observable_source_asset(
        key=COMMON_KEY,
        group_name=GROUP,
        description="The shared lists in requirements/common (data version: hash of the folder).",
        automation_condition=dg.AutomationCondition.cron_tick_passed(observe_cron),
    )
    def _observe() -> dg.DataVersion:
        return dg.DataVersion(ctx.common_hash())

    return _observe


def class_assets(ctx: PipelineContext, spec: ClassSpec, observe_cron: str) -> list[object]:
    assert spec.config is not None, "classes without a valid class.yaml have no assets"
    keys = class_keys(spec.key)
    tags = _tags(spec)
    owners = list(spec.config.owners)
    target = spec.config.target
    title = spec.config.display_name or spec.key

    @dg.observable_source_asset(
        key=keys["requirements"],
        group_name=GROUP,
        tags=tags,
        description=f"{title}: the class folder {spec.folder.name}/ (data version: hash of its files).",
        automation_condition=dg.AutomationCondition.cron_tick_passed(observe_cron),
    )
    def requirements() -> dg.DataVersion:
        return dg.DataVersion(ctx.class_hash(spec))

    env_deps = [keys["requirements"], COMMON_KEY]

    @dg.asset(
        key=keys["conda_env"],
        deps=env_deps,
        group_name=GROUP,
        tags=tags,
        kinds={"conda", "python"},
        owners=owners,
        code_version=ctx.env_key(spec),
        automation_condition=ON_CHANGE,
        required_resource_keys=RESOURCES,
        description=f"{title}: solved conda env + pip lock (environment.yml, explicit lock) in the artifact store.",
    )
    def conda_env(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return ctx.steps.conda_env(context, ctx, spec, forced(context))

    assets: list[object] = [requirements, conda_env]
    image_deps = [keys["conda_env"]]

    if target.uses_julia:

        @dg.asset(
            key=keys["julia_env"],
            deps=env_deps,
            group_name=GROUP,
            tags=tags,
            kinds={"julia"},
            owners=owners,
            code_version=ctx.env_key(spec),
            automation_condition=ON_CHANGE,
            required_resource_keys=RESOURCES,
            description=f"{title}: Julia Project.toml + Manifest.toml resolved from requirements.jl.",
        )
        def julia_env(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
            return ctx.steps.julia_env(context, ctx, spec, forced(context))

        assets.append(julia_env)
        image_deps.append(keys["julia_env"])

    @dg.multi_asset(
        name=f"{spec.key}__image",
        specs=[
            dg.AssetSpec(
                keys["image"],
                deps=image_deps,
                group_name=GROUP,
                tags=tags,
                kinds={"docker"},
                owners=owners,
                code_version=ctx.recipe,
                automation_condition=ON_CHANGE,
                description=f"{title}: the {target} image, built from the lock and pushed by content tag.",
            )
        ],
        check_specs=[
            dg.AssetCheckSpec(
                SMOKE_CHECK,
                asset=keys["image"],
                blocking=True,
                description="Packages import, kernels run a notebook, Jupyter answers, uid 1000, no caches, size budget.",
            )
        ],
        op_tags={"jh/class": spec.key},
        required_resource_keys=RESOURCES,
    )
    def image(context: dg.AssetExecutionContext) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from ctx.steps.image(context, ctx, spec, forced(context))

    @dg.asset(
        key=keys["release"],
        deps=[keys["image"]],
        group_name=GROUP,
        tags=tags,
        kinds={"docker", "gcs"},
        owners=owners,
        automation_condition=dg.AutomationCondition.eager(),
        description=f"{title}: moves :latest, :<semester>, :<git sha> and publishes env files to latest/.",
        required_resource_keys=RESOURCES,
    )
    def release(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
        return ctx.steps.release(context, ctx, spec, forced(context))

    assets += [image, release]
    return assets


def all_class_assets(ctx: PipelineContext, observe_cron: str) -> Sequence[object]:
    assets: list[object] = [common_requirements(ctx, observe_cron)]
    for spec in ctx.catalog.classes.values():
        if spec.config is not None:
            assets += class_assets(ctx, spec, observe_cron)
    return assets
