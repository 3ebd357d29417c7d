"""Docker engine and registry access (docker SDK): build with streamed logs, push, retag, look up tags."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import dagster as dg
import docker
from docker.errors import APIError, ImageNotFound, NotFound
from pydantic import Field

from jh_pipeline.images.cache import (
    CacheTag,
    cache_repository,
    keyed_tag,
    known_stages,
    prune_plan,
    restore_candidates,
    stage_images,
)
from jh_pipeline.images.naming import image_repository
from jh_pipeline.images.registry_api import RegistryApi, registry_host
from jh_pipeline.settings import DockerSettings

Log = Callable[[str], None]


class BuildError(RuntimeError):
    """A failed build; the message names the failing step and ends with its output."""


@dataclass(frozen=True)
class BuiltImage:
    ref: str
    image_id: str
    size: int
    layers: int
    stages: dict[str, str] = field(default_factory=dict)  # stage name -> image id (from the build log)


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


_D = DockerSettings()
_HELP = {name: info.description for name, info in DockerSettings.model_fields.items()}


class DockerResource(dg.ConfigurableResource):
    """The Docker engine (DOCKER_HOST or the local socket) and the registry images are pushed to."""

    # Defaults and help have one home: settings.DockerSettings (the resource is built from it).
    registry: str = Field(_D.registry, description=_HELP["registry"])
    network_mode: str = Field(_D.network_mode, description=_HELP["network_mode"])
    registry_username: str = Field(_D.registry_username, description=_HELP["registry_username"])
    registry_password_file: str = Field(_D.registry_password_file, description=_HELP["registry_password_file"])
    registry_timeout: int = Field(_D.registry_timeout, description=_HELP["registry_timeout"])
    cache_repository: str = Field(_D.cache_repository, description=_HELP["cache_repository"])
    cache_keep: int = Field(_D.cache_keep, description=_HELP["cache_keep"])
    hub_tag: str = Field(_D.hub_tag, description=_HELP["hub_tag"])

    def client(self) -> docker.DockerClient:
        return _client(self.registry.split("/", 1)[0], self.registry_username, self.registry_password_file)

    def registry_api(self) -> RegistryApi:
        password = Path(self.registry_password_file).read_text().strip() if self.registry_password_file else ""
        return RegistryApi(registry_host(self.registry), float(self.registry_timeout), self.registry_username, password)

    def check_registry(self) -> None:
        """Fail within JH_REGISTRY_TIMEOUT seconds, naming the registry, when it does not answer."""
        self.registry_api().ping()

    def cache_repository_of(self, class_key: str) -> str:
        return cache_repository(self.cache_repository or f"{self.registry.rstrip('/')}/jh-cache", class_key)

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
        labels: Mapping[str, str] | None = None, cache_from: Iterable[str] = (),
    ) -> BuiltImage:
        lines: list[str] = []
        partial = ""
        api = self.client().api
        stream = api.build(
            path=str(context_dir), tag=tag, target=target, buildargs=dict(build_args), labels=dict(labels or {}),
            network_mode=self.network_mode, rm=True, forcerm=True, decode=True, pull=False,
            cache_from=list(cache_from) or None,
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
        built = self.inspect(tag)
        return BuiltImage(built.ref, built.image_id, built.size, built.layers, stage_images(lines))

    def inspect(self, ref: str) -> BuiltImage:
        image = self.client().images.get(ref)
        attrs = image.attrs
        return BuiltImage(ref, image.id, int(attrs.get("Size", 0)), len(attrs.get("RootFS", {}).get("Layers", [])))

    def push(self, ref: str, log: Log) -> str:
        """Push and return the manifest digest the registry reported."""
        self.check_registry()
        repository, _, tag = ref.rpartition(":")
        digest = ""
        for chunk in self.client().api.push(repository, tag=tag, stream=True, decode=True):
            if "error" in chunk:
                raise RuntimeError(f"push of {ref} to {registry_host(ref)} (JH_REGISTRY) failed\n{chunk['error']}")
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
        self.check_registry()
        started = time.perf_counter()
        try:
            self.client().images.pull(ref)
        except (NotFound, APIError) as exc:
            raise BuildError(f"cannot pull {ref} (JH_REGISTRY, registry credentials): {exc}") from exc
        log(f"pulled {ref} in {time.perf_counter() - started:.1f}s")

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

    # --- registry-backed build cache (jh_pipeline.images.cache) -----------------------------------

    def restore_cache(
        self, class_key: str, key: str, stages: Iterable[str], log: Log, base: str | None = None
    ) -> list[str]:
        """Pull each stage's cache image (its exact tag, else the last build's) that the registry
        has; return the refs to pass as `cache_from`. Missing ones are not an error. The stages, and
        `base` (the image the target builds FROM, which must be there), are pulled side by side: the
        engine fetches and unpacks their layers in parallel and a layer two of them share only once."""
        repository = self.cache_repository_of(class_key)
        client = self.client()

        def pull_first(candidates: list[str]) -> str | None:
            for tag in candidates:
                started = time.perf_counter()
                try:
                    client.images.pull(repository, tag=tag)
                except (NotFound, ImageNotFound):
                    continue
                except APIError as exc:
                    if exc.status_code == 404 or "not found" in str(exc).lower() or "unknown" in str(exc).lower():
                        continue
                    raise
                log(f"build cache: pulled {repository}:{tag} in {time.perf_counter() - started:.1f}s")
                return f"{repository}:{tag}"
            return None

        per_stage: dict[str, list[str]] = {}
        for stage, tag in restore_candidates(stages, key):
            per_stage.setdefault(stage, []).append(tag)
        with ThreadPoolExecutor(max_workers=4) as pool:
            pulled_base = pool.submit(self.ensure_image, base, log) if base else None
            found = [ref for ref in pool.map(pull_first, per_stage.values()) if ref]
            if pulled_base is not None:
                pulled_base.result()
        log(f"build cache: {len(found)} stage image(s) from {repository}" + (f": {', '.join(found)}" if found else ""))
        return found

    def save_cache(self, class_key: str, key: str, built: BuiltImage, stages: Iterable[str], log: Log) -> list[str]:
        """Tag the build's stage images (and the image, stage `image`) as cache tags and push them,
        the stages side by side (the engine compresses their new layers in parallel)."""
        repository = self.cache_repository_of(class_key)
        client = self.client()
        ids = {**built.stages, "image": built.image_id}

        def push_stage(stage: str) -> list[str]:
            image = client.images.get(ids[stage])
            refs = []
            for tag in (keyed_tag(stage, key), stage):
                image.tag(repository, tag)
                refs.append(f"{repository}:{tag}")
                self.push(refs[-1], log)
            return refs

        with ThreadPoolExecutor(max_workers=4) as pool:
            return [ref for refs in pool.map(push_stage, [s for s in stages if s in ids]) for ref in refs]

    def cache_tags(self, class_key: str) -> list[CacheTag]:
        api = self.registry_api()
        repository = self.cache_repository_of(class_key).split("/", 1)[1]
        out = []
        for tag in api.tags(repository):
            digest, manifest = api.manifest(repository, tag)
            out.append(CacheTag(tag, digest, api.created(repository, manifest)))
        return out

    def prune_cache(self, class_key: str, dockerfile: str, log: Log) -> list[str]:
        """Delete the class's cache tags the prune rule drops (jh_pipeline.images.cache); return them."""
        api = self.registry_api()
        repository = self.cache_repository_of(class_key).split("/", 1)[1]
        doomed = prune_plan(self.cache_tags(class_key), self.cache_keep, known_stages(dockerfile))
        for digest in sorted({t.digest for t in doomed}):
            api.delete_manifest(repository, digest)
        if doomed:
            log(f"build cache: pruned {len(doomed)} old cache tag(s) of {class_key}")
        return [t.tag for t in doomed]

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
