"""Artifact store for published environment files (local directory or GCS); no Dagster here."""

from jh_pipeline.store.base import (
    LATEST,
    MANIFEST_NAME,
    PAST,
    POINTERS,
    PRODUCTION,
    SET_SUBDIRS,
    ArtifactIntegrityError,
    ArtifactNotFoundError,
    ArtifactStore,
    InvalidKeyError,
    ManifestEntry,
    SetManifest,
    class_prefix,
    latest_prefix,
    past_prefix,
)
from jh_pipeline.store.gcs import GCSStore, make_gcs_client
from jh_pipeline.store.local import LocalStore, default_local_root

__all__ = [
    "LATEST",
    "MANIFEST_NAME",
    "PAST",
    "POINTERS",
    "PRODUCTION",
    "SET_SUBDIRS",
    "ArtifactIntegrityError",
    "ArtifactNotFoundError",
    "ArtifactStore",
    "GCSStore",
    "InvalidKeyError",
    "LocalStore",
    "ManifestEntry",
    "SetManifest",
    "class_prefix",
    "default_local_root",
    "latest_prefix",
    "make_gcs_client",
    "past_prefix",
]
