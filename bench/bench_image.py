"""Benchmark: image build times and registry sharing, through the real Dagster assets.

For one class: cold build (its own layers new; the shared layers of every class cached, as on a
build machine), rebuild after a pip-only change, and no-op (the tag exists), as ratios to the cold
build. Then three classes pushed to an empty registry: bytes stored against the sum of their image
sizes and against the largest image (layer sharing).

Needs the hermetic stand-ins: starts dockerd when none runs, a registry on a free port, the local
channel; builds the local base and foundation images when missing.
Usage: .venv/bin/python bench/bench_image.py
Goals: pip-only rebuild < 25% of cold, no-op < 2%, three classes < 1.5x the largest image.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg

from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.resources import EndpointsResource
from jh_pipeline.definitions import build_definitions
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.offline import build_channel, serve_channel
from jh_pipeline.offline.channel import offline_cache_dir
from jh_pipeline.store.resource import ArtifactStoreResource

REPO = Path(__file__).resolve().parents[1]
FOUNDATION = "jh-local/foundation:latest"
CA = "/etc/ssl/certs/ca-certificates.crt"


def script(name: str, *args: str, env: dict[str, str] | None = None) -> str:
    return subprocess.run(["bash", str(REPO / "scripts" / name), *args], env={**os.environ, **(env or {})},
                          stdout=subprocess.PIPE, text=True, check=True).stdout.strip()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def write_class(requirements: Path, name: str, pip: str) -> None:
    folder = requirements / "classes" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "class.yaml").write_text('target: base\npython_version: "3.11"\nsemester: fall-2026\n')
    (folder / "requirements.txt").write_text("ipykernel\nattrs\n")
    (folder / "requirements.pip.txt").write_text(pip)


def materialize(work: Path, channel_url: str, registry: str, keys: list[str]) -> float:
    defs = build_definitions(PipelineContext(REPO, {"conda-forge": channel_url}, requirements=work / "requirements"))
    resources = {
        "store": ArtifactStoreResource(local_root=str(work / "store")),
        "endpoints": EndpointsResource(base_image=FOUNDATION, extra_ca_bundle=CA),
        "docker": DockerResource(registry=registry),
    }
    # The shared server env and image come first in every run (they cost a lookup once they exist):
    # a class image builds FROM the server image they record.
    keys = ["common/server_env", "common/server_image", *keys]
    started = time.perf_counter()
    result = dg.materialize(list(defs.assets or []), resources=resources, instance=dg.DagsterInstance.ephemeral(),
                            selection=dg.AssetSelection.assets(*[dg.AssetKey(k.split("/")) for k in keys]))
    assert result.success
    return time.perf_counter() - started


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    dockerd_pid = script("start-dockerd.sh")
    script("build-local-base.sh")
    script("build-foundation.sh")
    work = Path(tempfile.mkdtemp(prefix="jh-bench-image-"))
    port = free_port()
    pids = [int(script("start-registry.sh", str(work / "registry"), env={"PORT": str(port)}))]
    registry = f"127.0.0.1:{port}"
    channel = build_channel(work / "channel" / "jh-offline", cache=offline_cache_dir())
    url, stop = serve_channel(channel.path)
    try:
        (work / "requirements" / "common").mkdir(parents=True)
        (work / "requirements" / "common" / "requirements.txt").write_text("six\n")
        # what the server image's blocking checks require of every site (git, pandoc, ps)
        (work / "requirements" / "common" / "apt.txt").write_text("git\npandoc\nprocps\n")
        tag = uuid.uuid4().hex[:6]  # a new class name each run: its own layers are really cold
        one = f"b{tag}"
        write_class(work / "requirements", one, "tabulate==0.9.0\n")
        materialize(work, url, registry, [f"{one}/conda_env"])
        cold = materialize(work, url, registry, [f"{one}/image"])
        write_class(work / "requirements", one, "tabulate==0.9.0\nsix==1.17.0\n")  # pip-only change
        materialize(work, url, registry, [f"{one}/conda_env"])
        pip_only = materialize(work, url, registry, [f"{one}/image"])
        noop = materialize(work, url, registry, [f"{one}/image"])
        print(f"{'build':<18}{'seconds':>8}{'ratio':>8}")
        for name, seconds in (("cold", cold), ("pip-only change", pip_only), ("no-op (tag exists)", noop)):
            print(f"{name:<18}{seconds:>8.1f}{seconds / cold:>8.1%}")
        print(f"goals: pip-only < 25% {'ok' if pip_only / cold < 0.25 else 'MISSED'}, "
              f"no-op < 2% {'ok' if noop / cold < 0.02 else 'MISSED'}")

        # Three classes into an empty registry of their own.
        port2 = free_port()
        pids.append(int(script("start-registry.sh", str(work / "registry2"), env={"PORT": str(port2)})))
        registry2 = f"127.0.0.1:{port2}"
        names = [f"s{tag}{i}" for i in range(3)]
        for i, name in enumerate(names):
            write_class(work / "requirements", name, ["tabulate==0.9.0\n", "six==1.17.0\n", "idna==3.7\n"][i])
        materialize(work, url, registry2, [f"{n}/{a}" for n in names for a in ("conda_env", "image")])
        stored = du(work / "registry2" / "data")
        client = DockerResource().client()
        sizes = [client.images.list(name=f"{registry2}/{n}")[0].attrs["Size"] for n in names]
        print(f"\nthree classes: registry bytes {stored / 1e6:.0f} MB (compressed), sum of image sizes "
              f"{sum(sizes) / 1e6:.0f} MB, largest {max(sizes) / 1e6:.0f} MB")
        print(f"registry / largest image: {stored / max(sizes):.2f}x (goal < 1.5x), "
              f"registry / sum: {stored / sum(sizes):.2f}")
    finally:
        stop()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        if dockerd_pid:
            os.kill(int(dockerd_pid), signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
