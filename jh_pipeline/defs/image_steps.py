"""Bodies of `<class>/image` (build, smoke-test, push) and `<class>/release` (retag, publish env files)."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from tempfile import TemporaryDirectory

import dagster as dg

from jh_pipeline.catalog import ClassSpec, class_conda_specs, class_pip_requirements
from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.env_steps import JULIA_DIR, julia_key, upstream_set_id
from jh_pipeline.defs.keys import COMMON_SET, SERVER_ENV_KEY, SMOKE_CHECK, class_keys
from jh_pipeline.defs.server_steps import server_image_ref
from jh_pipeline.envs.resolve import CONDA_DIR, PIP_LOCK, RATTLER_LOCK
from jh_pipeline.hashing import digest, image_tag
from jh_pipeline.images.context import build_args, prepare_build_context
from jh_pipeline.images.julia_context import add_julia_files, julia_build_args
from jh_pipeline.images.julia_smoke import julia_container_checks
from jh_pipeline.images.resource import BuildError, DockerResource
from jh_pipeline.images.smoke import SmokePlan, run_smoke_checks, summary
from jh_pipeline.store.base import ArtifactStore
from jh_pipeline.store.index import publish_semester_index

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


def plan_image(context: dg.AssetExecutionContext, ctx: PipelineContext, spec: ClassSpec) -> ImagePlan:
    assert spec.config is not None
    store: ArtifactStore = context.resources.store.get_store()
    docker: DockerResource = context.resources.docker
    endpoints = context.resources.endpoints
    keys = class_keys(spec.key)
    semester = ctx.semester(spec)
    set_ids = [upstream_set_id(context, keys["conda_env"], ctx.env_key(spec))]
    if spec.config.target.uses_julia:
        set_ids.append(upstream_set_id(context, keys["julia_env"], julia_key(ctx, spec)))
    env_files: dict[str, bytes] = {}
    for set_id in set_ids:
        if not store.has_set(semester, spec.key, set_id):
            raise dg.Failure(description=f"{spec.key}: env set {set_id} is not in the store; materialize its env first")
        env_files.update(store.read_set_files(semester, spec.key, set_id))
    uses_r = spec.config.target.uses_r
    try:
        base_image, base_id = docker.pin_base_image(endpoints.base_image)
    except RuntimeError as exc:
        raise dg.Failure(description=f"{spec.key}: {exc}") from exc
    server_image = server_image_ref(context)
    args = build_args(
        spec.key,
        base_image=base_image,
        kernel_display_name=kernel_display_name(spec),
        pip_index_url=endpoints.pip_index_url or None,
        cran_repo=endpoints.cran_repo if uses_r else None,
        r_kernel_display_name=f"R ({spec.config.display_name})" if uses_r and spec.config.display_name else None,
        install_mysql=spec.config.mysql,
        server_image=server_image,
        conda_channels=ctx.channels(spec),
        sqlite_kernel=spec.config.sqlite,
    )
    if spec.config.target.uses_julia:
        args |= julia_build_args(
            endpoints.julia_url, endpoints.julia_sha256, pkg_server=os.environ.get("JULIA_PKG_SERVER", "")
        )
    # Inputs of the build that are neither env files nor build args: packages.R (R targets) and the
    # class's apt list. The common lists and the server env are in the server image's digest (an arg).
    inputs = {"TARGET": spec.config.target.value, "BASE_ID": base_id}
    if uses_r:
        inputs["PACKAGES_R"] = digest(packages_r(spec))
    if spec.apt:
        inputs["APT"] = digest(json.dumps([p.name for p in spec.apt]))
    tag = image_tag(ctx.recipe, env_files, {**args, **inputs})
    # The server env of the server image first, so the class's own files win on a (never expected) clash.
    sets = [{"semester": ctx.run_semester(), "owner": COMMON_SET,
             "set_id": upstream_set_id(context, SERVER_ENV_KEY, ctx.server_env_key)}]
    sets += [{"semester": semester, "owner": spec.key, "set_id": set_id} for set_id in set_ids]
    return ImagePlan(semester, env_files, args, tag, f"{docker.repository(spec.key)}:{tag}", sets)


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
        spec.key, _requested_packages(ctx, spec), spec.config.image_size_budget,
        uses_r=spec.config.target.uses_r, mysql=spec.config.mysql,
        r_packages=[p.name for p in spec.r_packages], sqlite=spec.config.sqlite,
        display_name=kernel_display_name(spec),
    )


def _requested_packages(ctx: PipelineContext, spec: ClassSpec) -> list[str]:
    conda, _ = class_conda_specs(ctx.catalog.common, spec)
    pip, _ = class_pip_requirements(ctx.catalog.common, spec)
    return [s.name for s in conda] + [r.name for r in pip if not r.is_vcs]


def materialize_image(
    context: dg.AssetExecutionContext, ctx: PipelineContext, spec: ClassSpec, force: bool
) -> Iterator[dg.MaterializeResult | dg.AssetCheckResult]:
    assert spec.config is not None
    docker: DockerResource = context.resources.docker
    plan = plan_image(context, ctx, spec)
    existing = None if force else docker.remote_digest(plan.ref)
    if existing is not None:
        # Only images that passed their smoke checks are ever pushed: the tag is the proof.
        context.log.info(f"{spec.key}: {plan.ref} is already in the registry; nothing to do")
        yield dg.MaterializeResult(
            data_version=dg.DataVersion(plan.tag), metadata={**plan.recorded(), "digest": existing, "skipped": True}
        )
        yield dg.AssetCheckResult(check_name=SMOKE_CHECK, passed=True, metadata={"note": "passed before this tag was pushed"})
        return

    endpoints = context.resources.endpoints
    extra_ca = Path(endpoints.extra_ca_bundle) if endpoints.extra_ca_bundle else None
    with TemporaryDirectory() as tmp:
        build_dir = prepare_build_context(
            Path(tmp) / "context", ctx.root,
            conda_lock_yml=plan.env_files[f"{CONDA_DIR}/{RATTLER_LOCK}"],
            pip_lock=plan.env_files.get(f"{CONDA_DIR}/{PIP_LOCK}", b"").decode(),
            apt_common="",  # the server image's
            apt_class="\n".join(p.name for p in spec.apt),
            extra_ca_bundle=extra_ca,
            packages_r=packages_r(spec),
        )
        if spec.config.target.uses_julia:
            add_julia_files(
                build_dir, plan.env_files[f"{JULIA_DIR}/Project.toml"], plan.env_files[f"{JULIA_DIR}/Manifest.toml"]
            )
        context.log.info(f"{spec.key}: building {plan.ref} (target {spec.config.target}) on {plan.args['SERVER_IMAGE']}")
        docker.ensure_image(plan.args["SERVER_IMAGE"], context.log.info)
        try:
            built = docker.build(
                build_dir, plan.ref, spec.config.target.value, plan.args, context.log.info,
                labels={"org.jh-pipeline.class": spec.key, "org.jh-pipeline.tag": plan.tag},
            )
        except BuildError as exc:
            raise dg.Failure(description=f"{spec.key}: {exc}") from exc

    smoke = smoke_plan(ctx, spec)
    results = run_smoke_checks(docker.client(), plan.ref, built.size, smoke)
    if spec.config.target.uses_julia:
        results += julia_container_checks(docker.client(), plan.ref, [p.name for p in spec.julia])
    passed = all(r.passed for r in results)
    for r in results:
        (context.log.info if r.passed else context.log.error)(f"smoke {r.name}: {r.message}")
    pushed_digest = docker.push(plan.ref, context.log.info) if passed else ""
    yield dg.MaterializeResult(
        data_version=dg.DataVersion(plan.tag),
        metadata={
            **plan.recorded(), "skipped": False, "pushed": passed, "digest": pushed_digest,
            "size_mb": round(built.size / 1e6, 1), "layers": built.layers,
            "base_image": plan.args.get("BASE_IMAGE", ""),
        },
    )
    failed = [r for r in results if not r.passed]
    yield dg.AssetCheckResult(
        check_name=SMOKE_CHECK, passed=passed, metadata=dict(summary(results)),
        description="; ".join(f"{r.name}: {r.message}" for r in failed) or "all smoke checks passed",
    )


def git_sha(root: Path) -> str | None:
    sha = os.environ.get("GITHUB_SHA")
    if sha:
        return sha[:12]
    proc = subprocess.run(["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"], capture_output=True, text=True)
    return proc.stdout.strip() or None if proc.returncode == 0 else None


def materialize_release(
    context: dg.AssetExecutionContext, ctx: PipelineContext, spec: ClassSpec, force: bool
) -> dg.MaterializeResult:
    docker: DockerResource = context.resources.docker
    store: ArtifactStore = context.resources.store.get_store()
    plan = recorded_image(context, spec)
    source_digest = docker.remote_digest(plan.ref)
    if source_digest is None:
        raise dg.Failure(description=f"{spec.key}: {plan.ref} is not in the registry (build failed or checks failed)")
    repository = plan.ref.rsplit(":", 1)[0]
    tags = ["latest", plan.semester] + ([sha] if (sha := git_sha(ctx.root)) else [])
    latest = store.read_latest_manifest(plan.semester, spec.key)
    if not force and latest is not None and latest.set_id == plan.tag and docker.remote_digest(f"{repository}:latest") == source_digest:
        context.log.info(f"{spec.key}: latest already is {plan.tag}; nothing to do")
        return dg.MaterializeResult(metadata={TAG: plan.tag, "digest": source_digest, "skipped": True})
    pushed = docker.retag_and_push(plan.ref, [f"{repository}:{t}" for t in tags], context.log.info)
    # The released env files: the exact sets the image was built from (the class env, Julia, and the
    # server env of its server image), as one set named by its tag.
    store.publish_set(plan.semester, spec.key, plan.tag, released_files(store, plan))
    store.switch_latest(plan.semester, spec.key, plan.tag)
    index = publish_semester_index(store, plan.semester, ctx.catalog, docker.registry)
    return dg.MaterializeResult(
        metadata={
            TAG: plan.tag, "skipped": False, "tags": dg.MetadataValue.json(sorted(pushed)), "digest": source_digest,
            "env_files": dg.MetadataValue.url(store.uri(f"{plan.semester}/{spec.key}/latest")),
            "student_index": dg.MetadataValue.url(store.uri(index)),
        }
    )
