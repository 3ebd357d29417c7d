"""Google Cloud Storage artifact store (``gs://<bucket>/<prefix>/<semester>/<class>/...``)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from functools import cached_property
from typing import TypeVar

import requests
from google.api_core.exceptions import GoogleAPICallError, NotFound, RetryError
from google.api_core.retry import Retry
from google.auth.credentials import AnonymousCredentials
from google.auth.exceptions import TransportError
from google.cloud import storage  # type: ignore[import-untyped]
from google.cloud.storage.retry import DEFAULT_RETRY  # type: ignore[import-untyped]

from jh_pipeline.errors import EndpointUnreachable
from jh_pipeline.store.base import (
    ArtifactNotFoundError,
    ArtifactStore,
    is_latest_key,
    normalize_prefix,
    validate_key,
)

EMULATOR_ENV = "STORAGE_EMULATOR_HOST"
# Seconds one store operation may take, retries included (JH_STORE_TIMEOUT). The client's own
# default is 120 s of retries per call, which made an unreachable store hang a step for minutes.
DEFAULT_TIMEOUT = 30.0
SETTINGS = "JH_GCS_BUCKET, JH_GCS_PROJECT, STORAGE_EMULATOR_HOST, credentials, JH_STORE_TIMEOUT"
# What an unreachable or refusing endpoint raises through the client (NotFound is an answer).
_UNREACHABLE = (RetryError, TransportError, requests.exceptions.RequestException)
T = TypeVar("T")


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
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        self.bucket_name = bucket
        self.prefix = normalize_prefix(prefix)
        self.project = project
        self._client = client
        self.timeout = timeout
        # Each request gets at most the whole budget; retries stop when the budget is spent.
        self._retry: Retry = DEFAULT_RETRY.with_timeout(timeout)

    def _endpoint(self) -> str:
        host = os.environ.get(EMULATOR_ENV)
        return f"gs://{self.bucket_name}" + (f" (emulator {host})" if host else "")

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        """Run one client call; an endpoint that does not answer becomes EndpointUnreachable."""
        try:
            return fn()
        except NotFound:
            raise
        except (*_UNREACHABLE, GoogleAPICallError) as exc:
            detail = f"{what}: {type(exc).__name__}: {exc}"
            raise EndpointUnreachable("artifact store", self._endpoint(), SETTINGS, detail) from exc

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
        blob = self.bucket.blob(self._name(key))
        return bool(self._call(f"exists {key}", lambda: blob.exists(timeout=self.timeout, retry=self._retry)))

    def read_bytes(self, key: str) -> bytes:
        blob = self.bucket.blob(self._name(key))
        try:
            data: bytes = self._call(
                f"read {key}", lambda: blob.download_as_bytes(timeout=self.timeout, retry=self._retry)
            )
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
        self._call(f"write {key}", lambda: blob.upload_from_string(
            data, content_type=content_type or "application/octet-stream", timeout=self.timeout, retry=self._retry
        ))

    def delete(self, key: str) -> None:
        blob = self.bucket.blob(self._name(key))
        with contextlib.suppress(NotFound):
            self._call(f"delete {key}", lambda: blob.delete(timeout=self.timeout, retry=self._retry))

    def list(self, prefix: str = "") -> list[str]:
        base = normalize_prefix(prefix)
        full = "/".join(p for p in (self.prefix, base) if p)
        strip = len(self.prefix) + 1 if self.prefix else 0
        def names() -> list[str]:
            blobs = self.client.list_blobs(
                self.bucket_name, prefix=f"{full}/" if full else None, timeout=self.timeout, retry=self._retry
            )
            return [blob.name for blob in blobs]

        # Skip "folder" placeholder objects that the Cloud Console creates.
        return sorted(name[strip:] for name in self._call(f"list {prefix or '/'}", names) if not name.endswith("/"))

    def uri(self, key: str) -> str:
        name = "/".join(p for p in (self.prefix, normalize_prefix(key)) if p)
        return f"gs://{self.bucket_name}/{name}"
