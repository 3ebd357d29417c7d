"""Local backend specifics: the symlink swap behind ``latest`` and the default root."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from jh_pipeline.store import LocalStore, default_local_root

SEM, CLS = "fall-2025", "apma0365"


def test_latest_is_an_atomic_symlink_and_old_staging_is_removed(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.publish_set(SEM, CLS, "a1", {"conda/environment.yml": b"a"})
    store.publish_set(SEM, CLS, "b2", {"conda/environment.yml": b"b"})
    class_dir = tmp_path / SEM / CLS

    store.switch_latest(SEM, CLS, "a1")
    first = os.readlink(class_dir / "latest")
    store.switch_latest(SEM, CLS, "b2")
    second = os.readlink(class_dir / "latest")

    assert (class_dir / "latest").is_symlink() and first != second
    assert not Path(first).is_absolute()  # relative: the tree can be moved
    assert (class_dir / "latest" / "conda" / "environment.yml").read_bytes() == b"b"
    # Only the live staging directory remains; no temp links or files.
    assert sorted(p.name for p in class_dir.iterdir()) == sorted(["latest", "past", second])


def test_plain_latest_directory_is_replaced(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    legacy = tmp_path / SEM / CLS / "latest" / "conda"
    legacy.mkdir(parents=True)
    (legacy / "environment.yml").write_text("hand-made\n")
    store.publish_set(SEM, CLS, "a1", {"conda/environment.yml": b"a"})

    store.switch_latest(SEM, CLS, "a1")
    assert store.list(f"{SEM}/{CLS}/latest") == [
        f"{SEM}/{CLS}/latest/MANIFEST.json",
        f"{SEM}/{CLS}/latest/conda/environment.yml",
    ]
    assert store.read_bytes(f"{SEM}/{CLS}/latest/conda/environment.yml") == b"a"


def test_delete_prunes_empty_directories(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.write_bytes("x/y/z.txt", b"1")
    store.delete("x/y/z.txt")
    assert list(tmp_path.iterdir()) == []


def test_default_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert default_local_root({"DAGSTER_HOME": "/srv/dagster"}) == Path("/srv/dagster/jh_artifacts")
    assert default_local_root({}) == Path(".jh_artifacts")
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    assert LocalStore().root == tmp_path / ".jh_artifacts"
    monkeypatch.setenv("DAGSTER_HOME", str(tmp_path / "home"))
    assert LocalStore().root == tmp_path / "home" / "jh_artifacts"
