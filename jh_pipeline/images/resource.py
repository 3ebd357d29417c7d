"""Docker engine and registry access (docker SDK): build with streamed logs, push, retag, look up tags."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import dagster as dg
import docker
from docker.errors import APIError, ImageNotFound, NotFound
from pydantic import Field

Log = Callable[[str], None]


class BuildError(RuntimeError):
    """A failed build; the message names the failing step and ends with its output."""


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    image_id: str
    size: int
    layers: int


def image_repository(registry: str, class_key: str) -> str:
    return f"{registry.rstrip('/')}/{class_key}" if registry else class_key


_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def build_failure(lines: list[str], error: str) -> BuildError:
    """Point at the last Dockerfile step that started and the output it printed."""
    lines = [_ANSI.sub("", line) for line in lines]
    error = _ANSI.sub("", error)
    steps = [i for i, line in enumerate(lines) if line.startswith("Step ")]
    start = steps[-1] if steps else max(0, len(lines) - 40)
    output = "\n".join(lines[start:][-60:])
    step = lines[start].strip() if steps else "(before the first step)"
    return BuildError(f"docker build failed at {step}: {error}\n{output}")


class DockerResource(dg.ConfigurableResource):
    """The Docker engine (DOCKER_HOST or the local socket) and the registry images are pushed to."""

    registry: str = Field("127.0.0.1:5000", description="JH_REGISTRY: images are pushed as <registry>/<class>")
    network_mode: str = Field("host", description="JH_DOCKER_NETWORK: network for builds and test containers")
    registry_username: str = Field("", description="JH_REGISTRY_USERNAME (e.g. _json_key for Artifact Registry)")
    registry_password_file: str = Field(
        "", description="JH_REGISTRY_PASSWORD_FILE: file holding the password (e.g. the service-account key)"
    )

    def client(self) -> docker.DockerClient:
        return _client(self.registry.split("/", 1)[0], self.registry_username, self.registry_password_file)

    def repository(self, class_key: str) -> str:
        return image_repository(self.registry, class_key)

    def tag_exists(self, ref: str) -> bool:
        """True when the registry has `ref` (a manifest lookup, no pull)."""
        try:
            self.client().api.inspect_distribution(ref)
            return True
        except (NotFound, APIError):
            return False

    def remote_digest(self, ref: str) -> str | None:
        try:
            return self.client().api.inspect_distribution(ref)["Descriptor"]["digest"]
        except (NotFound, APIError):
            return None

    def build(
        self, context_dir: Path, tag: str, target: str, build_args: Mapping[str, str], log: Log,
        labels: Mapping[str, str] | None = None,
    ) -> BuiltImage:
        lines: list[str] = []
        partial = ""
        api = self.client().api
        stream = api.build(
            path=str(context_dir), tag=tag, target=target, buildargs=dict(build_args), labels=dict(labels or {}),
            network_mode=self.network_mode, rm=True, forcerm=True, decode=True, pull=False,
        )
        for chunk in stream:
            if "error" in chunk:
                raise build_failure(lines + ([partial] if partial else []), chunk["error"].strip())
            text = partial + chunk.get("stream", "")
            *complete, partial = text.split("\n")
            for line in complete:
                lines.append(line)
                if line.strip():
                    log(line)
        return self.inspect(tag)

    def inspect(self, ref: str) -> BuiltImage:
        image = self.client().images.get(ref)
        attrs = image.attrs
        return BuiltImage(ref, image.id, int(attrs.get("Size", 0)), len(attrs.get("RootFS", {}).get("Layers", [])))

    def push(self, ref: str, log: Log) -> str:
        """Push and return the manifest digest the registry reported."""
        repository, _, tag = ref.rpartition(":")
        digest = ""
        for chunk in self.client().api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                raise RuntimeError(f"push of {ref} failed: {chunk['error']}")
            aux = chunk.get("aux") or {}
            digest = aux.get("Digest", digest)
            if chunk.get("status") == "Pushed":  # layers the registry already had are not news
                log(f"{chunk.get('id', '')}: {chunk['status']}")
        log(f"pushed {ref} ({digest})")
        return digest

    def pull(self, ref: str) -> None:
        repository, _, tag = ref.rpartition(":")
        self.client().images.pull(repository, tag=tag)

    def ensure_image(self, ref: str, log: Log) -> None:
        """Have `ref` (by tag or digest) in the engine, pulling it when it is not: class builds
        stand on the shared server image, pulled, never rebuilt."""
        if self.image_exists_locally(ref):
            return
        log(f"pulling {ref}")
        try:
            self.client().images.pull(ref)
        except (NotFound, APIError) as exc:
            raise BuildError(f"cannot pull {ref} (JH_REGISTRY, registry credentials): {exc}") from exc

    def retag_and_push(self, source: str, targets: Iterable[str], log: Log) -> dict[str, str]:
        """Point each target ref at the image `source` (pulling it when not local) and push it."""
        client = self.client()
        try:
            image = client.images.get(source)
        except ImageNotFound:
            self.pull(source)
            image = client.images.get(source)
        digests = {}
        for target in targets:
            repository, _, tag = target.rpartition(":")
            image.tag(repository, tag)
            digests[target] = self.push(target, log)
        return digests

    def pin_base_image(self, ref: str) -> tuple[str, str]:
        """(what to build FROM, its identity) for a base image given by tag or digest.

        A tag is pinned to the digest it points at now (from the local copy's RepoDigests or the
        registry), so a build is reproducible and a moved tag changes the content tag. A local-only
        image (the offline foundation) has no digest: its image id is the identity.
        """
        if "@sha256:" in ref:
            return ref, ref.rsplit("@", 1)[1]
        repository = ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
        try:
            image = self.client().images.get(ref)
        except ImageNotFound:
            image = None
        if image is not None:
            for repo_digest in image.attrs.get("RepoDigests") or []:
                if repo_digest.startswith(repository + "@"):
                    return repo_digest, repo_digest.rsplit("@", 1)[1]
            return ref, image.id
        try:
            found = self.client().api.inspect_distribution(ref)["Descriptor"]["digest"]
        except (NotFound, APIError) as exc:
            raise RuntimeError(f"base image {ref} is neither local nor in its registry (JH_BASE_IMAGE)") from exc
        return f"{repository}@{found}", found

    def image_exists_locally(self, ref: str) -> bool:
        try:
            self.client().images.get(ref)
            return True
        except ImageNotFound:
            return False


@lru_cache(maxsize=8)
def _client(registry_host: str, username: str, password_file: str) -> docker.DockerClient:
    """One engine client per process and registry login (logging in once, not per call)."""
    client = docker.from_env(timeout=600)
    if username:
        # Explicit credentials: run containers have no `docker login` state. Without them the
        # engine's own credentials (docker login, credential helpers) apply.
        password = Path(password_file).read_text().strip() if password_file else ""
        client.login(username, password, registry=registry_host)
    return client


def docker_resource_from_env() -> DockerResource:
    fields = {
        "registry": "JH_REGISTRY", "network_mode": "JH_DOCKER_NETWORK",
        "registry_username": "JH_REGISTRY_USERNAME", "registry_password_file": "JH_REGISTRY_PASSWORD_FILE",
    }
    return DockerResource(**{f: dg.EnvVar(v) for f, v in fields.items() if os.environ.get(v)})
