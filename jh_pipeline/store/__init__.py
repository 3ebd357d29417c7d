"""Artifact store for published environment files (local directory or GCS)."""

from jh_pipeline.store.base import (
    LATEST,
    MANIFEST_NAME,
    PAST,
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
from jh_pipeline.store.resource import (
    ENV_VARS,
    ArtifactStoreResource,
    StoreConfigError,
    store_resource_from_env,
)

__all__ = [
    "ENV_VARS",
    "LATEST",
    "MANIFEST_NAME",
    "PAST",
    "SET_SUBDIRS",
    "ArtifactIntegrityError",
    "ArtifactNotFoundError",
    "ArtifactStore",
    "ArtifactStoreResource",
    "GCSStore",
    "InvalidKeyError",
    "LocalStore",
    "ManifestEntry",
    "SetManifest",
    "StoreConfigError",
    "class_prefix",
    "default_local_root",
    "latest_prefix",
    "make_gcs_client",
    "past_prefix",
    "store_resource_from_env",
]
