"""Per-class assets: requirements (observed) -> conda_env (+ julia_env) -> image (+ checks) -> release.

No `from __future__ import annotations` here: Dagster inspects the context type hints at runtime.
"""


import logging
from collections.abc import Iterator, Sequence

import dagster as dg

from jh_pipeline.catalog import ClassSpec
from jh_pipeline.defs.context import ClassSteps, PipelineContext, StepResources
from jh_pipeline.defs.resources import ArtifactStoreResource, EndpointsResource, RunOptionsResource
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.defs.env_steps import refuse_invalid
from jh_pipeline.defs.steps import DEFAULT_STEPS, PRODUCTION_STEP, PointerMoveConfig
from jh_pipeline.defs.keys import (
    COMMON_GROUP, COMMON_KEY, PRODUCTION_ROLE, ROLE_TAG, SERVER_CHECK, SERVER_ENV_KEY,
    SERVER_IMAGE_KEY, SMOKE_CHECK, class_group, class_keys,
)

log = logging.getLogger("jh_pipeline")


def steps(ctx: PipelineContext) -> ClassSteps:
    return ctx.steps or DEFAULT_STEPS

# Materialize when inputs changed (observed data versions) or when the content hash moved.
ON_CHANGE = dg.AutomationCondition.eager() | dg.AutomationCondition.code_version_changed()


def step_resources(
    store: ArtifactStoreResource, docker: DockerResource, endpoints: EndpointsResource, run_options: RunOptionsResource
) -> StepResources:
    """What the asset bodies were given, for the steps (force: the run's `run_options.force`)."""
    return StepResources(store.get_store(), docker, endpoints, run_options.force)


def _tags(spec: ClassSpec) -> dict[str, str]:
    assert spec.config is not None
    return {"class": spec.key, "target": spec.config.target.value}


def common_requirements(ctx: PipelineContext, observe_cron: str) -> dg.SourceAsset:
    @dg.observable_source_asset(
        key=COMMON_KEY,
        group_name=COMMON_GROUP,
        description="The shared lists in requirements/common (data version: hash of the folder).",
        automation_condition=dg.AutomationCondition.cron_tick_passed(observe_cron),
    )
    def _observe() -> dg.DataVersion:
        return dg.DataVersion(ctx.common_hash())

    return _observe


def server_assets(ctx: PipelineContext) -> list[object]:
    """The notebook server env and the shared server image every class image builds FROM."""

    @dg.asset(
        key=SERVER_ENV_KEY,
        deps=[COMMON_KEY],
        kinds={"conda", "python"},
        code_version=ctx.server_env_key,
        automation_condition=ON_CHANGE,
        description="The notebook server env (jh_pipeline.yaml `server:` + requirements/common), solved and locked.",
    )
    def server_env(
        context: dg.AssetExecutionContext, store: ArtifactStoreResource, docker: DockerResource,
        endpoints: EndpointsResource, run_options: RunOptionsResource,
    ) -> dg.MaterializeResult:
        return steps(ctx).server_env(context, ctx, step_resources(store, docker, endpoints, run_options))

    @dg.multi_asset(
        name="common__server_image",
        specs=[
            dg.AssetSpec(
                SERVER_IMAGE_KEY,
                deps=[SERVER_ENV_KEY],
                kinds={"docker"},
                code_version=ctx.recipe,
                automation_condition=ON_CHANGE,
                description="The shared server image (foundation + common apt + server env), pushed by content tag.",
            )
        ],
        check_specs=[
            dg.AssetCheckSpec(
                SERVER_CHECK,
                asset=SERVER_IMAGE_KEY,
                blocking=True,
                description="Common server/lab extensions enabled, JupyterLab and hub versions, git, HTML/PDF export.",
            )
        ],
    )
    def server_image(
        context: dg.AssetExecutionContext, store: ArtifactStoreResource, docker: DockerResource,
        endpoints: EndpointsResource, run_options: RunOptionsResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from steps(ctx).server_image(context, ctx, step_resources(store, docker, endpoints, run_options))

    return list(dg.map_asset_specs(lambda a: a.replace_attributes(group_name=COMMON_GROUP), [server_env, server_image]))


def class_assets(ctx: PipelineContext, spec: ClassSpec, observe_cron: str) -> list[object]:
    assert spec.config is not None, "classes without a valid class.yaml have no assets"
    keys = class_keys(spec.key)
    tags = _tags(spec)
    group = class_group(spec.key)
    owners = list(spec.config.owners)
    target = spec.config.target
    title = spec.config.display_name or spec.key

    @dg.observable_source_asset(
        key=keys["requirements"],
        group_name=group,
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
        kinds={"conda", "python"},
        code_version=ctx.env_key(spec),
        automation_condition=ON_CHANGE,
        description=f"{title}: solved conda env + pip lock (environment.yml, explicit lock) in the artifact store.",
    )
    def conda_env(
        context: dg.AssetExecutionContext, store: ArtifactStoreResource, docker: DockerResource,
        endpoints: EndpointsResource, run_options: RunOptionsResource,
    ) -> dg.MaterializeResult:
        return steps(ctx).conda_env(context, ctx, spec, step_resources(store, docker, endpoints, run_options))

    assets: list[object] = [requirements, conda_env]
    image_deps = [keys["conda_env"], SERVER_IMAGE_KEY]

    if target.uses_julia:

        @dg.asset(
            key=keys["julia_env"],
            deps=env_deps,
            kinds={"julia"},
            code_version=ctx.env_key(spec),
            automation_condition=ON_CHANGE,
            description=f"{title}: Julia Project.toml + Manifest.toml resolved from requirements.jl.",
        )
        def julia_env(
            context: dg.AssetExecutionContext, store: ArtifactStoreResource, docker: DockerResource,
            endpoints: EndpointsResource, run_options: RunOptionsResource,
        ) -> dg.MaterializeResult:
            return steps(ctx).julia_env(context, ctx, spec, step_resources(store, docker, endpoints, run_options))

        assets.append(julia_env)
        image_deps.append(keys["julia_env"])

    @dg.multi_asset(
        name=f"{spec.key}__image",
        specs=[
            dg.AssetSpec(
                keys["image"],
                deps=image_deps,
                kinds={"docker"},
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
                description="Default kernel is the class env and imports its packages, terminal python/pip, Jupyter answers, uid 1000, no caches, size budget.",
            )
        ],
        op_tags={"jh/class": spec.key},
    )
    def image(
        context: dg.AssetExecutionContext, store: ArtifactStoreResource, docker: DockerResource,
        endpoints: EndpointsResource, run_options: RunOptionsResource,
    ) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
        yield from steps(ctx).image(context, ctx, spec, step_resources(store, docker, endpoints, run_options))

    @dg.asset(
        key=keys["release"],
        deps=[keys["image"]],
        kinds={"docker", "gcs"},
        automation_condition=dg.AutomationCondition.eager(),
        description=f"{title}: publishes past/<image tag>/, moves :latest, :<semester>, :<git sha> and latest/.",
    )
    def release(
        context: dg.AssetExecutionContext, store: ArtifactStoreResource, docker: DockerResource,
        endpoints: EndpointsResource, run_options: RunOptionsResource,
    ) -> dg.MaterializeResult:
        return steps(ctx).release(context, ctx, spec, step_resources(store, docker, endpoints, run_options))

    # No automation condition, and a role tag the schedule and sensor exclude: production moves only
    # when an operator promotes or rolls back (jh-pipeline promote/rollback, or the UI's launchpad).
    @dg.asset(
        key=keys["production"],
        deps=[keys["release"]],
        tags={ROLE_TAG: PRODUCTION_ROLE},
        kinds={"docker"},
        output_required=False,
        description=f"{title}: the image hubs run in production (:production, production/); run config "
                    "action=promote|rollback, target=<tag or set> (default: latest / the previous production).",
    )
    def production(
        context: dg.AssetExecutionContext, config: PointerMoveConfig, store: ArtifactStoreResource,
        docker: DockerResource, endpoints: EndpointsResource, run_options: RunOptionsResource,
    ) -> Iterator[dg.MaterializeResult]:
        yield from PRODUCTION_STEP(context, ctx, spec, config, step_resources(store, docker, endpoints, run_options))

    assets += [image, release, production]
    # Group, owners and tags once for every asset of the class (the observed folder has its own above:
    # map_asset_specs does not take source assets).
    return [requirements, *dg.map_asset_specs(
        lambda a: a.replace_attributes(group_name=group, owners=owners).merge_attributes(tags=tags), assets[1:]
    )]


def broken_class_assets(ctx: PipelineContext, spec: ClassSpec, observe_cron: str) -> list[object]:
    """A class whose class.yaml is unusable still shows, as its folder and an env step that names the errors."""
    keys = class_keys(spec.key)
    tags = {"class": spec.key}

    @dg.observable_source_asset(
        key=keys["requirements"], group_name=class_group(spec.key), tags=tags,
        description=f"{spec.key}: the class folder {spec.folder.name}/ (it has errors: run jh-pipeline validate).",
        automation_condition=dg.AutomationCondition.cron_tick_passed(observe_cron),
    )
    def requirements() -> dg.DataVersion:
        return dg.DataVersion(ctx.class_hash(spec))

    @dg.asset(
        key=keys["conda_env"], deps=[keys["requirements"]], group_name=class_group(spec.key), tags=tags,
        description=f"{spec.key}: has errors; fix them (jh-pipeline validate), then its image assets appear.",
    )
    def conda_env() -> dg.MaterializeResult:
        refuse_invalid(ctx, spec)
        raise dg.Failure(description=f"class {spec.key} has errors; run jh-pipeline validate")

    return [requirements, conda_env]


def all_class_assets(ctx: PipelineContext, observe_cron: str) -> Sequence[object]:
    assets: list[object] = [common_requirements(ctx, observe_cron), *server_assets(ctx)]
    for spec in ctx.catalog.classes.values():
        if spec.config is not None:
            assets += class_assets(ctx, spec, observe_cron)
        else:
            log.warning("class %s has errors and no usable class.yaml; run jh-pipeline validate:\n%s", spec.key,
                        "\n".join(f.format() for f in spec.findings))
            assets += broken_class_assets(ctx, spec, observe_cron)
    for spec in ctx.catalog.left_out:
        log.warning("folder %s is left out of the graph:\n%s", spec.folder, "\n".join(f.format() for f in spec.findings))
    return assets
