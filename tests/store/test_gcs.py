"""GCS backend specifics, against the emulator with the real google-cloud-storage client."""

from __future__ import annotations

import uuid

from google.auth.credentials import AnonymousCredentials

from jh_pipeline.store import GCSStore, make_gcs_client
from tests.store.conftest import BUCKET


def test_emulator_client_is_anonymous(emulator_env: str) -> None:
    client = make_gcs_client()
    assert isinstance(client._credentials, AnonymousCredentials)
    assert client.project == "test"


def test_object_names_carry_the_prefix(emulator_env: str) -> None:
    prefix = f"envs-{uuid.uuid4().hex[:8]}"
    store = GCSStore(BUCKET, prefix=f"/{prefix}/")  # slashes are normalised away
    store.publish_set("spring-2026", "php2691", "0123abc", {"conda/environment.yml": b"x"})
    store.switch_latest("spring-2026", "php2691", "0123abc")

    client = make_gcs_client()
    names = sorted(b.name for b in client.list_blobs(BUCKET, prefix=f"{prefix}/"))
    base = f"{prefix}/spring-2026/php2691"
    assert names == [
        f"{base}/latest/MANIFEST.json",
        f"{base}/latest/conda/environment.yml",
        f"{base}/past/0123abc/MANIFEST.json",
        f"{base}/past/0123abc/conda/environment.yml",
    ]
    bucket = client.bucket(BUCKET)
    latest_env = bucket.get_blob(f"{base}/latest/conda/environment.yml")
    assert latest_env.content_type.startswith("text/plain")
    assert latest_env.cache_control == "no-cache"
    assert bucket.get_blob(f"{base}/latest/MANIFEST.json").content_type == "application/json"
    assert bucket.get_blob(f"{base}/past/0123abc/conda/environment.yml").cache_control is None


def test_console_folder_placeholders_are_not_keys(emulator_env: str) -> None:
    prefix = f"f-{uuid.uuid4().hex[:8]}"
    make_gcs_client().bucket(BUCKET).blob(f"{prefix}/spring-2026/").upload_from_string(b"")
    store = GCSStore(BUCKET, prefix=prefix)
    store.write_bytes("spring-2026/a.txt", b"a")
    assert store.list() == ["spring-2026/a.txt"]
