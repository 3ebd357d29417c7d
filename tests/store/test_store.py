"""Contract tests run against both backends (local directory and the real GCS client + emulator)."""

from __future__ import annotations

import json

import pytest

from jh_pipeline.store import (
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    ArtifactStore,
    GCSStore,
    InvalidKeyError,
    LocalStore,
)

SEM, CLS = "spring-2026", "biol1435"
SET_A = {
    "conda/environment.yml": b"name: biol1435\ndependencies: [python=3.12]\n",
    "conda/only-in-a.txt": b"old\n",
    "julia/Project.toml": b'[deps]\nDataFrames = "a93c6f00"\n',
}
SET_B = {
    "conda/environment.yml": b"name: biol1435\ndependencies: [python=3.12, numpy]\n",
    "conda/conda-linux-64.lock": b"@EXPLICIT\nhttps://example.invalid/numpy.conda#abc\n",
}


def test_write_read_list_exists(store: ArtifactStore) -> None:
    store.write_bytes("a/b/one.txt", b"1")
    store.write_bytes("a/b/two.txt", b"2", content_type="text/plain")
    store.write_bytes("a/c/three.txt", b"3")
    store.write_bytes("ab/four.txt", b"4")
    store.write_bytes("a/b/one.txt", b"one")  # overwrite

    assert store.read_bytes("a/b/one.txt") == b"one"
    assert store.exists("a/b/two.txt")
    assert not store.exists("a/b/missing.txt")
    assert not store.exists("a/b")  # a "directory" is not a key
    with pytest.raises(ArtifactNotFoundError):
        store.read_bytes("a/b/missing.txt")

    assert store.list() == ["a/b/one.txt", "a/b/two.txt", "a/c/three.txt", "ab/four.txt"]
    # Prefixes are directory-like: "a" does not match "ab/...".
    assert store.list("a") == ["a/b/one.txt", "a/b/two.txt", "a/c/three.txt"]
    assert store.list("a/b/") == ["a/b/one.txt", "a/b/two.txt"]
    assert store.list("nothing") == []

    store.delete("a/b/one.txt")
    store.delete("a/b/one.txt")  # missing: ignored
    assert store.list("a/b") == ["a/b/two.txt"]


BAD_KEYS = ["", "/abs", "a//b", "a/../b", "a/./b", "a/", "a/.jh-tmp-x", "a\\b"]


@pytest.mark.parametrize("bad", BAD_KEYS)
def test_invalid_keys_rejected(store: ArtifactStore, bad: str) -> None:
    with pytest.raises(InvalidKeyError):
        store.write_bytes(bad, b"x")


def test_uri(store: ArtifactStore) -> None:
    key = f"{SEM}/{CLS}/latest/conda/environment.yml"
    if isinstance(store, GCSStore):
        assert store.uri(key) == f"gs://jh-test/{store.prefix}/{key}"
    else:
        assert isinstance(store, LocalStore)
        assert store.uri(key) == (store.root / key).as_uri()


def test_publish_set_layout_and_manifest(store: ArtifactStore) -> None:
    keys = store.publish_set(SEM, CLS, "abc123", SET_A)
    base = "spring-2026/biol1435/past/abc123"
    assert keys == [
        f"{base}/conda/environment.yml",
        f"{base}/conda/only-in-a.txt",
        f"{base}/julia/Project.toml",
        f"{base}/MANIFEST.json",
    ]
    assert store.list(SEM) == sorted(keys)
    assert store.has_set(SEM, CLS, "abc123")
    assert store.read_set_files(SEM, CLS, "abc123") == SET_A

    manifest = json.loads(store.read_bytes(f"{base}/MANIFEST.json"))
    assert manifest["set_id"] == "abc123"
    assert manifest["semester"] == SEM and manifest["class_name"] == CLS
    assert set(manifest["files"]) == set(SET_A)
    assert manifest["files"]["conda/only-in-a.txt"]["size"] == 4

    # Identical content again: same keys, nothing changes.
    before = store.read_bytes(f"{base}/MANIFEST.json")
    assert store.publish_set(SEM, CLS, "abc123", SET_A) == keys
    assert store.read_bytes(f"{base}/MANIFEST.json") == before


def test_half_written_set_is_absent(store: ArtifactStore) -> None:
    base = f"{SEM}/{CLS}/past/deadbeef"
    store.write_bytes(f"{base}/conda/environment.yml", b"partial")  # crash before the manifest
    assert not store.has_set(SEM, CLS, "deadbeef")
    assert store.read_set_manifest(SEM, CLS, "deadbeef") is None
    with pytest.raises(ArtifactNotFoundError):
        store.switch_latest(SEM, CLS, "deadbeef")
    assert store.read_latest_manifest(SEM, CLS) is None

    # Completing the publish makes it present; files of the crashed attempt are not kept.
    store.write_bytes(f"{base}/conda/stale.txt", b"from the crashed attempt")
    store.publish_set(SEM, CLS, "deadbeef", SET_B)
    assert store.has_set(SEM, CLS, "deadbeef")
    assert store.list(base) == sorted(f"{base}/{p}" for p in [*SET_B, "MANIFEST.json"])


def test_republish_with_different_content_replaces_set(store: ArtifactStore) -> None:
    store.publish_set(SEM, CLS, "s1", SET_A)
    store.publish_set(SEM, CLS, "s1", SET_B)
    assert store.read_set_files(SEM, CLS, "s1") == SET_B
    assert sorted(store.read_set_manifest(SEM, CLS, "s1").files) == sorted(SET_B)


def test_switch_latest_replaces_older_set_completely(store: ArtifactStore) -> None:
    store.publish_set(SEM, CLS, "aaa", SET_A)
    store.publish_set(SEM, CLS, "bbb", SET_B)
    latest = f"{SEM}/{CLS}/latest"

    store.switch_latest(SEM, CLS, "aaa")
    assert store.read_latest_manifest(SEM, CLS).set_id == "aaa"
    assert store.list(latest) == sorted(f"{latest}/{p}" for p in [*SET_A, "MANIFEST.json"])

    manifest = store.switch_latest(SEM, CLS, "bbb")
    assert manifest.set_id == "bbb"
    assert store.read_latest_manifest(SEM, CLS).set_id == "bbb"
    # Stale files of set A (only-in-a.txt, julia/) are gone; the rest is set B's content.
    assert store.list(latest) == sorted(f"{latest}/{p}" for p in [*SET_B, "MANIFEST.json"])
    for path, data in SET_B.items():
        assert store.read_bytes(f"{latest}/{path}") == data
    assert json.loads(store.read_bytes(f"{latest}/MANIFEST.json"))["set_id"] == "bbb"

    got = store.read_latest_set(SEM, CLS)
    assert got is not None and got[0].set_id == "bbb" and got[1] == SET_B

    # past/ sets stay untouched.
    assert store.read_set_files(SEM, CLS, "aaa") == SET_A
    # Switching again is harmless.
    store.switch_latest(SEM, CLS, "bbb")
    assert store.list(latest) == sorted(f"{latest}/{p}" for p in [*SET_B, "MANIFEST.json"])


def test_switch_latest_finishes_an_interrupted_switch(store: ArtifactStore) -> None:
    store.publish_set(SEM, CLS, "aaa", SET_A)
    store.switch_latest(SEM, CLS, "aaa")
    store.publish_set(SEM, CLS, "bbb", SET_B)
    latest = f"{SEM}/{CLS}/latest"
    # Simulate a switch that died midway: one new file copied, manifest still naming "aaa".
    store.write_bytes(f"{latest}/conda/conda-linux-64.lock", SET_B["conda/conda-linux-64.lock"])
    assert store.read_latest_manifest(SEM, CLS).set_id == "aaa"

    store.switch_latest(SEM, CLS, "bbb")
    assert store.list(latest) == sorted(f"{latest}/{p}" for p in [*SET_B, "MANIFEST.json"])


def test_switch_back_repairs_files_of_a_crashed_switch(store: ArtifactStore) -> None:
    store.publish_set(SEM, CLS, "aaa", SET_A)
    store.publish_set(SEM, CLS, "bbb", SET_B)
    store.switch_latest(SEM, CLS, "aaa")
    latest = f"{SEM}/{CLS}/latest"
    # A switch to "bbb" died after overwriting one file; the manifest still names "aaa".
    store.write_bytes(f"{latest}/conda/environment.yml", SET_B["conda/environment.yml"])

    store.switch_latest(SEM, CLS, "aaa")
    assert store.list(latest) == sorted(f"{latest}/{p}" for p in [*SET_A, "MANIFEST.json"])
    for path, data in SET_A.items():
        assert store.read_bytes(f"{latest}/{path}") == data


def test_switch_latest_refuses_corrupt_set(store: ArtifactStore) -> None:
    store.publish_set(SEM, CLS, "aaa", SET_A)
    store.switch_latest(SEM, CLS, "aaa")
    store.publish_set(SEM, CLS, "bbb", SET_B)
    store.write_bytes(f"{SEM}/{CLS}/past/bbb/conda/environment.yml", b"tampered")

    with pytest.raises(ArtifactIntegrityError):
        store.switch_latest(SEM, CLS, "bbb")
    assert store.read_latest_manifest(SEM, CLS).set_id == "aaa"
    assert store.read_bytes(f"{SEM}/{CLS}/latest/julia/Project.toml") == SET_A["julia/Project.toml"]


@pytest.mark.parametrize(
    "files",
    [{}, {"MANIFEST.json": b"x"}, {"R/packages.R": b"x"}, {"conda": b"x"}, {"conda/../x": b"x"}],
)
def test_publish_set_rejects_bad_paths(store: ArtifactStore, files: dict[str, bytes]) -> None:
    with pytest.raises(InvalidKeyError):
        store.publish_set(SEM, CLS, "abc", files)
    assert store.list() == []


@pytest.mark.parametrize(
    ("semester", "class_name", "set_id"),
    [("spring/2026", CLS, "a"), (SEM, "..", "a"), (SEM, CLS, "a/b"), (SEM, CLS, "")],
)
def test_names_are_single_segments(
    store: ArtifactStore, semester: str, class_name: str, set_id: str
) -> None:
    with pytest.raises(InvalidKeyError):
        store.publish_set(semester, class_name, set_id, SET_A)


def test_production_is_a_pointer_like_latest(store: ArtifactStore) -> None:
    store.publish_set(SEM, CLS, "aaa", SET_A)
    store.publish_set(SEM, CLS, "bbb", SET_B)
    store.switch_latest(SEM, CLS, "bbb")
    manifest = store.switch_pointer(SEM, CLS, "production", "aaa")
    # The pointer's manifest names its set and the immutable folder holding exactly these files.
    assert manifest.set_id == "aaa" and manifest.files_at == f"{SEM}/{CLS}/past/aaa"
    assert store.read_set_manifest(SEM, CLS, "aaa").files_at is None  # a set's own manifest is unchanged
    got = store.read_pointer_set(SEM, CLS, "production")
    assert got is not None and got[1] == SET_A
    production = f"{SEM}/{CLS}/production"
    assert store.list(production) == sorted(f"{production}/{p}" for p in [*SET_A, "MANIFEST.json"])
    assert store.read_latest_manifest(SEM, CLS).set_id == "bbb"  # the pointers move independently
    assert store.pointer_is_current(SEM, CLS, "production", "aaa")
    assert not store.pointer_is_current(SEM, CLS, "production", "bbb")
    with pytest.raises(InvalidKeyError, match="unknown pointer"):
        store.switch_pointer(SEM, CLS, "stable", "aaa")


def test_a_switch_that_stopped_before_cleaning_up_is_not_current(store: ArtifactStore) -> None:
    store.publish_set(SEM, CLS, "aaa", SET_A)
    store.publish_set(SEM, CLS, "bbb", SET_B)
    store.switch_latest(SEM, CLS, "bbb")
    assert store.pointer_is_current(SEM, CLS, "latest", "bbb")
    # a leftover file of the old set next to the new manifest (GCS: a switch died before its deletes)
    store.write_bytes(f"{SEM}/{CLS}/latest/conda/only-in-a.txt", b"old\n")
    assert not store.pointer_is_current(SEM, CLS, "latest", "bbb")
    store.switch_latest(SEM, CLS, "bbb")
    assert store.pointer_is_current(SEM, CLS, "latest", "bbb")
