"""Shared by the hermetic end-to-end tests: run a class's assets on a fresh instance, read metadata."""

from __future__ import annotations

from typing import Any

import dagster as dg

STEPS = ("conda_env", "image", "release")


def run_class(e2e: dict[str, Any], cls: str, names: tuple[str, ...] = STEPS) -> dg.ExecuteInProcessResult:
    keys = [dg.AssetKey([cls, name]) for name in names]
    return dg.materialize(
        list(e2e["defs"].assets or []), instance=dg.DagsterInstance.ephemeral(), resources=e2e["resources"],
        selection=dg.AssetSelection.assets(*keys), raise_on_error=False,
    )


def metadata(result: dg.ExecuteInProcessResult, key: str) -> dict[str, Any]:
    """Metadata of the last materialization of `key` in the run ({} when there was none)."""
    events = [e for e in result.get_asset_materialization_events() if e.asset_key.to_user_string() == key]
    return {k: v.value for k, v in events[-1].materialization.metadata.items()} if events else {}
