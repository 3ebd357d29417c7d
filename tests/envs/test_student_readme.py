"""Student README: sections follow the files present and the per-platform solvability."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pytest

from jh_pipeline.envs.student_readme import render_student_readme

CONDA_FOLDER = ["conda-linux-64.lock", "environment.yml", "environment.nb.yml", "requirements.pip.lock"]


def _render(files: Iterable[str], solvable: Mapping[str, bool] | None = None, **kw: object) -> str:
    args: dict[str, object] = {
        "class_name": "biol1435",
        "semester": "spring-2026",
        "python_version": "3.12.12",
        "target": "r_lang",
        "files": files,
        "solvable": solvable if solvable is not None else {},
    }
    args.update(kw)
    return render_student_readme(**args)  # type: ignore[arg-type]


def test_conda_folder_has_every_conda_route_and_pip() -> None:
    text = _render(CONDA_FOLDER, {"linux-64": True, "osx-arm64": True, "win-64": False})
    assert text.startswith("# biol1435 (spring-2026)")
    assert "Python 3.12.12; Python and R" in text
    assert "conda create -n biol1435 --file conda-linux-64.lock" in text
    assert "micromamba create -n biol1435 -f conda-linux-64.lock" in text
    assert "conda env create -n biol1435 -f environment.yml" in text
    assert "conda env create -n biol1435 -f environment.nb.yml" in text
    assert "pip install -r requirements.pip.lock" in text
    assert "Julia" not in text
    assert "| macOS Apple silicon (`osx-arm64`) | yes |" in text
    assert "| Windows (`win-64`) | no" in text
    assert "\n\n\n" not in text and text.endswith("\n")


def test_sections_follow_the_files_present() -> None:
    text = _render(["environment.nb.yml"], env_name="bio")
    assert "conda env create -n bio -f environment.nb.yml" in text
    assert "conda-linux-64.lock" not in text and "environment.yml " not in text
    assert "pip install" not in text
    assert "Which computers" not in text  # no solvability known: no table


def test_julia_folder() -> None:
    text = _render(["Project.toml", "Manifest.toml"], target="r_julia", julia_version="1.10.10")
    assert "julia --project=. -e 'using Pkg; Pkg.instantiate()'" in text
    assert "Install Julia 1.10.10" in text
    assert "Python, R and Julia" in text
    assert "conda create" not in text


def test_hash_hint_only_for_hashed_pip_locks() -> None:
    assert "reports a hash" in _render(CONDA_FOLDER, pip_lock_hashed=True)
    assert "reports a hash" not in _render(CONDA_FOLDER)


def test_unknown_target_is_rejected() -> None:
    with pytest.raises(ValueError, match="unknown target"):
        _render(CONDA_FOLDER, target="matlab")
