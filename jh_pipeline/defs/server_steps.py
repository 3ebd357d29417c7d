"""Bodies of `common/server_env` (solve + publish the notebook server env) and `common/server_image`
(build the shared server image from its lock, check it, push it by content tag)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import dagster as dg

from jh_pipeline.defs.context import PipelineContext, StepResources, run_date
from jh_pipeline.defs.env_steps import SET_ID, env_settings, new_set_id, upstream_set_id
from jh_pipeline.defs.keys import COMMON_SET, SERVER_CHECK, SERVER_ENV_KEY
from jh_pipeline.envs.conda import CondaEnvError
from jh_pipeline.envs.pip_lock import PipResolveError
from jh_pipeline.envs.resolve import PIP_LOCK, RATTLER_LOCK, SERVER_DIR, resolve_env, server_env_request
from jh_pipeline.hashing import digest, image_tag
from jh_pipeline.images.context import SERVER_TARGET, prepare_server_context, server_build_args
from jh_pipeline.images.registry_api import RegistryUnreachable
from jh_pipeline.images.resource import BuildError
from jh_pipeline.images.smoke import ServerPlan, run_server_checks, summary
from jh_pipeline.settings import ServerStack
from jh_pipeline.store.base import past_prefix

# Metadata of common/server_image that class images build FROM.
SERVER_REF = "server_image"  # <repository>@sha256:...
TAG = "image_tag"
TEX_PACKAGES = ("texlive-xetex", "texlive-latex-base", "texlive-latex-recommended")


def _refuse_invalid(ctx: PipelineContext) -> None:
    errors = ctx.catalog.common_errors
    if errors:
        raise dg.Failure(
            description="requirements/common does not validate; nothing was solved or built",
            metadata={"findings": dg.MetadataValue.md("\n".join(f"- `{f.format()}`" for f in errors))},
        )


def materialize_server_env(
    context: dg.AssetExecutionContext, ctx: PipelineContext, res: StepResources
) -> dg.MaterializeResult:
    _refuse_invalid(ctx)
    store, force = res.store, res.force
    semester, key = ctx.run_semester(run_date(context)), ctx.server_env_key
    if not force and store.has_set(semester, COMMON_SET, key):
        uri = store.uri(past_prefix(semester, COMMON_SET, key))
        context.log.info(f"server env for inputs {key} already exists at {uri}; nothing to do")
        return dg.MaterializeResult(
            data_version=dg.DataVersion(key), metadata={SET_ID: key, "skipped": True, "store_uri": dg.MetadataValue.url(uri)}
        )
    request = server_env_request(ctx.catalog.common, ctx.site.server, ctx.server_channels())
    try:
        env = resolve_env(request, env_settings(res.endpoints), semester, context.log.info)
    except (CondaEnvError, PipResolveError) as exc:
        raise dg.Failure(description=f"server env: {exc}") from exc
    set_id = new_set_id(key, force)
    store.publish_set(semester, COMMON_SET, set_id, env.files)
    for warning in env.warnings:
        context.log.warning(warning)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(set_id),
        metadata={
            SET_ID: set_id, "skipped": False, "lock_hash": env.lock_hash, "conda_packages": env.package_count,
            "pip_packages": len(env.pip_pins), "stack": dg.MetadataValue.json(list(request.conda)),
            "store_uri": dg.MetadataValue.url(store.uri(past_prefix(semester, COMMON_SET, set_id))),
        },
    )


@dataclass(frozen=True)
class ServerImagePlan:
    """Everything the server build is made from; a pure function of the env files and settings."""

    env_files: dict[str, bytes]  # server/... of the server env set
    apt: list[str]  # the common apt list
    args: dict[str, str]
    tag: str
    ref: str


@dataclass(frozen=True)
class ServerImageInputs:
    """What the server image step reads from the store and the registry."""

    env_files: dict[str, bytes]  # of the server env set its upstream materialization recorded
    base_image: str  # pinned to a digest
    base_id: str
    repository: str  # where server images go


def gather_server_image_inputs(
    context: dg.AssetExecutionContext, ctx: PipelineContext, res: StepResources
) -> ServerImageInputs:
    """The effects of planning: the server env set's files and the pinned base image."""
    store, docker = res.store, res.docker
    semester = ctx.run_semester(run_date(context))
    set_id = upstream_set_id(context, SERVER_ENV_KEY, ctx.server_env_key)
    if not store.has_set(semester, COMMON_SET, set_id):
        raise dg.Failure(description=f"server env set {set_id} is not in the store; materialize common/server_env first")
    try:
        base_image, base_id = docker.pin_base_image(res.endpoints.base_image)
    except RuntimeError as exc:
        raise dg.Failure(description=f"server image: {exc}") from exc
    return ServerImageInputs(store.read_set_files(semester, COMMON_SET, set_id), base_image, base_id,
                             docker.repository(ctx.site.server.repository))


def plan_server_image(
    inputs: ServerImageInputs, server: ServerStack, apt: list[str], pip_index_url: str | None, recipe: str
) -> ServerImagePlan:
    """Build args and content tag: every input that changes the image moves the tag."""
    args = server_build_args(base_image=inputs.base_image, hub_version=server.hub_version, pip_index_url=pip_index_url)
    tag = "s-" + image_tag(recipe, inputs.env_files, {**args, "BASE_ID": inputs.base_id, "APT": digest(json.dumps(apt))})[2:]
    return ServerImagePlan(inputs.env_files, apt, args, tag, f"{inputs.repository}:{tag}")


def server_plan(ctx: PipelineContext) -> ServerPlan:
    apt = {p.name for p in ctx.catalog.common.apt}
    return ServerPlan(
        common_packages=[s.name for s in ctx.catalog.common.conda],
        jupyterlab=ctx.site.server.jupyterlab,
        hub_version=ctx.site.server.hub_version,
        expect_pdf=bool(apt & set(TEX_PACKAGES)),
    )


def _pinned(ref: str, repo_digest: str) -> str:
    return f"{ref.rsplit(':', 1)[0]}@{repo_digest}"


def materialize_server_image(
    context: dg.AssetExecutionContext, ctx: PipelineContext, res: StepResources
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    docker, force = res.docker, res.force
    try:
        docker.check_registry()  # within JH_REGISTRY_TIMEOUT seconds, before anything else
    except RegistryUnreachable as exc:
        raise dg.Failure(description=f"server image: {exc}") from exc
    plan = plan_server_image(gather_server_image_inputs(context, ctx, res), ctx.site.server,
                             [p.name for p in ctx.catalog.common.apt], res.endpoints.pip_index_url or None, ctx.recipe)
    existing = None if force else docker.remote_digest(plan.ref)
    if existing is not None:
        # Only checked server images are ever pushed: the tag is the proof.
        context.log.info(f"server image {plan.ref} is already in the registry; nothing to do")
        yield dg.MaterializeResult(
            data_version=dg.DataVersion(plan.tag),
            metadata={TAG: plan.tag, "ref": plan.ref, SERVER_REF: _pinned(plan.ref, existing), "digest": existing,
                      "skipped": True},
        )
        yield dg.AssetCheckResult(check_name=SERVER_CHECK, passed=True, metadata={"note": "passed before this tag was pushed"})
        return

    with TemporaryDirectory() as tmp:
        build_dir = prepare_server_context(
            Path(tmp) / "context", ctx.root,
            server_lock_yml=plan.env_files[f"{SERVER_DIR}/{RATTLER_LOCK}"],
            server_pip_lock=plan.env_files.get(f"{SERVER_DIR}/{PIP_LOCK}", b"").decode(),
            apt_common="\n".join(plan.apt),
            extra_ca_bundle=res.extra_ca_bundle,
        )
        context.log.info(f"building the server image {plan.ref}")
        try:
            built = docker.build(
                build_dir, plan.ref, SERVER_TARGET, plan.args, context.log.info,
                labels={"org.jh-pipeline.tag": plan.tag},
            )
        except BuildError as exc:
            raise dg.Failure(description=f"server image: {exc}") from exc

    results = run_server_checks(docker.client(), plan.ref, built.size, server_plan(ctx))
    passed = all(r.passed for r in results)
    for r in results:
        (context.log.info if r.passed else context.log.error)(f"server check {r.name}: {r.message}")
    try:
        pushed = docker.push(plan.ref, context.log.info) if passed else ""
    except (RuntimeError, RegistryUnreachable) as exc:
        raise dg.Failure(description=f"server image: {exc}") from exc
    yield dg.MaterializeResult(
        data_version=dg.DataVersion(plan.tag),
        metadata={
            TAG: plan.tag, "ref": plan.ref, "skipped": False, "pushed": passed, "digest": pushed,
            SERVER_REF: _pinned(plan.ref, pushed) if pushed else "",
            "size_mb": round(built.size / 1e6, 1), "layers": built.layers, "base_image": plan.args["BASE_IMAGE"],
            "hub_version": ctx.site.server.hub_version,
        },
    )
    failed = [r for r in results if not r.passed]
    yield dg.AssetCheckResult(
        check_name=SERVER_CHECK, passed=passed, metadata=dict(summary(results)),
        description="; ".join(f"{r.name}: {r.message}" for r in failed) or "all server checks passed",
    )


def server_image_ref(context: dg.AssetExecutionContext) -> str:
    """The server image the class images build FROM, as common/server_image recorded it (by digest)."""
    from jh_pipeline.defs.keys import SERVER_IMAGE_KEY

    event = context.instance.get_latest_materialization_event(SERVER_IMAGE_KEY)
    value = None
    if event is not None and event.asset_materialization is not None:
        value = event.asset_materialization.metadata.get(SERVER_REF)
    if value is None or not str(value.value):
        raise dg.Failure(
            description="no checked server image is recorded: materialize common/server_env and common/server_image first"
        )
    return str(value.value)
