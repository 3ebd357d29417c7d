"""The asset graph built from the seeded (fixture) tree."""

from __future__ import annotations

from typing import Any

import dagster as dg

from jh_pipeline.catalog import Target
from jh_pipeline.defs.keys import COMMON_KEY, SERVER_CHECK, SERVER_ENV_KEY, SERVER_IMAGE_KEY, SMOKE_CHECK
from tests.defs.conftest import Tree


def test_every_class_has_its_assets(tree: Tree) -> None:
    defs = tree.defs()
    graph = defs.resolve_asset_graph()
    keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
    catalog_classes = {
        "apma0365": Target.BASE, "biol1435": Target.R_LANG, "ccv_bootcamp": Target.R_JULIA, "eeps1430": Target.BASE,
        "mpa2065": Target.R_JULIA, "neur1630": Target.BASE, "php1560": Target.R_LANG, "php2560": Target.R_LANG,
        "php2650": Target.R_JULIA, "php2691": Target.R_LANG,
    }
    expected = {"common/requirements", "common/server_env", "common/server_image"}
    for name, target in catalog_classes.items():
        expected |= {f"{name}/requirements", f"{name}/conda_env", f"{name}/image", f"{name}/release", f"{name}/production"}
        if target is Target.R_JULIA:
            expected.add(f"{name}/julia_env")
    assert keys == expected

    for name, target in catalog_classes.items():
        image = graph.get(dg.AssetKey([name, "image"]))
        assert {k: v for k, v in image.tags.items() if not k.startswith("dagster/")} == {
            "class": name, "target": target.value
        }
        assert image.group_name == f"classes/{name}"  # one labelled group per class in the UI
        assert "docker" in image.kinds
        parents = {k.to_user_string() for k in image.parent_keys}
        # every class image builds FROM the shared server image
        own = {f"{name}/conda_env", f"{name}/julia_env"} if target is Target.R_JULIA else {f"{name}/conda_env"}
        assert parents == own | {"common/server_image"}
        env = graph.get(dg.AssetKey([name, "conda_env"]))
        assert env.parent_keys == {dg.AssetKey([name, "requirements"]), COMMON_KEY}
        assert env.description
        release = graph.get(dg.AssetKey([name, "release"]))
        assert release.parent_keys == {dg.AssetKey([name, "image"])}
        assert graph.get(dg.AssetKey([name, "requirements"])).is_observable

    specs = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    assert {(c.asset_key.to_user_string(), c.name) for c in specs} == {
        (f"{name}/image", SMOKE_CHECK) for name in catalog_classes
    } | {("common/server_image", SERVER_CHECK)}
    server_env = graph.get(SERVER_ENV_KEY)
    assert server_env.parent_keys == {COMMON_KEY}
    assert graph.get(SERVER_IMAGE_KEY).parent_keys == {SERVER_ENV_KEY}
    assert all(c.blocking for c in specs)


def test_content_hashes_are_code_versions(tree: Tree) -> None:
    graph = tree.defs().resolve_asset_graph()
    env_versions = {graph.get(dg.AssetKey([c, "conda_env"])).code_version for c in ("apma0365", "php1560", "php2560")}
    # php1560 and php2560 differ only in packages.R, which the conda env does not read.
    assert len(env_versions) == 2
    image_versions = {graph.get(dg.AssetKey([c, "image"])).code_version for c in ("apma0365", "neur1630")}
    assert len(image_versions) == 1  # same recipe; the class part of the tag comes from its lock


def test_broken_class_does_not_stop_the_others(tree: Tree, resources: dict[str, Any]) -> None:
    (tree.root / "requirements/classes/eeps1430/class.yaml").write_text("target: nope\n")
    # a folder-name collision is the two folders' problem, not every class's
    (tree.root / "requirements/classes/apma-0365").mkdir()
    (tree.root / "requirements/classes/apma-0365/class.yaml").write_text('target: base\npython_version: "3.11"\n')
    (tree.root / "requirements/classes/apma-0365/requirements.txt").write_text("numpy\n")
    defs = tree.defs()
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    # the broken class still shows (its folder and an env step naming its errors), without image assets
    assert {"eeps1430/requirements", "eeps1430/conda_env"} <= keys and "eeps1430/image" not in keys
    assert "neur1630/image" in keys

    result = dg.materialize(
        list(defs.assets or []), instance=dg.DagsterInstance.ephemeral(), resources=resources, raise_on_error=False,
        selection=dg.AssetSelection.assets(dg.AssetKey(["eeps1430", "conda_env"]), dg.AssetKey(["neur1630", "conda_env"])),
    )
    [failure] = [e for e in result.all_events if e.is_step_failure]
    message = failure.step_failure_data.error.message  # type: ignore[union-attr]
    assert failure.step_key.startswith("eeps1430")
    assert "Failure: class eeps1430 has errors; run jh-pipeline validate" in message.splitlines()[0]
    assert "eeps1430/class.yaml:1: error" in message
    assert "neur1630/conda_env" in tree.steps.calls


def test_definitions_module_loads_the_repository() -> None:
    from jh_pipeline.definitions import defs

    keys = defs.resolve_asset_graph().get_all_asset_keys()
    assert dg.AssetKey(["neur1630", "image"]) in keys
    assert defs.resolve_job_def("semester_rebuild") is not None
