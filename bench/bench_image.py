"""Benchmark: image build times, warm and on a fresh runner, and registry sharing, through the real
Dagster assets.

For a base class and an r_lang class, each in two modes:
  warm   the engine keeps every layer between builds (a long-lived build machine);
  fresh  before every build the engine loses every image but the base image (the foundation);
         the registry keeps everything: a CI runner with an empty engine and the registry-backed
         build cache (jh_pipeline.images.cache).
Both modes run on a private Docker engine (its own socket and data root, started and stopped by
PID, the foundation copied in), so no image on the machine's engine lends its layers to a build.
It prints the times of: the cold build (a new class: its own layers new), a pip-only change, a
packages.R-only change (r_lang), a conda change, and a no-op (the tag exists), as ratios to that
class's cold build in that mode, and the docker build alone (cache restore + build; the smoke
checks and pushes are the same fixed cost in every build). Then three classes pushed to an empty
registry: bytes stored against the sum of their image sizes and against the largest image (layer
sharing).

Needs the hermetic stand-ins: starts dockerd when none runs (and the private one), registries on
free ports, the local channel and a local CRAN-like repository; builds the local base and
foundation images when missing.
Usage: PYTHONPATH=. .venv/bin/python bench/bench_image.py [--no-sharing] [--modes warm,fresh] [--classes base,r_lang]
Goals (fresh runner): pip-only and packages.R-only changes < 25% of cold, no-op < 2%; three
classes < 1.5x the largest image.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import dagster as dg
import docker

from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.resources import EndpointsResource, RunOptionsResource
from jh_pipeline.definitions import build_definitions
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.offline import build_channel, serve_channel
from jh_pipeline.offline.channel import offline_cache_dir, serve_directory
from jh_pipeline.defs.resources import ArtifactStoreResource
from tests.support.cran import build_repository

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


# Debian's R for the r-base stand-in of the local channel (as tests/defs/test_image_r_e2e.py).
R_APT = "r-base-core\nr-cran-irkernel\n"
CRAN_PACKAGES = {
    "jhdemo": ("0.1.0", 'jh_hello <- function(who = "jh") paste("hello from jhdemo,", who)\n'),
    "jhextra": ("0.1.0", 'jh_extra <- function() "extra"\n'),
}


def write_class(requirements: Path, name: str, pip: str, *, target: str = "base", conda: str = "ipykernel\nattrs\n",
                packages_r: str = "") -> None:
    folder = requirements / "classes" / name
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "class.yaml").write_text(f'target: {target}\npython_version: "3.11"\nsemester: fall-2026\n')
    r = "r-base\nr-irkernel\n" if target == "r_lang" else ""
    (folder / "requirements.txt").write_text(conda + r)
    (folder / "requirements.pip.txt").write_text(pip)
    if target == "r_lang":
        (folder / "packages.R").write_text(packages_r)
        (folder / "apt.txt").write_text(R_APT)


@dataclass
class Bench:
    work: Path
    channel_url: str
    cran_url: str

    def materialize(self, registry: str, keys: list[str]) -> float:
        return self.run(registry, keys)[0]

    def run(self, registry: str, keys: list[str]) -> tuple[float, float | None, dict[str, float]]:
        """(seconds of the run, seconds of restore + image build or None when nothing was built,
        the image step's recorded phases: restore, build, smoke, push)."""
        defs = build_definitions(PipelineContext(REPO, {"conda-forge": self.channel_url},
                                                 requirements=self.work / "requirements"))
        resources = {
            "store": ArtifactStoreResource(local_root=str(self.work / "store")),
            "endpoints": EndpointsResource(base_image=FOUNDATION, extra_ca_bundle=CA, cran_repo=self.cran_url),
            "docker": DockerResource(registry=registry),
            "run_options": RunOptionsResource(),
        }
        # The shared server env and image come first in every run (they cost a lookup once they
        # exist): a class image builds FROM the server image they record.
        keys = ["common/server_env", "common/server_image", *keys]
        started = time.perf_counter()
        result = dg.materialize(list(defs.assets or []), resources=resources, instance=dg.DagsterInstance.ephemeral(),
                                selection=dg.AssetSelection.assets(*[dg.AssetKey(k.split("/")) for k in keys]))
        assert result.success
        elapsed = time.perf_counter() - started
        built, phases = None, {}
        for event in result.get_asset_materialization_events():
            seconds = event.materialization.metadata.get("seconds")
            if seconds is not None and isinstance(seconds.value, dict):
                built = float(seconds.value["restore"]) + float(seconds.value["build"])
                phases = {k: float(v) for k, v in seconds.value.items()}
        return elapsed, built, phases


def forget_images(client: docker.DockerClient, keep: str = FOUNDATION) -> int:
    """A fresh runner: remove every image of the (private) engine but `keep`, by reference (a cache
    image whose moving tag a later pull took away keeps its digest reference), then the untagged
    images left behind. Returns how many references went."""
    kept = client.images.get(keep).id
    refs = [ref for image in client.images.list(all=True) if image.id != kept
            for ref in [*image.tags, *(image.attrs.get("RepoDigests") or [])]]
    for ref in refs:
        try:
            client.images.remove(ref, force=True)
        except docker.errors.ImageNotFound:
            pass
    for image in client.images.list(all=True):
        if image.id != kept:
            try:
                client.images.remove(image.id, force=True)
            except (docker.errors.ImageNotFound, docker.errors.APIError):
                pass  # a parent of one removed just before
    return len(refs)


@dataclass
class PrivateEngine:
    """A second dockerd beside the machine's: its own socket, data root, pid file and exec root."""

    state: Path
    pid: int

    @property
    def socket(self) -> str:
        return f"unix://{self.state}/docker.sock"

    @classmethod
    def start(cls, state: Path) -> PrivateEngine:
        sock = f"unix://{state}/docker.sock"
        pid = script("start-dockerd.sh", str(state), env={"DOCKERD_SOCKET": sock, "DOCKERD_DATA_ROOT": str(state / "data")})
        return cls(state, int(pid))

    def client(self) -> docker.DockerClient:
        return docker.DockerClient(base_url=self.socket, timeout=600)

    def stop(self) -> None:
        """SIGTERM (it unmounts its layers and stops its containerd), SIGKILL after 30 s, then the files."""
        containerd = self.state / "exec" / "containerd" / "containerd.pid"
        containerd_pid = int(containerd.read_text()) if containerd.exists() else None
        for sig, wait in ((signal.SIGTERM, 30.0), (signal.SIGKILL, 5.0)):
            try:
                os.kill(self.pid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait
            while time.monotonic() < deadline and Path(f"/proc/{self.pid}").exists():
                time.sleep(0.2)
        if containerd_pid and Path(f"/proc/{containerd_pid}").exists():
            os.kill(containerd_pid, signal.SIGKILL)
        # The daemon leaves its default network namespace bind-mounted in its exec root.
        netns = self.state / "exec" / "netns" / "default"
        if netns.exists():
            subprocess.run(["umount", str(netns)], check=False)
        shutil.rmtree(self.state, ignore_errors=True)


R_CHANGE = 'install.packages(c("jhdemo", "jhextra"))\n'


Times = dict[str, tuple[float, float | None] | None]


def series(bench: Bench, registry: str, name: str, target: str, fresh: bool) -> Times:
    """Cold, pip-only, packages.R-only (r_lang), conda change, no-op for a new class `name`."""
    req = bench.work / "requirements"
    r = 'install.packages(c("jhdemo"))\n'
    pip = "tabulate==0.9.0\n"
    conda = "ipykernel\nattrs\n"

    def build() -> tuple[float, float | None]:
        bench.materialize(registry, [f"{name}/conda_env"])  # the env step is not what is measured
        if fresh:
            forget_images(DockerResource().client())
        step, built, phases = bench.run(registry, [f"{name}/image"])
        shown = ", ".join(f"{k} {v:.1f}s" for k, v in phases.items())
        print(f"bench: {name} ({'fresh' if fresh else 'warm'}) step {step:.1f}s ({shown or 'nothing built'})", flush=True)
        return step, built

    out: Times = {}
    write_class(req, name, pip, target=target, conda=conda, packages_r=r)
    out["cold"] = build()
    pip = "tabulate==0.9.0\nsix==1.17.0\n"
    write_class(req, name, pip, target=target, conda=conda, packages_r=r)
    out["pip-only change"] = build()
    if target == "r_lang":
        r = R_CHANGE
        write_class(req, name, pip, target=target, conda=conda, packages_r=r)
        out["packages.R-only change"] = build()
    else:
        out["packages.R-only change"] = None
    conda = "ipykernel\nattrs\ntoolz\n"
    write_class(req, name, pip, target=target, conda=conda, packages_r=r)
    out["conda change"] = build()
    out["no-op (tag exists)"] = build()
    return out


def report(label: str, times: Times) -> list[str]:
    """Print the image step's seconds and ratio to cold, and the same for the docker build alone
    (restore + build, without smoke checks and pushes: fixed costs of every build)."""
    cold = times["cold"]
    assert cold is not None
    cold_build = cold[1] or 1.0
    print(f"\n{label}\n{'build':<24}{'seconds':>9}{'ratio':>8}{'build s':>10}{'ratio':>8}")
    for name, value in times.items():
        if value is None:
            print(f"{name:<24}{'n/a':>9}")
            continue
        step, build = value
        b = f"{build:>10.1f}{build / cold_build:>8.1%}" if build is not None else f"{'-':>10}{'':>8}"
        print(f"{name:<24}{step:>9.1f}{step / cold[0]:>8.1%}{b}")
    limits = (("pip-only change", 0.25), ("packages.R-only change", 0.25), ("no-op (tag exists)", 0.02))
    return [name for name, limit in limits if (v := times.get(name)) is not None and v[0] / cold[0] >= limit]


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-sharing", action="store_true", help="skip the three-class registry sharing part")
    parser.add_argument("--modes", default="warm,fresh")
    parser.add_argument("--classes", default="base,r_lang")
    opts = parser.parse_args()
    dockerd_pid = script("start-dockerd.sh")
    script("build-local-base.sh")
    script("build-foundation.sh")
    work = Path(tempfile.mkdtemp(prefix="jh-bench-image-"))
    machine = docker.from_env()
    # On the machine's engine, before the builds move to the private one: only files come out.
    cran_repo = build_repository(work / "cran", CRAN_PACKAGES, machine)
    engine = PrivateEngine.start(Path(tempfile.mkdtemp(prefix="jh-bench-engine-", dir="/var/tmp")))
    engine.client().images.load(b"".join(machine.images.get(FOUNDATION).save(named=FOUNDATION)))
    os.environ["DOCKER_HOST"] = engine.socket  # every DockerResource client from here on
    port = free_port()
    pids = [int(script("start-registry.sh", str(work / "registry"), env={"PORT": str(port)}))]
    registry = f"127.0.0.1:{port}"
    channel = build_channel(work / "channel" / "jh-offline", cache=offline_cache_dir())
    url, stop = serve_channel(channel.path)
    cran_url, stop_cran = serve_directory(cran_repo)
    bench = Bench(work, url, cran_url)
    try:
        (work / "requirements" / "common").mkdir(parents=True)
        (work / "requirements" / "common" / "requirements.txt").write_text("six\n")
        # what the server image's blocking checks require of every site (git, pandoc, ps)
        (work / "requirements" / "common" / "apt.txt").write_text("git\npandoc\nprocps\n")
        tag = uuid.uuid4().hex[:6]  # new class names each run: their own layers are really cold
        missed: list[str] = []
        for target in opts.classes.split(","):
            for mode in opts.modes.split(","):
                name = f"{'b' if target == 'base' else 'r'}{mode[0]}{tag}"
                times = series(bench, registry, name, target, fresh=mode == "fresh")
                bad = report(f"{target} class, {mode} engine ({name})", times)
                if mode == "fresh":
                    missed += [f"{target}: {b}" for b in bad]
        print(f"\ngoals on a fresh runner (pip-only and packages.R-only < 25%, no-op < 2%): "
              f"{'ok' if not missed else 'MISSED ' + '; '.join(missed)}")
        if opts.no_sharing:
            return

        # Three classes into an empty registry of their own.
        port2 = free_port()
        pids.append(int(script("start-registry.sh", str(work / "registry2"), env={"PORT": str(port2)})))
        registry2 = f"127.0.0.1:{port2}"
        names = [f"s{tag}{i}" for i in range(3)]
        for i, name in enumerate(names):
            write_class(work / "requirements", name, ["tabulate==0.9.0\n", "six==1.17.0\n", "idna==3.7\n"][i])
        bench.materialize(registry2, [f"{n}/{a}" for n in names for a in ("conda_env", "image")])
        # Class images only (the build cache lives in its own repositories, jh-cache/<class>).
        stored = du(work / "registry2" / "data")
        client = DockerResource().client()
        sizes = [client.images.list(name=f"{registry2}/{n}")[0].attrs["Size"] for n in names]
        print(f"\nthree classes: registry bytes {stored / 1e6:.0f} MB (compressed, with the build cache), "
              f"sum of image sizes {sum(sizes) / 1e6:.0f} MB, largest {max(sizes) / 1e6:.0f} MB")
        print(f"registry / largest image: {stored / max(sizes):.2f}x (goal < 1.5x), "
              f"registry / sum: {stored / sum(sizes):.2f}")
    finally:
        stop()
        stop_cran()
        engine.stop()
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        if dockerd_pid:
            os.kill(int(dockerd_pid), signal.SIGTERM)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
