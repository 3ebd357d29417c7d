"""`create_class`: the files it makes load cleanly, and it refuses to overwrite or guess."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from jh_pipeline.catalog import Target, load_catalog
from jh_pipeline.scaffold.new_class import ClassExistsError, create_class
from jh_pipeline.scaffold.workflows import HEADER, WorkflowConflictError, generate

SEEDED = Path(__file__).resolve().parents[2] / "requirements"

EXPECTED_FILES = {
    Target.BASE: {"class.yaml", "requirements.txt", "requirements.pip.txt"},
    Target.R_LANG: {"class.yaml", "requirements.txt", "requirements.pip.txt", "packages.R"},
    Target.R_JULIA: {"class.yaml", "requirements.txt", "requirements.pip.txt", "packages.R", "requirements.jl"},
}


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A throwaway repository root holding a copy of the seeded requirements/ tree."""
    shutil.copytree(SEEDED, tmp_path / "requirements")
    return tmp_path


def snapshot(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.mark.parametrize("target", list(Target))
def test_creates_exactly_the_files_of_the_target(repo: Path, target: Target) -> None:
    name = f"data1010_{target}"
    created = create_class(repo, name, target)

    folder = repo / "requirements" / "classes" / name
    workflow = repo / ".github" / "workflows" / f"{name}.yml"
    assert set(created) == {folder / f for f in EXPECTED_FILES[target]} | {workflow}
    assert {p.name for p in folder.iterdir()} == EXPECTED_FILES[target]
    assert [p.name for p in workflow.parent.iterdir()] == [workflow.name]
    assert workflow.read_text().splitlines()[0] == HEADER


@pytest.mark.parametrize("target", list(Target))
@pytest.mark.parametrize("mysql", [False, True])
def test_created_class_loads_without_findings(repo: Path, target: Target, mysql: bool) -> None:
    name = "new_class"
    create_class(repo, name, target, mysql=mysql, python_version="3.12")

    catalog = load_catalog(repo / "requirements")
    spec = catalog.classes[name]
    assert spec.ok
    assert spec.findings == ()  # not even a warning
    assert spec.config is not None
    assert (spec.config.target, spec.config.python_version, spec.config.mysql) == (target, "3.12", mysql)

    conda = {s.name for s in spec.conda}
    assert {"scipy", "pandas", "ipython", "ipykernel"} <= conda
    assert ({"r-base", "r-irkernel"} <= conda) is target.uses_r
    assert any(name.startswith("r-") for name in conda) is target.uses_r
    assert [p.name for p in spec.julia] == (["IJulia"] if target.uses_julia else [])
    assert spec.r_packages == ()  # packages.R holds a commented example only


def test_workflow_of_a_new_class_is_what_generate_writes(repo: Path) -> None:
    created = create_class(repo, "data1010", Target.R_JULIA, mysql=True)
    workflow = created[-1]
    before = workflow.read_text()

    changed = generate(repo)

    assert workflow not in changed  # seeded classes get theirs; the new one is already current
    assert workflow.read_text() == before


def test_refuses_an_existing_class_and_writes_nothing(repo: Path) -> None:
    before = snapshot(repo)

    with pytest.raises(ClassExistsError, match="already exists"):
        create_class(repo, "apma0365", Target.R_LANG)

    assert snapshot(repo) == before
    assert not (repo / ".github").exists()


def test_refuses_a_key_taken_by_an_unnormalised_folder(repo: Path) -> None:
    shutil.copytree(repo / "requirements" / "classes" / "php1560", repo / "requirements" / "classes" / "Data-1010")
    before = snapshot(repo)

    with pytest.raises(ClassExistsError, match="Data-1010"):
        create_class(repo, "data_1010", Target.BASE)

    assert snapshot(repo) == before


@pytest.mark.parametrize(("name", "suggestion"), [("Data-1010", "data_1010"), ("CS 101.spring", "cs_101_spring"), ("", "_")])
def test_refuses_an_invalid_name_and_suggests_the_key(repo: Path, name: str, suggestion: str) -> None:
    before = snapshot(repo)

    with pytest.raises(ValueError, match=f"use '{suggestion}'"):
        create_class(repo, name, Target.BASE)

    assert snapshot(repo) == before
    assert not (repo / ".github").exists()


@pytest.mark.parametrize("version", ["3", "3.x", "python3.11", "2.7"])
def test_refuses_an_invalid_python_version(repo: Path, version: str) -> None:
    before = snapshot(repo)

    with pytest.raises(ValueError, match="python_version"):
        create_class(repo, "data1010", Target.BASE, python_version=version)

    assert snapshot(repo) == before


def test_refuses_to_replace_a_hand_written_workflow(repo: Path) -> None:
    hand_written = repo / ".github" / "workflows" / "data1010.yml"
    hand_written.parent.mkdir(parents=True)
    hand_written.write_text("name: mine\n")
    before = snapshot(repo)

    with pytest.raises(WorkflowConflictError, match="not generated"):
        create_class(repo, "data1010", Target.BASE)

    assert snapshot(repo) == before


def test_uses_workflow_settings_of_the_repository(repo: Path) -> None:
    (repo / "jh_pipeline.yaml").write_text("workflows:\n  gcp_auth: key\n  key_secret: HUB_SA_KEY\n")

    created = create_class(repo, "data1010", Target.BASE)

    text = created[-1].read_text()
    assert "credentials_json: ${{ secrets.HUB_SA_KEY }}" in text
    assert "workload_identity_provider" not in text


def test_refuses_the_reserved_name_common(repo: Path) -> None:
    before = snapshot(repo)

    with pytest.raises(ValueError, match="reserved for the shared lists"):
        create_class(repo, "common", Target.BASE)

    assert snapshot(repo) == before


@pytest.mark.parametrize("version", ["3.8", "3.14"])
def test_refuses_a_python_the_server_stack_does_not_run(repo: Path, version: str) -> None:
    before = snapshot(repo)

    with pytest.raises(ValueError, match="3.9 to 3.13 only"):
        create_class(repo, "data1010", Target.BASE, python_version=version)

    assert snapshot(repo) == before


def test_cli_refuses_common(repo: Path) -> None:
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "jh_pipeline.cli", "new-class", "-c", "common", "-t", "base"],
                          cwd=repo, capture_output=True, text=True, check=False)
    assert done.returncode == 1
    assert done.stderr == "error: 'common' is reserved for the shared lists (requirements/common); choose another class name\n"
    assert not (repo / "requirements" / "classes" / "common").exists()
