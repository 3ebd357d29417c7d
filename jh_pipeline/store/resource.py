"""Dagster resource choosing the artifact store backend.

Environment variables (read by ``store_resource_from_env``; unset or empty means the default):

- ``JH_STORE_BACKEND``: ``local`` (default) or ``gcs``
- ``JH_STORE_DIR``: local root (default ``$DAGSTER_HOME/jh_artifacts``, else ``./.jh_artifacts``)
- ``JH_GCS_BUCKET``: bucket name, required for ``gcs``
- ``JH_GCS_PREFIX``: object name prefix inside the bucket (default none)
- ``JH_GCS_PROJECT``: GCP project for the client (default: from credentials; ``test`` on the
  emulator)

``STORAGE_EMULATOR_HOST`` (standard google-cloud-storage variable) points the GCS client at an
emulator with anonymous credentials.
"""

from __future__ import annotations

import os

import dagster as dg

from jh_pipeline.store.base import ArtifactStore
from jh_pipeline.store.gcs import GCSStore
from jh_pipeline.store.local import LocalStore

BACKENDS = ("local", "gcs")
# Resource field -> environment variable.
ENV_VARS: dict[str, str] = {
    "backend": "JH_STORE_BACKEND",
    "local_root": "JH_STORE_DIR",
    "bucket": "JH_GCS_BUCKET",
    "prefix": "JH_GCS_PREFIX",
    "project": "JH_GCS_PROJECT",
}


class StoreConfigError(ValueError):
    """The artifact store settings are unusable; the message names the variable to set."""


def check_store_settings(backend: str, bucket: str | None) -> str:
    """Return the normalised backend name or raise StoreConfigError (pure)."""
    name = backend.strip().lower()
    if name not in BACKENDS:
        raise StoreConfigError(
            f"unknown artifact store backend {backend!r}: set {ENV_VARS['backend']} "
            f"to one of {', '.join(BACKENDS)}"
        )
    if name == "gcs" and not bucket:
        raise StoreConfigError(
            f"the gcs artifact store needs a bucket: set {ENV_VARS['bucket']} "
            "(resource field 'bucket')"
        )
    return name


class ArtifactStoreResource(dg.ConfigurableResource):  # type: ignore[type-arg]
    """Where env files are published. See the module docstring for the environment variables."""

    backend: str = "local"
    local_root: str | None = None
    bucket: str | None = None
    prefix: str = ""
    project: str | None = None

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Fail at run start, before any build work, rather than at publish time.
        check_store_settings(self.backend, self.bucket)

    def get_store(self) -> ArtifactStore:
        if check_store_settings(self.backend, self.bucket) == "gcs":
            assert self.bucket  # checked above
            return GCSStore(bucket=self.bucket, prefix=self.prefix, project=self.project)
        return LocalStore(self.local_root)  # None -> default_local_root()


def store_resource_from_env() -> ArtifactStoreResource:
    """The resource wired to the JH_* variables that are set now (as ``dg.EnvVar``, so the UI shows
    where values come from and secrets stay out of run config). Unset ones keep their defaults:
    an ``EnvVar`` for an unset variable would fail at resource init."""
    fields = {field: dg.EnvVar(var) for field, var in ENV_VARS.items() if os.environ.get(var)}
    return ArtifactStoreResource(**fields)


def store_from_env() -> ArtifactStore:
    """The configured store outside Dagster (CLI): plain values, same variables and defaults."""
    fields = {field: os.environ[var] for field, var in ENV_VARS.items() if os.environ.get(var)}
    return ArtifactStoreResource(**fields).get_store()
