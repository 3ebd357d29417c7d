"""`jh-pipeline doctor`: one line per prerequisite, each failure with its fix; exit 1 if a required one fails."""

from __future__ import annotations

import os
import shutil
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from jh_pipeline.defs.resources import open_store
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.settings import (
    DEFAULT_PIP_INDEX_URL, DockerSettings, EndpointSettings, PipelineSettings, StoreSettings,
)

ENDPOINT_VARS = EndpointSettings.variables()
STORE_VARS = StoreSettings.variables()

MIN_FREE_BYTES = 20 * 10**9  # a few class images plus the build cache


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    fix: str = ""
    required: bool = True

    def line(self) -> str:
        status = "ok  " if self.ok else ("FAIL" if self.required else "warn")
        text = f"{status}  {self.name}: {self.detail}"
        return text if self.ok or not self.fix else f"{text} -> fix: {self.fix}"


def _docker(settings: DockerSettings) -> DockerResource:
    return DockerResource(**settings.model_dump())


def check_docker(settings: PipelineSettings) -> Check:
    try:
        version = _docker(settings.docker).client().version().get("Version", "?")
        return Check("docker engine", True, f"reachable (server {version})")
    except Exception as exc:  # no socket, no permission, daemon down
        return Check("docker engine", False, f"not reachable ({type(exc).__name__})", "bash scripts/start-dockerd.sh")


def _registry_url(registry: str) -> str:
    host = registry.split("/", 1)[0]
    # Docker talks plain HTTP to loopback registries only.
    scheme = "http" if host.startswith(("127.", "localhost")) else "https"
    return f"{scheme}://{host}"


def check_registry(settings: PipelineSettings) -> Check:
    registry = settings.docker.registry
    base = _registry_url(registry)
    repo = registry.split("/", 1)[1] + "/" if "/" in registry else ""
    try:
        urllib.request.urlopen(f"{base}/v2/", timeout=5).close()
    except urllib.error.HTTPError as exc:
        if exc.code != 401:
            return Check("registry", False, f"{registry}: /v2/ answered {exc.code}", "check JH_REGISTRY")
    except OSError as exc:
        fix = "PORT=5000 bash scripts/start-registry.sh" if base.startswith("http://") else "check JH_REGISTRY and the network"
        return Check("registry", False, f"{registry}: not reachable ({exc})", fix)
    # Writable: start a blob upload (202 Accepted), then cancel it.
    request = urllib.request.Request(f"{base}/v2/{repo}jh-doctor/blobs/uploads/", method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            location = response.headers.get("Location", "")
        if location:
            cancel = location if location.startswith("http") else base + location
            try:
                urllib.request.urlopen(urllib.request.Request(cancel, method="DELETE"), timeout=5).close()
            except OSError:
                pass  # an abandoned upload expires on its own
        return Check("registry", True, f"{registry}: reachable and writable")
    except urllib.error.HTTPError as exc:
        if exc.code == 401:  # production registries want a token: docker login provides it to builds
            return Check("registry", True, f"{registry}: reachable (needs credentials: docker login)")
        return Check("registry", False, f"{registry}: upload refused ({exc.code})", "check permissions for JH_REGISTRY")


def check_store(settings: PipelineSettings) -> Check:
    backend = settings.store.backend
    try:
        store = open_store(settings.store)
        key = f"doctor/probe-{uuid.uuid4().hex}.txt"
        store.write_bytes(key, b"ok")
        assert store.read_bytes(key) == b"ok"
        store.delete(key)
        return Check("artifact store", True, f"{backend}: writable ({store.uri('')})")
    except Exception as exc:
        fix = f"set {STORE_VARS['bucket']} and credentials" if backend == "gcs" else f"set {STORE_VARS['local_root']} to a writable folder"
        return Check("artifact store", False, f"{backend}: {type(exc).__name__}: {exc}", fix)


def check_gcs_credentials(settings: PipelineSettings) -> Check | None:
    if settings.store.backend.lower() != "gcs":
        return None
    if os.environ.get("STORAGE_EMULATOR_HOST"):  # the GCS client's own variable
        return Check("gcs credentials", True, "emulator (STORAGE_EMULATOR_HOST): anonymous credentials")
    try:
        import google.auth

        _, project = google.auth.default()
        return Check("gcs credentials", True, f"application default credentials (project {project})")
    except Exception as exc:
        return Check("gcs credentials", False, f"none found ({type(exc).__name__})",
                     "set GOOGLE_APPLICATION_CREDENTIALS or run `gcloud auth application-default login`")


def _reachable(url: str) -> bool:
    try:
        urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=5).close()
        return True
    except urllib.error.HTTPError:
        return True  # it answered
    except OSError:
        return False


def check_endpoints(settings: PipelineSettings) -> list[Check]:
    endpoints = settings.endpoints
    targets = {
        "conda channels": f"{endpoints.channel_alias}/conda-forge/noarch/repodata.json",
        "pip index": (endpoints.pip_index_url or DEFAULT_PIP_INDEX_URL) + "/pip/",
        "CRAN": endpoints.cran_repo + "/src/contrib/PACKAGES",
    }
    checks = []
    for name, url in targets.items():
        ok = _reachable(url)
        checks.append(Check(f"public endpoint: {name}", ok, url if ok else f"{url} not reachable",
                            "the quickstart uses the offline profile; set a mirror (README configuration)", required=False))
    checks.append(check_base_image(settings))
    return checks


def check_base_image(settings: PipelineSettings) -> Check:
    base = settings.endpoints.base_image
    docker = _docker(settings.docker)
    try:
        found = docker.image_exists_locally(base) or docker.tag_exists(base)
    except Exception:  # no engine: reported by the engine check
        found = False
    return Check("base image", found, base if found else f"{base} neither local nor in its registry",
                 f"set {ENDPOINT_VARS['base_image']} (offline: scripts/build-foundation.sh builds jh-local/foundation)",
                 required=False)


def check_disk(settings: PipelineSettings, path: Path = Path(".")) -> Check:
    docker_root = Path("/var/lib/docker")
    where = docker_root if docker_root.exists() else path
    free = shutil.disk_usage(where).free
    return Check("disk space", free >= MIN_FREE_BYTES, f"{free / 1e9:.0f} GB free at {where}",
                 f"free space: at least {MIN_FREE_BYTES / 1e9:.0f} GB for images and build cache")


CHECKS: list[Callable[[PipelineSettings], Check | list[Check] | None]] = [
    check_docker, check_registry, check_store, check_gcs_credentials, check_endpoints, check_disk,
]


def run_doctor(settings: PipelineSettings) -> int:
    failed = False
    for check in CHECKS:
        found = check(settings)
        for item in (found if isinstance(found, list) else [found] if found else []):
            print(item.line(), flush=True)
            failed |= item.required and not item.ok
    return 1 if failed else 0
