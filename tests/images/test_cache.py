"""The registry-backed build cache: stage images from the build log, cache tags, the prune rule
(pure), and a real round trip: build, push the cache, remove every local image of the build,
rebuild as a fresh runner would (cache from the registry only). The same build carries a canary
certificate as its extra CA bundle: the pushed image holds it in no layer, the helper stage does."""

from __future__ import annotations

import re
import time
from pathlib import Path

import docker
import pytest

from jh_pipeline.images.cache import (
    IMAGE_STAGE,
    CacheTag,
    cache_stages,
    prune_plan,
    restore_candidates,
    split_tag,
    stage_images,
    stages_before,
)
from jh_pipeline.images.context import build_args, prepare_build_context
from jh_pipeline.images.resource import BuiltImage, DockerResource
from tests.images.canary import image_contains, write_canary_ca
from tests.support.docker import REPO_ROOT

DOCKERFILE = (REPO_ROOT / "Dockerfile").read_text()
SIX = ("six==1.16.0 \\\n"
       "    --hash=sha256:8abb2f1d86890a2dfb989f9a77cfcfd3e47c2a354b01111771326f8aa26e0254\n")


def test_stages_of_each_target() -> None:
    assert stages_before(DOCKERFILE, "base") == [
        "ca", "tools", "server_env", "server", "conda_env", "pip_packages", "class_core"]
    assert cache_stages(DOCKERFILE, "base") == [
        "server_env", "server", "conda_env", "pip_packages", "class_core", IMAGE_STAGE]
    assert cache_stages(DOCKERFILE, "r_lang")[-5:] == ["class_core", "base", "r_packages", "r_core", IMAGE_STAGE]
    assert "julia_depot" in cache_stages(DOCKERFILE, "r_julia")
    with pytest.raises(ValueError):
        stages_before(DOCKERFILE, "nope")


def test_stage_images_from_a_classic_build_log() -> None:
    log = """Step 1/9 : ARG BASE_IMAGE=x
Step 2/9 : FROM ${BASE_IMAGE} AS ca
 ---> 1111111111aa
Step 3/9 : RUN echo
 ---> Running in 99999999999999999
Removing intermediate container 99999999999999999
 ---> 2222222222bb
Step 4/9 : FROM ca AS tools
 ---> 2222222222bb
Step 5/9 : COPY x /y
 ---> Using cache
 ---> 3333333333cc
Step 6/9 : FROM quay.io/x/y:1 AS base
 ---> 4444444444dd
Successfully built 4444444444dd
""".splitlines()
    assert stage_images(log) == {"ca": "2222222222bb", "tools": "3333333333cc", "base": "4444444444dd"}


def test_restore_tries_the_exact_tag_then_the_last_build() -> None:
    assert restore_candidates(["conda_env", IMAGE_STAGE], "c-1") == [
        ("conda_env", "conda_env-c-1"), ("conda_env", "conda_env"), ("image", "image-c-1"), ("image", "image")]
    stages = ["pip_packages", "r_packages", IMAGE_STAGE]
    assert split_tag("pip_packages-c-ab", stages) == ("pip_packages", "c-ab")
    assert split_tag("image", stages) == ("image", None)


def test_prune_rule_keeps_the_newest_builds_and_shared_manifests() -> None:
    stages = ["conda_env", "pip_packages", IMAGE_STAGE]
    tags = [
        # build k1 (oldest): its conda_env manifest is the same as k3's (unchanged conda list)
        CacheTag("conda_env-k1", "sha256:c1", "2026-01-01T00:00:00Z"),
        CacheTag("pip_packages-k1", "sha256:p1", "2026-01-01T00:00:01Z"),
        CacheTag("image-k1", "sha256:i1", "2026-01-01T00:00:02Z"),
        CacheTag("conda_env-k2", "sha256:c2", "2026-02-01T00:00:00Z"),
        CacheTag("image-k2", "sha256:i2", "2026-02-01T00:00:02Z"),
        CacheTag("conda_env-k3", "sha256:c1", "2026-01-01T00:00:00Z"),
        CacheTag("image-k3", "sha256:i3", "2026-03-01T00:00:02Z"),
        CacheTag("image", "sha256:i3", "2026-03-01T00:00:02Z"),  # moving tags: always kept
        CacheTag("conda_env", "sha256:c1", "2026-01-01T00:00:00Z"),
    ]
    doomed = [t.tag for t in prune_plan(tags, 2, stages)]
    # k1 is the oldest build; its conda_env manifest is still named by kept tags, so it stays.
    assert doomed == ["image-k1", "pip_packages-k1"]
    assert [t.tag for t in prune_plan(tags, 1, stages)] == ["conda_env-k2", "image-k1", "image-k2", "pip_packages-k1"]
    assert prune_plan(tags, 3, stages) == []
    with pytest.raises(ValueError):
        prune_plan(tags, 0, stages)


# --- a real round trip through the local registry ------------------------------------------------

def _ids_of(client: docker.DockerClient, refs: list[str]) -> set[str]:
    return {client.images.get(r).id for r in refs}


def _remove(client: docker.DockerClient, refs: list[str]) -> None:
    """Remove the refs this test made (untagged parents of them go with them: a fresh runner)."""
    for ref in refs:
        try:
            client.images.remove(ref, force=True)
        except docker.errors.ImageNotFound:
            pass


def _step_used_cache(log: list[str], pattern: str) -> bool:
    for i, line in enumerate(log):
        if line.startswith("Step ") and re.search(pattern, line):
            return any("Using cache" in later for later in log[i + 1:i + 3])
    raise AssertionError(f"no step matching {pattern!r} in the build log")


@pytest.mark.docker
def test_cache_round_trip_and_no_build_ca_in_the_pushed_image(
    docker_engine: docker.DockerClient, registry: str, foundation_image: str, tiny_lock: bytes, tmp_path: Path
) -> None:
    resource = DockerResource(registry=registry, cache_keep=1)
    canary = write_canary_ca(tmp_path / "canary.crt")  # unique: every layer above it is this test's own
    cls = f"cache{int(time.time() * 1000) % 10**8}"
    args = build_args(cls, base_image=foundation_image, register_kernel=False)
    ref = f"{registry}/{cls}:c-one"
    stages = cache_stages(DOCKERFILE, "base")
    made: list[str] = [ref]
    try:
        ctx = prepare_build_context(tmp_path / "a", REPO_ROOT, tiny_lock, SIX, "", "", tmp_path / "canary.crt")
        first_log: list[str] = []
        first = resource.build(ctx, ref, "base", args, first_log.append)
        assert {"conda_env", "pip_packages", "base"} <= set(first.stages)
        resource.push(ref, lambda line: None)
        made += resource.save_cache(cls, "c-one", first, stages, lambda line: None)
        cache_repo = resource.cache_repository_of(cls)
        assert cache_repo == f"{registry}/jh-cache/{cls}"
        assert {f"{cache_repo}:conda_env-c-one", f"{cache_repo}:conda_env", f"{cache_repo}:image"} <= set(made)

        # The pushed class image holds the canary in no layer; the helper stage it was built with
        # does (the check can fail, and the bundle really was in the build).
        assert not image_contains(docker_engine, ref, canary)
        assert image_contains(docker_engine, f"{cache_repo}:conda_env", canary)

        # A fresh runner: none of this build's images are left in the engine.
        _remove(docker_engine, made)
        assert not resource.image_exists_locally(f"{cache_repo}:conda_env")
        with pytest.raises(docker.errors.ImageNotFound):
            docker_engine.images.get(first.image_id)

        # Same inputs, new content tag: only the moving tags match, and every layer is reused.
        log: list[str] = []
        cache_from = resource.restore_cache(cls, "c-two", stages, log.append)
        made += cache_from
        assert f"{cache_repo}:conda_env" in cache_from and f"{cache_repo}:image" in cache_from
        second_log: list[str] = []
        ctx2 = prepare_build_context(tmp_path / "b", REPO_ROOT, tiny_lock, SIX, "", "", tmp_path / "canary.crt")
        second: BuiltImage = resource.build(ctx2, f"{registry}/{cls}:c-two", "base", args, second_log.append,
                                            cache_from=cache_from)
        made.append(f"{registry}/{cls}:c-two")
        assert _step_used_cache(second_log, r"install-conda-lock\.py")
        assert _step_used_cache(second_log, r"--prefix /opt/jh-pip")
        # (Not every step: the classic builder consults the engine's own images first, and on this
        # shared engine other builds' images on the foundation can shadow the registry's history of
        # the first steps of a stage. A fresh runner has none; the expensive steps must hit.)

        # Prune (keep 1 build): the older content tags go, the moving ones and the newest stay.
        made += resource.save_cache(cls, "c-two", second, stages, lambda line: None)
        pruned = resource.prune_cache(cls, DOCKERFILE, lambda line: None)
        left = {t.tag for t in resource.cache_tags(cls)}
        assert "image-c-two" in left and "image" in left and "conda_env" in left
        # c-one's conda_env is the same manifest as c-two's: it stays whatever the rule says. The
        # stages on the foundation (server, and here class_core: SERVER_IMAGE is the foundation,
        # and both open with the same steps) may have been shadowed as above, and so may be pruned.
        assert "conda_env-c-one" in left
        assert set(pruned) <= {"image-c-one", "base-c-one", "server-c-one", "class_core-c-one"}, pruned
    finally:
        _remove(docker_engine, made)
