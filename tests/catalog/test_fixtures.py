"""The real spring 2026 inputs: the findings are pinned, so a parser change that hides one shows up."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from jh_pipeline.catalog import Target, load_catalog, python_versions
from jh_pipeline.cli import main

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO.parent / "shared" / "fixtures" / "brown-spring-2026" / "requirements"

# Judged on a day of the semester the fixtures are from: Python 3.9 is past its end of life then,
# 3.10 not yet. requirements.jl files listing only IJulia (the template) are not findings.
SPRING_2026 = date(2026, 3, 1)
EXPECTED = """\
classes/ccv_bootcamp/class.yaml:3: warning: python_version 3.9.23: Python 3.9 reached its end of life on 2025-10-31 (no more security fixes); move the class to a newer Python
classes/ccv_bootcamp/requirements.jl:31: warning: Julia package 'MLDatasets' repeats line 17
classes/eeps1430/class.yaml:3: warning: python_version 3.9.17: Python 3.9 reached its end of life on 2025-10-31 (no more security fixes); move the class to a newer Python
classes/eeps1430/requirements.txt:2: warning: conda package name 'netCDF4' is not lowercase; using 'netcdf4'
classes/mpa2065/class.yaml:3: warning: python_version 3.9.17: Python 3.9 reached its end of life on 2025-10-31 (no more security fixes); move the class to a newer Python
classes/neur1630/class.yaml:3: warning: python_version 3.9.17: Python 3.9 reached its end of life on 2025-10-31 (no more security fixes); move the class to a newer Python
classes/php1560/class.yaml:3: warning: python_version 3.9.23: Python 3.9 reached its end of life on 2025-10-31 (no more security fixes); move the class to a newer Python
classes/php2560/class.yaml:3: warning: python_version 3.9.23: Python 3.9 reached its end of life on 2025-10-31 (no more security fixes); move the class to a newer Python
classes/php2650/requirements.txt:74: warning: conda package name 'r-doParallel' is not lowercase; using 'r-doparallel'
classes/php2650/requirements.txt:77: warning: conda package name 'r-pROC' is not lowercase; using 'r-proc'
classes/php2650/requirements.txt:80: warning: 'r-caret' repeats 'r-caret=6.*' (line 35); merged as 'r-caret 6.*'
classes/php2650/requirements.txt:81: warning: conda package name 'r-doMC' is not lowercase; using 'r-domc'
classes/php2650/requirements.txt:82: warning: 'r-randomForest' repeats 'r-randomforest=4.*' (line 53); merged as 'r-randomforest 4.*'
classes/php2650/requirements.txt:82: warning: conda package name 'r-randomForest' is not lowercase; using 'r-randomforest'
classes/php2650/requirements.txt:84: warning: conda package name 'r-Metrics' is not lowercase; using 'r-metrics'
classes/php2691/class.yaml:3: warning: python_version 3.9.17: Python 3.9 reached its end of life on 2025-10-31 (no more security fixes); move the class to a newer Python
"""


@pytest.fixture
def seeded(monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(REPO / "requirements")
    monkeypatch.setattr(python_versions, "today", lambda: SPRING_2026)
    return REPO / "requirements"


def test_seeded_tree_keeps_the_fixture_package_lists() -> None:
    assert FIXTURES.is_dir(), f"the shared fixtures are expected beside the checkout, at {FIXTURES}"
    assert len(list(FIXTURES.rglob("*.txt"))) > 20
    for source in FIXTURES.rglob("*"):
        if source.is_file():
            assert (REPO / "requirements" / source.relative_to(FIXTURES)).read_bytes() == source.read_bytes(), source


def test_validate_reports_the_real_problems(seeded: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # The seeded lists are the fixtures unchanged, plus class.yaml; run the CLI on them.
    assert main(["validate", "--requirements", "."]) == 0
    out, err = capsys.readouterr()
    assert out == EXPECTED
    assert err == "10 classes checked: 0 error(s), 16 warning(s)\n"


def test_class_settings_from_classes_tsv(seeded: Path) -> None:
    catalog = load_catalog(seeded)
    rows = [line.split("\t") for line in (FIXTURES.parent / "classes.tsv").read_text().splitlines()[1:]]
    assert sorted(catalog.classes) == sorted(row[0] for row in rows)
    for name, target, python, sqlite, semester, _ in rows:
        config = catalog.classes[name].config
        assert (config.target, config.python_version, config.sqlite, config.semester) == (
            Target(target), python, sqlite == "true", semester or None
        )


def test_messy_real_lines_are_understood(seeded: Path) -> None:
    catalog = load_catalog(seeded)
    neur = catalog.classes["neur1630"]
    assert neur.channels == ("conda-forge", "bioconda")
    vcs = [r for r in neur.pip if r.is_vcs]
    assert [r.name for r in vcs] == ["abc-atlas-access"]
    assert [r.line for r in catalog.common.pip if r.is_vcs] == ["git+https://github.com/betatim/vscode-binder"]
    assert "r-rcurl 1.98.*" in [s.spec for s in catalog.classes["apma0365"].conda]
    assert [p.name for p in catalog.classes["ccv_bootcamp"].r_packages][:3] == ["tidyverse", "BiocManager", "GGally"]
    assert len(catalog.classes["ccv_bootcamp"].julia) == 29  # 30 entries, MLDatasets twice
