from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from jh_pipeline.catalog import Catalog, load_catalog

BASE_CLASS = {
    "class.yaml": 'target: base\npython_version: "3.11"\n',
    "requirements.txt": "numpy\n",
}
R_CLASS = {
    "class.yaml": 'target: r_lang\npython_version: "3.11"\n',
    "requirements.txt": "r-base=4.3.*\nr-irkernel\n",
}


def write_tree(root: Path, common: dict[str, str], classes: dict[str, dict[str, str]]) -> Path:
    for name, text in common.items():
        (root / "common").mkdir(parents=True, exist_ok=True)
        (root / "common" / name).write_text(text)
    for cls, files in classes.items():
        folder = root / "classes" / cls
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            (folder / name).write_text(text)
    return root


MakeCatalog = Callable[..., Catalog]


@pytest.fixture
def make_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeCatalog:
    """Write a small requirements tree and load it; finding paths are relative to tmp_path."""
    monkeypatch.chdir(tmp_path)

    def make(classes: dict[str, dict[str, str]], common: dict[str, str] | None = None) -> Catalog:
        root = write_tree(tmp_path / "requirements", common or {"requirements.txt": "ipykernel\n"}, classes)
        return load_catalog(root)

    return make


def lines(catalog: Catalog) -> list[str]:
    return [f.format() for f in catalog.all_findings()]
