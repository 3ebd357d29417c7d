"""Bodies of `<class>/conda_env` and `<class>/julia_env`: skip when the set exists, else resolve and publish."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from tempfile import TemporaryDirectory

import dagster as dg

from jh_pipeline.catalog import ClassSpec
from jh_pipeline.defs.context import PipelineContext, StepResources, run_date
from jh_pipeline.defs.resources import EndpointsResource
from jh_pipeline.envs.conda import CondaEnvError
from jh_pipeline.envs.julia import ChecksumError, JuliaResolveError, julia_runner, resolve_julia_env
from jh_pipeline.envs.pip_lock import PipIndexConfig, PipResolveError
from jh_pipeline.envs.resolve import EnvSettings, resolve_conda_env
from jh_pipeline.settings import DEFAULT_JULIA_VERSION
from jh_pipeline.store.base import ArtifactStore, past_prefix

SET_ID = "set_id"
JULIA_DIR = "julia"


def refuse_invalid(ctx: PipelineContext, spec: ClassSpec) -> None:
    """A class with errors (its own, or the common lists') is refused; other classes go on."""
    errors = ctx.catalog.errors_of(spec.key)
    if errors:
        lines = "\n".join(f.format() for f in errors)
        raise dg.Failure(
            description=f"class {spec.key} has errors; run jh-pipeline validate (nothing was solved or published)\n{lines}",
            metadata={"findings": dg.MetadataValue.md("\n".join(f"- `{f.format()}`" for f in errors))},
        )


def new_set_id(key: str, force: bool) -> str:
    # A forced re-solve may give newer packages: keep it apart from the set of the same inputs.
    return f"{key}-{datetime.now(timezone.utc):%Y%m%d%H%M%S}" if force else key


def _skipped(
    store: ArtifactStore, ctx: PipelineContext, spec: ClassSpec, semester: str, log: dg.DagsterLogManager
) -> dg.MaterializeResult | None:
    key = ctx.env_key(spec)
    if not store.has_set(semester, spec.key, key):
        return None
    uri = store.uri(past_prefix(semester, spec.key, key))
    log.info(f"{spec.key}: env files for inputs {key} already exist at {uri}; nothing to do")
    return dg.MaterializeResult(
        data_version=dg.DataVersion(key),
        metadata={SET_ID: key, "skipped": True, "store_uri": dg.MetadataValue.url(uri)},
    )


def upstream_set_id(context: dg.AssetExecutionContext, env_key: dg.AssetKey, default: str) -> str:
    """The set the latest materialization of `env_key` published (stateless fallback: the input hash)."""
    event = context.instance.get_latest_materialization_event(env_key)
    if event is not None and event.asset_materialization is not None:
        value = event.asset_materialization.metadata.get(SET_ID)
        if value is not None:
            return str(value.value)
    return default


def env_settings(endpoints: EndpointsResource) -> EnvSettings:
    return EnvSettings(
        channel_alias=endpoints.channel_alias,
        pip=PipIndexConfig.of(endpoints.pip_index_url, endpoints.extra_ca_bundle),
    )


def materialize_conda_env(
    context: dg.AssetExecutionContext, ctx: PipelineContext, spec: ClassSpec, res: StepResources
) -> dg.MaterializeResult:
    refuse_invalid(ctx, spec)
    store, force = res.store, res.force
    semester = ctx.semester(spec, run_date(context))
    if not force and (skipped := _skipped(store, ctx, spec, semester, context.log)) is not None:
        return skipped
    settings = env_settings(res.endpoints)
    try:
        env = resolve_conda_env(ctx.catalog.common, ctx.inputs(spec), settings, semester, context.log.info)
    except (CondaEnvError, PipResolveError) as exc:
        # Expected input problems: a clean message naming specs and files, nothing published.
        raise dg.Failure(description=f"{spec.key}: {exc}") from exc
    set_id = new_set_id(ctx.env_key(spec), force)
    keys = store.publish_set(semester, spec.key, set_id, env.files, solvable=env.solvable)
    for warning in env.warnings:
        context.log.warning(warning)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(set_id),
        metadata={
            SET_ID: set_id,
            "skipped": False,
            "lock_hash": env.lock_hash,
            "conda_packages": env.package_count,
            "pip_packages": len(env.pip_pins),
            **{f"solvable_{platform}": ok for platform, ok in env.solvable.items()},
            "store_uri": dg.MetadataValue.url(store.uri(past_prefix(semester, spec.key, set_id))),
            "files": dg.MetadataValue.json([k.rsplit("/", 1)[-1] for k in keys]),
        },
    )


def materialize_julia_env(
    context: dg.AssetExecutionContext, ctx: PipelineContext, spec: ClassSpec, res: StepResources
) -> dg.MaterializeResult:
    refuse_invalid(ctx, spec)
    store, force = res.store, res.force
    semester, key = ctx.semester(spec, run_date(context)), julia_key(ctx, spec)
    if not force and store.has_set(semester, spec.key, key):
        context.log.info(f"{spec.key}: Julia env {key} already exists; nothing to do")
        return dg.MaterializeResult(data_version=dg.DataVersion(key), metadata={SET_ID: key, "skipped": True})
    endpoints = res.endpoints
    runner = julia_runner(
        DEFAULT_JULIA_VERSION, url=endpoints.julia_url, sha256=endpoints.julia_sha256, image=endpoints.julia_image,
        ca_bundle=endpoints.extra_ca_bundle, pkg_server=endpoints.julia_pkg_server,
    )
    with TemporaryDirectory() as tmp:
        try:
            env = resolve_julia_env([p.name for p in spec.julia], DEFAULT_JULIA_VERSION, Path(tmp), runner)
        except (JuliaResolveError, ChecksumError) as exc:
            raise dg.Failure(description=f"{spec.key}: {exc}") from exc
    set_id = new_set_id(key, force)
    files = {f"{JULIA_DIR}/Project.toml": env.project_toml.encode(), f"{JULIA_DIR}/Manifest.toml": env.manifest_toml.encode()}
    store.publish_set(semester, spec.key, set_id, files)
    return dg.MaterializeResult(
        data_version=dg.DataVersion(set_id),
        metadata={SET_ID: set_id, "skipped": False, "julia_packages": len(env.packages), "julia": env.julia_version or ""},
    )


def julia_key(ctx: PipelineContext, spec: ClassSpec) -> str:
    return f"{ctx.env_key(spec)}-jl"
