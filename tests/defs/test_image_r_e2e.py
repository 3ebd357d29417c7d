"""Hermetic end to end of an R class (target r_lang) through Dagster: env -> image -> checks -> push -> release.

R comes from the local conda channel's `r-base` stand-in (bin/R -> Debian's R), with Debian's
`r-base-core` and `r-cran-irkernel` from the apt list; packages.R installs a real source package
from a local CRAN-like repository (tests/support/cran.py) served on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import docker
import pytest

from jh_pipeline.images.resource import DockerResource
from jh_pipeline.images.smoke import SMOKE_SCRIPT
from tests.defs.e2e import E2E, SEMESTER, check, make_e2e, metadata, run_class
from tests.support.cran import LocalCran

pytestmark = pytest.mark.docker

# Debian's R for the class env's r-base stand-in, in the class's apt list (the common one is the
# server image's).
R_APT = "r-base-core\nr-cran-irkernel\n"
PACKAGES_R = """\
# as the class files write it: the repos argument is replaced by the configured CRAN mirror
install.packages(c("jhdemo"), dependencies=TRUE, repos='http://cran.rstudio.com/')
"""
BROKEN_PACKAGES_R = """\
install.packages(c("jhdemo", "notOnCran"), dependencies=TRUE, repos='http://cran.rstudio.com/')
"""


def _class(packages_r: str) -> dict[str, str]:
    return {
        "class.yaml": f'target: r_lang\npython_version: "3.11"\nsemester: {SEMESTER}\ndisplay_name: "Stats 101"\n',
        "requirements.txt": "ipykernel\nr-base\nr-irkernel\n",
        "packages.R": packages_r,
        "apt.txt": R_APT,
    }


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, local_channel: Any, registry: str, foundation_image: str,
        local_cran: LocalCran) -> E2E:  # noqa: F811 (fixture)
    return make_e2e(tmp_path_factory.mktemp("r-e2e"), {"rdemo": _class(PACKAGES_R), "rbroken": _class(BROKEN_PACKAGES_R)},
                    channel_url=local_channel.url, registry=registry, foundation_image=foundation_image,
                    cran_repo=local_cran.url)


def test_r_class_builds_checks_pushes_and_releases(e2e: dict[str, Any]) -> None:
    result = run_class(e2e, "rdemo")
    assert result.success
    smoke = check(result, "smoke_tests")
    assert smoke.passed, smoke.metadata
    meta = {k: v.value for k, v in smoke.metadata.items()}
    assert {"ir_kernelspec", "r_notebook", "r_packages_load", "default_kernel", "notebook_executes"} <= set(meta)
    assert "R (Stats 101)" in meta["ir_kernelspec"]
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
    latest = e2e["store"].read_latest_manifest(SEMESTER, "rdemo")
    assert latest is not None and latest.set_id == image["image_tag"]


def test_package_that_does_not_install_fails_the_build_and_is_named(e2e: dict[str, Any]) -> None:
    result = run_class(e2e, "rbroken", ("conda_env", "image"))
    assert not result.success
    failures = [e for e in result.all_events if e.is_step_failure]
    text = "\n".join(str(e.step_failure_data.error) for e in failures)  # type: ignore[union-attr]
    assert "these packages did not install: notOnCran" in text, text[-3000:]
    assert "jhdemo" not in text.split("these packages did not install:")[1].splitlines()[0]
    assert metadata(result, "rbroken/image") == {}
    assert not DockerResource(registry=e2e["registry"]).tag_exists(f"{e2e['registry']}/rbroken:latest")
