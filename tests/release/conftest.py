"""A released-image bench for the release tests, built from the session's demo release.

The session's demo image (``demo_release``) is image A; image B is A plus one label (a new digest,
built in seconds). Each test gets its own registry namespace (``<registry>/rt<id>/demo``) and its own
store (local folder or GCS emulator prefix) holding the env sets both images were "built from";
B's class set differs in its package versions, so history has changes to show.
"""

from __future__ import annotations

import io
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg
import docker
import pytest

from jh_pipeline.catalog import Catalog, load_catalog
from jh_pipeline.defs.image_steps import RecordedImage
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.store import ArtifactStore, GCSStore, LocalStore
from tests.defs.e2e import E2E, metadata
from tests.store.conftest import BUCKET, emulator_env  # noqa: F401 (fixture)

CLASS = "demo"
TAG_A, TAG_B = "c-aaaaaaaaaaaa", "c-bbbbbbbbbbbb"
ENV_B = "envbbbbbbbbb"  # B's class env set
SHA = "0123456789ab"  # the git sha tag a release pushes
B_LABEL = "org.jh-pipeline.test-release"


@dataclass(frozen=True)
class SessionImages:
    a_local: str  # the demo image, by its content tag
    b_local: str  # the demo image plus a label
    semester: str
    sets: list[dict[str, str]]  # what A was built from: server env set, class env set
    files: dict[tuple[str, str, str], dict[str, bytes]]  # (semester, owner, set id) -> files
    b_sets: list[dict[str, str]]


def _env_b(files: dict[str, bytes]) -> dict[str, bytes]:
    """A's class env with one package more, one less and one version moved: what history must show."""
    env = files["conda/environment.yml"].decode()
    lines = env.splitlines()
    deps = [i for i, line in enumerate(lines) if line.startswith("  - ") and "=" in line]
    name, version, *rest = lines[deps[-1]][4:].split("=")
    lines[deps[-1]] = "  - " + "=".join([name, version + ".post1", *rest])  # version change
    removed = lines.pop(deps[0])  # a removed package
    lines.insert(deps[0], "  - zz-added-package=1.0=0")  # an added one
    assert removed != lines[deps[0]]
    return {**files, "conda/environment.yml": ("\n".join(lines) + "\n").encode()}


@pytest.fixture(scope="session")
def release_images(
    demo_e2e: E2E, demo_release: dg.ExecuteInProcessResult, docker_engine: docker.DockerClient
) -> Iterator[SessionImages]:
    if not demo_release.success:
        pytest.fail("the demo class did not release: see tests/defs/test_image_e2e.py")
    image = metadata(demo_release, "demo/image")
    ref = str(image["ref"])
    try:
        docker_engine.images.get(ref)
    except docker.errors.ImageNotFound:
        docker_engine.images.pull(ref.rsplit(":", 1)[0], tag=ref.rsplit(":", 1)[1])
    b_local = f"jh-release-test/demo-b:{uuid.uuid4().hex[:8]}"
    dockerfile = f"FROM {ref}\nLABEL {B_LABEL}=b\n".encode()
    docker_engine.images.build(fileobj=io.BytesIO(dockerfile), tag=b_local, network_mode="host", rm=True, pull=False)
    sets = list(image["sets"])
    files = {(s["semester"], s["owner"], s["set_id"]): demo_e2e.store.read_set_files(s["semester"], s["owner"], s["set_id"])
             for s in sets}
    class_set = next(s for s in sets if s["owner"] == CLASS)
    files[(class_set["semester"], CLASS, ENV_B)] = _env_b(files[(class_set["semester"], CLASS, class_set["set_id"])])
    b_sets = [s if s["owner"] != CLASS else {**s, "set_id": ENV_B} for s in sets]
    try:
        yield SessionImages(ref, b_local, str(image["semester"]), sets, files, b_sets)
    finally:
        docker_engine.images.remove(b_local, force=True)  # ours; the demo image stays


@dataclass
class Bench:
    store: ArtifactStore
    docker: DockerResource  # registry = <session registry>/<namespace>
    catalog: Catalog
    repo: Path
    semester: str
    a: RecordedImage
    b: RecordedImage
    digests: dict[str, str]  # content tag -> digest in the registry

    @property
    def repository(self) -> str:
        return self.docker.repository(CLASS)

    def digest(self, tag: str) -> str | None:
        return self.docker.remote_digest(f"{self.repository}:{tag}")


@pytest.fixture(params=["local", "gcs"])
def bench(request: pytest.FixtureRequest, release_images: SessionImages, registry: str, demo_e2e: E2E,
          tmp_path: Path) -> Iterator[Bench]:
    store: ArtifactStore
    if request.param == "local":
        store = LocalStore(tmp_path / "store")
    else:
        request.getfixturevalue("emulator_env")
        store = GCSStore(BUCKET, prefix=f"rel-{uuid.uuid4().hex[:12]}")
    for (semester, owner, set_id), files in release_images.files.items():
        store.publish_set(semester, owner, set_id, files)
    namespace = f"rt{uuid.uuid4().hex[:8]}"
    resource = DockerResource(registry=f"{registry}/{namespace}")
    repository = resource.repository(CLASS)
    digests = {}
    for local, tag in ((release_images.a_local, TAG_A), (release_images.b_local, TAG_B)):
        digests[tag] = resource.retag_and_push(local, [f"{repository}:{tag}"], lambda _: None)[f"{repository}:{tag}"]
    semester = release_images.semester
    a = RecordedImage(TAG_A, f"{repository}:{TAG_A}", semester, release_images.sets)
    b = RecordedImage(TAG_B, f"{repository}:{TAG_B}", semester, release_images.b_sets)
    yield Bench(store, resource, load_catalog(demo_e2e.root / "repo" / "requirements"), demo_e2e.root / "repo",
                semester, a, b, digests)
    client = docker.from_env()
    for tag in (TAG_A, TAG_B, "latest", semester, SHA, "production"):
        try:  # local tags of our namespace only; registry data goes with the session's registry
            client.images.remove(f"{repository}:{tag}")
        except docker.errors.APIError:
            pass


def snapshot(store: ArtifactStore, tmp: Path) -> Any:
    """A copy of the whole store, to start every interruption from the same state."""
    if isinstance(store, LocalStore):
        shutil.copytree(store.root, tmp, symlinks=True)
        return tmp
    return {key: store.read_bytes(key) for key in store.list()}


def restore(store: ArtifactStore, saved: Any, touched: list[str] | None = None) -> None:
    """Back to the snapshot. On GCS only the keys a complete run `touched` (its trace of
    `write_bytes KEY` / `delete KEY`) can differ, so only those are rewritten (HTTP calls are slow)."""
    if isinstance(store, LocalStore):
        shutil.rmtree(store.root)
        shutil.copytree(saved, store.root, symlinks=True)
        return
    keys = {effect.split(" ", 1)[1] for effect in touched} if touched is not None else set(store.list()) | set(saved)
    for key in sorted(keys):
        if key in saved:
            store.write_bytes(key, saved[key])
        else:
            store.delete(key)
