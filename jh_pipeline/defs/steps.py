"""The real asset bodies, gathered for the asset definitions (tests swap in their own ClassSteps)."""

from __future__ import annotations

from jh_pipeline.defs.context import ClassSteps
from jh_pipeline.defs.env_steps import materialize_conda_env, materialize_julia_env
from jh_pipeline.defs.image_steps import materialize_image, materialize_release
from jh_pipeline.defs.server_steps import materialize_server_env, materialize_server_image

DEFAULT_STEPS = ClassSteps(
    conda_env=materialize_conda_env,
    julia_env=materialize_julia_env,
    image=materialize_image,
    release=materialize_release,
    server_env=materialize_server_env,
    server_image=materialize_server_image,
)
