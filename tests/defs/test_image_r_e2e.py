"""Hermetic end to end of an R class (target r_lang) through Dagster: env -> image -> checks -> push -> release.

R comes from the local conda channel's `r-base` stand-in (bin/R -> Debian's R), with Debian's
`r-base-core` and `r-cran-irkernel` from the apt list; packages.R installs a real source package
from a local CRAN-like repository (tests/support/cran.py) served on 127.0.0.1.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import dagster as dg
import docker
import pytest

from jh_pipeline.defs.context import PipelineContext
from jh_pipeline.defs.resources import EndpointsResource
from jh_pipeline.definitions import build_definitions
from jh_pipeline.images.resource import DockerResource
from jh_pipeline.images.smoke import SMOKE_SCRIPT
from jh_pipeline.store import LocalStore
from jh_pipeline.store.resource import ArtifactStoreResource
from tests.catalog.conftest import write_tree
from tests.defs.e2e import metadata, run_class
from tests.defs.conftest import copy_inputs
from tests.support.cran import LocalCran

SEMESTER = "fall-2026"
HOST_CA = "/etc/ssl/certs/ca-certificates.crt"
pytestmark = pytest.mark.docker

# Debian's R for the class env's r-base stand-in. In the common list so that both classes share
# the apt layer (it comes before the class's own layers).
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
        "requirements.txt": "ipykernel\nr-base\n",
        "packages.R": packages_r,
    }


@pytest.fixture(scope="module")
def e2e(tmp_path_factory: pytest.TempPathFactory, local_channel: Any, registry: str, foundation_image: str,
        local_cran: LocalCran) -> dict[str, Any]:  # noqa: F811 (fixture)
    root = tmp_path_factory.mktemp("r-e2e")
    repo = copy_inputs(root / "repo")
    (repo / "requirements").rename(root / "seeded")
    write_tree(repo / "requirements", {"requirements.txt": "six\n", "apt.txt": R_APT},
               {"rdemo": _class(PACKAGES_R), "rbroken": _class(BROKEN_PACKAGES_R)})
    resources = {
        "store": ArtifactStoreResource(local_root=str(root / "store")),
        "endpoints": EndpointsResource(base_image=foundation_image, extra_ca_bundle=HOST_CA, cran_repo=local_cran.url),
        "docker": DockerResource(registry=registry),
    }
    defs = build_definitions(PipelineContext(repo, channel_map={"conda-forge": local_channel.url}))
    return {"defs": defs, "resources": resources, "store": LocalStore(root / "store"), "registry": registry}






def test_r_class_builds_checks_pushes_and_releases(e2e: dict[str, Any]) -> None:
    result = run_class(e2e, "rdemo")
    assert result.success
    [check] = result.get_asset_check_evaluations()
    assert check.passed, check.metadata
    meta = {k: v.value for k, v in check.metadata.items()}
    assert {"ir_kernelspec", "r_notebook", "r_packages_load", "kernelspec", "notebook_executes"} <= set(meta)
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
