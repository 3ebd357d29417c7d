"""Hermetic packages that are not PyPI wheels: conda-forge names the server and class specs use.

- `jupyterhub-singleuser`: on conda-forge a package of its own (jupyterhub's single-user server);
  here a metapackage on the converted `jupyterhub` wheel of the same version, so the server
  spec `jupyterhub-singleuser <hub series>.*` solves in production and offline alike.
- `r-irkernel`: a metapackage on the `r-base` stand-in, so R classes list `r-irkernel` as in
  production; IRkernel itself is Debian's r-cran-irkernel, from the class's apt list.
- `xeus-sqlite`: a stand-in for the xeus SQLite kernel (`sqlite: true` in class.yaml): the
  `xsqlite` kernelspec running a tiny SQLite kernel on ipykernel (`sqlite_kernel.py`).
"""

from __future__ import annotations

import json
from pathlib import Path

from jh_pipeline.offline.conda_archive import PREFIX_PLACEHOLDER, TIMESTAMP_MS, FileEntry, info_files, write_tar_bz2

_METAPACKAGE_BUILD = "hjh_0"
_KERNEL_BUILD = "pyhjh_0"
XEUS_SQLITE_VERSION = "0.8.0"  # a stand-in: the kernel's own version is sqlite_kernel.__version__
KERNEL_NAME = "xsqlite"
KERNEL_MODULE = "xsqlite_kernel"


R_IRKERNEL_VERSION = "1.3.2"  # Debian bookworm's r-cran-irkernel


def build_metapackage(out_dir: Path, name: str, version: str, depends: list[str], summary: str, license: str) -> Path:
    """A noarch package with no files: it only pulls in `depends` (cached by its file name)."""
    destination = out_dir / f"{name}-{version}-{_METAPACKAGE_BUILD}.tar.bz2"
    if destination.exists():
        return destination
    out_dir.mkdir(parents=True, exist_ok=True)
    index = {
        "name": name, "version": version, "build": _METAPACKAGE_BUILD, "build_number": 0, "depends": depends,
        "noarch": "generic", "subdir": "noarch", "license": license, "timestamp": TIMESTAMP_MS,
    }
    about = {"summary": f"{summary} (metapackage; hermetic test channel)", "license": license}
    write_tar_bz2(destination, [], info_files(index, [], {"about.json": about}))
    return destination


def build_r_irkernel_metapackage(out_dir: Path, r_version: str) -> Path:
    """`r-irkernel` = the `r-base` stand-in; the R library comes from Debian's r-cran-irkernel (apt)."""
    return build_metapackage(out_dir, "r-irkernel", R_IRKERNEL_VERSION, [f"r-base =={r_version}"],
                             "IRkernel; Debian's r-cran-irkernel provides it", "MIT")


def build_singleuser_metapackage(out_dir: Path, jupyterhub_version: str) -> Path:
    """`jupyterhub-singleuser` = `jupyterhub ==<version>` plus the server it runs on."""
    # The wheel of jupyterhub does not require jupyter_server, which the single-user server needs.
    depends = [f"jupyterhub =={jupyterhub_version}", "jupyter-server >=2"]
    return build_metapackage(out_dir, "jupyterhub-singleuser", jupyterhub_version, depends,
                             "JupyterHub single-user server", "BSD-3-Clause")


def kernel_spec() -> dict[str, object]:
    """The `xsqlite` kernel.json, with the env's prefix as a placeholder."""
    return {
        "argv": [f"{PREFIX_PLACEHOLDER}/bin/python", "-m", KERNEL_MODULE, "-f", "{connection_file}"],
        "display_name": "SQLite",
        "language": "sql",
        "metadata": {"debugger": False},
    }


def xeus_sqlite_files() -> list[FileEntry]:
    kernel_code = (Path(__file__).parent / "sqlite_kernel.py").read_bytes()
    return [
        FileEntry(f"site-packages/{KERNEL_MODULE}.py", kernel_code),
        FileEntry(
            f"share/jupyter/kernels/{KERNEL_NAME}/kernel.json",
            (json.dumps(kernel_spec(), indent=1, sort_keys=True) + "\n").encode(),
            has_prefix=True,
        ),
    ]


def build_xeus_sqlite_package(out_dir: Path) -> Path:
    """The `xeus-sqlite` stand-in (noarch python, needs ipykernel)."""
    destination = out_dir / f"xeus-sqlite-{XEUS_SQLITE_VERSION}-{_KERNEL_BUILD}.tar.bz2"
    # Always rewritten (small, deterministic): a changed kernel never meets a stale cache entry.
    files = xeus_sqlite_files()
    out_dir.mkdir(parents=True, exist_ok=True)
    index = {
        "name": "xeus-sqlite",
        "version": XEUS_SQLITE_VERSION,
        "build": _KERNEL_BUILD,
        "build_number": 0,
        "depends": ["ipykernel", "python >=3.8"],
        "noarch": "python",
        "subdir": "noarch",
        "license": "BSD-3-Clause",
        "timestamp": TIMESTAMP_MS,
    }
    extra = {
        "about.json": {"summary": "SQLite Jupyter kernel (xeus-sqlite stand-in; hermetic test channel)", "license": "BSD-3-Clause"},
        "link.json": {"noarch": {"type": "python", "entry_points": []}, "package_metadata_version": 1},
    }
    write_tar_bz2(destination, files, info_files(index, files, extra))
    return destination
