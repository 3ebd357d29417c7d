"""pytest plugin: a small local CRAN-like repository with real R source packages, on 127.0.0.1.

Register with ``pytest_plugins = ["tests.support.cran"]`` (root conftest) or import the fixture
into a test module. ``local_cran`` yields a ``LocalCran`` whose ``url`` is a repository base URL
(``<url>/src/contrib/PACKAGES``), usable as ``JH_CRAN_REPO`` / ``EndpointsResource.cran_repo``.

CRAN itself is not reachable from the test machine. The packages are written here (DESCRIPTION,
NAMESPACE, R/), built with ``R CMD build`` and indexed with ``tools::write_PACKAGES``: on the host
when it has R, else in a container of ``jh-local/r-tools:bookworm`` (Debian's r-base-core on the
local Debian base image, built once and kept by Docker like the foundation image).
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from jh_pipeline.offline.channel import serve_directory
from tests.support.docker import BASE_IMAGE

R_TOOLS_IMAGE = "jh-local/r-tools:bookworm"
R_TOOLS_DOCKERFILE = f"""\
FROM {BASE_IMAGE}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends r-base-core \\
 && apt-get clean \\
 && rm -rf /var/lib/apt/lists/*
"""

# name -> (version, R source of R/<name>.R): pure R, so installing needs no compiler.
DEFAULT_PACKAGES: dict[str, tuple[str, str]] = {
    "jhdemo": ("0.1.0", 'jh_hello <- function(who = "jh") paste("hello from jhdemo,", who)\n'),
}

BUILD_SCRIPT = """\
set -e
cd "$1"
mkdir -p repo/src/contrib
for pkg in src/*/; do
    R CMD build --no-build-vignettes --no-manual "$pkg"
done
mv ./*.tar.gz repo/src/contrib/
Rscript -e 'tools::write_PACKAGES("repo/src/contrib", type = "source")'
"""


@dataclass(frozen=True)
class LocalCran:
    url: str  # http://127.0.0.1:<port>: a CRAN mirror base URL
    path: Path  # the served directory (src/contrib/...)
    packages: Mapping[str, str]  # name -> version


def write_package_sources(dest: Path, packages: Mapping[str, tuple[str, str]]) -> None:
    for name, (version, code) in packages.items():
        pkg = dest / name
        (pkg / "R").mkdir(parents=True, exist_ok=True)
        (pkg / "DESCRIPTION").write_text(
            f"Package: {name}\nVersion: {version}\nTitle: Test Package {name}\n"
            f"Description: A tiny package for the hermetic tests of jh_pipeline.\n"
            f"Authors@R: person('jh', 'pipeline', email = 'jh@example.org', role = c('aut', 'cre'))\n"
            f"License: MIT + file LICENSE\nEncoding: UTF-8\n"
        )
        (pkg / "LICENSE").write_text("YEAR: 2026\nCOPYRIGHT HOLDER: jh_pipeline tests\n")
        (pkg / "NAMESPACE").write_text('exportPattern("^[^\\\\.]")\n')
        (pkg / "R" / f"{name}.R").write_text(code)


def r_tools_image(client: docker.DockerClient) -> str:
    """Build (or find in Docker's cache) the image with Debian's R used to build the repository."""
    for chunk in client.api.build(fileobj=io.BytesIO(R_TOOLS_DOCKERFILE.encode()), tag=R_TOOLS_IMAGE,
                                  network_mode="host", rm=True, forcerm=True, decode=True, pull=False):
        if "error" in chunk:
            raise RuntimeError(f"building {R_TOOLS_IMAGE} failed: {chunk['error']}")
    return R_TOOLS_IMAGE


def _tar_dir(root: Path, arcname: str) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.add(root, arcname=arcname)
    return buffer.getvalue()


def build_repository(work: Path, packages: Mapping[str, tuple[str, str]], client: docker.DockerClient | None) -> Path:
    """Write, build and index `packages` under `work`; returns the repository root (work/repo)."""
    write_package_sources(work / "src", packages)
    if shutil.which("R") and shutil.which("Rscript"):
        subprocess.run(["bash", "-c", BUILD_SCRIPT, "build", str(work)], check=True, capture_output=True)
        return work / "repo"
    if client is None:
        raise RuntimeError("neither R on the host nor a Docker engine to build the local CRAN repository")
    image = r_tools_image(client)
    # No bind mounts (the engine may not see this filesystem): copy in, build, copy the repo out.
    container = client.containers.create(image, ["bash", "-c", BUILD_SCRIPT, "build", "/tmp/cran"],
                                         network_mode="host", environment={"HOME": "/tmp"})
    try:
        container.put_archive("/tmp", _tar_dir(work / "src", "cran/src"))
        container.start()
        status = container.wait(timeout=300)
        if status.get("StatusCode") != 0:
            raise RuntimeError(f"R CMD build failed:\n{container.logs().decode()[-3000:]}")
        stream, _ = container.get_archive("/tmp/cran/repo")
        with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
            tar.extractall(work, filter="data")
    finally:
        container.remove(force=True)
    return work / "repo"


@pytest.fixture(scope="session")
def local_cran(docker_engine: docker.DockerClient, foundation_image: str,
               tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCran]:
    # foundation_image: its scripts also build BASE_IMAGE, which the r-tools image starts from.
    work = tmp_path_factory.mktemp("local-cran")
    repo = build_repository(work, DEFAULT_PACKAGES, docker_engine)
    assert (repo / "src" / "contrib" / "PACKAGES").is_file()
    url, stop = serve_directory(repo)
    try:
        yield LocalCran(url=url, path=repo, packages={n: v for n, (v, _) in DEFAULT_PACKAGES.items()})
    finally:
        stop()


# --- index-only repositories: CRAN-like (with an Archive/) and Bioconductor-like -----------------
# Name checks read only `src/contrib/PACKAGES` and `src/contrib/Archive/<name>/`: no R needed.

INDEX_CRAN: dict[str, str] = {"jhdemo": "0.1.0", "ggplot2": "3.5.1"}
INDEX_BIOC: dict[str, str] = {"jhbioc": "1.0.0", "limma": "3.60.0"}
INDEX_ARCHIVED: dict[str, str] = {"jhold": "0.9.0"}  # in Archive/ only, like a package removed from CRAN


@dataclass(frozen=True)
class LocalRIndexes:
    cran_url: str  # http://127.0.0.1:<port>/cran: a CRAN mirror base URL (JH_CRAN_REPO)
    bioc_url: str  # http://127.0.0.1:<port>/bioc: a Bioconductor repository base URL
    cran: Mapping[str, str]
    bioc: Mapping[str, str]
    archived: Mapping[str, str]


def write_packages_index(contrib: Path, packages: Mapping[str, str]) -> None:
    contrib.mkdir(parents=True, exist_ok=True)
    records = [f"Package: {name}\nVersion: {version}\nNeedsCompilation: no\n" for name, version in packages.items()]
    (contrib / "PACKAGES").write_text("\n".join(records))


def write_index_repositories(root: Path) -> None:
    write_packages_index(root / "cran" / "src" / "contrib", INDEX_CRAN)
    for name, version in INDEX_ARCHIVED.items():
        folder = root / "cran" / "src" / "contrib" / "Archive" / name
        folder.mkdir(parents=True)
        (folder / f"{name}_{version}.tar.gz").write_bytes(b"")  # the listing is what is read
    write_packages_index(root / "bioc" / "src" / "contrib", INDEX_BIOC)


@pytest.fixture(scope="session")
def local_r_indexes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalRIndexes]:
    root = tmp_path_factory.mktemp("r-indexes")
    write_index_repositories(root)
    url, stop = serve_directory(root)
    try:
        yield LocalRIndexes(f"{url}/cran", f"{url}/bioc", INDEX_CRAN, INDEX_BIOC, INDEX_ARCHIVED)
    finally:
        stop()
