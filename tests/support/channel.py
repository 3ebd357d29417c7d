"""pytest plugin: the hermetic local conda channel, built from cache and served on 127.0.0.1.

Register with ``pytest_plugins = ["tests.support.channel"]`` (root conftest) or import the
fixtures into a directory's conftest. ``local_channel`` yields a ``LocalChannel`` with the
channel ``url``, the ``alias``/``name`` pair that resolves to the same channel, and the
package names and versions it holds. ``rattler_cache`` is a per-session cache directory so
tests neither read nor pollute ``~/.cache/rattler``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from jh_pipeline.offline import BuiltChannel, build_channel, serve_channel

CHANNEL_NAME = "jh-offline"

# Several conftests may import the fixture (one FixtureDef each): build only once per process.
_built: dict[str, BuiltChannel] = {}


@dataclass(frozen=True)
class LocalChannel:
    url: str  # http://127.0.0.1:<port>/jh-offline
    alias: str  # http://127.0.0.1:<port>: a channel alias under which `name` resolves to `url`
    name: str
    path: Path
    python_version: str  # full version of the wrapped interpreter, e.g. 3.11.2
    packages: Mapping[str, tuple[str, ...]]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self.packages))


def built_channel(root: Path) -> BuiltChannel:
    if "default" not in _built:
        _built["default"] = build_channel(root / CHANNEL_NAME)
    return _built["default"]


@pytest.fixture(scope="session")
def local_channel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalChannel]:
    built = built_channel(tmp_path_factory.mktemp("conda-channels"))
    url, stop = serve_channel(built.path)
    try:
        yield LocalChannel(
            url=url,
            alias=url.rsplit("/", 1)[0],
            name=built.path.name,
            path=built.path,
            python_version=built.python_version,
            packages=built.packages,
        )
    finally:
        stop()


@pytest.fixture(scope="session")
def rattler_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("rattler-cache")
