"""Image planning is pure: the plan (build args, content tag, recorded sets) follows from its inputs."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from jh_pipeline.catalog import load_catalog
from jh_pipeline.defs.image_steps import ImageInputs, plan_image
from jh_pipeline.defs.resources import EndpointsResource

REPO = Path(__file__).resolve().parents[2]
CATALOG = load_catalog(REPO / "requirements")
BASE = CATALOG.classes["apma0365"]
JULIA = CATALOG.classes["php2650"]  # r_julia
SHA = "a" * 64
INPUTS = ImageInputs(
    semester="spring-2026", set_ids=("c1",), server_set={"semester": "spring-2026", "owner": "common", "set_id": "s1"},
    env_files={"conda/conda-lock.yml": b"lock", "conda/requirements.pip.lock": b"attrs==24.2.0\n"},
    base_image="jh-local/foundation@sha256:" + "b" * 64, base_id="sha256:" + "b" * 64,
    server_image="127.0.0.1:5000/jupyter-server:s-1", repository="127.0.0.1:5000/apma0365",
)


def plan(spec=BASE, inputs=INPUTS, endpoints=EndpointsResource(), channels=("conda-forge",), recipe="r1"):  # type: ignore[no-untyped-def]
    return plan_image(spec, inputs, endpoints, channels, recipe)


def test_same_inputs_same_plan() -> None:
    first, again = plan(), plan()
    assert first == again
    assert first.ref == f"{INPUTS.repository}:{first.tag}"
    assert first.args["SERVER_IMAGE"] == INPUTS.server_image and first.args["BASE_IMAGE"] == INPUTS.base_image
    assert first.sets == [INPUTS.server_set, {"semester": "spring-2026", "owner": "apma0365", "set_id": "c1"}]
    assert "CRAN_REPO" not in first.args and "JULIA_URL" not in first.args  # a base class


def test_every_input_moves_the_tag() -> None:
    tags = {
        plan().tag,
        plan(inputs=replace(INPUTS, env_files={**INPUTS.env_files, "conda/requirements.pip.lock": b"attrs==25.1.0\n"})).tag,
        plan(inputs=replace(INPUTS, server_image="127.0.0.1:5000/jupyter-server:s-2")).tag,
        plan(inputs=replace(INPUTS, base_id="sha256:" + "c" * 64)).tag,
        plan(endpoints=EndpointsResource(pip_index_url="http://127.0.0.1:9/simple")).tag,
        plan(channels=("conda-forge", "bioconda")).tag,
        plan(recipe="r2").tag,
    }
    assert len(tags) == 7
    # where the sets are stored is recorded, not part of the content
    assert plan(inputs=replace(INPUTS, set_ids=("c2",))).tag == plan().tag


def test_julia_class_gets_its_julia_args_and_set() -> None:
    inputs = replace(INPUTS, set_ids=("c1", "j1"), repository="127.0.0.1:5000/php2650")
    endpoints = EndpointsResource(julia_url="https://mirror.example/julia.tar.gz", julia_sha256=SHA)
    p = plan(JULIA, inputs, endpoints)
    assert (p.args["JULIA_URL"], p.args["JULIA_SHA256"]) == ("https://mirror.example/julia.tar.gz", SHA)
    assert p.args["CRAN_REPO"] == EndpointsResource().cran_repo
    assert [s["set_id"] for s in p.sets] == ["s1", "c1", "j1"]
