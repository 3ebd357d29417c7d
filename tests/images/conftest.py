"""Fixtures of the image tests.

``tiny_lock``: a rattler lock of a one-package channel made here (its `python` turns the env into a
venv over the foundation's python3.11), served on 127.0.0.1 while the module runs: real builds of
the class stages in seconds, independent of the shared test channel.


``server_contract_image`` is the shared server image as the pipeline built, checked and pushed it
(target `server` of the project Dockerfile), from the session's demo release
(tests/support/pipeline.py); the class image of that release is ``demo_image``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import http.server
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest
import rattler
from rattler.index import index_fs

from tests.defs.e2e import metadata
from tests.support.docker import HOST


@pytest.fixture(scope="session")
def server_contract_image(demo_release: dg.ExecuteInProcessResult) -> str:
    server = metadata(demo_release, "common/server_image")
    if not server.get("ref"):
        pytest.fail("the server image was not built: see tests/defs/test_image_e2e.py")
    return str(server["ref"])



def _python_package(subdir: Path) -> None:
    files = {
        "pyvenv.cfg": b"home = /usr/bin\ninclude-system-site-packages = false\nversion = 3.11.2\n",
        "lib/python3.11/site-packages/jh_marker.py": b"MARKER = 'from the conda layer'\n",
    }
    links = {"bin/python3.11": "/usr/bin/python3.11", "bin/python3": "python3.11", "bin/python": "python3.11"}
    paths = [{"_path": p, "path_type": "hardlink", "sha256": hashlib.sha256(d).hexdigest(),
              "size_in_bytes": len(d)} for p, d in files.items()]
    paths += [{"_path": p, "path_type": "softlink"} for p in links]
    index = {"name": "python", "version": "3.11.2", "build": "0_venv", "build_number": 0, "depends": [],
             "subdir": "linux-64", "arch": "x86_64", "platform": "linux", "license": "PSF-2.0",
             "timestamp": 1_700_000_000_000}
    meta = {"info/index.json": json.dumps(index).encode(),
            "info/paths.json": json.dumps({"paths": paths, "paths_version": 1}).encode(),
            "info/files": ("\n".join(sorted([*files, *links])) + "\n").encode()}
    with tarfile.open(subdir / "python-3.11.2-0_venv.tar.bz2", "w:bz2") as tar:
        for name, data in {**files, **meta}.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
        for name, target in links.items():
            info = tarfile.TarInfo(name)
            info.type, info.linkname, info.mtime = tarfile.SYMTYPE, target, 1_700_000_000
            tar.addfile(info)


@pytest.fixture(scope="module")
def tiny_lock(tmp_path_factory: pytest.TempPathFactory) -> Iterator[bytes]:
    """A rattler lock of the one-package channel, served on 127.0.0.1 while the module runs."""
    channel = tmp_path_factory.mktemp("tiny-channel")
    for subdir in ("linux-64", "noarch"):
        (channel / subdir).mkdir()
    _python_package(channel / "linux-64")
    asyncio.run(index_fs(channel))
    handler = functools.partial(_QuietHandler, directory=str(channel))
    server = http.server.ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://{HOST}:{server.server_address[1]}/"
        records = asyncio.run(rattler.solve([url], ["python 3.11.*"], platforms=["linux-64", "noarch"]))
        lock = rattler.LockFile([rattler.LockPlatform("linux-64")])
        lock.set_channels("default", [rattler.LockChannel(url)])
        platform = lock.platforms()[0]
        for record in records:
            lock.add_conda_package("default", platform, record)
        path = channel / "conda-lock.yml"
        lock.to_path(path)
        yield path.read_bytes()
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


