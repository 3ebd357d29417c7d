"""Hermetic end to end of an R class (target r_lang) through Dagster: env -> image -> checks -> push -> release.

The class is tests/support/pipeline.py's ``rdemo`` (its release is a session fixture the hub test
spawns too): R comes from the local conda channel's `r-base` stand-in (bin/R -> Debian's R), with
Debian's `r-base-core` and `r-cran-irkernel` from the apt list; packages.R installs a real source
package from a local CRAN-like repository (tests/support/cran.py) served on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
import re
from dataclasses import replace
from pathlib import Path
from typing import Any

import dagster as dg
import docker
import pytest

from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.keys import SERVER_ENV_KEY, SERVER_IMAGE_KEY
from jh_pipeline.definitions import build_definitions
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.images.smoke import SMOKE_SCRIPT
from tests.defs.e2e import E2E, check, metadata, run_class
from tests.support.common import SEMESTER
from tests.images.canary import image_contains
from tests.support.pipeline import R_DEMO_DISPLAY_NAME

pytestmark = pytest.mark.docker

BROKEN_PACKAGES_R = """\
install.packages(c("jhdemo", "notOnCran"), dependencies=TRUE, repos='http://cran.rstudio.com/')
"""


@pytest.fixture(scope="module")
def e2e(r_demo_e2e: E2E) -> E2E:
    return r_demo_e2e


def test_r_class_builds_checks_pushes_and_releases(
        e2e: E2E, r_demo_release: dg.ExecuteInProcessResult, r_demo_canary: tuple[Path, bytes]) -> None:
    result, canary = r_demo_release, r_demo_canary
    assert result.success
    smoke = check(result, "smoke_tests")
    assert smoke.passed, smoke.metadata
    meta = {k: v.value for k, v in smoke.metadata.items()}
    assert {"ir_kernelspec", "r_notebook", "r_packages_load", "default_kernel", "notebook_executes"} <= set(meta)
    assert f"R ({R_DEMO_DISPLAY_NAME})" in meta["ir_kernelspec"]
    # packages.R's jhdemo and the conda list's r-base (R's `base`) were loaded with library().
    assert "jhdemo" in meta["r_packages_load"] and "base" in meta["r_packages_load"]

    image = metadata(result, "rdemo/image")
    assert image["pushed"] is True
    ref = image["ref"]
    out = docker.from_env().containers.run(
        ref, ["/opt/envs/rdemo/bin/Rscript", "-e", "library(jhdemo); cat(jh_hello('students'), '\\n')"],
        network_mode="host", remove=True,
    )
    assert out.decode().strip() == "hello from jhdemo, students"

    # The load probe of the r_packages_load check finds packages by DESCRIPTION name, ignoring case
    # (conda's r-irkernel is IRkernel), and says which are missing.
    spec = importlib.util.spec_from_file_location("smoke_checks", SMOKE_SCRIPT)
    assert spec and spec.loader
    checks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(checks)
    out = docker.from_env().containers.run(
        ref, ["/opt/envs/rdemo/bin/Rscript", "-e", checks.R_LOAD_PROBE, "irkernel", "JHDEMO", "notthere"],
        network_mode="host", remove=True,
    )
    rows = [line.split("\t")[:3] for line in out.decode().splitlines()]
    assert rows == [["ok", "irkernel", "IRkernel"], ["ok", "JHDEMO", "jhdemo"], ["missing", "notthere", ""]]

    release = metadata(result, "rdemo/release")
    assert f"{ref.rsplit(':', 1)[0]}:latest" in release["tags"]
    latest = e2e.store.read_latest_manifest(SEMESTER, "rdemo")
    assert latest is not None and latest.set_id == image["image_tag"]

    # The canary certificate passed as the extra CA bundle is in no layer of the pushed image (as
    # pulled back from the registry); it is in the helper stage that installed packages.R (the
    # check can fail), which only the build cache holds.
    client = docker.from_env()
    client.images.remove(ref, force=True)
    client.images.pull(ref.rsplit(":", 1)[0], tag=ref.rsplit(":", 1)[1])
    assert not image_contains(client, ref, canary[1])
    cache = DockerResource(registry=e2e.registry).cache_repository_of("rdemo")
    assert image_contains(client, f"{cache}:r_packages", canary[1])


def _step_cached(log: list[str], pattern: str) -> bool:
    for i, line in enumerate(log):
        if re.match(r"Step \d+/\d+ : ", line) and re.search(pattern, line):
            return any("Using cache" in later for later in log[i + 1:i + 3])
    raise AssertionError(f"no step matching {pattern!r} in the build log")


def test_pip_only_change_does_not_run_the_r_install(e2e: E2E, local_channel: Any) -> None:
    """From the build log: after a pip-only change of an r_lang class the pip step runs again, and
    the step that runs packages.R is taken from the cache."""
    if not metadata(run_class(e2e, "rdemo", ("conda_env", "image")), "rdemo/image").get("image_tag"):
        pytest.fail("rdemo did not build: see test_r_class_builds_checks_pushes_and_releases")
    (e2e.root / "repo" / "requirements" / "classes" / "rdemo" / "requirements.pip.txt").write_text("tabulate==0.9.0\n")
    defs = build_definitions(PipelineContext(e2e.root / "repo", channel_map={"conda-forge": local_channel.url}))
    instance = dg.DagsterInstance.ephemeral()
    keys = [SERVER_ENV_KEY, SERVER_IMAGE_KEY, dg.AssetKey(["rdemo", "conda_env"]), dg.AssetKey(["rdemo", "image"])]
    result = dg.materialize(list(defs.assets or []), instance=instance, resources=e2e.resources,
                            selection=dg.AssetSelection.assets(*keys), raise_on_error=False)
    assert result.success
    assert metadata(result, "rdemo/image")["skipped"] is False
    log = [str(e.user_message) for e in instance.all_logs(result.run_id)]
    assert not _step_cached(log, r"--prefix /opt/jh-pip")  # the pip lock changed: pip ran
    assert _step_cached(log, r"run-packages-r\.R /tmp/jh-r/packages\.R")  # packages.R did not
    assert not any("packages.R: all requested packages are installed" in line for line in log)


def test_package_that_does_not_install_fails_the_build_and_is_named(e2e: E2E, local_channel: Any) -> None:
    """packages.R of the released class now names a package no repository has: the build fails
    naming it, nothing is pushed, and the class's release stays what it was."""
    docker_ = DockerResource(registry=e2e.registry)
    before = e2e.store.read_latest_manifest(SEMESTER, "rdemo")
    latest = docker_.remote_digest(f"{e2e.registry}/rdemo:latest")
    if before is None or latest is None:
        pytest.fail("rdemo was not released: see test_r_class_builds_checks_pushes_and_releases")
    (e2e.root / "repo" / "requirements" / "classes" / "rdemo" / "packages.R").write_text(BROKEN_PACKAGES_R)
    defs = build_definitions(PipelineContext(e2e.root / "repo", channel_map={"conda-forge": local_channel.url}))
    result = run_class(replace(e2e, defs=defs), "rdemo")
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    text = "\n".join(str(e.step_failure_data.error) for e in failures)  # type: ignore[union-attr]
    assert "these packages did not install: notOnCran" in text, text[-3000:]
    assert "jhdemo" not in text.split("these packages did not install:")[1].splitlines()[0]
    assert metadata(result, "rdemo/image") == {} and metadata(result, "rdemo/release") == {}
    after = e2e.store.read_latest_manifest(SEMESTER, "rdemo")
    assert after is not None and after.set_id == before.set_id
    assert docker_.remote_digest(f"{e2e.registry}/rdemo:latest") == latest
