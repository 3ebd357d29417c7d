"""DockerResource against the real engine and registry: base image pinning, build failures."""

from __future__ import annotations

from pathlib import Path

import docker
import pytest

from jh_pipeline.images.resource import BuildError, DockerResource

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
