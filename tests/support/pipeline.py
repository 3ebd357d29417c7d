"""pytest plugin: the example classes released through the real pipeline, once per test session.

``demo_e2e`` is a repository with the e2e common lists and two base classes (``demo``, and
``tiny`` whose 1 MB size budget no image meets); ``demo_release`` is the run that materialized the
server env and image and ``demo``'s env, image and release. ``r_demo_e2e`` / ``r_demo_release`` do
the same for the R class ``rdemo`` (target r_lang), built with a canary certificate as the extra CA
bundle (``r_demo_canary``). ``sql_demo_build`` builds and pushes the MySQL class ``sqldemo``.
The image end-to-end tests and the JupyterHub test read the same runs
instead of building the images again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import dagster as dg
import pytest

from jh_pipeline.defs.resources import EndpointsResource
from tests.defs.e2e import E2E, make_e2e, metadata, run_class
from tests.images.canary import write_canary_ca
from tests.support.common import SEMESTER
from tests.support.cran import LocalCran

DEMO_PACKAGES = ("attrs", "tabulate", "six")  # class list, class pip list, common list
DEMO_DISPLAY_NAME = "Demo class"  # the launcher's name of its default kernel


def demo_class(budget: str | None = None) -> dict[str, str]:
    # sqlite: true adds the xeus-sqlite kernel (a setting is never silently ignored)
    yaml = f'target: base\npython_version: "3.11"\nsemester: {SEMESTER}\ndisplay_name: "{DEMO_DISPLAY_NAME}"\nsqlite: true\n'
    if budget:
        yaml += f"image_size_budget: {budget}\n"
    return {"class.yaml": yaml, "requirements.txt": "ipykernel\nattrs\n", "requirements.pip.txt": "tabulate==0.9.0\n"}


@pytest.fixture(scope="session")
def demo_e2e(tmp_path_factory: pytest.TempPathFactory, local_channel: Any, registry: str, foundation_image: str) -> E2E:
    return make_e2e(tmp_path_factory.mktemp("e2e"), {"demo": demo_class(), "tiny": demo_class("1MB")},
                    channel_url=local_channel.url, registry=registry, foundation_image=foundation_image)


@pytest.fixture(scope="session")
def demo_release(demo_e2e: E2E) -> dg.ExecuteInProcessResult:
    return run_class(demo_e2e, "demo")


def pushed_image(result: dg.ExecuteInProcessResult, class_key: str, test_file: str) -> str:
    """The class image a session run pushed (by content tag); fails the tests that need it when
    the run failed (`test_file` shows why)."""
    if not result.success:
        pytest.fail(f"the {class_key} class did not build and push: see {test_file}")
    return str(metadata(result, f"{class_key}/image")["ref"])


@pytest.fixture(scope="session")
def demo_image(demo_release: dg.ExecuteInProcessResult) -> str:
    return pushed_image(demo_release, "demo", "tests/defs/test_image_e2e.py")


# The R class: R from the local channel's `r-base` stand-in (bin/R -> Debian's R), with Debian's
# r-base-core and r-cran-irkernel from its apt list (the common one is the server image's);
# packages.R installs a real source package from the local CRAN-like repository.
R_DEMO_DISPLAY_NAME = "Stats 101"
R_DEMO_APT = "r-base-core\nr-cran-irkernel\n"
R_DEMO_PACKAGES_R = """\
# as the class files write it: the repos argument is replaced by the configured CRAN mirror
install.packages(c("jhdemo"), dependencies=TRUE, repos='http://cran.rstudio.com/')
"""


def r_demo_class(packages_r: str = R_DEMO_PACKAGES_R) -> dict[str, str]:
    return {
        "class.yaml": f'target: r_lang\npython_version: "3.11"\nsemester: {SEMESTER}\ndisplay_name: "{R_DEMO_DISPLAY_NAME}"\n',
        "requirements.txt": "ipykernel\nr-base\nr-irkernel\n",
        "packages.R": packages_r,
        "apt.txt": R_DEMO_APT,
    }


@pytest.fixture(scope="session")
def r_demo_canary(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    """The extra CA bundle of the rdemo builds (the host's bundle + a canary certificate), and the
    bytes that find the canary in an image."""
    path = tmp_path_factory.mktemp("canary") / "extra-ca.crt"
    return path, write_canary_ca(path)


@pytest.fixture(scope="session")
def r_demo_e2e(tmp_path_factory: pytest.TempPathFactory, local_channel: Any, registry: str, foundation_image: str,
               local_cran: LocalCran, r_demo_canary: tuple[Path, bytes]) -> E2E:
    e2e = make_e2e(tmp_path_factory.mktemp("r-e2e"), {"rdemo": r_demo_class()},
                   channel_url=local_channel.url, registry=registry, foundation_image=foundation_image,
                   cran_repo=local_cran.url)
    e2e.resources["endpoints"] = EndpointsResource(base_image=foundation_image, extra_ca_bundle=str(r_demo_canary[0]),
                                                   cran_repo=local_cran.url)
    return e2e


@pytest.fixture(scope="session")
def r_demo_release(r_demo_e2e: E2E) -> dg.ExecuteInProcessResult:
    return run_class(r_demo_e2e, "rdemo")


@pytest.fixture(scope="session")
def r_demo_image(r_demo_release: dg.ExecuteInProcessResult) -> str:
    return pushed_image(r_demo_release, "rdemo", "tests/defs/test_image_r_e2e.py")


# The MySQL class (`mysql: true`): MariaDB from the OS packages, pymysql from the local channel.
SQL_DEMO_CLASS = {
    "class.yaml": f'target: base\npython_version: "3.11"\nsemester: {SEMESTER}\nmysql: true\n',
    "requirements.txt": "ipykernel\npymysql\n",
}


@pytest.fixture(scope="session")
def sql_demo_build(tmp_path_factory: pytest.TempPathFactory, local_channel: Any, registry: str,
                   foundation_image: str) -> dg.ExecuteInProcessResult:
    """The run that built, checked and pushed ``sqldemo``'s image (env and image steps)."""
    e2e = make_e2e(tmp_path_factory.mktemp("mysql-e2e"), {"sqldemo": SQL_DEMO_CLASS},
                   channel_url=local_channel.url, registry=registry, foundation_image=foundation_image)
    return run_class(e2e, "sqldemo", ("conda_env", "image"))


@pytest.fixture(scope="session")
def sql_demo_image(sql_demo_build: dg.ExecuteInProcessResult) -> str:
    return pushed_image(sql_demo_build, "sqldemo", "tests/defs/test_image_mysql_e2e.py")
