"""Resources, built from the one settings model: a value set in the environment reaches the
resource as `dg.EnvVar` (the UI shows the variable; secrets stay out of run config)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg
from pydantic import Field

from jh_pipeline.settings import EndpointSettings, EnvSection, PipelineSettings, StoreSettings
from jh_pipeline.store import ArtifactStore, GCSStore, LocalStore

_ENDPOINTS = EndpointSettings()  # the defaults' one home is the settings model
_HELP = {name: info.description for name, info in EndpointSettings.model_fields.items()}


class EndpointsResource(dg.ConfigurableResource):
    """Where packages and base images come from. Production defaults are the public endpoints."""

    channel_alias: str = Field(_ENDPOINTS.channel_alias, description=_HELP["channel_alias"])
    channel_map: str = Field(_ENDPOINTS.channel_map, description=_HELP["channel_map"])
    pip_index_url: str = Field(_ENDPOINTS.pip_index_url, description=_HELP["pip_index_url"])
    extra_ca_bundle: str = Field(_ENDPOINTS.extra_ca_bundle, description=_HELP["extra_ca_bundle"])
    base_image: str = Field(_ENDPOINTS.base_image, description=_HELP["base_image"])
    cran_repo: str = Field(_ENDPOINTS.cran_repo, description=_HELP["cran_repo"])
    julia_url: str = Field(_ENDPOINTS.julia_url, description=_HELP["julia_url"])
    julia_sha256: str = Field(_ENDPOINTS.julia_sha256, description=_HELP["julia_sha256"])
    julia_image: str = Field(_ENDPOINTS.julia_image, description=_HELP["julia_image"])
    julia_pkg_server: str = Field(_ENDPOINTS.julia_pkg_server, description=_HELP["julia_pkg_server"])


class ChannelMapError(ValueError):
    pass


def parse_channel_map(text: str) -> dict[str, str]:
    """`conda-forge=http://127.0.0.1:8000/channel,bioconda=...` -> {name: url}."""
    mapping: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, sep, url = item.partition("=")
        if not sep or not name.strip() or not url.strip():
            raise ChannelMapError(f"JH_CHANNEL_MAP: '{item}' is not NAME=URL")
        mapping[name.strip()] = url.strip()
    return mapping


def map_channels(channels: tuple[str, ...], mapping: Mapping[str, str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(mapping.get(c, c) for c in channels))  # keeps order, drops repeats


_STORE = StoreSettings()
_STORE_VARS = StoreSettings.variables()
BACKENDS = ("local", "gcs")


class StoreConfigError(ValueError):
    """The artifact store settings are unusable; the message names the variable to set."""


def check_store_settings(backend: str, bucket: str | None) -> str:
    """Return the normalised backend name or raise StoreConfigError (pure)."""
    name = backend.strip().lower()
    if name not in BACKENDS:
        raise StoreConfigError(
            f"unknown artifact store backend {backend!r}: set {_STORE_VARS['backend']} to one of {', '.join(BACKENDS)}"
        )
    if name == "gcs" and not bucket:
        raise StoreConfigError(f"the gcs artifact store needs a bucket: set {_STORE_VARS['bucket']} (resource field 'bucket')")
    return name


class ArtifactStoreResource(dg.ConfigurableResource):
    """Where env files are published: a local folder (default) or a GCS bucket (settings.StoreSettings).
    STORAGE_EMULATOR_HOST (the client's own variable) points the GCS client at an emulator."""

    backend: str = _STORE.backend
    local_root: str | None = _STORE.local_root
    bucket: str | None = _STORE.bucket
    prefix: str = _STORE.prefix
    project: str | None = _STORE.project
    timeout: float = _STORE.timeout

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        # Fail at run start, before any build work, rather than at publish time.
        check_store_settings(self.backend, self.bucket)

    def get_store(self) -> ArtifactStore:
        if check_store_settings(self.backend, self.bucket) == "gcs":
            assert self.bucket  # checked above
            return GCSStore(bucket=self.bucket, prefix=self.prefix, project=self.project, timeout=self.timeout)
        return LocalStore(self.local_root)  # None -> default_local_root()


class RunOptionsResource(dg.ConfigurableResource):
    """Per-run switches, set in the run config (the launchpad, `dagster asset materialize --config-json`,
    the semester schedule): `{"resources": {"run_options": {"config": {"force": true}}}}`."""

    force: bool = Field(False, description="Re-solve and rebuild even when the inputs are unchanged "
                                           "(newest package versions; the semester rebuild sets it).")


RUN_OPTIONS = "run_options"


def force_run_config() -> dict[str, Any]:
    """The run config of a forced run (re-solve and rebuild)."""
    return {"resources": {RUN_OPTIONS: {"config": {"force": True}}}}


def open_store(settings: StoreSettings) -> ArtifactStore:
    """The configured store outside Dagster (CLI, doctor)."""
    return ArtifactStoreResource(**settings.model_dump()).get_store()


def resource_config(section: EnvSection) -> dict[str, Any]:
    """A resource's config from a settings section: text values that came from the environment as
    `dg.EnvVar`, every other value as itself (an EnvVar of an unset variable would fail at init)."""
    from_env = section.from_environment()
    return {
        name: dg.EnvVar(var) if name in from_env and isinstance(getattr(section, name), str) else getattr(section, name)
        for name, var in section.variables().items()
    }


def resources_from_settings(settings: PipelineSettings) -> dict[str, dg.ConfigurableResource]:
    from jh_pipeline.images.resource import DockerResource

    return {
        "store": ArtifactStoreResource(**resource_config(settings.store)),
        "endpoints": EndpointsResource(**resource_config(settings.endpoints)),
        "docker": DockerResource(**resource_config(settings.docker)),
        RUN_OPTIONS: RunOptionsResource(),
    }


__all__ = ["ArtifactStoreResource", "EndpointsResource", "RunOptionsResource", "force_run_config", "open_store", "resource_config", "resources_from_settings"]
