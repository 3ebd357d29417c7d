"""DockerResource against the real engine and registry: base image pinning, build failures."""

from __future__ import annotations

import socket
import time
from pathlib import Path

import docker
import pytest

from jh_pipeline.images.registry_api import RegistryUnreachable
from jh_pipeline.images.resource import BuildError, DockerResource
from tests.support.docker import REPO_ROOT

pytestmark = pytest.mark.docker


def test_base_image_is_pinned_to_a_digest_or_local_id(docker_engine: docker.DockerClient, registry: str,
                                                        foundation_image: str) -> None:
    resource = DockerResource(registry=registry)
    local = docker_engine.images.get(foundation_image)
    assert resource.pin_base_image(foundation_image) == (foundation_image, local.id)  # local-only: its id

    pushed = f"{registry}/base-notebook:2024-12-09"
    local.tag(pushed.rsplit(":", 1)[0], "2024-12-09")
    digest = resource.push(pushed, lambda line: None)
    assert resource.pin_base_image(pushed) == (f"{registry}/base-notebook@{digest}", digest)
    assert resource.pin_base_image(f"{registry}/base-notebook@{digest}")[1] == digest

    with pytest.raises(RuntimeError, match="JH_BASE_IMAGE"):
        resource.pin_base_image(f"{registry}/does-not-exist:1")


def test_failed_build_names_the_step_and_its_output(docker_engine: docker.DockerClient, foundation_image: str,
                                                    tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(
        f"FROM {foundation_image} AS base\nRUN echo preparing\nRUN echo 'compiler says no' && exit 3\n"
    )
    lines: list[str] = []
    with pytest.raises(BuildError) as failure:
        DockerResource().build(tmp_path, "jh-test/broken:1", "base", {}, lines.append)
    message = str(failure.value)
    assert "at Step 3/3 : RUN echo 'compiler says no' && exit 3" in message
    assert "compiler says no" in message and "returned a non-zero code: 3" in message
    assert any("preparing" in line for line in lines)  # the log streamed while it ran


def test_registry_credentials_from_a_password_file(docker_engine: docker.DockerClient, registry: str,
                                                    foundation_image: str, tmp_path: Path) -> None:
    # The test registry has no auth, so any login succeeds: this checks the wiring end to end
    # (file read, login to the registry host, then a push with the logged-in client).
    secret = tmp_path / "key.json"
    secret.write_text('{"type": "service_account"}\n')
    resource = DockerResource(registry=f"{registry}/team", registry_username="_json_key",
                              registry_password_file=str(secret))
    ref = f"{registry}/team/creds:1"
    docker_engine.images.get(foundation_image).tag(ref.rsplit(":", 1)[0], "1")
    assert resource.push(ref, lambda line: None).startswith("sha256:")
    assert resource.tag_exists(ref)


# --- registry unreachable: bounded time, one line naming it and the setting ----------------------

def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])  # closed again when the block ends


def test_unreachable_registry_fails_fast_naming_jh_registry(docker_engine: docker.DockerClient,
                                                            foundation_image: str) -> None:
    port = _closed_port()
    resource = DockerResource(registry=f"127.0.0.1:{port}", registry_timeout=3)
    ref = f"127.0.0.1:{port}/closed:1"
    docker_engine.images.get(foundation_image).tag(ref.rsplit(":", 1)[0], "1")
    try:
        started = time.monotonic()
        with pytest.raises(RegistryUnreachable) as failure:
            resource.push(ref, lambda line: None)
        assert time.monotonic() - started < 3
        first, *detail = str(failure.value).splitlines()
        assert first.startswith(f"registry 127.0.0.1:{port} (JH_REGISTRY) did not answer within 3s")
        assert detail and "refused" in detail[0].lower()
    finally:
        docker_engine.images.remove(ref)


def test_registry_that_never_answers_fails_within_the_timeout() -> None:
    # A listening socket nobody reads: the connection is made, no answer ever comes.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(1)
        port = silent.getsockname()[1]
        resource = DockerResource(registry=f"127.0.0.1:{port}", registry_timeout=2)
        started = time.monotonic()
        with pytest.raises(RegistryUnreachable, match=rf"^registry 127.0.0.1:{port} \(JH_REGISTRY\)"):
            resource.check_registry()
        assert 1.5 < time.monotonic() - started < 10


def test_registry_timeout_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    import dagster as dg

    from jh_pipeline.defs.resources import resources_from_settings
    from jh_pipeline.settings import load_pipeline_settings

    monkeypatch.setenv("JH_REGISTRY_TIMEOUT", "7")
    monkeypatch.setenv("JH_CACHE_KEEP", "5")

    @dg.asset
    def probe(docker: DockerResource) -> None:
        assert docker.registry_timeout == 7 and docker.cache_keep == 5

    docker = resources_from_settings(load_pipeline_settings(Path(".")))["docker"]
    assert dg.materialize([probe], resources={"docker": docker}).success


# --- cache prune against the real registry ------------------------------------------------------

def test_prune_deletes_old_cache_tags_in_the_registry(docker_engine: docker.DockerClient, registry: str,
                                                      foundation_image: str, tmp_path: Path) -> None:
    """Three builds' cache tags (images that differ by a label); keep 2: the oldest build's tags
    are deleted from the registry, except a manifest a kept tag also names."""
    cls = f"prune{int(time.time() * 1000) % 10**8}"
    resource = DockerResource(registry=registry, cache_keep=2)
    repo = resource.cache_repository_of(cls)
    made: list[str] = []
    (tmp_path / "Dockerfile").write_text(f"FROM {foundation_image}\nARG N\nLABEL n=${{N}}\n")
    try:
        ids = {}
        for n in ("0", "1", "2", "3"):
            ids[n] = resource.build(tmp_path, f"jh-test/prune:{cls}-{n}", "", {"N": n}, lambda line: None).image_id
            made.append(f"jh-test/prune:{cls}-{n}")
            time.sleep(1.1)  # distinct creation times
        conda_env = docker_engine.images.get(ids["0"])
        for key, stage_id in (("k1", ids["1"]), ("k2", ids["2"]), ("k3", ids["3"])):
            image = docker_engine.images.get(stage_id)
            for tag in (f"image-{key}", "image"):
                image.tag(repo, tag)
                resource.push(f"{repo}:{tag}", lambda line: None)
                made.append(f"{repo}:{tag}")
        # builds k1 and k3 have the same conda_env stage (the conda list did not change): one manifest
        for tag in ("conda_env-k1", "conda_env-k3"):
            conda_env.tag(repo, tag)
            resource.push(f"{repo}:{tag}", lambda line: None)
            made.append(f"{repo}:{tag}")
        dockerfile = (REPO_ROOT / "Dockerfile").read_text()
        assert resource.prune_cache(cls, dockerfile, lambda line: None) == ["image-k1"]
        left = {t.tag for t in resource.cache_tags(cls)}
        assert left == {"image", "image-k2", "image-k3", "conda_env-k1", "conda_env-k3"}
        assert not resource.tag_exists(f"{repo}:image-k1")
    finally:
        for ref in made:
            try:
                docker_engine.images.remove(ref, force=True)
            except docker.errors.ImageNotFound:
                pass
