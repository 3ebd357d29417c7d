"""Release ordering: an interruption at every point (store gone after N writes, a failed push)
leaves a state students never see mixed, and the next run converges: registry and store agree.

Against the real registry and both store backends (local folder, GCS emulator).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from jh_pipeline.defs.image_steps import RecordedImage
from jh_pipeline.defs.release_steps import ReleaseOutcome, release_image, release_is_complete
from jh_pipeline.release.hub import Z2JH_VALUES
from jh_pipeline.release.records import read_record
from jh_pipeline.store import LocalStore
from jh_pipeline.store.base import LATEST, ArtifactStore
from jh_pipeline.release.index import indexed_sets
from tests.release.conftest import CLASS, SHA, Bench, restore, snapshot
from tests.release.faults import FlakyRegistry, Interrupted, store_faults

pytestmark = pytest.mark.docker


def release(bench: Bench, image: RecordedImage, registry: object | None = None, force: bool = False) -> ReleaseOutcome:
    return release_image(bench.store, registry or bench.docker, image, CLASS, catalog=bench.catalog,  # type: ignore[arg-type]
                         sha=SHA, force=force, log=lambda _: None)


def assert_released(bench: Bench, image: RecordedImage) -> None:
    """Registry and store agree on `image`, and students are linked to its immutable set."""
    digest = bench.digests[image.tag]
    for tag in (LATEST, bench.semester, SHA):
        assert bench.digest(tag) == digest, tag
    store = bench.store
    assert store.pointer_is_current(bench.semester, CLASS, LATEST, image.tag)
    past = store.read_set_files(bench.semester, CLASS, image.tag)
    prefix = f"{bench.semester}/{CLASS}/{LATEST}"
    assert {p: store.read_bytes(f"{prefix}/{p}") for p in past} == past  # the folder itself, byte for byte
    record = read_record(store, bench.semester, CLASS, image.tag)
    assert record is not None and record.digest == digest and record.size_bytes > 0
    assert indexed_sets(store, bench.semester)[CLASS][LATEST] == image.tag
    assert f"{image.tag}@{digest}" in past[Z2JH_VALUES].decode()
    assert release_is_complete(store, bench.docker, image, CLASS, digest)


def assert_never_mixed(store: ArtifactStore, semester: str, sets: set[str]) -> None:
    """What a reader gets mid-way: the manifest names a complete set; the index links only past/ files."""
    got = store.read_pointer_set(semester, CLASS, LATEST)
    if got is not None:
        manifest, files = got
        assert manifest.set_id in sets and manifest.files_at == f"{semester}/{CLASS}/past/{manifest.set_id}"
        assert files == store.read_set_files(semester, CLASS, manifest.set_id)
        if isinstance(store, LocalStore):  # atomic swap: even the folder itself is one set
            latest = store.root / semester / CLASS / LATEST
            assert {p: (latest / p).read_bytes() for p in files} == files
    index = f"{semester}/index.html"
    if store.exists(index):
        hrefs = re.findall(r'href="([^"#]+)"', store.read_bytes(index).decode())
        assert hrefs and all(h.startswith(f"{CLASS}/past/") for h in hrefs), hrefs
        for href in hrefs:  # every link resolves to a complete set's file
            set_id = href.split("/")[2]
            assert store.has_set(semester, CLASS, set_id) and store.exists(f"{semester}/{href}")


def phase(effect: str) -> str:
    for name in ("/past/", "/releases/", "index."):
        if name in effect:
            return name.strip("/.")
    return "switch"  # latest/ (GCS) or its staging folder and symlink (local)


def interruption_points(trace: list[str]) -> list[int]:
    """Before the first, middle and last change of every phase (publish, record, switch, index)."""
    points: set[int] = set()
    by_phase: dict[str, list[int]] = {}
    for i, effect in enumerate(trace):
        by_phase.setdefault(phase(effect), []).append(i)
    for indexes in by_phase.values():
        points |= {indexes[0], indexes[len(indexes) // 2], indexes[-1]}
    return sorted(points)


def test_release_publishes_then_moves_registry_then_store_then_index(bench: Bench) -> None:
    first = release(bench, bench.a)
    assert not first.skipped
    assert_released(bench, bench.a)
    with store_faults(bench.store) as trace:
        registry = FlakyRegistry(bench.docker)
        out = release(bench, bench.b, registry)
    assert not out.skipped and registry.pushed == [f"{bench.repository}:{t}" for t in (LATEST, bench.semester, SHA)]
    assert_released(bench, bench.b)
    order = [phase(e) for e in trace]
    # the documented order: set, (registry), record, pointer, index.html then index.json last
    assert order == sorted(order, key=["past", "releases", "switch", "index"].index), order
    assert trace[-1].split()[-1].endswith("index.json") and trace[-2].split()[-1].endswith("index.html")
    again = release(bench, bench.b)
    assert again.skipped  # nothing to do: a hash and a few lookups
    record = read_record(bench.store, bench.semester, CLASS, bench.b.tag)
    assert record is not None and record == out.record  # the first release's date stays


def test_every_interruption_converges_on_rerun(bench: Bench, tmp_path: Path) -> None:
    release(bench, bench.a)
    saved = snapshot(bench.store, tmp_path / "saved")
    with store_faults(bench.store) as trace:
        release(bench, bench.b)
    points = interruption_points(trace)
    assert {phase(trace[p]) for p in points} == {"past", "releases", "switch", "index"}

    def reset() -> None:
        restore(bench.store, saved, trace)
        bench.docker.retag_and_push(bench.a.ref, [f"{bench.repository}:{t}" for t in (LATEST, bench.semester, SHA)],
                                    lambda _: None)

    cases: list[tuple[str, int | None, int | None]] = [("store", n, None) for n in points]
    cases += [("registry", None, pushes) for pushes in (0, 1, 2)]  # the 1st, 2nd, 3rd tag fails
    for kind, writes, pushes in cases:
        reset()
        registry = FlakyRegistry(bench.docker, pushes_left=pushes)
        with pytest.raises(Interrupted), store_faults(bench.store, budget=writes):
            release(bench, bench.b, registry)
        assert_never_mixed(bench.store, bench.semester, {bench.a.tag, bench.b.tag})
        assert not release_is_complete(bench.store, bench.docker, bench.b, CLASS, bench.digests[bench.b.tag]), (kind, writes, pushes)
        rerun = release(bench, bench.b)
        assert not rerun.skipped, (kind, writes, pushes)
        assert_released(bench, bench.b)
