"""The asset graph built from the seeded (fixture) tree."""

from __future__ import annotations

import dagster as dg

from jh_pipeline.catalog import Target
from jh_pipeline.defs.class_assets import COMMON_KEY, SMOKE_CHECK
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
    expected = {"common/requirements"}
    for name, target in catalog_classes.items():
        expected |= {f"{name}/requirements", f"{name}/conda_env", f"{name}/image", f"{name}/release"}
        if target is Target.R_JULIA:
            expected.add(f"{name}/julia_env")
    assert keys == expected

    for name, target in catalog_classes.items():
        image = graph.get(dg.AssetKey([name, "image"]))
        assert {k: v for k, v in image.tags.items() if not k.startswith("dagster/")} == {
            "class": name, "target": target.value
        }
        assert image.group_name == "classes"
        assert "docker" in image.kinds
        parents = {k.to_user_string() for k in image.parent_keys}
        assert parents == ({f"{name}/conda_env", f"{name}/julia_env"} if target is Target.R_JULIA else {f"{name}/conda_env"})
        env = graph.get(dg.AssetKey([name, "conda_env"]))
        assert env.parent_keys == {dg.AssetKey([name, "requirements"]), COMMON_KEY}
        assert env.description
        release = graph.get(dg.AssetKey([name, "release"]))
        assert release.parent_keys == {dg.AssetKey([name, "image"])}
        assert graph.get(dg.AssetKey([name, "requirements"])).is_observable

    specs = [graph.get_check_spec(key) for key in graph.asset_check_keys]
    assert {(c.asset_key.to_user_string(), c.name) for c in specs} == {
        (f"{name}/image", SMOKE_CHECK) for name in catalog_classes
    }
    assert all(c.blocking for c in specs)


def test_content_hashes_are_code_versions(tree: Tree) -> None:
    graph = tree.defs().resolve_asset_graph()
    env_versions = {graph.get(dg.AssetKey([c, "conda_env"])).code_version for c in ("apma0365", "php1560", "php2560")}
    # php1560 and php2560 differ only in packages.R, which the conda env does not read.
    assert len(env_versions) == 2
    image_versions = {graph.get(dg.AssetKey([c, "image"])).code_version for c in ("apma0365", "neur1630")}
    assert len(image_versions) == 1  # same recipe; the class part of the tag comes from its lock


def test_broken_class_does_not_stop_the_others(tree: Tree) -> None:
    (tree.root / "requirements/classes/eeps1430/class.yaml").write_text("target: nope\n")
    keys = {k.to_user_string() for k in tree.defs().resolve_asset_graph().get_all_asset_keys()}
    assert "eeps1430/conda_env" not in keys
    assert "apma0365/conda_env" in keys


def test_definitions_module_loads_the_repository() -> None:
    from jh_pipeline.definitions import defs

    keys = defs.resolve_asset_graph().get_all_asset_keys()
    assert dg.AssetKey(["neur1630", "image"]) in keys
    assert defs.resolve_job_def("semester_rebuild") is not None
