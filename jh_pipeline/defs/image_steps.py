"""Body of `<class>/image` (build, smoke-test, push); `<class>/release` is in release_steps.py."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import dagster as dg

from jh_pipeline.catalog import ClassSpec
from jh_pipeline.defs.context import PipelineContext, StepResources, run_date
from jh_pipeline.defs.env_steps import JULIA_DIR, julia_key, upstream_set_id
from jh_pipeline.defs.keys import COMMON_SET, SERVER_ENV_KEY, SMOKE_CHECK, class_keys
from jh_pipeline.defs.resources import EndpointsResource
from jh_pipeline.defs.server_steps import server_image_ref
from jh_pipeline.envs.resolve import CONDA_DIR, PIP_LOCK, RATTLER_LOCK
from jh_pipeline.hashing import digest, image_tag
from jh_pipeline.images.cache import cache_stages
from jh_pipeline.images.context import build_args, prepare_build_context
from jh_pipeline.images.julia_context import add_julia_files, julia_build_args
from jh_pipeline.images.julia_smoke import julia_container_checks
from jh_pipeline.images.registry_api import RegistryUnreachable
from jh_pipeline.images.resource import BuildError
from jh_pipeline.images.smoke import SmokePlan, run_smoke_checks, summary
from jh_pipeline.store.base import ArtifactStore

TAG = "image_tag"


SETS = "sets"  # image metadata: where the files the image was built from are in the store


@dataclass(frozen=True)
class ImagePlan:
    semester: str
    env_files: dict[str, bytes]  # conda/... and julia/... of the sets the image is built from
    args: dict[str, str]
    tag: str
    ref: str
    sets: list[dict[str, str]]  # the store sets it is built from: {semester, owner, set_id} (recorded)

    def recorded(self) -> dict[str, object]:
        """What the image materialization records, so that release reads it instead of planning again."""
        return {TAG: self.tag, "ref": self.ref, "semester": self.semester, SETS: dg.MetadataValue.json(self.sets)}


@dataclass(frozen=True)
class ImageInputs:
    """What the image step reads from the store, the registry and its upstream materializations."""

    semester: str  # of the class's sets
    set_ids: tuple[str, ...]  # the class's env sets (conda, then Julia)
    server_set: dict[str, str]  # {semester, owner, set_id} of the server env of the server image
    env_files: dict[str, bytes]  # the files of the class's sets
    base_image: str  # pinned to a digest
    base_id: str
    server_image: str
    repository: str  # where the class's images go


def gather_image_inputs(
    context: dg.AssetExecutionContext, ctx: PipelineContext, spec: ClassSpec, res: StepResources
) -> ImageInputs:
    """The effects of planning: upstream set ids, the sets' files, the pinned base and server images."""
    assert spec.config is not None
    store, docker = res.store, res.docker
    keys = class_keys(spec.key)
    day = run_date(context)  # one semester for every step of the run
    semester = ctx.semester(spec, day)
    set_ids = [upstream_set_id(context, keys["conda_env"], ctx.env_key(spec))]
    if spec.config.target.uses_julia:
        set_ids.append(upstream_set_id(context, keys["julia_env"], julia_key(ctx, spec)))
    env_files: dict[str, bytes] = {}
    for set_id in set_ids:
        if not store.has_set(semester, spec.key, set_id):
            raise dg.Failure(description=f"{spec.key}: env set {set_id} is not in the store; materialize its env first")
        env_files.update(store.read_set_files(semester, spec.key, set_id))
    try:
        base_image, base_id = docker.pin_base_image(res.endpoints.base_image)
    except RuntimeError as exc:
        raise dg.Failure(description=f"{spec.key}: {exc}") from exc
    server_set = {"semester": ctx.run_semester(day), "owner": COMMON_SET,
                  "set_id": upstream_set_id(context, SERVER_ENV_KEY, ctx.server_env_key)}
    return ImageInputs(semester, tuple(set_ids), server_set, env_files, base_image, base_id,
                       server_image_ref(context), docker.repository(spec.key))


def plan_image(
    spec: ClassSpec, inputs: ImageInputs, endpoints: EndpointsResource, channels: tuple[str, ...], recipe: str
) -> ImagePlan:
    """The build args and content tag of a class image (pure: same inputs, same plan)."""
    assert spec.config is not None
    uses_r = spec.config.target.uses_r
    args = build_args(
        spec.key,
        base_image=inputs.base_image,
        kernel_display_name=kernel_display_name(spec),
        pip_index_url=endpoints.pip_index_url or None,
        cran_repo=endpoints.cran_repo if uses_r else None,
        r_kernel_display_name=f"R ({spec.config.display_name})" if uses_r and spec.config.display_name else None,
        install_mysql=spec.config.mysql,
        server_image=inputs.server_image,
        conda_channels=channels,
        sqlite_kernel=spec.config.sqlite,
    )
    if spec.config.target.uses_julia:
        args |= julia_build_args(
            endpoints.julia_url, endpoints.julia_sha256, pkg_server=endpoints.julia_pkg_server
        )
    # Inputs of the build that are neither env files nor build args: packages.R (R targets) and the
    # class's apt list. The common lists and the server env are in the server image's digest (an arg).
    extra = {"TARGET": spec.config.target.value, "BASE_ID": inputs.base_id}
    if uses_r:
        extra["PACKAGES_R"] = digest(packages_r(spec))
    if spec.apt:
        extra["APT"] = digest(json.dumps([p.name for p in spec.apt]))
    tag = image_tag(recipe, inputs.env_files, {**args, **extra})
    # The server env of the server image first, so the class's own files win on a (never expected) clash.
    sets = [dict(inputs.server_set)]
    sets += [{"semester": inputs.semester, "owner": spec.key, "set_id": set_id} for set_id in inputs.set_ids]
    return ImagePlan(inputs.semester, inputs.env_files, args, tag, f"{inputs.repository}:{tag}", sets)


def kernel_display_name(spec: ClassSpec) -> str:
    assert spec.config is not None
    return spec.config.display_name or f"Python ({spec.key})"


@dataclass(frozen=True)
class RecordedImage:
    """The image step's plan as its materialization recorded it."""

    tag: str
    ref: str
    semester: str
    sets: list[dict[str, str]]


def recorded_image(context: dg.AssetExecutionContext, spec: ClassSpec) -> RecordedImage:
    event = context.instance.get_latest_materialization_event(class_keys(spec.key)["image"])
    meta = event.asset_materialization.metadata if event is not None and event.asset_materialization else {}
    if not all(k in meta for k in (TAG, "ref", "semester", SETS)):
        raise dg.Failure(description=f"{spec.key}: no image is recorded; materialize {spec.key}/image first")
    sets = meta[SETS].value
    assert isinstance(sets, list)
    return RecordedImage(str(meta[TAG].value), str(meta["ref"].value), str(meta["semester"].value), list(sets))


def released_files(store: ArtifactStore, image: RecordedImage) -> dict[str, bytes]:
    """The exact files the image was built from: the class's sets and the server env of its server image."""
    files: dict[str, bytes] = {}
    for where in image.sets:
        if not store.has_set(where["semester"], where["owner"], where["set_id"]):
            raise dg.Failure(description=f"env set {where} the image was built from is not in the store")
        files.update(store.read_set_files(where["semester"], where["owner"], where["set_id"]))
    return files


def packages_r(spec: ClassSpec) -> str:
    """The packages.R the image runs: the class's for R targets, none otherwise."""
    return (spec.r_script or "") if spec.config is not None and spec.config.target.uses_r else ""


def smoke_plan(ctx: PipelineContext, spec: ClassSpec) -> SmokePlan:
    """The checks of this class's image: Python always, R for R targets, MySQL when asked for."""
    assert spec.config is not None
    return SmokePlan.for_class(
        spec.key, ctx.inputs(spec).requested_names(), spec.config.image_size_budget,
        uses_r=spec.config.target.uses_r, mysql=spec.config.mysql,
        r_packages=[p.name for p in spec.r_packages], sqlite=spec.config.sqlite,
        display_name=kernel_display_name(spec),
    )


def materialize_image(
    context: dg.AssetExecutionContext, ctx: PipelineContext, spec: ClassSpec, res: StepResources
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    assert spec.config is not None
    docker, force = res.docker, res.force
    try:
        docker.check_registry()  # within JH_REGISTRY_TIMEOUT seconds, before anything else
    except RegistryUnreachable as exc:
        raise dg.Failure(description=f"{spec.key}: {exc}") from exc
    plan = plan_image(spec, gather_image_inputs(context, ctx, spec, res), res.endpoints, ctx.channels(spec), ctx.recipe)
    existing = None if force else docker.remote_digest(plan.ref)
    if existing is not None:
        # Only images that passed their smoke checks are ever pushed: the tag is the proof.
        context.log.info(f"{spec.key}: {plan.ref} is already in the registry; nothing to do")
        yield dg.MaterializeResult(
            data_version=dg.DataVersion(plan.tag), metadata={**plan.recorded(), "digest": existing, "skipped": True}
        )
        yield dg.AssetCheckResult(check_name=SMOKE_CHECK, passed=True, metadata={"note": "passed before this tag was pushed"})
        return

    with TemporaryDirectory() as tmp:
        build_dir = prepare_build_context(
            Path(tmp) / "context", ctx.root,
            conda_lock_yml=plan.env_files[f"{CONDA_DIR}/{RATTLER_LOCK}"],
            pip_lock=plan.env_files.get(f"{CONDA_DIR}/{PIP_LOCK}", b"").decode(),
            apt_common="",  # the server image's
            apt_class="\n".join(p.name for p in spec.apt),
            extra_ca_bundle=res.extra_ca_bundle,
            packages_r=packages_r(spec),
        )
        if spec.config.target.uses_julia:
            add_julia_files(
                build_dir, plan.env_files[f"{JULIA_DIR}/Project.toml"], plan.env_files[f"{JULIA_DIR}/Manifest.toml"]
            )
        context.log.info(f"{spec.key}: building {plan.ref} (target {spec.config.target}) on {plan.args['SERVER_IMAGE']}")
        target = spec.config.target.value
        dockerfile = (build_dir / "Dockerfile").read_text()
        stages = cache_stages(dockerfile, target)
        started = time.perf_counter()
        try:
            # A fresh runner has none of the layers: the registry keeps every stage of earlier builds
            # and the server image the class builds FROM (pulled, never rebuilt).
            cache_from = docker.restore_cache(spec.key, plan.tag, stages, context.log.info, base=plan.args["SERVER_IMAGE"])
            restored = time.perf_counter()
            built = docker.build(
                build_dir, plan.ref, target, plan.args, context.log.info,
                labels={"org.jh-pipeline.class": spec.key, "org.jh-pipeline.tag": plan.tag}, cache_from=cache_from,
            )
        except (BuildError, RegistryUnreachable) as exc:
            raise dg.Failure(description=f"{spec.key}: {exc}") from exc
    seconds = {"restore": restored - started, "build": time.perf_counter() - restored}

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=1) as pool:
        # The build cache goes up while the checks run: cache tags are never releases, and the
        # cache even of a failed image is what the fix rebuilds on. The image shares their layers,
        # so its own push after the checks pass has little left to upload.
        cache_saved = pool.submit(docker.save_cache, spec.key, plan.tag, built, stages, context.log.info)
        smoke = smoke_plan(ctx, spec)
        results = run_smoke_checks(docker.client(), plan.ref, built.size, smoke)
        if spec.config.target.uses_julia:
            results += julia_container_checks(docker.client(), plan.ref, [p.name for p in spec.julia])
        passed = all(r.passed for r in results)
        for r in results:
            (context.log.info if r.passed else context.log.error)(f"smoke {r.name}: {r.message}")
        seconds["smoke"] = time.perf_counter() - started
        started = time.perf_counter()
        try:
            cache_saved.result()
            pushed_digest = docker.push(plan.ref, context.log.info) if passed else ""
        except (RuntimeError, RegistryUnreachable) as exc:
            raise dg.Failure(description=f"{spec.key}: {exc}") from exc
    try:
        docker.prune_cache(spec.key, dockerfile, context.log.info)
    except Exception as exc:  # housekeeping: a registry that refuses deletes must not fail the build
        context.log.warning(f"{spec.key}: build cache not pruned ({docker.cache_repository_of(spec.key)}): {exc}")
    seconds["push"] = time.perf_counter() - started
    yield dg.MaterializeResult(
        data_version=dg.DataVersion(plan.tag),
        metadata={
            **plan.recorded(), "skipped": False, "pushed": passed, "digest": pushed_digest,
            "size_mb": round(built.size / 1e6, 1), "layers": built.layers, "cache_from": len(cache_from),
            "seconds": dg.MetadataValue.json({k: round(v, 1) for k, v in seconds.items()}),
            "base_image": plan.args.get("BASE_IMAGE", ""),
        },
    )
    failed = [r for r in results if not r.passed]
    yield dg.AssetCheckResult(
        check_name=SMOKE_CHECK, passed=passed, metadata=dict(summary(results)),
        description="; ".join(f"{r.name}: {r.message}" for r in failed) or "all smoke checks passed",
    )
