"""The pure release logic: pointer stack and rollback target, package diffs, history, hub settings."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import yaml

from jh_pipeline.envs.student_readme import stamp_release
from jh_pipeline.release.history import diff_packages, format_history, history_rows
from jh_pipeline.release.hub import DOCKERSPAWNER_CONFIG, Z2JH_VALUES, hub_files
from jh_pipeline.release.pointers import PointerError, PointerMove, rollback_target, stack
from jh_pipeline.release.records import ReleaseRecord, package_versions

DIGEST = "sha256:" + "ab" * 32


def move(action: str, set_id: str, minute: int) -> PointerMove:
    return PointerMove(action=action, set_id=set_id, digest=DIGEST, by="t",  # type: ignore[arg-type]
                       at=datetime(2026, 11, 1, 12, minute, tzinfo=UTC))


def test_rollback_walks_back_through_promotions_never_back_and_forth() -> None:
    log = [move("promote", "a", 1), move("promote", "b", 2), move("promote", "c", 3)]
    assert stack(log) == ["a", "b", "c"] and rollback_target(log) == "b"
    log.append(move("rollback", "b", 4))
    assert stack(log) == ["a", "b"] and rollback_target(log) == "a"
    log.append(move("rollback", "a", 5))
    with pytest.raises(PointerError, match="nothing to roll back to.*one set \\(a\\)"):
        rollback_target(log)
    with pytest.raises(PointerError, match="no set"):
        rollback_target([])
    # rolling back to a set that never was production pushes it
    assert stack([move("promote", "a", 1), move("rollback", "z", 2)]) == ["a", "z"]


def test_package_versions_of_a_set() -> None:
    files = {
        "conda/environment.yml": b"name: x\ndependencies:\n  - python=3.11.9=h1_cpython\n  - numpy=2.1.3=py_0\n"
                                 b"  - pip:\n    - Tabulate==0.9.0\n",
        "conda/requirements.pip.lock": b"attrs==24.2.0 \\\n    --hash=sha256:00\nfoo @ git+https://x/y@abc\n",
        "julia/Manifest.toml": b'[[deps.IJulia]]\nversion = "1.26.0"\n[[deps.Random]]\nuuid = "9a3f"\n',
        "server/environment.yml": b"dependencies:\n  - jupyterlab=4.3.0=py\n",  # the server env is not the class's
    }
    assert package_versions(files) == {
        "conda:numpy": "2.1.3", "conda:python": "3.11.9", "julia:IJulia": "1.26.0", "julia:Random": "stdlib",
        "pip:attrs": "24.2.0", "pip:tabulate": "0.9.0",
    }


def record(set_id: str, day: int, packages: dict[str, str]) -> ReleaseRecord:
    return ReleaseRecord(semester="fall-2026", class_name="demo", set_id=set_id, repository="r/demo", digest=DIGEST,
                         size_bytes=1_234_000_000, released_at=datetime(2026, 11, day, 9, 30, tzinfo=UTC),
                         packages=packages)


def test_history_lists_changes_and_pointers() -> None:
    changes = diff_packages({"a": "1", "b": "1", "c": "1"}, {"a": "1", "b": "2", "d": "1"})
    assert (changes.added, changes.removed, changes.changed) == ({"d": "1"}, {"c": "1"}, {"b": ("1", "2")})

    records = [record("c-2", 2, {"conda:numpy": "2.1", "pip:x": "1"}), record("c-1", 1, {"conda:numpy": "2.0"}),
               record("c-3", 3, {"conda:numpy": "2.1", "pip:x": "1"})]
    rows = history_rows(records, {"latest": "c-3", "production": "c-2"})
    assert [r.record.set_id for r in rows] == ["c-1", "c-2", "c-3"]
    assert rows[0].first and rows[2].changes.empty and rows[1].pointers == ("production",)
    text = format_history("demo", "fall-2026", rows)
    assert text.splitlines() == [
        "demo (fall-2026): 3 release(s), newest first",
        f"2026-11-03 09:30Z  c-3  {DIGEST}  1.23 GB  [latest]",
        "    no package changes",
        f"2026-11-02 09:30Z  c-2  {DIGEST}  1.23 GB  [production]",
        "    + pip:x 1",
        "    ~ conda:numpy 2.0 -> 2.1",
        f"2026-11-01 09:30Z  c-1  {DIGEST}  1.23 GB",
        "    first release: 1 packages",
    ]
    assert format_history("demo", "fall-2026", []) == "demo (fall-2026): nothing released yet\n"


def test_hub_files_pin_the_digest() -> None:
    files = hub_files("127.0.0.1:5000/ns/demo", "c-1", DIGEST, class_name="demo", semester="fall-2026")
    values = yaml.safe_load(files[Z2JH_VALUES])
    assert values["singleuser"]["image"] == {"name": "127.0.0.1:5000/ns/demo", "tag": f"c-1@{DIGEST}"}
    assert values["singleuser"]["uid"] == 1000
    spawner = files[DOCKERSPAWNER_CONFIG].decode()
    namespace: dict[str, object] = {}

    class C:
        class DockerSpawner:
            image = ""

    exec(spawner, {"c": C}, namespace)  # the line runs as written in jupyterhub_config.py
    assert C.DockerSpawner.image == f"127.0.0.1:5000/ns/demo@{DIGEST}"
    with pytest.raises(ValueError, match="not a digest"):
        hub_files("r/demo", "c-1", "latest", class_name="demo", semester="fall-2026")


def test_release_stamp_names_the_permanent_folder_once() -> None:
    once = stamp_release("# demo\n\ntext\n", class_name="demo", semester="fall-2026", set_id="c-1", folder="conda")
    assert "`fall-2026/demo/past/c-1/conda/`" in once and once.endswith("# demo\n\ntext\n")
    again = stamp_release(once, class_name="demo", semester="fall-2026", set_id="c-2", folder="conda")
    assert "c-1" not in again and again.count("Release `c-2`") == 1 and again.endswith("# demo\n\ntext\n")
