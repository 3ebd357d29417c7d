"""`<class>/production` in the graph: downstream of release, never automated, tagged for exclusion."""

from __future__ import annotations

import dagster as dg

from jh_pipeline.defs.keys import PRODUCTION_ROLE, ROLE_TAG
from tests.defs.conftest import Tree


def test_production_asset_is_manual_and_excluded_by_its_role_tag(tree: Tree) -> None:
    defs = tree.defs()
    graph = defs.resolve_asset_graph()
    classes = {k.path[0] for k in graph.get_all_asset_keys() if k.path[-1] == "image"}
    production = {dg.AssetKey([c, "production"]) for c in classes}
    for key in production:
        node = graph.get(key)
        assert node.parent_keys == {dg.AssetKey([key.path[0], "release"])}
        assert node.tags[ROLE_TAG] == PRODUCTION_ROLE and node.tags["class"] == key.path[0]
        assert node.automation_condition is None  # the sensor never materializes it
        assert node.group_name == f"classes/{key.path[0]}"

    # The selection the schedule and the automation sensor should use (automation.py):
    selection = dg.AssetSelection.all() - dg.AssetSelection.tag(ROLE_TAG, PRODUCTION_ROLE)
    chosen = selection.resolve(graph)
    assert chosen.isdisjoint(production) and dg.AssetKey([next(iter(classes)), "release"]) in chosen
    with_sources = dg.AssetSelection.all(include_sources=True) - dg.AssetSelection.tag(ROLE_TAG, PRODUCTION_ROLE)
    assert with_sources.resolve(graph) == (graph.get_all_asset_keys() - production)

    # Run config of the move: what the UI's launchpad and `jh-pipeline promote` fill in.
    job = defs.resolve_implicit_global_asset_job_def()
    op = next(iter(production)).to_python_identifier()
    fields = job.run_config_schema.config_type.fields["ops"].config_type.fields[op].config_type.fields["config"]
    assert set(fields.config_type.fields) == {"action", "target", "by"}
