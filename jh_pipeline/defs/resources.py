"""Resources: every endpoint and credential comes from an environment variable (`dg.EnvVar`)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import dagster as dg
from pydantic import Field

from jh_pipeline.images.context import DEFAULT_BASE_IMAGE
from jh_pipeline.store.resource import ArtifactStoreResource, store_resource_from_env

# Production default: the official docker-stacks-foundation image, by its dated tag; every build pins
# it to the digest the tag points at (DockerResource.pin_base_image). JH_BASE_IMAGE=<image>@sha256:...
# fixes the digest outright.
PRODUCTION_BASE_IMAGE = DEFAULT_BASE_IMAGE


class EndpointsResource(dg.ConfigurableResource):
    """Where packages and base images come from. Production defaults are the public endpoints."""

    channel_alias: str = Field("https://conda.anaconda.org", description="JH_CONDA_CHANNEL_ALIAS")
    channel_map: str = Field(
        "", description="JH_CHANNEL_MAP: `name=url,...` replaces channels by name (mirrors, offline profile)"
    )
    pip_index_url: str = Field("", description="JH_PIP_INDEX_URL (empty: pip's default index)")
    extra_ca_bundle: str = Field("", description="JH_EXTRA_CA_BUNDLE: PEM file trusted during builds")
    base_image: str = Field(PRODUCTION_BASE_IMAGE, description="JH_BASE_IMAGE")
    cran_repo: str = Field("https://cloud.r-project.org", description="JH_CRAN_REPO")
    julia_url: str = Field("", description="JH_JULIA_URL: Julia tarball")
    julia_sha256: str = Field("", description="JH_JULIA_SHA256")


ENDPOINT_VARS: dict[str, str] = {
    "channel_alias": "JH_CONDA_CHANNEL_ALIAS",
    "channel_map": "JH_CHANNEL_MAP",
    "pip_index_url": "JH_PIP_INDEX_URL",
    "extra_ca_bundle": "JH_EXTRA_CA_BUNDLE",
    "base_image": "JH_BASE_IMAGE",
    "cran_repo": "JH_CRAN_REPO",
    "julia_url": "JH_JULIA_URL",
    "julia_sha256": "JH_JULIA_SHA256",
}


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


def _from_env(fields: Mapping[str, str]) -> dict[str, dg.EnvVar]:
    # An EnvVar for an unset variable fails at resource init: unset ones keep their defaults.
    return {field: dg.EnvVar(var) for field, var in fields.items() if os.environ.get(var)}


def endpoints_from_env() -> EndpointsResource:
    return EndpointsResource(**_from_env(ENDPOINT_VARS))


def resources_from_env() -> dict[str, dg.ConfigurableResource]:
    from jh_pipeline.images.resource import docker_resource_from_env

    return {
        "store": store_resource_from_env(),
        "endpoints": endpoints_from_env(),
        "docker": docker_resource_from_env(),
    }


__all__ = ["ArtifactStoreResource", "EndpointsResource", "endpoints_from_env", "resources_from_env"]
