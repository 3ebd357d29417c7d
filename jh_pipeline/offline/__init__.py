"""Hermetic stand-ins for external services (local conda channel)."""

from jh_pipeline.offline.channel import (
    DEFAULT_WHEELS,
    BuiltChannel,
    build_channel,
    build_python_package,
    download_wheel,
    index_channel,
    offline_cache_dir,
    serve_channel,
    serve_directory,
    wheel_to_conda,
)

__all__ = [
    "DEFAULT_WHEELS",
    "BuiltChannel",
    "build_channel",
    "build_python_package",
    "download_wheel",
    "index_channel",
    "offline_cache_dir",
    "serve_channel",
    "serve_directory",
    "wheel_to_conda",
]
