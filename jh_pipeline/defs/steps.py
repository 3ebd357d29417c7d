"""The real asset bodies, gathered for the asset definitions (tests swap in their own ClassSteps)."""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

import dagster as dg

from jh_pipeline.defs.context import ClassSteps
from jh_pipeline.defs.env_steps import materialize_conda_env, materialize_julia_env
from jh_pipeline.defs.image_steps import materialize_image
from jh_pipeline.defs.release_steps import PointerMoveConfig, materialize_production, materialize_release
from jh_pipeline.defs.server_steps import materialize_server_env, materialize_server_image
from jh_pipeline.errors import EndpointUnreachable


def reported(step: Callable[..., Any]) -> Callable[..., Any]:
    """An unreachable store or registry fails the step with its message (endpoint and setting first,
    then the detail), not with a traceback from deep inside a client library."""
    if inspect.isgeneratorfunction(step):
        @functools.wraps(step)
        def generate(*args: Any) -> Any:
            try:
                yield from step(*args)
            except EndpointUnreachable as exc:
                raise dg.Failure(description=str(exc)) from exc
        return generate

    @functools.wraps(step)
    def call(*args: Any) -> Any:
        try:
            return step(*args)
        except EndpointUnreachable as exc:
            raise dg.Failure(description=str(exc)) from exc
    return call


DEFAULT_STEPS = ClassSteps(
    conda_env=reported(materialize_conda_env),
    julia_env=reported(materialize_julia_env),
    image=reported(materialize_image),
    release=reported(materialize_release),
    server_env=reported(materialize_server_env),
    server_image=reported(materialize_server_image),
)

# `<class>/production` moves only on request (promote, rollback): one body, never swapped by tests.
PRODUCTION_STEP = reported(materialize_production)

__all__ = ["DEFAULT_STEPS", "PRODUCTION_STEP", "PointerMoveConfig"]
