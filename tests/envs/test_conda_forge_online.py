"""Against the real conda-forge (needs the internet: `pytest -m online`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from jh_pipeline.catalog import class_conda_specs, load_catalog
from jh_pipeline.envs.conda import check_platform, render_explicit_lock, solve_lock

REPO = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.online


@pytest.mark.parametrize("class_key", ["eeps1430", "biol1435"])
def test_a_real_class_solves_and_locks_against_conda_forge(class_key: str) -> None:
    catalog = load_catalog(REPO / "requirements")
    spec = catalog.classes[class_key]
    specs = [s.spec for s in class_conda_specs(catalog.common, spec)[0]]
    solution = solve_lock(specs, list(spec.channels), spec.config.python_version)
    names = {r.name.normalized for r in solution.records}
    assert {"python", "pandas", "ipykernel"} <= names
    lock = render_explicit_lock(solution.records)
    assert lock.count("https://conda.anaconda.org/conda-forge/") >= len(solution.records) - 1
    ok, message = check_platform(sorted({f"{r.name.normalized}={r.version}" for r in solution.records}),
                                 list(spec.channels), "osx-arm64", spec.config.python_version)
    assert isinstance(ok, bool) and (ok or message)
