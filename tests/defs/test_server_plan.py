"""Server image planning is pure: build args and content tag follow from its inputs."""

from __future__ import annotations

from dataclasses import replace

from jh_pipeline.defs.server_steps import ServerImageInputs, plan_server_image
from jh_pipeline.settings import ServerStack

INPUTS = ServerImageInputs(
    env_files={"server/conda-lock.yml": b"lock", "server/requirements.pip.lock": b""},
    base_image="jh-local/foundation@sha256:" + "b" * 64, base_id="sha256:" + "b" * 64,
    repository="127.0.0.1:5000/jupyter-server",
)


def plan(inputs=INPUTS, server=ServerStack(), apt=("git",), pip_index_url=None, recipe="r1"):  # type: ignore[no-untyped-def]
    return plan_server_image(inputs, server, list(apt), pip_index_url, recipe)


def test_same_inputs_same_plan() -> None:
    first = plan()
    assert first == plan()
    assert first.tag.startswith("s-") and first.ref == f"{INPUTS.repository}:{first.tag}"
    assert first.args["BASE_IMAGE"] == INPUTS.base_image and first.args["HUB_VERSION"] == "6.1"
    assert first.apt == ["git"] and first.env_files == INPUTS.env_files


def test_every_input_moves_the_tag() -> None:
    tags = {
        plan().tag,
        plan(inputs=replace(INPUTS, env_files={**INPUTS.env_files, "server/conda-lock.yml": b"lock 2"})).tag,
        plan(inputs=replace(INPUTS, base_id="sha256:" + "c" * 64)).tag,
        plan(server=ServerStack(hub_version="5.4")).tag,
        plan(apt=("git", "pandoc")).tag,
        plan(pip_index_url="http://127.0.0.1:9/simple").tag,
        plan(recipe="r2").tag,
    }
    assert len(tags) == 7
    # where the images go is not part of the content
    assert plan(inputs=replace(INPUTS, repository="127.0.0.1:6000/jupyter-server")).tag == plan().tag
