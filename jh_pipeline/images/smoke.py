"""Blocking smoke checks of a built class image, run in containers (host networking).

In-container checks live in images/checks/smoke_checks.py (package data); the plan handed to it says which to run,
so later targets (R, Julia, MySQL) add entries without touching these. `SmokePlan.for_class` picks
them from the class: R targets add `ir_kernelspec`, `r_notebook`, `r_packages_load`; `mysql: true`
adds `mysql_roundtrip`.
"""

from __future__ import annotations

import io
from concurrent.futures import ThreadPoolExecutor
import json
import socket
import tarfile
import time
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docker
from docker.models.containers import Container

SMOKE_DIR = Path(__file__).resolve().parent / "checks"  # package data, copied into containers
SMOKE_SCRIPT = SMOKE_DIR / "smoke_checks.py"
SERVER_SCRIPT = SMOKE_DIR / "server_checks.py"
DEFAULT_KERNEL = "python3"  # the class kernel's name: notebooks naming python3 open in the class env
NB_UID = 1000
CACHE_LIMIT_BYTES = 1024 * 1024
CACHE_PATHS = ("/root/.cache", "/home/jovyan/.cache", "/opt/conda/pkgs", "/var/lib/apt/lists", "/tmp")
# Distribution names whose import name cannot be read from their metadata.
IMPORT_OVERRIDES: dict[str, list[str]] = {
    "beautifulsoup4": ["bs4"],
    "pytables": ["tables"],
    "scikit-learn": ["sklearn"],
    "scikit-image": ["skimage"],
    "pyyaml": ["yaml"],
    "ipython": ["IPython"],
    "msgpack-python": ["msgpack"],
    "protobuf": ["google.protobuf"],
    "pillow": ["PIL"],
    "opencv": ["cv2"],
}


# In-container checks of R targets (r_lang, r_julia), in checks/smoke_checks.py.
R_CHECKS = ["ir_kernelspec", "r_notebook", "r_packages_load"]


@dataclass(frozen=True)
class CheckResult:
    name: str
    passed: bool
    message: str


@dataclass
class SmokePlan:
    class_key: str
    packages: list[str]  # requested conda + pip names
    size_budget: int | None = None
    kernels: list[str] = field(default_factory=list)
    notebooks: list[tuple[str, str, str]] = field(default_factory=list)  # (kernel, code, expected output)
    in_container: list[str] = field(
        default_factory=lambda: ["uid", "imports", "kernelspec", "notebook", "singleuser", "terminal"]
    )
    display_name: str = ""  # of the default kernel
    r_packages: list[str] = field(default_factory=list)  # named in packages.R: each must load
    r_conda_packages: list[str] = field(default_factory=list)  # conda r-* names without `r-`: load when installed

    @classmethod
    def for_python_class(
        cls, class_key: str, packages: Iterable[str], size_budget: int | None, display_name: str = ""
    ) -> SmokePlan:
        return cls(
            class_key, sorted(set(packages)), size_budget, kernels=[DEFAULT_KERNEL],
            notebooks=[(DEFAULT_KERNEL, "import sys; print('smoke', sys.prefix)", f"smoke /opt/envs/{class_key}")],
            display_name=display_name,
        )

    @classmethod
    def for_class(
        cls, class_key: str, packages: Iterable[str], size_budget: int | None, *, uses_r: bool = False,
        mysql: bool = False, r_packages: Iterable[str] = (), sqlite: bool = False, display_name: str = "",
    ) -> SmokePlan:
        """The Python checks plus the R checks (R targets) and the MySQL round trip (`mysql: true`).

        `packages` are the requested conda + pip names; the conda `r-*` ones become the R package
        names to load (without `r-`; matched case-insensitively in the image, as conda lowercases
        `randomForest`). `r_packages` are the names packages.R installs literally.
        """
        packages = sorted(set(packages))
        plan = cls.for_python_class(class_key, packages, size_budget, display_name)
        if uses_r:
            plan.in_container += R_CHECKS
            plan.r_packages = list(dict.fromkeys(r_packages))
            plan.r_conda_packages = sorted({p.removeprefix("r-") for p in packages if p.startswith("r-")})
        if mysql:
            plan.in_container.append("mysql_roundtrip")
        if sqlite:
            plan.kernels.append("xsqlite")
            plan.in_container.append("sqlite_kernel")
        return plan



def _tar(name: str, data: bytes) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode = len(data), 0o644
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _remove(container: Container) -> None:
    try:
        container.remove(force=True)  # SIGKILL + remove: a server may ignore SIGTERM
    except docker.errors.APIError:
        pass


def run_check_script(
    client: docker.DockerClient, ref: str, script: Path, plan: Mapping[str, object], name: str, timeout: float = 900
) -> list[CheckResult]:
    """Copy `script` into a container of `ref` (image user, host networking), run it with the JSON
    plan and return the results it prints as a JSON list. A crash gives one failed `name` result."""
    container = client.containers.create(
        ref, ["python3", f"/tmp/jh-smoke/{script.name}", json.dumps(plan)], network_mode="host",
    )
    try:
        container.put_archive("/tmp", _tar(f"jh-smoke/{script.name}", script.read_bytes()))
        container.start()
        status = container.wait(timeout=timeout)
        output = container.logs(stdout=True, stderr=False).decode("utf-8", "replace").strip().splitlines()
        try:
            parsed = json.loads(output[-1]) if output else None
        except json.JSONDecodeError:
            parsed = None
        if status.get("StatusCode") != 0 or not isinstance(parsed, list):
            error = container.logs(stdout=False, stderr=True).decode("utf-8", "replace")[-2000:]
            return [CheckResult(name, False, f"{script.name} failed (exit {status.get('StatusCode')}): {error}")]
        return [CheckResult(r["name"], bool(r["passed"]), r["message"]) for r in parsed]
    finally:
        _remove(container)


def in_container_checks(client: docker.DockerClient, ref: str, plan: SmokePlan) -> list[CheckResult]:
    payload = {
        "checks": plan.in_container, "uid": NB_UID, "env_python": f"/opt/envs/{plan.class_key}/bin/python",
        "packages": plan.packages, "overrides": IMPORT_OVERRIDES, "kernels": plan.kernels,
        "notebooks": plan.notebooks, "env_rscript": f"/opt/envs/{plan.class_key}/bin/Rscript",
        "r_packages": plan.r_packages, "r_conda_packages": plan.r_conda_packages,
        "display_name": plan.display_name,
    }
    return run_check_script(client, ref, SMOKE_SCRIPT, payload, "in_container")


def cache_check(client: docker.DockerClient, ref: str) -> CheckResult:
    # As root, so caches under /root are measured too. du exits 1 for paths that do not exist
    # (which is fine): read what it measured instead of its status.
    container = client.containers.create(ref, ["du", "-sk", *CACHE_PATHS], user="0", network_mode="host")
    try:
        container.start()
        container.wait(timeout=120)
        out = container.logs(stdout=True, stderr=False).decode()
    finally:
        _remove(container)
    too_big = []
    for line in out.splitlines():
        size_kb, path = line.split("\t", 1)
        if int(size_kb) * 1024 > CACHE_LIMIT_BYTES:
            too_big.append(f"{path} ({int(size_kb) // 1024} MB)")
    return CheckResult("no_leftover_cache", not too_big, ", ".join(too_big) or "no cache over 1 MB")


def server_check(client: docker.DockerClient, ref: str, timeout: float = 90) -> CheckResult:
    """The image's own start command starts Jupyter, which answers /api."""
    port = _free_port()
    container = client.containers.run(
        ref, ["start-notebook.sh", "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}",
              "--ServerApp.token=", "--ServerApp.password="],
        network_mode="host", detach=True,
    )
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api", timeout=3) as response:
                    version = json.loads(response.read()).get("version", "?")
                    return CheckResult("jupyter_server_answers", True, f"/api answered (jupyter_server {version})")
            except OSError:
                container.reload()
                if container.status == "exited":
                    break
                time.sleep(1)
        logs = container.logs().decode()[-1500:]
        return CheckResult("jupyter_server_answers", False, f"no answer on /api within {timeout:.0f}s: {logs}")
    finally:
        _remove(container)


def size_check(size: int, budget: int | None) -> CheckResult:
    mb = size / 1e6
    if budget is None:
        return CheckResult("size_budget", True, f"{mb:.0f} MB (no budget set)")
    return CheckResult("size_budget", size <= budget, f"{mb:.0f} MB, budget {budget / 1e6:.0f} MB")


def run_smoke_checks(client: docker.DockerClient, ref: str, size: int, plan: SmokePlan) -> list[CheckResult]:
    # The containers are independent and mostly wait (kernel and server start-up): run them side by side.
    with ThreadPoolExecutor(max_workers=3) as pool:
        inside = pool.submit(in_container_checks, client, ref, plan)
        cache = pool.submit(cache_check, client, ref)
        server = pool.submit(server_check, client, ref)
        return [*inside.result(), cache.result(), server.result(), size_check(size, plan.size_budget)]


@dataclass(frozen=True)
class ServerPlan:
    """What the server image must provide (jh_pipeline.yaml `server:` and the common lists)."""

    common_packages: list[str]  # conda names of requirements/common/requirements.txt
    jupyterlab: str  # version pattern, e.g. 4.6.*
    hub_version: str  # e.g. 6.1
    expect_pdf: bool  # TeX in the common apt list: PDF export must work
    size_budget: int | None = None


SERVER_CHECKS = ["uid", "extensions", "versions", "git", "tools", "html_export", "pdf_export"]


def run_server_checks(client: docker.DockerClient, ref: str, size: int, plan: ServerPlan) -> list[CheckResult]:
    payload = {
        "checks": SERVER_CHECKS, "uid": NB_UID, "common_packages": plan.common_packages,
        "jupyterlab": plan.jupyterlab, "hub_version": plan.hub_version, "expect_pdf": plan.expect_pdf,
    }
    with ThreadPoolExecutor(max_workers=3) as pool:
        inside = pool.submit(run_check_script, client, ref, SERVER_SCRIPT, payload, "server_checks", 1800)
        cache = pool.submit(cache_check, client, ref)
        server = pool.submit(server_check, client, ref)
        return [*inside.result(), cache.result(), server.result(), size_check(size, plan.size_budget)]


def summary(results: Iterable[CheckResult]) -> Mapping[str, str]:
    return {r.name: ("ok: " if r.passed else "FAILED: ") + r.message for r in results}
