"""Google Cloud Storage artifact store (``gs://<bucket>/<prefix>/<semester>/<class>/...``)."""

from __future__ import annotations

import contextlib
import os
from functools import cached_property

from google.api_core.exceptions import NotFound
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage  # type: ignore[import-untyped]
from google.cloud.storage.retry import DEFAULT_RETRY  # type: ignore[import-untyped]

from jh_pipeline.store.base import (
    ArtifactNotFoundError,
    ArtifactStore,
    is_latest_key,
    normalize_prefix,
    validate_key,
)

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"


def make_gcs_client(project: str | None = None) -> storage.Client:
    """A real client; with STORAGE_EMULATOR_HOST set it talks to the emulator anonymously."""
    if os.environ.get(EMULATOR_ENV):
        return storage.Client(project=project or "test", credentials=AnonymousCredentials())  # type: ignore[no-untyped-call]
    return storage.Client(project=project)  # application default credentials


class GCSStore(ArtifactStore):
    """Objects in one bucket under an optional prefix. The client is created on first use, so
    building the store (e.g. at Dagster resource init) needs no credentials yet."""

    def __init__(
        self,
        bucket: str,
        prefix: str = "",
        project: str | None = None,
        client: storage.Client | None = None,
    ) -> None:
        self.bucket_name = bucket
        self.prefix = normalize_prefix(prefix)
        self.project = project
        self._client = client

    @cached_property
    def client(self) -> storage.Client:
        return self._client or make_gcs_client(self.project)

    @cached_property
    def bucket(self) -> storage.Bucket:
        return self.client.bucket(self.bucket_name)

    def _name(self, key: str) -> str:
        key = validate_key(key)
        return f"{self.prefix}/{key}" if self.prefix else key

    def exists(self, key: str) -> bool:
        return bool(self.bucket.blob(self._name(key)).exists())

    def read_bytes(self, key: str) -> bytes:
        try:
            data: bytes = self.bucket.blob(self._name(key)).download_as_bytes()
            return data
        except NotFound as exc:
            raise ArtifactNotFoundError(f"{self.uri(key)} not found") from exc

    def write_bytes(self, key: str, data: bytes, content_type: str | None = None) -> None:
        blob = self.bucket.blob(self._name(key))
        if is_latest_key(key):
            # latest/ changes in place; keep caches (public buckets default to 1 h) from serving
            # a stale manifest next to fresh files.
            blob.cache_control = "no-cache"
        # Our writes are idempotent (same key, same bytes on retry), so retrying is safe without
        # generation preconditions; explicit because 2.x clients retry uploads only with them.
        blob.upload_from_string(
            data, content_type=content_type or "application/octet-stream", retry=DEFAULT_RETRY
        )

    def delete(self, key: str) -> None:
        with contextlib.suppress(NotFound):
            self.bucket.blob(self._name(key)).delete()

    def list(self, prefix: str = "") -> list[str]:
        base = normalize_prefix(prefix)
        full = "/".join(p for p in (self.prefix, base) if p)
        strip = len(self.prefix) + 1 if self.prefix else 0
        blobs = self.client.list_blobs(self.bucket_name, prefix=f"{full}/" if full else None)
        names = (blob.name for blob in blobs)
        # Skip "folder" placeholder objects that the Cloud Console creates.
        return sorted(name[strip:] for name in names if not name.endswith("/"))

    def uri(self, key: str) -> str:
        name = "/".join(p for p in (self.prefix, normalize_prefix(key)) if p)
        return f"gs://{self.bucket_name}/{name}"
