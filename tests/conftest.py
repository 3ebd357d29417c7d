"""Shared fixtures: the real local stand-ins of the hermetic test profile (see README)."""

pytest_plugins = [
    "tests.support.gcs",
    "tests.support.channel",
    "tests.support.docker",
    "tests.support.cran",
    "tests.support.pipeline",
    "tests.support.quickstart",
]
