from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

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


def _write(path: Path, content: str | bytes) -> None:
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content)


def write_tree(
    root: Path, common: dict[str, str | bytes], classes: dict[str, dict[str, str | bytes]]
) -> Path:
    """Files of requirements/common and requirements/classes/<class>; class names may hold '/' (nested)."""
    for name, text in common.items():
        (root / "common").mkdir(parents=True, exist_ok=True)
        _write(root / "common" / name, text)
    for cls, files in classes.items():
        folder = root / "classes" / cls
        folder.mkdir(parents=True, exist_ok=True)
        for name, text in files.items():
            _write(folder / name, text)
    return root


MakeCatalog = Callable[..., Catalog]


# The day the rules are judged on in these tests: every Python of BASE_CLASS/R_CLASS is supported then.
TODAY = date(2026, 3, 1)


@pytest.fixture
def make_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeCatalog:
    """Write a small requirements tree and load it; finding paths are relative to tmp_path.

    Keyword arguments go to load_catalog (`today` defaults to TODAY).
    """
    monkeypatch.chdir(tmp_path)

    def make(
        classes: dict[str, dict[str, str | bytes]], common: dict[str, str | bytes] | None = None, **options: Any
    ) -> Catalog:
        root = write_tree(tmp_path / "requirements", common or {"requirements.txt": "ipykernel\n"}, classes)
        return load_catalog(root, **{"today": TODAY, **options})

    return make


def lines(catalog: Catalog) -> list[str]:
    return [f.format() for f in catalog.all_findings()]
